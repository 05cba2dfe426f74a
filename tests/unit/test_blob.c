/* Unit tests for lib/blob.c: round trips, mode choice, binding to type and id, tampering,
 * the decompression bound, hand-forged payloads, and throughput figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <zstd.h>

#include "blob.h"
#include "util.h"

#define MIB (1024u * 1024)

static struct ofs_keys keys;
static struct ofs_blob_ctx *bc;
static uint8_t id1[OFS_ID_LEN], id2[OFS_ID_LEN];

static void
fill_random(uint8_t *p, size_t n, uint64_t x)
{
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 32);
	}
}

static void
fill_text(uint8_t *p, size_t n)
{
	static const char *words[] = { "backup ", "offseed ", "container ", "chunk ", "disk ",
		"seed ", "restore ", "verify\n" };
	size_t i = 0, w = 0;

	while (i < n) {
		const char *s = words[(w * 7 + w / 3) % 8];

		for (; *s && i < n; s++)
			p[i++] = (uint8_t)*s;
		w++;
	}
}

/* Log-like text: words picked at random with numbers, compresses about 3:1. */
static void
fill_log(uint8_t *p, size_t n, uint64_t x)
{
	static const char *words[] = { "GET ", "POST ", "/index.html ", "/api/v1/items ", "200 ",
		"404 ", "user=", "session=", "bytes=", "time=", "ok ", "error ", "warn ", "ms ",
		"client ", "server " };
	size_t i = 0;

	while (i < n) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		for (const char *s = words[x & 15]; *s && i < n; s++)
			p[i++] = (uint8_t)*s;
		if ((x >> 8 & 3) == 0)
			for (int d = 0; d < 5 && i < n; d++)
				p[i++] = (uint8_t)('0' + (x >> (16 + 4 * d)) % 10);
		if ((x >> 40 & 7) == 0 && i < n)
			p[i++] = '\n';
	}
}

static int
setup(void **state)
{
	for (int i = 0; i < OFS_MASTER_LEN; i++)
		keys.master[i] = (uint8_t)(i * 3);
	if (ofs_keys_derive(&keys, NULL) != 0)
		return -1;
	bc = ofs_blob_ctx_new(&keys, 3);
	memset(id1, 0x11, sizeof(id1));
	memset(id2, 0x22, sizeof(id2));
	return 0;
}

static int
teardown(void **state)
{
	ofs_blob_ctx_free(bc);
	return 0;
}

static void
roundtrip(const uint8_t *raw, size_t n, int compress, size_t *stored_len)
{
	struct ofs_buf s = OFS_BUF_INIT(0), back = OFS_BUF_INIT(0);
	struct ofs_error err;

	assert_int_equal(ofs_blob_seal(bc, OFS_BLOB_DATA, id1, raw, n, compress, &s, &err), 0);
	assert_int_equal(ofs_blob_open(bc, OFS_BLOB_DATA, id1, s.data, s.len, n, &back, &err), 0);
	assert_int_equal(back.len, n);
	if (n > 0)
		assert_memory_equal(back.data, raw, n);
	*stored_len = s.len;
	ofs_buf_release(&s);
	ofs_buf_release(&back);
}

