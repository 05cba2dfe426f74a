/* The stage's catalog of files in memory, and the byte codec of the catalog records, the
 * journal segment plaintext and the catalog file plaintext (FORMAT.md section 16): no I/O
 * and no keys here (the sealing is stage_journal.c's), so the decoders are fuzzed alone
 * (tests/fuzz/fuzz_journal.c) and the encoding is pinned by a golden file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "stage_int.h"

#define POOL_BLOCK (1u << 20)
#define CATALOG_DROP_EVERY 65536	/* lookups between two ofs_stg_cat_drop */

/* n bytes (8-aligned) from the catalog's pool; freed only with the catalog. */
static void *
cat_alloc(struct catalog *c, size_t n)
{
	void *p;

	n = (n + 7) & ~(size_t)7;
	if (n == 0)
		n = 8;
	if (n > c->pool_left) {
		size_t len = n > POOL_BLOCK ? (n + 4095) & ~(size_t)4095 : POOL_BLOCK;
		void *b = MAP_FAILED;

		/* the file's blocks are allocated first: a shared mapping of a hole on a full
		 * file system would fault at the first write; without room, memory it is */
		int file = 0;

		if (c->backed && fallocate(c->fd, 0, (off_t)c->flen, (off_t)len) == 0 &&
		    (b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd,
		    (off_t)c->flen)) != MAP_FAILED) {
			c->flen += len;
			file = 1;
		}
		if (b == MAP_FAILED)
			b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
		if (b == MAP_FAILED)
			abort();	/* out of memory, like ofs_xmalloc */
		c->blocks = ofs_xreallocarray(c->blocks, c->nblocks + 1, sizeof(*c->blocks));
		c->block_len = ofs_xreallocarray(c->block_len, c->nblocks + 1,
		    sizeof(*c->block_len));
		c->block_file = ofs_xreallocarray(c->block_file, c->nblocks + 1, 1);
		c->blocks[c->nblocks] = b;
		c->block_file[c->nblocks] = (uint8_t)file;
		c->block_len[c->nblocks++] = len;
		c->pool = b;
		c->pool_left = len;
	}
	p = c->pool;
	c->pool += n;
	c->pool_left -= n;
	return p;
}

/* Copy bl into e (as "same" when its base list is the entry's chunk list). */
static void
bl_copy(struct catalog *cat, struct cat_entry *e, const struct baseline *bl)
{
	struct baseline *c;

	e->bl = NULL;
	if (bl == NULL || bl->nblocks == 0)
		return;
	c = e->bl = cat_alloc(cat, sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->nblocks = bl->nblocks;
	c->blocks = cat_alloc(cat, (size_t)bl->nblocks * sizeof(*bl->blocks));
	memcpy(c->blocks, bl->blocks, bl->nblocks * sizeof(*bl->blocks));
	if (bl->same || (bl->nbase == e->nchunks && (e->nchunks == 0 ||
	    memcmp(bl->base, e->chunks, (size_t)e->nchunks * OFS_ID_LEN) == 0))) {
		c->same = 1;
		return;
	}
	c->nbase = bl->nbase;
	c->base = cat_alloc(cat, (size_t)bl->nbase * OFS_ID_LEN);
	memcpy(c->base, bl->base, (size_t)bl->nbase * OFS_ID_LEN);
}

/* The baseline of e (which has one) with its base list spelled out (pointers into e). */
struct baseline
ofs_stg_bl_of(const struct cat_entry *e)
{
	struct baseline b = *e->bl;

	if (b.same) {
		b.base = e->chunks;
		b.nbase = e->nchunks;
		b.same = 0;
	}
	return b;
}

/* Double the entry array: mapped, grown by mremap (no copy, no hole in the heap); a shared
 * mapping of efd while its file can grow, else memory (the entries copied over once). */
static void
grow_entries(struct catalog *c)
{
	size_t ncap = c->cap ? 2 * c->cap : 4096, old = c->cap * sizeof(*c->e);
	size_t want = ncap * sizeof(*c->e);
	void *p = MAP_FAILED;

	if (c->e_file && fallocate(c->efd, 0, 0, (off_t)want) == 0)
		p = c->e == NULL ? mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, c->efd, 0) :
		    mremap(c->e, old, want, MREMAP_MAYMOVE);
	if (p == MAP_FAILED && c->e_file) {	/* the file cannot grow: memory from here on */
		p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED && c->e != NULL) {
			memcpy(p, c->e, old);
			munmap(c->e, old);
		}
		c->e_file = 0;
	} else if (p == MAP_FAILED) {
		p = c->e == NULL ? mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		    MAP_ANONYMOUS, -1, 0) : mremap(c->e, old, want, MREMAP_MAYMOVE);
	}
	if (p == MAP_FAILED)
		abort();	/* out of memory, like ofs_xmalloc */
	c->e = p;
	c->cap = ncap;
}

