/* The stage's journal and catalog codec (engine/stage_catalog.c, FORMAT.md section 16):
 * golden bytes for a fixed record set, decoding back, older versions, and rejection of
 * every truncation and of forged counts, strings and trailing bytes. */
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

#include "stage_int.h"

int main(void);

#define CAT_ADD ofs_stg_cat_add

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

/* ---- the fixed record set (the golden files are its bytes) --------------------------- */

static void
fixture_id(uint8_t id[OFS_ID_LEN], int seed)
{
	for (int i = 0; i < OFS_ID_LEN; i++)
		id[i] = (uint8_t)(seed * 37 + i);
}

static void
fixture_catalog(struct catalog *c)
{
	uint8_t ch[3][OFS_ID_LEN], base[3][OFS_ID_LEN];
	uint64_t blocks[4] = { 0x0102030405060708ull, 0x1112131415161718ull,
	    0xfffffffffffffffeull, 0 };
	struct ofs_node n;
	struct baseline bl;

	for (int i = 0; i < 3; i++) {
		fixture_id(ch[i], 1 + i);
		fixture_id(base[i], 10 + i);
	}
	/* a small file without a baseline */
	memset(&n, 0, sizeof(n));
	n.size = 10;
	n.ino = 11;
	n.mtime_ns = 1700000000123456789LL;
	n.ctime_ns = 1700000001000000000LL;
	n.chunks = ch;
	n.nchunks = 1;
	CAT_ADD(c, "/src/a.txt", &n, NULL);
	/* a staged file: its own chunk list as the base */
	n.size = 3u << 20;
	n.ino = 0x123456789abcull;
	n.nchunks = 3;
	memset(&bl, 0, sizeof(bl));
	bl.blocks = blocks;
	bl.nblocks = 4;
	bl.same = 1;
	CAT_ADD(c, "/src/big.bin", &n, &bl);
	/* a backed-up file: the seed's chunks spelled out, a ctime no file has */
	n.size = 96u << 10;
	n.ino = 7;
	n.ctime_ns = INT64_MIN;
	n.nchunks = 2;
	bl.same = 0;
	bl.nblocks = 3;
	bl.base = base;
	bl.nbase = 3;
	CAT_ADD(c, "/src/dir/edited \xc3\xa9.bin", &n, &bl);
	/* no chunks */
	memset(&n, 0, sizeof(n));
	n.mtime_ns = -5;
	CAT_ADD(c, "/src/empty", &n, NULL);
}

/* Two packs in the open container. */
static struct ofs_index_pack *
fixture_packs(size_t *np)
{
	struct ofs_index_pack *p = ofs_xcalloc(2, sizeof(*p));

	for (size_t i = 0; i < 2; i++) {
		fixture_id(p[i].id, 20 + (int)i);
		p[i].loc.kind = OFS_LOC_CONTAINER;
		for (int k = 0; k < 16; k++)
			p[i].loc.set[k] = (uint8_t)(0x10 + k);
		p[i].loc.seq = 4;
		p[i].loc.offset = 4096 + 8192 * i;
		p[i].length = 8000 + i;
		memset(p[i].xxh, 0x40 + (int)i, OFS_XXH_LEN);
		p[i].nblobs = 2 - i;
		p[i].blobs = ofs_xcalloc(2, sizeof(*p[i].blobs));
		for (size_t j = 0; j < p[i].nblobs; j++) {
			p[i].blobs[j].type = OFS_BLOB_DATA;
			fixture_id(p[i].blobs[j].id, 30 + (int)(2 * i + j));
			p[i].blobs[j].offset = (uint32_t)(j * 3000);
			p[i].blobs[j].stored_len = 2900;
			p[i].blobs[j].raw_len = 4000;
		}
	}
	*np = 2;
	return p;
}

