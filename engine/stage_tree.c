/* The stage's writer thread: consumes the items in ring order, assembling each file's
 * node from its chunks, building the trees bottom-up (one per directory) and recording
 * completed files in the catalog; checkpoints when enough is done. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stage_int.h"

static int
tree_sink(void *ud, const void *p, size_t n, struct ofs_error *err)
{
	return ofs_blob_sealer_write(ud, p, n, err);
}

struct level *
ofs_stg_push_level(struct stage *s)
{
	struct level *l;

	if (s->tr.nlevels == s->tr.caplevels) {
		s->tr.caplevels = s->tr.caplevels ? 2 * s->tr.caplevels : 16;
		s->tr.levels = ofs_xreallocarray(s->tr.levels, s->tr.caplevels,
		    sizeof(*s->tr.levels));
	}
	l = &s->tr.levels[s->tr.nlevels++];
	memset(l, 0, sizeof(*l));
	l->bs = ofs_blob_sealer_new(s->wctx, OFS_BLOB_TREE);
	ofs_tree_enc_init(&l->enc, tree_sink, l->bs);
	return l;
}

static void
level_release(struct level *l)
{
	ofs_tree_enc_release(&l->enc);
	ofs_blob_sealer_free(l->bs);
	l->bs = NULL;
	ofs_node_release(&l->dir);
	free(l->path);
	l->path = NULL;
}

/* End a level's tree, store it if new, and return its id. Its JSON went through the
 * stream as its entries came; here it ends, and is sealed only when new (a duplicate is
 * dropped with the stream), in place, into the buffer that becomes the tree pack's when
 * the pack is empty. */
int
ofs_stg_store_tree(struct stage *s, struct level *l, uint8_t id[OFS_ID_LEN],
    struct ofs_error *err)
{
	struct ofs_blob_ref dummy = { 0, 0, 0, 0, OFS_BLOB_TREE };
	struct ofs_buf *stored;
	uint64_t rawlen;
	int rc, is_new;

	if ((rc = ofs_tree_enc_finish(&l->enc, err)) != 0 ||
	    (rc = ofs_blob_sealer_end(l->bs, id, &rawlen, err)) != 0)
		return rc;
	pthread_mutex_lock(&s->dedup.idx_mu);
	is_new = ofs_stg_accept(&s->dedup, s->repo->idx, id, &dummy);
	pthread_mutex_unlock(&s->dedup.idx_mu);
	if (!is_new)
		return 0;
	if ((rc = ofs_blob_sealer_seal(l->bs, &stored, err)) != 0)
		return rc;
	return ofs_stg_add_tree(s, id, stored, (uint32_t)rawlen, err);
}

/* A node joins its directory's tree: encoded now, then released. */
static int
tree_take(struct level *l, struct ofs_node *n, struct ofs_error *err)
{
	int rc = ofs_tree_enc_add(&l->enc, n, err);

	if (rc == OFS_ERR_LIMIT && l->path != NULL)
		ofs_err_wrap(err, "directory '%s'", l->path);
	ofs_node_release(n);
	return rc;
}

/* The writer's side of a small file's chunk: reports what its read found; 1 when it
 * carries data to store. */
static int
small_outcome(struct stage *s, const struct item *it)
{
	if (it->drop) {
		ofs_stg_skipped(s, it->path, it->reason);
		__atomic_add_fetch(&s->res->skipped, 1, __ATOMIC_RELAXED);
		s->tr.cur_drop = 1;
		return 0;
	}
	if (it->changed) {
		ofs_stg_skipped(s, it->path, "changed while being read (stored, marked changed)");
		__atomic_add_fetch(&s->res->changed, 1, __ATOMIC_RELAXED);
		s->tr.cur_changed = 1;
	}
	return it->len > 0;
}

