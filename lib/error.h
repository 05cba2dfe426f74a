/* Error codes, the error record every core function fills, and the one table from error
 * code to process exit code (README "Exit codes"). */
#ifndef OFS_ERROR_H
#define OFS_ERROR_H

#include <stdarg.h>

/* Stable values: tests and the exit-code table depend on them. */
enum ofs_err {
	OFS_OK = 0,
	OFS_ERR_IO = -1,	/* I/O failure, internal failure, refused operation: exit 1 */
	OFS_ERR_USAGE = -2,	/* bad command line or configuration: exit 2 */
	OFS_ERR_SKIPPED = -3,	/* finished, but some source entries were skipped: exit 3 */
	OFS_ERR_CORRUPT = -4,	/* data missing, corrupt, malformed, not matching manifest: exit 4 */
	OFS_ERR_AUTH = -5,	/* wrong passphrase, bad credentials: exit 5 */
	OFS_ERR_LOCKED = -6,	/* another job holds the lock: exit 6 */
	OFS_ERR_VERSION = -7,	/* format or agent version too new/old: exit 7 */
	OFS_ERR_NETWORK = -8,	/* service unavailable after retries: exit 8 */
	OFS_ERR_NOSPACE = -9,	/* not enough space: exit 9 */
	OFS_ERR_NOTFOUND = -10,	/* an object does not exist: exit 1 */
	OFS_ERR_UNAVAILABLE = -11, /* data exists but cannot be reached here (disk not given): exit 1 */
	OFS_ERR_PENDING = -12,	/* seed containers not in the cloud yet (import pending): exit 1 */
	OFS_ERR_LIMIT = -13,	/* a size limit was reached (our own output, not damaged data): exit 1 */
};

#define OFS_ERR_MSG_MAX 1024

/* Detail of the last failure: code, saved errno (0 if none), a message that names the
 * object ("cannot open 'x': No such file or directory"). Never contains secrets. */
struct ofs_error {
	int code;
	int sys_errno;
	char msg[OFS_ERR_MSG_MAX];
};

/* Set err (may be NULL) and return code, so callers can write `return ofs_err_set(...)`. */
int ofs_err_set(struct ofs_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, appending ": strerror(errnum)"; an errnum of ENOSPC/EDQUOT turns code into
 * OFS_ERR_NOSPACE. */
int ofs_err_sys(struct ofs_error *err, int code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prefix an existing message with more context: "reading pack 'x': <old>". */
int ofs_err_wrap(struct ofs_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ofs_err_clear(struct ofs_error *err);

/* Map an error code (0 or OFS_ERR_*) to the exit code of SPEC 4.4. */
int ofs_exit_code(int code);
/* Short stable name of a code ("corrupt", "auth", …) for --json error objects. */
const char *ofs_err_name(int code);

#endif
