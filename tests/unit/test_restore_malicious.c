/* Restore engine against an in-memory source: crafted snapshots ("..", absolute and
 * slash-bearing names, duplicate names, symlinks planted in the target) never write outside
 * the target; damaged chunks fail only their file; sparse and multi-chunk files come back
 * exact. restore.c is compiled in here (the unit-test link has only lib/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>

#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "restore.h"
#include "util.h"

/* ---- fake source: trees and blobs by id ---- */

struct fake_tree {
	uint8_t id[OFS_ID_LEN];
	struct ofs_tree t;
};

struct fake_blob {
	uint8_t id[OFS_ID_LEN];
	uint8_t *p;
	size_t n;
	int bad;	/* read fails like a failed authentication */
};

struct fake {
	struct fake_tree trees[32];
	size_t ntrees;
	struct fake_blob blobs[256];
	size_t nblobs;
	int sizes_known;
	int reads;
	pthread_mutex_t mu;
};

static struct fake F;
static char base[256], target[300], outside[300];

static void
mkid(uint8_t id[OFS_ID_LEN], int kind, int n)
{
	memset(id, 0, OFS_ID_LEN);
	id[0] = (uint8_t)kind;
	id[1] = (uint8_t)(n >> 8);
	id[2] = (uint8_t)n;
}

static void
node_copy(struct ofs_node *d, const struct ofs_node *s)
{
	*d = *s;
	d->name = ofs_xmalloc(s->namelen + 1);
	memcpy(d->name, s->name, s->namelen);
	d->name[s->namelen] = 0;
	d->user = s->user ? ofs_xstrdup(s->user) : NULL;
	d->group = s->group ? ofs_xstrdup(s->group) : NULL;
	if (s->target != NULL) {
		d->target = ofs_xmalloc(s->targetlen + 1);
		memcpy(d->target, s->target, s->targetlen);
	}
	if (s->nchunks) {
		d->chunks = ofs_xcalloc(s->nchunks, OFS_ID_LEN);
		memcpy(d->chunks, s->chunks, s->nchunks * OFS_ID_LEN);
	}
	if (s->nextents) {
		d->extents = ofs_xcalloc(s->nextents, sizeof(*d->extents));
		memcpy(d->extents, s->extents, s->nextents * sizeof(*d->extents));
	}
	if (s->nxattrs) {
		d->xattrs = ofs_xcalloc(s->nxattrs, sizeof(*d->xattrs));
		for (size_t i = 0; i < s->nxattrs; i++) {
			d->xattrs[i].name = ofs_xstrdup(s->xattrs[i].name);
			d->xattrs[i].value = ofs_xmalloc(s->xattrs[i].len + 1);
			memcpy(d->xattrs[i].value, s->xattrs[i].value, s->xattrs[i].len);
			d->xattrs[i].len = s->xattrs[i].len;
		}
	}
}

static int
byname(const void *a, const void *b)
{
	const struct ofs_node *x = a, *y = b;
	size_t m = x->namelen < y->namelen ? x->namelen : y->namelen;
	int c = memcmp(x->name, y->name, m);

	return c ? c : (x->namelen > y->namelen) - (x->namelen < y->namelen);
}

/* Trees come back sorted by name, as the decoder guarantees (duplicates stay in). */
static int
fake_load_tree(void *ud, void *ctx, const uint8_t id[OFS_ID_LEN], struct ofs_tree *t,
    struct ofs_error *err)
{
	struct fake *f = ud;

	(void)ctx;
	ofs_tree_init(t);
	for (size_t i = 0; i < f->ntrees; i++) {
		if (memcmp(f->trees[i].id, id, OFS_ID_LEN) != 0)
			continue;
		for (size_t k = 0; k < f->trees[i].t.n; k++)
			node_copy(ofs_tree_add(t), &f->trees[i].t.nodes[k]);
		if (t->n > 1)
			qsort(t->nodes, t->n, sizeof(t->nodes[0]), byname);
		return 0;
	}
	return ofs_err_set(err, OFS_ERR_CORRUPT, "tree not found");
}

static int
fake_read_blob(void *ud, void *ctx, const uint8_t id[OFS_ID_LEN], struct ofs_buf *out,
    struct ofs_error *err)
{
	struct fake *f = ud;

