/* Everything a command says: diagnostics on stderr, results on stdout, --json lines,
 * and the progress display (tty line, periodic plain line, or JSON progress events). */
#ifndef OFS_OUT_H
#define OFS_OUT_H

#include <pthread.h>
#include <stdint.h>

#include <jansson.h>

struct ofs_out_opts {
	int json;		/* --json: stdout carries JSON Lines only */
	int verbosity;		/* -1 quiet, 0 normal, 1+ verbose */
	int progress;		/* 0 = --no-progress */
	double interval;	/* seconds between plain progress lines (not a tty) */
};

void ofs_out_setup(const struct ofs_out_opts *o);
const struct ofs_out_opts *ofs_out_opts(void);
int ofs_out_is_json(void);

/* "offseed: <message>" on stderr; warnings and errors are printed even with -q. */
void ofs_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ofs_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ofs_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));	/* not with -q */
void ofs_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));	/* -v only */

/* Result text on stdout (suppressed in --json mode). */
void ofs_result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print obj as one JSON line on stdout; steals the reference. No-op unless --json. */
void ofs_emit(json_t *obj);
/* Final outcome of a failed command: the message on stderr, and in --json mode
 * {"type":"error","code":EXIT,"error":NAME,"message":MSG} on stdout. */
void ofs_emit_error(int code, const char *msg);

struct ofs_progress {
	pthread_mutex_t mu;
	const char *what;		/* "stage", "verify", … */
	uint64_t bytes_total, bytes_done;
	uint64_t files_total, files_done;
	char current[256];
	double start, last_print;
	int tty, active;
};

void ofs_progress_start(struct ofs_progress *p, const char *what, uint64_t bytes_total,
    uint64_t files_total);
/* Thread-safe; cheap enough to call per chunk. path may be NULL. */
void ofs_progress_add(struct ofs_progress *p, uint64_t bytes, uint64_t files, const char *path);
void ofs_progress_set_total(struct ofs_progress *p, uint64_t bytes_total, uint64_t files_total);
void ofs_progress_end(struct ofs_progress *p);

#endif
