/* How the library reports: diagnostics and progress go to a sink the front end installs
 * (ofs_log_set_sink); without one the library is silent. lib/ and engine/ never print or
 * exit (tools/lint.sh checks): they report here or through struct ofs_error. */
#ifndef OFS_LOG_H
#define OFS_LOG_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

enum ofs_log_level {
	OFS_LOG_ERROR,		/* ofs_error: always delivered */
	OFS_LOG_WARN,		/* ofs_warn: always delivered */
	OFS_LOG_INFO,		/* ofs_info: when the sink's verbosity is >= 0 */
	OFS_LOG_VERBOSE,	/* ofs_verbose: when the sink's verbosity is >= 1 */
};

/* Progress of a long operation. The counters are the library's (engines update them with
 * ofs_progress_add); start, last_print, current, tty and active are the sink's, for its
 * display and throttling. */
struct ofs_progress {
	pthread_mutex_t mu;
	const char *what;		/* "stage", "verify", … */
	uint64_t bytes_total, bytes_done;
	uint64_t files_total, files_done;
	char current[256];
	double start, last_print;
	int tty, active;
};

/* What a front end plugs in. Every callback may be NULL (that output is dropped) and may be
 * called from any thread; arg is passed back as given. */
struct ofs_log_sink {
	/* One message: the text of fmt/ap, with no program prefix and no newline. Only the
	 * levels verbosity lets through reach it. */
	void (*message)(void *arg, enum ofs_log_level level, const char *fmt, va_list ap);
	int verbosity;		/* -1 quiet (errors, warnings), 0 normal (+ info), 1+ (+ verbose) */
	/* Progress, called with p->mu held. start: p's counters are set; set p->active to get
	 * update and end calls (p->tty is the sink's to use). update: after the counters of
	 * p moved; path is the current file or NULL. end: the operation is over. */
	void (*progress_start)(void *arg, struct ofs_progress *p);
	void (*progress_update)(void *arg, struct ofs_progress *p, const char *path);
	void (*progress_end)(void *arg, struct ofs_progress *p);
	void *arg;
};

/* Install the sink (copied), or NULL for silence. Call it before threads are started that
 * may report: the sink is read without a lock. */
void ofs_log_set_sink(const struct ofs_log_sink *s);

/* Diagnostics, printf-style; the front end adds its prefix ("offseed: ") and the newline. */
void ofs_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ofs_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ofs_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));	/* not with -q */
void ofs_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));	/* -v only */

/* Begin tracking an operation named what (a static string) in p; the sink decides whether
 * and how it is shown. Pair with ofs_progress_end. */
void ofs_progress_start(struct ofs_progress *p, const char *what, uint64_t bytes_total,
    uint64_t files_total);
/* Thread-safe; cheap enough to call per chunk. path may be NULL. */
void ofs_progress_add(struct ofs_progress *p, uint64_t bytes, uint64_t files, const char *path);
void ofs_progress_set_total(struct ofs_progress *p, uint64_t bytes_total, uint64_t files_total);
/* Finish: the sink's last word, then p's mutex is destroyed. */
void ofs_progress_end(struct ofs_progress *p);

#endif
