/* Unit tests for lib/pack.c: build/parse round trip, short tails, and rejection of truncated,
 * extended, mislabelled and hand-forged packs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pack.h"
#include "util.h"

static struct ofs_keys keys;
static struct ofs_blob_ctx *bc;

static int
setup(void **state)
{
	for (int i = 0; i < OFS_MASTER_LEN; i++)
		keys.master[i] = (uint8_t)(200 - i);
	if (ofs_keys_derive(&keys, NULL) != 0)
		return -1;
	bc = ofs_blob_ctx_new(&keys, 3);
	return 0;
}

static int
teardown(void **state)
{
	ofs_blob_ctx_free(bc);
	return 0;
}

/* A pack of n blobs of assorted sizes; raw i is blob i's content. */
static void
build(struct ofs_pack_writer *w, size_t n, uint8_t pack_id[OFS_ID_LEN])
{
	struct ofs_buf st = OFS_BUF_INIT(0);
	struct ofs_error err;
	uint8_t raw[7000], id[OFS_ID_LEN];

	for (size_t i = 0; i < n; i++) {
		size_t len = (i * 1237) % sizeof(raw);

		for (size_t j = 0; j < len; j++)
			raw[j] = (uint8_t)(i + (j % 13 == 0 ? j : 0));
		ofs_blob_id(bc, raw, len, id);
		st.len = 0;
		assert_int_equal(ofs_blob_seal(bc, (uint8_t)(i & 1), id, raw, len, 1, &st, &err), 0);
		ofs_pack_writer_add(w, (uint8_t)(i & 1), id, st.data, st.len, (uint32_t)len);
	}
	assert_int_equal(ofs_pack_writer_finish(w, bc, pack_id, &err), 0);
	ofs_buf_release(&st);
}

static void
t_roundtrip(void **state)
{
	struct ofs_pack_writer w;
	struct ofs_pack_entry *e = NULL;
	struct ofs_buf back = OFS_BUF_INIT(0);
	struct ofs_error err;
	uint8_t pid[OFS_ID_LEN], zero[OFS_ID_LEN] = { 0 };
	size_t n, need;

	ofs_pack_writer_init(&w);
	build(&w, 50, pid);
	assert_memory_not_equal(pid, zero, OFS_ID_LEN);
	assert_int_equal(ofs_pack_parse(bc, pid, w.data.data, w.data.len, w.data.len, &e, &n, &need,
	    &err), 0);
	assert_int_equal(n, 50);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(e[i].type, w.entries[i].type);
		assert_memory_equal(e[i].id, w.entries[i].id, OFS_ID_LEN);
		assert_int_equal(e[i].offset, w.entries[i].offset);
		assert_int_equal(e[i].stored_len, w.entries[i].stored_len);
		assert_int_equal(e[i].raw_len, w.entries[i].raw_len);
		back.len = 0;
		assert_int_equal(ofs_blob_open(bc, e[i].type, e[i].id, w.data.data + e[i].offset,
		    e[i].stored_len, e[i].raw_len, &back, &err), 0);
		assert_int_equal(back.len, e[i].raw_len);
	}
	assert_int_equal(e[0].offset, 0);
	free(e);
	/* reset and reuse: an empty pack */
	ofs_pack_writer_reset(&w);
	assert_int_equal(ofs_pack_writer_size(&w), 0);
	build(&w, 0, pid);
	assert_int_equal(ofs_pack_parse(bc, pid, w.data.data, w.data.len, w.data.len, &e, &n, &need,
	    &err), 0);
	assert_int_equal(n, 0);
	free(e);
	ofs_pack_writer_release(&w);
	ofs_buf_release(&back);
}

static void
t_short_tail(void **state)
{
	struct ofs_pack_writer w;
	struct ofs_pack_entry *e = NULL;
	struct ofs_error err;
	uint8_t pid[OFS_ID_LEN];
	size_t n, need = 0, hl;

	ofs_pack_writer_init(&w);
	build(&w, 20, pid);
	hl = ofs_get_u32le(w.data.data + w.data.len - 4);
	assert_int_equal(ofs_pack_parse(bc, pid, w.data.data + w.data.len - 16, 16, w.data.len, &e,
	    &n, &need, &err), OFS_ERR_NOTFOUND);
	assert_null(e);
	assert_int_equal(need, hl + 4);
	assert_int_equal(ofs_pack_parse(bc, pid, w.data.data + w.data.len - need, need, w.data.len,
	    &e, &n, &need, &err), 0);
	assert_int_equal(n, 20);
	free(e);
	ofs_pack_writer_release(&w);
}

