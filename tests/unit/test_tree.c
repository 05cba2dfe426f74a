/* Tree and snapshot JSON: round trips, deterministic bytes (golden file), and rejection of
 * malicious names, duplicates, bad ids, bad extents and unknown fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "tree.h"
#include "util.h"

#include <limits.h>
#include <unistd.h>

/* tests/golden/tree.json, found from $TOP, the current directory, or the binary's place
 * (build/tests/ or build/asan/tests/). */
static char *
golden_path(void)
{
	static char buf[PATH_MAX + 64];
	char exe[PATH_MAX], *p;
	const char *top = getenv("TOP");
	ssize_t n;

	if (top != NULL) {
		snprintf(buf, sizeof(buf), "%s/tests/golden/tree.json", top);
		return buf;
	}
	if (access("tests/golden", F_OK) == 0)
		return "tests/golden/tree.json";
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = 0;
		while ((p = strrchr(exe, '/')) != NULL && p != exe) {
			*p = 0;
			snprintf(buf, sizeof(buf), "%s/tests/golden/tree.json", exe);
			if (access(buf, F_OK) == 0)
				return buf;
		}
	}
	return "tests/golden/tree.json";
}

static void
set_name(struct ofs_node *n, const void *p, size_t len)
{
	n->name = ofs_xmalloc(len + 1);
	memcpy(n->name, p, len);
	n->name[len] = 0;
	n->namelen = len;
}

/* A fixed tree touching every field. */
static void
build_tree(struct ofs_tree *t)
{
	struct ofs_node *n;

	ofs_tree_init(t);
	n = ofs_tree_add(t);	/* added out of order on purpose: encode sorts */
	set_name(n, "zeta.txt", 8);
	n->type = OFS_NODE_FILE;
	n->mode = 0644;
	n->uid = 1000;
	n->gid = 100;
	n->user = ofs_xstrdup("alice");
	n->group = ofs_xstrdup("users");
	n->size = 5;
	n->mtime_ns = 1700000000123456789LL;
	n->atime_ns = 1700000001000000000LL;
	n->ctime_ns = 1700000002000000001LL;
	n->ino = 42;
	n->dev = 2049;
	n->nlink = 1;
	n->nchunks = 2;
	n->chunks = ofs_xcalloc(2, OFS_ID_LEN);
	memset(n->chunks[0], 0xab, OFS_ID_LEN);
	memset(n->chunks[1], 0x01, OFS_ID_LEN);
	n->nxattrs = 1;
	n->xattrs = ofs_xcalloc(1, sizeof(*n->xattrs));
	n->xattrs[0].name = ofs_xstrdup("user.comment");
	n->xattrs[0].value = (uint8_t *)ofs_xstrdup("hi\xff");
	n->xattrs[0].len = 3;
	n->flags = OFS_NODE_CHANGED;

	n = ofs_tree_add(t);
	set_name(n, "\xff\xfe-bin", 6);
	n->type = OFS_NODE_SYMLINK;
	n->mode = 0777;
	n->target = (uint8_t *)ofs_xstrdup("../t\xe9st");
	n->targetlen = 7;
	n->size = 7;

	n = ofs_tree_add(t);
	set_name(n, "dir", 3);
	n->type = OFS_NODE_DIR;
	n->mode = 01755;
	n->has_subtree = 1;
	memset(n->subtree, 0x5c, OFS_ID_LEN);

	n = ofs_tree_add(t);
	set_name(n, "sparse", 6);
	n->type = OFS_NODE_FILE;
	n->mode = 0600;
	n->size = 1ULL << 32;
	n->sparse = 1;
	n->nextents = 2;
	n->extents = ofs_xcalloc(2, sizeof(*n->extents));
	n->extents[0].off = 0;
	n->extents[0].len = 4096;
	n->extents[1].off = 1ULL << 31;
	n->extents[1].len = 8192;

	n = ofs_tree_add(t);
	set_name(n, "tty0", 4);
	n->type = OFS_NODE_CHR;
	n->mode = 0620;
	n->rdev = 0x400;

	n = ofs_tree_add(t);
	set_name(n, "fifo", 4);
	n->type = OFS_NODE_FIFO;
	n->mode = 0644;

	n = ofs_tree_add(t);
	set_name(n, "h\xc3\xa9llo", 6);	/* valid UTF-8: stored as "name" */
	n->type = OFS_NODE_FILE;
	n->mode = 04755;
	n->ino = UINT64_MAX;		/* two's complement in JSON */
}