static void
t_roundtrips(void **state)
{
	size_t n = MIB, st;
	uint8_t *p = ofs_xmalloc(n);

	fill_text(p, n);
	roundtrip(p, n, 1, &st);
	assert_true(st < n / 10);			/* zstd chosen */
	roundtrip(p, n, 0, &st);
	assert_int_equal(st, n + 1 + OFS_AEAD_OVERHEAD);	/* forced raw */
	fill_random(p, n, 3);
	roundtrip(p, n, 1, &st);
	assert_int_equal(st, n + 1 + OFS_AEAD_OVERHEAD);	/* raw chosen for random */
	roundtrip(p, 100000, 1, &st);			/* below the probe size: full attempt */
	assert_int_equal(st, 100000 + 1 + OFS_AEAD_OVERHEAD);
	fill_text(p, 40);
	roundtrip(p, 40, 1, &st);			/* tiny: always raw */
	assert_int_equal(st, 40 + 1 + OFS_AEAD_OVERHEAD);
	roundtrip(p, 0, 1, &st);
	assert_int_equal(st, 1 + OFS_AEAD_OVERHEAD);
	/* random first half, zeros after: the middle sample sees the zeros */
	fill_random(p, n, 9);
	memset(p + n / 2 - 1000, 0, n / 2 + 1000);
	roundtrip(p, n, 1, &st);
	assert_true(st < n * 6 / 10);
	/* text first, random after: the first sample alone decides for zstd */
	fill_text(p, n / 2);
	fill_random(p + n / 2, n / 2, 11);
	roundtrip(p, n, 1, &st);
	assert_true(st < n * 6 / 10);
	free(p);
}

/* Saves between 0 and 3%: stored raw. */
static void
t_min_saving(void **state)
{
	size_t n = 64 * 1024, st;
	uint8_t *p = ofs_xmalloc(n);

	fill_random(p, n, 5);
	memset(p, 'a', n / 100);	/* ~1% compressible */
	roundtrip(p, n, 1, &st);
	assert_int_equal(st, n + 1 + OFS_AEAD_OVERHEAD);
	free(p);
}

/* Small blobs: random ones are stored raw after the fast probe; random-looking ones that
 * repeat, and text, are still compressed at the real level. */
static void
t_small_probe(void **state)
{
	uint8_t p[8192];
	size_t st;

	fill_random(p, 1024, 21);
	roundtrip(p, 1024, 1, &st);
	assert_int_equal(st, 1024 + 1 + OFS_AEAD_OVERHEAD);
	fill_random(p, sizeof(p), 22);
	roundtrip(p, sizeof(p), 1, &st);
	assert_int_equal(st, sizeof(p) + 1 + OFS_AEAD_OVERHEAD);
	/* a random 1 KiB block four times: many distinct bytes, yet 4x compressible */
	fill_random(p, 1024, 23);
	for (int i = 1; i < 4; i++)
		memcpy(p + i * 1024, p, 1024);
	roundtrip(p, 4096, 1, &st);
	assert_true(st < 4096 / 2);
	/* text and short blobs are compressed as before */
	fill_text(p, 2048);
	roundtrip(p, 2048, 1, &st);
	assert_true(st < 2048 * 8 / 10);
	memset(p, 'z', 200);
	roundtrip(p, 200, 1, &st);
	assert_true(st < 100);
}

static void
t_appends(void **state)
{
	struct ofs_buf s = OFS_BUF_INIT(0), back = OFS_BUF_INIT(0);
	struct ofs_error err;
	uint8_t raw[5000];

	fill_text(raw, sizeof(raw));
	assert_int_equal(ofs_buf_add(&s, "PREFIX", 6), 0);
	assert_int_equal(ofs_buf_add(&back, "xy", 2), 0);
	assert_int_equal(ofs_blob_seal(bc, OFS_BLOB_TREE, id1, raw, sizeof(raw), 1, &s, &err), 0);
	assert_memory_equal(s.data, "PREFIX", 6);
	assert_int_equal(ofs_blob_open(bc, OFS_BLOB_TREE, id1, s.data + 6, s.len - 6, sizeof(raw),
	    &back, &err), 0);
	assert_int_equal(back.len, 2 + sizeof(raw));
	assert_memory_equal(back.data, "xy", 2);
	assert_memory_equal(back.data + 2, raw, sizeof(raw));
	ofs_buf_release(&s);
	ofs_buf_release(&back);
}