static void
expect_corrupt(const uint8_t *pid, const uint8_t *p, size_t tail, uint64_t len)
{
	struct ofs_pack_entry *e = (void *)1;
	struct ofs_error err;
	size_t n = 99, need;

	assert_int_equal(ofs_pack_parse(bc, pid, p, tail, len, &e, &n, &need, &err),
	    OFS_ERR_CORRUPT);
	assert_null(e);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err.msg, "pack "));
}

static void
t_damaged(void **state)
{
	struct ofs_pack_writer w;
	struct ofs_buf g = OFS_BUF_INIT(0);
	uint8_t pid[OFS_ID_LEN], other[OFS_ID_LEN];
	size_t len;

	ofs_pack_writer_init(&w);
	build(&w, 10, pid);
	len = w.data.len;
	/* truncated at the front: the header no longer tiles the pack */
	expect_corrupt(pid, w.data.data + 1, len - 1, len - 1);
	/* too short */
	expect_corrupt(pid, w.data.data, 3, 3);
	expect_corrupt(pid, w.data.data + len - 4, 4, 4);
	/* garbage tail appended */
	assert_int_equal(ofs_buf_add(&g, w.data.data, len), 0);
	assert_int_equal(ofs_buf_add(&g, "\x01\x02\x03\x04\x05\x06\x07\x08", 8), 0);
	expect_corrupt(pid, g.data, g.len, g.len);
	g.len = len;
	assert_int_equal(ofs_buf_add_u32le(&g, 0), 0);	/* a zero-length header */
	expect_corrupt(pid, g.data, g.len, g.len);
	/* pack moved under another id */
	memcpy(other, pid, sizeof(other));
	other[31] ^= 1;
	expect_corrupt(other, w.data.data, len, len);
	/* header length field points past the start, or into the blobs */
	ofs_put_u32le(w.data.data + len - 4, (uint32_t)len);
	expect_corrupt(pid, w.data.data, len, len);
	ofs_put_u32le(w.data.data + len - 4, 0xffffffffu);
	expect_corrupt(pid, w.data.data, len, len);
	ofs_put_u32le(w.data.data + len - 4, 100);
	expect_corrupt(pid, w.data.data, len, len);
	ofs_pack_writer_release(&w);
	ofs_buf_release(&g);
}

/* Pack whose header plaintext is given: blob bytes blobs_len of filler, then the header. */
static void
forged(const uint8_t *pid, const struct ofs_buf *plain, size_t blobs_len)
{
	struct ofs_buf p = OFS_BUF_INIT(0);
	struct ofs_error err;
	size_t before;

	assert_int_equal(ofs_buf_add_zeros(&p, blobs_len), 0);
	before = p.len;
	assert_int_equal(ofs_blob_seal(bc, OFS_OBJ_PACK_HEADER, pid, plain->data, plain->len, 1, &p,
	    &err), 0);
	assert_int_equal(ofs_buf_add_u32le(&p, (uint32_t)(p.len - before)), 0);
	expect_corrupt(pid, p.data, p.len, p.len);
	ofs_buf_release(&p);
}

static void
add_entry(struct ofs_buf *b, uint32_t stored, uint32_t raw)
{
	uint8_t id[OFS_ID_LEN];

	memset(id, 0x3c, sizeof(id));
	assert_int_equal(ofs_buf_addc(b, 0), 0);
	assert_int_equal(ofs_buf_add(b, id, sizeof(id)), 0);
	assert_int_equal(ofs_buf_add_u32le(b, stored), 0);
	assert_int_equal(ofs_buf_add_u32le(b, raw), 0);
}

