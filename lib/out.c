/* Diagnostics, JSON Lines output and progress display. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "out.h"
#include "util.h"

static struct ofs_out_opts opts = { 0, 0, 1, 10.0 };
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

void
ofs_out_setup(const struct ofs_out_opts *o)
{
	opts = *o;
	if (opts.interval <= 0)
		opts.interval = 10.0;
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

static void
vmsg(const char *prefix, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&out_mu);
	fputs("offseed: ", stderr);
	if (prefix != NULL)
		fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
	pthread_mutex_unlock(&out_mu);
}

void
ofs_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(NULL, fmt, ap);
	va_end(ap);
}

void
ofs_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

void
ofs_info(const char *fmt, ...)
{
	va_list ap;

	if (opts.verbosity < 0)
		return;
	va_start(ap, fmt);
	vmsg(NULL, fmt, ap);
	va_end(ap);
}

void
ofs_verbose(const char *fmt, ...)
{
	va_list ap;

	if (opts.verbosity < 1)
		return;
	va_start(ap, fmt);
	vmsg(NULL, fmt, ap);
	va_end(ap);
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

void
ofs_progress_start(struct ofs_progress *p, const char *what, uint64_t bytes_total,
    uint64_t files_total)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	p->what = what;
	p->bytes_total = bytes_total;
	p->files_total = files_total;
	p->start = p->last_print = ofs_mono();
	p->tty = isatty(STDERR_FILENO) && !opts.json;
	p->active = opts.progress && opts.verbosity >= 0;
}

void
ofs_progress_set_total(struct ofs_progress *p, uint64_t bytes_total, uint64_t files_total)
{
	pthread_mutex_lock(&p->mu);
	p->bytes_total = bytes_total;
	p->files_total = files_total;
	pthread_mutex_unlock(&p->mu);
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

void
ofs_progress_add(struct ofs_progress *p, uint64_t bytes, uint64_t files, const char *path)
{
	double now;

	pthread_mutex_lock(&p->mu);
	p->bytes_done += bytes;
	p->files_done += files;
	if (p->active) {
		now = ofs_mono();
		if (now - p->last_print >= (p->tty ? 0.25 : opts.interval)) {
			if (path != NULL)
				snprintf(p->current, sizeof(p->current), "%s", path);
			p->last_print = now;
			print_locked(p, now, 0);
		}
	}
	pthread_mutex_unlock(&p->mu);
}

void
ofs_progress_end(struct ofs_progress *p)
{
	pthread_mutex_lock(&p->mu);
	if (p->active && p->tty)
		print_locked(p, ofs_mono(), 1);
	p->active = 0;
	pthread_mutex_unlock(&p->mu);
	pthread_mutex_destroy(&p->mu);
}
