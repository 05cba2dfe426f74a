/* Growable byte buffer with a hard maximum (so a hostile length cannot make us allocate
 * gigabytes), little/big-endian appenders, and a bounds-checked reader for outside bytes. */
#ifndef OFS_BUF_H
#define OFS_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct ofs_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;	/* 0 = unbounded */
	int full;	/* sticky: an append or reserve failed at max; later appends fail too */
};

#define OFS_BUF_INIT(maxbytes) { NULL, 0, 0, (maxbytes), 0 }

/* Reaching max is an error that cannot be ignored: every appender, reserve and cstr is
 * warn_unused_result and returns 0 or OFS_ERR_LIMIT ("a size limit was reached": our own
 * output at our own cap, exit 1). A caller filling b with OUTSIDE bytes (a body, a listing)
 * turns OFS_ERR_LIMIT into OFS_ERR_CORRUPT naming the object. The first failure marks the
 * buffer (full), so no later data is appended behind a gap; reset, release and detach clear
 * the mark. An unbounded buffer (max 0) fails only past SIZE_MAX; out of memory aborts. */
#define OFS_BUF_MUST __attribute__((warn_unused_result))

void ofs_buf_init(struct ofs_buf *b, size_t max);
/* Free the storage; the buffer is reusable (empty, unmarked) afterwards. */
void ofs_buf_release(struct ofs_buf *b);
/* Wipe contents with OPENSSL_cleanse-equivalent, then release. */
void ofs_buf_release_secret(struct ofs_buf *b);
void ofs_buf_reset(struct ofs_buf *b);	/* len = 0 and unmarked, keeps storage */

/* Make room for n more bytes. Returns 0, or OFS_ERR_LIMIT (and marks b) when the result
 * would pass max or SIZE_MAX, or when b is already marked. Out of memory aborts. */
OFS_BUF_MUST int ofs_buf_reserve(struct ofs_buf *b, size_t n);
/* The same without rounding up to a power of two: for a buffer whose final size is known
 * (a pack), so that a 40 MiB need does not take 64 MiB. */
OFS_BUF_MUST int ofs_buf_reserve_exact(struct ofs_buf *b, size_t n);
/* Give back the capacity past len (a shrinking realloc: no copy in glibc's heap). */
void ofs_buf_fit(struct ofs_buf *b);
/* Append; returns 0, or OFS_ERR_LIMIT past max or when b is marked (then nothing of this
 * append is kept and b is marked). */
OFS_BUF_MUST int ofs_buf_add(struct ofs_buf *b, const void *p, size_t n);
OFS_BUF_MUST int ofs_buf_addc(struct ofs_buf *b, uint8_t c);
OFS_BUF_MUST int ofs_buf_adds(struct ofs_buf *b, const char *s);
OFS_BUF_MUST int ofs_buf_addf(struct ofs_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
OFS_BUF_MUST int ofs_buf_add_zeros(struct ofs_buf *b, size_t n);
OFS_BUF_MUST int ofs_buf_add_u16le(struct ofs_buf *b, uint16_t v);
OFS_BUF_MUST int ofs_buf_add_u32le(struct ofs_buf *b, uint32_t v);
OFS_BUF_MUST int ofs_buf_add_u64le(struct ofs_buf *b, uint64_t v);
/* The appenders for an encoder that builds a whole document and checks once: a failure only
 * marks b; call ofs_buf_check(b) before b is used. */
void ofs_buf_put(struct ofs_buf *b, const void *p, size_t n);
void ofs_buf_putc(struct ofs_buf *b, uint8_t c);
void ofs_buf_puts(struct ofs_buf *b, const char *s);
void ofs_buf_putf(struct ofs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ofs_buf_put_zeros(struct ofs_buf *b, size_t n);
void ofs_buf_put_u16le(struct ofs_buf *b, uint16_t v);
void ofs_buf_put_u32le(struct ofs_buf *b, uint32_t v);
void ofs_buf_put_u64le(struct ofs_buf *b, uint64_t v);
/* 0, or OFS_ERR_LIMIT when b is marked (some append or reserve failed at max). */
OFS_BUF_MUST int ofs_buf_check(const struct ofs_buf *b);
/* NUL-terminate without counting the NUL in len (for using data as a C string). Returns 0,
 * or OFS_ERR_LIMIT when the NUL does not fit under max or b is marked. */
OFS_BUF_MUST int ofs_buf_cstr(struct ofs_buf *b);
/* Cut back to len (at most b->len) and clear the mark: what followed len is gone, so
 * nothing later can follow a gap (a retried download starts again at len). */
void ofs_buf_truncate(struct ofs_buf *b, size_t len);
/* Hand the storage to the caller (returns owned pointer, buffer becomes empty, unmarked). */
uint8_t *ofs_buf_detach(struct ofs_buf *b, size_t *len);

/* Read a whole file into b (appending) and NUL-terminate it. These bytes come from outside,
 * so passing b->max (or a marked b) fails with OFS_ERR_CORRUPT naming the path, not
 * OFS_ERR_LIMIT; OFS_ERR_NOTFOUND when absent, OFS_ERR_IO otherwise. */
int ofs_buf_read_file(struct ofs_buf *b, const char *path, struct ofs_error *err);
/* The same from an open file (read to its end; fd stays open); path names it. */
int ofs_buf_read_fd(struct ofs_buf *b, int fd, const char *path, struct ofs_error *err);

/* Bounds-checked reader. Any read past the end sets bad and yields zeros; check
 * ofs_rd_ok() once after a group of reads. */
struct ofs_rd {
	const uint8_t *p;
	size_t len;
	size_t off;
	int bad;
};

void ofs_rd_init(struct ofs_rd *r, const void *p, size_t len);
uint8_t ofs_rd_u8(struct ofs_rd *r);
uint16_t ofs_rd_u16le(struct ofs_rd *r);
uint32_t ofs_rd_u32le(struct ofs_rd *r);
uint64_t ofs_rd_u64le(struct ofs_rd *r);
uint32_t ofs_rd_u32be(struct ofs_rd *r);
uint64_t ofs_rd_u64be(struct ofs_rd *r);
/* Copy n bytes to out (zero-filled on overrun). */
void ofs_rd_bytes(struct ofs_rd *r, void *out, size_t n);
/* Return a pointer to the next n bytes and advance, or NULL (and bad) on overrun. */
const uint8_t *ofs_rd_ptr(struct ofs_rd *r, size_t n);
void ofs_rd_skip(struct ofs_rd *r, size_t n);
static inline int ofs_rd_ok(const struct ofs_rd *r) { return !r->bad; }
static inline size_t ofs_rd_left(const struct ofs_rd *r) { return r->bad ? 0 : r->len - r->off; }

/* Fixed-position big/little-endian stores for building on-disk structures. */
void ofs_put_u16le(uint8_t *p, uint16_t v);
void ofs_put_u32le(uint8_t *p, uint32_t v);
void ofs_put_u64le(uint8_t *p, uint64_t v);
void ofs_put_u16be(uint8_t *p, uint16_t v);
void ofs_put_u32be(uint8_t *p, uint32_t v);
void ofs_put_u64be(uint8_t *p, uint64_t v);
uint16_t ofs_get_u16le(const uint8_t *p);
uint32_t ofs_get_u32le(const uint8_t *p);
uint64_t ofs_get_u64le(const uint8_t *p);
uint16_t ofs_get_u16be(const uint8_t *p);
uint32_t ofs_get_u32be(const uint8_t *p);
uint64_t ofs_get_u64be(const uint8_t *p);

#endif
