/* Unit tests for lib/index.c: encoding round trip and golden bytes, rejection of every
 * truncation and of forged fields, file names, and the in-memory table at 1M blobs. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "blob.h"
#include "index.h"
#include "util.h"

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

/* A fixed small index: pack 0 loose with 3 blobs, pack 1 in a container with 2, pack 2 empty. */
static struct ofs_index_pack *
sample(size_t *np)
{
	struct ofs_index_pack *p = ofs_xcalloc(3, sizeof(*p));
	const size_t nb[3] = { 3, 2, 0 };

	for (size_t i = 0; i < 3; i++) {
		memset(p[i].id, (int)(0xa0 + i), OFS_ID_LEN);
		p[i].id[0] = (uint8_t)i;
		p[i].length = 100000 + i;
		memset(p[i].xxh, (int)(0x10 + i), OFS_XXH_LEN);
		p[i].nblobs = nb[i];
		p[i].blobs = ofs_xcalloc(nb[i] ? nb[i] : 1, sizeof(struct ofs_pack_entry));
		for (size_t j = 0; j < nb[i]; j++) {
			struct ofs_pack_entry *e = &p[i].blobs[j];

			e->type = (uint8_t)(j & 1);
			memset(e->id, (int)(16 * i + j + 1), OFS_ID_LEN);
			e->offset = (uint32_t)(j * 1000);
			e->stored_len = 900 + (uint32_t)j;
			e->raw_len = 2000 + (uint32_t)j;
		}
	}
	p[1].loc.kind = OFS_LOC_CONTAINER;
	for (int k = 0; k < OFS_SET_ID_LEN; k++)
		p[1].loc.set[k] = (uint8_t)k;
	p[1].loc.seq = 7;
	p[1].loc.offset = 0x123456789ull;
	*np = 3;
	return p;
}

/* b must equal tests/golden/NAME (rewritten first with OFFSEED_REGEN_GOLDEN). */
static void
same_as_golden(const char *name, const struct ofs_buf *b)
{
	struct ofs_buf want = OFS_BUF_INIT(1 << 20);
	char path[PATH_MAX];

	golden_path(name, path, sizeof(path));
	if (getenv("OFFSEED_REGEN_GOLDEN") != NULL)
		assert_int_equal(ofs_write_file_atomic(path, b->data, b->len, 0644, NULL), 0);
	assert_int_equal(ofs_buf_read_file(&want, path, NULL), 0);
	assert_int_equal(want.len, b->len);
	assert_memory_equal(want.data, b->data, b->len);
	ofs_buf_release(&want);
}

static void
t_roundtrip_golden(void **state)
{
	struct ofs_index_pack *p, *q = NULL;
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct ofs_error err;
	size_t n, m;

	p = sample(&n);
	assert_int_equal(ofs_index_encode(p, n, &b), 0);
	assert_int_equal(b.len, 16 + 3 * 89 + 5 * 45);
	assert_memory_equal(b.data, "OFSINDEX\x01\0\0\0\x03\0\0\0", 16);
	assert_int_equal(ofs_index_decode(b.data, b.len, "index x", &q, &m, &err), 0);
	assert_int_equal(m, n);
	for (size_t i = 0; i < n; i++) {
		assert_memory_equal(q[i].id, p[i].id, OFS_ID_LEN);
		assert_int_equal(q[i].loc.kind, p[i].loc.kind);
		assert_memory_equal(q[i].loc.set, p[i].loc.set, OFS_SET_ID_LEN);
		assert_int_equal(q[i].loc.seq, p[i].loc.seq);
		assert_int_equal(q[i].loc.offset, p[i].loc.offset);
		assert_int_equal(q[i].length, p[i].length);
		assert_memory_equal(q[i].xxh, p[i].xxh, OFS_XXH_LEN);
		assert_int_equal(q[i].nblobs, p[i].nblobs);
		for (size_t j = 0; j < p[i].nblobs; j++)
			assert_memory_equal(&q[i].blobs[j], &p[i].blobs[j],
			    sizeof(struct ofs_pack_entry));
	}
	same_as_golden("index-v1.bin", &b);
	ofs_index_packs_free(p, n);
	ofs_index_packs_free(q, m);
	ofs_buf_release(&b);
}