void
ofs_stg_cat_drop(struct catalog *c)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t bytes = c->n * sizeof(*c->e);

	c->lookups = 0;
	for (size_t i = 0; i + 1 < c->nblocks; i++)
		if (c->block_file[i])
			(void)madvise(c->blocks[i], c->block_len[i], MADV_DONTNEED);
	if (c->e_file && c->e != NULL && pg > 0 && (bytes &= ~((size_t)pg - 1)) > 0)
		(void)madvise(c->e, bytes, MADV_DONTNEED);
}

void
ofs_stg_cat_add(struct catalog *c, const char *path, const struct ofs_node *n,
    const struct baseline *bl)
{
	struct cat_entry *e;

	if (c->n == c->cap)
		grow_entries(c);
	e = &c->e[c->n++];
	e->path = cat_alloc(c, strlen(path) + 1);
	memcpy(e->path, path, strlen(path) + 1);
	e->size = n->size;
	e->ino = n->ino;
	e->mtime = n->mtime_ns;
	e->ctime = n->ctime_ns;
	e->nchunks = (uint32_t)n->nchunks;
	e->chunks = cat_alloc(c, (size_t)n->nchunks * OFS_ID_LEN);
	if (n->nchunks > 0)
		memcpy(e->chunks, n->chunks, n->nchunks * OFS_ID_LEN);
	bl_copy(c, e, bl);
	c->sorted = 0;
}

/* Back the catalog's pool with an unnamed file in dir (removed by the kernel when the run
 * ends, however it ends); where that is not possible, memory. */
void
ofs_stg_cat_back(struct catalog *c, const char *dir)
{
	if (c->backed == 0 && (c->efd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) != -1)
		c->efd_open = c->e_file = 1;
	if (c->kfd_open == 0 && (c->kfd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) != -1)
		c->kfd_open = 1;
	if ((c->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) != -1)
		c->backed = 1;
	else
		ofs_verbose("catalog in memory: no unnamed file in '%s': %s", dir, strerror(errno));
}

void
ofs_stg_cat_release(struct catalog *c)
{
	if (c->backed)
		close(c->fd);
	if (c->efd_open)
		close(c->efd);
	if (c->kfd_open)
		close(c->kfd);
	free(c->fence);
	for (size_t i = 0; i < c->nblocks; i++)
		munmap(c->blocks[i], c->block_len[i]);
	free(c->blocks);
	free(c->block_len);
	free(c->block_file);
	free(c->keys);
	if (c->e != NULL)
		munmap(c->e, c->cap * sizeof(*c->e));
	memset(c, 0, sizeof(*c));
}

static int
key_cmp(const void *a, const void *b)
{
	const struct cat_key *x = a, *y = b;

	return x->h < y->h ? -1 : x->h > y->h;
}

#define KEY_RUN 65536	/* keys sorted in memory at once while the key file is built (1 MiB) */
#define KEY_BLOCK 256	/* keys a read of the key file (4 KiB) and a fence entry */