/* The containers sealed so far, as the run's manifest holds them. */
static struct ofs_manifest *
fixture_sealed(void)
{
	struct ofs_manifest *m = ofs_manifest_new();
	struct ofs_file_hashes h;

	memset(&h, 0, sizeof(h));
	h.size = (64u << 20) + 512;
	memset(h.xxh, 0xa1, OFS_XXH_LEN);
	h.nregions = 2;
	h.regions = ofs_xcalloc(2, OFS_XXH_LEN);
	memset(h.regions[0], 0xb1, OFS_XXH_LEN);
	memset(h.regions[1], 0xb2, OFS_XXH_LEN);
	ofs_manifest_add(m, "containers/101112131415161718191a1b1c1d1e1f-000001.vhd", &h);
	memset(&h, 0, sizeof(h));
	h.size = 4096;
	memset(h.xxh, 0xa2, OFS_XXH_LEN);
	ofs_manifest_add(m, "containers/101112131415161718191a1b1c1d1e1f-000002.vhd", &h);
	return m;
}

static const char *const sealed_serial[2] = { "SER-A", "SER-B" };
static const uint8_t set_id[16] = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f };

/* The journal segment of a run staging onto two disks: container 4 open on SER-A with
 * two packs, containers 1 and 2 sealed, the fixture's records from `from` on. */
static void
encode_fixture(size_t from, struct ofs_buf *out)
{
	struct catalog c;
	struct ofs_manifest *m = fixture_sealed();
	struct ofs_index_pack *p;
	struct jhead h;
	size_t np;

	memset(&c, 0, sizeof(c));
	fixture_catalog(&c);
	p = fixture_packs(&np);
	memset(&h, 0, sizeof(h));
	h.set_id = set_id;
	h.next_seq = 5;
	h.open_seq = 4;
	h.committed = 4096;
	h.packs = p;
	h.npacks = np;
	h.open_serial = "SER-A";
	h.open_mount = "/mnt/a";
	h.open_limit = 1ull << 30;
	h.sealed = m->files;
	h.sealed_serial = (char *const *)sealed_serial;
	h.nsealed = m->nfiles;
	assert_int_equal(ofs_stg_journal_encode(&h, &c, from, out), 0);
	ofs_index_packs_free(p, np);
	ofs_manifest_free(m);
	ofs_stg_cat_release(&c);
}

/* Every field of e equals want's. */
static void
same_entry(const struct cat_entry *e, const struct cat_entry *want)
{
	assert_string_equal(e->path, want->path);
	assert_int_equal(e->size, want->size);
	assert_int_equal(e->ino, want->ino);
	assert_int_equal(e->mtime, want->mtime);
	assert_int_equal(e->ctime, want->ctime);
	assert_int_equal(e->nchunks, want->nchunks);
	assert_memory_equal(e->chunks, want->chunks, (size_t)e->nchunks * OFS_ID_LEN);
	assert_int_equal(e->bl == NULL, want->bl == NULL);
	if (e->bl == NULL)
		return;
	assert_int_equal(e->bl->nblocks, want->bl->nblocks);
	assert_memory_equal(e->bl->blocks, want->bl->blocks, e->bl->nblocks * 8);
	assert_int_equal(e->bl->same, want->bl->same);
	assert_int_equal(e->bl->nbase, want->bl->nbase);
	if (!e->bl->same)
		assert_memory_equal(e->bl->base, want->bl->base,
		    (size_t)e->bl->nbase * OFS_ID_LEN);
}

