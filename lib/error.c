/* Error records and the error-code → exit-code table. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static int
vset(struct ofs_error *err, int code, int errnum, const char *fmt, va_list ap)
{
	size_t n;

	if (err == NULL)
		return code;
	if (errnum == ENOSPC || errnum == EDQUOT)
		code = OFS_ERR_NOSPACE;
	err->code = code;
	err->sys_errno = errnum;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (errnum != 0) {
		n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
	}
	return code;
}

int
ofs_err_set(struct ofs_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vset(err, code, 0, fmt, ap);
	va_end(ap);
	return r;
}

int
ofs_err_sys(struct ofs_error *err, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vset(err, code, errnum, fmt, ap);
	va_end(ap);
	return r;
}

int
ofs_err_wrap(struct ofs_error *err, const char *fmt, ...)
{
	char old[OFS_ERR_MSG_MAX];
	size_t n;
	va_list ap;

	if (err == NULL)
		return OFS_ERR_IO;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", old);
	return err->code;
}

void
ofs_err_clear(struct ofs_error *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->sys_errno = 0;
	err->msg[0] = '\0';
}

static const struct {
	int code;
	int exit;
	const char *name;
} table[] = {
	{ OFS_OK, 0, "ok" },
	{ OFS_ERR_IO, 1, "failed" },
	{ OFS_ERR_USAGE, 2, "usage" },
	{ OFS_ERR_SKIPPED, 3, "skipped" },
	{ OFS_ERR_CORRUPT, 4, "verification_failed" },
	{ OFS_ERR_AUTH, 5, "authentication_failed" },
	{ OFS_ERR_LOCKED, 6, "locked" },
	{ OFS_ERR_VERSION, 7, "version_mismatch" },
	{ OFS_ERR_NETWORK, 8, "service_unavailable" },
	{ OFS_ERR_NOSPACE, 9, "no_space" },
	{ OFS_ERR_NOTFOUND, 1, "not_found" },
	{ OFS_ERR_UNAVAILABLE, 1, "unavailable" },
	{ OFS_ERR_PENDING, 1, "pending_seed" },
	{ OFS_ERR_LIMIT, 1, "limit" },
};

int
ofs_exit_code(int code)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].code == code)
			return table[i].exit;
	return 1;
}

const char *
ofs_err_name(int code)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].code == code)
			return table[i].name;
	return "failed";
}