/* The keys of entries [from, to), sorted, in out. */
static void
run_keys(struct catalog *c, size_t from, size_t to, struct cat_key *out)
{
	for (size_t i = from; i < to; i++) {
		out[i - from].h = ofs_xxh64(c->e[i].path, strlen(c->e[i].path));
		out[i - from].idx = i;
		if ((i + 1) % CATALOG_DROP_EVERY == 0)
			ofs_stg_cat_drop(c);
	}
	qsort(out, to - from, sizeof(*out), key_cmp);
}

struct key_rd {
	struct cat_key buf[KEY_BLOCK];
	size_t have, pos;
	uint64_t next, end;	/* keys of the run not read yet: [next, end) */
};

static int
key_rd_fill(const struct catalog *c, struct key_rd *rd)
{
	size_t n = rd->end - rd->next < KEY_BLOCK ? (size_t)(rd->end - rd->next) : KEY_BLOCK;

	rd->have = rd->pos = 0;
	if (n == 0)
		return 0;
	if (ofs_pread_all(c->kfd, rd->buf, n * sizeof(struct cat_key),
	    rd->next * sizeof(struct cat_key)) != 0)
		return -1;
	rd->have = n;
	rd->next += n;
	return 0;
}

/* Min-heap of readers by their current key. */
static void
heap_down(struct key_rd **h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < n && h[l]->buf[h[l]->pos].h < h[m]->buf[h[m]->pos].h)
			m = l;
		if (l + 1 < n && h[l + 1]->buf[h[l + 1]->pos].h < h[m]->buf[h[m]->pos].h)
			m = l + 1;
		if (m == i)
			return;
		struct key_rd *t = h[i];

		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* The keys sorted into kfd from kbase, built with bounded memory whatever the number of
 * files: sorted runs of KEY_RUN keys written at the start of the file, then merged after
 * them, block by block, noting each block's first hash in the fence. 0, or -1 when the
 * file cannot be written or read (the caller then keeps the keys in memory). */
static int
build_key_file(struct catalog *c)
{
	size_t nruns = (c->n + KEY_RUN - 1) / KEY_RUN, nh = 0, out_n = 0;
	struct cat_key *run = ofs_xreallocarray(NULL, c->n < KEY_RUN ? c->n : KEY_RUN,
	    sizeof(*run));
	struct key_rd *rds = NULL, **heap = NULL;
	struct cat_key out[KEY_BLOCK];
	int rc = -1;

	for (size_t r = 0; r < nruns; r++) {
		size_t from = r * KEY_RUN, to = from + KEY_RUN < c->n ? from + KEY_RUN : c->n;

		run_keys(c, from, to, run);
		if (ofs_pwrite_all(c->kfd, run, (to - from) * sizeof(*run),
		    from * sizeof(*run)) != 0)
			goto out;
	}
	free(run);
	run = NULL;
	c->kbase = (uint64_t)c->n * sizeof(struct cat_key);
	free(c->fence);
	c->fence = ofs_xcalloc((c->n + KEY_BLOCK - 1) / KEY_BLOCK + 1, sizeof(*c->fence));
	rds = ofs_xcalloc(nruns, sizeof(*rds));
	heap = ofs_xcalloc(nruns, sizeof(*heap));
	for (size_t r = 0; r < nruns; r++) {
		rds[r].next = (uint64_t)r * KEY_RUN;
		rds[r].end = rds[r].next + KEY_RUN < c->n ? rds[r].next + KEY_RUN : c->n;
		if (key_rd_fill(c, &rds[r]) != 0)
			goto out;
		heap[nh++] = &rds[r];
	}
	for (size_t i = nh / 2; i-- > 0;)
		heap_down(heap, nh, i);
	while (nh > 0) {
		struct key_rd *rd = heap[0];

		if (out_n % KEY_BLOCK == 0)
			c->fence[out_n / KEY_BLOCK] = rd->buf[rd->pos].h;
		out[out_n++ % KEY_BLOCK] = rd->buf[rd->pos++];
		if (out_n % KEY_BLOCK == 0 && ofs_pwrite_all(c->kfd, out, sizeof(out),
		    c->kbase + (out_n - KEY_BLOCK) * sizeof(struct cat_key)) != 0)
			goto out;
		if (rd->pos == rd->have && key_rd_fill(c, rd) != 0)
			goto out;
		if (rd->have == 0)
			heap[0] = heap[--nh];
		heap_down(heap, nh, 0);
	}
	if (out_n % KEY_BLOCK != 0 && ofs_pwrite_all(c->kfd, out,
	    (out_n % KEY_BLOCK) * sizeof(struct cat_key),
	    c->kbase + (out_n - out_n % KEY_BLOCK) * sizeof(struct cat_key)) != 0)
		goto out;
	/* the runs are read: give their blocks back to the file system */
	(void)fallocate(c->kfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
	    (off_t)(c->kbase & ~(uint64_t)4095));
	c->keys_file = 1;
	rc = 0;
out:
	free(run);
	free(rds);
	free(heap);
	ofs_stg_cat_drop(c);
	return rc;
}

