/* LD_PRELOAD fault shim for the fault tests (tests/cli/9[0-2]-faults-*.sh): fails or shortens
 * read/write/sync/rename calls on files whose path matches a pattern, where libfiu can
 * only fail a call everywhere. Configured from the environment:
 *   OFS_FAULT_PATH   fnmatch pattern on the fd's path (/proc/self/fd/N) or a rename's
 *                    either name ('*' matches '/'); unset: every regular file
 *   OFS_FAULT_OPS    comma list of read,pread,write,pwrite,fsync,fdatasync,rename
 *                    (default write,pwrite)
 *   OFS_FAULT_ERRNO  ENOSPC, EIO, EDQUOT, EROFS or a number (default EIO)
 *   OFS_FAULT_AFTER  bytes the matching reads/writes may move before failing (the call
 *                    that crosses the mark moves what fits; later ones fail)
 *   OFS_FAULT_SKIP   matching calls that succeed before the first failure
 *   OFS_FAULT_SHORT  instead of failing: percent of reads/writes that move fewer bytes
 *   OFS_FAULT_EINTR  instead of failing: percent of calls that return EINTR untried
 *   OFS_FAULT_SEED   seed of the random choices (default 1)
 *   OFS_FAULT_LOG    a file each injected failure, short count or EINTR is appended to */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

enum { OP_READ = 1, OP_PREAD = 2, OP_WRITE = 4, OP_PWRITE = 8, OP_FSYNC = 16,
    OP_FDATASYNC = 32, OP_RENAME = 64 };
static const char *const opname[] = { "read", "pread", "write", "pwrite", "fsync",
    "fdatasync", "rename" };

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *pat;
static unsigned ops = OP_WRITE | OP_PWRITE;
static int ferr = EIO;
static long long after = -1, skip;
static int pshort, peintr;
static unsigned long long seed = 1;
static int logfd = -1;
static long long moved, calls;	/* atomics */
static __thread unsigned long long rng;
static unsigned threads;	/* how many threads drew a number: the next one's ordinal */

static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);

