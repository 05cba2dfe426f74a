/* Bounded growable buffers and bounds-checked readers. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "util.h"

void
ofs_buf_init(struct ofs_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
	b->full = 0;
}

void
ofs_buf_release(struct ofs_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->full = 0;
}

void
ofs_buf_release_secret(struct ofs_buf *b)
{
	if (b->data != NULL)
		OPENSSL_cleanse(b->data, b->cap);
	ofs_buf_release(b);
}

void
ofs_buf_fit(struct ofs_buf *b)
{
	if (b->data != NULL && b->cap > b->len + 1) {
		b->data = ofs_xrealloc(b->data, b->len + 1);
		b->cap = b->len + 1;
	}
}

void
ofs_buf_reset(struct ofs_buf *b)
{
	b->len = 0;
	b->full = 0;
}

/* Make room for n more bytes (plus the spare byte for a NUL), growing to at least the next
 * power of two (exact: to just what is needed). Does not mark b: ofs_buf_read_fd probes
 * with it and then uses what room there is. */
static int
grow(struct ofs_buf *b, size_t n, int exact)
{
	size_t want, ncap;

	if (b->full)
		return OFS_ERR_LIMIT;
	if (n > SIZE_MAX - b->len - 1)
		return OFS_ERR_LIMIT;
	want = b->len + n;
	if (b->max != 0 && want > b->max)
		return OFS_ERR_LIMIT;
	if (want + 1 <= b->cap)
		return 0;
	ncap = exact ? want + 1 : b->cap ? b->cap : 256;
	while (ncap < want + 1)
		ncap = ncap > SIZE_MAX / 2 ? want + 1 : ncap * 2;
	if (b->max != 0 && ncap > b->max + 1)
		ncap = b->max + 1;
	b->data = ofs_xrealloc(b->data, ncap);
	b->cap = ncap;
	return 0;
}

/* grow, marking b on failure: the one place an append or reserve reaches the limit. */
static int
reserve(struct ofs_buf *b, size_t n, int exact)
{
	int r;

	if ((r = grow(b, n, exact)) != 0)
		b->full = 1;
	return r;
}

int
ofs_buf_reserve(struct ofs_buf *b, size_t n)
{
	return reserve(b, n, 0);
}

int
ofs_buf_reserve_exact(struct ofs_buf *b, size_t n)
{
	return reserve(b, n, 1);
}

/* The appenders without warn_unused_result, shared by ofs_buf_add* and ofs_buf_put*. */
static int
add(struct ofs_buf *b, const void *p, size_t n)
{
	int r;

	if (n == 0)		/* p may be NULL then */
		return b->full ? OFS_ERR_LIMIT : 0;
	/* the common case first: room already there (cap keeps a spare byte past len) */
	if (!b->full && n < b->cap - b->len && (b->max == 0 || n <= b->max - b->len)) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		return 0;
	}
	if ((r = reserve(b, n, 0)) != 0)
		return r;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static int
vaddf(struct ofs_buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n, r;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0) {		/* only past INT_MAX bytes: a limit too */
		b->full = 1;
		return OFS_ERR_LIMIT;
	}
	/* n bytes under max, like ofs_buf_add; vsnprintf's NUL goes in the spare byte that
	 * grow always keeps past them */
	if ((r = reserve(b, (size_t)n, 0)) != 0)
		return r;
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

static int
add_zeros(struct ofs_buf *b, size_t n)
{
	int r;

	if ((r = reserve(b, n, 0)) != 0)
		return r;
	memset(b->data + b->len, 0, n);
	b->len += n;
	return 0;
}

static int
add_u16le(struct ofs_buf *b, uint16_t v)
{
	uint8_t t[2];

	ofs_put_u16le(t, v);
	return add(b, t, sizeof(t));
}

static int
add_u32le(struct ofs_buf *b, uint32_t v)
{
	uint8_t t[4];

	ofs_put_u32le(t, v);
	return add(b, t, sizeof(t));
}

static int
add_u64le(struct ofs_buf *b, uint64_t v)
{
	uint8_t t[8];

	ofs_put_u64le(t, v);
	return add(b, t, sizeof(t));
}

int ofs_buf_add(struct ofs_buf *b, const void *p, size_t n) { return add(b, p, n); }
int ofs_buf_addc(struct ofs_buf *b, uint8_t c) { return add(b, &c, 1); }
int ofs_buf_adds(struct ofs_buf *b, const char *s) { return add(b, s, strlen(s)); }
int ofs_buf_add_zeros(struct ofs_buf *b, size_t n) { return add_zeros(b, n); }
int ofs_buf_add_u16le(struct ofs_buf *b, uint16_t v) { return add_u16le(b, v); }
int ofs_buf_add_u32le(struct ofs_buf *b, uint32_t v) { return add_u32le(b, v); }
int ofs_buf_add_u64le(struct ofs_buf *b, uint64_t v) { return add_u64le(b, v); }