static void
expect_corrupt(uint8_t type, const uint8_t *id, const uint8_t *st, size_t stlen, size_t max)
{
	struct ofs_buf back = OFS_BUF_INIT(0);
	struct ofs_error err;

	assert_int_equal(ofs_buf_add(&back, "keep", 4), 0);
	assert_int_equal(ofs_blob_open(bc, type, id, st, stlen, max, &back, &err),
	    OFS_ERR_CORRUPT);
	assert_int_equal(err.code, OFS_ERR_CORRUPT);
	assert_int_equal(back.len, 4);	/* nothing appended on failure */
	assert_memory_equal(err.msg, "blob ", 5);
	ofs_buf_release(&back);
}

static void
t_binding_and_tamper(void **state)
{
	struct ofs_buf s = OFS_BUF_INIT(0), back = OFS_BUF_INIT(0);
	struct ofs_error err;
	struct ofs_keys other;
	struct ofs_blob_ctx *bc2;
	uint8_t raw[3000];

	fill_text(raw, sizeof(raw));
	assert_int_equal(ofs_blob_seal(bc, OFS_BLOB_DATA, id1, raw, sizeof(raw), 1, &s, &err), 0);
	/* message names id prefix and type */
	assert_int_equal(ofs_blob_open(bc, OFS_BLOB_TREE, id1, s.data, s.len, 1 << 20, &back,
	    &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "blob 11111111… (tree)"));
	expect_corrupt(OFS_BLOB_TREE, id1, s.data, s.len, 1 << 20);
	expect_corrupt(OFS_BLOB_DATA, id2, s.data, s.len, 1 << 20);
	for (size_t pos = 0; pos < s.len; pos += 101) {
		s.data[pos] ^= 4;
		expect_corrupt(OFS_BLOB_DATA, id1, s.data, s.len, 1 << 20);
		s.data[pos] ^= 4;
	}
	expect_corrupt(OFS_BLOB_DATA, id1, s.data, s.len - 1, 1 << 20);
	expect_corrupt(OFS_BLOB_DATA, id1, s.data, OFS_AEAD_OVERHEAD, 1 << 20);
	expect_corrupt(OFS_BLOB_DATA, id1, s.data, 3, 1 << 20);
	/* another repository's key */
	memcpy(&other, &keys, sizeof(other));
	other.master[0] ^= 1;
	ofs_keys_derive(&other, NULL);
	bc2 = ofs_blob_ctx_new(&other, 3);
	assert_int_equal(ofs_blob_open(bc2, OFS_BLOB_DATA, id1, s.data, s.len, 1 << 20, &back,
	    &err), OFS_ERR_CORRUPT);
	ofs_blob_ctx_free(bc2);
	/* intact still opens */
	assert_int_equal(ofs_blob_open(bc, OFS_BLOB_DATA, id1, s.data, s.len, 1 << 20, &back,
	    &err), 0);
	ofs_buf_release(&s);
	ofs_buf_release(&back);
}

static void
t_rawlen_max(void **state)
{
	struct ofs_buf s = OFS_BUF_INIT(0), s2 = OFS_BUF_INIT(0), back = OFS_BUF_INIT(0);
	struct ofs_error err;
	size_t n = MIB;
	uint8_t *p = ofs_xmalloc(n);

	fill_text(p, n);
	assert_int_equal(ofs_blob_seal(bc, OFS_BLOB_DATA, id1, p, n, 1, &s, &err), 0);
	expect_corrupt(OFS_BLOB_DATA, id1, s.data, s.len, n - 1);
	assert_int_equal(ofs_blob_open(bc, OFS_BLOB_DATA, id1, s.data, s.len, n, &back, &err), 0);
	fill_random(p, n, 1);
	assert_int_equal(ofs_blob_seal(bc, OFS_BLOB_DATA, id1, p, n, 1, &s2, &err), 0);
	expect_corrupt(OFS_BLOB_DATA, id1, s2.data, s2.len, n - 1);
	expect_corrupt(OFS_BLOB_DATA, id1, s2.data, s2.len, 1000);
	/* the output buffer's own limit is respected too */
	back.len = 0;
	back.max = n / 2;
	assert_int_equal(ofs_blob_open(bc, OFS_BLOB_DATA, id1, s2.data, s2.len, n, &back, &err),
	    OFS_ERR_CORRUPT);
	ofs_buf_release(&s);
	ofs_buf_release(&s2);
	ofs_buf_release(&back);
	free(p);
}

