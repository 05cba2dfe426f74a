/* The streaming tree reader (tree.h's ofs_tree_reader): it accepts exactly what
 * ofs_tree_decode accepts, with the same nodes, codes and messages, whatever the window
 * size; it refuses before its first node; and a sealed tree far larger than its window is
 * read holding only the window. */
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
#include "util.h"

/* streamed in tiny, odd steps; streamed in larger ones; decoded whole */
static const struct ofs_tree_reader_opts modes[] = { { 0, 1 }, { 0, 7 }, { 0, 4096 },
	{ OFS_TREE_WHOLE_MAX, 0 } };
#define NMODES (sizeof(modes) / sizeof(modes[0]))

/* Every node of the reader on p[0..len) into *t; the reader's code. */
static int
read_all(const uint8_t *p, size_t len, const struct ofs_tree_reader_opts *o,
    struct ofs_tree *t, struct ofs_error *err)
{
	struct ofs_tree_reader *r = NULL;
	struct ofs_node n;
	int k;

	ofs_tree_init(t);
	if ((k = ofs_tree_reader_open_mem(p, len, "tree T", o, &r, err)) != 0) {
		assert_null(r);
		return k;
	}
	while ((k = ofs_tree_reader_next(r, &n, err)) == 1)
		*ofs_tree_add(t) = n;
	ofs_tree_reader_free(r);
	return k;
}

/* The reader, in every mode, does what ofs_tree_decode does with p[0..len). */
static void
same_as_decode(const uint8_t *p, size_t len)
{
	struct ofs_tree want, got;
	struct ofs_error ew, eg;
	int rw, rg;

	ofs_err_clear(&ew);
	rw = ofs_tree_decode(p, len, "tree T", &want, &ew);
	for (size_t m = 0; m < NMODES; m++) {
		ofs_err_clear(&eg);
		rg = read_all(p, len, &modes[m], &got, &eg);
		if (rg != rw)
			fail_msg("mode %zu: reader %d, decode %d (%s / %s): %.*s", m, rg, rw, eg.msg,
			    ew.msg, (int)(len < 200 ? len : 200), (const char *)p);
		if (rw != 0)
			assert_string_equal(eg.msg, ew.msg);
		else if (!ofs_tree_equal(&got, &want))
			fail_msg("mode %zu: other nodes", m);
		ofs_tree_release(&got);
	}
	ofs_tree_release(&want);
}

static void
set_name(struct ofs_node *n, const char *s)
{
	n->namelen = strlen(s);
	n->name = (uint8_t *)ofs_xstrdup(s);
}

/* count files named f%06d, a directory, a symlink with a name that is not UTF-8, a sparse
 * file and one with xattrs and chunks, encoded as offseed writes them. */
static void
make_tree(size_t count, struct ofs_buf *out)
{
	struct ofs_tree t;
	struct ofs_error err;
	struct ofs_node *n;
	char name[32];

	ofs_tree_init(&t);
	for (size_t i = 0; i < count; i++) {
		n = ofs_tree_add(&t);
		snprintf(name, sizeof(name), "f%06zu", i);
		set_name(n, name);
		n->type = OFS_NODE_FILE;
		n->mode = 0644;
		n->user = ofs_xstrdup("root");
		n->mtime_ns = 1700000000123456789LL + (int64_t)i;
		n->ino = 1000 + i;
		n->nlink = 1;
		n->chunks = ofs_xcalloc(1, OFS_ID_LEN);
	}
	n = ofs_tree_add(&t);
	set_name(n, "dir {x:[1]}]");	/* brackets inside a string do not end a node */
	n->type = OFS_NODE_DIR;
	n->mode = 0755;
	n->has_subtree = 1;
	memset(n->subtree, 0x5c, OFS_ID_LEN);
	n = ofs_tree_add(&t);
	n->name = (uint8_t *)ofs_xstrdup("\xff\xfe-link");
	n->namelen = 7;
	n->type = OFS_NODE_SYMLINK;
	n->mode = 0777;
	n->target = (uint8_t *)ofs_xstrdup("../t");
	n->targetlen = 4;
	n = ofs_tree_add(&t);
	set_name(n, "sparse");
	n->type = OFS_NODE_FILE;
	n->size = 1u << 20;
	n->sparse = 1;
	n->nextents = 1;
	n->extents = ofs_xcalloc(1, sizeof(*n->extents));
	n->extents[0].len = 4096;
	n->nchunks = 3;
	n->chunks = ofs_xcalloc(3, OFS_ID_LEN);
	memset(n->chunks[1], 0xab, OFS_ID_LEN);
	n->nxattrs = 1;
	n->xattrs = ofs_xcalloc(1, sizeof(*n->xattrs));
	n->xattrs[0].name = ofs_xstrdup("user.x");
	n->xattrs[0].value = (uint8_t *)ofs_xstrdup("v");
	n->xattrs[0].len = 1;
	assert_int_equal(ofs_tree_encode(&t, out, &err), 0);
	ofs_tree_release(&t);
}