static void
assert_nodes_equal(const struct ofs_node *a, const struct ofs_node *b)
{
	assert_int_equal(a->namelen, b->namelen);
	assert_memory_equal(a->name, b->name, a->namelen);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	if (a->user != NULL)
		assert_string_equal(a->user, b->user);
	else
		assert_null(b->user);
	if (a->group != NULL)
		assert_string_equal(a->group, b->group);
	else
		assert_null(b->group);
	assert_int_equal(a->size, b->size);
	assert_true(a->mtime_ns == b->mtime_ns);
	assert_true(a->atime_ns == b->atime_ns);
	assert_true(a->ctime_ns == b->ctime_ns);
	assert_true(a->ino == b->ino);
	assert_true(a->dev == b->dev);
	assert_int_equal(a->nlink, b->nlink);
	assert_int_equal(a->targetlen, b->targetlen);
	if (a->targetlen)
		assert_memory_equal(a->target, b->target, a->targetlen);
	assert_true(a->rdev == b->rdev);
	assert_int_equal(a->nxattrs, b->nxattrs);
	for (size_t i = 0; i < a->nxattrs; i++) {
		assert_string_equal(a->xattrs[i].name, b->xattrs[i].name);
		assert_int_equal(a->xattrs[i].len, b->xattrs[i].len);
		assert_memory_equal(a->xattrs[i].value, b->xattrs[i].value, a->xattrs[i].len);
	}
	assert_int_equal(a->nchunks, b->nchunks);
	if (a->nchunks)
		assert_memory_equal(a->chunks, b->chunks, a->nchunks * OFS_ID_LEN);
	assert_int_equal(a->sparse, b->sparse);
	assert_int_equal(a->nextents, b->nextents);
	for (size_t i = 0; i < a->nextents; i++) {
		assert_true(a->extents[i].off == b->extents[i].off);
		assert_true(a->extents[i].len == b->extents[i].len);
	}
	assert_int_equal(a->has_subtree, b->has_subtree);
	if (a->has_subtree)
		assert_memory_equal(a->subtree, b->subtree, OFS_ID_LEN);
	assert_int_equal(a->flags, b->flags);
}

static void
test_roundtrip(void **state)
{
	struct ofs_tree t, u;
	struct ofs_buf b = OFS_BUF_INIT(0), b2 = OFS_BUF_INIT(0);
	struct ofs_error err;

	(void)state;
	build_tree(&t);
	assert_int_equal(ofs_tree_encode(&t, &b, &err), 0);
	/* sorted by name bytes: "dir" < "fifo" < "h\xc3" < "sparse" < "tty0" < "zeta" < "\xff" */
	assert_memory_equal(t.nodes[0].name, "dir", 3);
	assert_memory_equal(t.nodes[6].name, "\xff\xfe-bin", 6);
	assert_int_equal(ofs_tree_decode(b.data, b.len, "tree x", &u, &err), 0);
	assert_int_equal(u.n, t.n);
	for (size_t i = 0; i < t.n; i++)
		assert_nodes_equal(&t.nodes[i], &u.nodes[i]);
	/* encoding the decoded tree gives the same bytes */
	assert_int_equal(ofs_tree_encode(&u, &b2, &err), 0);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.data, b2.data, b.len);
	/* non-UTF-8 bytes went to *_b64 fields */
	assert_int_equal(ofs_buf_cstr(&b), 0);
	assert_non_null(strstr((char *)b.data, "\"name_b64\":\"//4tYmlu\""));
	assert_non_null(strstr((char *)b.data, "\"target_b64\":"));
	assert_non_null(strstr((char *)b.data, "\"name\":\"h\\u00e9llo\"") ?
	    strstr((char *)b.data, "\"name\":\"h\\u00e9llo\"") :
	    strstr((char *)b.data, "\"name\":\"h\xc3\xa9llo\""));
	ofs_tree_release(&t);
	ofs_tree_release(&u);
	ofs_buf_release(&b);
	ofs_buf_release(&b2);
}

