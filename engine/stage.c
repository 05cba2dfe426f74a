/* The stage pipeline: one thread walks and reads sources into chunks, a pool of workers
 * computes ids, deduplicates and seals them, and one writer consumes the results in order,
 * building trees, packs and containers, with checkpoints a killed run resumes from. */
#include <ctype.h>
#include <dirent.h>
#include <libgen.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "disk.h"
#include "chunker.h"
#include "container.h"
#include "index.h"
#include "manifest.h"
#include "pack.h"
#include "patch.h"
#include "stage.h"
#include "tree.h"
#include "util.h"

#define READ_BUF (2 * OFS_CHUNK_MAX)	/* data in [start, have); compacted rarely */
#define READ_KEEP (1u << 20)		/* read buffer pages kept resident between files */
/* Files smaller than this (no block hashes, one chunk) are read by the worker that takes
 * their chunk: with many small files, the producer's open/read/fstat/close per file was
 * the pipeline's bottleneck while the workers waited. */
#define SMALL_FILE (2 * OFS_BLOCK_SIZE)
#define INFLIGHT_BYTES (8u << 20)
#define RING_SLOTS 4096
#define WRITER_BATCH 64		/* small done items the writer is woken for at once */
#define CONTAINER_PACK_TARGET (8u << 20)	/* smaller than cloud packs: bounds memory */
#define CATALOG_NAME "catalog"
#define JOURNAL_MAX ((size_t)16 << 30)	/* the catalog of a ~60 TB seed (block hashes: 0.025 %) */
#define UPLOADS_DEFAULT 4
#define UPLOAD_QUEUE_BYTES (96u << 20)	/* packs queued or in flight, at most (one always) */
#define PATCH_MIN_COPY (16u << 10)	/* a patch must copy at least this much of the seed */

enum item_kind { IT_CHUNK = 1, IT_DIR_ENTER, IT_DIR_LEAVE, IT_ENTRY, IT_FILE_START, IT_FILE_END };

/* What a file's new chunks may be patched against (FORMAT.md section 9.1): the block hashes
 * of the file as the seed stored it, and the seed's chunk list for it. Kept per file in the
 * catalog; backups carry it forward unchanged, so a patch always copies from the seed. */
struct baseline {
	uint64_t *blocks;
	uint32_t nblocks;
	uint8_t (*base)[OFS_ID_LEN];
	uint32_t nbase;
	int same;		/* base is the file's own chunk list (base unused) */
};

/* Shared by the chunks of one file a backup reads: the baseline resolved through the index.
 * Read-only once made; freed with its last reference. */
struct patch_src {
	int refs;
	const uint64_t *old;	/* the baseline's block hashes (borrowed from the catalog) */
	uint32_t nold;
	uint32_t nbase;		/* bases with a known length (a prefix of the baseline's) */
	const uint8_t (*base)[OFS_ID_LEN];
	uint64_t *off;		/* nbase + 1 cumulative offsets */
	uint8_t *ok;		/* base is a data chunk in a container: may be copied from */
	size_t last_len;	/* the seed's last block when shorter than a block, else 0 */
};

struct item {
	int kind;
	int done;		/* chunk processed by a worker */
	uint8_t *data;		/* chunk: raw bytes (owned until processed) */
	size_t len;
	uint8_t id[OFS_ID_LEN];
	struct ofs_buf stored;	/* chunk: sealed bytes when new */
	int is_new;
	int is_patch;		/* chunk: stored is a patch blob */
	struct patch_src *ps;	/* chunk of a file with a baseline (one reference) */
	uint64_t foff;		/* chunk: offset in the file's data */
	uint64_t *nh;		/* chunk: new block hashes from block nh_first on */
	uint64_t nh_first;
	uint32_t nh_n;
	int has_probe;		/* chunk: probe is the hash of the new data over the seed's */
	uint64_t probe;		/* last, shorter block (ofs_blocks_probe) */
	struct baseline bl;	/* FILE_START: borrowed from the catalog; FILE_END: owned, new */
	struct ofs_node node;	/* DIR_ENTER, ENTRY, FILE_START */
	char *path;		/* FILE_START: absolute source path (catalog key) */
	int reused;		/* FILE_START: node.chunks already filled from the catalog */
	int drop;		/* FILE_END (and a small file's chunk): could not be read: leave
				 * the file out */
	int changed;		/* FILE_END (and a small file's chunk): changed while read */
	/* A small file's only chunk, read by the worker that takes it (SMALL_FILE): path is
	 * the file, len its size at the walk, fmtime/fctime its times; after the read, len
	 * is what was read, and reason says why it could not be when drop is set. */
	int small;
	int64_t fmtime, fctime;
	char *reason;
	size_t charged;		/* chunk: bytes counted in stage.inflight */
};

/* A finished loose pack on its way to storage. */
struct upload {
	struct upload *next;
	char name[128];
	struct ofs_buf data;
	struct ofs_index_pack ip;
};

/* Catalog of files completed so far: lets a resumed run skip files it already stored. */
struct cat_entry {
	char *path;
	uint64_t size, ino;
	int64_t mtime, ctime;
	uint8_t (*chunks)[OFS_ID_LEN];
	uint32_t nchunks;
	struct baseline *bl;	/* owned; NULL: none (most files: keeps the entry small) */
};

struct catalog {
	struct cat_entry *e;
	size_t n, cap;
	int sorted;
	/* The entries' paths, chunk lists and baselines live until the run ends: they come
	 * from mapped blocks of their own, not the heap, where thousands of small lasting
	 * allocations among the chunk buffers would keep freed space from being reused. */
	uint8_t *pool;
	size_t pool_left;
	void **blocks;
	size_t *block_len;
	size_t nblocks;
	/* With backed, the blocks are shared mappings of fd, an unnamed file in the state dir:
	 * the kernel can write them out and drop them under memory pressure. The catalog of a
	 * large seed is gigabytes (a block hash per 32 KiB, an id per chunk), which would
	 * otherwise have to stay in RAM until the run ends. */
	int backed, fd;
	uint64_t flen;
};

#define POOL_BLOCK (1u << 20)

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
		if (c->backed && fallocate(c->fd, 0, (off_t)c->flen, (off_t)len) == 0 &&
		    (b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd,
		    (off_t)c->flen)) != MAP_FAILED)
			c->flen += len;
		if (b == MAP_FAILED)
			b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
		if (b == MAP_FAILED)
			abort();	/* out of memory, like ofs_xmalloc */
		c->blocks = ofs_xreallocarray(c->blocks, c->nblocks + 1, sizeof(*c->blocks));
		c->block_len = ofs_xreallocarray(c->block_len, c->nblocks + 1,
		    sizeof(*c->block_len));
		c->blocks[c->nblocks] = b;
		c->block_len[c->nblocks++] = len;
		c->pool = b;
		c->pool_left = len;
	}
	p = c->pool;
	c->pool += n;
	c->pool_left -= n;
	return p;
}

struct level {
	struct ofs_tree tree;
	struct ofs_node dir;	/* the directory node (unused for the root level) */
};

struct stage {
	struct ofs_repo *repo;
	const struct ofs_stage_opts *o;
	struct ofs_progress *pr;
	struct ofs_stage_result *res;
	struct ofs_chunker chunker;

	/* ring of items, consumed in order by the writer */
	pthread_mutex_t mu;
	pthread_cond_t cv_space, cv_work, cv_done;
	struct item **ring;
	uint64_t head;		/* next slot the producer fills */
	uint64_t tail;		/* next slot the writer consumes */
	uint64_t work_next;	/* next slot workers look at */
	size_t inflight;
	int stop;		/* set on failure: everyone winds down */
	int producer_done;
	int failed_code;
	struct ofs_error failed;
	double wait_producer, wait_writer, wait_workers;	/* seconds blocked (-v) */
	/* Who sleeps, so wake-ups can be batched: with many small files, waking a thread per
	 * item costs more than the work (a context switch per file). */
	int writer_waiting, workers_waiting, producer_waiting;

	/* The index and the pending table have their own lock: every chunk is looked up, and
	 * under mu that lookup queued behind the ring's traffic. */
	pthread_mutex_t idx_mu;
	struct ofs_idx *pending;	/* ids accepted for storage, not yet in a written pack */

	/* writer state */
	struct ofs_blob_ctx *wctx;
	struct level *levels;
	size_t nlevels, caplevels;
	struct ofs_node cur;	/* file being assembled */
	int have_cur;
	int cur_drop, cur_changed;	/* what its small-file chunk's read found */
	uint64_t cur_bytes;		/* data in its chunks so far */
	char *cur_path;
	struct baseline cur_bl;	/* borrowed from s->prev */
	struct ofs_pack_writer pw;	/* only its entries are used: blobs stream to the file */
	int pack_open;
	uint64_t pack_off, pack_len;
	struct ofs_xxh *pack_h;
	struct ofs_cw *cw;
	uint32_t seq;		/* current container's sequence number (0: none open) */
	uint32_t next_seq;
	struct ofs_index_pack *cpacks;	/* packs in the open container */
	size_t ncpacks, capcpacks;
	/* Loose packs (data/<xx>/<id>) stored but not yet listed in an index file: every pack
	 * of a backup, and the tree packs of a stage. Trees stay out of containers so that they
	 * are metadata, copied to every disk: a lost disk then loses only its own file data. */
	struct ofs_index_pack *loose;
	size_t nloose, caploose;
	struct ofs_pack_writer tw;	/* stage: tree blobs */
	uint64_t pack_target;
	uint64_t since_ckpt;
	double last_ckpt;
	struct catalog done_files;	/* files completed in this run (and resumed ones) */
	struct catalog prev;		/* catalog from the journal of an interrupted run */
	/* journal segments written by this run (0: the next checkpoint writes the file anew),
	 * done_files entries they hold, the file's length, and its length after the last
	 * whole rewrite */
	uint64_t jseg, jcat_n, jlen, jbase;
	uint8_t root_tree[OFS_ID_LEN];
	uint8_t set_id[16];
	int has_parent;
	uint8_t parent[OFS_ID_LEN];	/* snapshot the catalog came from */
	/* uploads: finished loose packs go to storage from a pool of threads; the index files
	 * list only packs whose put succeeded (upload_drain before each one is written) */
	pthread_mutex_t umu;
	pthread_cond_t ucv;
	struct upload *uq_head, **uq_tail;
	size_t up_n;			/* queued + in flight */
	uint64_t up_bytes;
	int up_quit;
	int up_code;			/* first failure */
	struct ofs_error up_err;
	pthread_t *up_threads;
	int nup;
	/* stage onto disks */
	uint64_t climit;		/* size limit of the open container */
	int cur_disk;			/* disk of the open container, -1: none */
	char **sealed_serial;		/* disk serial of each res->sealed entry, same order */
};

/* ---- catalog ------------------------------------------------------------------------- */

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
static struct baseline
bl_of(const struct cat_entry *e)
{
	struct baseline b = *e->bl;

	if (b.same) {
		b.base = e->chunks;
		b.nbase = e->nchunks;
		b.same = 0;
	}
	return b;
}

static void
cat_add(struct catalog *c, const char *path, const struct ofs_node *n,
    const struct baseline *bl)
{
	struct cat_entry *e;

	if (c->n == c->cap) {	/* mapped too, grown by mremap: no copy, no hole in the heap */
		size_t ncap = c->cap ? 2 * c->cap : 4096;
		void *p = c->e == NULL ?
		    mmap(NULL, ncap * sizeof(*c->e), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) :
		    mremap(c->e, c->cap * sizeof(*c->e), ncap * sizeof(*c->e), MREMAP_MAYMOVE);

		if (p == MAP_FAILED)
			abort();	/* out of memory, like ofs_xmalloc */
		c->e = p;
		c->cap = ncap;
	}
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
static void
cat_back(struct catalog *c, const char *dir)
{
	if ((c->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) != -1)
		c->backed = 1;
	else
		ofs_verbose("catalog in memory: no unnamed file in '%s': %s", dir, strerror(errno));
}

static void
cat_release(struct catalog *c)
{
	if (c->backed)
		close(c->fd);
	for (size_t i = 0; i < c->nblocks; i++)
		munmap(c->blocks[i], c->block_len[i]);
	free(c->blocks);
	free(c->block_len);
	if (c->e != NULL)
		munmap(c->e, c->cap * sizeof(*c->e));
	memset(c, 0, sizeof(*c));
}

static int
cat_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cat_entry *)a)->path, ((const struct cat_entry *)b)->path);
}

static const struct cat_entry *
cat_find(struct catalog *c, const char *path)
{
	struct cat_entry key;

	if (c->n == 0)
		return NULL;
	if (!c->sorted) {
		qsort(c->e, c->n, sizeof(*c->e), cat_cmp);
		c->sorted = 1;
	}
	key.path = (char *)path;
	return bsearch(&key, c->e, c->n, sizeof(*c->e), cat_cmp);
}

/* ---- failure ------------------------------------------------------------------------- */

