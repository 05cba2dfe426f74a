/* offseed-dc's sink for the library's diagnostics: the library never prints (lib/log.h), so
 * the program that wants its messages on stderr installs this. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "dclog.h"
#include "log.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

/* The library's own prefix ("offseed: "), not "offseed-dc: ": these messages come from the
 * shared code and have always read so. */
static void
message(void *arg, enum ofs_log_level level, const char *fmt, va_list ap)
{
	pthread_mutex_lock(&log_mu);
	fputs("offseed: ", stderr);
	if (level == OFS_LOG_WARN)
		fputs("warning: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_mu);
}

void
dc_log_install(void)
{
	struct ofs_log_sink s = { .message = message, .verbosity = 0 };

	ofs_log_set_sink(&s);
}