static void expect_code(const uint8_t *p, size_t len, int code);

/* An index that lists a patch blob is version 2 (golden index-v2.bin); a version 1 index
 * listing one is corrupt. */
static void
t_patch_version(void **state)
{
	struct ofs_index_pack *p, *q = NULL;
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct ofs_error err;
	size_t n, m;

	(void)state;
	p = sample(&n);
	p[1].blobs[0].type = OFS_BLOB_PATCH;
	assert_int_equal(ofs_index_encode(p, n, &b), 0);
	assert_memory_equal(b.data, "OFSINDEX\x02\0\0\0\x03\0\0\0", 16);
	assert_int_equal(ofs_index_decode(b.data, b.len, "index x", &q, &m, &err), 0);
	assert_int_equal(q[1].blobs[0].type, OFS_BLOB_PATCH);
	same_as_golden("index-v2.bin", &b);
	ofs_index_packs_free(q, m);
	ofs_put_u32le(b.data + 8, 1);
	expect_code(b.data, b.len, OFS_ERR_CORRUPT);
	assert_int_equal(ofs_index_decode(b.data, b.len, "index x", &q, &m, &err) == 0, 0);
	assert_non_null(strstr(err.msg, "patch blob in a version 1 index"));
	ofs_index_packs_free(p, n);
	ofs_index_packs_free(q, m);
	ofs_buf_release(&b);
}

static void
expect_code(const uint8_t *p, size_t len, int code)
{
	struct ofs_index_pack *q = (void *)1;
	struct ofs_error err;
	size_t m = 5;

	assert_int_equal(ofs_index_decode(p, len, "index t", &q, &m, &err), code);
	assert_null(q);
	assert_int_equal(m, 0);
	assert_memory_equal(err.msg, "index t: ", 9);
}

static void
t_truncations_and_forgeries(void **state)
{
	struct ofs_index_pack *p;
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct ofs_error err;
	size_t n;
	uint8_t *c;

	p = sample(&n);
	ofs_index_encode(p, n, &b);
	for (size_t i = 0; i < b.len; i++) {
		c = ofs_xmalloc(i ? i : 1);	/* exact-size copy so ASan sees overreads */
		memcpy(c, b.data, i);
		expect_code(c, i, OFS_ERR_CORRUPT);
		free(c);
	}
	assert_int_equal(ofs_buf_addc(&b, 0), 0);
	expect_code(b.data, b.len, OFS_ERR_CORRUPT);	/* trailing byte */
	b.len--;
	/* newer version names both */
	ofs_put_u32le(b.data + 8, 3);
	{
		struct ofs_index_pack *q = NULL;
		size_t m;

		assert_int_equal(ofs_index_decode(b.data, b.len, "index t", &q, &m, &err),
		    OFS_ERR_VERSION);
	}
	assert_non_null(strstr(err.msg, "version 3 is newer than this offseed supports (2)"));
	expect_code(b.data, b.len, OFS_ERR_VERSION);
	/* version 2 is for indexes listing a patch blob only (canonical) */
	ofs_put_u32le(b.data + 8, 2);
	expect_code(b.data, b.len, OFS_ERR_CORRUPT);
	ofs_put_u32le(b.data + 8, 0);
	expect_code(b.data, b.len, OFS_ERR_CORRUPT);
	ofs_put_u32le(b.data + 8, 1);
	/* magic */
	b.data[0] ^= 1;
	expect_code(b.data, b.len, OFS_ERR_CORRUPT);
	b.data[0] ^= 1;
	/* huge pack count: rejected before allocating */
	ofs_put_u32le(b.data + 12, 0xffffffffu);
	expect_code(b.data, b.len, OFS_ERR_CORRUPT);
	ofs_put_u32le(b.data + 12, 3);
	/* location kind */
	b.data[16 + 32] = 9;
	expect_code(b.data, b.len, OFS_ERR_CORRUPT);
	b.data[16 + 32] = 0;
	/* huge blob count of the first pack */
	ofs_put_u32le(b.data + 16 + 85, 0x7fffffffu);
	expect_code(b.data, b.len, OFS_ERR_CORRUPT);
	ofs_put_u32le(b.data + 16 + 85, 3);
	/* a blob outside its pack: first blob's offset */
	ofs_put_u32le(b.data + 16 + 89 + 33, 100000);
	expect_code(b.data, b.len, OFS_ERR_CORRUPT);
	ofs_put_u32le(b.data + 16 + 89 + 33, 0);
	/* the repaired bytes decode again */
	{
		struct ofs_index_pack *q = NULL;
		size_t m;

		assert_int_equal(ofs_index_decode(b.data, b.len, "i", &q, &m, &err), 0);
		ofs_index_packs_free(q, m);
	}
	ofs_index_packs_free(p, 3);
	ofs_buf_release(&b);
}

