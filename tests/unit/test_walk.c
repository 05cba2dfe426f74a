/* Source walker on a generated tree: byte order of entries, parent components of absolute
 * SRCs, merged SRCs, metadata (mode, owner, ns times, links, xattrs, symlink targets, sparse
 * extents, non-UTF-8 names), FIFOs never opened, excludes, entries vanishing mid-walk, speed.
 * walk.c is compiled in here (the unit-test link has only lib/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util.h"
#include "walk.h"

static char base[256];

struct ev {
	int ev;
	char path[1024];
	struct ofs_node node;
	struct stat st;
	char reason[256];
};

struct evs {
	struct ev *v;
	size_t n;
};

static void
put(const char *rel, const void *data, size_t n)
{
	char p[1024];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	assert_non_null(f = fopen(p, "wb"));
	if (n > 0)
		assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

static void
mk(const char *rel)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static char *
at(const char *rel)
{
	static char p[4][1024];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s%s%s", base, rel[0] ? "/" : "", rel);
	return p[k];
}

/* Walk srcs to the end, keeping every event. hook (may be NULL) runs after each event. */
static void
walk_all(const char **srcs, size_t n, struct ofs_walk_opts *o, struct evs *out,
    void (*hook)(struct ofs_walk_item *))
{
	struct ofs_walk *w;
	struct ofs_walk_item it;
	struct ofs_error err;

	memset(out, 0, sizeof(*out));
	assert_int_equal(ofs_walk_open(srcs, n, o, &w, &err), 0);
	for (;;) {
		struct ev *e;

		assert_int_equal(ofs_walk_next(w, &it, &err), 0);
		if (it.ev == OFS_WALK_END)
			break;
		out->v = ofs_xreallocarray(out->v, out->n + 1, sizeof(*out->v));
		e = &out->v[out->n++];
		memset(e, 0, sizeof(*e));
		e->ev = it.ev;
		snprintf(e->path, sizeof(e->path), "%s", it.path);
		if (it.reason)
			snprintf(e->reason, sizeof(e->reason), "%s", it.reason);
		e->st = it.st;
		ofs_walk_take_node(&it, &e->node);
		if (hook)
			hook(&it);
	}
	ofs_walk_free(w);
}

static void
evs_free(struct evs *e)
{
	for (size_t i = 0; i < e->n; i++)
		ofs_node_release(&e->v[i].node);
	free(e->v);
}

static struct ev *
find(struct evs *e, const char *path)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->v[i].path, path) == 0 && e->v[i].ev != OFS_WALK_DIR_LEAVE)
			return &e->v[i];
	return NULL;
}

static int
setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/ofs-walk-test.XXXXXX");
	assert_non_null(mkdtemp(base));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_order_and_parents(void **state)
{
	const char *src[1];
	struct evs e;
	struct stat st;
	size_t i, k = 0;
	/* byte order: uppercase < lowercase < UTF-8 é (0xc3) < 0xff */
	const char *want[] = { "B", "a", "a-dir", "b", "\xc3\xa9", "\xff\xfe" };

	(void)state;
	put("b", "x", 1);
	put("B", "x", 1);
	put("a", "x", 1);
	mk("a-dir");
	put("a-dir/inner", "y", 1);
	put("\xc3\xa9", "", 0);
	put("\xff\xfe", "bin", 3);
	src[0] = base;
	walk_all(src, 1, NULL, &e, NULL);

	/* /tmp, then the test folder, each a DIR_ENTER with the real directory's metadata */
	assert_true(e.n > 4);
	assert_int_equal(e.v[0].ev, OFS_WALK_DIR_ENTER);
	assert_string_equal(e.v[0].path, "/tmp");
	assert_int_equal(e.v[0].node.namelen, 3);
	assert_memory_equal(e.v[0].node.name, "tmp", 3);
	assert_int_equal(lstat("/tmp", &st), 0);
	assert_true(e.v[0].node.ino == st.st_ino);
	assert_int_equal(e.v[0].node.type, OFS_NODE_DIR);
	assert_int_equal(e.v[0].node.mode, st.st_mode & 07777);
	assert_int_equal(e.v[1].ev, OFS_WALK_DIR_ENTER);
	assert_string_equal(e.v[1].path, base);
	for (i = 2; i < e.n; i++) {
		if (e.v[i].ev == OFS_WALK_DIR_LEAVE || strchr(e.v[i].path + strlen(base) + 1, '/'))
			continue;
		assert_true(k < 6);
		assert_string_equal(e.v[i].path + strlen(base) + 1, want[k]);
		assert_int_equal(e.v[i].node.namelen, strlen(want[k]));
		assert_memory_equal(e.v[i].node.name, want[k], strlen(want[k]));
		k++;
	}
	assert_int_equal(k, 6);
	/* balanced: a-dir, base, /tmp */
	assert_int_equal(e.v[e.n - 1].ev, OFS_WALK_DIR_LEAVE);
	assert_int_equal(e.v[e.n - 2].ev, OFS_WALK_DIR_LEAVE);
	assert_non_null(find(&e, at("a-dir/inner")));
	assert_int_equal(find(&e, at("a-dir"))->ev, OFS_WALK_DIR_ENTER);
	evs_free(&e);
}