static void
test_golden(void **state)
{
	struct ofs_tree t;
	struct ofs_buf b = OFS_BUF_INIT(0), g = OFS_BUF_INIT(1 << 20);
	struct ofs_error err;
	const char *regen = getenv("OFFSEED_REGEN_GOLDEN");

	(void)state;
	build_tree(&t);
	assert_int_equal(ofs_tree_encode(&t, &b, &err), 0);
	if (regen != NULL && *regen) {
		FILE *f = fopen(golden_path(), "wb");
		assert_non_null(f);
		fwrite(b.data, 1, b.len, f);
		fclose(f);
	}
	assert_int_equal(ofs_buf_read_file(&g, golden_path(), &err), 0);
	assert_int_equal(b.len, g.len);
	assert_memory_equal(b.data, g.data, b.len);
	ofs_tree_release(&t);
	ofs_buf_release(&b);
	ofs_buf_release(&g);
}

static void
test_name_ok(void **state)
{
	(void)state;
	assert_true(ofs_name_ok((const uint8_t *)"a", 1));
	assert_true(ofs_name_ok((const uint8_t *)"...", 3));
	assert_true(ofs_name_ok((const uint8_t *)"\xff", 1));
	assert_false(ofs_name_ok((const uint8_t *)"", 0));
	assert_false(ofs_name_ok((const uint8_t *)".", 1));
	assert_false(ofs_name_ok((const uint8_t *)"..", 2));
	assert_false(ofs_name_ok((const uint8_t *)"a/b", 3));
	assert_false(ofs_name_ok((const uint8_t *)"/etc", 4));
	assert_false(ofs_name_ok((const uint8_t *)"a\0b", 3));
	assert_false(ofs_name_ok(NULL, 1));
}