/* Seal a hand-made plaintext (mode byte ‖ payload) under the data key, as a forger with the
 * key (or a buggy writer) could. */
static void
forge(uint8_t mode, const void *payload, size_t plen, struct ofs_buf *out)
{
	struct ofs_aead *a = ofs_aead_new(keys.data_key);
	uint8_t aad[37];

	memcpy(aad, "OFB1", 4);
	aad[4] = OFS_BLOB_DATA;
	memcpy(aad + 5, id1, 32);
	out->len = 0;
	assert_int_equal(ofs_buf_reserve(out, 1 + plen + OFS_AEAD_OVERHEAD), 0);
	assert_int_equal(ofs_aead_seal2(a, aad, sizeof(aad), &mode, 1, payload, plen, out->data),
	    0);
	out->len = 1 + plen + OFS_AEAD_OVERHEAD;
	ofs_aead_free(a);
}

static void
t_forged_payloads(void **state)
{
	struct ofs_buf s = OFS_BUF_INIT(0), back = OFS_BUF_INIT(0);
	struct ofs_error err;
	size_t big = 64 * MIB, bound = ZSTD_compressBound(big), n;
	uint8_t *zeros = ofs_xcalloc(1, big), *z = ofs_xmalloc(bound);
	ZSTD_CCtx *cc = ZSTD_createCCtx();

	/* the format is as documented: a hand-made raw blob opens */
	forge(0, "hello", 5, &s);
	assert_int_equal(ofs_blob_open(bc, OFS_BLOB_DATA, id1, s.data, s.len, 5, &back, &err), 0);
	assert_memory_equal(back.data, "hello", 5);
	/* unknown mode */
	forge(2, "hello", 5, &s);
	expect_corrupt(OFS_BLOB_DATA, id1, s.data, s.len, 100);
	/* a zstd bomb: 64 MiB of zeros declared in the frame, caller allows 1 MiB */
	n = ZSTD_compress(z, bound, zeros, big, 3);
	assert_false(ZSTD_isError(n));
	forge(1, z, n, &s);
	expect_corrupt(OFS_BLOB_DATA, id1, s.data, s.len, MIB);
	assert_int_equal(ofs_blob_open(bc, OFS_BLOB_DATA, id1, s.data, s.len, big, &back, &err), 0);
	/* a frame without a content size */
	ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
	n = ZSTD_compress2(cc, z, bound, zeros, 4096);
	assert_false(ZSTD_isError(n));
	forge(1, z, n, &s);
	expect_corrupt(OFS_BLOB_DATA, id1, s.data, s.len, MIB);
	/* garbage claimed to be zstd, and trailing bytes after a frame */
	forge(1, "not a zstd frame at all", 23, &s);
	expect_corrupt(OFS_BLOB_DATA, id1, s.data, s.len, MIB);
	n = ZSTD_compress(z, bound, zeros, 4096, 3);
	z[n] = 0x55;
	forge(1, z, n + 1, &s);
	expect_corrupt(OFS_BLOB_DATA, id1, s.data, s.len, MIB);
	ZSTD_freeCCtx(cc);
	ofs_buf_release(&s);
	ofs_buf_release(&back);
	free(zeros);
	free(z);
}

static void
t_blob_id(void **state)
{
	uint8_t a[32], b[32];
	struct ofs_mac *m = ofs_mac_new(keys.id_key);

	ofs_blob_id(bc, "chunk", 5, a);
	ofs_mac_compute(m, "chunk", 5, b);
	assert_memory_equal(a, b, 32);
	ofs_blob_id(bc, "chunK", 5, b);
	assert_memory_not_equal(a, b, 32);
	ofs_mac_free(m);
	assert_string_equal(ofs_blob_type_name(OFS_OBJ_PACK_HEADER), "pack header");
}