static void
test_valid(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	const char *empty = "{\"nodes\":[],\"version\":1}";

	(void)state;
	same_as_decode((const uint8_t *)empty, strlen(empty));
	for (size_t count = 0; count < 40; count += 13) {
		ofs_buf_reset(&b);
		make_tree(count, &b);
		same_as_decode(b.data, b.len);
	}
	ofs_buf_release(&b);
}

/* Trees offseed never writes but ofs_tree_decode reads: the whole-document path. */
static void
test_other_forms(void **state)
{
	static const char *forms[] = {
		"{ \"nodes\": [], \"version\": 1 }",
		"{\"version\":1,\"nodes\":[{\"type\":\"file\",\"name\":\"a\",\"mode\":420}]}",
		"{\"nodes\":[{\"mode\":420,\"name\":\"a\\u0041\",\"type\":\"file\"}],\"version\":1}",
		"{\"nodes\":[{\"mode\":420,\"name\":\"a\\\"}\",\"type\":\"file\"}],\"version\":1}",
		"{\"nodes\":[{\"mode\":420,\"name\":\"a\",\"type\":\"file\"},{\"mode\":420,"
		    "\"name\":\"b\" ,\"type\":\"file\"}],\"version\":1}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		same_as_decode((const uint8_t *)forms[i], strlen(forms[i]));
}

#define NODE(name) "{\"mode\":420,\"name\":\"" name "\",\"type\":\"file\"}"

/* Each rejection: same code and message as ofs_tree_decode, no node handed out. */
static void
test_rejections(void **state)
{
	static const struct { const char *json, *field; int code; } bad[] = {
		{ "{\"nodes\":[" NODE("b") "," NODE("a") "],\"version\":1}", "name",
		    OFS_ERR_CORRUPT },				/* unsorted */
		{ "{\"nodes\":[" NODE("a") "," NODE("b") "," NODE("ab") "],\"version\":1}",
		    "name", OFS_ERR_CORRUPT },			/* unsorted, later */
		{ "{\"nodes\":[" NODE("a") "," NODE("a") "],\"version\":1}", "name",
		    OFS_ERR_CORRUPT },				/* duplicate */
		{ "{\"nodes\":[" NODE("a") "," NODE("..") "],\"version\":1}", "name",
		    OFS_ERR_CORRUPT },				/* bad name */
		{ "{\"nodes\":[" NODE("a/b") "],\"version\":1}", "name", OFS_ERR_CORRUPT },
		{ "{\"nodes\":[{\"mode\":4096,\"name\":\"a\",\"type\":\"file\"}],\"version\":1}",
		    "mode", OFS_ERR_CORRUPT },			/* out of range */
		{ "{\"nodes\":[{\"mode\":420,\"name\":\"a\",\"type\":\"dir\"}],\"version\":1}",
		    "subtree", OFS_ERR_CORRUPT },
		{ "{\"nodes\":[" NODE("a") "],\"version\":2}", "version", OFS_ERR_VERSION },
		{ "{\"nodes\":[" NODE("a") "],\"version\":1}x", NULL, OFS_ERR_CORRUPT },
		{ "{\"nodes\":[" NODE("a") "],\"version\":1}{}", NULL, OFS_ERR_CORRUPT },
		{ "{\"nodes\":[" NODE("a") ",],\"version\":1}", NULL, OFS_ERR_CORRUPT },
		{ "{\"nodes\":[" NODE("a") "],\"version\":1,\"x\":1}", "nodes", OFS_ERR_CORRUPT },
	};
	struct ofs_tree_reader *r;
	struct ofs_error err;
	char want[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const uint8_t *p = (const uint8_t *)bad[i].json;
		size_t len = strlen(bad[i].json);

		same_as_decode(p, len);
		for (size_t m = 0; m < NMODES; m++) {
			r = (struct ofs_tree_reader *)1;
			ofs_err_clear(&err);
			if (ofs_tree_reader_open_mem(p, len, "tree T", &modes[m], &r, &err) !=
			    bad[i].code)
				fail_msg("case %zu mode %zu: %s", i, m, err.msg);
			assert_null(r);		/* refused before any node */
			assert_non_null(strstr(err.msg, "tree T"));
			snprintf(want, sizeof(want), "'%s'", bad[i].field ? bad[i].field : "");
			if (bad[i].field != NULL && bad[i].code == OFS_ERR_CORRUPT &&
			    strstr(err.msg, want) == NULL)
				fail_msg("case %zu: '%s' not named: %s", i, bad[i].field, err.msg);
		}
	}
}

/* Cut anywhere, a tree is refused as ofs_tree_decode refuses it. */
static void
test_truncated(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(0);

	(void)state;
	make_tree(3, &b);
	for (size_t len = 0; len < b.len; len += 1 + len / 16)
		same_as_decode(b.data, len);
	ofs_buf_release(&b);
}

static void
test_oversize(void **state)
{
	size_t len = OFS_TREE_MAX + 1;
	uint8_t *p = ofs_xcalloc(1, len);	/* never touched: refused by its size */
	struct ofs_tree_reader *r = NULL;
	struct ofs_error err;

	(void)state;
	memcpy(p, "{\"nodes\":[", 10);
	assert_int_equal(ofs_tree_reader_open_mem(p, len, "tree T", &modes[1], &r, &err),
	    OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "malformed tree T: 268435457 bytes is too large"));
	assert_null(r);
	free(p);
}

