/* The stage's workers: each takes chunks from the ring in any order, computes the id,
 * deduplicates against the index and the pending table, and compresses and seals what is
 * new (as a patch of the seed's chunks where that is smaller). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "patch.h"
#include "stage_int.h"

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
	if (ofs_patch_finish(pw, plain) != 0)	/* plain is unbounded: only past SIZE_MAX */
		return 0;
	return plain->len < it->len;
}

static void *
worker(void *arg)
{
	struct stage *s = arg;
	struct stage_ring *rg = &s->ring;
	struct ofs_blob_ctx *ctx = ofs_blob_ctx_new(&s->repo->keys, s->repo->cfg.zstd_level);
	struct ofs_blob_ref dummy = { 0, 0, 0, 0, OFS_BLOB_DATA };
	struct ofs_error err = { 0 };
	struct ofs_patch_writer pw;
	struct ofs_buf plain = OFS_BUF_INIT(0);
	uint8_t *small = ofs_xmalloc(SMALL_FILE);	/* small files are read here */
	char *xl = NULL;	/* and their xattr names listed here */
	size_t xlcap = 0;
	struct item *it;
	uint64_t slot;

	ofs_patch_writer_init(&pw);
	pthread_mutex_lock(&rg->mu);
	for (;;) {
		if (rg->work_next < rg->tail)
			rg->work_next = rg->tail;	/* consumed slots are gone (NULL) */
		while (!rg->stop && rg->work_next < rg->head &&
		    rg->slot[rg->work_next % RING_SLOTS]->kind != IT_CHUNK)
			rg->work_next++;
		if (rg->stop || (rg->producer_done && rg->work_next >= rg->head))
			break;
		if (rg->work_next >= rg->head) {
			double t = ofs_mono();

			rg->workers_waiting++;
			pthread_cond_wait(&rg->cv_work, &rg->mu);
			rg->workers_waiting--;
			rg->wait_workers += ofs_mono() - t;
			continue;
		}
		slot = rg->work_next;
		it = rg->slot[rg->work_next++ % RING_SLOTS];
		pthread_mutex_unlock(&rg->mu);

		if (it->small) {
			ofs_stg_read_small(s, it, small, &xl, &xlcap);
			if (it->len == 0)	/* unreadable or emptied: nothing to store */
				goto processed;
		}
		ofs_blob_id(ctx, it->data, it->len, it->id);
		pthread_mutex_lock(&s->dedup.idx_mu);
		it->is_new = ofs_stg_accept(&s->dedup, s->repo->idx, it->id, &dummy);
		pthread_mutex_unlock(&s->dedup.idx_mu);
		if (it->is_new && it->ps != NULL)
			it->is_patch = build_patch(it, &pw, &plain);
		/* ofs_blob_seal sizes it->stored exactly (doubling growth would hold up to 2x) */
		if (it->is_patch) {
			if (ofs_blob_seal(ctx, OFS_BLOB_PATCH, it->id, plain.data, plain.len, 1,
			    &it->stored, &err) != 0) {
				ofs_stg_fail(s, OFS_ERR_IO, &err);
				if (it->data == small)
					it->data = NULL;
				pthread_mutex_lock(&rg->mu);
				break;
			}
		}
		if (it->is_new && !it->is_patch && ofs_blob_seal(ctx, OFS_BLOB_DATA, it->id,
		    it->data, it->len, 1, &it->stored, &err) != 0) {
			ofs_stg_fail(s, OFS_ERR_IO, &err);
			if (it->data == small)
				it->data = NULL;	/* the worker's, freed below */
			pthread_mutex_lock(&rg->mu);
			break;
		}
processed:
		if (it->data != small)
			free(it->data);
		it->data = NULL;
		if (it->stored.cap > it->stored.len + (64u << 10))
			ofs_buf_fit(&it->stored);	/* compressed: the rest waits unused */

		pthread_mutex_lock(&rg->mu);
		it->done = 1;
		/* only the item at the head of the queue can unblock the writer */
		if (rg->writer_waiting && slot == rg->tail &&
		    (rg->head - rg->tail >= WRITER_BATCH ||
		    it->len >= (256u << 10) || rg->producer_done || rg->producer_waiting))
			pthread_cond_signal(&rg->cv_done);
	}
	pthread_mutex_unlock(&rg->mu);
	ofs_patch_writer_release(&pw);
	ofs_buf_release_secret(&plain);
	free(small);
	free(xl);
	ofs_blob_ctx_free(ctx);
	return NULL;
}

void
ofs_stg_workers_start(struct stage *s, int nthreads)
{
	s->wk.threads = ofs_xcalloc((size_t)nthreads, sizeof(*s->wk.threads));
	for (s->wk.started = 0; s->wk.started < nthreads; s->wk.started++)
		pthread_create(&s->wk.threads[s->wk.started], NULL, worker, s);
}

void
ofs_stg_workers_join(struct stage *s)
{
	pthread_mutex_lock(&s->ring.mu);
	s->ring.stop = s->ring.stop ? s->ring.stop : 2;	/* let idle workers go */
	pthread_cond_broadcast(&s->ring.cv_work);
	pthread_mutex_unlock(&s->ring.mu);
	for (int i = 0; i < s->wk.started; i++)
		pthread_join(s->wk.threads[i], NULL);
}