static void
t_forged_headers(void **state)
{
	struct ofs_buf h = OFS_BUF_INIT(0);
	uint8_t pid[OFS_ID_LEN];

	memset(pid, 0x77, sizeof(pid));
	/* count says 2, one entry present */
	assert_int_equal(ofs_buf_add_u32le(&h, 2), 0);
	add_entry(&h, 100, 50);
	forged(pid, &h, 100);
	/* count above the limit */
	h.len = 0;
	assert_int_equal(ofs_buf_add_u32le(&h, OFS_PACK_MAX_BLOBS + 1), 0);
	forged(pid, &h, 0);
	/* stored lengths sum short of / past the header */
	h.len = 0;
	assert_int_equal(ofs_buf_add_u32le(&h, 2), 0);
	add_entry(&h, 100, 50);
	add_entry(&h, 100, 50);
	forged(pid, &h, 250);
	forged(pid, &h, 150);
	/* overflow attempt */
	h.len = 0;
	assert_int_equal(ofs_buf_add_u32le(&h, 2), 0);
	add_entry(&h, 0xffffffffu, 1);
	add_entry(&h, 101, 1);
	forged(pid, &h, 100);
	/* a blob shorter than any sealed blob */
	h.len = 0;
	assert_int_equal(ofs_buf_add_u32le(&h, 2), 0);
	add_entry(&h, 5, 1);
	add_entry(&h, 95, 1);
	forged(pid, &h, 100);
	/* trailing bytes in the header plaintext */
	h.len = 0;
	assert_int_equal(ofs_buf_add_u32le(&h, 1), 0);
	add_entry(&h, 100, 50);
	assert_int_equal(ofs_buf_addc(&h, 0), 0);
	forged(pid, &h, 100);
	/* header plaintext too short for its count */
	h.len = 0;
	assert_int_equal(ofs_buf_addc(&h, 1), 0);
	forged(pid, &h, 0);
	ofs_buf_release(&h);
}

/* A blob in a buffer of its own: taken as the first bytes of an empty pack (no copy, the
 * caller's buffer left empty), copied behind others; the pack parses and both open. */
static void
t_add_buf(void **state)
{
	struct ofs_pack_writer w;
	struct ofs_pack_entry *e = NULL;
	struct ofs_buf a = OFS_BUF_INIT(0), b = OFS_BUF_INIT(0), back = OFS_BUF_INIT(0);
	struct ofs_error err;
	uint8_t raw[5000], ida[OFS_ID_LEN], idb[OFS_ID_LEN], pid[OFS_ID_LEN];
	const uint8_t *where;
	size_t alen, blen, n, need;

	memset(raw, 'r', sizeof(raw));
	ofs_blob_id(bc, raw, sizeof(raw), ida);
	ofs_blob_id(bc, raw, 100, idb);
	assert_int_equal(ofs_blob_seal(bc, OFS_BLOB_TREE, ida, raw, sizeof(raw), 1, &a, &err), 0);
	assert_int_equal(ofs_blob_seal(bc, OFS_BLOB_TREE, idb, raw, 100, 1, &b, &err), 0);
	where = a.data;
	alen = a.len;
	blen = b.len;
	ofs_pack_writer_init(&w);
	assert_int_equal(ofs_pack_writer_add_buf(&w, OFS_BLOB_TREE, ida, &a, sizeof(raw)), 1);
	assert_ptr_equal(w.data.data, where);	/* taken, not copied */
	assert_int_equal(a.len, 0);
	assert_int_equal(ofs_pack_writer_add_buf(&w, OFS_BLOB_TREE, idb, &b, 100), 0);
	assert_int_equal(b.len, blen);	/* copied: left as it was */
	assert_int_equal(ofs_pack_writer_finish(&w, bc, pid, &err), 0);
	assert_int_equal(ofs_pack_parse(bc, pid, w.data.data, w.data.len, w.data.len, &e, &n, &need,
	    &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].offset, 0);
	assert_int_equal(e[0].stored_len, alen);
	assert_int_equal(e[1].offset, alen);
	assert_int_equal(ofs_blob_open(bc, OFS_BLOB_TREE, ida, w.data.data, e[0].stored_len,
	    sizeof(raw), &back, &err), 0);
	assert_int_equal(ofs_blob_open(bc, OFS_BLOB_TREE, idb, w.data.data + e[1].offset,
	    e[1].stored_len, 100, &back, &err), 0);
	assert_int_equal(back.len, sizeof(raw) + 100);
	free(e);
	ofs_pack_writer_release(&w);
	ofs_buf_release(&a);
	ofs_buf_release(&b);
	ofs_buf_release(&back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_roundtrip),
		cmocka_unit_test(t_add_buf),
		cmocka_unit_test(t_short_tail),
		cmocka_unit_test(t_damaged),
		cmocka_unit_test(t_forged_headers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