static void
setup(void)
{
	const char *s;

	real_read = dlsym(RTLD_NEXT, "read");
	real_pread = dlsym(RTLD_NEXT, "pread");
	real_write = dlsym(RTLD_NEXT, "write");
	real_pwrite = dlsym(RTLD_NEXT, "pwrite");
	real_fsync = dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
	real_rename = dlsym(RTLD_NEXT, "rename");
	real_renameat = dlsym(RTLD_NEXT, "renameat");
	pat = getenv("OFS_FAULT_PATH");
	if ((s = getenv("OFS_FAULT_OPS")) != NULL) {
		ops = 0;
		for (unsigned i = 0; i < sizeof(opname) / sizeof(opname[0]); i++) {
			const char *p = strstr(s, opname[i]);
			size_t n = strlen(opname[i]);

			/* whole words only: "read" is not the end of "pread" */
			for (; p != NULL; p = strstr(p + 1, opname[i]))
				if ((p == s || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
					ops |= 1u << i;
		}
	}
	if ((s = getenv("OFS_FAULT_ERRNO")) != NULL)
		ferr = !strcmp(s, "ENOSPC") ? ENOSPC : !strcmp(s, "EIO") ? EIO :
		    !strcmp(s, "EDQUOT") ? EDQUOT : !strcmp(s, "EROFS") ? EROFS : atoi(s);
	if ((s = getenv("OFS_FAULT_AFTER")) != NULL)
		after = atoll(s);
	if ((s = getenv("OFS_FAULT_SKIP")) != NULL)
		skip = atoll(s);
	if ((s = getenv("OFS_FAULT_SHORT")) != NULL)
		pshort = atoi(s);
	if ((s = getenv("OFS_FAULT_EINTR")) != NULL)
		peintr = atoi(s);
	if ((s = getenv("OFS_FAULT_SEED")) != NULL)
		seed = strtoull(s, NULL, 10);
	if ((s = getenv("OFS_FAULT_LOG")) != NULL)
		logfd = (int)syscall(SYS_open, s, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static unsigned
rnd(unsigned n)
{
	/* Seeded by the thread's ordinal, not its id: the same seed makes the same choices on
	 * every machine (a thread id differs from run to run, and a command with few calls,
	 * such as init, could then draw no fault at all). */
	if (rng == 0)
		rng = (seed + __atomic_fetch_add(&threads, 1, __ATOMIC_RELAXED)) *
		    0x9e3779b97f4a7c15ULL | 1;
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void
note(const char *what, const char *path)
{
	char line[4200];
	int n;

	if (logfd == -1)
		return;
	n = snprintf(line, sizeof(line), "%d %s %s\n", (int)getpid(), what, path);
	if (n > 0)
		(void)syscall(SYS_write, logfd, line, (size_t)n < sizeof(line) ? (size_t)n :
		    sizeof(line) - 1);
}

/* Does the call on fd concern us? Fills path. */
static int
fd_matches(int fd, char *path, size_t cap)
{
	char link[64];
	ssize_t n;
	struct stat st;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, cap - 1)) < 0)
		return 0;
	path[n] = '\0';
	if (pat == NULL)
		return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	return fnmatch(pat, path, 0) == 0;
}

/* What to do with a matching call moving len bytes: 0 go on, -1 fail with ferr (errno
 * set), -2 fail with EINTR, or a shorter length. */
static long long
decide(unsigned op, int fd, size_t len)
{
	char path[4096];

	pthread_once(&once, setup);
	if (!(ops & op) && !(pshort || peintr))
		return 0;
	if (!fd_matches(fd, path, sizeof(path)))
		return 0;
	if (pshort || peintr) {
		if (!(op & (OP_READ | OP_PREAD | OP_WRITE | OP_PWRITE)))
			return 0;
		if (peintr && (int)rnd(100) < peintr) {
			note("eintr", path);
			return -2;
		}
		if (pshort && len > 1 && (int)rnd(100) < pshort) {
			note("short", path);
			return 1 + rnd((unsigned)(len - 1 < 1u << 30 ? len - 1 : 1u << 30));
		}
		return 0;
	}
	if (__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) <= skip)
		return 0;
	if (after >= 0) {
		long long prev = __atomic_fetch_add(&moved, (long long)len, __ATOMIC_RELAXED);

		if (prev + (long long)len <= after)
			return 0;
		if (prev < after)	/* as a filling disk does: what fits, then the error */
			return after - prev;
	}
	note(opname[__builtin_ctz(op)], path);
	return -1;
}

#define FAULT(op, fd, len, call)						\
	long long d = decide(op, fd, len);					\
	if (d == -1) {								\
		errno = ferr;							\
		return -1;							\
	}									\
	if (d == -2) {								\
		errno = EINTR;							\
		return -1;							\
	}									\
	if (d > 0)								\
		len = (size_t)d;						\
	return call

ssize_t
read(int fd, void *buf, size_t len)
{
	FAULT(OP_READ, fd, len, real_read(fd, buf, len));
}

ssize_t
pread(int fd, void *buf, size_t len, off_t off)
{
	FAULT(OP_PREAD, fd, len, real_pread(fd, buf, len, off));
}

ssize_t pread64(int fd, void *buf, size_t len, off_t off) __attribute__((alias("pread")));

ssize_t
write(int fd, const void *buf, size_t len)
{
	FAULT(OP_WRITE, fd, len, real_write(fd, buf, len));
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	FAULT(OP_PWRITE, fd, len, real_pwrite(fd, buf, len, off));
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off) __attribute__((alias("pwrite")));

int
fsync(int fd)
{
	size_t len = 0;

	FAULT(OP_FSYNC, fd, len, real_fsync(fd));
}

int
fdatasync(int fd)
{
	size_t len = 0;

	FAULT(OP_FDATASYNC, fd, len, real_fdatasync(fd));
}

static int
rename_fails(const char *a, const char *b)
{
	pthread_once(&once, setup);
	if (!(ops & OP_RENAME) || pat == NULL)
		return 0;
	if (fnmatch(pat, a, 0) != 0 && fnmatch(pat, b, 0) != 0)
		return 0;
	if (__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) <= skip)
		return 0;
	note("rename", b);
	errno = ferr;
	return 1;
}

int
rename(const char *a, const char *b)
{
	if (rename_fails(a, b))
		return -1;
	return real_rename(a, b);
}

int
renameat(int da, const char *a, int db, const char *b)
{
	if (rename_fails(a, b))
		return -1;
	return real_renameat(da, a, db, b);
}
