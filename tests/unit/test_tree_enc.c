/* The streaming tree encoder (lib/tree_enc.c) against ofs_tree_encode: the same bytes for
 * many random trees, the same refusals; and a tree sealed through ofs_blob_sealer opening to
 * the same bytes and id as one sealed whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "blob.h"
#include "tree.h"
#include "tree_enc.h"
#include "util.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint32_t
rndn(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

static uint8_t *
rnd_bytes(size_t len, int allow_slash_nul)
{
	uint8_t *p = ofs_xmalloc(len + 1);

	for (size_t i = 0; i < len; i++) {
		uint8_t c;

		switch (rndn(4)) {
		case 0: c = (uint8_t)rndn(256); break;			/* any byte */
		case 1: c = (uint8_t)("\"\\\b\t\n\f\r\x01\x1f\x7f"[rndn(10)]); break;
		case 2: c = (uint8_t)(0xc0 + rndn(0x40)); break;	/* UTF-8 leads */
		default: c = (uint8_t)('a' + rndn(26));
		}
		if (!allow_slash_nul && (c == '/' || c == '\0' || c == '-'))
			c = 'z';
		p[i] = c;
	}
	p[len] = 0;
	return p;
}

static char *
rnd_text(void)
{
	static const char *names[] = { "root", "daemon", "é\xc3\xa9", "x\x01y", "a\"b",
		"\xff\xfe", "back\\slash", "" };

	return ofs_xstrdup(names[rndn(8)]);
}

/* A node of any type with every optional field exercised now and then; the name is a random
 * prefix (no '-') and "-idx", so names in one tree never repeat. */
static void
rnd_node(struct ofs_node *n, size_t idx)
{
	char suffix[32];
	size_t plen = rndn(40), slen;
	uint8_t *pre = rnd_bytes(plen, 0);

	slen = (size_t)snprintf(suffix, sizeof(suffix), "-%zu", idx);
	n->name = ofs_xmalloc(plen + slen + 1);
	memcpy(n->name, pre, plen);
	memcpy(n->name + plen, suffix, slen + 1);
	n->namelen = plen + slen;
	free(pre);
	n->type = (int)(1 + rndn(7));
	n->mode = rndn(07777 + 1);
	n->uid = (uint32_t)rnd();
	n->gid = (uint32_t)rnd();
	if (rndn(2))
		n->user = rnd_text();
	if (rndn(2))
		n->group = rnd_text();
	n->size = rnd() >> (1 + rndn(63));
	n->mtime_ns = (int64_t)rnd();
	n->atime_ns = -(int64_t)(rnd() >> 2);
	n->ctime_ns = (int64_t)(rnd() >> rndn(64));
	n->ino = rnd();
	n->dev = rnd() >> 1;
	n->nlink = rndn(5);
	n->flags = rndn(2);
	switch (n->type) {
	case OFS_NODE_FILE:
		n->nchunks = rndn(4);
		n->chunks = n->nchunks ? ofs_xcalloc(n->nchunks, OFS_ID_LEN) : NULL;
		for (size_t i = 0; i < n->nchunks; i++)
			for (size_t j = 0; j < OFS_ID_LEN; j++)
				n->chunks[i][j] = (uint8_t)rnd();
		if (rndn(3) == 0 && n->size > 0) {
			uint64_t off = 0;

			n->sparse = 1;
			n->extents = ofs_xcalloc(4, sizeof(*n->extents));
			for (int i = 0; i < 4 && off < n->size; i++) {
				uint64_t len = 1 + (n->size - off - 1) / 3;

				n->extents[n->nextents].off = off;
				n->extents[n->nextents++].len = len;
				off += len + (n->size - off - len) / 2;
			}
		}
		break;
	case OFS_NODE_DIR:
		n->has_subtree = 1;
		for (size_t j = 0; j < OFS_ID_LEN; j++)
			n->subtree[j] = (uint8_t)rnd();
		break;
	case OFS_NODE_SYMLINK:
		n->targetlen = 1 + rndn(60);
		n->target = rnd_bytes(n->targetlen, 0);
		break;
	case OFS_NODE_CHR:
	case OFS_NODE_BLK:
		n->rdev = rnd();
		break;
	}
	if (rndn(4) == 0) {
		n->nxattrs = 1 + rndn(3);
		n->xattrs = ofs_xcalloc(n->nxattrs, sizeof(*n->xattrs));
		for (size_t i = 0; i < n->nxattrs; i++) {
			n->xattrs[i].name = ofs_xasprintf("user.%s\"%zu", i ? "é" : "x\\", i);
			n->xattrs[i].len = rndn(100);
			n->xattrs[i].value = rnd_bytes(n->xattrs[i].len, 1);
		}
	}
}

