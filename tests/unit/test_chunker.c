/* Unit tests for lib/chunker.c: parameter checks, size bounds, average, locality of edits,
 * eof/stream handling, a golden list of cut points, and a throughput figure. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "chunker.h"
#include "util.h"

#define MIB (1024u * 1024)

static struct ofs_chunker ch;

/* Deterministic test data: xorshift64 words, little-endian. */
static uint8_t *
xorshift_data(size_t n, uint64_t x)
{
	uint8_t *p = ofs_xmalloc(n + 8);

	for (size_t i = 0; i < n; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ofs_put_u64le(p + i, x);
	}
	return p;
}

/* Cut all of p; returns the number of chunks, ends[] receives chunk end offsets. */
static size_t
cut_all(const struct ofs_chunker *c, const uint8_t *p, size_t n, size_t *ends, size_t max_ends)
{
	size_t off = 0, k = 0, len;

	while (off < n) {
		len = ofs_chunker_next(c, p + off, n - off, 1);
		assert_true(len > 0);
		off += len;
		if (k < max_ends)
			ends[k] = off;
		k++;
	}
	return k;
}

/* Locate tests/golden: $OFFSEED_TOP, the working directory, or above the test binary. */
static void
golden_path(const char *name, char *out, size_t outsz)
{
	char exe[1024], *s;
	ssize_t n;

	if ((s = getenv("OFFSEED_TOP")) != NULL) {
		snprintf(out, outsz, "%s/tests/golden/%s", s, name);
		return;
	}
	if (access("tests/golden", F_OK) == 0) {
		snprintf(out, outsz, "tests/golden/%s", name);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	while ((s = strrchr(exe, '/')) != NULL) {
		*s = '\0';
		snprintf(out, outsz, "%s/tests/golden", exe);
		if (access(out, F_OK) == 0) {
			snprintf(out, outsz, "%s/tests/golden/%s", exe, name);
			return;
		}
	}
	fail_msg("cannot find tests/golden (set OFFSEED_TOP)");
}

static int
setup(void **state)
{
	uint8_t seed[32];

	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	return ofs_chunker_init(&ch, seed, OFS_CHUNK_MIN, OFS_CHUNK_AVG, OFS_CHUNK_MAX);
}

static void
t_init_checks(void **state)
{
	struct ofs_chunker c;
	uint8_t seed[32] = { 0 };

	assert_int_equal(ofs_chunker_init(&c, seed, 512 << 10, 1000000, 8 << 20), -1);
	assert_int_equal(ofs_chunker_init(&c, seed, 1 << 20, 1 << 20, 8 << 20), -1);
	assert_int_equal(ofs_chunker_init(&c, seed, 512 << 10, 1 << 20, 1 << 20), -1);
	assert_int_equal(ofs_chunker_init(&c, seed, 32, 1 << 20, 8 << 20), -1);
	assert_int_equal(ofs_chunker_init(&c, seed, 512 << 10, 1 << 20, 2u << 30), -1);
	assert_int_equal(ofs_chunker_init(&c, seed, 1024, 4096, 16384), 0);
	assert_int_equal(__builtin_popcountll(ch.mask_s), 22);
	assert_int_equal(__builtin_popcountll(ch.mask_l), 18);
	assert_true(ch.mask_s & (1ull << 63));
	assert_int_equal(ch.mask_s & 0xffff, 0);	/* spread over the high bits */
	/* gear table is keyed: another seed gives another table */
	assert_memory_not_equal(c.gear, ch.gear, sizeof(c.gear));
}

static void
t_determinism_and_seed(void **state)
{
	size_t n = 24 * MIB, e1[64], e2[64], e3[64], k1, k2, k3;
	uint8_t *p = xorshift_data(n, 42), seed[32];
	struct ofs_chunker other;

	k1 = cut_all(&ch, p, n, e1, 64);
	k2 = cut_all(&ch, p, n, e2, 64);
	assert_int_equal(k1, k2);
	assert_memory_equal(e1, e2, k1 * sizeof(size_t));
	memset(seed, 0xee, sizeof(seed));
	assert_int_equal(ofs_chunker_init(&other, seed, OFS_CHUNK_MIN, OFS_CHUNK_AVG,
	    OFS_CHUNK_MAX), 0);
	k3 = cut_all(&other, p, n, e3, 64);
	/* boundaries must not coincide across repositories */
	assert_true(k3 != k1 || memcmp(e1, e3, k1 * sizeof(size_t)) != 0);
	free(p);
}

static void
t_bounds_and_average(void **state)
{
	size_t n = 64 * MIB, ends[256], k, prev = 0;
	uint8_t *p = xorshift_data(n, 7);
	double avg;

	k = cut_all(&ch, p, n, ends, 256);
	assert_true(k < 256);
	for (size_t i = 0; i < k; i++) {
		size_t len = ends[i] - prev;

		assert_true(len <= OFS_CHUNK_MAX);
		if (i + 1 < k)
			assert_true(len >= OFS_CHUNK_MIN);
		prev = ends[i];
	}
	assert_int_equal(ends[k - 1], n);
	avg = (double)n / k;
	printf("64 MiB random: %zu chunks, average %.0f KiB\n", k, avg / 1024);
	assert_true(avg >= 0.7 * MIB && avg <= 1.5 * MIB);
	free(p);
}

/* Inserting one byte moves only the boundary of the chunk it lands in; later boundaries
 * shift by one and earlier ones stay. */
static void
t_insert_byte(void **state)
{
	size_t n = 32 * MIB, ins = 10 * MIB + 12345, e1[128], e2[128], k1, k2, same = 0;
	uint8_t *p = xorshift_data(n, 99), *q = ofs_xmalloc(n + 1);

	memcpy(q, p, ins);
	q[ins] = 0xa5;
	memcpy(q + ins + 1, p + ins, n - ins);
	k1 = cut_all(&ch, p, n, e1, 128);
	k2 = cut_all(&ch, q, n + 1, e2, 128);
	for (size_t i = 0, j = 0; i < k1 && j < k2;) {
		size_t a = e1[i], b = e2[j] > ins ? e2[j] - 1 : e2[j];

		if (a == b) {
			same++;
			i++;
			j++;
		} else if (a < b)
			i++;
		else
			j++;
	}
	for (size_t i = 0; i < k1 && e1[i] < ins; i++)
		assert_int_equal(e1[i], e2[i]);
	/* at most two boundaries around the edit differ */
	assert_true(same + 2 >= k1);
	assert_true(same + 2 >= k2);
	free(p);
	free(q);
}

static void
t_eof_and_edges(void **state)
{
	size_t n = OFS_CHUNK_MAX + 4096, len;
	uint8_t *p = xorshift_data(n, 5);
	const size_t sizes[] = { 0, 1, OFS_CHUNK_MIN - 1, OFS_CHUNK_MIN, OFS_CHUNK_MIN + 1,
		OFS_CHUNK_MAX - 1, OFS_CHUNK_MAX, OFS_CHUNK_MAX + 1 };

	/* short input without eof: need more data */
	assert_int_equal(ofs_chunker_next(&ch, p, 0, 0), 0);
	assert_int_equal(ofs_chunker_next(&ch, p, OFS_CHUNK_MIN, 0), 0);
	/* files no longer than min are one chunk */
	assert_int_equal(ofs_chunker_next(&ch, p, 0, 1), 0);
	assert_int_equal(ofs_chunker_next(&ch, p, 1, 1), 1);
	assert_int_equal(ofs_chunker_next(&ch, p, OFS_CHUNK_MIN - 1, 1), OFS_CHUNK_MIN - 1);
	assert_int_equal(ofs_chunker_next(&ch, p, OFS_CHUNK_MIN, 1), OFS_CHUNK_MIN);
	assert_int_equal(ofs_chunker_next(&ch, p, OFS_CHUNK_MIN + 1, 1), OFS_CHUNK_MIN + 1);
	for (size_t i = 0; i < OFS_ARRAY_LEN(sizes); i++) {
		size_t off = 0, total = sizes[i];

		while (off < total) {
			len = ofs_chunker_next(&ch, p + off, total - off, 1);
			assert_true(len > 0 && len <= OFS_CHUNK_MAX && off + len <= total);
			/* the same answer without eof whenever more data could not change it */
			if (len < total - off || total - off >= OFS_CHUNK_MAX)
				assert_int_equal(ofs_chunker_next(&ch, p + off, total - off, 0), len);
			off += len;
		}
		assert_int_equal(off, total);
	}
	/* with max bytes buffered, never "need more" */
	assert_true(ofs_chunker_next(&ch, p, OFS_CHUNK_MAX, 0) > 0);
	free(p);
}

/* Constant data has no cut points: chunks of exactly max. */
static void
t_zeros(void **state)
{
	size_t n = 3 * OFS_CHUNK_MAX + 100;
	uint8_t *p = ofs_xcalloc(1, n);
	size_t len = ofs_chunker_next(&ch, p, n, 1);

	/* h becomes constant after 64 zero bytes: either it passes the mask then or never */
	assert_true(len == OFS_CHUNK_MAX || len <= OFS_CHUNK_MIN + 64);
	assert_int_equal(ofs_chunker_next(&ch, p, OFS_CHUNK_MAX, 0), len);
	free(p);
}

/* Chunking a stream through a bounded window (as the pipeline does) gives the same cuts. */
static void
t_streaming(void **state)
{
	size_t n = 40 * MIB, e1[128], k1, k = 0, off = 0, have = 0, win = OFS_CHUNK_MAX;
	uint8_t *p = xorshift_data(n, 1234);

	k1 = cut_all(&ch, p, n, e1, 128);
	while (off < n) {
		size_t len;
		int eof;

		/* refill in odd-sized steps up to one window */
		have = off + win < n ? off + win - 777 * (k % 3) : n;
		eof = have == n;
		len = ofs_chunker_next(&ch, p + off, have - off, eof);
		if (len == 0) {
			have = off + win < n ? off + win : n;
			len = ofs_chunker_next(&ch, p + off, have - off, have == n);
			assert_true(len > 0);
		}
		off += len;
		assert_int_equal(off, e1[k]);
		k++;
	}
	assert_int_equal(k, k1);
	free(p);
}

/* Golden cut points for 48 MiB of xorshift64 (state 0x9E3779B97F4A7C15, words little-endian)
 * with seed bytes 0..31: any change to gear derivation, masks or cut rule breaks this. */
static void
t_golden(void **state)
{
	size_t n = 48 * MIB, ends[256], k;
	uint8_t *p = xorshift_data(n, 0x9E3779B97F4A7C15ull);
	struct ofs_buf text = OFS_BUF_INIT(0), want = OFS_BUF_INIT(1u << 20);
	char path[PATH_MAX];

	k = cut_all(&ch, p, n, ends, 256);
	assert_true(k < 256);
	assert_int_equal(ofs_buf_adds(&text, "# FastCDC cut points (chunk end offsets): 48 MiB xorshift64 "
	    "0x9E3779B97F4A7C15 LE words, seed = bytes 0..31, min/avg/max 512K/1M/8M\n"), 0);
	for (size_t i = 0; i < k; i++)
		assert_int_equal(ofs_buf_addf(&text, "%zu\n", ends[i]), 0);
	golden_path("chunker-cuts.txt", path, sizeof(path));
	if (getenv("OFFSEED_REGEN_GOLDEN") != NULL)
		assert_int_equal(ofs_write_file_atomic(path, text.data, text.len, 0644, NULL), 0);
	assert_int_equal(ofs_buf_read_file(&want, path, NULL), 0);
	assert_int_equal(want.len, text.len);
	assert_memory_equal(want.data, text.data, text.len);
	ofs_buf_release(&text);
	ofs_buf_release(&want);
	free(p);
}

/* The chunk length by the literal one-byte-at-a-time definition in chunker.h. */
static size_t
reference_next(const struct ofs_chunker *c, const uint8_t *d, size_t len)
{
	size_t n = len < c->max ? len : c->max;
	uint64_t h = 0;

	if (len <= c->min)
		return len;
	for (size_t i = c->min; i < n; i++) {
		h = (h << 1) + c->gear[d[i]];
		if ((h & (i < c->avg ? c->mask_s : c->mask_l)) == 0)
			return i + 1;
	}
	return n;
}

/* The multi-lane scanner must give exactly the reference cuts, also with small parameters
 * (many cuts, hits in every lane position) and on low-entropy data. */
static void
t_reference(void **state)
{
	static const uint32_t params[][3] = {
		{ 512u << 10, 1u << 20, 8u << 20 },
		{ 4096, 65536, 1u << 20 },
		{ 64, 4096, 200000 },
		{ 100, 128, 40000 },
	};
	size_t n = 20 * MIB;
	uint8_t *p = xorshift_data(n, 31337), seed[32] = { 9 };

	for (size_t i = 0; i < n; i++)	/* low-entropy stretch: bytes in a small alphabet */
		if (i > n / 2 && i < n / 2 + 3 * MIB)
			p[i] &= 3;
	for (size_t k = 0; k < OFS_ARRAY_LEN(params); k++) {
		struct ofs_chunker c;
		size_t off = 0, cuts = 0;

		assert_int_equal(ofs_chunker_init(&c, seed, params[k][0], params[k][1],
		    params[k][2]), 0);
		while (off < n) {
			size_t a = ofs_chunker_next(&c, p + off, n - off, 1);

			assert_int_equal(a, reference_next(&c, p + off, n - off));
			off += a;
			cuts++;
		}
		assert_true(cuts >= n / params[k][2]);
	}
	free(p);
}

static void
t_speed(void **state)
{
	size_t n = 256 * MIB, k = 0, off;
	uint8_t *p = xorshift_data(n, 77);
	struct timespec a, b;
	double best = 0, secs;

	for (int rep = 0; rep < 3; rep++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (off = 0, k = 0; off < n; k++)
			off += ofs_chunker_next(&ch, p + off, n - off, 1);
		clock_gettime(CLOCK_MONOTONIC, &b);
		secs = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
		if (n / secs > best)
			best = n / secs;
	}
	printf("chunker: %.2f GB/s over 256 MiB random (%zu chunks)\n", best / 1e9, k);
	assert_true(k > 100);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_init_checks),
		cmocka_unit_test(t_determinism_and_seed),
		cmocka_unit_test(t_bounds_and_average),
		cmocka_unit_test(t_insert_byte),
		cmocka_unit_test(t_eof_and_edges),
		cmocka_unit_test(t_zeros),
		cmocka_unit_test(t_streaming),
		cmocka_unit_test(t_golden),
		cmocka_unit_test(t_reference),
		cmocka_unit_test(t_speed),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