static void
t_names(void **state)
{
	uint8_t set[OFS_SET_ID_LEN], id[OFS_ID_LEN];
	char buf[80];

	for (int i = 0; i < OFS_SET_ID_LEN; i++)
		set[i] = (uint8_t)(0x10 + i);
	ofs_container_name(set, 12, buf, 48);
	assert_string_equal(buf, "101112131415161718191a1b1c1d1e1f-000012.vhd");
	for (int i = 0; i < OFS_ID_LEN; i++)
		id[i] = (uint8_t)(0xe0 + i / 2);
	ofs_loose_name(id, buf, sizeof(buf));
	assert_string_equal(buf, "data/e0/e0e0e1e1e2e2e3e3e4e4e5e5e6e6e7e7e8e8e9e9eaeaebebececededeeeeefef");
}

static uint64_t rng = 0x243F6A8885A308D3ull;

static uint64_t
next64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
rand_id(uint8_t id[OFS_ID_LEN])
{
	for (int k = 0; k < 4; k++)
		ofs_put_u64le(id + 8 * k, next64());
}

static int
count_cb(const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *r, void *ud)
{
	size_t *c = ud;

	(*c)++;
	return r->raw_len == 0xfffffff0u ? 7 : 0;
}

static void
t_table(void **state)
{
	const size_t N = 1000000;
	struct ofs_blobtab *x = ofs_blobtab_new();
	struct ofs_blobtab_pack ip;
	struct ofs_blob_ref r, got;
	uint8_t (*ids)[OFS_ID_LEN] = ofs_xmalloc(N * OFS_ID_LEN), miss[OFS_ID_LEN];
	size_t cnt = 0;
	double per;

	memset(&ip, 0, sizeof(ip));
	for (uint32_t i = 0; i < 300; i++) {
		ip.id[0] = (uint8_t)i;
		ip.id[1] = (uint8_t)(i >> 8);
		ip.length = i;
		assert_int_equal(ofs_blobtab_add_pack(x, &ip), i);
	}
	ip.id[0] = 5;
	ip.id[1] = 0;
	assert_int_equal(ofs_blobtab_add_pack(x, &ip), 5);	/* existing id: same number */
	assert_int_equal(ofs_blobtab_npacks(x), 300);
	assert_int_equal(ofs_blobtab_pack(x, 299)->length, 299);
	assert_null(ofs_blobtab_pack(x, 300));
	assert_int_equal(ofs_blobtab_lookup(x, ids[0], &got), 0);	/* empty table */
	for (size_t i = 0; i < N; i++) {
		rand_id(ids[i]);
		r.pack = (uint32_t)(i % 300);
		r.offset = (uint32_t)i * 3;
		r.stored_len = (uint32_t)i + 29;
		r.raw_len = (uint32_t)i;
		r.type = (uint8_t)(i % 3 == 0 ? OFS_BLOB_TREE : OFS_BLOB_DATA);
		assert_int_equal(ofs_blobtab_add_blob(x, ids[i], &r), 0);
	}
	assert_int_equal(ofs_blobtab_nblobs(x), N);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(ofs_blobtab_lookup(x, ids[i], &got), 1);
		assert_int_equal(got.pack, i % 300);
		assert_int_equal(got.offset, (uint32_t)i * 3);
		assert_int_equal(got.stored_len, (uint32_t)i + 29);
		assert_int_equal(got.raw_len, (uint32_t)i);
		assert_int_equal(got.type, i % 3 == 0 ? OFS_BLOB_TREE : OFS_BLOB_DATA);
	}
	for (int i = 0; i < 1000; i++) {
		rand_id(miss);
		assert_int_equal(ofs_blobtab_lookup(x, miss, NULL), 0);
	}
	/* duplicate: first kept */
	r.raw_len = 0xdead;
	assert_int_equal(ofs_blobtab_add_blob(x, ids[10], &r), 1);
	ofs_blobtab_lookup(x, ids[10], &got);
	assert_int_equal(got.raw_len, 10);
	assert_int_equal(ofs_blobtab_foreach(x, count_cb, &cnt), 0);
	assert_int_equal(cnt, N);
	/* early stop with the callback's value */
	rand_id(miss);
	r.raw_len = 0xfffffff0u;
	assert_int_equal(ofs_blobtab_add_blob(x, miss, &r), 0);
	cnt = 0;
	assert_int_equal(ofs_blobtab_foreach(x, count_cb, &cnt), 7);
	assert_int_equal(cnt, N + 1);
	per = (double)ofs_blobtab_memory(x) / N;
	printf("index table: %.1f bytes per blob at 1M blobs\n", per);
	assert_true(per <= 56.0);
	assert_true(per >= 48.0);
	free(ids);
	ofs_blobtab_free(x);
	ofs_blobtab_free(NULL);
}