	(void)ctx;
	pthread_mutex_lock(&f->mu);
	f->reads++;
	pthread_mutex_unlock(&f->mu);
	for (size_t i = 0; i < f->nblobs; i++) {
		if (memcmp(f->blobs[i].id, id, OFS_ID_LEN) != 0)
			continue;
		if (f->blobs[i].bad)
			return ofs_err_set(err, OFS_ERR_CORRUPT, "blob fails authentication");
		return ofs_buf_add(out, f->blobs[i].p, f->blobs[i].n);
	}
	return ofs_err_set(err, OFS_ERR_CORRUPT, "blob not in the index");
}

static int
fake_blob_size(void *ud, const uint8_t id[OFS_ID_LEN], uint64_t *size)
{
	struct fake *f = ud;

	for (size_t i = 0; i < f->nblobs; i++)
		if (memcmp(f->blobs[i].id, id, OFS_ID_LEN) == 0) {
			*size = f->blobs[i].n;
			return 0;
		}
	return -1;
}

static struct ofs_restore_src
fake_src(void)
{
	struct ofs_restore_src s;

	memset(&s, 0, sizeof(s));
	s.ud = &F;
	s.load_tree = fake_load_tree;
	s.read_blob = fake_read_blob;
	s.blob_size = F.sizes_known ? fake_blob_size : NULL;
	return s;
}

/* Tree number n (id kind 'T'). */
static struct ofs_tree *
tree(int n, uint8_t id[OFS_ID_LEN])
{
	struct fake_tree *ft = &F.trees[F.ntrees++];

	mkid(ft->id, 'T', n);
	ofs_tree_init(&ft->t);
	if (id != NULL)
		memcpy(id, ft->id, OFS_ID_LEN);
	return &ft->t;
}

static struct ofs_node *
add(struct ofs_tree *t, const void *name, size_t len, int type, uint32_t mode)
{
	struct ofs_node *n = ofs_tree_add(t);

	n->name = ofs_xmalloc(len + 1);
	memcpy(n->name, name, len);
	n->name[len] = 0;
	n->namelen = len;
	n->type = type;
	n->mode = mode;
	n->mtime_ns = 1600000000123456789LL;
	n->atime_ns = 1600000000000000000LL;
	n->nlink = 1;
	return n;
}

static struct ofs_node *
add_s(struct ofs_tree *t, const char *name, int type, uint32_t mode)
{
	return add(t, name, strlen(name), type, mode);
}

/* A data blob with `len` bytes of pattern `seed`; returns its number. */
static int
blob(int seed, size_t len)
{
	struct fake_blob *b = &F.blobs[F.nblobs];

	mkid(b->id, 'B', (int)F.nblobs);
	b->p = ofs_xmalloc(len);
	for (size_t i = 0; i < len; i++)
		b->p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 9));
	b->n = len;
	return (int)F.nblobs++;
}

static void
set_content(struct ofs_node *n, const int *blobs, size_t nb)
{
	n->nchunks = nb;
	n->chunks = ofs_xcalloc(nb, OFS_ID_LEN);
	n->size = 0;
	for (size_t i = 0; i < nb; i++) {
		memcpy(n->chunks[i], F.blobs[blobs[i]].id, OFS_ID_LEN);
		n->size += F.blobs[blobs[i]].n;
	}
}

static void
subtree(struct ofs_node *n, const uint8_t id[OFS_ID_LEN])
{
	n->has_subtree = 1;
	memcpy(n->subtree, id, OFS_ID_LEN);
}

static int
setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	pthread_mutex_init(&F.mu, NULL);
	F.sizes_known = 1;
	snprintf(base, sizeof(base), "/tmp/ofs-restore-test.XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(target, sizeof(target), "%s/target", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	assert_int_equal(mkdir(outside, 0755), 0);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[700];

	(void)state;
	for (size_t i = 0; i < F.ntrees; i++)
		ofs_tree_release(&F.trees[i].t);
	for (size_t i = 0; i < F.nblobs; i++)
		free(F.blobs[i].p);
	pthread_mutex_destroy(&F.mu);
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", base, base);
	if (system(cmd) != 0)
		return -1;
	return 0;
}

static int
run(const uint8_t root[OFS_ID_LEN], const char *sub, int overwrite,
    struct ofs_restore_stats *st)
{
	struct ofs_restore_src src = fake_src();
	struct ofs_restore_opts o;
	struct ofs_error err;