static void
t_journal_golden(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(0), again = OFS_BUF_INIT(0);
	struct catalog want, got;
	struct ofs_index_pack *p;
	struct ofs_manifest *m = fixture_sealed();
	struct ofs_error err;
	struct jstate st;
	size_t np;

	(void)state;
	encode_fixture(0, &b);
	assert_memory_equal(b.data, "OFSJRNL4", 8);
	same_as_golden("stage-journal-v4.bin", &b);

	memset(&want, 0, sizeof(want));
	memset(&got, 0, sizeof(got));
	memset(&st, 0, sizeof(st));
	fixture_catalog(&want);
	assert_int_equal(ofs_stg_journal_decode(b.data, b.len, "j", &st, &got, &err), 0);
	assert_memory_equal(st.set_id, set_id, 16);
	assert_int_equal(st.next_seq, 5);
	assert_int_equal(st.openseq, 4);
	assert_int_equal(st.committed, 4096);
	assert_int_equal(st.climit, 1ull << 30);
	assert_string_equal(st.oserial, "SER-A");
	assert_string_equal(st.omnt, "/mnt/a");
	p = fixture_packs(&np);
	assert_int_equal(st.np, np);
	for (size_t i = 0; i < np; i++) {
		assert_memory_equal(st.packs[i].id, p[i].id, OFS_ID_LEN);
		assert_int_equal(st.packs[i].loc.offset, p[i].loc.offset);
		assert_int_equal(st.packs[i].nblobs, p[i].nblobs);
	}
	assert_int_equal(st.nsealed, m->nfiles);
	for (size_t i = 0; i < st.nsealed; i++) {
		assert_string_equal(st.sealed[i].path, m->files[i].path);
		assert_string_equal(st.sealed[i].serial, sealed_serial[i]);
		assert_int_equal(st.sealed[i].h.size, m->files[i].h.size);
		assert_memory_equal(st.sealed[i].h.xxh, m->files[i].h.xxh, OFS_XXH_LEN);
		assert_int_equal(st.sealed[i].h.nregions, m->files[i].h.nregions);
		if (st.sealed[i].h.nregions > 0)
			assert_memory_equal(st.sealed[i].h.regions, m->files[i].h.regions,
			    st.sealed[i].h.nregions * OFS_XXH_LEN);
	}
	assert_int_equal(got.n, want.n);
	for (size_t i = 0; i < got.n; i++)
		same_entry(&got.e[i], &want.e[i]);
	/* what was decoded encodes to the same records */
	assert_int_equal(ofs_stg_cat_encode(&got, 0, &again), 0);
	assert_int_equal(again.len, ofs_stg_cat_size(&want, 0));
	{
		struct ofs_buf w = OFS_BUF_INIT(0);

		assert_int_equal(ofs_stg_cat_encode(&want, 0, &w), 0);
		assert_int_equal(w.len, again.len);
		assert_memory_equal(w.data, again.data, w.len);
		ofs_buf_release(&w);
	}
	ofs_stg_jstate_release(&st);
	ofs_stg_cat_release(&got);
	ofs_stg_cat_release(&want);
	ofs_index_packs_free(p, np);
	ofs_manifest_free(m);
	ofs_buf_release(&again);
	ofs_buf_release(&b);
}

/* A later segment holds only the records completed since the previous one; decoding two
 * segments into one catalog gives them all. */
static void
t_journal_segments(void **state)
{
	struct ofs_buf s0 = OFS_BUF_INIT(0), s1 = OFS_BUF_INIT(0);
	struct catalog want, got;
	struct ofs_error err;
	struct jstate st;

	(void)state;
	memset(&want, 0, sizeof(want));
	memset(&got, 0, sizeof(got));
	memset(&st, 0, sizeof(st));
	fixture_catalog(&want);
	encode_fixture(0, &s0);
	encode_fixture(2, &s1);
	assert_true(s1.len < s0.len);
	assert_int_equal(ofs_stg_journal_decode(s1.data, s1.len, "j", &st, &got, &err), 0);
	assert_int_equal(got.n, 2);
	same_entry(&got.e[0], &want.e[2]);
	same_entry(&got.e[1], &want.e[3]);
	ofs_stg_cat_release(&got);
	/* st is released by the next decode: segment 0 then 1 */
	assert_int_equal(ofs_stg_journal_decode(s0.data, s0.len, "j", &st, &got, &err), 0);
	assert_int_equal(ofs_stg_journal_decode(s1.data, s1.len, "j", &st, &got, &err), 0);
	assert_int_equal(got.n, 6);
	assert_non_null(ofs_stg_cat_find(&got, "/src/empty"));
	assert_null(ofs_stg_cat_find(&got, "/src/none"));
	ofs_stg_jstate_release(&st);
	ofs_stg_cat_release(&got);
	ofs_stg_cat_release(&want);
	ofs_buf_release(&s0);
	ofs_buf_release(&s1);
}