/* A sealed tree of ~12 MB of plaintext read through the blob stream: the nodes
 * ofs_tree_decode gives, with a window of a few steps; a flipped byte is refused at open. */
static void
test_sealed_large(void **state)
{
	static struct ofs_keys keys;
	struct ofs_blob_ctx *bc = ofs_blob_ctx_new(&keys, 3);
	struct ofs_buf plain = OFS_BUF_INIT(0), sealed = OFS_BUF_INIT(0), copy = OFS_BUF_INIT(0);
	struct ofs_blob_stream *bs = NULL;
	struct ofs_tree_reader *r = NULL;
	struct ofs_tree want, got;
	struct ofs_error err;
	struct ofs_node n;
	uint8_t id[OFS_ID_LEN];
	size_t held = 0;
	int k;

	(void)state;
	make_tree(60000, &plain);
	assert_true(plain.len > 10 * OFS_TREE_WHOLE_MAX);
	ofs_blob_id(bc, plain.data, plain.len, id);
	assert_int_equal(ofs_blob_seal(bc, OFS_BLOB_TREE, id, plain.data, plain.len, 1, &sealed,
	    &err), 0);
	assert_true(sealed.len < plain.len / 4);	/* compressed: the stream decompresses */
	assert_int_equal(ofs_tree_decode(plain.data, plain.len, "t", &want, &err), 0);

	assert_int_equal(ofs_buf_add(&copy, sealed.data, sealed.len), 0);
	assert_int_equal(ofs_blob_stream_open(bc, OFS_BLOB_TREE, id, &copy, plain.len,
	    OFS_TREE_MAX, &bs, &err), 0);
	assert_null(copy.data);		/* taken */
	assert_int_equal(ofs_blob_stream_size(bs), plain.len);
	assert_int_equal(ofs_tree_reader_open_blob(bs, "t", NULL, &r, &err), 0);
	ofs_tree_init(&got);
	while ((k = ofs_tree_reader_next(r, &n, &err)) == 1) {
		*ofs_tree_add(&got) = n;
		if (ofs_tree_reader_held(r) > held)
			held = ofs_tree_reader_held(r);
	}
	assert_int_equal(k, 0);
	assert_true(held > 0 && held <= 4 * OFS_TREE_READ_STEP);
	assert_true(ofs_tree_equal(&got, &want));
	ofs_tree_reader_free(r);
	ofs_tree_release(&got);

	ofs_buf_reset(&copy);
	assert_int_equal(ofs_buf_add(&copy, sealed.data, sealed.len), 0);
	copy.data[copy.len / 2] ^= 1;
	assert_int_equal(ofs_blob_stream_open(bc, OFS_BLOB_TREE, id, &copy, plain.len,
	    OFS_TREE_MAX, &bs, &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "authentication failed"));
	assert_null(bs);

	ofs_buf_reset(&copy);	/* a limit below its size: as ofs_blob_open's buffer limit */
	assert_int_equal(ofs_buf_add(&copy, sealed.data, sealed.len), 0);
	assert_int_equal(ofs_blob_stream_open(bc, OFS_BLOB_TREE, id, &copy, plain.len,
	    plain.len / 2, &bs, &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "larger than the buffer limit"));

	ofs_tree_release(&want);
	ofs_buf_release(&copy);
	ofs_buf_release(&sealed);
	ofs_buf_release(&plain);
	ofs_blob_ctx_free(bc);
}

/* Through a sealed blob too: a large tree not in the plain form (a space after its first
 * node) is decoded whole, to the same nodes; a large one with a duplicate name at its end is
 * refused at open with ofs_tree_decode's message. */