struct seen {
	uint8_t (*ids)[OFS_ID_LEN];
	size_t n;
	uint8_t *hit;
	size_t count;
};

static int
seen_cb(const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *r, void *ud)
{
	struct seen *sn = ud;

	assert_true(r->offset < sn->n);
	assert_memory_equal(sn->ids[r->offset], id, OFS_ID_LEN);
	assert_int_equal(sn->hit[r->offset], 0);	/* each blob once */
	sn->hit[r->offset] = 1;
	sn->count++;
	return 0;
}

/* Past its budget the table moves entries to sorted runs in files of a folder: everything
 * stays found, once, with its ref; duplicates are refused wherever the first copy is; ids
 * sharing their first 8 bytes across run blocks are found; and a folder that cannot take
 * the spill leaves the table whole in memory. */
static void
t_spill(void **state)
{
	const size_t N = 200000, SAME = 400;
	char dir[] = "/tmp/ofs-spill-XXXXXX";
	struct seen sn = { NULL, N, NULL, 0 };
	struct ofs_blob_ref r = { 0 }, got;
	uint8_t miss[OFS_ID_LEN];
	struct ofs_blobtab *x;
	size_t mem;

	assert_non_null(mkdtemp(dir));
	for (int pass = 0; pass < 2; pass++) {
		sn.ids = calloc(N, OFS_ID_LEN);
		sn.hit = calloc(N, 1);
		sn.count = 0;
		x = ofs_blobtab_new();
		/* pass 1: a folder that does not exist: no spill, nothing lost */
		ofs_blobtab_spill_to(x, pass == 0 ? dir : "/nonexistent/ofs-spill", 1u << 20);
		for (size_t i = 0; i < N; i++) {
			rand_id(sn.ids[i]);
			if (i < SAME)	/* one 8-byte prefix over several blocks of a run */
				memset(sn.ids[i], 0x5a, 8);
			r.pack = (uint32_t)(i % 77);
			r.offset = (uint32_t)i;
			r.stored_len = (uint32_t)i + 1;
			r.raw_len = (uint32_t)i + 2;
			r.type = (uint8_t)(i % 2);
			assert_int_equal(ofs_blobtab_add_blob(x, sn.ids[i], &r), 0);
			if (i % 9973 == 0)	/* a duplicate of an older blob, spilled or not */
				assert_int_equal(ofs_blobtab_add_blob(x, sn.ids[i / 2], &r), 1);
		}
		assert_int_equal(ofs_blobtab_nblobs(x), N);
		if (pass == 0) {
			assert_true(ofs_blobtab_spilled(x) > N / 2);
			mem = ofs_blobtab_memory(x);
			printf("spilled index: %zu of %zu blobs in runs, %zu bytes in memory\n",
			    ofs_blobtab_spilled(x), N, mem);
			assert_true(mem < (1u << 20) + N * 2);	/* the budget + ~1.5 B a blob */
		} else {
			assert_int_equal(ofs_blobtab_spilled(x), 0);
		}
		for (size_t i = 0; i < N; i++) {
			assert_int_equal(ofs_blobtab_lookup(x, sn.ids[i], &got), 1);
			assert_int_equal(got.pack, i % 77);
			assert_int_equal(got.offset, (uint32_t)i);
			assert_int_equal(got.stored_len, (uint32_t)i + 1);
			assert_int_equal(got.raw_len, (uint32_t)i + 2);
			assert_int_equal(got.type, i % 2);
		}
		for (int i = 0; i < 20000; i++) {
			rand_id(miss);
			if (i % 2)
				memset(miss, 0x5a, 8);
			assert_int_equal(ofs_blobtab_lookup(x, miss, NULL), 0);
		}
		ofs_blobtab_spill_rest(x);	/* the rest too, when it has spilled at all */
		assert_int_equal(ofs_blobtab_spilled(x), pass == 0 ? N : 0);
		assert_int_equal(ofs_blobtab_nblobs(x), N);
		for (size_t i = 0; i < N; i += 101)
			assert_int_equal(ofs_blobtab_lookup(x, sn.ids[i], &got), 1);
		assert_int_equal(ofs_blobtab_foreach(x, seen_cb, &sn), 0);
		assert_int_equal(sn.count, N);
		ofs_blobtab_free(x);
		free(sn.ids);
		free(sn.hit);
	}
	assert_int_equal(rmdir(dir), 0);	/* the runs were unnamed: nothing left behind */
}