/* Collects the sink's pieces, counting them. */
struct collect {
	struct ofs_buf b;
	size_t pieces;
};

static int
collect_sink(void *ud, const void *p, size_t n, struct ofs_error *err)
{
	struct collect *c = ud;

	c->pieces++;
	return ofs_buf_add(&c->b, p, n) != 0 ? ofs_err_set(err, OFS_ERR_LIMIT, "full") : 0;
}

static void
t_same_bytes(void **state)
{
	(void)state;
	for (int round = 0; round < 300; round++) {
		struct ofs_tree t;
		struct ofs_buf whole = OFS_BUF_INIT(0);
		struct ofs_tree_enc e1, e2;
		struct collect c = { OFS_BUF_INIT(0), 0 };
		struct ofs_error err;
		size_t n = round < 10 ? (size_t)round : rndn(round < 290 ? 60 : 3000);

		ofs_tree_init(&t);
		for (size_t i = 0; i < n; i++)
			rnd_node(ofs_tree_add(&t), i);
		assert_int_equal(ofs_tree_encode(&t, &whole, &err), 0);	/* sorts t */
		ofs_tree_enc_init(&e1, NULL, NULL);
		ofs_tree_enc_init(&e2, collect_sink, &c);
		for (size_t i = 0; i < t.n; i++) {
			assert_int_equal(ofs_tree_enc_add(&e1, &t.nodes[i], &err), 0);
			assert_int_equal(ofs_tree_enc_add(&e2, &t.nodes[i], &err), 0);
		}
		assert_int_equal(ofs_tree_enc_finish(&e1, &err), 0);
		assert_int_equal(ofs_tree_enc_finish(&e2, &err), 0);
		assert_int_equal(e1.buf.len, whole.len);
		assert_memory_equal(e1.buf.data, whole.data, whole.len);
		assert_int_equal(c.b.len, whole.len);
		assert_memory_equal(c.b.data, whole.data, whole.len);
		assert_int_equal(e2.buf.len, 0);	/* nothing kept back */
		if (whole.len > 100000)
			assert_true(c.pieces > 2);	/* given in pieces, not at the end */
		ofs_tree_enc_release(&e1);
		ofs_tree_enc_release(&e2);
		ofs_buf_release(&c.b);
		ofs_buf_release(&whole);
		ofs_tree_release(&t);
	}
}

static void
node_named(struct ofs_node *n, const char *name, int type)
{
	memset(n, 0, sizeof(*n));
	n->namelen = strlen(name);
	n->name = (uint8_t *)ofs_xstrdup(name);
	n->type = type;
	if (type == OFS_NODE_DIR)
		n->has_subtree = 1;
}

/* Every node ofs_tree_encode refuses, the streaming encoder refuses with the same code and
 * message; and after a refusal it takes nothing more. */
static void
t_refuses_like_encode(void **state)
{
	struct ofs_node bad[9];
	struct ofs_error e1, e2;

	(void)state;
	node_named(&bad[0], "..", OFS_NODE_FILE);
	node_named(&bad[1], ".", OFS_NODE_FILE);
	node_named(&bad[2], "a/b", OFS_NODE_FILE);
	node_named(&bad[3], "d", OFS_NODE_DIR);
	bad[3].has_subtree = 0;
	node_named(&bad[4], "m", OFS_NODE_FILE);
	bad[4].mode = 0100644;
	node_named(&bad[5], "l", OFS_NODE_SYMLINK);
	node_named(&bad[6], "t", 9);
	node_named(&bad[7], "x", OFS_NODE_FILE);
	bad[7].nxattrs = 1;
	bad[7].xattrs = ofs_xcalloc(1, sizeof(*bad[7].xattrs));
	bad[7].xattrs[0].name = ofs_xstrdup("");
	node_named(&bad[8], "s", OFS_NODE_FILE);
	bad[8].size = 10;
	bad[8].sparse = 1;
	bad[8].nextents = 1;
	bad[8].extents = ofs_xcalloc(1, sizeof(*bad[8].extents));
	bad[8].extents[0].off = 5;
	bad[8].extents[0].len = 6;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ofs_tree t = { &bad[i], 1, 1 };
		struct ofs_buf b = OFS_BUF_INIT(0);
		struct ofs_tree_enc e;
		struct ofs_node ok;

		assert_int_equal(ofs_tree_encode(&t, &b, &e1), OFS_ERR_IO);
		ofs_tree_enc_init(&e, NULL, NULL);
		assert_int_equal(ofs_tree_enc_add(&e, &bad[i], &e2), OFS_ERR_IO);
		assert_int_equal(e1.code, e2.code);
		assert_string_equal(e1.msg, e2.msg);
		node_named(&ok, "zzz", OFS_NODE_FILE);
		assert_int_not_equal(ofs_tree_enc_add(&e, &ok, &e2), 0);
		assert_int_not_equal(ofs_tree_enc_finish(&e, &e2), 0);
		ofs_node_release(&ok);
		ofs_tree_enc_release(&e);
		ofs_buf_release(&b);
		ofs_node_release(&bad[i]);
	}
}

