/* Unit tests for lib/patch.c: a patch written, parsed and applied gives the chunk back; its
 * bytes match the golden file; every kind of forged patch is refused; the block hashes do
 * not depend on how the stream is cut, and the probe hashes the seed's shorter last block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "patch.h"
#include "util.h"

static uint8_t base_a[100000], base_b[50000];
static uint8_t id_a[OFS_ID_LEN], id_b[OFS_ID_LEN];

static int
fetch(void *arg, const uint8_t id[OFS_ID_LEN], struct ofs_buf *out, struct ofs_error *err)
{
	int *calls = arg;

	(*calls)++;
	if (memcmp(id, id_a, OFS_ID_LEN) == 0)
		return ofs_buf_add(out, base_a, sizeof(base_a));
	if (memcmp(id, id_b, OFS_ID_LEN) == 0)
		return ofs_buf_add(out, base_b, sizeof(base_b));
	return ofs_err_set(err, OFS_ERR_NOTFOUND, "no such base");
}

static void
fill(void)
{
	for (size_t i = 0; i < sizeof(base_a); i++)
		base_a[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(base_b); i++)
		base_b[i] = (uint8_t)(i * 13 + 5);
	memset(id_a, 0xa1, sizeof(id_a));
	memset(id_b, 0xb2, sizeof(id_b));
}

/* 1000 bytes of a at 10, "XYZ", 20000 bytes of a at 1013, 500 of b at 0, then "!" and "?"
 * (which merge): 5 ops, 2 bases. */
static void
sample(struct ofs_buf *patch, struct ofs_buf *want)
{
	struct ofs_patch_writer w;

	fill();
	ofs_patch_writer_init(&w);
	assert_int_equal(ofs_patch_copy(&w, id_a, 10, 1000), 0);
	assert_int_equal(ofs_buf_add(want, base_a + 10, 1000), 0);
	ofs_patch_literal(&w, "XYZ", 3);
	assert_int_equal(ofs_buf_add(want, "XYZ", 3), 0);
	assert_int_equal(ofs_patch_copy(&w, id_a, 1013, 20000), 0);
	assert_int_equal(ofs_buf_add(want, base_a + 1013, 20000), 0);
	assert_int_equal(ofs_patch_copy(&w, id_b, 0, 500), 0);
	assert_int_equal(ofs_buf_add(want, base_b, 500), 0);
	ofs_patch_literal(&w, "!", 1);
	ofs_patch_literal(&w, "?", 1);	/* merges with the literal before */
	assert_int_equal(ofs_buf_add(want, "!?", 2), 0);
	assert_int_equal(w.nops, 5);
	assert_int_equal(w.nbases, 2);
	assert_int_equal(ofs_patch_finish(&w, patch), 0);
	ofs_patch_writer_release(&w);
}

static void
golden_path(const char *name, char *out, size_t outsz)
{
	const char *top = getenv("OFFSEED_TOP");

	snprintf(out, outsz, "%s/tests/golden/%s", top ? top : ".", name);
}

static void
t_roundtrip_golden(void **state)
{
	struct ofs_buf patch = OFS_BUF_INIT(0), want = OFS_BUF_INIT(0), got = OFS_BUF_INIT(0);
	struct ofs_buf golden = OFS_BUF_INIT(1 << 20);
	struct ofs_error err = { 0 };
	struct ofs_patch pt;
	char path[1024];
	int calls = 0;

	(void)state;
	sample(&patch, &want);
	assert_int_equal(patch.len, 1 + 2 * 32 + 4 + 5 * 9 + 5);
	assert_int_equal(ofs_patch_parse(patch.data, patch.len, want.len, &pt, &err), 0);
	assert_int_equal(pt.nbases, 2);
	assert_int_equal(pt.nops, 5);
	assert_int_equal(pt.litlen, 5);
	assert_int_equal(ofs_patch_apply(&pt, fetch, &calls, &got, &err), 0);
	assert_int_equal(calls, 2);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	golden_path("patch-v1.bin", path, sizeof(path));
	if (getenv("OFFSEED_REGEN_GOLDEN") != NULL)
		assert_int_equal(ofs_write_file_atomic(path, patch.data, patch.len, 0644, NULL), 0);
	assert_int_equal(ofs_buf_read_file(&golden, path, &err), 0);
	assert_int_equal(golden.len, patch.len);
	assert_memory_equal(golden.data, patch.data, patch.len);
	ofs_buf_release(&patch);
	ofs_buf_release(&want);
	ofs_buf_release(&got);
	ofs_buf_release(&golden);
}