	memset(&o, 0, sizeof(o));
	o.target = target;
	o.overwrite = overwrite;
	o.threads = 3;
	return ofs_restore_run(&src, root, sub, &o, st, &err);
}

/* Nothing but `target` and `outside` in base, and outside is empty (or holds `keep`). */
static void
assert_nothing_outside(const char *keep)
{
	DIR *d;
	struct dirent *e;
	int n = 0;

	assert_non_null(d = opendir(base));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "target") && strcmp(e->d_name, "outside"))
			fail_msg("'%s' was created outside the target", e->d_name);
	closedir(d);
	assert_non_null(d = opendir(outside));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    (keep == NULL || strcmp(e->d_name, keep) != 0))
			fail_msg("'%s' was written into the outside folder", e->d_name);
		else if (keep != NULL && strcmp(e->d_name, keep) == 0)
			n++;
	closedir(d);
	if (keep != NULL)
		assert_int_equal(n, 1);
}

static void
test_bad_names(void **state)
{
	uint8_t root[OFS_ID_LEN];
	struct ofs_tree *t = tree(1, root);
	struct ofs_restore_stats st;
	int b = blob(1, 100);
	char p[400];
	struct stat sb;

	(void)state;
	set_content(add_s(t, "..", OFS_NODE_FILE, 0644), &b, 1);
	set_content(add_s(t, ".", OFS_NODE_FILE, 0644), &b, 1);
	set_content(add_s(t, "../outside/evil", OFS_NODE_FILE, 0644), &b, 1);
	snprintf(p, sizeof(p), "%s/abs-evil", outside);
	set_content(add_s(t, p, OFS_NODE_FILE, 0644), &b, 1);
	set_content(add(t, "ok\0../x", 7, OFS_NODE_FILE, 0644), &b, 1);
	set_content(add_s(t, "good", OFS_NODE_FILE, 0644), &b, 1);
	add_s(t, "", OFS_NODE_FIFO, 0644);
	assert_int_equal(run(root, "", OFS_OVERWRITE_IF_CHANGED, &st), OFS_ERR_CORRUPT);
	assert_int_equal(st.damaged, 6);
	assert_int_equal(st.files, 1);
	snprintf(p, sizeof(p), "%s/good", target);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_size, 100);
	snprintf(p, sizeof(p), "%s/ok", target);
	assert_int_not_equal(lstat(p, &sb), 0);
	assert_nothing_outside(NULL);
	ofs_restore_stats_release(&st);
}

/* A symlink to the outside and a directory of the same name after it (duplicate names):
 * the tree is refused, nothing goes through the link. */
static void
test_symlink_then_dir(void **state)
{
	uint8_t root[OFS_ID_LEN], sub[OFS_ID_LEN];
	struct ofs_tree *t = tree(1, root), *s = tree(2, sub);
	struct ofs_restore_stats st;
	struct ofs_node *n;
	int b = blob(2, 10);

	(void)state;
	n = add_s(t, "x", OFS_NODE_SYMLINK, 0777);
	n->target = (uint8_t *)ofs_xstrdup(outside);
	n->targetlen = strlen(outside);
	subtree(add_s(t, "x", OFS_NODE_DIR, 0755), sub);
	set_content(add_s(s, "pwned", OFS_NODE_FILE, 0644), &b, 1);
	assert_int_equal(run(root, "", OFS_OVERWRITE_IF_CHANGED, &st), OFS_ERR_CORRUPT);
	assert_nothing_outside(NULL);
	ofs_restore_stats_release(&st);

	/* the same, with the names in separate trees restored one after the other */
	ofs_node_release(&F.trees[0].t.nodes[1]);
	F.trees[0].t.n = 1;	/* only the symlink */
	assert_int_equal(run(root, "", OFS_OVERWRITE_IF_CHANGED, &st), 0);
	ofs_restore_stats_release(&st);
	free(F.trees[0].t.nodes[0].target);
	F.trees[0].t.nodes[0].target = NULL;
	F.trees[0].t.nodes[0].targetlen = 0;
	F.trees[0].t.nodes[0].type = OFS_NODE_DIR;	/* now "x" is a directory */
	subtree(&F.trees[0].t.nodes[0], sub);
	assert_int_equal(run(root, "", OFS_OVERWRITE_IF_CHANGED, &st), 0);
	assert_int_equal(st.files, 1);
	assert_nothing_outside(NULL);
	ofs_restore_stats_release(&st);
}

