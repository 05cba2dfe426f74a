/* offseed's output: the library's log sink (diagnostics and the progress display), result
 * text and JSON Lines. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "render.h"
#include "util.h"

static struct ofs_out_opts opts = { 0, 0, 1, 10.0 };
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static void sink_message(void *arg, enum ofs_log_level level, const char *fmt, va_list ap);
static void sink_progress_start(void *arg, struct ofs_progress *p);
static void sink_progress_update(void *arg, struct ofs_progress *p, const char *path);
static void sink_progress_end(void *arg, struct ofs_progress *p);

void
ofs_out_install(void)
{
	struct ofs_log_sink s = {
		.message = sink_message,
		.verbosity = opts.verbosity,
		.progress_start = sink_progress_start,
		.progress_update = sink_progress_update,
		.progress_end = sink_progress_end,
		.arg = NULL,
	};

	ofs_log_set_sink(&s);
}

void
ofs_out_setup(const struct ofs_out_opts *o)
{
	opts = *o;
	if (opts.interval <= 0)
		opts.interval = 10.0;
	ofs_out_install();
}

const struct ofs_out_opts *
ofs_out_opts(void)
{
	return &opts;
}

int
ofs_out_is_json(void)
{
	return opts.json;
}

/* "offseed: <message>" on stderr; warnings get "warning: ". The library has already
 * dropped what the verbosity hides. */
static void
sink_message(void *arg, enum ofs_log_level level, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&out_mu);
	fputs("offseed: ", stderr);
	if (level == OFS_LOG_WARN)
		fputs("warning: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
	pthread_mutex_unlock(&out_mu);
}

void
ofs_result(const char *fmt, ...)
{
	va_list ap;

	if (opts.json)
		return;
	pthread_mutex_lock(&out_mu);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&out_mu);
}

void
ofs_emit(json_t *obj)
{
	char *s;

	if (obj == NULL)
		return;
	if (opts.json) {
		s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
		if (s != NULL) {
			pthread_mutex_lock(&out_mu);
			fputs(s, stdout);
			fputc('\n', stdout);
			fflush(stdout);
			pthread_mutex_unlock(&out_mu);
			free(s);
		}
	}
	json_decref(obj);
}

void
ofs_emit_error(int code, const char *msg)
{
	ofs_error("%s", msg);
	if (opts.json)
		ofs_emit(json_pack("{s:s, s:i, s:s, s:s}", "type", "error", "code",
		    ofs_exit_code(code), "error", ofs_err_name(code), "message", msg));
}

/* Shown unless --no-progress or -q: a redrawn line on a tty, else a plain line every
 * opts.interval seconds, or JSON progress events with --json. */
static void
sink_progress_start(void *arg, struct ofs_progress *p)
{
	p->tty = isatty(STDERR_FILENO) && !opts.json;
	p->active = opts.progress && opts.verbosity >= 0;
}

static void
print_locked(struct ofs_progress *p, double now, int final)
{
	double el = now - p->start, rate = el > 0 ? (double)p->bytes_done / el : 0;
	char done[32], total[32], rs[32], eta[32] = "";

	ofs_fmt_size(p->bytes_done, done, sizeof(done));
	ofs_fmt_size(p->bytes_total, total, sizeof(total));
	ofs_fmt_size((uint64_t)rate, rs, sizeof(rs));
	if (rate > 0 && p->bytes_total > p->bytes_done)
		snprintf(eta, sizeof(eta), " ETA %.0fs",
		    (double)(p->bytes_total - p->bytes_done) / rate);
	if (opts.json) {
		ofs_emit(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:s}", "type", "progress",
		    "command", p->what, "bytes_done", (json_int_t)p->bytes_done, "bytes_total",
		    (json_int_t)p->bytes_total, "files_done", (json_int_t)p->files_done,
		    "files_total", (json_int_t)p->files_total, "elapsed", el, "current",
		    p->current));
		return;
	}
	pthread_mutex_lock(&out_mu);
	if (p->tty)
		fprintf(stderr, "\r\033[K%s: %s / %s, %s/s%s, %llu files %.60s%s", p->what, done,
		    total, rs, eta, (unsigned long long)p->files_done, p->current,
		    final ? "\n" : "");
	else
		fprintf(stderr, "offseed: %s: %s / %s, %s/s%s, %llu files\n", p->what, done,
		    total, rs, eta, (unsigned long long)p->files_done);
	fflush(stderr);
	pthread_mutex_unlock(&out_mu);
}

/* Throttled: at most every 0.25 s on a tty, every opts.interval seconds otherwise. */
static void
sink_progress_update(void *arg, struct ofs_progress *p, const char *path)
{
	double now = ofs_mono();

	if (now - p->last_print >= (p->tty ? 0.25 : opts.interval)) {
		if (path != NULL)
			snprintf(p->current, sizeof(p->current), "%s", path);
		p->last_print = now;
		print_locked(p, now, 0);
	}
}

static void
sink_progress_end(void *arg, struct ofs_progress *p)
{
	if (p->tty)
		print_locked(p, ofs_mono(), 1);
}