static void
test_sealed_fallback_and_refusal(void **state)
{
	static struct ofs_keys keys;
	struct ofs_blob_ctx *bc = ofs_blob_ctx_new(&keys, 3);
	struct ofs_buf plain = OFS_BUF_INIT(0), sealed = OFS_BUF_INIT(0);
	struct ofs_blob_stream *bs = NULL;
	struct ofs_tree_reader *r = NULL;
	struct ofs_tree want, got;
	struct ofs_error ew, eg;
	struct ofs_node n;
	uint8_t id[OFS_ID_LEN], *comma;
	const char *dup = "{\"mode\":420,\"name_b64\":\"//4tbGluaw==\",\"type\":\"file\"}";
	int k;

	(void)state;
	for (int c = 0; c < 2; c++) {
		ofs_buf_reset(&plain);
		make_tree(20000, &plain);
		if (c == 0) {	/* "},{" → "}, {" */
			comma = memmem(plain.data, plain.len, "},{", 3);
			assert_non_null(comma);
			assert_int_equal(ofs_buf_add(&plain, "x", 1), 0);
			comma = memmem(plain.data, plain.len, "},{", 3);
			memmove(comma + 3, comma + 2, plain.len - 1 - (size_t)(comma + 2 - plain.data));
			comma[2] = ' ';
		} else {	/* the symlink's name again, sorted last: a duplicate */
			plain.len -= strlen("],\"version\":1}");
			assert_int_equal(ofs_buf_adds(&plain, ","), 0);
			assert_int_equal(ofs_buf_adds(&plain, dup), 0);
			assert_int_equal(ofs_buf_adds(&plain, "],\"version\":1}"), 0);
		}
		assert_true(plain.len > 2 * OFS_TREE_WHOLE_MAX);
		ofs_err_clear(&ew);
		assert_int_equal(ofs_tree_decode(plain.data, plain.len, "t", &want, &ew),
		    c == 0 ? 0 : OFS_ERR_CORRUPT);
		ofs_blob_id(bc, plain.data, plain.len, id);
		ofs_buf_reset(&sealed);
		assert_int_equal(ofs_blob_seal(bc, OFS_BLOB_TREE, id, plain.data, plain.len, 1,
		    &sealed, &eg), 0);
		assert_int_equal(ofs_blob_stream_open(bc, OFS_BLOB_TREE, id, &sealed, plain.len,
		    OFS_TREE_MAX, &bs, &eg), 0);
		ofs_err_clear(&eg);
		k = ofs_tree_reader_open_blob(bs, "t", NULL, &r, &eg);
		if (c == 1) {
			assert_int_equal(k, OFS_ERR_CORRUPT);
			assert_string_equal(eg.msg, ew.msg);
			assert_non_null(strstr(eg.msg, "duplicate name"));
			assert_null(r);
			continue;
		}
		assert_int_equal(k, 0);
		assert_int_equal(ofs_tree_reader_held(r), 0);	/* decoded whole */
		ofs_tree_init(&got);
		while ((k = ofs_tree_reader_next(r, &n, &eg)) == 1)
			*ofs_tree_add(&got) = n;
		assert_int_equal(k, 0);
		assert_true(ofs_tree_equal(&got, &want));
		ofs_tree_reader_free(r);
		ofs_tree_release(&got);
		ofs_tree_release(&want);
	}
	ofs_buf_release(&sealed);
	ofs_buf_release(&plain);
	ofs_blob_ctx_free(bc);
}

static void
test_find_and_from_tree(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct ofs_tree_reader *r = NULL;
	struct ofs_tree t;
	struct ofs_error err;
	struct ofs_node n;

	(void)state;
	make_tree(30, &b);
	assert_int_equal(ofs_tree_reader_open_mem(b.data, b.len, "t", &modes[1], &r, &err), 0);
	assert_int_equal(ofs_tree_reader_find(r, (const uint8_t *)"f000017", 7, &n, &err), 1);
	assert_int_equal(n.ino, 1017);
	ofs_node_release(&n);
	assert_int_equal(ofs_tree_reader_find(r, (const uint8_t *)"f000003", 7, &n, &err), 0);
	assert_null(n.name);
	ofs_tree_reader_free(r);

	assert_int_equal(ofs_tree_decode(b.data, b.len, "t", &t, &err), 0);
	r = ofs_tree_reader_from_tree(&t);
	assert_null(t.nodes);
	assert_int_equal(ofs_tree_reader_find(r, (const uint8_t *)"sparse", 6, &n, &err), 1);
	assert_int_equal(n.nextents, 1);
	ofs_node_release(&n);
	assert_int_equal(ofs_tree_reader_next(r, &n, &err), 1);	/* sorted last */
	assert_int_equal(n.type, OFS_NODE_SYMLINK);
	ofs_node_release(&n);
	assert_int_equal(ofs_tree_reader_next(r, &n, &err), 0);
	ofs_tree_reader_free(r);
	ofs_buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_other_forms),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_sealed_large),
		cmocka_unit_test(test_sealed_fallback_and_refusal),
		cmocka_unit_test(test_find_and_from_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