static void
test_metadata(void **state)
{
	const char *src[1];
	struct evs e;
	struct ev *v;
	struct timespec ts[2] = { { 1000000000, 111 }, { 1600000000, 123456789 } };
	char big[5000];
	int fd;

	(void)state;
	put("file", "hello", 5);
	assert_int_equal(chmod(at("file"), 04751), 0);
	assert_int_equal(utimensat(AT_FDCWD, at("file"), ts, 0), 0);
	assert_int_equal(setxattr(at("file"), "user.test", "v\0al", 4, 0), 0);
	assert_int_equal(link(at("file"), at("hard")), 0);
	assert_int_equal(symlink("../some/where\xff", at("link")), 0);
	assert_int_equal(mkfifo(at("fifo"), 0640), 0);
	memset(big, 'q', sizeof(big));
	assert_int_equal(symlink("dangling-target", at("dangling")), 0);
	/* sparse: 64 MiB with data at 0 and at 32 MiB */
	assert_true((fd = open(at("sparse"), O_CREAT | O_WRONLY, 0600)) >= 0);
	assert_int_equal(ftruncate(fd, 64 << 20), 0);
	assert_int_equal(pwrite(fd, big, 4096, 0), 4096);
	assert_int_equal(pwrite(fd, big, 5000, 32 << 20), 5000);
	close(fd);
	put("dense", big, sizeof(big));
	alarm(20);	/* a FIFO opened for reading would hang here */
	src[0] = base;
	walk_all(src, 1, NULL, &e, NULL);
	alarm(0);

	v = find(&e, at("file"));
	assert_non_null(v);
	assert_int_equal(v->ev, OFS_WALK_ENTRY);
	assert_int_equal(v->node.type, OFS_NODE_FILE);
	assert_int_equal(v->node.mode, 04751);
	assert_int_equal(v->node.size, 5);
	assert_true(v->node.mtime_ns == 1600000000123456789LL);
	assert_true(v->node.atime_ns == 1000000000000000111LL);
	assert_int_equal(v->node.nlink, 2);
	assert_int_equal(v->node.uid, getuid());
	assert_non_null(v->node.user);
	assert_true(v->node.ino == v->st.st_ino);
	assert_int_equal(v->node.nxattrs, 1);
	assert_string_equal(v->node.xattrs[0].name, "user.test");
	assert_int_equal(v->node.xattrs[0].len, 4);
	assert_memory_equal(v->node.xattrs[0].value, "v\0al", 4);
	assert_false(v->node.sparse);
	assert_true(find(&e, at("hard"))->node.ino == v->node.ino);

	v = find(&e, at("link"));
	assert_int_equal(v->node.type, OFS_NODE_SYMLINK);
	assert_int_equal(v->node.targetlen, 14);
	assert_memory_equal(v->node.target, "../some/where\xff", 14);
	assert_int_equal(find(&e, at("dangling"))->node.type, OFS_NODE_SYMLINK);

	v = find(&e, at("fifo"));
	assert_int_equal(v->ev, OFS_WALK_ENTRY);
	assert_int_equal(v->node.type, OFS_NODE_FIFO);
	assert_int_equal(v->node.mode, 0640);

	v = find(&e, at("sparse"));
	assert_true(v->node.sparse);
	assert_int_equal(v->node.nextents, 2);
	assert_true(v->node.extents[0].off == 0);
	assert_true(v->node.extents[0].len >= 4096 && v->node.extents[0].len < (32 << 20));
	assert_true(v->node.extents[1].off <= (32u << 20));
	assert_true(v->node.extents[1].off + v->node.extents[1].len >= (32u << 20) + 5000);
	assert_true(v->node.size == 64u << 20);
	assert_false(find(&e, at("dense"))->node.sparse);
	evs_free(&e);
}