static int
consume(struct stage *s, struct item *it, struct ofs_error *err)
{
	struct stage_tree *tr = &s->tr;
	struct level *l;
	int rc = 0;

	switch (it->kind) {
	case IT_CHUNK:
		if (it->small && tr->have_cur && it->node.nxattrs > 0 && tr->cur.nxattrs == 0) {
			/* a small file's xattrs, which its worker read (the walk left them) */
			tr->cur.xattrs = it->node.xattrs;
			tr->cur.nxattrs = it->node.nxattrs;
			it->node.xattrs = NULL;
			it->node.nxattrs = 0;
		}
		if (it->small && !small_outcome(s, it))
			break;
		if (it->is_new) {
			s->res->bytes_new += it->len;
			s->res->blobs_new++;
			if (it->is_patch)
				s->res->patches++;
			if ((rc = ofs_stg_add_blob(s, it->is_patch ? OFS_BLOB_PATCH :
			    OFS_BLOB_DATA, it->id, &it->stored, (uint32_t)it->len, err)) != 0)
				return rc;
		} else {
			s->res->blobs_dup++;
		}
		if (tr->have_cur) {
			tr->cur_bytes += it->len;
			tr->cur.chunks = ofs_xreallocarray(tr->cur.chunks, tr->cur.nchunks + 1,
			    OFS_ID_LEN);
			memcpy(tr->cur.chunks[tr->cur.nchunks++], it->id, OFS_ID_LEN);
		}
		break;
	case IT_DIR_ENTER:
		l = ofs_stg_push_level(s);
		l->dir = it->node;
		memset(&it->node, 0, sizeof(it->node));
		l->path = it->path;
		it->path = NULL;
		s->res->dirs++;
		break;
	case IT_DIR_LEAVE:
		if (tr->nlevels < 2)
			return ofs_err_set(err, OFS_ERR_IO, "internal error: unbalanced walk");
		l = &tr->levels[tr->nlevels - 1];
		if ((rc = ofs_stg_store_tree(s, l, l->dir.subtree, err)) != 0)
			return rc;
		l->dir.has_subtree = 1;
		ofs_tree_enc_release(&l->enc);
		ofs_blob_sealer_free(l->bs);
		l->bs = NULL;
		free(l->path);
		l->path = NULL;
		tr->nlevels--;
		if ((rc = tree_take(&tr->levels[tr->nlevels - 1], &l->dir, err)) != 0)
			return rc;
		break;
	case IT_ENTRY:
		if (it->node.type == OFS_NODE_FILE)
			s->res->files++;
		if ((rc = tree_take(&tr->levels[tr->nlevels - 1], &it->node, err)) != 0)
			return rc;
		break;
	case IT_FILE_START:
		tr->cur = it->node;
		memset(&it->node, 0, sizeof(it->node));
		tr->have_cur = 1;
		free(tr->cur_path);
		tr->cur_path = it->path;
		it->path = NULL;
		tr->cur_bl = it->bl;	/* borrowed from s->jn.prev, which outlives the run */
		tr->cur_drop = tr->cur_changed = 0;
		tr->cur_bytes = 0;
		if (!it->reused) {
			free(tr->cur.chunks);
			tr->cur.chunks = NULL;
			tr->cur.nchunks = 0;
		}
		break;
	case IT_FILE_END:
		if (!tr->have_cur)
			break;
		tr->have_cur = 0;
		if (it->drop || tr->cur_drop) {
			ofs_node_release(&tr->cur);
			break;
		}
		if (!it->changed && !tr->cur_changed) {
			ofs_stg_cat_add(&s->jn.done_files, tr->cur_path, &tr->cur,
			    it->bl.nblocks > 0 ? &it->bl : &tr->cur_bl);
		} else {
			tr->cur.flags |= OFS_NODE_CHANGED;
			/* it shrank while read: it is what was read (else restore would find
			 * its chunks short of its size and call it damaged) */
			if (!tr->cur.sparse && tr->cur_bytes < tr->cur.size)
				tr->cur.size = tr->cur_bytes;
			/* read again next time (a ctime no file has), but keep the baseline */
			if (tr->cur_bl.nblocks > 0) {
				struct ofs_node again = tr->cur;

				again.ctime_ns = INT64_MIN;
				ofs_stg_cat_add(&s->jn.done_files, tr->cur_path, &again, &tr->cur_bl);
			}
		}
		s->res->bytes_done += tr->cur.size;
		s->res->files++;
		if ((rc = tree_take(&tr->levels[tr->nlevels - 1], &tr->cur, err)) != 0)
			return rc;
		break;
	}
	if (s->jn.since_ckpt >= s->o->checkpoint_bytes ||
	    s->jn.done_files.n - s->jn.cat_n >= s->lim.checkpoint_files ||
	    ofs_mono() - s->jn.last_ckpt >= s->o->checkpoint_seconds)
		rc = ofs_stg_checkpoint(s, err);
	return rc;
}

void *
ofs_stg_writer(void *arg)
{
	struct stage *s = arg;
	struct stage_ring *rg = &s->ring;
	struct ofs_error err = { 0 };
	struct item *it;
	int rc;

	pthread_mutex_lock(&rg->mu);
	for (;;) {
		while (!rg->stop && (rg->tail >= rg->head ||
		    !rg->slot[rg->tail % RING_SLOTS]->done) &&
		    !(rg->producer_done && rg->tail >= rg->head)) {
			double t = ofs_mono();

			rg->writer_waiting = 1;
			pthread_cond_wait(&rg->cv_done, &rg->mu);
			rg->writer_waiting = 0;
			rg->wait_writer += ofs_mono() - t;
		}
		if (rg->stop || (rg->producer_done && rg->tail >= rg->head))
			break;
		it = rg->slot[rg->tail % RING_SLOTS];
		rg->slot[rg->tail % RING_SLOTS] = NULL;
		rg->tail++;
		if (it->kind == IT_CHUNK)
			rg->inflight -= it->charged;
		/* wake a blocked producer once there is room for a batch, not per item */
		if (rg->producer_waiting && (rg->head - rg->tail <= RING_SLOTS / 2 ||
		    rg->tail == rg->head) && rg->inflight <= INFLIGHT_BYTES / 2)
			pthread_cond_broadcast(&rg->cv_space);
		pthread_mutex_unlock(&rg->mu);

		rc = consume(s, it, &err);
		if (rc != 0) {
			item_free(it);
			ofs_stg_fail(s, rc, &err);
			pthread_mutex_lock(&rg->mu);
			break;
		}
		pthread_mutex_lock(&rg->mu);
		if (rg->producer_done || it->stored.cap > SPENT_MAX || it->data != NULL) {
			pthread_mutex_unlock(&rg->mu);
			item_free(it);
			pthread_mutex_lock(&rg->mu);
		} else {
			it->next = rg->spent;	/* the producer frees it at its next push */
			rg->spent = it;
		}
	}
	pthread_mutex_unlock(&rg->mu);
	return NULL;
}

void
ofs_stg_trees_release(struct stage *s)
{
	for (size_t i = 0; i < s->tr.nlevels; i++)
		level_release(&s->tr.levels[i]);
	free(s->tr.levels);
	if (s->tr.have_cur)
		ofs_node_release(&s->tr.cur);
	free(s->tr.cur_path);
}