/* Each of these must be refused with OFS_ERR_CORRUPT, and the message must name `field`. */
static const struct {
	const char *json, *field;
} bad_trees[] = {
	{ "{\"version\":1,\"nodes\":[{\"name\":\"..\",\"type\":\"file\",\"mode\":420}]}", "name" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\".\",\"type\":\"file\",\"mode\":420}]}", "name" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a/b\",\"type\":\"file\",\"mode\":420}]}", "name" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"/etc\",\"type\":\"file\",\"mode\":420}]}", "name" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"\",\"type\":\"file\",\"mode\":420}]}", "name" },
	{ "{\"version\":1,\"nodes\":[{\"name_b64\":\"YQBi\",\"type\":\"file\",\"mode\":420}]}",
	    "name" },				/* "a\0b" */
	{ "{\"version\":1,\"nodes\":[{\"name_b64\":\"Li4=\",\"type\":\"file\",\"mode\":420}]}",
	    "name" },				/* ".." in base64 */
	{ "{\"version\":1,\"nodes\":[{\"name_b64\":\"L2V0Yw==\",\"type\":\"dir\",\"mode\":493,"
	    "\"subtree\":\"" "0000000000000000000000000000000000000000000000000000000000000000"
	    "\"}]}", "name" },			/* "/etc" in base64 */
	{ "{\"version\":1,\"nodes\":[{\"name_b64\":\"!!!!\",\"type\":\"file\",\"mode\":420}]}",
	    "name_b64" },
	{ "{\"version\":1,\"nodes\":[{\"name_b64\":\"YR==\",\"type\":\"file\",\"mode\":420}]}",
	    "name_b64" },			/* non-canonical padding bits */
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"name_b64\":\"YQ==\",\"type\":\"file\","
	    "\"mode\":420}]}", "name" },
	{ "{\"version\":1,\"nodes\":[{\"type\":\"file\",\"mode\":420}]}", "name" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420},"
	    "{\"name\":\"a\",\"type\":\"symlink\",\"mode\":511,\"target\":\"/etc\"}]}", "name" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"b\",\"type\":\"file\",\"mode\":420},"
	    "{\"name\":\"a\",\"type\":\"file\",\"mode\":420}]}", "name" },	/* unsorted */
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"door\",\"mode\":420}]}", "type" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"mode\":420}]}", "type" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":32768}]}", "mode" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\"}]}", "mode" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,"
	    "\"uid\":-1}]}", "uid" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,"
	    "\"size\":-5}]}", "size" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,"
	    "\"mtime\":\"x\"}]}", "mtime" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,"
	    "\"content\":[\"abcd\"]}]}", "content" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,"
	    "\"content\":[\"zz00000000000000000000000000000000000000000000000000000000000000\"]}]}",
	    "content" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"dir\",\"mode\":493}]}", "subtree" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"dir\",\"mode\":493,"
	    "\"subtree\":\"00\"}]}", "subtree" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,"
	    "\"subtree\":\"0000000000000000000000000000000000000000000000000000000000000000\"}]}",
	    "subtree" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"symlink\",\"mode\":511}]}",
	    "target" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"symlink\",\"mode\":511,"
	    "\"target\":\"\"}]}", "target" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,"
	    "\"target\":\"x\"}]}", "target" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"chardev\",\"mode\":420}]}",
	    "rdev" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,\"size\":100,"
	    "\"sparse\":[[50,60]]}]}", "sparse" },		/* past size */
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,\"size\":100,"
	    "\"sparse\":[[10,20],[15,5]]}]}", "sparse" },	/* overlap */
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,\"size\":100,"
	    "\"sparse\":[[50,10],[10,5]]}]}", "sparse" },	/* unsorted */
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,\"size\":100,"
	    "\"sparse\":[[10,0]]}]}", "sparse" },		/* empty */
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,\"size\":100,"
	    "\"sparse\":[[-1,5]]}]}", "sparse" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,\"size\":"
	    "9223372036854775807,\"sparse\":[[9223372036854775800,9223372036854775800]]}]}",
	    "sparse" },					/* off+len overflow */
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"dir\",\"mode\":493,\"sparse\":[],"
	    "\"subtree\":\"0000000000000000000000000000000000000000000000000000000000000000\"}]}",
	    "sparse" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,"
	    "\"xattrs\":[{\"name\":\"user.x\",\"value_b64\":\"***\"}]}]}", "xattrs" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,"
	    "\"xattrs\":[{\"name\":\"\",\"value_b64\":\"\"}]}]}", "xattrs" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,"
	    "\"xattrs\":[{\"name\":\"u.a\",\"value_b64\":\"\"},{\"name\":\"u.a\",\"value_b64\":\"\"}]}]}",
	    "xattrs" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,"
	    "\"colour\":1}]}", "colour" },
	{ "{\"version\":1,\"nodes\":[{\"name\":\"a\",\"type\":\"file\",\"mode\":420,"
	    "\"flags\":64}]}", "flags" },
	{ "{\"version\":1,\"nodes\":{}}", "nodes" },
	{ "{\"version\":1}", "nodes" },
	{ "{\"nodes\":[]}", "version" },
	{ "{\"version\":1,\"nodes\":[],\"extra\":1}", "nodes" },
	{ "{\"version\":1,\"nodes\":[1]}", "node" },
	{ "[1,2]", "(top)" },
};

static void
test_reject(void **state)
{
	struct ofs_tree t;
	struct ofs_error err;
	char want[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_trees) / sizeof(bad_trees[0]); i++) {
		const char *j = bad_trees[i].json;
		int r = ofs_tree_decode((const uint8_t *)j, strlen(j), "tree T", &t, &err);

		if (r != OFS_ERR_CORRUPT)
			fail_msg("case %zu accepted (r=%d): %s", i, r, j);
		snprintf(want, sizeof(want), "'%s'", bad_trees[i].field);
		if (strstr(err.msg, want) == NULL || strstr(err.msg, "tree T") == NULL)
			fail_msg("case %zu: message does not name %s: %s", i, want, err.msg);
		assert_int_equal(t.n, 0);
		assert_null(t.nodes);
	}
}