static void
t_catalog_golden(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct catalog want, got;
	uint8_t snap[OFS_ID_LEN], back[OFS_ID_LEN];
	struct ofs_rd rd;
	int with_bl = -1;

	(void)state;
	for (int k = 0; k < OFS_ID_LEN; k++)
		snap[k] = (uint8_t)(0xe0 + k);
	memset(&want, 0, sizeof(want));
	memset(&got, 0, sizeof(got));
	fixture_catalog(&want);
	assert_int_equal(ofs_stg_catalog_encode(snap, &want, &b), 0);
	assert_memory_equal(b.data, "OFSCAT02", 8);
	same_as_golden("stage-catalog-v2.bin", &b);
	ofs_rd_init(&rd, b.data, b.len);
	assert_int_equal(ofs_stg_catalog_head(&rd, back, &with_bl), 0);
	assert_int_equal(with_bl, 1);
	assert_memory_equal(back, snap, OFS_ID_LEN);
	assert_int_equal(ofs_stg_cat_decode(&rd, &got, with_bl), 0);
	assert_int_equal(ofs_rd_left(&rd), 0);
	assert_int_equal(got.n, want.n);
	for (size_t i = 0; i < got.n; i++)
		same_entry(&got.e[i], &want.e[i]);
	ofs_stg_cat_release(&got);
	/* not a catalog */
	b.data[7] = '3';
	ofs_rd_init(&rd, b.data, b.len);
	assert_int_equal(ofs_stg_catalog_head(&rd, back, &with_bl), -1);
	ofs_rd_init(&rd, b.data, 20);
	b.data[7] = '2';
	assert_int_equal(ofs_stg_catalog_head(&rd, back, &with_bl), -1);
	ofs_stg_cat_release(&want);
	ofs_buf_release(&b);
}

/* decoding p fails with OFS_ERR_CORRUPT naming the journal, and holds nothing after */
static void
expect_bad(const uint8_t *p, size_t len)
{
	struct catalog c;
	struct ofs_error err;
	struct jstate st;

	memset(&c, 0, sizeof(c));
	memset(&st, 0, sizeof(st));
	assert_int_equal(ofs_stg_journal_decode(p, len, "J", &st, &c, &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "J"));
	ofs_stg_jstate_release(&st);
	assert_null(st.packs);
	assert_null(st.sealed);
	ofs_stg_cat_release(&c);
}

static void
t_truncations(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(0);

	(void)state;
	encode_fixture(0, &b);
	for (size_t n = 0; n < b.len; n++)
		expect_bad(b.data, n);
	/* a byte more than any writer wrote */
	assert_int_equal(ofs_buf_addc(&b, 0), 0);
	expect_bad(b.data, b.len);
	ofs_buf_release(&b);
}

/* A version `ver` plaintext up to its catalog records: no packs. */
static void
forge_head(struct ofs_buf *b, char ver)
{
	char magic[9] = "OFSJRNL0";

	magic[7] = ver;
	ofs_buf_reset(b);
	assert_int_equal(ofs_buf_add(b, magic, 8), 0);
	assert_int_equal(ofs_buf_add(b, set_id, 16), 0);
	assert_int_equal(ofs_buf_add_u32le(b, 2), 0);
	assert_int_equal(ofs_buf_add_u32le(b, 0), 0);
	assert_int_equal(ofs_buf_add_u64le(b, 0), 0);
	{
		struct ofs_buf ix = OFS_BUF_INIT(0);

		assert_int_equal(ofs_index_encode(NULL, 0, &ix), 0);
		assert_int_equal(ofs_buf_add_u64le(b, ix.len), 0);
		assert_int_equal(ofs_buf_add(b, ix.data, ix.len), 0);
		ofs_buf_release(&ix);
	}
}

