/* Shared helpers: allocation, durable writes, paths, sizes, clocks (hex and time text are
 * in text.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "util.h"

static void
oom(size_t n)
{
	fprintf(stderr, "offseed: out of memory allocating %zu bytes\n", n);
	abort();
}

void *
ofs_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

void *
ofs_xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);

	if (p == NULL)
		oom(n * m);
	return p;
}

void *
ofs_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom(n);
	return q;
}

void *
ofs_xreallocarray(void *p, size_t n, size_t m)
{
	if (m != 0 && n > SIZE_MAX / m)
		oom(SIZE_MAX);
	return ofs_xrealloc(p, n * m);
}

char *
ofs_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		oom(strlen(s));
	return p;
}

char *
ofs_xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		oom(n);
	return p;
}

char *
ofs_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(0);
	return p;
}

void
ofs_random(void *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1) {
		fprintf(stderr, "offseed: the random number generator failed\n");
		abort();
	}
}

int
ofs_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
ofs_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int
ofs_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return OFS_READ_EOF;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int
ofs_fsync_dir(const char *dir, struct ofs_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1)
		return ofs_err_sys(err, OFS_ERR_IO, errno, "cannot open folder '%s'", dir);
	if (fsync(fd) == -1 && errno != EINVAL) {
		int e = errno;

		close(fd);
		return ofs_err_sys(err, OFS_ERR_IO, e, "cannot sync folder '%s'", dir);
	}
	close(fd);
	return 0;
}

int
ofs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
    struct ofs_error *err)
{
	char *tmp = NULL, *dircopy = NULL;
	int fd = -1, r = 0, e;

	tmp = ofs_xasprintf("%s.tmp-XXXXXX", path);
	if ((fd = mkstemp(tmp)) == -1) {
		e = errno;
		dircopy = ofs_xstrdup(path);
		r = ofs_err_sys(err, OFS_ERR_IO, e, "cannot create a file in '%s'",
		    dirname(dircopy));
		free(tmp);
		free(dircopy);
		return r;
	}
	if ((e = -ofs_write_all(fd, data, len)) != 0 || (fsync(fd) == -1 && (e = errno)) ||
	    (fchmod(fd, mode) == -1 && (e = errno))) {
		dircopy = ofs_xstrdup(path);
		if (e == ENOSPC || e == EDQUOT)
			r = ofs_err_sys(err, OFS_ERR_NOSPACE, e,
			    "cannot write '%s' (%zu bytes still needed in '%s')", path, len,
			    dirname(dircopy));
		else
			r = ofs_err_sys(err, OFS_ERR_IO, e, "cannot write '%s'", path);
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot write '%s'", path);
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot rename '%s' to '%s'", tmp, path);
		goto fail;
	}
	free(tmp);
	dircopy = ofs_xstrdup(path);
	r = ofs_fsync_dir(dirname(dircopy), err);
	free(dircopy);
	return r;
fail:
	if (fd != -1)
		close(fd);
	unlink(tmp);
	free(tmp);
	free(dircopy);
	return r;
}

int
ofs_mkdir_p(const char *path, mode_t mode, struct ofs_error *err)
{
	char *p = ofs_xstrdup(path);
	int r = 0;

	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, mode) == -1 && errno != EEXIST) {
				r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot create folder '%s'", p);
				break;
			}
			*s = c;
			if (c == '\0')
				break;
		}
	}
	free(p);
	return r;
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == -1 && errno != ENOENT ? -1 : 0;
}

int
ofs_rm_rf(const char *path)
{
	return nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t
ofs_file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return UINT64_MAX;
	return (uint64_t)st.st_size;
}

uint64_t
ofs_tree_bytes(const char *dir, uint64_t block, int (*skip)(void *, const char *), void *arg)
{
	struct dirent *e;
	uint64_t sum = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char *full;
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		full = ofs_path_join(dir, e->d_name);
		if (lstat(full, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				sum += ofs_tree_bytes(full, block, skip, arg);
			else if (S_ISREG(st.st_mode) && (skip == NULL || !skip(arg, full)))
				sum += block ? ((uint64_t)st.st_size + block - 1) / block * block :
				    (uint64_t)st.st_size;
		}
		free(full);
	}
	closedir(d);
	return sum;
}

char *
ofs_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (la == 0)
		return ofs_xstrdup(b);
	return ofs_xasprintf("%.*s/%s", (int)la, a, b);
}

int
ofs_path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int64_t
ofs_free_space(const char *path)
{
	struct statvfs sv;

	if (statvfs(path, &sv) == -1)
		return -1;
	return (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
}

int
ofs_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0' || *s == ' ' || *s == '+')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
ofs_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0' || *s == ' ' || *s == '+')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v >= min && v <= max))	/* NaN fails too */
		return -1;
	*out = v;
	return 0;
}

int
ofs_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (s == NULL || *s == '\0' || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mul = 1ULL << 10; end++; break;
	case 'm': case 'M': mul = 1ULL << 20; end++; break;
	case 'g': case 'G': mul = 1ULL << 30; end++; break;
	case 't': case 'T': mul = 1ULL << 40; end++; break;
	default: return -1;
	}
	if (*end == 'i' && end[-1] != '\0')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0' || (v != 0 && mul > UINT64_MAX / v))
		return -1;
	*out = v * mul;
	return 0;
}

void
ofs_fmt_size(uint64_t n, char *buf, size_t bufsz)
{
	static const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	int i = 0;

	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, bufsz, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, bufsz, "%.1f %s", v, u[i]);
}

int64_t
ofs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

double
ofs_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
ofs_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (int)n;
}