static void
fail_locked(struct stage *s, int code, const struct ofs_error *err)
{
	if (!s->stop) {
		s->stop = 1;
		s->failed_code = code;
		if (err != NULL)
			s->failed = *err;
	}
	pthread_cond_broadcast(&s->cv_space);
	pthread_cond_broadcast(&s->cv_work);
	pthread_cond_broadcast(&s->cv_done);
}

static void
fail(struct stage *s, int code, const struct ofs_error *err)
{
	pthread_mutex_lock(&s->mu);
	fail_locked(s, code, err);
	pthread_mutex_unlock(&s->mu);
}

/* ---- producer side ------------------------------------------------------------------- */

static struct item *
item_new(int kind)
{
	struct item *it = ofs_xcalloc(1, sizeof(*it));

	it->kind = kind;
	ofs_buf_init(&it->stored, 0);
	return it;
}

static void
ps_release(struct patch_src *ps)
{
	if (ps == NULL || __atomic_sub_fetch(&ps->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	free(ps->off);
	free(ps->ok);
	free(ps);
}

static void
item_free(struct item *it)
{
	if (it == NULL)
		return;
	free(it->data);
	free(it->nh);
	ps_release(it->ps);
	if (it->kind == IT_FILE_END)
		free(it->bl.blocks);	/* FILE_START's is borrowed */
	ofs_buf_release(&it->stored);
	ofs_node_release(&it->node);
	free(it->path);
	free(it->reason);
	free(it);
}

/* Queue an item; blocks while the ring or the in-flight budget is full. */
static int
push(struct stage *s, struct item *it)
{
	pthread_mutex_lock(&s->mu);
	while (!s->stop && (s->head - s->tail >= RING_SLOTS ||
	    (it->kind == IT_CHUNK && s->inflight + it->len > INFLIGHT_BYTES && s->inflight > 0))) {
		double t = ofs_mono();

		/* about to sleep: make sure nobody waits for a batch that will not fill */
		pthread_cond_broadcast(&s->cv_work);
		pthread_cond_signal(&s->cv_done);
		s->producer_waiting = 1;
		pthread_cond_wait(&s->cv_space, &s->mu);
		s->producer_waiting = 0;
		s->wait_producer += ofs_mono() - t;
	}
	if (s->stop) {
		pthread_mutex_unlock(&s->mu);
		item_free(it);
		return -1;
	}
	if (it->kind == IT_CHUNK)
		s->inflight += it->charged = it->len;
	else
		it->done = 1;
	s->ring[s->head % RING_SLOTS] = it;
	s->head++;
	if (it->kind == IT_CHUNK && s->workers_waiting > 0 &&
	    (it->len >= (256u << 10) || s->head - s->work_next >= 8))
		pthread_cond_signal(&s->cv_work);
	if (s->writer_waiting && s->head - s->tail >= WRITER_BATCH)
		pthread_cond_signal(&s->cv_done);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Queue a chunk at offset foff of the file's data. With ps, it takes a reference and a
 * copy of the new block hashes bh holds for the blocks it touches (a block that runs past
 * what was read so far has none yet: it cannot be copied). */
static int
push_chunk(struct stage *s, const uint8_t *p, size_t n, struct patch_src *ps, uint64_t foff,
    const struct ofs_blocks *bh)
{
	struct item *it = item_new(IT_CHUNK);

	it->data = ofs_xmalloc(n);
	memcpy(it->data, p, n);
	it->len = n;
	it->foff = foff;
	if (ps != NULL && bh != NULL) {
		uint64_t first = foff / OFS_BLOCK_SIZE, last = (foff + n - 1) / OFS_BLOCK_SIZE;

		if (bh->n > first) {
			it->nh_first = first;
			it->nh_n = (uint32_t)((bh->n < last + 1 ? bh->n : last + 1) - first);
			it->nh = ofs_xreallocarray(NULL, it->nh_n, sizeof(*it->nh));
			memcpy(it->nh, bh->h + first, it->nh_n * sizeof(*it->nh));
		}
		it->has_probe = bh->probe_done;
		it->probe = bh->probe_h;
		__atomic_add_fetch(&ps->refs, 1, __ATOMIC_ACQ_REL);
		it->ps = ps;
	}
	return push(s, it);
}

static void
skipped(struct stage *s, const char *path, const char *reason)
{
	if (s->o->walk.skipped != NULL)
		fprintf(s->o->walk.skipped, "%s\t%s\n", path, reason);
	ofs_warn("skipped '%s': %s", path, reason);
}

/* A source file for reading, without updating its access time where we may. The walk
 * saw a regular file; should a FIFO or device have taken its place since, O_NONBLOCK and
 * O_NOCTTY keep the open and the reads from waiting on it (a regular file ignores them). */
static int
open_source(const char *path)
{
	const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
	int fd = open(path, flags | O_NOATIME);

	if (fd == -1 && errno == EPERM)
		fd = open(path, flags);
	return fd;
}

/* Has the open file changed from what the walk saw (size, mtime, ctime)? */
static int
source_changed(int fd, uint64_t size, int64_t mtime_ns, int64_t ctime_ns)
{
	struct stat st;

	return fstat(fd, &st) == 0 && ((uint64_t)st.st_size != size ||
	    (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec != mtime_ns ||
	    (int64_t)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec != ctime_ns);
}

/* A worker reads a small file's chunk (item.small): the whole file, as read_file would.
 * Sets it->drop and it->reason when it cannot be read, it->changed when it changed, and
 * it->len to what was read (0: nothing to store). */
static void
read_small(struct stage *s, struct item *it)
{
	size_t want = it->len, got = 0;
	int fd;

	it->len = 0;
	if ((fd = open_source(it->path)) == -1) {
		it->reason = ofs_xasprintf("cannot open: %s", strerror(errno));
		it->drop = 1;
		return;
	}
	it->data = ofs_xmalloc(want);
	while (got < want) {
		ssize_t r = pread(fd, it->data + got, want - got, (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			it->reason = ofs_xasprintf("read error at offset %llu: %s",
			    (unsigned long long)got, strerror(errno));
			it->drop = 1;
			close(fd);
			return;
		}
		if (r == 0) {	/* shrank while reading */
			it->changed = 1;
			break;
		}
		got += (size_t)r;
	}
	if (source_changed(fd, want, it->fmtime, it->fctime))
		it->changed = 1;
	close(fd);
	it->len = got;
	ofs_progress_add(s->pr, got, 0, NULL);
	__atomic_add_fetch(&s->res->bytes_read, (uint64_t)got, __ATOMIC_RELAXED);
}

/* Queue a small file (SMALL_FILE) as its FILE_START, the one chunk a worker reads, and
 * FILE_END; what the read found reaches the writer with the chunk. */
static int
push_small(struct stage *s, struct item *start, const char *path)
{
	struct item *c = item_new(IT_CHUNK);

	c->small = 1;
	c->path = ofs_xstrdup(path);
	c->len = start->node.size;
	c->fmtime = start->node.mtime_ns;
	c->fctime = start->node.ctime_ns;
	if (push(s, start) != 0) {
		item_free(c);
		return -1;
	}
	if (push(s, c) != 0)
		return -1;
	ofs_progress_add(s->pr, 0, 1, path);
	return push(s, item_new(IT_FILE_END));
}

/* Read one regular file (its data extents when sparse) and queue its chunks. Returns 0,
 * 1 when the file was dropped (unreadable), -1 when the pipeline stopped. */
static int
read_file(struct stage *s, const char *path, const struct ofs_node *node, uint8_t *buf,
    struct ofs_blocks *bh, struct patch_src *ps, int *changed)
{
	struct ofs_extent whole = { 0, node->size };
	const struct ofs_extent *ext = node->sparse ? node->extents : &whole;
	size_t next = node->sparse ? node->nextents : 1, have = 0, start = 0, cut;
	uint64_t foff = 0;	/* offset in the file's data of buf[start] */
	char reason[256];
	int fd, rc = 0;

	*changed = 0;
	if ((fd = open_source(path)) == -1) {
		snprintf(reason, sizeof(reason), "cannot open: %s", strerror(errno));
		skipped(s, path, reason);
		return 1;
	}
	if (node->size > READ_BUF / 2)	/* smaller files come in one or two reads */
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (size_t e = 0; e < next; e++) {
		uint64_t off = ext[e].off, end = ext[e].off + ext[e].len;

		while (off < end) {
			size_t want;
			ssize_t got;

			if (READ_BUF - have < OFS_CHUNK_MAX) {
				memmove(buf, buf + start, have - start);
				have -= start;
				start = 0;
			}
			want = READ_BUF - have;

			if (want > end - off)
				want = (size_t)(end - off);
			got = pread(fd, buf + have, want, (off_t)off);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				snprintf(reason, sizeof(reason), "read error at offset %llu: %s",
				    (unsigned long long)off, strerror(errno));
				skipped(s, path, reason);
				rc = 1;
				goto out;
			}
			if (got == 0) {	/* shrank while reading */
				*changed = 1;
				end = off;
				break;
			}
			if (bh != NULL)
				ofs_blocks_update(bh, buf + have, (size_t)got);
			off += (uint64_t)got;
			have += (size_t)got;
			ofs_progress_add(s->pr, (uint64_t)got, 0, NULL);
			__atomic_add_fetch(&s->res->bytes_read, (uint64_t)got, __ATOMIC_RELAXED);
			/* cut while the chunker can decide: what is left to move to the front
			 * before the next read is then the undecided tail (usually under 2 MiB),
			 * not the CHUNK_MAX of lookahead a stricter rule would keep and copy */
			for (;;) {
				cut = ofs_chunker_next(&s->chunker, buf + start, have - start, 0);
				if (cut == 0)
					break;
				if (push_chunk(s, buf + start, cut, ps, foff, bh) != 0) {
					rc = -1;
					goto out;
				}
				start += cut;
				foff += cut;
			}
		}
	}
	if (bh != NULL)
		ofs_blocks_final(bh);
	while (have > start) {
		cut = ofs_chunker_next(&s->chunker, buf + start, have - start, 1);
		if (push_chunk(s, buf + start, cut, ps, foff, bh) != 0) {
			rc = -1;
			goto out;
		}
		start += cut;
		foff += cut;
	}
	if (source_changed(fd, node->size, node->mtime_ns, node->ctime_ns))
		*changed = 1;
out:
	close(fd);
	return rc;
}

/* Files the catalog of an interrupted run already stored: reuse their chunks if every one
 * is in the index (a chunk of an unsealed, uncommitted pack is not). */
static int
try_reuse(struct stage *s, const char *path, struct ofs_node *n, struct baseline *bl)
{
	const struct cat_entry *e = cat_find(&s->prev, path);
	struct ofs_blob_ref ref;

	/* a backup keeps the seed's baseline of a file it reads again */
	if (e != NULL && s->o->loose && e->bl != NULL)
		*bl = bl_of(e);
	if (e == NULL || e->size != n->size || e->ino != n->ino || e->mtime != n->mtime_ns ||
	    e->ctime != n->ctime_ns)
		return 0;
	if (!s->o->loose && e->bl != NULL)
		*bl = bl_of(e);
	pthread_mutex_lock(&s->idx_mu);	/* the writer adds packs to the index under it */
	for (uint32_t i = 0; i < e->nchunks; i++)
		if (!ofs_idx_lookup(s->repo->idx, e->chunks[i], &ref)) {
			pthread_mutex_unlock(&s->idx_mu);
			return 0;
		}
	pthread_mutex_unlock(&s->idx_mu);
	n->chunks = ofs_xreallocarray(NULL, e->nchunks ? e->nchunks : 1, OFS_ID_LEN);
	memcpy(n->chunks, e->chunks, (size_t)e->nchunks * OFS_ID_LEN);
	n->nchunks = e->nchunks;
	return 1;
}

/* The baseline's chunks through the index: their offsets in the seed's file data, and
 * which of them a patch may copy from (data chunks in containers: prune keeps those while a
 * patch is in use). Stops at the first chunk the index lacks. */
static struct patch_src *
patch_src_new(struct stage *s, const struct baseline *bl)
{
	struct patch_src *ps = ofs_xcalloc(1, sizeof(*ps));
	struct ofs_blob_ref ref;
	uint64_t last;
	uint32_t i;

	ps->refs = 1;
	ps->old = bl->blocks;
	ps->nold = bl->nblocks;
	ps->base = (const uint8_t (*)[OFS_ID_LEN])bl->base;
	ps->off = ofs_xcalloc((size_t)bl->nbase + 1, sizeof(*ps->off));
	ps->ok = ofs_xcalloc((size_t)bl->nbase + 1, 1);
	pthread_mutex_lock(&s->idx_mu);
	for (i = 0; i < bl->nbase && ofs_idx_lookup(s->repo->idx, bl->base[i], &ref); i++) {
		ps->ok[i] = ref.type == OFS_BLOB_DATA &&
		    ofs_idx_pack(s->repo->idx, ref.pack)->loc.kind == OFS_LOC_CONTAINER;
		ps->off[i + 1] = ps->off[i] + ref.raw_len;
	}
	pthread_mutex_unlock(&s->idx_mu);
	ps->nbase = i;
	/* the seed's data ended inside its last block: the probe compares that prefix */
	last = (uint64_t)(bl->nblocks - 1) * OFS_BLOCK_SIZE;
	if (i == bl->nbase && bl->nblocks > 0 && ps->off[i] > last &&
	    ps->off[i] - last < OFS_BLOCK_SIZE)
		ps->last_len = (size_t)(ps->off[i] - last);
	return ps;
}

static int
produce(struct stage *s, struct ofs_walk *w)
{
	struct ofs_walk_item wi;
	struct ofs_error err = { 0 };
	uint8_t *buf = mmap(NULL, READ_BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	struct ofs_blocks bh;	/* one hasher for every file: no allocation per file */
	struct item *it;
	int rc = 0, changed, r;

	ofs_blocks_init(&bh, s->repo->keys.block_secret);
	if (buf == MAP_FAILED) {
		ofs_err_sys(&err, OFS_ERR_IO, errno, "cannot map a %u MiB read buffer",
		    READ_BUF >> 20);
		fail(s, OFS_ERR_IO, &err);
		goto done;
	}
	for (;;) {
		memset(&wi, 0, sizeof(wi));
		if ((rc = ofs_walk_next(w, &wi, &err)) != 0) {
			fail(s, rc, &err);
			break;
		}
		if (wi.ev == OFS_WALK_END)
			break;
		if (wi.ev == OFS_WALK_SKIP) {
			__atomic_add_fetch(&s->res->skipped, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (wi.ev == OFS_WALK_DIR_LEAVE) {
			if (push(s, item_new(IT_DIR_LEAVE)) != 0)
				break;
			continue;
		}
		if (wi.ev == OFS_WALK_DIR_ENTER) {
			it = item_new(IT_DIR_ENTER);
			ofs_walk_take_node(&wi, &it->node);
			if (push(s, it) != 0)
				break;
			continue;
		}
		if (wi.node.type != OFS_NODE_FILE || wi.node.size == 0) {
			it = item_new(IT_ENTRY);
			ofs_walk_take_node(&wi, &it->node);
			ofs_progress_add(s->pr, 0, 1, wi.path);
			if (push(s, it) != 0)
				break;
			continue;
		}
		it = item_new(IT_FILE_START);
		ofs_walk_take_node(&wi, &it->node);
		it->path = ofs_xstrdup(wi.path);
		it->reused = try_reuse(s, wi.path, &it->node, &it->bl);
		if (it->reused) {
			ofs_progress_add(s->pr, it->node.size, 1, wi.path);
			s->res->bytes_reused += it->node.size;
			if (push(s, it) != 0 || push(s, item_new(IT_FILE_END)) != 0)
				break;
			continue;
		}
		if (it->node.size < SMALL_FILE && !it->node.sparse &&
		    (!s->o->loose || it->bl.nblocks == 0)) {
			if (push_small(s, it, wi.path) != 0)
				break;
			continue;
		}
		{
			struct ofs_node copy = it->node;
			char *path = ofs_xstrdup(wi.path);
			struct patch_src *ps = NULL;
			int hash;

			/* stage: block hashes of every file big enough to patch later; backup:
			 * of those with a baseline, to compare with it */
			ofs_blocks_reset(&bh);
			if (s->o->loose) {
				hash = it->bl.nblocks > 0;
				if (hash)
					ps = patch_src_new(s, &it->bl);
				if (ps != NULL && ps->last_len > 0)
					ofs_blocks_probe(&bh, ps->nold - 1, ps->last_len);
			} else {
				hash = copy.size >= 2 * OFS_BLOCK_SIZE;
			}
			if (push(s, it) != 0) {
				free(path);
				ps_release(ps);
				break;
			}
			/* the writer owns it now; copy is only read for size/extents/times,
			 * which the writer does not touch until FILE_END */
			r = read_file(s, path, &copy, buf, hash ? &bh : NULL, ps, &changed);
			ps_release(ps);
			/* a big file touched the whole read buffer: give those pages back, so
			 * they do not add to the peak of the metadata that grows afterwards */
			if (copy.size > READ_KEEP)
				madvise(buf + READ_KEEP, READ_BUF - READ_KEEP, MADV_DONTNEED);
			ofs_progress_add(s->pr, 0, 1, path);
			if (r < 0) {
				free(path);
				break;
			}
			it = item_new(IT_FILE_END);
			it->drop = r == 1;
			it->changed = changed;
			if (hash && !s->o->loose) {
				size_t nb;

				it->bl.blocks = ofs_blocks_copy(&bh, &nb);
				it->bl.nblocks = (uint32_t)nb;
				it->bl.same = 1;
			}
			if (changed) {
				skipped(s, path, "changed while being read (stored, marked changed)");
				__atomic_add_fetch(&s->res->changed, 1, __ATOMIC_RELAXED);
			}
			if (r == 1)
				__atomic_add_fetch(&s->res->skipped, 1, __ATOMIC_RELAXED);
			free(path);
			if (push(s, it) != 0)
				break;
		}
	}
	munmap(buf, READ_BUF);
done:
	ofs_blocks_release(&bh);
	pthread_mutex_lock(&s->mu);
	s->producer_done = 1;
	pthread_cond_broadcast(&s->cv_done);
	pthread_cond_broadcast(&s->cv_work);
	pthread_mutex_unlock(&s->mu);
	return s->stop ? -1 : 0;
}

/* ---- workers ------------------------------------------------------------------------- */

/* Copy the file data [*pos, stop), which equals the seed's, from the seed chunks holding
 * it, as far as they may be copied from; *k is the base holding *pos or one before it. */
static void
copy_seed(const struct patch_src *ps, struct ofs_patch_writer *pw, uint32_t *k, uint64_t *pos,
    uint64_t stop)
{
	while (*pos < stop) {
		uint64_t take;

		while (*k < ps->nbase && ps->off[*k + 1] <= *pos)
			(*k)++;
		if (*k >= ps->nbase || !ps->ok[*k])
			return;
		take = (stop < ps->off[*k + 1] ? stop : ps->off[*k + 1]) - *pos;
		if (ofs_patch_copy(pw, ps->base[*k], (uint32_t)(*pos - ps->off[*k]),
		    (uint32_t)take) != 0)
			return;
		*pos += take;
	}
}

/* The chunk as a patch of its file's seed chunks (FORMAT.md section 9.1), into plain: a
 * block whose hash equals the seed's at the same offset is copied from the seed chunk that
 * holds it, the rest is literal. Returns 1 when that copies at least PATCH_MIN_COPY bytes
 * (worth reading a base for on restore) and is smaller than the chunk, else 0 (it is
 * stored whole). */
static int
build_patch(const struct item *it, struct ofs_patch_writer *pw, struct ofs_buf *plain)
{
	const struct patch_src *ps = it->ps;
	uint64_t pos = it->foff, end = it->foff + it->len;
	uint32_t lo = 0, hi = ps->nbase;

	ofs_patch_writer_reset(pw);
	ofs_buf_reset(plain);
	while (lo < hi) {	/* the last base starting at or before pos */
		uint32_t mid = lo + (hi - lo) / 2;

		if (ps->off[mid + 1] <= pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (pos < end) {
		uint64_t j = pos / OFS_BLOCK_SIZE, stop = (j + 1) * OFS_BLOCK_SIZE, kept;

		if (stop > end)
			stop = end;
		if (j >= it->nh_first && j - it->nh_first < it->nh_n && j < ps->nold &&
		    it->nh[j - it->nh_first] == ps->old[j]) {
			copy_seed(ps, pw, &lo, &pos, stop);
		} else if (it->has_probe && j + 1 == ps->nold && it->probe == ps->old[j]) {
			/* the file grew past the seed's last, shorter block: copy what it kept */
			kept = j * OFS_BLOCK_SIZE + ps->last_len;
			copy_seed(ps, pw, &lo, &pos, kept < stop ? kept : stop);
		}
		if (pos < stop) {
			ofs_patch_literal(pw, it->data + (pos - it->foff), (size_t)(stop - pos));
			pos = stop;
		}
	}
	if (pw->nbases == 0 || it->len - pw->litlen < PATCH_MIN_COPY)
		return 0;
	ofs_patch_finish(pw, plain);
	return plain->len < it->len;
}

static void *
worker(void *arg)
{
	struct stage *s = arg;
	struct ofs_blob_ctx *ctx = ofs_blob_ctx_new(&s->repo->keys, s->repo->cfg.zstd_level);
	struct ofs_blob_ref ref, dummy = { 0, 0, 0, 0, OFS_BLOB_DATA };
	struct ofs_error err = { 0 };
	struct ofs_patch_writer pw;
	struct ofs_buf plain = OFS_BUF_INIT(0);
	struct item *it;
	uint64_t slot;

	ofs_patch_writer_init(&pw);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (s->work_next < s->tail)
			s->work_next = s->tail;	/* consumed slots are gone (NULL) */
		while (!s->stop && s->work_next < s->head &&
		    s->ring[s->work_next % RING_SLOTS]->kind != IT_CHUNK)
			s->work_next++;
		if (s->stop || (s->producer_done && s->work_next >= s->head))
			break;
		if (s->work_next >= s->head) {
			double t = ofs_mono();

			s->workers_waiting++;
			pthread_cond_wait(&s->cv_work, &s->mu);
			s->workers_waiting--;
			s->wait_workers += ofs_mono() - t;
			continue;
		}
		slot = s->work_next;
		it = s->ring[s->work_next++ % RING_SLOTS];
		pthread_mutex_unlock(&s->mu);

		if (it->small) {
			read_small(s, it);
			if (it->len == 0)	/* unreadable or emptied: nothing to store */
				goto processed;
		}
		ofs_blob_id(ctx, it->data, it->len, it->id);
		pthread_mutex_lock(&s->idx_mu);
		it->is_new = !ofs_idx_lookup(s->repo->idx, it->id, &ref) &&
		    ofs_idx_add_blob(s->pending, it->id, &dummy) == 0;
		pthread_mutex_unlock(&s->idx_mu);
		if (it->is_new && it->ps != NULL)
			it->is_patch = build_patch(it, &pw, &plain);
		/* ofs_blob_seal sizes it->stored exactly (doubling growth would hold up to 2x) */
		if (it->is_patch) {
			if (ofs_blob_seal(ctx, OFS_BLOB_PATCH, it->id, plain.data, plain.len, 1,
			    &it->stored, &err) != 0) {
				fail(s, OFS_ERR_IO, &err);
				pthread_mutex_lock(&s->mu);
				break;
			}
		}
		if (it->is_new && !it->is_patch && ofs_blob_seal(ctx, OFS_BLOB_DATA, it->id,
		    it->data, it->len, 1, &it->stored, &err) != 0) {
			fail(s, OFS_ERR_IO, &err);
			pthread_mutex_lock(&s->mu);
			break;
		}
processed:
		free(it->data);
		it->data = NULL;
		if (it->stored.cap > it->stored.len + (64u << 10))
			ofs_buf_fit(&it->stored);	/* compressed: the rest waits unused */

		pthread_mutex_lock(&s->mu);
		it->done = 1;
		/* only the item at the head of the queue can unblock the writer */
		if (s->writer_waiting && slot == s->tail && (s->head - s->tail >= WRITER_BATCH ||
		    it->len >= (256u << 10) || s->producer_done || s->producer_waiting))
			pthread_cond_signal(&s->cv_done);
	}
	pthread_mutex_unlock(&s->mu);
	ofs_patch_writer_release(&pw);
	ofs_buf_release_secret(&plain);
	ofs_blob_ctx_free(ctx);
	return NULL;
}

/* ---- writer: packs and containers -------------------------------------------------- */

static void
set_err(struct stage *s, int code, struct ofs_error *err)
{
	fail(s, code, err);
}

/* Where container file `name` ("<set>-<seq>.vhd", or ".….partial") lives: the staging
 * folder's containers/, or the containers folder of disk k. Owned. */
static char *
container_file(struct stage *s, int k, const char *name)
{
	char *rel = ofs_path_join("containers", name), *path;

	if (s->o->ndisks > 0 && k >= 0)
		path = ofs_xasprintf("%s/%s/%s", s->o->disks[k], s->o->page_base, rel);
	else
		path = s->repo->be->ops->path(s->repo->be, rel);
	free(rel);
	return path;
}

uint64_t
ofs_stage_disk_min(uint64_t container_size)
{
	uint64_t m = container_size / 2;

	if (m < (12u << 20))
		m = 12u << 20;
	return m < (64u << 20) ? m : (64u << 20);
}

/* Bytes of the regular files under dir, recursively, rounded to 4 KiB. */
static uint64_t
du(const char *dir)
{
	uint64_t sum = 0;
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char *full;
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		full = ofs_path_join(dir, e->d_name);
		if (lstat(full, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				sum += du(full);
			else if (S_ISREG(st.st_mode))
				sum += ((uint64_t)st.st_size + 4095) / 4096 * 4096;
		}
		free(full);
	}
	closedir(d);
	return sum;
}

/* Room a disk keeps free for what the end of the run copies there: the repository
 * metadata (twice what the staging folder holds now: it still grows), the manifests, and
 * 1 MiB. */
static uint64_t
disk_reserve(struct stage *s)
{
	char *root = s->repo->be->ops->path(s->repo->be, "");
	uint64_t meta = root != NULL ? du(root) : 0;

	free(root);
	return 2 * meta + 256 * (uint64_t)(s->next_seq + 16) + (2u << 20);
}

/* Usable bytes on disk k for a new container (0 when it cannot be measured). */
static uint64_t
disk_usable(struct stage *s, int k)
{
	struct ofs_disk_space sp;
	uint64_t reserve = disk_reserve(s);

	if (ofs_disk_space(s->o->disks[k], &sp, NULL) != 0 || sp.avail <= reserve)
		return 0;
	return sp.avail - reserve;
}

/* Disk mode: the first disk (in the order given) with room for a container; its limit. */
static int
pick_disk(struct stage *s, struct ofs_error *err)
{
	uint64_t min = ofs_stage_disk_min(s->o->container_size);

	for (size_t k = 0; k < s->o->ndisks; k++) {
		uint64_t u = disk_usable(s, (int)k);
		char *dir;
		int rc;

		if (u < min)
			continue;
		dir = ofs_xasprintf("%s/%s/containers", s->o->disks[k], s->o->page_base);
		rc = ofs_mkdir_p(dir, 0755, err);
		free(dir);
		if (rc != 0)
			return rc;
		s->cur_disk = (int)k;
		s->climit = u < s->o->container_size ? u / (1u << 20) * (1u << 20) :
		    s->o->container_size;
		return 0;
	}
	return ofs_err_set(err, OFS_ERR_NOSPACE, "every disk is full: the last one, '%s', has "
	    "less than %llu usable bytes left for another container",
	    s->o->disks[s->o->ndisks - 1], (unsigned long long)min);
}

static int checkpoint(struct stage *s, struct ofs_error *err);
static int write_journal(struct stage *s, struct ofs_error *err);

static int
open_container(struct stage *s, struct ofs_error *err)
{
	struct ofs_superblock sb;
	char name[64], *rel, *path;
	int rc;

	s->climit = s->o->container_size;
	s->cur_disk = -1;
	if (s->o->ndisks > 0 && (rc = pick_disk(s, err)) != 0) {
		struct ofs_error cerr = { 0 };

		/* Keep what is done for the rerun with one more disk. */
		if (rc == OFS_ERR_NOSPACE && checkpoint(s, &cerr) != 0)
			ofs_warn("cannot write a checkpoint: %s", cerr.msg);
		return rc;
	}

	memset(&sb, 0, sizeof(sb));
	sb.version = OFS_CONTAINER_VERSION;
	memcpy(sb.repo_id, s->repo->cfg.repo_id, 16);
	memcpy(sb.set_id, s->set_id, 16);
	sb.seq = s->next_seq;
	sb.created = ofs_now_ns() / 1000000000LL;
	ofs_container_name(s->set_id, sb.seq, name, sizeof(name));
	rel = ofs_xasprintf(".%s.partial", name);
	path = container_file(s, s->cur_disk, rel);
	rc = ofs_cw_create(path, &sb, OFS_REGION_SIZE, &s->cw, err);
	free(path);
	free(rel);
	if (rc == 0) {
		s->seq = sb.seq;
		s->next_seq++;
		s->res->containers++;
	}
	return rc;
}

/* Write an index file for the packs of the open container (or of a checkpoint). */
static int
write_index_file(struct stage *s, const struct ofs_index_pack *packs, size_t n,
    struct ofs_error *err)
{
	struct ofs_buf plain = OFS_BUF_INIT(0);
	uint8_t id[OFS_ID_LEN];
	int rc;

	ofs_random(id, sizeof(id));
	if ((rc = ofs_index_encode(packs, n, &plain)) == 0)
		rc = ofs_repo_put_object(s->repo, "index", OFS_OBJ_INDEX, id, plain.data,
		    plain.len, err);
	ofs_buf_release(&plain);
	return rc;
}

static void
cpacks_clear(struct stage *s)
{
	for (size_t i = 0; i < s->ncpacks; i++)
		free(s->cpacks[i].blobs);
	s->ncpacks = 0;
}

static int
seal_container(struct stage *s, struct ofs_error *err)
{
	struct ofs_buf plain = OFS_BUF_INIT(0), sealed = OFS_BUF_INIT(0);
	struct ofs_file_hashes h = { 0 };
	uint8_t id[OFS_ID_LEN];
	char name[64], *rel, *path;
	int rc;

	if (s->cw == NULL)
		return 0;
	ofs_container_index_id(s->set_id, s->seq, id);
	if ((rc = ofs_index_encode(s->cpacks, s->ncpacks, &plain)) != 0 ||
	    (rc = ofs_blob_seal(s->wctx, OFS_OBJ_CONTAINER_INDEX, id, plain.data, plain.len, 1,
	    &sealed, err)) != 0)
		goto out;
	ofs_container_name(s->set_id, s->seq, name, sizeof(name));
	path = container_file(s, s->cur_disk, name);
	rc = ofs_cw_seal(s->cw, sealed.data, sealed.len, (uint32_t)s->ncpacks, path, &h, err);
	s->cw = NULL;
	free(path);
	if (rc != 0) {
		ofs_file_hashes_release(&h);
		goto out;
	}
	rel = ofs_path_join("containers", name);
	ofs_manifest_add(s->res->sealed, rel, &h);	/* takes h's arrays */
	free(rel);
	s->sealed_serial = ofs_xreallocarray(s->sealed_serial, s->res->sealed->nfiles,
	    sizeof(char *));
	s->sealed_serial[s->res->sealed->nfiles - 1] = ofs_xstrdup(s->cur_disk >= 0 ?
	    s->o->disk_serials[s->cur_disk] : "");
	/* The container is sealed; its index file makes it known without opening it. */
	if ((rc = write_index_file(s, s->cpacks, s->ncpacks, err)) != 0)
		goto out;
	cpacks_clear(s);
	s->seq = 0;
	/* On disks the journal keeps every sealed container's disk and hashes (the final
	 * manifests need them), so it is rewritten right away. */
	if (s->o->ndisks > 0 && (rc = write_journal(s, err)) != 0)
		goto out;
out:
	ofs_buf_release(&plain);
	ofs_buf_release(&sealed);
	return rc;
}

static uint64_t
index_estimate(const struct stage *s, size_t extra_blobs)
{
	uint64_t n = 64 + OFS_AEAD_OVERHEAD + 1;

	for (size_t i = 0; i < s->ncpacks; i++)
		n += 100 + (uint64_t)s->cpacks[i].nblobs * 48;
	return n + 100 + (uint64_t)extra_blobs * 48 + 64;
}

/* Blobs stream straight into the open container; a pack is closed by writing its sealed
 * header. Only the entries are kept in memory. */
static int
close_pack(struct stage *s, struct ofs_error *err)
{
	struct ofs_buf tail = OFS_BUF_INIT(0);
	struct ofs_index_pack *ip;
	uint8_t pid[OFS_ID_LEN];
	int rc;

	if (!s->pack_open)
		return 0;
	if ((rc = ofs_pack_tail_build(s->wctx, s->pw.entries, s->pw.n, pid, &tail, err)) != 0 ||
	    (rc = ofs_cw_write(s->cw, tail.data, tail.len, s->pack_h, err)) != 0)
		goto out;
	if (s->ncpacks == s->capcpacks) {
		s->capcpacks = s->capcpacks ? 2 * s->capcpacks : 64;
		s->cpacks = ofs_xreallocarray(s->cpacks, s->capcpacks, sizeof(*s->cpacks));
	}
	ip = &s->cpacks[s->ncpacks++];
	memset(ip, 0, sizeof(*ip));
	memcpy(ip->id, pid, OFS_ID_LEN);
	ip->loc.kind = OFS_LOC_CONTAINER;
	memcpy(ip->loc.set, s->set_id, 16);
	ip->loc.seq = s->seq;
	ip->loc.offset = s->pack_off;
	ip->length = s->pack_len + tail.len;
	ofs_xxh_digest(s->pack_h, ip->xxh);
	ip->nblobs = s->pw.n;
	ip->blobs = ofs_xreallocarray(NULL, s->pw.n, sizeof(*ip->blobs));
	memcpy(ip->blobs, s->pw.entries, s->pw.n * sizeof(*ip->blobs));
	pthread_mutex_lock(&s->idx_mu);
	ofs_idx_add_index(s->repo->idx, ip, 1);
	pthread_mutex_unlock(&s->idx_mu);
	s->res->packs++;
	s->since_ckpt += ip->length;
	s->pw.n = 0;
	s->pack_open = 0;
out:
	ofs_buf_release(&tail);
	return rc;
}

/* ---- writer: loose pack uploads ------------------------------------------------- */

static void
upload_free(struct upload *u)
{
	ofs_buf_release(&u->data);
	free(u->ip.blobs);
	free(u);
}

/* Uploader thread: store queued packs; a stored pack joins s->loose (the next index file). */
static void *
uploader(void *arg)
{
	struct stage *s = arg;
	struct ofs_error err = { 0 };
	struct upload *u;
	int rc;

	pthread_mutex_lock(&s->umu);
	for (;;) {
		while (s->uq_head == NULL && !s->up_quit)
			pthread_cond_wait(&s->ucv, &s->umu);
		if (s->uq_head == NULL)
			break;
		u = s->uq_head;
		if ((s->uq_head = u->next) == NULL)
			s->uq_tail = &s->uq_head;
		rc = s->up_code;	/* after a failure the rest are dropped */
		pthread_mutex_unlock(&s->umu);

		if (rc == 0)
			rc = s->repo->be->ops->put(s->repo->be, u->name, u->data.data, u->data.len,
			    &err);
		pthread_mutex_lock(&s->umu);
		if (rc != 0 && s->up_code == 0) {
			s->up_code = rc;
			s->up_err = err;
		}
		if (rc == 0) {
			if (s->nloose == s->caploose) {
				s->caploose = s->caploose ? 2 * s->caploose : 64;
				s->loose = ofs_xreallocarray(s->loose, s->caploose,
				    sizeof(*s->loose));
			}
			s->loose[s->nloose++] = u->ip;
			u->ip.blobs = NULL;
			s->res->packs++;
		}
		s->up_n--;
		s->up_bytes -= u->data.len;
		pthread_cond_broadcast(&s->ucv);
		pthread_mutex_unlock(&s->umu);
		upload_free(u);
		pthread_mutex_lock(&s->umu);
	}
	pthread_mutex_unlock(&s->umu);
	return NULL;
}

static void
uploads_start(struct stage *s)
{
	s->uq_tail = &s->uq_head;
	s->nup = s->o->uploads > 0 ? s->o->uploads : UPLOADS_DEFAULT;
	s->up_threads = ofs_xcalloc((size_t)s->nup, sizeof(*s->up_threads));
	for (int i = 0; i < s->nup; i++)
		pthread_create(&s->up_threads[i], NULL, uploader, s);
}

/* Stop the uploaders once the queue is empty; after a failure (cancel) the queued packs are
 * dropped, those in flight finish (a rerun adopts them). */
static void
uploads_stop(struct stage *s, int cancel)
{
	if (s->up_threads == NULL)
		return;
	pthread_mutex_lock(&s->umu);
	if (cancel && s->up_code == 0) {
		s->up_code = OFS_ERR_IO;
		ofs_err_set(&s->up_err, OFS_ERR_IO, "uploads cancelled");
	}
	s->up_quit = 1;
	pthread_cond_broadcast(&s->ucv);
	pthread_mutex_unlock(&s->umu);
	for (int i = 0; i < s->nup; i++)
		pthread_join(s->up_threads[i], NULL);
	free(s->up_threads);
	s->up_threads = NULL;
}

/* Wait until every queued pack is stored; the first upload failure, if any. */
static int
upload_drain(struct stage *s, struct ofs_error *err)
{
	int rc;

	pthread_mutex_lock(&s->umu);
	while (s->up_n > 0)
		pthread_cond_wait(&s->ucv, &s->umu);
	if ((rc = s->up_code) != 0 && err != NULL)
		*err = s->up_err;
	pthread_mutex_unlock(&s->umu);
	return rc;
}

/* Queue a pack, waiting while the queue holds too many bytes or every uploader is busy. */
static int
upload_push(struct stage *s, struct upload *u, struct ofs_error *err)
{
	int rc;

	pthread_mutex_lock(&s->umu);
	while (s->up_code == 0 && s->up_n > 0 && ((size_t)s->up_n >= (size_t)s->nup + 1 ||
	    s->up_bytes + u->data.len > UPLOAD_QUEUE_BYTES))
		pthread_cond_wait(&s->ucv, &s->umu);
	if ((rc = s->up_code) != 0) {
		if (err != NULL)
			*err = s->up_err;
		pthread_mutex_unlock(&s->umu);
		upload_free(u);
		return rc;
	}
	u->next = NULL;
	*s->uq_tail = u;
	s->uq_tail = &u->next;
	s->up_n++;
	s->up_bytes += u->data.len;
	pthread_cond_broadcast(&s->ucv);
	pthread_mutex_unlock(&s->umu);
	return 0;
}

/* Loose packs are built in memory and stored whole as data/<xx>/<id>, by the uploaders.
 * Their blobs are in the index (for deduplication) from here on; index files list them
 * once stored. */
static int
close_loose_pack(struct stage *s, struct ofs_pack_writer *w, struct ofs_error *err)
{
	struct ofs_index_pack *ip;
	struct upload *u;
	uint8_t pid[OFS_ID_LEN];
	int rc;

	if (w->n == 0)
		return 0;
	if ((rc = ofs_pack_writer_finish(w, s->wctx, pid, err)) != 0)
		return rc;
	u = ofs_xcalloc(1, sizeof(*u));
	ofs_loose_name(pid, u->name, sizeof(u->name));
	u->data = w->data;	/* the bytes move to the upload; the writer starts a new buffer */
	ofs_buf_init(&w->data, 0);
	ip = &u->ip;
	memcpy(ip->id, pid, OFS_ID_LEN);
	ip->loc.kind = OFS_LOC_LOOSE;
	ip->length = u->data.len;
	ofs_xxh128(u->data.data, u->data.len, ip->xxh);
	ip->nblobs = w->n;
	ip->blobs = ofs_xreallocarray(NULL, w->n, sizeof(*ip->blobs));
	memcpy(ip->blobs, w->entries, w->n * sizeof(*ip->blobs));
	pthread_mutex_lock(&s->idx_mu);
	ofs_idx_add_index(s->repo->idx, ip, 1);
	pthread_mutex_unlock(&s->idx_mu);
	s->since_ckpt += ip->length;
	ofs_pack_writer_reset(w);
	return upload_push(s, u, err);
}

/* List the loose packs stored so far in an index file (at checkpoints and at the end). */
static int
index_loose(struct stage *s, struct ofs_error *err)
{
	int rc;

	if (s->up_threads != NULL && (rc = upload_drain(s, err)) != 0)
		return rc;
	if (s->nloose == 0)
		return 0;
	if ((rc = write_index_file(s, s->loose, s->nloose, err)) != 0)
		return rc;
	for (size_t i = 0; i < s->nloose; i++)
		free(s->loose[i].blobs);
	s->nloose = 0;
	return 0;
}

static int
flush_pack(struct stage *s, struct ofs_error *err)
{
	int rc;

	if (s->o->loose)
		return close_loose_pack(s, &s->pw, err);
	if ((rc = close_pack(s, err)) != 0)
		return rc;
	return close_loose_pack(s, &s->tw, err);
}

static int
add_blob(struct stage *s, uint8_t type, const uint8_t id[OFS_ID_LEN], const struct ofs_buf *stored,
    uint32_t rawlen, struct ofs_error *err)
{
	struct ofs_pack_entry *e;
	uint64_t header = (uint64_t)(s->pw.n + 1) * OFS_PACK_ENTRY_SIZE + 64 + OFS_AEAD_OVERHEAD;
	int rc;

	if (s->o->loose || type == OFS_BLOB_TREE) {
		struct ofs_pack_writer *w = s->o->loose ? &s->pw : &s->tw;

		/* tree packs stay small (metadata, on every disk); backup packs are cloud-sized.
		 * Reserve once so the buffer does not double past the target. */
		uint64_t target = s->o->loose ? OFS_PACK_TARGET : CONTAINER_PACK_TARGET;

		if (w->data.cap == 0)
			ofs_buf_reserve_exact(&w->data, (size_t)target + OFS_CHUNK_MAX + 4096);
		ofs_pack_writer_add(w, type, id, stored->data, stored->len, rawlen);
		s->res->bytes_stored += stored->len;
		return ofs_pack_writer_size(w) >= target ? close_loose_pack(s, w, err) : 0;
	}
	/* Would this blob (plus the pack header and container index it implies) still fit? */
	if (s->cw != NULL && ofs_cw_sealed_size(s->cw, stored->len + header,
	    index_estimate(s, s->pw.n + 1)) > s->climit) {
		if ((rc = close_pack(s, err)) != 0 || (rc = seal_container(s, err)) != 0)
			return rc;
	}
	if (s->cw == NULL && (rc = open_container(s, err)) != 0)
		return rc;
	if (!s->pack_open) {
		if ((rc = ofs_cw_align(s->cw, &s->pack_off, err)) != 0)
			return rc;
		ofs_xxh_reset(s->pack_h);
		s->pack_len = 0;
		s->pw.n = 0;
		s->pack_open = 1;
	}
	if ((rc = ofs_cw_write(s->cw, stored->data, stored->len, s->pack_h, err)) != 0)
		return rc;
	if (s->pw.n == s->pw.cap) {
		s->pw.cap = s->pw.cap ? 2 * s->pw.cap : 256;
		s->pw.entries = ofs_xreallocarray(s->pw.entries, s->pw.cap, sizeof(*s->pw.entries));
	}
	e = &s->pw.entries[s->pw.n++];
	e->type = type;
	memcpy(e->id, id, OFS_ID_LEN);
	e->offset = (uint32_t)s->pack_len;
	e->stored_len = (uint32_t)stored->len;
	e->raw_len = rawlen;
	s->pack_len += stored->len;
	s->res->bytes_stored += stored->len;
	if (s->pack_len >= s->pack_target)
		return close_pack(s, err);
	return 0;
}

/* Catalog records: u64 count, then per file: u32 path length, path, u64 size, u64 inode,
 * i64 mtime ns, i64 ctime ns, u32 chunk count, chunk ids; then the baseline: u32 block
 * count, u64 block hashes, u32 base count (BASE_SAME: the chunk list), base ids. */
#define BASE_SAME UINT32_MAX
/* The bytes cat_encode appends for the records from on. */
static size_t
cat_size(const struct catalog *c, size_t from)
{
	size_t n = 8;

	for (size_t i = from; i < c->n; i++) {
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
static void
cat_encode(const struct catalog *c, size_t from, struct ofs_buf *b)
{
	ofs_buf_reserve_exact(b, cat_size(c, from));
	ofs_buf_add_u64le(b, c->n - from);
	for (size_t i = from; i < c->n; i++) {
		const struct cat_entry *e = &c->e[i];
		size_t pl = strlen(e->path);

		ofs_buf_add_u32le(b, (uint32_t)pl);
		ofs_buf_add(b, e->path, pl);
		ofs_buf_add_u64le(b, e->size);
		ofs_buf_add_u64le(b, e->ino);
		ofs_buf_add_u64le(b, (uint64_t)e->mtime);
		ofs_buf_add_u64le(b, (uint64_t)e->ctime);
		ofs_buf_add_u32le(b, e->nchunks);
		ofs_buf_add(b, e->chunks, (size_t)e->nchunks * OFS_ID_LEN);
		if (e->bl == NULL) {	/* no baseline: block count 0, base count 0 */
			ofs_buf_add_u32le(b, 0);
			ofs_buf_add_u32le(b, 0);
			continue;
		}
		ofs_buf_add_u32le(b, e->bl->nblocks);
		for (uint32_t k = 0; k < e->bl->nblocks; k++)
			ofs_buf_add_u64le(b, e->bl->blocks[k]);
		ofs_buf_add_u32le(b, e->bl->same ? BASE_SAME : e->bl->nbase);
		if (!e->bl->same)
			ofs_buf_add(b, e->bl->base, (size_t)e->bl->nbase * OFS_ID_LEN);
	}
}

/* with_bl: the records carry a baseline (catalog 2, journal 3). */
static int
cat_decode(struct ofs_rd *rd, struct catalog *c, int with_bl)
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
		if (!ofs_rd_ok(rd) || node.nchunks > ofs_rd_left(rd) / OFS_ID_LEN) {
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
		cat_add(c, fp, &node, &bl);
		free(fp);
		free(bl.blocks);
	}
	return ofs_rd_ok(rd) ? 0 : -1;
}

static void
catalog_id(struct stage *s, uint8_t id[OFS_ID_LEN])
{
	memset(id, 0, OFS_ID_LEN);
	memcpy(id, s->repo->cfg.repo_id, 16);
	id[OFS_ID_LEN - 1] = 1;	/* not the journal's id */
}

/* After a complete run: the files of this snapshot, for the next run's change detection. */
static int
save_catalog(struct stage *s, struct ofs_error *err)
{
	struct ofs_buf c = OFS_BUF_INIT(0), sealed = OFS_BUF_INIT(0);
	uint8_t id[OFS_ID_LEN];
	char *path = ofs_path_join(s->repo->state_dir, CATALOG_NAME);
	int rc;

	ofs_buf_add(&c, "OFSCAT02", 8);
	ofs_buf_add(&c, s->res->snapshot_id, OFS_ID_LEN);
	cat_encode(&s->done_files, 0, &c);
	catalog_id(s, id);
	if ((rc = ofs_blob_seal(s->wctx, OFS_OBJ_JOURNAL, id, c.data, c.len, 1, &sealed, err)) == 0)
		rc = ofs_write_file_atomic(path, sealed.data, sealed.len, 0600, err);
	ofs_buf_release(&c);
	ofs_buf_release(&sealed);
	free(path);
	return rc;
}

/* The catalog of the last run, if its snapshot is still in the repository. A missing or
 * unreadable catalog only means every file is read. */
static void
load_catalog(struct stage *s)
{
	struct ofs_buf sealed = OFS_BUF_INIT(JOURNAL_MAX), c = OFS_BUF_INIT(JOURNAL_MAX);
	char *path = ofs_path_join(s->repo->state_dir, CATALOG_NAME), hex[2 * OFS_ID_LEN + 1];
	char *name = NULL;
	uint8_t id[OFS_ID_LEN], snap[OFS_ID_LEN];
	const uint8_t *magic;
	uint64_t size;
	struct ofs_rd rd;

	catalog_id(s, id);
	if (ofs_buf_read_file(&sealed, path, NULL) != 0 ||
	    ofs_blob_open(s->wctx, OFS_OBJ_JOURNAL, id, sealed.data, sealed.len, JOURNAL_MAX, &c,
	    NULL) != 0)
		goto out;
	ofs_rd_init(&rd, c.data, c.len);
	magic = ofs_rd_ptr(&rd, 8);
	if (magic == NULL || (memcmp(magic, "OFSCAT01", 8) != 0 &&
	    memcmp(magic, "OFSCAT02", 8) != 0))
		goto out;
	ofs_rd_bytes(&rd, snap, OFS_ID_LEN);
	ofs_hex(snap, OFS_ID_LEN, hex);
	name = ofs_path_join("snapshots", hex);
	if (!ofs_rd_ok(&rd) || s->repo->be->ops->size(s->repo->be, name, &size, NULL) != 0)
		goto out;
	if (cat_decode(&rd, &s->prev, magic[7] == '2') != 0) {
		cat_release(&s->prev);
		goto out;
	}
	s->has_parent = 1;
	memcpy(s->parent, snap, OFS_ID_LEN);
out:
	free(name);
	free(path);
	ofs_buf_release(&sealed);
	ofs_buf_release_secret(&c);
}

/* Unfinished containers (".<set>-<seq>.vhd.partial") that no journal names: a run killed
 * before its first checkpoint leaves one, and nothing in the index points into it. We hold
 * the lock, so nobody else writes there: remove them (the resumed open container, s->cw,
 * stays), from the staging folder and every given disk, and say so. */
static void
remove_orphan_partials(struct stage *s)
{
	char keep[128] = "";

	if (s->cw != NULL) {
		char name[96];

		ofs_container_name(s->set_id, s->seq, name, sizeof(name));
		snprintf(keep, sizeof(keep), ".%s.partial", name);
	}
	for (int k = s->o->ndisks > 0 ? 0 : -1; k < (int)s->o->ndisks || k == -1; k++) {
		char *probe = container_file(s, k, "x"), *dir;
		struct dirent *de;
		DIR *d;

		if (probe == NULL)
			break;
		dir = ofs_xstrdup(dirname(probe));
		if ((d = opendir(dir)) != NULL) {
			while ((de = readdir(d)) != NULL) {
				size_t n = strlen(de->d_name);

				if (de->d_name[0] != '.' || n < 9 ||
				    strcmp(de->d_name + n - 8, ".partial") != 0 ||
				    strcmp(de->d_name, keep) == 0)
					continue;
				if (unlinkat(dirfd(d), de->d_name, 0) == 0)
					ofs_info("removed %s/%s: an unfinished container of a run "
					    "interrupted before its first checkpoint (its data is stored "
					    "again)", dir, de->d_name);
				else
					ofs_warn("cannot remove the unfinished container %s/%s: %s", dir,
					    de->d_name, strerror(errno));
			}
			closedir(d);
		}
		free(dir);
		free(probe);
		if (k == -1)
			break;
	}
}

/* 1 when name is "X.tmp-" and six letters or digits: a temporary file of
 * ofs_write_file_atomic that a killed run left. */
static int
atomic_temp_name(const char *name)
{
	const char *t = strstr(name, ".tmp-");
	size_t n;

	if (t == NULL || t == name || strlen(t + 5) != 6)
		return 0;
	for (n = 0; n < 6; n++)
		if (!isalnum((unsigned char)t[5 + n]))
			return 0;
	return 1;
}

/* Temporary files of atomic writes (index files, snapshots, the manifest, config) that a
 * killed run left in the repository folder: nothing names them and, holding the lock, we
 * know no one is writing them. Remove them and say so. */
static void
remove_orphan_temps(struct stage *s)
{
	static const char *const dirs[] = { "index", "snapshots", "keys", "" };

	for (size_t i = 0; i < OFS_ARRAY_LEN(dirs); i++) {
		char *dir = s->repo->be->ops->path != NULL ?
		    s->repo->be->ops->path(s->repo->be, dirs[i]) : NULL;
		struct dirent *de;
		DIR *d;

		if (dir == NULL)
			return;		/* a remote repository: no folder to look in */
		if ((d = opendir(dir)) != NULL) {
			while ((de = readdir(d)) != NULL) {
				if (!atomic_temp_name(de->d_name))
					continue;
				if (unlinkat(dirfd(d), de->d_name, 0) == 0)
					ofs_info("removed %s/%s: a file an interrupted run was "
					    "writing", dir, de->d_name);
			}
			closedir(d);
		}
		free(dir);
	}
}

/* A backup killed after uploading packs but before listing them in an index file: find
 * those packs (in data/, unknown to the index) and index them from their own headers, so
 * they are not uploaded again. */
static void
adopt_orphan_packs(struct stage *s)
{
	char **dirs = NULL, **files = NULL;
	size_t nd = 0, nf = 0;

	if (s->repo->be->ops->list(s->repo->be, "data", &dirs, &nd, NULL) != 0)
		return;
	for (size_t i = 0; i < nd; i++) {
		char *sub = ofs_path_join("data", dirs[i]), *local = s->repo->be->ops->path(s->repo->be,
		    sub);
		DIR *dd;

		/* a pack the killed run was writing: its temporary file is garbage (we hold the
		 * lock, so nobody else is writing here) */
		if (local != NULL && (dd = opendir(local)) != NULL) {
			struct dirent *de;

			while ((de = readdir(dd)) != NULL)
				if (strstr(de->d_name, ".tmp-") != NULL)
					unlinkat(dirfd(dd), de->d_name, 0);
			closedir(dd);
		}
		free(local);

		if (s->repo->be->ops->list(s->repo->be, sub, &files, &nf, NULL) == 0) {
			for (size_t j = 0; j < nf; j++) {
				struct ofs_index_pack ip;
				struct ofs_buf data = OFS_BUF_INIT(1u << 30);
				struct ofs_pack_entry *ents = NULL;
				size_t nents = 0, need = 0;
				char *name = ofs_path_join(sub, files[j]);
				struct ofs_blob_ref ref;
				int known = 0;

				memset(&ip, 0, sizeof(ip));
				if (ofs_unhex(files[j], ip.id, OFS_ID_LEN) != 0)
					goto next;
				known = ofs_idx_find_pack(s->repo->idx, ip.id, NULL);
				if (known || s->repo->be->ops->get(s->repo->be, name, 0, 0, &data,
				    NULL) != 0 || ofs_pack_parse(s->wctx, ip.id, data.data, data.len,
				    data.len, &ents, &nents, &need, NULL) != 0)
					goto next;
				(void)ref;
				ip.loc.kind = OFS_LOC_LOOSE;
				ip.length = data.len;
				ofs_xxh128(data.data, data.len, ip.xxh);
				ip.blobs = ents;
				ip.nblobs = nents;
				ents = NULL;
				ofs_idx_add_index(s->repo->idx, &ip, 1);
				/* list it in the next index file */
				if (s->nloose == s->caploose) {
					s->caploose = s->caploose ? 2 * s->caploose : 64;
					s->loose = ofs_xreallocarray(s->loose, s->caploose,
					    sizeof(*s->loose));
				}
				s->loose[s->nloose++] = ip;
				ofs_verbose("adopted pack %s from an interrupted backup", files[j]);
next:
				free(ents);
				free(name);
				ofs_buf_release(&data);
			}
			ofs_names_free(files, nf);
			files = NULL;
			nf = 0;
		}
		free(sub);
	}
	ofs_names_free(dirs, nd);
}

/* ---- writer: journal (checkpoints) ------------------------------------------------- */

static char *
journal_path(struct stage *s)
{
	return ofs_path_join(s->repo->state_dir, s->o->loose ? "backup.journal" : "stage.journal");
}

/* Segment k of the journal: repository id ‖ k (u64le) ‖ 8 zero bytes (segment 0 has the id
 * of the single-object journals of versions 1-3). */
static void
journal_id(struct stage *s, uint64_t seg, uint8_t id[OFS_ID_LEN])
{
	memset(id, 0, OFS_ID_LEN);
	memcpy(id, s->repo->cfg.repo_id, 16);
	ofs_put_u64le(id + 16, seg);
}

static void
jstr_add(struct ofs_buf *b, const char *str)
{
	ofs_buf_add_u32le(b, (uint32_t)strlen(str));
	ofs_buf_add(b, str, strlen(str));
}

/* A string of the journal (at most 64 KiB); NULL when truncated. Owned. */
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

#define JOURNAL_MAGIC "OFSJSEG1"
/* A segment appended rather than the file rewritten while the file stays under twice its
 * length after the last rewrite, plus this: the catalog is then written O(1) times per
 * entry, not once per checkpoint (the catalog of a 60 TB seed is gigabytes). */
#define JOURNAL_SLACK ((uint64_t)64 << 20)

/* Append one segment (len ‖ sealed) to the journal and make it durable. On failure the
 * file is cut back to where it was. */
static int
journal_append(struct stage *s, const char *path, const struct ofs_buf *rec,
    struct ofs_error *err)
{
	int fd, e = 0;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1)
		return ofs_err_sys(err, OFS_ERR_IO, errno, "cannot open stage journal '%s'", path);
	if ((e = -ofs_write_all(fd, rec->data, rec->len)) == 0 && fdatasync(fd) == -1)
		e = errno;
	if (e != 0 && ftruncate(fd, (off_t)s->jlen) == -1) {
		/* the torn segment is dropped when the journal is read */
	}
	close(fd);
	if (e != 0)
		return ofs_err_sys(err, e == ENOSPC || e == EDQUOT ? OFS_ERR_NOSPACE : OFS_ERR_IO,
		    e, "cannot write stage journal '%s'", path);
	return 0;
}

/* Checkpoint the run into the journal: a segment with the state and the files completed
 * since the previous segment, appended; or, at the run's first checkpoint and whenever the
 * file has grown past twice its rewritten length, the whole file anew (atomic write). */
static int
write_journal(struct stage *s, struct ofs_error *err)
{
	struct ofs_buf j = OFS_BUF_INIT(0), rec = OFS_BUF_INIT(0), packs = OFS_BUF_INIT(0);
	uint8_t id[OFS_ID_LEN];
	char *path;
	int whole = s->jseg == 0 || s->jlen > 2 * s->jbase + JOURNAL_SLACK, rc;
	size_t from = whole ? 0 : (size_t)s->jcat_n;

	ofs_buf_add(&j, "OFSJRNL4", 8);
	ofs_buf_add(&j, s->set_id, 16);
	ofs_buf_add_u32le(&j, s->next_seq);
	ofs_buf_add_u32le(&j, s->seq);
	ofs_buf_add_u64le(&j, s->cw != NULL ? ofs_cw_length(s->cw) : 0);
	if ((rc = ofs_index_encode(s->cpacks, s->ncpacks, &packs)) != 0)
		goto out;
	ofs_buf_add_u64le(&j, packs.len);
	ofs_buf_add(&j, packs.data, packs.len);
	{	/* the rest sized first, like the catalog alone (cat_encode) */
		const struct ofs_manifest *m = s->res->sealed;
		size_t n = s->o->ndisks > 0 && m != NULL ? m->nfiles : 0;
		size_t need = cat_size(&s->done_files, from) + 2 * (4 + PATH_MAX) + 8 + 4;

		for (size_t i = 0; i < n; i++)
			need += 8 + strlen(m->files[i].path) + strlen(s->sealed_serial[i]) + 8 +
			    OFS_XXH_LEN + 4 + m->files[i].h.nregions * OFS_XXH_LEN;
		ofs_buf_reserve_exact(&j, need);
	}
	cat_encode(&s->done_files, from, &j);
	jstr_add(&j, s->cw != NULL && s->cur_disk >= 0 ? s->o->disk_serials[s->cur_disk] : "");
	jstr_add(&j, s->cw != NULL && s->cur_disk >= 0 ? s->o->disks[s->cur_disk] : "");
	ofs_buf_add_u64le(&j, s->cw != NULL ? s->climit : 0);
	{
		const struct ofs_manifest *m = s->res->sealed;
		size_t n = s->o->ndisks > 0 && m != NULL ? m->nfiles : 0;

		ofs_buf_add_u32le(&j, (uint32_t)n);
		for (size_t i = 0; i < n; i++) {
			const struct ofs_file_hashes *h = &m->files[i].h;

			jstr_add(&j, m->files[i].path);
			jstr_add(&j, s->sealed_serial[i]);
			ofs_buf_add_u64le(&j, h->size);
			ofs_buf_add(&j, h->xxh, OFS_XXH_LEN);
			ofs_buf_add_u32le(&j, (uint32_t)h->nregions);
			ofs_buf_add(&j, h->regions, h->nregions * OFS_XXH_LEN);
		}
	}
	journal_id(s, whole ? 0 : s->jseg, id);
	if (whole)
		ofs_buf_add(&rec, JOURNAL_MAGIC, 8);
	ofs_buf_add_u64le(&rec, 0);	/* the sealed length, set below */
	{
		size_t at = rec.len - 8;

		if ((rc = ofs_blob_seal(s->wctx, OFS_OBJ_JOURNAL, id, j.data, j.len, 1, &rec,
		    err)) != 0)
			goto out;
		ofs_put_u64le(rec.data + at, rec.len - at - 8);
	}
	path = journal_path(s);
	rc = whole ? ofs_write_file_atomic(path, rec.data, rec.len, 0600, err) :
	    journal_append(s, path, &rec, err);
	free(path);
	if (rc != 0) {
		if (!whole)
			s->jseg = 0;	/* the next checkpoint rewrites the file */
		goto out;
	}
	if (whole) {
		s->jseg = 1;
		s->jlen = s->jbase = rec.len;
	} else {
		s->jseg++;
		s->jlen += rec.len;
	}
	s->jcat_n = s->done_files.n;
out:
	ofs_buf_release(&j);
	ofs_buf_release(&packs);
	ofs_buf_release(&rec);
	return rc;
}

static int
checkpoint(struct stage *s, struct ofs_error *err)
{
	int rc;

	if ((rc = flush_pack(s, err)) != 0)
		return rc;
	if (s->cw != NULL && (rc = ofs_cw_sync(s->cw, err)) != 0)
		return rc;
	/* Loose packs are made known in steps, so a resumed run never stores them again. */
	if ((rc = index_loose(s, err)) != 0)
		return rc;
	if ((rc = write_journal(s, err)) != 0)
		return rc;
	s->since_ckpt = 0;
	s->last_ckpt = ofs_mono();
	ofs_verbose("checkpoint: %zu files done", s->done_files.n);
	return 0;
}

/* What one journal segment (or a single-object journal) records; the last one wins. */
struct jstate {
	uint8_t set_id[16];
	uint32_t next_seq, openseq;
	uint64_t committed, climit;
	struct ofs_index_pack *packs;
	size_t np;
	char *oserial, *omnt;
	struct jsealed {
		char *path, *serial;
		struct ofs_file_hashes h;
	} *sealed;
	size_t nsealed;
};

static void
jstate_release(struct jstate *st)
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

/* Parse a journal plaintext (versions 1-4) into st; its catalog records are added to
 * s->prev (a version 4 segment holds the files completed since the previous one). */
static int
journal_parse(struct stage *s, const uint8_t *p, size_t len, const char *path,
    struct jstate *st, struct ofs_error *err)
{
	struct ofs_rd rd;
	const uint8_t *magic;
	uint64_t plen;
	int ver;

	jstate_release(st);
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
	if (cat_decode(&rd, &s->prev, ver >= 3) != 0)
		goto truncated;
	if (ver >= 2) {
		uint32_t ns;

		if ((st->oserial = jstr_get(&rd)) == NULL || (st->omnt = jstr_get(&rd)) == NULL)
			goto truncated;
		st->climit = ofs_rd_u64le(&rd);
		ns = ofs_rd_u32le(&rd);
		if (!ofs_rd_ok(&rd) || ns > ofs_rd_left(&rd) / 8)
			goto truncated;
		st->sealed = ofs_xcalloc(ns ? ns : 1, sizeof(*st->sealed));
		for (uint32_t i = 0; i < ns && ofs_rd_ok(&rd); i++) {
			struct jsealed *e = &st->sealed[st->nsealed++];

			e->path = jstr_get(&rd);
			e->serial = jstr_get(&rd);
			e->h.size = ofs_rd_u64le(&rd);
			ofs_rd_bytes(&rd, e->h.xxh, OFS_XXH_LEN);
			e->h.nregions = ofs_rd_u32le(&rd);
			if (e->path == NULL || e->serial == NULL || !ofs_rd_ok(&rd) ||
			    e->h.nregions > ofs_rd_left(&rd) / OFS_XXH_LEN) {
				e->h.nregions = 0;
				goto truncated;
			}
			if (e->h.nregions > 0) {
				e->h.regions = ofs_xreallocarray(NULL, e->h.nregions, OFS_XXH_LEN);
				ofs_rd_bytes(&rd, e->h.regions, e->h.nregions * OFS_XXH_LEN);
			}
		}
		if (!ofs_rd_ok(&rd))
			goto truncated;
	}
	return 0;
truncated:
	return ofs_err_set(err, OFS_ERR_CORRUPT, "stage journal '%s' is truncated (delete it to "
	    "start over)", path);
}

/* Read the journal's segments into st, oldest first. A last segment cut short or that does
 * not open is the trace of a crash during its append: dropped with a warning, the run
 * resumes from the segment before (one checkpoint earlier). Anything else that does not
 * open is corruption. */
static int
journal_segments(struct stage *s, const struct ofs_buf *file, const char *path,
    struct jstate *st, struct ofs_error *err)
{
	struct ofs_buf j = OFS_BUF_INIT(JOURNAL_MAX);
	uint8_t id[OFS_ID_LEN];
	size_t off = 8, n = 0;
	int rc = 0;

	while (off < file->len) {
		uint64_t len = file->len - off >= 8 ? ofs_get_u64le(file->data + off) : UINT64_MAX;
		int last = len <= file->len - off - 8 && off + 8 + len == file->len;

		if (len > file->len - off - 8) {
			ofs_warn("stage journal '%s': the checkpoint after %zu was cut short by the "
			    "interruption; resuming from the one before it", path, n);
			break;
		}
		journal_id(s, n, id);
		ofs_buf_reset(&j);
		if ((rc = ofs_blob_open(s->wctx, OFS_OBJ_JOURNAL, id, file->data + off + 8,
		    (size_t)len, JOURNAL_MAX, &j, err)) != 0) {
			if (last && n > 0) {
				ofs_warn("stage journal '%s': its last checkpoint (%zu) does not open "
				    "(%s); resuming from the one before it", path, n, err->msg);
				rc = 0;
				break;
			}
			ofs_err_wrap(err, "stage journal '%s' (delete it to start over)", path);
			break;
		}
		if ((rc = journal_parse(s, j.data, j.len, path, st, err)) != 0)
			break;
		off += 8 + (size_t)len;
		n++;
	}
	if (rc == 0 && n == 0)
		rc = ofs_err_set(err, OFS_ERR_CORRUPT, "stage journal '%s' holds no checkpoint "
		    "(delete it to start over)", path);
	ofs_buf_release_secret(&j);
	return rc;
}

/* Load the journal of an interrupted run: the open container's committed prefix and packs,
 * and the catalog of files already stored. Returns 1 if resumed, 0 if there was none. */
static int
load_journal(struct stage *s, struct ofs_error *err)
{
	struct ofs_buf file = OFS_BUF_INIT(JOURNAL_MAX), j = OFS_BUF_INIT(JOURNAL_MAX);
	struct jstate st;
	struct ofs_superblock sb;
	uint8_t id[OFS_ID_LEN];
	char *path = journal_path(s), name[64], *rel = NULL, *cpath = NULL, *fpath = NULL;
	int rc, disk = -1;

	memset(&st, 0, sizeof(st));
	rc = ofs_buf_read_file(&file, path, err);
	if (rc == OFS_ERR_NOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	if (file.len >= 8 && memcmp(file.data, JOURNAL_MAGIC, 8) == 0) {
		if ((rc = journal_segments(s, &file, path, &st, err)) != 0)
			goto out;
	} else {	/* versions 1-3: one sealed object */
		journal_id(s, 0, id);
		if ((rc = ofs_blob_open(s->wctx, OFS_OBJ_JOURNAL, id, file.data, file.len,
		    JOURNAL_MAX, &j, err)) != 0) {
			ofs_err_wrap(err, "stage journal '%s' (delete it to start over)", path);
			goto out;
		}
		if ((rc = journal_parse(s, j.data, j.len, path, &st, err)) != 0)
			goto out;
	}
	memcpy(s->set_id, st.set_id, 16);
	s->next_seq = st.next_seq;
	for (size_t i = 0; s->res->sealed != NULL && i < st.nsealed; i++) {
		ofs_manifest_add(s->res->sealed, st.sealed[i].path, &st.sealed[i].h);
		s->sealed_serial = ofs_xreallocarray(s->sealed_serial, s->res->sealed->nfiles,
		    sizeof(char *));
		s->sealed_serial[s->res->sealed->nfiles - 1] = st.sealed[i].serial;
		st.sealed[i].serial = NULL;
	}
	/* Reopen the open container at its committed length, unless it got sealed. On disks,
	 * the disk that holds it is found by its serial (or else its mount path). */
	if (st.openseq != 0 && s->o->ndisks > 0) {
		for (size_t k = 0; k < s->o->ndisks && disk < 0; k++)
			if (st.oserial != NULL && st.oserial[0] != '\0' &&
			    strcmp(s->o->disk_serials[k], st.oserial) == 0)
				disk = (int)k;
		for (size_t k = 0; k < s->o->ndisks && disk < 0; k++)
			if (st.omnt != NULL && st.omnt[0] != '\0' &&
			    strcmp(s->o->disks[k], st.omnt) == 0)
				disk = (int)k;
		if (disk < 0) {
			ofs_warn("the interrupted run's open container %u is on disk %s ('%s'), "
			    "which is not given: its data is stored again", st.openseq,
			    st.oserial != NULL && st.oserial[0] ? st.oserial : "?",
			    st.omnt ? st.omnt : "?");
			st.openseq = 0;
		}
	}
	if (st.openseq != 0) {
		ofs_container_name(s->set_id, st.openseq, name, sizeof(name));
		fpath = container_file(s, disk, name);
		rel = ofs_xasprintf(".%s.partial", name);
		cpath = container_file(s, disk, rel);
		if (!ofs_path_exists(fpath) && ofs_path_exists(cpath)) {
			memset(&sb, 0, sizeof(sb));
			sb.version = OFS_CONTAINER_VERSION;
			memcpy(sb.repo_id, s->repo->cfg.repo_id, 16);
			memcpy(sb.set_id, s->set_id, 16);
			sb.seq = st.openseq;
			if ((rc = ofs_cw_resume(cpath, &sb, st.committed, OFS_REGION_SIZE, &s->cw,
			    err)) != 0)
				goto out;
			s->seq = st.openseq;
			s->cur_disk = disk;
			s->climit = st.climit != 0 ? st.climit : s->o->container_size;
			s->cpacks = st.packs;
			s->ncpacks = s->capcpacks = st.np;
			ofs_idx_add_index(s->repo->idx, st.packs, st.np);
			st.packs = NULL;
			st.np = 0;
		}
	}
	rc = 1;
out:
	jstate_release(&st);
	ofs_buf_release(&file);
	ofs_buf_release_secret(&j);
	free(rel);
	free(cpath);
	free(fpath);
	free(path);
	return rc;
}

/* ---- writer: trees ------------------------------------------------------------------- */

static struct level *
push_level(struct stage *s)
{
	struct level *l;

	if (s->nlevels == s->caplevels) {
		s->caplevels = s->caplevels ? 2 * s->caplevels : 16;
		s->levels = ofs_xreallocarray(s->levels, s->caplevels, sizeof(*s->levels));
	}
	l = &s->levels[s->nlevels++];
	memset(l, 0, sizeof(*l));
	ofs_tree_init(&l->tree);
	return l;
}

/* Encode a finished tree, store it if new, and return its id. */
static int
store_tree(struct stage *s, struct ofs_tree *t, uint8_t id[OFS_ID_LEN], struct ofs_error *err)
{
	struct ofs_buf raw = OFS_BUF_INIT(0), stored = OFS_BUF_INIT(0);
	struct ofs_blob_ref ref, dummy = { 0, 0, 0, 0, OFS_BLOB_TREE };
	int rc, is_new;

	if ((rc = ofs_tree_encode(t, &raw, err)) != 0)
		goto out;
	ofs_blob_id(s->wctx, raw.data, raw.len, id);
	pthread_mutex_lock(&s->idx_mu);
	is_new = !ofs_idx_lookup(s->repo->idx, id, &ref) &&
	    ofs_idx_add_blob(s->pending, id, &dummy) == 0;
	pthread_mutex_unlock(&s->idx_mu);
	if (!is_new)
		goto out;
	if ((rc = ofs_blob_seal(s->wctx, OFS_BLOB_TREE, id, raw.data, raw.len, 1, &stored,
	    err)) != 0)
		goto out;
	rc = add_blob(s, OFS_BLOB_TREE, id, &stored, (uint32_t)raw.len, err);
out:
	ofs_buf_release(&raw);
	ofs_buf_release(&stored);
	return rc;
}

static void
tree_take(struct ofs_tree *t, struct ofs_node *n)
{
	struct ofs_node *dst = ofs_tree_add(t);

	*dst = *n;
	memset(n, 0, sizeof(*n));
}

/* The writer's side of a small file's chunk: reports what its read found; 1 when it
 * carries data to store. */
static int
small_outcome(struct stage *s, const struct item *it)
{
	if (it->drop) {
		skipped(s, it->path, it->reason);
		__atomic_add_fetch(&s->res->skipped, 1, __ATOMIC_RELAXED);
		s->cur_drop = 1;
		return 0;
	}
	if (it->changed) {
		skipped(s, it->path, "changed while being read (stored, marked changed)");
		__atomic_add_fetch(&s->res->changed, 1, __ATOMIC_RELAXED);
		s->cur_changed = 1;
	}
	return it->len > 0;
}

static int
consume(struct stage *s, struct item *it, struct ofs_error *err)
{
	struct level *l;
	int rc = 0;

	switch (it->kind) {
	case IT_CHUNK:
		if (it->small && !small_outcome(s, it))
			break;
		if (it->is_new) {
			s->res->bytes_new += it->len;
			s->res->blobs_new++;
			if (it->is_patch)
				s->res->patches++;
			if ((rc = add_blob(s, it->is_patch ? OFS_BLOB_PATCH : OFS_BLOB_DATA, it->id,
			    &it->stored, (uint32_t)it->len, err)) != 0)
				return rc;
		} else {
			s->res->blobs_dup++;
		}
		if (s->have_cur) {
			s->cur_bytes += it->len;
			s->cur.chunks = ofs_xreallocarray(s->cur.chunks, s->cur.nchunks + 1,
			    OFS_ID_LEN);
			memcpy(s->cur.chunks[s->cur.nchunks++], it->id, OFS_ID_LEN);
		}
		break;
	case IT_DIR_ENTER:
		l = push_level(s);
		l->dir = it->node;
		memset(&it->node, 0, sizeof(it->node));
		s->res->dirs++;
		break;
	case IT_DIR_LEAVE:
		if (s->nlevels < 2)
			return ofs_err_set(err, OFS_ERR_IO, "internal error: unbalanced walk");
		l = &s->levels[s->nlevels - 1];
		if ((rc = store_tree(s, &l->tree, l->dir.subtree, err)) != 0)
			return rc;
		l->dir.has_subtree = 1;
		ofs_tree_release(&l->tree);
		s->nlevels--;
		tree_take(&s->levels[s->nlevels - 1].tree, &s->levels[s->nlevels].dir);
		break;
	case IT_ENTRY:
		if (it->node.type == OFS_NODE_FILE)
			s->res->files++;
		tree_take(&s->levels[s->nlevels - 1].tree, &it->node);
		break;
	case IT_FILE_START:
		s->cur = it->node;
		memset(&it->node, 0, sizeof(it->node));
		s->have_cur = 1;
		free(s->cur_path);
		s->cur_path = it->path;
		it->path = NULL;
		s->cur_bl = it->bl;	/* borrowed from s->prev, which outlives the run */
		s->cur_drop = s->cur_changed = 0;
		s->cur_bytes = 0;
		if (!it->reused) {
			free(s->cur.chunks);
			s->cur.chunks = NULL;
			s->cur.nchunks = 0;
		}
		break;
	case IT_FILE_END:
		if (!s->have_cur)
			break;
		s->have_cur = 0;
		if (it->drop || s->cur_drop) {
			ofs_node_release(&s->cur);
			break;
		}
		if (!it->changed && !s->cur_changed) {
			cat_add(&s->done_files, s->cur_path, &s->cur,
			    it->bl.nblocks > 0 ? &it->bl : &s->cur_bl);
		} else {
			s->cur.flags |= OFS_NODE_CHANGED;
			/* it shrank while read: it is what was read (else restore would find
			 * its chunks short of its size and call it damaged) */
			if (!s->cur.sparse && s->cur_bytes < s->cur.size)
				s->cur.size = s->cur_bytes;
			/* read again next time (a ctime no file has), but keep the baseline */
			if (s->cur_bl.nblocks > 0) {
				struct ofs_node again = s->cur;

				again.ctime_ns = INT64_MIN;
				cat_add(&s->done_files, s->cur_path, &again, &s->cur_bl);
			}
		}
		s->res->bytes_done += s->cur.size;
		s->res->files++;
		tree_take(&s->levels[s->nlevels - 1].tree, &s->cur);
		break;
	}
	if (s->since_ckpt >= s->o->checkpoint_bytes ||
	    ofs_mono() - s->last_ckpt >= s->o->checkpoint_seconds)
		rc = checkpoint(s, err);
	return rc;
}

static void *
writer(void *arg)
{
	struct stage *s = arg;
	struct ofs_error err = { 0 };
	struct item *it;
	int rc;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stop && (s->tail >= s->head || !s->ring[s->tail % RING_SLOTS]->done) &&
		    !(s->producer_done && s->tail >= s->head)) {
			double t = ofs_mono();

			s->writer_waiting = 1;
			pthread_cond_wait(&s->cv_done, &s->mu);
			s->writer_waiting = 0;
			s->wait_writer += ofs_mono() - t;
		}
		if (s->stop || (s->producer_done && s->tail >= s->head))
			break;
		it = s->ring[s->tail % RING_SLOTS];
		s->ring[s->tail % RING_SLOTS] = NULL;
		s->tail++;
		if (it->kind == IT_CHUNK)
			s->inflight -= it->charged;
		/* wake a blocked producer once there is room for a batch, not per item */
		if (s->producer_waiting && (s->head - s->tail <= RING_SLOTS / 2 || s->tail == s->head) &&
		    s->inflight <= INFLIGHT_BYTES / 2)
			pthread_cond_broadcast(&s->cv_space);
		pthread_mutex_unlock(&s->mu);

		rc = consume(s, it, &err);
		item_free(it);
		if (rc != 0) {
			set_err(s, rc, &err);
			pthread_mutex_lock(&s->mu);
			break;
		}
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- driver ------------------------------------------------------------------------- */

static int
finish(struct stage *s, struct ofs_error *err)
{
	struct ofs_snapshot snap;
	struct ofs_buf raw = OFS_BUF_INIT(0);
	char host[256] = "", *user = getenv("USER");
	int rc;

	if (s->nlevels != 1)
		return ofs_err_set(err, OFS_ERR_IO, "internal error: unbalanced walk at the end");
	if ((rc = store_tree(s, &s->levels[0].tree, s->root_tree, err)) != 0)
		return rc;
	if ((rc = flush_pack(s, err)) != 0 || (rc = seal_container(s, err)) != 0)
		return rc;
	if ((rc = index_loose(s, err)) != 0)
		return rc;
	memset(&snap, 0, sizeof(snap));
	ofs_random(snap.id, sizeof(snap.id));
	snap.time_ns = ofs_now_ns();
	gethostname(host, sizeof(host) - 1);
	snap.host = host;
	snap.user = user ? user : "";
	snap.version = "offseed " OFS_VERSION;
	snap.paths = (char **)s->o->srcs;
	snap.npaths = s->o->nsrcs;
	snap.tags = (char **)s->o->tags;
	snap.ntags = s->o->ntags;
	memcpy(snap.tree, s->root_tree, OFS_ID_LEN);
	if (!s->o->loose) {
		snap.has_seed_set = 1;
		memcpy(snap.seed_set, s->set_id, 16);
	}
	if (s->has_parent) {
		snap.has_parent = 1;
		memcpy(snap.parent, s->parent, OFS_ID_LEN);
	}
	snap.files = s->res->files;
	snap.dirs = s->res->dirs;
	snap.bytes = s->res->bytes_read + s->res->bytes_reused;
	snap.bytes_new = s->res->bytes_new;
	snap.bytes_stored = s->res->bytes_stored;
	snap.skipped = s->res->skipped + s->res->changed;
	if ((rc = ofs_snapshot_encode(&snap, &raw, err)) == 0)
		rc = ofs_repo_put_object(s->repo, "snapshots", OFS_OBJ_SNAPSHOT, snap.id, raw.data,
		    raw.len, err);
	if (rc == 0)
		memcpy(s->res->snapshot_id, snap.id, OFS_ID_LEN);
	ofs_buf_release(&raw);
	return rc;
}

int
ofs_stage_run(struct ofs_repo *r, const struct ofs_stage_opts *o, struct ofs_progress *pr,
    struct ofs_stage_result *res, struct ofs_error *err)
{
	struct stage s;
	struct ofs_walk *w = NULL;
	pthread_t *workers = NULL, wr;
	int nthreads = o->threads > 0 ? o->threads : ofs_ncpu(), rc, started = 0;
	double t0 = ofs_mono();
	char *jpath, *running = NULL;

	memset(&s, 0, sizeof(s));
	{
		struct ofs_manifest *keep = res->sealed;

		memset(res, 0, sizeof(*res));
		res->sealed = keep;
	}
	s.repo = r;
	s.o = o;
	s.pr = pr;
	s.res = res;
	s.next_seq = 1;
	s.cur_disk = -1;
	s.climit = o->container_size;
	s.last_ckpt = ofs_mono();
	cat_back(&s.done_files, r->state_dir);
	cat_back(&s.prev, r->state_dir);
	pthread_mutex_init(&s.mu, NULL);
	pthread_mutex_init(&s.idx_mu, NULL);
	pthread_mutex_init(&s.umu, NULL);
	pthread_cond_init(&s.ucv, NULL);
	s.uq_tail = &s.uq_head;
	r->be->limit = o->limit;
	pthread_cond_init(&s.cv_space, NULL);
	pthread_cond_init(&s.cv_work, NULL);
	pthread_cond_init(&s.cv_done, NULL);
	s.ring = ofs_xcalloc(RING_SLOTS, sizeof(*s.ring));
	s.pending = ofs_idx_new();
	s.wctx = ofs_blob_ctx_new(&r->keys, r->cfg.zstd_level);
	ofs_pack_writer_init(&s.pw);
	ofs_pack_writer_init(&s.tw);
	s.pack_h = ofs_xxh_new();
	s.pack_target = o->loose ? OFS_PACK_TARGET : CONTAINER_PACK_TARGET;
	if (!o->loose && s.pack_target > o->container_size / 4)
		s.pack_target = o->container_size / 4;
	if (ofs_chunker_init(&s.chunker, r->keys.chunker_seed, r->cfg.chunk_min, r->cfg.chunk_avg,
	    r->cfg.chunk_max) != 0) {
		rc = ofs_err_set(err, OFS_ERR_CORRUPT, "config: unusable chunker parameters");
		goto out;
	}
	if ((rc = load_journal(&s, err)) < 0)
		goto out;
	res->resumed = rc == 1;
	/* A run killed before its first checkpoint leaves no journal, only this mark: the
	 * packs it stored are adopted too, not stored again. */
	jpath = journal_path(&s);
	running = ofs_xasprintf("%s.running", jpath);
	free(jpath);
	if (res->resumed || access(running, F_OK) == 0)
		adopt_orphan_packs(&s);
	remove_orphan_partials(&s);
	remove_orphan_temps(&s);
	if ((rc = ofs_write_file_atomic(running, "", 0, 0600, err)) != 0)
		goto out;
	load_catalog(&s);	/* a resumed run reuses both its journal and the last catalog */
	if (!res->resumed) {
		ofs_random(s.set_id, sizeof(s.set_id));
	} else {
		/* containers sealed before the crash are in the index already; continue the
		 * sequence after the last one */
		for (size_t i = 0; i < ofs_idx_npacks(r->idx); i++) {
			const struct ofs_idx_pack *p = ofs_idx_pack(r->idx, (uint32_t)i);

			if (p->loc.kind == OFS_LOC_CONTAINER && memcmp(p->loc.set, s.set_id, 16) == 0 &&
			    p->loc.seq >= s.next_seq && p->loc.seq != s.seq)
				s.next_seq = p->loc.seq + 1;
		}
		for (size_t i = 0; res->sealed != NULL && i < res->sealed->nfiles; i++) {
			const char *nm = strrchr(res->sealed->files[i].path, '-');
			unsigned long q = nm != NULL ? strtoul(nm + 1, NULL, 10) : 0;

			if (q >= s.next_seq && q != s.seq)
				s.next_seq = (uint32_t)q + 1;
		}
		ofs_info("resuming an interrupted stage (%zu files already stored)", s.prev.n);
	}
	memcpy(res->set_id, s.set_id, 16);
	/* On disks a journal exists from the start: a run killed after sealing its first
	 * container onto a disk, before any checkpoint, is resumed in the same seed set (whose
	 * containers the final disk manifests list), not replaced by a new set beside it. */
	if (o->ndisks > 0 && !res->resumed && (rc = write_journal(&s, err)) != 0)
		goto out;
	push_level(&s);	/* the snapshot root */
	if ((rc = ofs_walk_open(o->srcs, o->nsrcs, &o->walk, &w, err)) != 0)
		goto out;
	uploads_start(&s);
	workers = ofs_xcalloc((size_t)nthreads, sizeof(*workers));
	for (started = 0; started < nthreads; started++)
		pthread_create(&workers[started], NULL, worker, &s);
	pthread_create(&wr, NULL, writer, &s);
	produce(&s, w);
	pthread_join(wr, NULL);
	pthread_mutex_lock(&s.mu);
	s.stop = s.stop ? s.stop : 2;	/* let idle workers go */
	pthread_cond_broadcast(&s.cv_work);
	pthread_mutex_unlock(&s.mu);
	for (int i = 0; i < started; i++)
		pthread_join(workers[i], NULL);
	if (s.failed_code != 0) {
		rc = s.failed_code;
		*err = s.failed;
		goto out;
	}
	ofs_verbose("pipeline: producer waited %.2fs, workers %.2fs, writer %.2fs",
	    s.wait_producer, s.wait_workers, s.wait_writer);
	if ((rc = finish(&s, err)) != 0)
		goto out;
	{
		struct ofs_error cerr = { 0 };

		if (save_catalog(&s, &cerr) != 0)
			ofs_warn("cannot save the catalog for the next run: %s", cerr.msg);
	}
	if (!o->keep_journal) {
		jpath = journal_path(&s);
		unlink(jpath);
		free(jpath);
		unlink(running);
	}
	rc = res->skipped + res->changed > 0 ? OFS_ERR_SKIPPED : 0;
out:
	uploads_stop(&s, rc != 0 && rc != OFS_ERR_SKIPPED);
	r->be->limit = NULL;
	if (rc != 0 && rc != OFS_ERR_SKIPPED && s.cw != NULL) {
		ofs_cw_abort(s.cw);	/* the partial container stays for a resume */
		s.cw = NULL;
	}
	while (s.tail < s.head) {
		item_free(s.ring[s.tail % RING_SLOTS]);
		s.tail++;
	}
	for (size_t i = 0; i < s.nlevels; i++) {
		ofs_tree_release(&s.levels[i].tree);
		ofs_node_release(&s.levels[i].dir);
	}
	free(s.levels);
	if (s.have_cur)
		ofs_node_release(&s.cur);
	free(s.cur_path);
	cpacks_clear(&s);
	free(s.cpacks);
	cat_release(&s.done_files);
	cat_release(&s.prev);
	for (size_t i = 0; s.sealed_serial != NULL && i < res->sealed->nfiles; i++)
		free(s.sealed_serial[i]);
	free(s.sealed_serial);
	ofs_pack_writer_release(&s.pw);
	ofs_pack_writer_release(&s.tw);
	for (size_t i = 0; i < s.nloose; i++)
		free(s.loose[i].blobs);
	free(s.loose);
	ofs_xxh_free(s.pack_h);
	ofs_blob_ctx_free(s.wctx);
	ofs_idx_free(s.pending);
	free(running);
	ofs_walk_free(w);
	free(workers);
	free(s.ring);
	pthread_mutex_destroy(&s.mu);
	pthread_mutex_destroy(&s.idx_mu);
	pthread_mutex_destroy(&s.umu);
	pthread_cond_destroy(&s.ucv);
	pthread_cond_destroy(&s.cv_space);
	pthread_cond_destroy(&s.cv_work);
	pthread_cond_destroy(&s.cv_done);
	res->seconds = ofs_mono() - t0;
	return rc;
}

void
ofs_stage_journal_remove(struct ofs_repo *r, int loose)
{
	char *jpath = ofs_path_join(r->state_dir, loose ? "backup.journal" : "stage.journal");
	char *running = ofs_xasprintf("%s.running", jpath);

	unlink(jpath);
	unlink(running);
	free(running);
	free(jpath);
}
