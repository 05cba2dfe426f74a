/* The stage pipeline's driver: one thread walks and reads sources into chunks
 * (stage_produce.c), a pool of workers computes ids, deduplicates and seals them
 * (stage_worker.c), and one writer consumes the results in order (stage_tree.c), building
 * trees, packs and containers (stage_container.c, stage_upload.c), with checkpoints a
 * killed run resumes from (stage_journal.c, stage_catalog.c). Here: the run's set-up,
 * resume, threads and end. */
#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "stage_int.h"

/* ---- failure ------------------------------------------------------------------------- */

static void
fail_locked(struct stage *s, int code, const struct ofs_error *err)
{
	if (!s->ring.stop) {
		s->ring.stop = 1;
		s->ring.failed_code = code;
		if (err != NULL)
			s->ring.failed = *err;
	}
	pthread_cond_broadcast(&s->ring.cv_space);
	pthread_cond_broadcast(&s->ring.cv_work);
	pthread_cond_broadcast(&s->ring.cv_done);
}

void
ofs_stg_fail(struct stage *s, int code, const struct ofs_error *err)
{
	pthread_mutex_lock(&s->ring.mu);
	fail_locked(s, code, err);
	pthread_mutex_unlock(&s->ring.mu);
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

/* After the pipeline: the root tree, the last packs and container, the snapshot. */
static int
finish(struct stage *s, struct ofs_error *err)
{
	struct ofs_snapshot snap;
	struct ofs_buf raw = OFS_BUF_INIT(0);
	char host[256] = "", *user = getenv("USER");
	int rc;

	if (s->tr.nlevels != 1)
		return ofs_err_set(err, OFS_ERR_IO, "internal error: unbalanced walk at the end");
	if ((rc = ofs_stg_store_tree(s, &s->tr.levels[0], s->tr.root_tree, err)) != 0)
		return rc;
	if ((rc = ofs_stg_flush_pack(s, err)) != 0 || (rc = ofs_stg_seal_container(s, err)) != 0)
		return rc;
	if ((rc = ofs_stg_index_loose(s, err)) != 0)
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
	memcpy(snap.tree, s->tr.root_tree, OFS_ID_LEN);
	if (!s->o->loose) {
		snap.has_seed_set = 1;
		memcpy(snap.seed_set, s->ct.set_id, 16);
	}
	if (s->jn.has_parent) {
		snap.has_parent = 1;
		memcpy(snap.parent, s->jn.parent, OFS_ID_LEN);
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

/* ---- driver ------------------------------------------------------------------------- */

/* Every part's state at the start of a run (nothing is opened yet). */
static void
stage_init(struct stage *s, struct ofs_repo *r, const struct ofs_stage_opts *o,
    struct ofs_progress *pr, struct ofs_stage_result *res)
{
	memset(s, 0, sizeof(*s));
	{
		struct ofs_manifest *keep = res->sealed;

		memset(res, 0, sizeof(*res));
		res->sealed = keep;
	}
	s->repo = r;
	s->o = o;
	s->pr = pr;
	s->lim.journal_slice = JOURNAL_SLICE;
	s->lim.container_blobs = CONTAINER_MAX_BLOBS;
	s->lim.checkpoint_files = CHECKPOINT_FILES;
	{
		const char *t = getenv("OFFSEED_TEST_STAGE_LIMITS");
		unsigned long a, b, c;

		if (t != NULL && sscanf(t, "%lu,%lu,%lu", &a, &b, &c) == 3 && a >= 1 &&
		    a <= JOURNAL_SLICE && b >= 1 && b <= CONTAINER_MAX_BLOBS && c >= 1 &&
		    c <= CHECKPOINT_FILES) {
			s->lim.journal_slice = a;
			s->lim.container_blobs = b;
			s->lim.checkpoint_files = c;
		}
	}
	s->res = res;
	s->ct.next_seq = 1;
	s->ct.cur_disk = -1;
	s->ct.climit = o->container_size;
	s->jn.last_ckpt = ofs_mono();
	ofs_stg_cat_back(&s->jn.done_files, r->state_dir);
	ofs_stg_cat_back(&s->jn.prev, r->state_dir);
	pthread_mutex_init(&s->ring.mu, NULL);
	pthread_mutex_init(&s->dedup.idx_mu, NULL);
	pthread_mutex_init(&s->up.mu, NULL);
	pthread_cond_init(&s->up.cv, NULL);
	s->up.q_tail = &s->up.q_head;
	r->be->limit = o->limit;
	pthread_cond_init(&s->ring.cv_space, NULL);
	pthread_cond_init(&s->ring.cv_work, NULL);
	pthread_cond_init(&s->ring.cv_done, NULL);
	s->ring.slot = ofs_xcalloc(RING_SLOTS, sizeof(*s->ring.slot));
	s->dedup.pending = ofs_blobtab_new();
	s->wctx = ofs_blob_ctx_new(&r->keys, r->cfg.zstd_level);
	ofs_pack_writer_init(&s->ct.pw);
	ofs_pack_writer_init(&s->up.tw);
	s->ct.pack_h = ofs_xxh_new();
	s->ct.pack_target = o->loose ? OFS_PACK_TARGET : CONTAINER_PACK_TARGET;
	if (!o->loose && s->ct.pack_target > o->container_size / 4)
		s->ct.pack_target = o->container_size / 4;
}

/* A resumed run continues the seed set's container sequence after the last container
 * sealed before the crash (in the index already, or listed by the journal). */
static void
resume_next_seq(struct stage *s)
{
	const struct ofs_manifest *m = s->res->sealed;

	for (size_t i = 0; i < ofs_blobtab_npacks(s->repo->idx); i++) {
		const struct ofs_blobtab_pack *p = ofs_blobtab_pack(s->repo->idx, (uint32_t)i);

		if (p->loc.kind == OFS_LOC_CONTAINER && memcmp(p->loc.set, s->ct.set_id, 16) == 0 &&
		    p->loc.seq >= s->ct.next_seq && p->loc.seq != s->ct.seq)
			s->ct.next_seq = p->loc.seq + 1;
	}
	for (size_t i = 0; m != NULL && i < m->nfiles; i++) {
		const char *nm = strrchr(m->files[i].path, '-');
		unsigned long q = nm != NULL ? strtoul(nm + 1, NULL, 10) : 0;

		if (q >= s->ct.next_seq && q != s->ct.seq)
			s->ct.next_seq = (uint32_t)q + 1;
	}
}

/* Before the pipeline: the chunker, the interrupted run's journal (resume), what killed
 * runs left behind, the "running" mark (*running: its path, owned), the last catalog and
 * the seed set. */
static int
stage_prepare(struct stage *s, char **running, struct ofs_error *err)
{
	struct ofs_repo *r = s->repo;
	const struct ofs_stage_opts *o = s->o;
	struct ofs_stage_result *res = s->res;
	char *jpath;
	int rc;

	if (ofs_chunker_init(&s->prod.chunker, r->keys.chunker_seed, r->cfg.chunk_min,
	    r->cfg.chunk_avg, r->cfg.chunk_max) != 0)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "config: unusable chunker parameters");
	if ((rc = ofs_stg_load_journal(s, err)) < 0)
		return rc;
	res->resumed = rc == 1;
	/* A run killed before its first checkpoint leaves no journal, only this mark: the
	 * packs it stored are adopted too, not stored again. */
	jpath = ofs_stg_journal_path(s);
	*running = ofs_xasprintf("%s.running", jpath);
	free(jpath);
	if (res->resumed || access(*running, F_OK) == 0)
		ofs_stg_adopt_orphan_packs(s);
	ofs_stg_remove_orphan_partials(s);
	remove_orphan_temps(s);
	if ((rc = ofs_write_file_atomic(*running, "", 0, 0600, err)) != 0)
		return rc;
	ofs_stg_load_catalog(s);	/* a resumed run reuses both its journal and the last catalog */
	if (!res->resumed) {
		ofs_random(s->ct.set_id, sizeof(s->ct.set_id));
	} else {
		resume_next_seq(s);
		ofs_info("resuming an interrupted stage (%zu files already stored)", s->jn.prev.n);
	}
	memcpy(res->set_id, s->ct.set_id, 16);
	/* On disks a journal exists from the start: a run killed after sealing its first
	 * container onto a disk, before any checkpoint, is resumed in the same seed set (whose
	 * containers the final disk manifests list), not replaced by a new set beside it. */
	if (o->ndisks > 0 && !res->resumed && (rc = ofs_stg_write_journal(s, err)) != 0)
		return rc;
	ofs_stg_push_level(s);	/* the snapshot root */
	return 0;
}

/* The pipeline over walk w: uploaders, workers and the writer in threads, the producer on
 * this one, until the walk ends or a part fails (its failure is returned). */
static int
run_pipeline(struct stage *s, struct ofs_walk *w, struct ofs_error *err)
{
	pthread_t wr;

	ofs_stg_uploads_start(s);
	ofs_stg_workers_start(s, s->o->threads > 0 ? s->o->threads : ofs_ncpu());
	pthread_create(&wr, NULL, ofs_stg_writer, s);
	ofs_stg_produce(s, w);
	pthread_join(wr, NULL);
	ofs_stg_workers_join(s);
	if (s->ring.failed_code != 0) {
		*err = s->ring.failed;
		return s->ring.failed_code;
	}
	ofs_verbose("pipeline: producer waited %.2fs, workers %.2fs, writer %.2fs",
	    s->ring.wait_producer, s->ring.wait_workers, s->ring.wait_writer);
	return 0;
}

/* Free everything the run holds; the uploads are cancelled and the open container is left
 * for a resume when the run failed (rc). */
static void
stage_release(struct stage *s, int rc)
{
	ofs_stg_uploads_stop(s, rc != 0 && rc != OFS_ERR_SKIPPED);
	s->repo->be->limit = NULL;
	if (rc != 0 && rc != OFS_ERR_SKIPPED && s->ct.cw != NULL) {
		ofs_cwriter_abort(s->ct.cw);	/* the partial container stays for a resume */
		s->ct.cw = NULL;
	}
	while (s->ring.tail < s->ring.head) {
		item_free(s->ring.slot[s->ring.tail % RING_SLOTS]);
		s->ring.tail++;
	}
	items_free(s->ring.spent);
	s->ring.spent = NULL;
	ofs_stg_trees_release(s);
	ofs_stg_cpacks_clear(s);
	free(s->ct.cpacks);
	ofs_stg_cat_release(&s->jn.done_files);
	ofs_stg_cat_release(&s->jn.prev);
	for (size_t i = 0; s->ct.sealed_serial != NULL && i < s->res->sealed->nfiles; i++)
		free(s->ct.sealed_serial[i]);
	free(s->ct.sealed_serial);
	ofs_pack_writer_release(&s->ct.pw);
	ofs_pack_writer_release(&s->up.tw);
	for (size_t i = 0; i < s->up.nloose; i++)
		free(s->up.loose[i].blobs);
	free(s->up.loose);
	ofs_xxh_free(s->ct.pack_h);
	ofs_blob_ctx_free(s->wctx);
	ofs_blobtab_free(s->dedup.pending);
	ofs_blobtab_free(s->dedup.pending_old);
	free(s->wk.threads);
	free(s->ring.slot);
	pthread_mutex_destroy(&s->ring.mu);
	pthread_mutex_destroy(&s->dedup.idx_mu);
	pthread_mutex_destroy(&s->up.mu);
	pthread_cond_destroy(&s->up.cv);
	pthread_cond_destroy(&s->ring.cv_space);
	pthread_cond_destroy(&s->ring.cv_work);
	pthread_cond_destroy(&s->ring.cv_done);
}

int
ofs_stage_run(struct ofs_repo *r, const struct ofs_stage_opts *o, struct ofs_progress *pr,
    struct ofs_stage_result *res, struct ofs_error *err)
{
	struct stage s;
	struct ofs_walk *w = NULL;
	double t0 = ofs_mono();
	char *jpath, *running = NULL;
	int rc;

	stage_init(&s, r, o, pr, res);
	if ((rc = stage_prepare(&s, &running, err)) != 0)
		goto out;
	{
		/* the producer or a worker reads a file's xattrs: a worker reading a small
		 * file has it open, and by its descriptor skips a lookup of the whole path */
		struct ofs_walk_opts wo = o->walk;

		wo.xattrs_later = 1;
		if ((rc = ofs_walk_open(o->srcs, o->nsrcs, &wo, &w, err)) != 0)
			goto out;
	}
	if ((rc = run_pipeline(&s, w, err)) != 0)
		goto out;
	if ((rc = finish(&s, err)) != 0)
		goto out;
	{
		struct ofs_error cerr = { 0 };

		/* the last run's catalog is of no further use: not held while this one is saved */
		ofs_stg_cat_release(&s.jn.prev);
		if (ofs_stg_save_catalog(&s, &cerr) != 0)
			ofs_warn("cannot save the catalog for the next run: %s", cerr.msg);
	}
	if (!o->keep_journal) {
		jpath = ofs_stg_journal_path(&s);
		unlink(jpath);
		free(jpath);
		unlink(running);
	}
	rc = res->skipped + res->changed > 0 ? OFS_ERR_SKIPPED : 0;
out:
	stage_release(&s, rc);
	free(running);
	ofs_walk_free(w);
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