/* One record: path, one chunk; with a baseline of nblocks (nbase) when bl. */
static void
forge_record(struct ofs_buf *b, const char *path, size_t pl, uint32_t nchunks, int bl,
    uint32_t nblocks, uint32_t nbase)
{
	uint8_t id[OFS_ID_LEN];

	memset(id, 0x5a, sizeof(id));
	assert_int_equal(ofs_buf_add_u32le(b, (uint32_t)pl), 0);
	assert_int_equal(ofs_buf_add(b, path, pl), 0);
	assert_int_equal(ofs_buf_add_u64le(b, 1), 0);
	assert_int_equal(ofs_buf_add_u64le(b, 2), 0);
	assert_int_equal(ofs_buf_add_u64le(b, 3), 0);
	assert_int_equal(ofs_buf_add_u64le(b, 4), 0);
	assert_int_equal(ofs_buf_add_u32le(b, nchunks), 0);
	assert_int_equal(ofs_buf_add(b, id, OFS_ID_LEN), 0);
	if (!bl)
		return;
	assert_int_equal(ofs_buf_add_u32le(b, nblocks), 0);
	for (uint32_t k = 0; k < nblocks && k < 4; k++)
		assert_int_equal(ofs_buf_add_u64le(b, k), 0);
	assert_int_equal(ofs_buf_add_u32le(b, nbase), 0);
	if (nbase != UINT32_MAX)
		for (uint32_t k = 0; k < nbase && k < 4; k++)
			assert_int_equal(ofs_buf_add(b, id, OFS_ID_LEN), 0);
}

/* Empty disk records (versions 2-4). */
static void
forge_disks(struct ofs_buf *b, uint32_t nsealed)
{
	assert_int_equal(ofs_buf_add_u32le(b, 0), 0);
	assert_int_equal(ofs_buf_add_u32le(b, 0), 0);
	assert_int_equal(ofs_buf_add_u64le(b, 0), 0);
	assert_int_equal(ofs_buf_add_u32le(b, nsealed), 0);
}

static int
decode(const struct ofs_buf *b, struct catalog *c, struct jstate *st)
{
	struct ofs_error err;

	return ofs_stg_journal_decode(b->data, b->len, "J", st, c, &err);
}

/* Versions 1-3 are still read: 1 and 2 without baselines (1 also without disk records). */
static void
t_older_versions(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct catalog c;
	struct jstate st;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&st, 0, sizeof(st));
	forge_head(&b, '1');
	assert_int_equal(ofs_buf_add_u64le(&b, 1), 0);
	forge_record(&b, "/v1", 3, 1, 0, 0, 0);
	assert_int_equal(decode(&b, &c, &st), 0);
	assert_int_equal(c.n, 1);
	assert_null(c.e[0].bl);
	assert_null(st.oserial);
	forge_head(&b, '2');
	assert_int_equal(ofs_buf_add_u64le(&b, 1), 0);
	forge_record(&b, "/v2", 3, 1, 0, 0, 0);
	forge_disks(&b, 0);
	assert_int_equal(decode(&b, &c, &st), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(st.oserial, "");
	forge_head(&b, '3');
	assert_int_equal(ofs_buf_add_u64le(&b, 1), 0);
	forge_record(&b, "/v3", 3, 1, 1, 2, UINT32_MAX);
	forge_disks(&b, 0);
	assert_int_equal(decode(&b, &c, &st), 0);
	assert_int_equal(c.n, 3);
	assert_non_null(ofs_stg_cat_find(&c, "/v3")->bl);
	assert_true(ofs_stg_cat_find(&c, "/v3")->bl->same);
	/* version 1 with disk records after it: more than it has */
	forge_head(&b, '1');
	assert_int_equal(ofs_buf_add_u64le(&b, 0), 0);
	forge_disks(&b, 0);
	expect_bad(b.data, b.len);
	ofs_stg_jstate_release(&st);
	ofs_stg_cat_release(&c);
	ofs_buf_release(&b);
}

