/* The library's reporting: forwards diagnostics and progress to the sink the front end
 * installed; with none installed, everything is dropped (the silent default). */
#include <string.h>

#include "log.h"
#include "util.h"

static struct ofs_log_sink sink;	/* all NULL: silent */

void
ofs_log_set_sink(const struct ofs_log_sink *s)
{
	if (s != NULL)
		sink = *s;
	else
		memset(&sink, 0, sizeof(sink));
}

static void
deliver(enum ofs_log_level level, const char *fmt, va_list ap)
{
	if (sink.message != NULL)
		sink.message(sink.arg, level, fmt, ap);
}

void
ofs_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	deliver(OFS_LOG_ERROR, fmt, ap);
	va_end(ap);
}

void
ofs_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	deliver(OFS_LOG_WARN, fmt, ap);
	va_end(ap);
}

void
ofs_info(const char *fmt, ...)
{
	va_list ap;

	if (sink.verbosity < 0)
		return;
	va_start(ap, fmt);
	deliver(OFS_LOG_INFO, fmt, ap);
	va_end(ap);
}

void
ofs_verbose(const char *fmt, ...)
{
	va_list ap;

	if (sink.verbosity < 1)
		return;
	va_start(ap, fmt);
	deliver(OFS_LOG_VERBOSE, fmt, ap);
	va_end(ap);
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
	if (sink.progress_start != NULL) {
		pthread_mutex_lock(&p->mu);
		sink.progress_start(sink.arg, p);
		pthread_mutex_unlock(&p->mu);
	}
	if (sink.progress_update == NULL)
		p->active = 0;
}

void
ofs_progress_set_total(struct ofs_progress *p, uint64_t bytes_total, uint64_t files_total)
{
	pthread_mutex_lock(&p->mu);
	p->bytes_total = bytes_total;
	p->files_total = files_total;
	pthread_mutex_unlock(&p->mu);
}

void
ofs_progress_add(struct ofs_progress *p, uint64_t bytes, uint64_t files, const char *path)
{
	pthread_mutex_lock(&p->mu);
	p->bytes_done += bytes;
	p->files_done += files;
	if (p->active)
		sink.progress_update(sink.arg, p, path);
	pthread_mutex_unlock(&p->mu);
}

void
ofs_progress_end(struct ofs_progress *p)
{
	pthread_mutex_lock(&p->mu);
	if (p->active && sink.progress_end != NULL)
		sink.progress_end(sink.arg, p);
	p->active = 0;
	pthread_mutex_unlock(&p->mu);
	pthread_mutex_destroy(&p->mu);
}