static void
test_reject_syntax_and_version(void **state)
{
	struct ofs_tree t;
	struct ofs_error err;
	const char *j;

	(void)state;
	j = "{\"version\":1,\"nodes\":[";
	assert_int_equal(ofs_tree_decode((const uint8_t *)j, strlen(j), "tree T", &t, &err),
	    OFS_ERR_CORRUPT);
	j = "{\"version\":1,\"version\":1,\"nodes\":[]}";
	assert_int_equal(ofs_tree_decode((const uint8_t *)j, strlen(j), "tree T", &t, &err),
	    OFS_ERR_CORRUPT);
	j = "{\"version\":2,\"nodes\":[]}";
	assert_int_equal(ofs_tree_decode((const uint8_t *)j, strlen(j), "tree T", &t, &err),
	    OFS_ERR_VERSION);
	assert_non_null(strstr(err.msg, "version 2"));
	j = "{\"version\":1,\"nodes\":[]}";
	assert_int_equal(ofs_tree_decode((const uint8_t *)j, strlen(j), "tree T", &t, &err), 0);
	assert_int_equal(t.n, 0);
	ofs_tree_release(&t);
}

/* The direct encoder writes exactly what jansson's compact, sorted dump writes, escapes
 * and names that are not UTF-8 included. */
static void
test_encode_matches_jansson(void **state)
{
	struct ofs_tree t;
	struct ofs_buf a = OFS_BUF_INIT(0), b = OFS_BUF_INIT(0);
	struct ofs_error err;
	struct ofs_node *n;
	char ctl[40];

	(void)state;
	build_tree(&t);
	n = ofs_tree_add(&t);	/* every character jansson escapes, and DEL */
	for (int i = 0; i < 32; i++)
		ctl[i] = (char)(i + 1);
	memcpy(ctl + 31, "\"\\\x7f\xc3\xa9", 5);
	set_name(n, ctl, 36);
	n->type = OFS_NODE_FILE;
	n->user = ofs_xstrdup("not-utf8-\xff");	/* left out, as json_string refuses it */
	n->group = ofs_xstrdup("gr\"oup\\");
	n->mtime_ns = INT64_MIN;
	n->size = 12;
	n->nxattrs = 1;
	n->xattrs = ofs_xcalloc(1, sizeof(*n->xattrs));
	n->xattrs[0].name = ofs_xstrdup("user.\"q\t");
	n->xattrs[0].value = (uint8_t *)ofs_xstrdup("");
	n = ofs_tree_add(&t);
	set_name(n, "blk", 3);
	n->type = OFS_NODE_BLK;
	n->rdev = UINT64_MAX;
	n->nlink = 3;
	n = ofs_tree_add(&t);
	set_name(n, "sock", 4);
	n->type = OFS_NODE_SOCK;
	n->mode = 0755;
	assert_int_equal(ofs_tree_encode(&t, &a, &err), 0);
	assert_int_equal(ofs_tree_encode_json(&t, &b, &err), 0);
	assert_int_equal(ofs_buf_cstr(&a), 0);
	assert_int_equal(ofs_buf_cstr(&b), 0);
	assert_string_equal((char *)a.data, (char *)b.data);
	assert_null(strstr((char *)a.data, "not-utf8"));
	ofs_tree_release(&t);
	ofs_buf_release(&a);
	ofs_buf_release(&b);
}

/* What offseed writes is read by the plain-form reader, to the same nodes as through
 * jansson. */
static void
test_plain_reads_what_offseed_writes(void **state)
{
	struct ofs_tree t, p, j;
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct ofs_error err;

	(void)state;
	build_tree(&t);
	assert_int_equal(ofs_tree_encode(&t, &b, &err), 0);
	assert_int_equal(ofs_tree_decode_plain(b.data, b.len, &p), 0);
	assert_int_equal(ofs_tree_decode_json(b.data, b.len, "tree x", &j, &err), 0);
	assert_int_equal(p.n, t.n);
	for (size_t i = 0; i < t.n; i++)
		assert_nodes_equal(&t.nodes[i], &p.nodes[i]);
	assert_true(ofs_tree_equal(&p, &j));
	/* a field changed in one copy is seen */
	p.nodes[2].mtime_ns++;
	assert_false(ofs_tree_equal(&p, &j));
	ofs_tree_release(&t);
	ofs_tree_release(&p);
	ofs_tree_release(&j);
	ofs_buf_release(&b);
}

/* Every malformed tree, also written in the plain form (compact, sorted keys), is declined
 * by the plain reader and refused by ofs_tree_decode with the field named. */