int
ofs_buf_addf(struct ofs_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

/* A failed put has marked b (see add and reserve); ofs_buf_check reports it. */
void ofs_buf_put(struct ofs_buf *b, const void *p, size_t n) { add(b, p, n); }
void ofs_buf_putc(struct ofs_buf *b, uint8_t c) { add(b, &c, 1); }
void ofs_buf_puts(struct ofs_buf *b, const char *s) { add(b, s, strlen(s)); }
void ofs_buf_put_zeros(struct ofs_buf *b, size_t n) { add_zeros(b, n); }
void ofs_buf_put_u16le(struct ofs_buf *b, uint16_t v) { add_u16le(b, v); }
void ofs_buf_put_u32le(struct ofs_buf *b, uint32_t v) { add_u32le(b, v); }
void ofs_buf_put_u64le(struct ofs_buf *b, uint64_t v) { add_u64le(b, v); }

void
ofs_buf_putf(struct ofs_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vaddf(b, fmt, ap);
	va_end(ap);
}

int
ofs_buf_check(const struct ofs_buf *b)
{
	return b->full ? OFS_ERR_LIMIT : 0;
}

int
ofs_buf_cstr(struct ofs_buf *b)
{
	int r;

	/* the NUL must fit under max, not only in the spare byte the storage keeps */
	if ((r = reserve(b, 1, 0)) != 0)
		return r;
	b->data[b->len] = '\0';
	return 0;
}

void
ofs_buf_truncate(struct ofs_buf *b, size_t len)
{
	if (len < b->len)
		b->len = len;
	b->full = 0;
}

uint8_t *
ofs_buf_detach(struct ofs_buf *b, size_t *len)
{
	uint8_t *p = b->data;

	if (len != NULL)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->full = 0;
	return p;
}

int
ofs_buf_read_file(struct ofs_buf *b, const char *path, struct ofs_error *err)
{
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return ofs_err_sys(err, errno == ENOENT ? OFS_ERR_NOTFOUND : OFS_ERR_IO,
		    errno, "cannot open '%s'", path);
	r = ofs_buf_read_fd(b, fd, path, err);
	close(fd);
	return r;
}

int
ofs_buf_read_fd(struct ofs_buf *b, int fd, const char *path, struct ofs_error *err)
{
	struct stat st;
	ssize_t n;
	int r = 0;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		if (b->max != 0 && (uint64_t)st.st_size > b->max) {
			r = ofs_err_set(err, OFS_ERR_CORRUPT,
			    "'%s' is too large (%lld bytes, at most %zu expected)", path,
			    (long long)st.st_size, b->max);
			goto out;
		}
		/* exactly the file and a little room to see its end: doubling growth would hold
		 * up to twice a large file (an index file, the catalog) */
		size_t want = (size_t)st.st_size + 4096;

		if (b->max != 0 && b->len + want > b->max)
			want = b->max - b->len;
		if (grow(b, want, 1) != 0) {
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "'%s' is too large", path);
			goto out;
		}
	}
	for (;;) {
		if (b->cap - b->len <= 1 && grow(b, 65536, 0) != 0) {
			r = ofs_err_set(err, OFS_ERR_CORRUPT,
			    "'%s' is too large (at most %zu bytes expected)", path, b->max);
			goto out;
		}
		n = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot read '%s'", path);
			goto out;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	b->data[b->len] = '\0';
out:
	return r;
}

void
ofs_rd_init(struct ofs_rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = 0;
}

const uint8_t *
ofs_rd_ptr(struct ofs_rd *r, size_t n)
{
	const uint8_t *q;

	if (r->bad || n > r->len - r->off) {
		r->bad = 1;
		return NULL;
	}
	q = r->p + r->off;
	r->off += n;
	return q;
}

void
ofs_rd_skip(struct ofs_rd *r, size_t n)
{
	(void)ofs_rd_ptr(r, n);
}

void
ofs_rd_bytes(struct ofs_rd *r, void *out, size_t n)
{
	const uint8_t *q = ofs_rd_ptr(r, n);

	if (q == NULL)
		memset(out, 0, n);
	else
		memcpy(out, q, n);
}

uint8_t
ofs_rd_u8(struct ofs_rd *r)
{
	const uint8_t *q = ofs_rd_ptr(r, 1);

	return q ? q[0] : 0;
}

uint16_t
ofs_rd_u16le(struct ofs_rd *r)
{
	const uint8_t *q = ofs_rd_ptr(r, 2);

	return q ? ofs_get_u16le(q) : 0;
}

uint32_t
ofs_rd_u32le(struct ofs_rd *r)
{
	const uint8_t *q = ofs_rd_ptr(r, 4);

	return q ? ofs_get_u32le(q) : 0;
}

uint64_t
ofs_rd_u64le(struct ofs_rd *r)
{
	const uint8_t *q = ofs_rd_ptr(r, 8);

	return q ? ofs_get_u64le(q) : 0;
}

uint32_t
ofs_rd_u32be(struct ofs_rd *r)
{
	const uint8_t *q = ofs_rd_ptr(r, 4);

	return q ? ofs_get_u32be(q) : 0;
}

uint64_t
ofs_rd_u64be(struct ofs_rd *r)
{
	const uint8_t *q = ofs_rd_ptr(r, 8);

	return q ? ofs_get_u64be(q) : 0;
}

void ofs_put_u16le(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
void ofs_put_u32le(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
void ofs_put_u64le(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
void ofs_put_u16be(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
void ofs_put_u32be(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * (3 - i))); }
void ofs_put_u64be(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * (7 - i))); }
uint16_t ofs_get_u16le(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
uint16_t ofs_get_u16be(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

uint32_t
ofs_get_u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t
ofs_get_u32be(const uint8_t *p)
{
	return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

uint64_t
ofs_get_u64le(const uint8_t *p)
{
	return (uint64_t)ofs_get_u32le(p) | (uint64_t)ofs_get_u32le(p + 4) << 32;
}

uint64_t
ofs_get_u64be(const uint8_t *p)
{
	return (uint64_t)ofs_get_u32be(p) << 32 | (uint64_t)ofs_get_u32be(p + 4);
}