/* The pre-scan's walk: the same entries and sizes, but none of the extra reads (owner
 * names, xattrs, symlink targets, extents) that make a full walk cost twice as much. */
static void
test_sizes_only(void **state)
{
	const char *src[1];
	struct ofs_walk_opts o;
	struct evs e;
	struct ev *v;
	int fd;

	(void)state;
	put("file", "hello", 5);
	assert_int_equal(setxattr(at("file"), "user.test", "val", 3, 0), 0);
	assert_int_equal(symlink("target", at("link")), 0);
	assert_true((fd = open(at("sparse"), O_CREAT | O_WRONLY, 0600)) >= 0);
	assert_int_equal(ftruncate(fd, 64 << 20), 0);
	assert_int_equal(pwrite(fd, "x", 1, 0), 1);
	close(fd);
	memset(&o, 0, sizeof(o));
	o.sizes_only = 1;
	src[0] = base;
	walk_all(src, 1, &o, &e, NULL);

	v = find(&e, at("file"));
	assert_non_null(v);
	assert_int_equal(v->node.type, OFS_NODE_FILE);
	assert_int_equal(v->node.size, 5);
	assert_int_equal(v->node.nxattrs, 0);
	assert_null(v->node.user);
	v = find(&e, at("link"));
	assert_int_equal(v->node.type, OFS_NODE_SYMLINK);
	assert_int_equal(v->node.size, 6);
	assert_null(v->node.target);
	v = find(&e, at("sparse"));
	assert_true(v->node.size == 64u << 20);
	assert_false(v->node.sparse);	/* extents not read: the caller uses st_blocks */
	assert_true((uint64_t)v->st.st_blocks * 512 < (1u << 20));
	evs_free(&e);
}

static void
test_merge_srcs(void **state)
{
	const char *src[4];
	struct evs e;
	size_t i;
	int depth = 0, enters_x = 0;

	(void)state;
	mk("x");
	mk("x/a");
	put("x/a/f1", "1", 1);
	mk("x/b");
	put("x/b/f2", "2", 1);
	put("x/c-file", "3", 1);
	mk("y");
	put("y/f3", "3", 1);
	src[0] = at("y");
	src[1] = at("x/b");
	src[2] = at("x/a");
	src[3] = at("x/c-file");
	walk_all(src, 4, NULL, &e, NULL);
	for (i = 0; i < e.n; i++) {
		if (e.v[i].ev == OFS_WALK_DIR_ENTER)
			depth++;
		if (e.v[i].ev == OFS_WALK_DIR_LEAVE)
			depth--;
		assert_true(depth >= 0);
		if (e.v[i].ev == OFS_WALK_DIR_ENTER && strcmp(e.v[i].path, at("x")) == 0)
			enters_x++;
	}
	assert_int_equal(depth, 0);
	assert_int_equal(enters_x, 1);		/* shared prefix merged */
	assert_non_null(find(&e, at("x/a/f1")));
	assert_non_null(find(&e, at("x/b/f2")));
	assert_non_null(find(&e, at("y/f3")));
	assert_int_equal(find(&e, at("x/c-file"))->ev, OFS_WALK_ENTRY);
	/* sorted: x/a before x/b before x/c-file before y */
	assert_true(find(&e, at("x/a")) < find(&e, at("x/b")));
	assert_true(find(&e, at("x/b")) < find(&e, at("x/c-file")));
	assert_true(find(&e, at("x/c-file")) < find(&e, at("y")));
	evs_free(&e);

	/* a SRC inside another SRC is covered once */
	src[0] = at("x");
	src[1] = at("x/a");
	walk_all(src, 2, NULL, &e, NULL);
	for (i = 0, enters_x = 0; i < e.n; i++)
		if (e.v[i].ev == OFS_WALK_DIR_ENTER && strcmp(e.v[i].path, at("x/a")) == 0)
			enters_x++;
	assert_int_equal(enters_x, 1);
	evs_free(&e);
}