/* The entry of path through the key file: the first block that can hold its hash (the
 * one before the first block starting at or after it), then on while the hashes are not
 * past it. A read that fails answers "not catalogued": the file is read again, which costs
 * time, never data. */
static const struct cat_entry *
find_in_key_file(struct catalog *c, const char *path, uint64_t h)
{
	size_t nblk = (c->n + KEY_BLOCK - 1) / KEY_BLOCK, lo = 0, hi = nblk;
	struct cat_key blk[KEY_BLOCK];

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->fence[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t b = lo > 0 ? lo - 1 : 0; b < nblk; b++) {
		size_t first = b * KEY_BLOCK, cnt = c->n - first < KEY_BLOCK ? c->n - first :
		    KEY_BLOCK;

		if (ofs_pread_all(c->kfd, blk, cnt * sizeof(*blk),
		    c->kbase + first * sizeof(*blk)) != 0)
			return NULL;
		for (size_t i = 0; i < cnt; i++) {
			if (blk[i].h > h)
				return NULL;
			if (blk[i].h == h && blk[i].idx < c->n &&
			    strcmp(c->e[blk[i].idx].path, path) == 0)
				return &c->e[blk[i].idx];
		}
	}
	return NULL;
}

/* The lookup keys: (hash of the path, entry) sorted by hash. Built once, reading the paths
 * in entry order and letting go of their pages as it goes; sorting them touches only the
 * keys (16 bytes a file), not the entries and paths a path order would. */
static void
build_keys(struct catalog *c)
{
	free(c->keys);
	c->keys = NULL;
	c->keys_file = 0;
	if (c->kfd_open && build_key_file(c) == 0) {
		c->sorted = 1;
		return;
	}
	c->keys = ofs_xreallocarray(NULL, c->n ? c->n : 1, sizeof(*c->keys));
	for (size_t i = 0; i < c->n; i++) {
		c->keys[i].h = ofs_xxh64(c->e[i].path, strlen(c->e[i].path));
		c->keys[i].idx = i;
		if ((i + 1) % CATALOG_DROP_EVERY == 0)
			ofs_stg_cat_drop(c);
	}
	qsort(c->keys, c->n, sizeof(*c->keys), key_cmp);
	c->sorted = 1;
	ofs_stg_cat_drop(c);
}

