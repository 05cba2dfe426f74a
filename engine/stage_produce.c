/* The stage's producer, on the calling thread: walks the sources, reads each file (its
 * data extents when sparse), cuts it into chunks and queues the items in walk order; files
 * the catalog already has are reused unread, small files are left to the workers to read. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "patch.h"
#include "stage_int.h"

/* Queue an item; blocks while the ring or the in-flight budget is full. */
static int
push(struct stage *s, struct item *it)
{
	struct stage_ring *rg = &s->ring;
	struct item *spent;

	pthread_mutex_lock(&rg->mu);
	while (!rg->stop && (rg->head - rg->tail >= RING_SLOTS ||
	    (it->kind == IT_CHUNK && rg->inflight + it->len > INFLIGHT_BYTES &&
	    rg->inflight > 0))) {
		double t = ofs_mono();

		/* about to sleep: make sure nobody waits for a batch that will not fill */
		pthread_cond_broadcast(&rg->cv_work);
		pthread_cond_signal(&rg->cv_done);
		rg->producer_waiting = 1;
		pthread_cond_wait(&rg->cv_space, &rg->mu);
		rg->producer_waiting = 0;
		rg->wait_producer += ofs_mono() - t;
	}
	if (rg->stop) {
		pthread_mutex_unlock(&rg->mu);
		item_free(it);
		return -1;
	}
	if (it->kind == IT_CHUNK)
		rg->inflight += it->charged = it->len;
	else
		it->done = 1;
	rg->slot[rg->head % RING_SLOTS] = it;
	rg->head++;
	if (it->kind == IT_CHUNK && rg->workers_waiting > 0 &&
	    (it->len >= (256u << 10) || rg->head - rg->work_next >= 8))
		pthread_cond_signal(&rg->cv_work);
	if (rg->writer_waiting && rg->head - rg->tail >= WRITER_BATCH)
		pthread_cond_signal(&rg->cv_done);
	spent = rg->spent;
	rg->spent = NULL;
	pthread_mutex_unlock(&rg->mu);
	items_free(spent);
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

void
ofs_stg_skipped(struct stage *s, const char *path, const char *reason)
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

/* A worker reads a small file's chunk (item.small): the whole file, as read_file would,
 * into buf (SMALL_FILE bytes, the worker's own: it->data borrows it until the chunk is
 * sealed), and its xattrs into it->node (by descriptor; *xl, *xlcap: the worker's name
 * list buffer). Sets it->drop and it->reason when it cannot be read, it->changed when it
 * changed, and it->len to what was read (0: nothing to store). */
void
ofs_stg_read_small(struct stage *s, struct item *it, uint8_t *buf, char **xl,
    size_t *xlcap)
{
	size_t want = it->len, got = 0;
	int fd;

	it->len = 0;
	if ((fd = open_source(it->path)) == -1) {
		it->reason = ofs_xasprintf("cannot open: %s", strerror(errno));
		it->drop = 1;
		return;
	}
	if (want > SMALL_FILE) {	/* cannot happen: the walk saw it under SMALL_FILE */
		it->reason = ofs_xstrdup("internal error: small file too large");
		it->drop = 1;
		close(fd);
		return;
	}
	it->data = buf;
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
	ofs_walk_xattrs_fd(fd, xl, xlcap, &it->node);	/* the writer moves them to the file */
	close(fd);
	it->len = got;
	ofs_progress_add(s->pr, got, 0, NULL);
	__atomic_add_fetch(&s->res->bytes_read, (uint64_t)got, __ATOMIC_RELAXED);
}

/* Is this file (not reused) read whole by the worker that takes its one chunk? */
static int
small_read(const struct stage *s, const struct item *start)
{
	return start->node.size < SMALL_FILE && !start->node.sparse &&
	    (!s->o->loose || start->bl.nblocks == 0);
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
		ofs_stg_skipped(s, path, reason);
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
				ofs_stg_skipped(s, path, reason);
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
				cut = ofs_chunker_next(&s->prod.chunker, buf + start,
				    have - start, 0);
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
		cut = ofs_chunker_next(&s->prod.chunker, buf + start, have - start, 1);
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
	const struct cat_entry *e = ofs_stg_cat_find(&s->jn.prev, path);
	struct ofs_blob_ref ref;

	/* a backup keeps the seed's baseline of a file it reads again */
	if (e != NULL && s->o->loose && e->bl != NULL)
		*bl = ofs_stg_bl_of(e);
	if (e == NULL || e->size != n->size || e->ino != n->ino || e->mtime != n->mtime_ns ||
	    e->ctime != n->ctime_ns)
		return 0;
	if (!s->o->loose && e->bl != NULL)
		*bl = ofs_stg_bl_of(e);
	pthread_mutex_lock(&s->dedup.idx_mu);	/* the writer adds packs to the index under it */
	for (uint32_t i = 0; i < e->nchunks; i++)
		if (!ofs_blobtab_lookup(s->repo->idx, e->chunks[i], &ref)) {
			pthread_mutex_unlock(&s->dedup.idx_mu);
			return 0;
		}
	pthread_mutex_unlock(&s->dedup.idx_mu);
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
	pthread_mutex_lock(&s->dedup.idx_mu);
	for (i = 0; i < bl->nbase && ofs_blobtab_lookup(s->repo->idx, bl->base[i], &ref); i++) {
		ps->ok[i] = ref.type == OFS_BLOB_DATA &&
		    ofs_blobtab_pack(s->repo->idx, ref.pack)->loc.kind == OFS_LOC_CONTAINER;
		ps->off[i + 1] = ps->off[i] + ref.raw_len;
	}
	pthread_mutex_unlock(&s->dedup.idx_mu);
	ps->nbase = i;
	/* the seed's data ended inside its last block: the probe compares that prefix */
	last = (uint64_t)(bl->nblocks - 1) * OFS_BLOCK_SIZE;
	if (i == bl->nbase && bl->nblocks > 0 && ps->off[i] > last &&
	    ps->off[i] - last < OFS_BLOCK_SIZE)
		ps->last_len = (size_t)(ps->off[i] - last);
	return ps;
}

int
ofs_stg_produce(struct stage *s, struct ofs_walk *w)
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
		ofs_stg_fail(s, OFS_ERR_IO, &err);
		goto done;
	}
	for (;;) {
		memset(&wi, 0, sizeof(wi));
		if ((rc = ofs_walk_next(w, &wi, &err)) != 0) {
			ofs_stg_fail(s, rc, &err);
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
			it->path = ofs_xstrdup(wi.path);
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
		if (it->reused || !small_read(s, it))	/* a small one's worker reads them */
			ofs_walk_xattrs(w, wi.path, &it->node);
		if (it->reused) {
			ofs_progress_add(s->pr, it->node.size, 1, wi.path);
			s->res->bytes_reused += it->node.size;
			if (push(s, it) != 0 || push(s, item_new(IT_FILE_END)) != 0)
				break;
			continue;
		}
		if (small_read(s, it)) {
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
				ofs_stg_skipped(s, path, "changed while being read (stored, marked changed)");
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
	pthread_mutex_lock(&s->ring.mu);
	s->ring.producer_done = 1;	/* from now on the writer frees what it consumes */
	pthread_cond_broadcast(&s->ring.cv_done);
	pthread_cond_broadcast(&s->ring.cv_work);
	pthread_mutex_unlock(&s->ring.mu);
	return s->ring.stop ? -1 : 0;
}