static void
t_forgeries(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	char big[70000];

	(void)state;
	memset(big, 'x', sizeof(big));
	forge_head(&b, '5');		/* a newer version */
	assert_int_equal(ofs_buf_add_u64le(&b, 0), 0);
	forge_disks(&b, 0);
	expect_bad(b.data, b.len);
	forge_head(&b, '0');
	expect_bad(b.data, b.len);
	forge_head(&b, '4');		/* 2^64 - 1 records */
	assert_int_equal(ofs_buf_add_u64le(&b, UINT64_MAX), 0);
	forge_record(&b, "/a", 2, 1, 1, 0, 0);
	expect_bad(b.data, b.len);
	forge_head(&b, '4');		/* a path longer than what is left */
	assert_int_equal(ofs_buf_add_u64le(&b, 1), 0);
	forge_record(&b, "/a", 2, 1, 1, 0, 0);
	ofs_put_u32le(b.data + b.len - (4 + 2 + 32 + 4 + OFS_ID_LEN + 8), 0xffffffffu);
	expect_bad(b.data, b.len);
	forge_head(&b, '4');		/* a NUL in a path */
	assert_int_equal(ofs_buf_add_u64le(&b, 1), 0);
	forge_record(&b, "/a\0b", 4, 1, 1, 0, 0);
	forge_disks(&b, 0);
	expect_bad(b.data, b.len);
	forge_head(&b, '4');		/* more chunks than bytes */
	assert_int_equal(ofs_buf_add_u64le(&b, 1), 0);
	forge_record(&b, "/a", 2, 0x10000000, 1, 0, 0);
	forge_disks(&b, 0);
	expect_bad(b.data, b.len);
	forge_head(&b, '4');		/* more block hashes than bytes */
	assert_int_equal(ofs_buf_add_u64le(&b, 1), 0);
	forge_record(&b, "/a", 2, 1, 1, 0xffffffffu, 0);
	forge_disks(&b, 0);
	expect_bad(b.data, b.len);
	forge_head(&b, '4');		/* more bases than bytes */
	assert_int_equal(ofs_buf_add_u64le(&b, 1), 0);
	forge_record(&b, "/a", 2, 1, 1, 1, 0x7fffffff);
	forge_disks(&b, 0);
	expect_bad(b.data, b.len);
	forge_head(&b, '4');		/* bases without blocks */
	assert_int_equal(ofs_buf_add_u64le(&b, 1), 0);
	forge_record(&b, "/a", 2, 1, 1, 0, 1);
	forge_disks(&b, 0);
	expect_bad(b.data, b.len);
	forge_head(&b, '4');		/* "own chunk list" without blocks */
	assert_int_equal(ofs_buf_add_u64le(&b, 1), 0);
	forge_record(&b, "/a", 2, 1, 1, 0, UINT32_MAX);
	forge_disks(&b, 0);
	expect_bad(b.data, b.len);
	forge_head(&b, '4');		/* a string over 64 KiB */
	assert_int_equal(ofs_buf_add_u64le(&b, 0), 0);
	assert_int_equal(ofs_buf_add_u32le(&b, sizeof(big)), 0);
	assert_int_equal(ofs_buf_add(&b, big, sizeof(big)), 0);
	assert_int_equal(ofs_buf_add_u32le(&b, 0), 0);
	assert_int_equal(ofs_buf_add_u64le(&b, 0), 0);
	assert_int_equal(ofs_buf_add_u32le(&b, 0), 0);
	expect_bad(b.data, b.len);
	forge_head(&b, '4');		/* a NUL in a string */
	assert_int_equal(ofs_buf_add_u64le(&b, 0), 0);
	assert_int_equal(ofs_buf_add_u32le(&b, 3), 0);
	assert_int_equal(ofs_buf_add(&b, "a\0b", 3), 0);
	assert_int_equal(ofs_buf_add_u32le(&b, 0), 0);
	assert_int_equal(ofs_buf_add_u64le(&b, 0), 0);
	assert_int_equal(ofs_buf_add_u32le(&b, 0), 0);
	expect_bad(b.data, b.len);
	forge_head(&b, '4');		/* more sealed containers than bytes */
	assert_int_equal(ofs_buf_add_u64le(&b, 0), 0);
	forge_disks(&b, 0xffffffffu);
	expect_bad(b.data, b.len);
	forge_head(&b, '4');		/* more regions than bytes */
	assert_int_equal(ofs_buf_add_u64le(&b, 0), 0);
	forge_disks(&b, 1);
	assert_int_equal(ofs_buf_add_u32le(&b, 1), 0);
	assert_int_equal(ofs_buf_add(&b, "p", 1), 0);
	assert_int_equal(ofs_buf_add_u32le(&b, 1), 0);
	assert_int_equal(ofs_buf_add(&b, "s", 1), 0);
	assert_int_equal(ofs_buf_add_u64le(&b, 1), 0);
	assert_int_equal(ofs_buf_add_zeros(&b, OFS_XXH_LEN), 0);
	assert_int_equal(ofs_buf_add_u32le(&b, 0xffffffffu), 0);
	assert_int_equal(ofs_buf_add_zeros(&b, 64), 0);
	expect_bad(b.data, b.len);
	forge_head(&b, '4');		/* a pack list longer than the plaintext */
	ofs_put_u64le(b.data + 40, 1u << 20);
	expect_bad(b.data, b.len);
	ofs_buf_release(&b);
}

