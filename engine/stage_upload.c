/* The stage's loose packs (every pack of a backup, the tree packs of a stage): built in
 * memory, stored by a pool of uploader threads, listed in index files once stored; and the
 * adoption of packs a killed backup stored but never listed. */
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "stage_int.h"

/* A finished loose pack on its way to storage. */
struct upload {
	struct upload *next;
	char name[128];
	struct ofs_buf data;
	struct ofs_index_pack ip;
};

static void
upload_free(struct upload *u)
{
	ofs_buf_release(&u->data);
	free(u->ip.blobs);
	free(u);
}

/* Uploader thread: store queued packs; a stored pack joins s->up.loose (the next index file). */
static void *
uploader(void *arg)
{
	struct stage *s = arg;
	struct ofs_error err = { 0 };
	struct upload *u;
	int rc;

	pthread_mutex_lock(&s->up.mu);
	for (;;) {
		while (s->up.q_head == NULL && !s->up.quit)
			pthread_cond_wait(&s->up.cv, &s->up.mu);
		if (s->up.q_head == NULL)
			break;
		u = s->up.q_head;
		if ((s->up.q_head = u->next) == NULL)
			s->up.q_tail = &s->up.q_head;
		rc = s->up.code;	/* after a failure the rest are dropped */
		pthread_mutex_unlock(&s->up.mu);

		if (rc == 0)
			rc = s->repo->be->ops->put(s->repo->be, u->name, u->data.data, u->data.len,
			    &err);
		pthread_mutex_lock(&s->up.mu);
		if (rc != 0 && s->up.code == 0) {
			s->up.code = rc;
			s->up.err = err;
		}
		if (rc == 0) {
			if (s->up.nloose == s->up.caploose) {
				s->up.caploose = s->up.caploose ? 2 * s->up.caploose : 64;
				s->up.loose = ofs_xreallocarray(s->up.loose, s->up.caploose,
				    sizeof(*s->up.loose));
			}
			s->up.loose[s->up.nloose++] = u->ip;
			u->ip.blobs = NULL;
			s->res->packs++;
		}
		s->up.n--;
		s->up.bytes -= u->data.len;
		pthread_cond_broadcast(&s->up.cv);
		pthread_mutex_unlock(&s->up.mu);
		upload_free(u);
		pthread_mutex_lock(&s->up.mu);
	}
	pthread_mutex_unlock(&s->up.mu);
	return NULL;
}

void
ofs_stg_uploads_start(struct stage *s)
{
	s->up.q_tail = &s->up.q_head;
	s->up.nthreads = s->o->uploads > 0 ? s->o->uploads : UPLOADS_DEFAULT;
	s->up.threads = ofs_xcalloc((size_t)s->up.nthreads, sizeof(*s->up.threads));
	for (int i = 0; i < s->up.nthreads; i++)
		pthread_create(&s->up.threads[i], NULL, uploader, s);
}

/* Stop the uploaders once the queue is empty; after a failure (cancel) the queued packs are
 * dropped, those in flight finish (a rerun adopts them). */
void
ofs_stg_uploads_stop(struct stage *s, int cancel)
{
	if (s->up.threads == NULL)
		return;
	pthread_mutex_lock(&s->up.mu);
	if (cancel && s->up.code == 0) {
		s->up.code = OFS_ERR_IO;
		ofs_err_set(&s->up.err, OFS_ERR_IO, "uploads cancelled");
	}
	s->up.quit = 1;
	pthread_cond_broadcast(&s->up.cv);
	pthread_mutex_unlock(&s->up.mu);
	for (int i = 0; i < s->up.nthreads; i++)
		pthread_join(s->up.threads[i], NULL);
	free(s->up.threads);
	s->up.threads = NULL;
}

/* Wait until every queued pack is stored; the first upload failure, if any. */
static int
upload_drain(struct stage *s, struct ofs_error *err)
{
	int rc;

	pthread_mutex_lock(&s->up.mu);
	while (s->up.n > 0)
		pthread_cond_wait(&s->up.cv, &s->up.mu);
	if ((rc = s->up.code) != 0 && err != NULL)
		*err = s->up.err;
	pthread_mutex_unlock(&s->up.mu);
	return rc;
}

/* Queue a pack, waiting while the queue holds too many bytes or every uploader is busy. */
static int
upload_push(struct stage *s, struct upload *u, struct ofs_error *err)
{
	int rc;

	pthread_mutex_lock(&s->up.mu);
	while (s->up.code == 0 && s->up.n > 0 && ((size_t)s->up.n >= (size_t)s->up.nthreads + 1 ||
	    s->up.bytes + u->data.len > UPLOAD_QUEUE_BYTES))
		pthread_cond_wait(&s->up.cv, &s->up.mu);
	if ((rc = s->up.code) != 0) {
		if (err != NULL)
			*err = s->up.err;
		pthread_mutex_unlock(&s->up.mu);
		upload_free(u);
		return rc;
	}
	u->next = NULL;
	*s->up.q_tail = u;
	s->up.q_tail = &u->next;
	s->up.n++;
	s->up.bytes += u->data.len;
	pthread_cond_broadcast(&s->up.cv);
	pthread_mutex_unlock(&s->up.mu);
	return 0;
}

/* Loose packs are built in memory and stored whole as data/<xx>/<id>, by the uploaders.
 * Their blobs are in the index (for deduplication) from here on; index files list them
 * once stored. */
int
ofs_stg_close_loose_pack(struct stage *s, struct ofs_pack_writer *w, struct ofs_error *err)
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
	pthread_mutex_lock(&s->dedup.idx_mu);
	ofs_blobtab_add_index(s->repo->idx, ip, 1);
	pthread_mutex_unlock(&s->dedup.idx_mu);
	s->jn.since_ckpt += ip->length;
	ofs_pack_writer_reset(w);
	return upload_push(s, u, err);
}

/* List the loose packs stored so far in an index file (at checkpoints and at the end). */
int
ofs_stg_index_loose(struct stage *s, struct ofs_error *err)
{
	int rc;

	if (s->up.threads != NULL && (rc = upload_drain(s, err)) != 0)
		return rc;
	if (s->up.nloose == 0)
		return 0;
	if ((rc = ofs_stg_write_index_file(s, s->up.loose, s->up.nloose, err)) != 0)
		return rc;
	for (size_t i = 0; i < s->up.nloose; i++)
		free(s->up.loose[i].blobs);
	s->up.nloose = 0;
	return 0;
}

/* A backup killed after uploading packs but before listing them in an index file: find
 * those packs (in data/, unknown to the index) and index them from their own headers, so
 * they are not uploaded again. */
void
ofs_stg_adopt_orphan_packs(struct stage *s)
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
				known = ofs_blobtab_find_pack(s->repo->idx, ip.id, NULL);
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
				ofs_blobtab_add_index(s->repo->idx, &ip, 1);
				/* list it in the next index file */
				if (s->up.nloose == s->up.caploose) {
					s->up.caploose = s->up.caploose ? 2 * s->up.caploose : 64;
					s->up.loose = ofs_xreallocarray(s->up.loose, s->up.caploose,
					    sizeof(*s->up.loose));
				}
				s->up.loose[s->up.nloose++] = ip;
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