static void
test_plain_declines_bad(void **state)
{
	struct ofs_tree t;
	struct ofs_error err;
	char want[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_trees) / sizeof(bad_trees[0]); i++) {
		json_t *v = json_loads(bad_trees[i].json, 0, NULL);
		char *plain;

		assert_non_null(v);
		plain = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(v);
		if (ofs_tree_decode_plain((const uint8_t *)plain, strlen(plain), &t) != -1)
			fail_msg("case %zu accepted by the plain reader: %s", i, plain);
		assert_int_equal(t.n, 0);
		assert_null(t.nodes);
		assert_int_equal(ofs_tree_decode((const uint8_t *)plain, strlen(plain), "tree T", &t,
		    &err), OFS_ERR_CORRUPT);
		snprintf(want, sizeof(want), "'%s'", bad_trees[i].field);
		if (strstr(err.msg, want) == NULL)
			fail_msg("case %zu: message does not name %s: %s", i, want, err.msg);
		free(plain);
	}
}

/* Valid JSON outside the plain form (whitespace, other key order, escapes, integers the
 * plain reader does not take) is declined by it and read by jansson. */
static void
test_plain_declines_other_forms(void **state)
{
	static const char *const forms[] = {
		"{\"version\":1,\"nodes\":[]}",
		"{ \"nodes\":[],\"version\":1}",
		"{\"nodes\":[{\"mode\":420,\"name\":\"a\\\"b\",\"type\":\"file\"}],\"version\":1}",
		"{\"nodes\":[{\"mode\":420,\"name\":\"a\\u00e9\",\"type\":\"file\"}],\"version\":1}",
		"{\"nodes\":[{\"mode\":420,\"name\":\"a\",\"type\":\"file\"} ],\"version\":1}",
		"{\"nodes\":[{\"mode\":-0,\"name\":\"a\",\"type\":\"file\"}],\"version\":1}\n",
		"{\"nodes\":[{\"mode\":420,\"name\":\"a\",\"type\":\"file\",\"xattrs\":"
		    "[{\"value_b64\":\"\",\"name\":\"u.a\"}]}],\"version\":1}",
	};
	struct ofs_tree t, j;
	struct ofs_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		const uint8_t *f = (const uint8_t *)forms[i];

		if (ofs_tree_decode_plain(f, strlen(forms[i]), &t) != -1)
			fail_msg("form %zu accepted by the plain reader: %s", i, forms[i]);
		if (ofs_tree_decode(f, strlen(forms[i]), "tree T", &t, &err) != 0)
			fail_msg("form %zu refused: %s", i, err.msg);
		assert_int_equal(ofs_tree_decode_json(f, strlen(forms[i]), "tree T", &j, &err), 0);
		assert_true(ofs_tree_equal(&t, &j));
		ofs_tree_release(&t);
		ofs_tree_release(&j);
	}
}

static void
test_encode_refuses(void **state)
{
	struct ofs_tree t;
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct ofs_error err;
	struct ofs_node *n;

	(void)state;
	ofs_tree_init(&t);
	n = ofs_tree_add(&t);
	set_name(n, "..", 2);
	n->type = OFS_NODE_FILE;
	assert_int_not_equal(ofs_tree_encode(&t, &b, &err), 0);
	ofs_tree_release(&t);

	ofs_tree_init(&t);
	n = ofs_tree_add(&t);
	set_name(n, "x", 1);
	n->type = OFS_NODE_FILE;
	n = ofs_tree_add(&t);
	set_name(n, "x", 1);
	n->type = OFS_NODE_FIFO;
	assert_int_not_equal(ofs_tree_encode(&t, &b, &err), 0);
	assert_non_null(strstr(err.msg, "duplicate"));
	ofs_tree_release(&t);

	ofs_tree_init(&t);
	n = ofs_tree_add(&t);
	set_name(n, "s", 1);
	n->type = OFS_NODE_FILE;
	n->size = 10;
	n->sparse = 1;
	n->nextents = 1;
	n->extents = ofs_xcalloc(1, sizeof(*n->extents));
	n->extents[0].off = 5;
	n->extents[0].len = 6;
	assert_int_not_equal(ofs_tree_encode(&t, &b, &err), 0);
	ofs_tree_release(&t);
	assert_int_equal(b.len, 0);
	ofs_buf_release(&b);
}