/* Lookups in a catalog of more files than one sorted run of keys: with its keys in a file
 * (several runs merged, the fence in memory) and without (keys in memory), every path is
 * found in any order, in walk order through the cursor, and absent paths are not. */
static void
t_catalog_find_large(void **state)
{
	const size_t N = 150000;
	char dir[] = "/tmp/ofs-cat-XXXXXX", path[64];
	struct ofs_node nd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	memset(&nd, 0, sizeof(nd));
	for (int backed = 1; backed >= 0; backed--) {
		struct catalog c;

		memset(&c, 0, sizeof(c));
		if (backed)
			ofs_stg_cat_back(&c, dir);
		for (size_t i = 0; i < N; i++) {
			snprintf(path, sizeof(path), "/d%04zu/f%06zu", i / 1000, i);
			nd.size = i;
			ofs_stg_cat_add(&c, path, &nd, NULL);
		}
		for (size_t k = 0; k < N; k++) {	/* a stride: never the cursor's next */
			size_t i = (k * 7919) % N;
			const struct cat_entry *e;

			snprintf(path, sizeof(path), "/d%04zu/f%06zu", i / 1000, i);
			e = ofs_stg_cat_find(&c, path);
			assert_non_null(e);
			assert_string_equal(e->path, path);
			assert_int_equal(e->size, i);
		}
		assert_int_equal(c.keys_file, backed);
		assert_true(backed ? c.keys == NULL : c.keys != NULL);
		for (size_t i = 0; i < N; i += 3) {	/* walk order, with files gone */
			snprintf(path, sizeof(path), "/d%04zu/f%06zu", i / 1000, i);
			assert_int_equal(ofs_stg_cat_find(&c, path)->size, i);
		}
		for (size_t i = 0; i < 2000; i++) {
			snprintf(path, sizeof(path), "/d%04zu/g%06zu", i / 1000, i);
			assert_null(ofs_stg_cat_find(&c, path));
		}
		ofs_stg_cat_release(&c);
	}
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_journal_golden),
		cmocka_unit_test(t_journal_segments),
		cmocka_unit_test(t_catalog_golden),
		cmocka_unit_test(t_truncations),
		cmocka_unit_test(t_older_versions),
		cmocka_unit_test(t_forgeries),
		cmocka_unit_test(t_catalog_find_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