/* Symlinks planted in the target before the restore are replaced, never followed. */
static void
test_planted_symlinks(void **state)
{
	uint8_t root[OFS_ID_LEN], sub[OFS_ID_LEN];
	struct ofs_tree *t = tree(1, root), *s = tree(2, sub);
	struct ofs_restore_stats st;
	int b = blob(3, 4000);
	char p[400], q[400];
	struct stat sb;
	int fd;

	(void)state;
	subtree(add_s(t, "d", OFS_NODE_DIR, 0755), sub);
	set_content(add_s(t, "f", OFS_NODE_FILE, 0644), &b, 1);
	set_content(add_s(s, "inner", OFS_NODE_FILE, 0644), &b, 1);
	assert_int_equal(mkdir(target, 0755), 0);
	snprintf(q, sizeof(q), "%s/victim", outside);
	assert_true((fd = open(q, O_CREAT | O_WRONLY, 0644)) >= 0);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);
	snprintf(p, sizeof(p), "%s/f", target);
	assert_int_equal(symlink(q, p), 0);		/* target/f -> outside/victim */
	snprintf(p, sizeof(p), "%s/d", target);
	assert_int_equal(symlink(outside, p), 0);	/* target/d -> outside */

	/* --overwrite never keeps both links and writes nothing through them */
	assert_int_equal(run(root, "", OFS_OVERWRITE_NEVER, &st), OFS_ERR_SKIPPED);
	assert_nothing_outside("victim");
	assert_int_equal(stat(q, &sb), 0);
	assert_int_equal(sb.st_size, 8);
	ofs_restore_stats_release(&st);

	/* default: the links are replaced by the real entries */
	assert_int_equal(run(root, "", OFS_OVERWRITE_IF_CHANGED, &st), 0);
	assert_nothing_outside("victim");
	assert_int_equal(stat(q, &sb), 0);
	assert_int_equal(sb.st_size, 8);
	snprintf(p, sizeof(p), "%s/f", target);
	assert_int_equal(lstat(p, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_size, 4000);
	snprintf(p, sizeof(p), "%s/d/inner", target);
	assert_int_equal(lstat(p, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	ofs_restore_stats_release(&st);
}

/* A hard link whose first path is a symlink to the outside links the symlink itself. */
static void
test_hardlink_to_symlink(void **state)
{
	uint8_t root[OFS_ID_LEN];
	struct ofs_tree *t = tree(1, root);
	struct ofs_restore_stats st;
	struct ofs_node *n;
	int b = blob(4, 50);
	char p[400];
	struct stat sb;

	(void)state;
	n = add_s(t, "a", OFS_NODE_SYMLINK, 0777);
	n->target = (uint8_t *)ofs_xstrdup(outside);
	n->targetlen = strlen(outside);
	n->nlink = 2;
	n->ino = 77;
	n = add_s(t, "b", OFS_NODE_FILE, 0644);
	set_content(n, &b, 1);
	n->nlink = 2;
	n->ino = 77;
	assert_int_equal(run(root, "", OFS_OVERWRITE_IF_CHANGED, &st), 0);
	assert_nothing_outside(NULL);
	snprintf(p, sizeof(p), "%s/b", target);
	assert_int_equal(lstat(p, &sb), 0);
	assert_false(S_ISDIR(sb.st_mode));
	ofs_restore_stats_release(&st);
}

static void
test_damaged_chunk(void **state)
{
	uint8_t root[OFS_ID_LEN];
	struct ofs_tree *t = tree(1, root);
	struct ofs_restore_stats st;
	int good[3], bad[3];
	char p[400];
	struct stat sb;

	(void)state;
	for (int i = 0; i < 3; i++) {
		good[i] = blob(10 + i, 70000);
		bad[i] = blob(20 + i, 70000);
	}
	F.blobs[bad[1]].bad = 1;
	set_content(add_s(t, "broken", OFS_NODE_FILE, 0644), bad, 3);
	set_content(add_s(t, "fine", OFS_NODE_FILE, 0644), good, 3);
	assert_int_equal(run(root, "", OFS_OVERWRITE_IF_CHANGED, &st), OFS_ERR_CORRUPT);
	assert_int_equal(st.damaged, 1);
	assert_int_equal(st.ndamaged_paths, 1);
	assert_string_equal(st.damaged_paths[0], "/broken");
	assert_int_equal(st.files, 1);
	snprintf(p, sizeof(p), "%s/broken", target);
	assert_int_not_equal(lstat(p, &sb), 0);		/* removed, not half-written */
	snprintf(p, sizeof(p), "%s/fine", target);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_size, 210000);
	ofs_restore_stats_release(&st);
}

static void
check_content(const char *path, const int *blobs, size_t nb)
{
	struct ofs_buf got = OFS_BUF_INIT(0);
	struct ofs_error err;
	size_t off = 0;

	assert_int_equal(ofs_buf_read_file(&got, path, &err), 0);
	for (size_t i = 0; i < nb; i++) {
		const struct fake_blob *b = &F.blobs[blobs[i]];
		assert_true(off + b->n <= got.len);
		assert_memory_equal(got.data + off, b->p, b->n);
		off += b->n;
	}
	assert_int_equal(off, got.len);
	ofs_buf_release(&got);
}

/* Many chunks written in parallel (sizes known) and in order (sizes unknown). */
static void
test_multichunk(void **state)
{
	uint8_t root[OFS_ID_LEN];
	struct ofs_tree *t = tree(1, root);
	struct ofs_restore_stats st;
	int bl[60];
	char p[400];

	(void)state;
	for (int i = 0; i < 60; i++)
		bl[i] = blob(100 + i, 1000 + (size_t)i * 997);
	set_content(add_s(t, "big", OFS_NODE_FILE, 0640), bl, 60);
	for (int pass = 0; pass < 2; pass++) {
		F.sizes_known = pass == 0;
		assert_int_equal(run(root, "", OFS_OVERWRITE_ALWAYS, &st), 0);
		snprintf(p, sizeof(p), "%s/big", target);
		check_content(p, bl, 60);
		ofs_restore_stats_release(&st);
	}
}

/* Sparse file: content = data extents concatenated; holes stay holes. */
static void
test_sparse(void **state)
{
	uint8_t root[OFS_ID_LEN];
	struct ofs_tree *t = tree(1, root);
	struct ofs_restore_stats st;
	struct ofs_node *n;
	int bl[2];
	char p[400];
	struct stat sb;
	uint8_t buf[8192];
	int fd;

	(void)state;
	bl[0] = blob(7, 4096);
	bl[1] = blob(8, 8192);
	n = add_s(t, "sparse", OFS_NODE_FILE, 0600);
	set_content(n, bl, 2);
	n->size = 1ULL << 30;
	n->sparse = 1;
	n->nextents = 2;
	n->extents = ofs_xcalloc(2, sizeof(*n->extents));
	n->extents[0].off = 4096;
	n->extents[0].len = 4096;
	n->extents[1].off = 512ULL << 20;
	n->extents[1].len = 8192;
	n = add_s(t, "allhole", OFS_NODE_FILE, 0600);
	n->size = 1 << 20;
	n->sparse = 1;
	assert_int_equal(run(root, "", OFS_OVERWRITE_IF_CHANGED, &st), 0);
	assert_int_equal(st.files, 2);
	snprintf(p, sizeof(p), "%s/sparse", target);
	assert_int_equal(stat(p, &sb), 0);
	assert_true(sb.st_size == (off_t)(1ULL << 30));
	assert_true(sb.st_blocks * 512 < 1024 * 1024);	/* holes stayed holes */
	assert_true((fd = open(p, O_RDONLY)) >= 0);
	assert_int_equal(pread(fd, buf, 4096, 4096), 4096);
	assert_memory_equal(buf, F.blobs[bl[0]].p, 4096);
	assert_int_equal(pread(fd, buf, 8192, 512LL << 20), 8192);
	assert_memory_equal(buf, F.blobs[bl[1]].p, 8192);
	assert_int_equal(pread(fd, buf, 16, 0), 16);
	for (int i = 0; i < 16; i++)
		assert_int_equal(buf[i], 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/allhole", target);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_size, 1 << 20);
	assert_int_equal(sb.st_blocks, 0);
	ofs_restore_stats_release(&st);
}

/* Metadata: mode with setuid, times in ns, xattrs, FIFO, subpath selection. */
static void
test_metadata_and_subpath(void **state)
{
	uint8_t root[OFS_ID_LEN], sub[OFS_ID_LEN];
	struct ofs_tree *t = tree(1, root), *s = tree(2, sub);
	struct ofs_restore_stats st;
	struct ofs_node *n;
	int b = blob(9, 123);
	char p[400], v[32];
	struct stat sb;

	(void)state;
	subtree(add_s(t, "home", OFS_NODE_DIR, 0751), sub);
	n = add_s(s, "prog", OFS_NODE_FILE, 04755);
	set_content(n, &b, 1);
	n->nxattrs = 1;
	n->xattrs = ofs_xcalloc(1, sizeof(*n->xattrs));
	n->xattrs[0].name = ofs_xstrdup("user.k");
	n->xattrs[0].value = (uint8_t *)ofs_xstrdup("val");
	n->xattrs[0].len = 3;
	add_s(s, "pipe", OFS_NODE_FIFO, 0640);
	assert_int_equal(run(root, "/home", OFS_OVERWRITE_IF_CHANGED, &st), 0);
	snprintf(p, sizeof(p), "%s/prog", target);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 04755);
	assert_true(sb.st_mtim.tv_sec == 1600000000 && sb.st_mtim.tv_nsec == 123456789);
	assert_int_equal(getxattr(p, "user.k", v, sizeof(v)), 3);
	assert_memory_equal(v, "val", 3);
	snprintf(p, sizeof(p), "%s/pipe", target);
	assert_int_equal(lstat(p, &sb), 0);
	assert_true(S_ISFIFO(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0640);
	ofs_restore_stats_release(&st);

	/* a single file by path, and a path that does not exist */
	assert_int_equal(run(root, "/home/prog", OFS_OVERWRITE_ALWAYS, &st), 0);
	assert_int_equal(st.files, 1);
	ofs_restore_stats_release(&st);
	assert_int_equal(run(root, "/home/nothing", OFS_OVERWRITE_ALWAYS, &st), OFS_ERR_NOTFOUND);
	ofs_restore_stats_release(&st);
	/* if-changed: size and mtime match, nothing is read again */
	F.reads = 0;
	assert_int_equal(run(root, "/home", OFS_OVERWRITE_IF_CHANGED, &st), 0);
	assert_int_equal(F.reads, 0);
	assert_int_equal(st.unchanged, 2);
	ofs_restore_stats_release(&st);
}

static void
test_include_exclude(void **state)
{
	uint8_t root[OFS_ID_LEN], sub[OFS_ID_LEN];
	struct ofs_tree *t = tree(1, root), *s = tree(2, sub);
	struct ofs_restore_stats st;
	struct ofs_restore_src src;
	struct ofs_restore_opts o;
	struct ofs_error err;
	const char *inc[] = { "*.txt" }, *exc[] = { "/d/skip*" };
	int b = blob(5, 10);
	char p[400];
	struct stat sb;

	(void)state;
	subtree(add_s(t, "d", OFS_NODE_DIR, 0755), sub);
	set_content(add_s(t, "top.bin", OFS_NODE_FILE, 0644), &b, 1);
	set_content(add_s(s, "a.txt", OFS_NODE_FILE, 0644), &b, 1);
	set_content(add_s(s, "b.bin", OFS_NODE_FILE, 0644), &b, 1);
	set_content(add_s(s, "skip.txt", OFS_NODE_FILE, 0644), &b, 1);
	src = fake_src();
	memset(&o, 0, sizeof(o));
	o.target = target;
	o.includes = inc;
	o.nincludes = 1;
	o.excludes = exc;
	o.nexcludes = 1;
	assert_int_equal(ofs_restore_run(&src, root, "", &o, &st, &err), 0);
	assert_int_equal(st.files, 1);
	snprintf(p, sizeof(p), "%s/d/a.txt", target);
	assert_int_equal(stat(p, &sb), 0);
	snprintf(p, sizeof(p), "%s/d/b.bin", target);
	assert_int_not_equal(stat(p, &sb), 0);
	snprintf(p, sizeof(p), "%s/d/skip.txt", target);
	assert_int_not_equal(stat(p, &sb), 0);
	snprintf(p, sizeof(p), "%s/top.bin", target);
	assert_int_not_equal(stat(p, &sb), 0);
	ofs_restore_stats_release(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_then_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hardlink_to_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_chunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multichunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sparse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metadata_and_subpath, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_exclude, setup, teardown),
	};

	/* No log sink is installed: the library prints nothing, not even progress. */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