static void
test_snapshot_roundtrip(void **state)
{
	struct ofs_snapshot s, u;
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct ofs_error err;
	char *paths[] = { "/home/a", "/srv" }, *tags[] = { "seed" };

	(void)state;
	memset(&s, 0, sizeof(s));
	s.time_ns = 1700000000000000123LL;
	s.host = "host1";
	s.user = "root";
	s.version = "0.1.0";
	s.paths = paths;
	s.npaths = 2;
	s.tags = tags;
	s.ntags = 1;
	memset(s.tree, 0x11, OFS_ID_LEN);
	s.has_parent = 1;
	memset(s.parent, 0x22, OFS_ID_LEN);
	s.has_seed_set = 1;
	memset(s.seed_set, 0x33, sizeof(s.seed_set));
	s.files = 10;
	s.dirs = 2;
	s.bytes = 1ULL << 40;
	s.bytes_new = 5;
	s.bytes_stored = 6;
	s.skipped = 1;
	assert_int_equal(ofs_snapshot_encode(&s, &b, &err), 0);
	assert_int_equal(ofs_buf_cstr(&b), 0);
	assert_non_null(strstr((char *)b.data, "\"time\":\"2023-11-14T22:13:20.000000123Z\""));
	assert_int_equal(ofs_snapshot_decode(b.data, b.len, "snapshot S", &u, &err), 0);
	assert_true(u.time_ns == s.time_ns);
	assert_string_equal(u.host, "host1");
	assert_string_equal(u.user, "root");
	assert_string_equal(u.version, "0.1.0");
	assert_int_equal(u.npaths, 2);
	assert_string_equal(u.paths[1], "/srv");
	assert_int_equal(u.ntags, 1);
	assert_string_equal(u.tags[0], "seed");
	assert_memory_equal(u.tree, s.tree, OFS_ID_LEN);
	assert_true(u.has_parent);
	assert_memory_equal(u.parent, s.parent, OFS_ID_LEN);
	assert_true(u.has_seed_set);
	assert_memory_equal(u.seed_set, s.seed_set, 16);
	assert_true(u.bytes == s.bytes);
	assert_int_equal(u.files, 10);
	assert_int_equal(u.skipped, 1);
	ofs_snapshot_release(&u);
	ofs_buf_release(&b);
}

static void
test_snapshot_reject(void **state)
{
	static const struct {
		const char *json, *field;
	} bad[] = {
		{ "{\"version\":1,\"time\":\"2023-11-14T22:13:20Z\",\"paths\":[]}", "tree" },
		{ "{\"version\":1,\"time\":\"yesterday\",\"paths\":[],\"tree\":"
		    "\"1111111111111111111111111111111111111111111111111111111111111111\"}", "time" },
		{ "{\"version\":1,\"time\":\"2023-11-14T22:13:20.1234567890Z\",\"paths\":[],\"tree\":"
		    "\"1111111111111111111111111111111111111111111111111111111111111111\"}", "time" },
		{ "{\"version\":1,\"time\":\"2023-11-14T22:13:20Z\",\"tree\":"
		    "\"1111111111111111111111111111111111111111111111111111111111111111\"}", "paths" },
		{ "{\"version\":1,\"time\":\"2023-11-14T22:13:20Z\",\"paths\":[1],\"tree\":"
		    "\"1111111111111111111111111111111111111111111111111111111111111111\"}", "paths" },
		{ "{\"version\":1,\"time\":\"2023-11-14T22:13:20Z\",\"paths\":[],\"tree\":\"11\"}",
		    "tree" },
		{ "{\"version\":1,\"time\":\"2023-11-14T22:13:20Z\",\"paths\":[],\"tree\":"
		    "\"1111111111111111111111111111111111111111111111111111111111111111\","
		    "\"seed_set\":\"1111111111111111111111111111111111111111111111111111111111111111\"}",
		    "seed_set" },
		{ "{\"version\":1,\"time\":\"2023-11-14T22:13:20Z\",\"paths\":[],\"tree\":"
		    "\"1111111111111111111111111111111111111111111111111111111111111111\","
		    "\"stats\":{\"files\":-1}}", "files" },
		{ "{\"version\":1,\"time\":\"2023-11-14T22:13:20Z\",\"paths\":[],\"tree\":"
		    "\"1111111111111111111111111111111111111111111111111111111111111111\","
		    "\"hostname\":\"x\"}", "hostname" },
		{ "{\"version\":1,\"time\":\"2023-11-14T22:13:20Z\",\"paths\":[],\"tree\":"
		    "\"1111111111111111111111111111111111111111111111111111111111111111\","
		    "\"host\":7}", "host" },
	};
	struct ofs_snapshot s;
	struct ofs_error err;
	char want[64];
	const char *j;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = ofs_snapshot_decode((const uint8_t *)bad[i].json, strlen(bad[i].json),
		    "snapshot S", &s, &err);
		if (r != OFS_ERR_CORRUPT)
			fail_msg("case %zu accepted (r=%d)", i, r);
		snprintf(want, sizeof(want), "'%s'", bad[i].field);
		if (strstr(err.msg, want) == NULL)
			fail_msg("case %zu: message does not name %s: %s", i, want, err.msg);
	}
	j = "{\"version\":9,\"time\":\"2023-11-14T22:13:20Z\",\"paths\":[],\"tree\":\"11\"}";
	assert_int_equal(ofs_snapshot_decode((const uint8_t *)j, strlen(j), "s", &s, &err),
	    OFS_ERR_VERSION);
	j = "{\"version\":1,\"time\":\"2023-11-14T22:13:20.5Z\",\"paths\":[\"/x\"],\"tree\":"
	    "\"1111111111111111111111111111111111111111111111111111111111111111\"}";
	assert_int_equal(ofs_snapshot_decode((const uint8_t *)j, strlen(j), "s", &s, &err), 0);
	assert_true(s.time_ns == 1700000000500000000LL);
	assert_false(s.has_parent);
	ofs_snapshot_release(&s);
}