static void
test_excludes(void **state)
{
	const char *src[1], *ex[] = { "*.log", "sub/skipme", "cache/" };
	struct ofs_walk_opts o;
	struct evs e;

	(void)state;
	put("keep.txt", "k", 1);
	put("drop.log", "d", 1);
	mk("sub");
	put("sub/skipme", "s", 1);
	put("sub/other", "o", 1);
	mk("cache");
	put("cache/x", "x", 1);
	put("cachefile", "x", 1);
	memset(&o, 0, sizeof(o));
	o.excludes = ex;
	o.nexcludes = 3;
	src[0] = base;
	walk_all(src, 1, &o, &e, NULL);
	assert_non_null(find(&e, at("keep.txt")));
	assert_null(find(&e, at("drop.log")));
	assert_null(find(&e, at("sub/skipme")));
	assert_non_null(find(&e, at("sub/other")));
	assert_null(find(&e, at("cache")));
	assert_null(find(&e, at("cache/x")));
	assert_non_null(find(&e, at("cachefile")));
	evs_free(&e);
}

/* Entries removed after their directory was listed: SKIP events, recorded, walk goes on. */
static void
remove_later(struct ofs_walk_item *it)
{
	char cmd[700];

	if (it->ev == OFS_WALK_DIR_ENTER && strcmp(it->path, at("d1")) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", at("d9"), at("z-file"));
		assert_int_equal(system(cmd), 0);
	}
}

static void
test_vanished(void **state)
{
	const char *src[1];
	struct ofs_walk_opts o;
	struct evs e;
	char *buf = NULL;
	size_t len = 0;
	FILE *sk;

	(void)state;
	mk("d1");
	put("d1/f", "f", 1);
	mk("d9");
	put("d9/f", "f", 1);
	put("z-file", "z", 1);
	put("zz", "z", 1);
	memset(&o, 0, sizeof(o));
	assert_non_null(sk = open_memstream(&buf, &len));
	o.skipped = sk;
	src[0] = base;
	walk_all(src, 1, &o, &e, remove_later);
	fclose(sk);
	assert_int_equal(find(&e, at("d9"))->ev, OFS_WALK_SKIP);
	assert_non_null(strstr(find(&e, at("d9"))->reason, "vanished"));
	assert_int_equal(find(&e, at("z-file"))->ev, OFS_WALK_SKIP);
	assert_int_equal(find(&e, at("zz"))->ev, OFS_WALK_ENTRY);
	assert_non_null(strstr(buf, "/d9\tvanished"));
	assert_non_null(strstr(buf, "/z-file\tvanished"));
	free(buf);
	evs_free(&e);
}

static void
test_missing_src(void **state)
{
	const char *src[1];
	struct ofs_walk *w;
	struct ofs_error err;

	(void)state;
	src[0] = at("does-not-exist");
	assert_int_equal(ofs_walk_open(src, 1, NULL, &w, &err), OFS_ERR_USAGE);
	assert_non_null(strstr(err.msg, "does-not-exist"));
}

/* 20k files in 100 directories: the warm walk must be quick. */
static void
test_speed(void **state)
{
	const char *src[1];
	struct ofs_walk *w;
	struct ofs_walk_item it;
	struct ofs_error err;
	char p[600];
	size_t n = 0;
	double t0, el;

	(void)state;
	for (int d = 0; d < 100; d++) {
		snprintf(p, sizeof(p), "d%03d", d);
		mk(p);
		for (int f = 0; f < 200; f++) {
			int fd;
			snprintf(p, sizeof(p), "%s/d%03d/f%04d", base, d, f);
			assert_true((fd = open(p, O_CREAT | O_WRONLY, 0644)) >= 0);
			close(fd);
		}
	}
	src[0] = base;
	for (int pass = 0; pass < 2; pass++) {	/* the first pass warms the caches */
		n = 0;
		t0 = ofs_mono();
		assert_int_equal(ofs_walk_open(src, 1, NULL, &w, &err), 0);
		while (ofs_walk_next(w, &it, &err) == 0 && it.ev != OFS_WALK_END)
			n += it.ev == OFS_WALK_ENTRY;
		ofs_walk_free(w);
		el = ofs_mono() - t0;
	}
	assert_int_equal(n, 20000);
	print_message("walked 20000 files in %.3f s\n", el);
	assert_true(el < 2.0);	/* ~0.1 s on the dev VM; generous for sanitizer builds */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_and_parents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sizes_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_srcs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_excludes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vanished, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_src, setup, teardown),
		cmocka_unit_test_setup_teardown(test_speed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
