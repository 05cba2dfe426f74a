/* Small shared helpers: allocation that aborts on exhaustion, durable atomic writes,
 * directories, sizes and clocks. Hex and RFC 3339 text live in text.h, included here so
 * that every user of util.h keeps them. */
#ifndef OFS_UTIL_H
#define OFS_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include "error.h"
#include "text.h"

#define OFS_VERSION "0.1.0"
#define OFS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Out of memory aborts with a message: every output is atomic, so nothing is half-written. */
void *ofs_xmalloc(size_t n);
void *ofs_xcalloc(size_t n, size_t m);
void *ofs_xrealloc(void *p, size_t n);
/* n elements of size m, checked for overflow. */
void *ofs_xreallocarray(void *p, size_t n, size_t m);
char *ofs_xstrdup(const char *s);
char *ofs_xstrndup(const char *s, size_t n);
char *ofs_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Cryptographically random bytes (aborts if the RNG fails). */
void ofs_random(void *p, size_t n);

/* Write data to path durably and atomically: PATH.tmp-XXXX, write, fsync, rename, fsync
 * the folder. mode is the final mode. ENOSPC gives OFS_ERR_NOSPACE naming the folder. */
int ofs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
    struct ofs_error *err);
/* fsync a directory by path. */
int ofs_fsync_dir(const char *dir, struct ofs_error *err);
/* Write all of buf at fd (handles short writes and EINTR). Returns 0 or -errno. */
int ofs_write_all(int fd, const void *buf, size_t len);
int ofs_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* What ofs_pread_all returns when the file ends first: not an errno a regular file's read
 * gives, so a short file (corruption, exit 4) is never mistaken for a failing disk (EIO,
 * exit 1) or the other way round. */
#define OFS_READ_EOF (-ENODATA)
/* Read exactly len bytes at off (retrying EINTR and short reads). Returns 0, -errno of a
 * failed read, or OFS_READ_EOF when the file is shorter. */
int ofs_pread_all(int fd, void *buf, size_t len, uint64_t off);
/* mkdir -p; existing directories are fine. */
int ofs_mkdir_p(const char *path, mode_t mode, struct ofs_error *err);
/* rm -rf (used for temporary files of our own only). */
int ofs_rm_rf(const char *path);
/* Join two path parts with exactly one '/'. Returns owned string. */
char *ofs_path_join(const char *a, const char *b);
int ofs_path_exists(const char *path);
/* Size of the regular file at path (following symlinks), or UINT64_MAX when it is absent,
 * unreadable or not a regular file. */
uint64_t ofs_file_size(const char *path);
/* Sum of the sizes of the regular files under dir, recursively (symlinks not followed),
 * each rounded up to block (0: not rounded); skip (may be NULL) leaves out the files it
 * returns nonzero for. An unreadable folder counts as empty. */
uint64_t ofs_tree_bytes(const char *dir, uint64_t block, int (*skip)(void *, const char *),
    void *arg);
/* Free bytes on the filesystem holding path, or -1. */
int64_t ofs_free_space(const char *path);

/* Parse "16G", "512K", "1024" (powers of 1024). Returns 0 or -1. */
int ofs_parse_size(const char *s, uint64_t *out);
/* A whole decimal integer from min to max (no sign games, no trailing text): 0, or -1. */
int ofs_parse_long(const char *s, long min, long max, long *out);
/* A whole decimal number (e.g. "2.5") from min to max: 0, or -1. */
int ofs_parse_double(const char *s, double min, double max, double *out);
/* "1.5 GiB" style into buf. */
void ofs_fmt_size(uint64_t n, char *buf, size_t bufsz);

/* Current time in nanoseconds (CLOCK_REALTIME) and monotonic seconds. */
int64_t ofs_now_ns(void);
double ofs_mono(void);
/* Number of worker threads to use (online CPUs, at least 1). */
int ofs_ncpu(void);

#endif