/* Snapshot times: the text layer's strict RFC 3339 (OFS_TIME_UTC), upper-case T and Z as
 * snapshots have always been read, and the range of an int64 nanosecond count. */
static void
test_snapshot_time(void **state)
{
	static const char *const bad[] = {
		"2023-11-14t22:13:20Z", "2023-11-14T22:13:20z", "2023-11-14T22:13:20+00:00",
		"2023-11-14T22:13:20", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20.1234567890Z",
		"2023-1-14T22:13:20.5Z", "2023-11-14T2:13:20.50Z", "2023-11- 4T22:13:20.5Z",
		"2023-04-31T00:00:00Z", "2023-02-29T00:00:00Z", "2016-12-31T23:59:61Z",
		"2023-11-14T24:00:00Z", "1677-09-21T00:12:44Z", "2262-04-11T23:47:16Z", "",
	};
	int64_t ns;

	(void)state;
	assert_int_equal(ofs_parse_time_ns("2023-11-14T22:13:20.000000123Z", &ns), 0);
	assert_true(ns == 1700000000000000123LL);
	assert_int_equal(ofs_parse_time_ns("2024-02-29T00:00:00Z", &ns), 0);
	assert_true(ns == 1709164800000000000LL);
	assert_int_equal(ofs_parse_time_ns("2016-12-31T23:59:60Z", &ns), 0);	/* leap second */
	assert_true(ns == 1483228800000000000LL);
	/* whole seconds within ±9223372035 (int64 ns reaches 23:47:16.854775807) */
	assert_int_equal(ofs_parse_time_ns("2262-04-11T23:47:15.999999999Z", &ns), 0);
	assert_true(ns == 9223372035999999999LL);
	assert_int_equal(ofs_parse_time_ns("1677-09-21T00:12:45Z", &ns), 0);
	assert_true(ns == -9223372035000000000LL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ofs_parse_time_ns(bad[i], &ns) != -1)
			fail_msg("'%s' accepted", bad[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_name_ok),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_reject_syntax_and_version),
		cmocka_unit_test(test_encode_matches_jansson),
		cmocka_unit_test(test_plain_reads_what_offseed_writes),
		cmocka_unit_test(test_plain_declines_bad),
		cmocka_unit_test(test_plain_declines_other_forms),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_snapshot_roundtrip),
		cmocka_unit_test(test_snapshot_reject),
		cmocka_unit_test(test_snapshot_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