static void
t_add_index(void **state)
{
	struct ofs_index_pack *p;
	struct ofs_blobtab *x = ofs_blobtab_new();
	struct ofs_blob_ref got;
	size_t n;

	p = sample(&n);
	ofs_blobtab_add_index(x, p, n);
	ofs_blobtab_add_index(x, p, n);	/* twice: nothing new */
	assert_int_equal(ofs_blobtab_npacks(x), 3);
	assert_int_equal(ofs_blobtab_nblobs(x), 5);
	assert_int_equal(ofs_blobtab_lookup(x, p[1].blobs[1].id, &got), 1);
	assert_int_equal(got.pack, 1);
	assert_int_equal(got.offset, 1000);
	assert_int_equal(got.stored_len, 901);
	assert_int_equal(got.raw_len, 2001);
	assert_int_equal(got.type, 1);
	assert_int_equal(ofs_blobtab_pack(x, 1)->loc.kind, OFS_LOC_CONTAINER);
	assert_int_equal(ofs_blobtab_pack(x, 1)->loc.offset, 0x123456789ull);
	assert_int_equal(ofs_blobtab_pack(x, 1)->loc.seq, 7);
	ofs_index_packs_free(p, n);
	ofs_blobtab_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_roundtrip_golden),
		cmocka_unit_test(t_patch_version),
		cmocka_unit_test(t_truncations_and_forgeries),
		cmocka_unit_test(t_names),
		cmocka_unit_test(t_table),
		cmocka_unit_test(t_add_index),
		cmocka_unit_test(t_spill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