/* Each forgery is refused by parse (or by apply, for a copy outside its base). */
static void
t_forged(void **state)
{
	struct ofs_buf patch = OFS_BUF_INIT(0), want = OFS_BUF_INIT(0), bad = OFS_BUF_INIT(0);
	struct ofs_buf got = OFS_BUF_INIT(0);
	struct ofs_error err = { 0 };
	struct ofs_patch pt;
	size_t ops = 1 + 2 * 32 + 4;	/* offset of the first op */
	int calls = 0;

	(void)state;
	sample(&patch, &want);
	for (size_t n = 0; n < patch.len; n++)	/* every truncation */
		assert_int_equal(ofs_patch_parse(patch.data, n, want.len, &pt, &err),
		    OFS_ERR_CORRUPT);
	assert_int_equal(ofs_buf_add(&bad, patch.data, patch.len), 0);
	assert_int_equal(ofs_buf_addc(&bad, 0), 0);			/* a trailing byte */
	assert_int_equal(ofs_patch_parse(bad.data, bad.len, want.len, &pt, &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "literal"));
	/* the wrong chunk length, both ways */
	assert_int_equal(ofs_patch_parse(patch.data, patch.len, want.len + 1, &pt, &err),
	    OFS_ERR_CORRUPT);
	assert_int_equal(ofs_patch_parse(patch.data, patch.len, want.len - 1, &pt, &err),
	    OFS_ERR_CORRUPT);
#define FORGE(at, val, what) do { \
		ofs_buf_reset(&bad); \
		assert_int_equal(ofs_buf_add(&bad, patch.data, patch.len), 0); \
		bad.data[at] = (val); \
		assert_int_equal(ofs_patch_parse(bad.data, bad.len, want.len, &pt, &err), \
		    OFS_ERR_CORRUPT); \
		assert_non_null(strstr(err.msg, what)); \
	} while (0)
	FORGE(0, 0, "base count");
	FORGE(0, 17, "base count");
	FORGE(ops, 2, "names base 2");		/* op 0 names a base that is not there */
	FORGE(ops + 9 + 1, 1, "offset");
	FORGE(ops + 9 + 5, 0, "length 0");
	FORGE(ops + 9 + 5 + 3, 0x80, "passes");
#undef FORGE
	/* a copy past the end of its base: only apply can tell */
	ofs_buf_reset(&bad);
	assert_int_equal(ofs_buf_add(&bad, patch.data, patch.len), 0);
	ofs_put_u32le(bad.data + ops + 3 * 9 + 1, 49600);	/* b at 49600, 500 bytes */
	assert_int_equal(ofs_patch_parse(bad.data, bad.len, want.len, &pt, &err), 0);
	assert_int_equal(ofs_patch_apply(&pt, fetch, &calls, &got, &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "copies 500 bytes at 49600"));
	/* a base that cannot be fetched is named */
	ofs_buf_reset(&bad);
	assert_int_equal(ofs_buf_add(&bad, patch.data, patch.len), 0);
	bad.data[1 + 32] = 0xcc;
	ofs_buf_reset(&got);
	assert_int_equal(ofs_patch_parse(bad.data, bad.len, want.len, &pt, &err), 0);
	assert_int_equal(ofs_patch_apply(&pt, fetch, &calls, &got, &err), OFS_ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, "base ccb2b2b2"));
	ofs_buf_release(&patch);
	ofs_buf_release(&want);
	ofs_buf_release(&bad);
	ofs_buf_release(&got);
}

/* A 17th base is refused (the caller stores those bytes literally). */
static void
t_max_bases(void **state)
{
	struct ofs_patch_writer w;
	uint8_t id[OFS_ID_LEN];

	(void)state;
	ofs_patch_writer_init(&w);
	for (int i = 0; i < OFS_PATCH_MAX_BASES; i++) {
		memset(id, i, sizeof(id));
		assert_int_equal(ofs_patch_copy(&w, id, 0, 10), 0);
	}
	memset(id, 0x77, sizeof(id));
	assert_int_equal(ofs_patch_copy(&w, id, 0, 10), -1);
	memset(id, 3, sizeof(id));
	assert_int_equal(ofs_patch_copy(&w, id, 100, 10), 0);	/* a known one still works */
	assert_int_equal(w.nbases, OFS_PATCH_MAX_BASES);
	ofs_patch_writer_release(&w);
}

static void
t_blocks(void **state)
{
	static uint8_t data[5 * OFS_BLOCK_SIZE + 1234];
	uint8_t secret[OFS_BLOCK_SECRET_LEN];
	struct ofs_blocks a, b;
	size_t cuts[] = { 1, 7, 4096, OFS_BLOCK_SIZE - 1, OFS_BLOCK_SIZE, 3 * OFS_BLOCK_SIZE + 9 };
	size_t n, pos = 0, k = 0;
	uint64_t *h;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + (i >> 9));
	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(i * 3 + 1);
	ofs_blocks_init(&a, secret);
	ofs_blocks_update(&a, data, sizeof(data));
	ofs_blocks_final(&a);
	assert_int_equal(a.n, 6);
	for (size_t i = 0; i < 6; i++) {
		size_t len = i < 5 ? OFS_BLOCK_SIZE : 1234;

		assert_true(a.h[i] == XXH3_64bits_withSecret(data + i * OFS_BLOCK_SIZE, len, secret,
		    sizeof(secret)));
	}
	/* the same hashes whatever the pieces; the probe: the first 1000 bytes of block 2 */
	ofs_blocks_init(&b, secret);
	ofs_blocks_probe(&b, 2, 1000);
	while (pos < sizeof(data)) {
		size_t step = cuts[k++ % 6];

		if (step > sizeof(data) - pos)
			step = sizeof(data) - pos;
		ofs_blocks_update(&b, data + pos, step);
		pos += step;
	}
	ofs_blocks_final(&b);
	assert_true(b.probe_done);
	assert_true(b.probe_h == XXH3_64bits_withSecret(data + 2 * OFS_BLOCK_SIZE, 1000, secret,
	    sizeof(secret)));
	h = ofs_blocks_copy(&b, &n);
	assert_int_equal(n, 6);
	assert_memory_equal(h, a.h, 6 * sizeof(*h));
	free(h);
	ofs_blocks_release(&a);
	ofs_blocks_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_roundtrip_golden),
		cmocka_unit_test(t_forged),
		cmocka_unit_test(t_max_bases),
		cmocka_unit_test(t_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