static double
secs_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) + (b.tv_nsec - a->tv_nsec) * 1e-9;
}

static void
t_speed(void **state)
{
	size_t n = MIB, reps = 128;
	uint8_t *rnd = ofs_xmalloc(n), *txt = ofs_xmalloc(n), id[32];
	struct ofs_buf s = OFS_BUF_INIT(0), back = OFS_BUF_INIT(0);
	struct ofs_error err;
	struct timespec t;
	double hm, sr, sf, sc, orr;

	fill_random(rnd, n, 11);
	fill_log(txt, n, 12);
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (size_t i = 0; i < reps; i++)
		ofs_blob_id(bc, rnd, n, id);
	hm = reps * n / secs_since(&t) / 1e9;
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (size_t i = 0; i < reps; i++) {
		s.len = 0;
		assert_int_equal(ofs_blob_seal(bc, 0, id, rnd, n, 1, &s, &err), 0);
	}
	sr = reps * n / secs_since(&t) / 1e6;
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (size_t i = 0; i < reps; i++) {
		back.len = 0;
		assert_int_equal(ofs_blob_open(bc, 0, id, s.data, s.len, n, &back, &err), 0);
	}
	orr = reps * n / secs_since(&t) / 1e6;
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (size_t i = 0; i < reps; i++) {
		s.len = 0;
		assert_int_equal(ofs_blob_seal(bc, 0, id, rnd, n, 0, &s, &err), 0);
	}
	sf = reps * n / secs_since(&t) / 1e6;
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (size_t i = 0; i < reps / 4; i++) {
		s.len = 0;
		assert_int_equal(ofs_blob_seal(bc, 0, id, txt, n, 1, &s, &err), 0);
	}
	sc = reps / 4 * n / secs_since(&t) / 1e6;
	printf("log text 1 MiB stored in %zu bytes\n", s.len);
	printf("HMAC-SHA256 %.2f GB/s; seal incompressible %.0f MB/s (forced raw %.0f MB/s), "
	    "open %.0f MB/s; seal compressible text (zstd 3) %.0f MB/s\n", hm, sr, sf, orr, sc);
	ofs_buf_release(&s);
	ofs_buf_release(&back);
	free(rnd);
	free(txt);
}

/* raw in pieces of 1 … 300,000 bytes through a stream: the id of the whole, and a stored
 * blob that opens to raw; *stored_len says which mode was chosen. */
static void
stream_roundtrip(const uint8_t *raw, size_t n, size_t *stored_len)
{
	struct ofs_blob_sealer *bs = ofs_blob_sealer_new(bc, OFS_BLOB_TREE);
	struct ofs_buf back = OFS_BUF_INIT(0);
	struct ofs_buf *st;
	struct ofs_error err;
	uint8_t id[OFS_ID_LEN], want[OFS_ID_LEN];
	uint64_t rawlen, x = n;

	for (size_t off = 0, k; off < n; off += k) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		k = 1 + (size_t)(x >> 33) % 300000;
		if (k > n - off)
			k = n - off;
		assert_int_equal(ofs_blob_sealer_write(bs, raw + off, k, &err), 0);
	}
	assert_int_equal(ofs_blob_sealer_end(bs, id, &rawlen, &err), 0);
	ofs_blob_id(bc, raw, n, want);
	assert_memory_equal(id, want, OFS_ID_LEN);
	assert_int_equal(rawlen, n);
	assert_int_equal(ofs_blob_sealer_seal(bs, &st, &err), 0);
	assert_int_equal(ofs_blob_open(bc, OFS_BLOB_TREE, id, st->data, st->len, n, &back, &err), 0);
	assert_int_equal(back.len, n);
	if (n > 0)
		assert_memory_equal(back.data, raw, n);
	/* bound to its type like any sealed blob */
	assert_int_not_equal(ofs_blob_open(bc, OFS_BLOB_DATA, id, st->data, st->len, n, &back,
	    &err), 0);
	*stored_len = st->len;
	ofs_buf_release(&back);
	ofs_blob_sealer_free(bs);
}