static void
t_refuses_order(void **state)
{
	static const char *pairs[][2] = {
		{ "b", "a" }, { "ab", "a" }, { "a", "a" }, { "\xff", "\x7f" }, { "a\x01", "a" },
	};
	struct ofs_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct ofs_tree_enc e;
		struct ofs_node x, y;

		node_named(&x, pairs[i][0], OFS_NODE_FILE);
		node_named(&y, pairs[i][1], OFS_NODE_FIFO);
		ofs_tree_enc_init(&e, NULL, NULL);
		assert_int_equal(ofs_tree_enc_add(&e, &x, &err), 0);
		assert_int_equal(ofs_tree_enc_add(&e, &y, &err), OFS_ERR_IO);
		assert_non_null(strstr(err.msg, "cannot encode tree node"));
		assert_non_null(strstr(err.msg, strcmp(pairs[i][0], pairs[i][1]) == 0 ?
		    "duplicate name" : "out of order"));
		assert_int_not_equal(ofs_tree_enc_finish(&e, &err), 0);
		ofs_tree_enc_release(&e);
		ofs_node_release(&x);
		ofs_node_release(&y);
	}
	/* in order, a shorter prefix first: accepted */
	{
		struct ofs_tree_enc e;
		struct ofs_node x, y;

		node_named(&x, "a", OFS_NODE_FILE);
		node_named(&y, "a\x01", OFS_NODE_FILE);
		ofs_tree_enc_init(&e, NULL, NULL);
		assert_int_equal(ofs_tree_enc_add(&e, &x, &err), 0);
		assert_int_equal(ofs_tree_enc_add(&e, &y, &err), 0);
		assert_int_equal(ofs_tree_enc_finish(&e, &err), 0);
		ofs_tree_enc_release(&e);
		ofs_node_release(&x);
		ofs_node_release(&y);
	}
}

static int
fail_sink(void *ud, const void *p, size_t n, struct ofs_error *err)
{
	return ofs_err_set(err, OFS_ERR_IO, "sink refuses");
}

/* A sink's failure is the encoder's, and ends it. */
static void
t_sink_failure(void **state)
{
	struct ofs_tree_enc e;
	struct ofs_node x;
	struct ofs_error err;

	(void)state;
	ofs_tree_enc_init(&e, fail_sink, NULL);
	node_named(&x, "a", OFS_NODE_FILE);
	assert_int_equal(ofs_tree_enc_add(&e, &x, &err), 0);	/* held below the flush size */
	assert_int_equal(ofs_tree_enc_finish(&e, &err), OFS_ERR_IO);
	assert_string_equal(err.msg, "sink refuses");
	assert_int_not_equal(ofs_tree_enc_finish(&e, &err), 0);
	ofs_tree_enc_release(&e);
	ofs_node_release(&x);
}

static int
count_sink(void *ud, const void *p, size_t n, struct ofs_error *err)
{
	*(uint64_t *)ud += n;
	return 0;
}

/* A directory whose tree would pass OFS_TREE_MAX (which every reader refuses) is refused
 * while written, before a byte past the limit reaches the sink: a snapshot never holds a
 * tree it cannot read back. Nodes carry 16 xattrs of 64 KiB so that few are needed. */