const struct cat_entry *
ofs_stg_cat_find(struct catalog *c, const char *path)
{
	uint64_t h;
	size_t lo = 0, hi;

	if (c->n == 0)
		return NULL;
	/* let go of the pages looked at now and then: a lookup per file would otherwise bring
	 * the whole catalog back into memory */
	if (++c->lookups >= CATALOG_DROP_EVERY)
		ofs_stg_cat_drop(c);
	if (c->cursor < c->n && strcmp(c->e[c->cursor].path, path) == 0)
		return &c->e[c->cursor++];
	if (!c->sorted)
		build_keys(c);
	h = ofs_xxh64(path, strlen(path));
	if (c->keys_file) {
		const struct cat_entry *e = find_in_key_file(c, path, h);

		if (e != NULL)
			c->cursor = (size_t)(e - c->e) + 1;
		return e;
	}
	hi = c->n;
	while (lo < hi) {	/* the first key >= h */
		size_t mid = lo + (hi - lo) / 2;

		if (c->keys[mid].h < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < c->n && c->keys[lo].h == h; lo++)
		if (strcmp(c->e[c->keys[lo].idx].path, path) == 0) {
			c->cursor = c->keys[lo].idx + 1;
			return &c->e[c->keys[lo].idx];
		}
	return NULL;
}

/* Catalog records: u64 count, then per file: u32 path length, path, u64 size, u64 inode,
 * i64 mtime ns, i64 ctime ns, u32 chunk count, chunk ids; then the baseline: u32 block
 * count, u64 block hashes, u32 base count (BASE_SAME: the chunk list), base ids. */
#define BASE_SAME UINT32_MAX
/* The bytes ofs_stg_cat_encode appends for the records from on. */
size_t
ofs_stg_cat_size(const struct catalog *c, size_t from)
{
	return ofs_stg_cat_size_range(c, from, c->n);
}

size_t
ofs_stg_cat_size_range(const struct catalog *c, size_t from, size_t to)
{
	size_t n = 8;

	for (size_t i = from; i < to; i++) {
		const struct cat_entry *e = &c->e[i];

		n += 4 + strlen(e->path) + 4 * 8 + 4 + (size_t)e->nchunks * OFS_ID_LEN + 8;
		if (e->bl != NULL)
			n += (size_t)e->bl->nblocks * 8 +
			    (e->bl->same ? 0 : (size_t)e->bl->nbase * OFS_ID_LEN);
	}
	return n;
}

/* Append the records, into a buffer sized for them first: the catalog of a large tree is
 * megabytes, and doubling growth would hold up to twice that, plus the copy, at the end of
 * the run when memory peaks. */
int
ofs_stg_cat_encode(const struct catalog *c, size_t from, struct ofs_buf *b)
{
	return ofs_stg_cat_encode_range(c, from, c->n, b);
}

int
ofs_stg_cat_encode_range(const struct catalog *c, size_t from, size_t to, struct ofs_buf *b)
{
	int r;

	if ((r = ofs_buf_reserve_exact(b, ofs_stg_cat_size_range(c, from, to))) != 0)
		return r;
	ofs_buf_put_u64le(b, to - from);
	for (size_t i = from; i < to; i++) {
		const struct cat_entry *e = &c->e[i];
		size_t pl = strlen(e->path);

		ofs_buf_put_u32le(b, (uint32_t)pl);
		ofs_buf_put(b, e->path, pl);
		ofs_buf_put_u64le(b, e->size);
		ofs_buf_put_u64le(b, e->ino);
		ofs_buf_put_u64le(b, (uint64_t)e->mtime);
		ofs_buf_put_u64le(b, (uint64_t)e->ctime);
		ofs_buf_put_u32le(b, e->nchunks);
		ofs_buf_put(b, e->chunks, (size_t)e->nchunks * OFS_ID_LEN);
		if (e->bl == NULL) {	/* no baseline: block count 0, base count 0 */
			ofs_buf_put_u32le(b, 0);
			ofs_buf_put_u32le(b, 0);
			continue;
		}
		ofs_buf_put_u32le(b, e->bl->nblocks);
		for (uint32_t k = 0; k < e->bl->nblocks; k++)
			ofs_buf_put_u64le(b, e->bl->blocks[k]);
		ofs_buf_put_u32le(b, e->bl->same ? BASE_SAME : e->bl->nbase);
		if (!e->bl->same)
			ofs_buf_put(b, e->bl->base, (size_t)e->bl->nbase * OFS_ID_LEN);
	}
	return ofs_buf_check(b);
}

int
ofs_stg_cat_decode(struct ofs_rd *rd, struct catalog *c, int with_bl)
{
	uint64_t n = ofs_rd_u64le(rd);

	for (uint64_t i = 0; i < n && ofs_rd_ok(rd); i++) {
		struct baseline bl;
		struct ofs_node node;
		uint32_t pl = ofs_rd_u32le(rd);
		const uint8_t *p = ofs_rd_ptr(rd, pl);
		char *fp;

		memset(&node, 0, sizeof(node));
		node.size = ofs_rd_u64le(rd);
		node.ino = ofs_rd_u64le(rd);
		node.mtime_ns = (int64_t)ofs_rd_u64le(rd);
		node.ctime_ns = (int64_t)ofs_rd_u64le(rd);
		node.nchunks = ofs_rd_u32le(rd);
		/* a path never holds a NUL (the encoder writes strlen bytes) */
		if (!ofs_rd_ok(rd) || node.nchunks > ofs_rd_left(rd) / OFS_ID_LEN ||
		    memchr(p, '\0', pl) != NULL) {
			rd->bad = 1;
			break;
		}
		node.chunks = (uint8_t (*)[OFS_ID_LEN])ofs_rd_ptr(rd, node.nchunks * OFS_ID_LEN);
		memset(&bl, 0, sizeof(bl));
		if (with_bl) {
			bl.nblocks = ofs_rd_u32le(rd);
			if (!ofs_rd_ok(rd) || bl.nblocks > ofs_rd_left(rd) / 8) {
				rd->bad = 1;
				break;
			}
			bl.blocks = ofs_xreallocarray(NULL, bl.nblocks ? bl.nblocks : 1, 8);
			for (uint32_t k = 0; k < bl.nblocks; k++)
				bl.blocks[k] = ofs_rd_u64le(rd);
			bl.nbase = ofs_rd_u32le(rd);
			bl.same = bl.nbase == BASE_SAME;
			if (bl.same)
				bl.nbase = 0;
			if (!ofs_rd_ok(rd) || bl.nbase > ofs_rd_left(rd) / OFS_ID_LEN ||
			    (bl.nblocks == 0 && (bl.nbase > 0 || bl.same))) {
				free(bl.blocks);
				rd->bad = 1;
				break;
			}
			bl.base = (uint8_t (*)[OFS_ID_LEN])ofs_rd_ptr(rd,
			    (size_t)bl.nbase * OFS_ID_LEN);
		}
		fp = ofs_xstrndup((const char *)p, pl);
		ofs_stg_cat_add(c, fp, &node, &bl);
		free(fp);
		free(bl.blocks);
	}
	return ofs_rd_ok(rd) ? 0 : -1;
}

/* ---- journal segment plaintext (FORMAT.md section 16.1) -------------------------------- */

static void
jstr_put(struct ofs_buf *b, const char *str)
{
	ofs_buf_put_u32le(b, (uint32_t)strlen(str));
	ofs_buf_put(b, str, strlen(str));
}

/* A string of the journal (at most 64 KiB, no NUL); NULL when truncated or invalid.
 * Owned. */
static char *
jstr_get(struct ofs_rd *rd)
{
	uint32_t n = ofs_rd_u32le(rd);
	const uint8_t *p;

	if (!ofs_rd_ok(rd) || n > 65536 || (p = ofs_rd_ptr(rd, n)) == NULL)
		return NULL;
	if (memchr(p, '\0', n) != NULL) {
		rd->bad = 1;
		return NULL;
	}
	return ofs_xstrndup((const char *)p, n);
}

int
ofs_stg_journal_encode(const struct jhead *h, const struct catalog *c, size_t from,
    struct ofs_buf *out)
{
	return ofs_stg_journal_encode_range(h, c, from, c->n, out);
}

int
ofs_stg_journal_encode_range(const struct jhead *h, const struct catalog *c, size_t from,
    size_t to, struct ofs_buf *out)
{
	struct ofs_buf packs = OFS_BUF_INIT(0);
	size_t need;
	int rc;

	ofs_buf_put(out, "OFSJRNL4", 8);
	ofs_buf_put(out, h->set_id, 16);
	ofs_buf_put_u32le(out, h->next_seq);
	ofs_buf_put_u32le(out, h->open_seq);
	ofs_buf_put_u64le(out, h->committed);
	if ((rc = ofs_index_encode(h->packs, h->npacks, &packs)) != 0)
		goto out;
	ofs_buf_put_u64le(out, packs.len);
	ofs_buf_put(out, packs.data, packs.len);
	/* the rest sized first, like the catalog alone (ofs_stg_cat_encode) */
	need = ofs_stg_cat_size_range(c, from, to) + 2 * (4 + PATH_MAX) + 8 + 4;
	for (size_t i = 0; i < h->nsealed; i++)
		need += 8 + strlen(h->sealed[i].path) + strlen(h->sealed_serial[i]) + 8 +
		    OFS_XXH_LEN + 4 + h->sealed[i].h.nregions * OFS_XXH_LEN;
	if ((rc = ofs_buf_reserve_exact(out, need)) != 0 ||
	    (rc = ofs_stg_cat_encode_range(c, from, to, out)) != 0)
		goto out;
	jstr_put(out, h->open_serial);
	jstr_put(out, h->open_mount);
	ofs_buf_put_u64le(out, h->open_limit);
	ofs_buf_put_u32le(out, (uint32_t)h->nsealed);
	for (size_t i = 0; i < h->nsealed; i++) {
		const struct ofs_file_hashes *fh = &h->sealed[i].h;

		jstr_put(out, h->sealed[i].path);
		jstr_put(out, h->sealed_serial[i]);
		ofs_buf_put_u64le(out, fh->size);
		ofs_buf_put(out, fh->xxh, OFS_XXH_LEN);
		ofs_buf_put_u32le(out, (uint32_t)fh->nregions);
		ofs_buf_put(out, fh->regions, fh->nregions * OFS_XXH_LEN);
	}
	rc = ofs_buf_check(out);
out:
	ofs_buf_release(&packs);
	return rc;
}

void
ofs_stg_jstate_release(struct jstate *st)
{
	ofs_index_packs_free(st->packs, st->np);
	free(st->oserial);
	free(st->omnt);
	for (size_t i = 0; i < st->nsealed; i++) {
		free(st->sealed[i].path);
		free(st->sealed[i].serial);
		ofs_file_hashes_release(&st->sealed[i].h);
	}
	free(st->sealed);
	memset(st, 0, sizeof(*st));
}

/* The disk records of versions 2-4: the open container's disk and limit, the sealed
 * containers. */
static int
disk_records_decode(struct ofs_rd *rd, struct jstate *st)
{
	uint32_t ns;

	if ((st->oserial = jstr_get(rd)) == NULL || (st->omnt = jstr_get(rd)) == NULL)
		return -1;
	st->climit = ofs_rd_u64le(rd);
	ns = ofs_rd_u32le(rd);
	/* a record is at least two empty strings, a size, a hash and a count */
	if (!ofs_rd_ok(rd) || ns > ofs_rd_left(rd) / (4 + 4 + 8 + OFS_XXH_LEN + 4))
		return -1;
	st->sealed = ofs_xcalloc(ns ? ns : 1, sizeof(*st->sealed));
	for (uint32_t i = 0; i < ns && ofs_rd_ok(rd); i++) {
		struct jsealed *e = &st->sealed[st->nsealed++];

		e->path = jstr_get(rd);
		e->serial = jstr_get(rd);
		e->h.size = ofs_rd_u64le(rd);
		ofs_rd_bytes(rd, e->h.xxh, OFS_XXH_LEN);
		e->h.nregions = ofs_rd_u32le(rd);
		if (e->path == NULL || e->serial == NULL || !ofs_rd_ok(rd) ||
		    e->h.nregions > ofs_rd_left(rd) / OFS_XXH_LEN) {
			e->h.nregions = 0;
			return -1;
		}
		if (e->h.nregions > 0) {
			e->h.regions = ofs_xreallocarray(NULL, e->h.nregions, OFS_XXH_LEN);
			ofs_rd_bytes(rd, e->h.regions, e->h.nregions * OFS_XXH_LEN);
		}
	}
	return ofs_rd_ok(rd) ? 0 : -1;
}

int
ofs_stg_journal_decode(const uint8_t *p, size_t len, const char *path, struct jstate *st,
    struct catalog *c, struct ofs_error *err)
{
	struct ofs_rd rd;
	const uint8_t *magic;
	uint64_t plen;
	int ver;

	ofs_stg_jstate_release(st);
	ofs_rd_init(&rd, p, len);
	magic = ofs_rd_ptr(&rd, 8);
	if (magic == NULL || memcmp(magic, "OFSJRNL", 7) != 0 || magic[7] < '1' ||
	    magic[7] > '4')
		return ofs_err_set(err, OFS_ERR_CORRUPT, "stage journal '%s' is not valid (delete "
		    "it to start over)", path);
	ver = magic[7] - '0';
	ofs_rd_bytes(&rd, st->set_id, 16);
	st->next_seq = ofs_rd_u32le(&rd);
	st->openseq = ofs_rd_u32le(&rd);
	st->committed = ofs_rd_u64le(&rd);
	plen = ofs_rd_u64le(&rd);
	if (!ofs_rd_ok(&rd) || plen > ofs_rd_left(&rd))
		goto truncated;
	if (ofs_index_decode(ofs_rd_ptr(&rd, (size_t)plen), (size_t)plen, path, &st->packs,
	    &st->np, err) != 0)
		return OFS_ERR_CORRUPT;
	if (ofs_stg_cat_decode(&rd, c, ver >= 3) != 0)
		goto truncated;
	if (ver >= 2 && disk_records_decode(&rd, st) != 0)
		goto truncated;
	if (ofs_rd_left(&rd) != 0)	/* every writer ended here: anything more is damage */
		goto truncated;
	return 0;
truncated:
	return ofs_err_set(err, OFS_ERR_CORRUPT, "stage journal '%s' is truncated (delete it to "
	    "start over)", path);
}

/* ---- catalog file plaintext (FORMAT.md section 16.2) ---------------------------------- */

int
ofs_stg_catalog_encode(const uint8_t snap[OFS_ID_LEN], const struct catalog *c,
    struct ofs_buf *out)
{
	return ofs_stg_catalog_encode_range(snap, c, 0, c->n, out);
}

int
ofs_stg_catalog_encode_range(const uint8_t snap[OFS_ID_LEN], const struct catalog *c,
    size_t from, size_t to, struct ofs_buf *out)
{
	ofs_buf_put(out, "OFSCAT02", 8);
	ofs_buf_put(out, snap, OFS_ID_LEN);
	return ofs_stg_cat_encode_range(c, from, to, out);	/* checks out, marked by a put */
}

int
ofs_stg_catalog_head(struct ofs_rd *rd, uint8_t snap[OFS_ID_LEN], int *with_bl)
{
	const uint8_t *magic = ofs_rd_ptr(rd, 8);

	if (magic == NULL || (memcmp(magic, "OFSCAT01", 8) != 0 &&
	    memcmp(magic, "OFSCAT02", 8) != 0))
		return -1;
	*with_bl = magic[7] == '2';
	ofs_rd_bytes(rd, snap, OFS_ID_LEN);
	return ofs_rd_ok(rd) ? 0 : -1;
}