static void
t_stream(void **state)
{
	size_t n = 5 * MIB, st;
	uint8_t *p = ofs_xmalloc(n);

	fill_log(p, n, 7);
	stream_roundtrip(p, n, &st);			/* streamed: zstd */
	assert_true(st < n / 2);
	stream_roundtrip(p, MIB + 1, &st);		/* just past the whole-blob size */
	assert_true(st < MIB / 2);
	stream_roundtrip(p, MIB, &st);			/* sealed whole */
	assert_true(st < MIB / 2);
	stream_roundtrip(p, 40, &st);			/* tiny: raw, as ofs_blob_seal */
	assert_int_equal(st, 40 + 1 + OFS_AEAD_OVERHEAD);
	stream_roundtrip(p, 0, &st);
	assert_int_equal(st, 1 + OFS_AEAD_OVERHEAD);
	fill_random(p, n, 13);
	stream_roundtrip(p, 3 * MIB, &st);		/* streamed, incompressible: raw */
	assert_int_equal(st, 3 * MIB + 1 + OFS_AEAD_OVERHEAD);
	memset(p, 'a', 3 * MIB / 100);			/* saves ~1%: still raw */
	stream_roundtrip(p, 3 * MIB, &st);
	assert_int_equal(st, 3 * MIB + 1 + OFS_AEAD_OVERHEAD);
	memset(p, 'a', 3 * MIB / 10);			/* saves ~10%: zstd */
	stream_roundtrip(p, 3 * MIB, &st);
	assert_true(st < 3 * MIB * 95 / 100);
	free(p);
}

/* Calls out of turn are refused and leave the stream failed. */
static void
t_stream_misuse(void **state)
{
	struct ofs_blob_sealer *bs;
	struct ofs_buf *st;
	struct ofs_error err;
	uint8_t id[OFS_ID_LEN];
	uint64_t rawlen;

	bs = ofs_blob_sealer_new(bc, OFS_BLOB_TREE);
	assert_int_not_equal(ofs_blob_sealer_seal(bs, &st, &err), 0);	/* before its end */
	assert_null(st);
	assert_int_not_equal(ofs_blob_sealer_write(bs, "x", 1, &err), 0);	/* failed now */
	ofs_blob_sealer_free(bs);

	bs = ofs_blob_sealer_new(bc, OFS_BLOB_TREE);
	assert_int_equal(ofs_blob_sealer_write(bs, "abc", 3, &err), 0);
	assert_int_equal(ofs_blob_sealer_end(bs, id, &rawlen, &err), 0);
	assert_int_not_equal(ofs_blob_sealer_write(bs, "d", 1, &err), 0);	/* after its end */
	assert_non_null(strstr(err.msg, "after its end"));
	assert_int_not_equal(ofs_blob_sealer_end(bs, id, &rawlen, &err), 0);
	ofs_blob_sealer_free(bs);

	/* ended, never sealed (a duplicate): freed as is */
	bs = ofs_blob_sealer_new(bc, OFS_BLOB_TREE);
	assert_int_equal(ofs_blob_sealer_write(bs, "abc", 3, &err), 0);
	assert_int_equal(ofs_blob_sealer_end(bs, id, &rawlen, &err), 0);
	ofs_blob_sealer_free(bs);
	ofs_blob_sealer_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_roundtrips),
		cmocka_unit_test(t_min_saving),
		cmocka_unit_test(t_small_probe),
		cmocka_unit_test(t_appends),
		cmocka_unit_test(t_binding_and_tamper),
		cmocka_unit_test(t_rawlen_max),
		cmocka_unit_test(t_forged_payloads),
		cmocka_unit_test(t_blob_id),
		cmocka_unit_test(t_stream),
		cmocka_unit_test(t_stream_misuse),
		cmocka_unit_test(t_speed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