static void
t_too_large(void **state)
{
	static uint8_t big[64u << 10];
	static char names[16][32];
	struct ofs_xattr xa[16];
	struct ofs_tree_enc e;
	struct ofs_node x;
	struct ofs_error err;
	uint64_t sent = 0;
	char name[32];
	int rc = 0;
	size_t i;

	(void)state;
	memset(big, 0xa5, sizeof(big));	/* not UTF-8: base64, 4/3 the size */
	for (int k = 0; k < 16; k++) {
		snprintf(names[k], sizeof(names[k]), "user.a%02d", k);
		xa[k] = (struct ofs_xattr){ names[k], big, sizeof(big) };
	}
	ofs_tree_enc_init(&e, count_sink, &sent);
	for (i = 0; i < 1000 && rc == 0; i++) {
		snprintf(name, sizeof(name), "f%06zu", i);
		node_named(&x, name, OFS_NODE_FILE);
		x.xattrs = xa;
		x.nxattrs = 16;
		rc = ofs_tree_enc_add(&e, &x, &err);
		x.xattrs = NULL;
		x.nxattrs = 0;
		ofs_node_release(&x);
	}
	assert_int_equal(rc, OFS_ERR_LIMIT);
	assert_non_null(strstr(err.msg, "too many entries in one directory"));
	assert_true(i > 150 && i < 250);	/* ~1.4 MB a node against 256 MiB */
	assert_true(sent <= OFS_TREE_MAX);
	assert_int_not_equal(ofs_tree_enc_finish(&e, &err), 0);
	ofs_tree_enc_release(&e);
}

static int
stream_sink(void *ud, const void *p, size_t n, struct ofs_error *err)
{
	return ofs_blob_sealer_write(ud, p, n, err);
}

/* Trees small and large (past the stream's 1 MiB) sealed through the stream: the id is the
 * one of the whole JSON and the stored blob opens to exactly ofs_tree_encode's bytes. */
static void
t_stream_sealed_tree(void **state)
{
	static const size_t sizes[] = { 0, 1, 50, 4000, 20000 };
	struct ofs_keys keys;
	struct ofs_blob_ctx *bc;

	(void)state;
	for (int i = 0; i < OFS_MASTER_LEN; i++)
		keys.master[i] = (uint8_t)(i * 7);
	assert_int_equal(ofs_keys_derive(&keys, NULL), 0);
	bc = ofs_blob_ctx_new(&keys, 3);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct ofs_tree t;
		struct ofs_buf whole = OFS_BUF_INIT(0), back = OFS_BUF_INIT(0);
		struct ofs_blob_sealer *bs = ofs_blob_sealer_new(bc, OFS_BLOB_TREE);
		struct ofs_buf *stored;
		struct ofs_tree_enc e;
		struct ofs_error err;
		uint8_t id[OFS_ID_LEN], want[OFS_ID_LEN];
		uint64_t rawlen;

		ofs_tree_init(&t);
		for (size_t i = 0; i < sizes[k]; i++)
			rnd_node(ofs_tree_add(&t), i);
		assert_int_equal(ofs_tree_encode(&t, &whole, &err), 0);
		ofs_blob_id(bc, whole.data, whole.len, want);
		ofs_tree_enc_init(&e, stream_sink, bs);
		for (size_t i = 0; i < t.n; i++)
			assert_int_equal(ofs_tree_enc_add(&e, &t.nodes[i], &err), 0);
		assert_int_equal(ofs_tree_enc_finish(&e, &err), 0);
		if (ofs_blob_sealer_end(bs, id, &rawlen, &err) != 0)
			fail_msg("%s", err.msg);
		assert_int_equal(rawlen, whole.len);
		assert_memory_equal(id, want, OFS_ID_LEN);
		assert_int_equal(ofs_blob_sealer_seal(bs, &stored, &err), 0);
		if (sizes[k] == 20000)
			assert_true(whole.len > (2u << 20) && stored->len < whole.len * 6 / 10);
		assert_int_equal(ofs_blob_open(bc, OFS_BLOB_TREE, id, stored->data, stored->len,
		    OFS_TREE_MAX, &back, &err), 0);
		assert_int_equal(back.len, whole.len);
		assert_memory_equal(back.data, whole.data, whole.len);
		ofs_blob_sealer_free(bs);
		ofs_tree_enc_release(&e);
		ofs_buf_release(&whole);
		ofs_buf_release(&back);
		ofs_tree_release(&t);
	}
	ofs_blob_ctx_free(bc);
	ofs_keys_wipe(&keys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_same_bytes),
		cmocka_unit_test(t_refuses_like_encode),
		cmocka_unit_test(t_refuses_order),
		cmocka_unit_test(t_sink_failure),
		cmocka_unit_test(t_too_large),
		cmocka_unit_test(t_stream_sealed_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
