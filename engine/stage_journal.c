/* Checkpoints of the stage pipeline: the sealed journal a killed run resumes from, and the
 * catalog of the last completed run (change detection). Their plaintext codec is
 * stage_catalog.c's; here they are sealed, written durably, read back and applied. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "stage_int.h"

/* Segment k of the catalog file: repository id ‖ k (u64le) ‖ 7 zero bytes ‖ 0x01 (never a
 * journal segment's id; segment 0 has the id of the single-object catalogs before). */
static void
catalog_id(struct stage *s, uint64_t seg, uint8_t id[OFS_ID_LEN])
{
	memset(id, 0, OFS_ID_LEN);
	memcpy(id, s->repo->cfg.repo_id, 16);
	ofs_put_u64le(id + 16, seg);
	id[OFS_ID_LEN - 1] = 1;	/* not the journal's id */
}

#define CATALOG_MAGIC "OFSCSEG1"
#define CATALOG_SEGMENT_MAX ((uint64_t)1 << 30)	/* a segment of JOURNAL_SLICE records */

/* After a complete run: the files of this snapshot, for the next run's change detection.
 * Written atomically as segments of s->lim.journal_slice records each, so neither its
 * plaintext nor its sealed bytes are ever held whole (FORMAT.md 16.2). */
int
ofs_stg_save_catalog(struct stage *s, struct ofs_error *err)
{
	struct ofs_buf c = OFS_BUF_INIT(0), rec = OFS_BUF_INIT(0);
	const struct catalog *cat = &s->jn.done_files;
	char *path = ofs_path_join(s->repo->state_dir, CATALOG_NAME);
	char *tmp = ofs_xasprintf("%s.tmp-XXXXXX", path);
	uint8_t id[OFS_ID_LEN];
	size_t from = 0;
	uint64_t seg = 0;
	int fd, rc = 0, e;

	if ((fd = mkstemp(tmp)) == -1) {
		rc = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot create a file in '%s'",
		    s->repo->state_dir);
		goto out;
	}
	if ((e = -ofs_write_all(fd, CATALOG_MAGIC, 8)) != 0)
		goto write_failed;
	do {
		size_t to = cat->n - from > s->lim.journal_slice ? from + s->lim.journal_slice :
		    cat->n;
		size_t at;

		ofs_buf_reset(&c);
		ofs_buf_reset(&rec);
		if ((rc = ofs_stg_catalog_encode_range(s->res->snapshot_id, cat, from, to, &c)) != 0) {
			rc = ofs_err_set(err, rc, "the catalog is too large");
			goto fail;
		}
		catalog_id(s, seg, id);
		ofs_buf_put_u64le(&rec, 0);	/* the sealed length, set below */
		if ((rc = ofs_buf_check(&rec)) != 0)
			goto fail;
		at = rec.len - 8;
		if ((rc = ofs_blob_seal(s->wctx, OFS_OBJ_JOURNAL, id, c.data, c.len, OFS_SEAL_FAST,
		    &rec, err)) != 0)
			goto fail;
		ofs_put_u64le(rec.data + at, rec.len - at - 8);
		if ((e = -ofs_write_all(fd, rec.data, rec.len)) != 0)
			goto write_failed;
		seg++;
		from = to;
		ofs_stg_cat_drop(&s->jn.done_files);	/* the records written need no memory */
	} while (from < cat->n);
	if (fsync(fd) == -1) {
		e = errno;
		goto write_failed;
	}
	if (close(fd) == -1) {
		fd = -1;
		e = errno;
		goto write_failed;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		rc = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot rename '%s' to '%s'", tmp, path);
		goto fail;
	}
	rc = ofs_fsync_dir(s->repo->state_dir, err);
	goto out;
write_failed:
	rc = ofs_err_sys(err, e == ENOSPC || e == EDQUOT ? OFS_ERR_NOSPACE : OFS_ERR_IO, e,
	    "cannot write '%s'", path);
fail:
	if (fd != -1)
		close(fd);
	unlink(tmp);
out:
	ofs_buf_release_secret(&c);
	ofs_buf_release(&rec);
	free(tmp);
	free(path);
	return rc;
}

/* Open one sealed catalog segment (k) into c and check it is a catalog of snapshot snap
 * (set *snap from segment 0). 0, or -1 when it is not a usable catalog. */
static int
open_catalog_segment(struct stage *s, const uint8_t *p, size_t len, uint64_t k,
    uint8_t snap[OFS_ID_LEN], int *with_bl)
{
	struct ofs_buf c = OFS_BUF_INIT(JOURNAL_MAX);
	uint8_t id[OFS_ID_LEN], got[OFS_ID_LEN];
	struct ofs_rd rd;
	int bl, rc = -1;

	catalog_id(s, k, id);
	if (ofs_blob_open(s->wctx, OFS_OBJ_JOURNAL, id, p, len, JOURNAL_MAX, &c, NULL) != 0)
		goto out;
	ofs_rd_init(&rd, c.data, c.len);
	if (ofs_stg_catalog_head(&rd, got, &bl) != 0)
		goto out;
	if (k == 0) {
		memcpy(snap, got, OFS_ID_LEN);
		*with_bl = bl;
	} else if (memcmp(snap, got, OFS_ID_LEN) != 0 || bl != *with_bl) {
		goto out;
	}
	if (ofs_stg_cat_decode(&rd, &s->jn.prev, bl) != 0 || ofs_rd_left(&rd) != 0)
		goto out;
	rc = 0;
out:
	ofs_buf_release_secret(&c);
	return rc;
}

/* Read the catalog file's segments (after the magic) one at a time into s->jn.prev: the
 * file must end exactly after the last one. 0, or -1. */
static int
read_catalog_segments(struct stage *s, int fd, uint8_t snap[OFS_ID_LEN], int *with_bl)
{
	struct ofs_buf seg = OFS_BUF_INIT(0);
	struct stat st;
	uint8_t lenb[8];
	uint64_t k = 0, off = 8;
	int rc = -1;

	if (fstat(fd, &st) != 0)
		return -1;
	while (off < (uint64_t)st.st_size) {
		uint64_t len;

		if ((uint64_t)st.st_size - off < 8 || ofs_pread_all(fd, lenb, 8, (off_t)off) != 0)
			goto out;
		len = ofs_get_u64le(lenb);
		off += 8;
		ofs_buf_reset(&seg);
		if (len == 0 || len > CATALOG_SEGMENT_MAX || len > (uint64_t)st.st_size - off ||
		    ofs_buf_reserve_exact(&seg, (size_t)len) != 0 ||
		    ofs_pread_all(fd, seg.data, (size_t)len, (off_t)off) != 0)
			goto out;
		if (open_catalog_segment(s, seg.data, (size_t)len, k, snap, with_bl) != 0)
			goto out;
		ofs_stg_cat_drop(&s->jn.prev);	/* decoded into its files */
		off += len;
		k++;
	}
	rc = k > 0 ? 0 : -1;
out:
	ofs_buf_release(&seg);
	return rc;
}

/* The catalog of the last run, if its snapshot is still in the repository: segments
 * (FORMAT.md 16.2) read one at a time, or a single sealed object (written before). A
 * missing or unreadable catalog only means every file is read. */
void
ofs_stg_load_catalog(struct stage *s)
{
	struct ofs_buf sealed = OFS_BUF_INIT(JOURNAL_MAX);
	char *path = ofs_path_join(s->repo->state_dir, CATALOG_NAME), hex[2 * OFS_ID_LEN + 1];
	char *name = NULL, magic[8];
	uint8_t snap[OFS_ID_LEN];
	uint64_t size;
	int with_bl = 0, fd, ok;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto out;
	if (ofs_pread_all(fd, magic, 8, 0) == 0 && memcmp(magic, CATALOG_MAGIC, 8) == 0) {
		ok = read_catalog_segments(s, fd, snap, &with_bl) == 0;
	} else {
		ok = ofs_buf_read_fd(&sealed, fd, path, NULL) == 0 &&
		    open_catalog_segment(s, sealed.data, sealed.len, 0, snap, &with_bl) == 0;
		ofs_buf_release(&sealed);
	}
	close(fd);
	if (ok) {
		ofs_hex(snap, OFS_ID_LEN, hex);
		name = ofs_path_join("snapshots", hex);
		ok = s->repo->be->ops->size(s->repo->be, name, &size, NULL) == 0;
	}
	if (!ok) {
		ofs_stg_cat_release(&s->jn.prev);
		goto out;
	}
	ofs_stg_cat_drop(&s->jn.prev);	/* in its files; looked up page by page */
	s->jn.has_parent = 1;
	memcpy(s->jn.parent, snap, OFS_ID_LEN);
out:
	free(name);
	free(path);
}

char *
ofs_stg_journal_path(struct stage *s)
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
	if (e != 0 && ftruncate(fd, (off_t)s->jn.len) == -1) {
		/* the torn segment is dropped when the journal is read */
	}
	close(fd);
	if (e != 0)
		return ofs_err_sys(err, e == ENOSPC || e == EDQUOT ? OFS_ERR_NOSPACE : OFS_ERR_IO,
		    e, "cannot write stage journal '%s'", path);
	return 0;
}

/* A rewrite holds every file completed so far: in one segment its plaintext and sealed
 * copy were each as large as the whole catalog (hundreds of MB at a million files), so it
 * is cut into segments of s->lim.journal_slice records. */
/* Seal one segment (number seg) with the state h and the records [from, to) into rec,
 * preceded by the file magic when magic is set. */
static int
seal_segment(struct stage *s, const struct jhead *h, size_t from, size_t to, uint64_t seg,
    int magic, struct ofs_buf *rec, struct ofs_error *err)
{
	struct ofs_buf j = OFS_BUF_INIT(0);
	uint8_t id[OFS_ID_LEN];
	size_t at;
	int rc;

	ofs_buf_reset(rec);
	if ((rc = ofs_stg_journal_encode_range(h, &s->jn.done_files, from, to, &j)) != 0)
		goto out;
	journal_id(s, seg, id);
	if (magic)
		ofs_buf_put(rec, JOURNAL_MAGIC, 8);
	ofs_buf_put_u64le(rec, 0);	/* the sealed length, set below */
	if ((rc = ofs_buf_check(rec)) != 0)	/* unbounded: fails only past SIZE_MAX */
		goto out;
	at = rec->len - 8;
	if ((rc = ofs_blob_seal(s->wctx, OFS_OBJ_JOURNAL, id, j.data, j.len, OFS_SEAL_FAST,
	    rec, err)) != 0)
		goto out;
	ofs_put_u64le(rec->data + at, rec->len - at - 8);
out:
	ofs_buf_release(&j);
	return rc;
}

static int
journal_write_error(const char *path, int e, struct ofs_error *err)
{
	return ofs_err_sys(err, e == ENOSPC || e == EDQUOT ? OFS_ERR_NOSPACE : OFS_ERR_IO, e,
	    "cannot write stage journal '%s'", path);
}

/* Write the journal anew, atomically (temporary file, fsync, rename, fsync of the folder):
 * every record completed so far, s->lim.journal_slice per segment, each with the state h. */
static int
journal_rewrite(struct stage *s, const char *path, const struct jhead *h,
    struct ofs_error *err)
{
	struct ofs_buf rec = OFS_BUF_INIT(0);
	char *tmp = ofs_xasprintf("%s.tmp-XXXXXX", path);
	size_t n = s->jn.done_files.n, from = 0;
	uint64_t seg = 0, len = 0;
	int fd, rc = 0, e;

	if ((fd = mkstemp(tmp)) == -1) {
		rc = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot create a file in '%s'",
		    s->repo->state_dir);
		free(tmp);
		return rc;
	}
	do {
		size_t to = n - from > s->lim.journal_slice ? from + s->lim.journal_slice : n;

		if ((rc = seal_segment(s, h, from, to, seg, seg == 0, &rec, err)) != 0)
			goto fail;
		if ((e = -ofs_write_all(fd, rec.data, rec.len)) != 0) {
			rc = journal_write_error(path, e, err);
			goto fail;
		}
		len += rec.len;
		seg++;
		from = to;
		ofs_stg_cat_drop(&s->jn.done_files);	/* only a slice at a time in memory */
	} while (from < n);
	if (fsync(fd) == -1 || close(fd) == -1) {
		rc = journal_write_error(path, errno, err);
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		rc = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot rename '%s' to '%s'", tmp, path);
		goto fail;
	}
	if ((rc = ofs_fsync_dir(s->repo->state_dir, err)) != 0)
		goto out;
	s->jn.seg = seg;
	s->jn.len = s->jn.base = len;
	goto out;
fail:
	if (fd != -1)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	ofs_buf_release(&rec);
	return rc;
}

/* Checkpoint the run into the journal: a segment with the state and the files completed
 * since the previous segment, appended; or, at the run's first checkpoint and whenever the
 * file has grown past twice its rewritten length, the whole file anew (atomic write, the
 * records in slices of s->lim.journal_slice per segment). */
int
ofs_stg_write_journal(struct stage *s, struct ofs_error *err)
{
	struct ofs_buf rec = OFS_BUF_INIT(0);
	const struct ofs_manifest *m = s->res->sealed;
	int is_open = s->ct.cw != NULL, disk = is_open && s->ct.cur_disk >= 0;
	struct jhead h = {
		.set_id = s->ct.set_id,
		.next_seq = s->ct.next_seq,
		.open_seq = s->ct.seq,
		.committed = is_open ? ofs_cwriter_length(s->ct.cw) : 0,
		.packs = s->ct.cpacks,
		.npacks = s->ct.ncpacks,
		.open_serial = disk ? s->o->disk_serials[s->ct.cur_disk] : "",
		.open_mount = disk ? s->o->disks[s->ct.cur_disk] : "",
		.open_limit = is_open ? s->ct.climit : 0,
		.sealed = m != NULL ? m->files : NULL,
		.sealed_serial = s->ct.sealed_serial,
		.nsealed = s->o->ndisks > 0 && m != NULL ? m->nfiles : 0,
	};
	char *path = ofs_stg_journal_path(s);
	int whole = s->jn.seg == 0 || s->jn.len > 2 * s->jn.base + JOURNAL_SLACK, rc;

	if (whole) {
		rc = journal_rewrite(s, path, &h, err);
	} else if ((rc = seal_segment(s, &h, (size_t)s->jn.cat_n, s->jn.done_files.n, s->jn.seg,
	    0, &rec, err)) == 0) {
		if ((rc = journal_append(s, path, &rec, err)) != 0) {
			s->jn.seg = 0;	/* the next checkpoint rewrites the file */
		} else {
			s->jn.seg++;
			s->jn.len += rec.len;
		}
	}
	if (rc == 0) {
		s->jn.cat_n = s->jn.done_files.n;
		ofs_stg_cat_drop(&s->jn.done_files);	/* in the journal now; kept in its file */
	}
	free(path);
	ofs_buf_release(&rec);
	return rc;
}

/* At a checkpoint (writer thread, the packs just flushed into the index): the ids pending
 * since before the last rotation are all in closed packs once the writer has passed the
 * slot that bounds them, so that table goes; the current one becomes the old one. */
static void
rotate_pending(struct stage *s)
{
	uint64_t consumed;
	int rotated = 0;

	pthread_mutex_lock(&s->ring.mu);
	consumed = s->ring.tail > 0 ? s->ring.tail - 1 : 0;	/* the item being consumed */
	pthread_mutex_unlock(&s->ring.mu);
	pthread_mutex_lock(&s->dedup.idx_mu);
	if (s->dedup.pending_old != NULL && consumed >= s->dedup.old_until) {
		ofs_blobtab_free(s->dedup.pending_old);
		s->dedup.pending_old = NULL;
	}
	if (s->dedup.pending_old == NULL) {
		s->dedup.pending_old = s->dedup.pending;
		s->dedup.pending = ofs_blobtab_new();
		rotated = 1;
	}
	pthread_mutex_unlock(&s->dedup.idx_mu);
	/* read after the swap: every id in the old table was accepted by a worker that had
	 * already claimed its slot, so its slot is below the slots claimed by now */
	if (rotated) {
		pthread_mutex_lock(&s->ring.mu);
		s->dedup.old_until = s->ring.work_next;
		pthread_mutex_unlock(&s->ring.mu);
	}
}

int
ofs_stg_checkpoint(struct stage *s, struct ofs_error *err)
{
	int rc;

	if ((rc = ofs_stg_flush_pack(s, err)) != 0)
		return rc;
	if (s->ct.cw != NULL && (rc = ofs_cwriter_sync(s->ct.cw, err)) != 0)
		return rc;
	/* Loose packs are made known in steps, so a resumed run never stores them again. */
	if ((rc = ofs_stg_index_loose(s, err)) != 0)
		return rc;
	if ((rc = ofs_stg_write_journal(s, err)) != 0)
		return rc;
	rotate_pending(s);
	s->jn.since_ckpt = 0;
	s->jn.last_ckpt = ofs_mono();
	ofs_verbose("checkpoint: %zu files done", s->jn.done_files.n);
	return 0;
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
		if ((rc = ofs_stg_journal_decode(j.data, j.len, path, st, &s->jn.prev, err)) != 0)
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
int
ofs_stg_load_journal(struct stage *s, struct ofs_error *err)
{
	struct ofs_buf file = OFS_BUF_INIT(JOURNAL_MAX), j = OFS_BUF_INIT(JOURNAL_MAX);
	struct jstate st;
	struct ofs_superblock sb;
	uint8_t id[OFS_ID_LEN];
	char *path = ofs_stg_journal_path(s), name[64], *rel = NULL, *cpath = NULL, *fpath = NULL;
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
		if ((rc = ofs_stg_journal_decode(j.data, j.len, path, &st, &s->jn.prev, err)) != 0)
			goto out;
	}
	memcpy(s->ct.set_id, st.set_id, 16);
	s->ct.next_seq = st.next_seq;
	for (size_t i = 0; s->res->sealed != NULL && i < st.nsealed; i++) {
		ofs_manifest_add(s->res->sealed, st.sealed[i].path, &st.sealed[i].h);
		s->ct.sealed_serial = ofs_xreallocarray(s->ct.sealed_serial, s->res->sealed->nfiles,
		    sizeof(char *));
		s->ct.sealed_serial[s->res->sealed->nfiles - 1] = st.sealed[i].serial;
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
		ofs_container_name(s->ct.set_id, st.openseq, name, sizeof(name));
		fpath = ofs_stg_container_file(s, disk, name);
		rel = ofs_xasprintf(".%s.partial", name);
		cpath = ofs_stg_container_file(s, disk, rel);
		if (!ofs_path_exists(fpath) && ofs_path_exists(cpath)) {
			memset(&sb, 0, sizeof(sb));
			sb.version = OFS_CONTAINER_VERSION;
			memcpy(sb.repo_id, s->repo->cfg.repo_id, 16);
			memcpy(sb.set_id, s->ct.set_id, 16);
			sb.seq = st.openseq;
			if ((rc = ofs_cwriter_resume(cpath, &sb, st.committed, OFS_REGION_SIZE, &s->ct.cw,
			    err)) != 0)
				goto out;
			s->ct.seq = st.openseq;
			s->ct.cur_disk = disk;
			s->ct.climit = st.climit != 0 ? st.climit : s->o->container_size;
			s->ct.cpacks = st.packs;
			s->ct.ncpacks = s->ct.capcpacks = st.np;
			ofs_blobtab_add_index(s->repo->idx, st.packs, st.np);
			st.packs = NULL;
			st.np = 0;
		}
	}
	rc = 1;
out:
	ofs_stg_jstate_release(&st);
	ofs_buf_release(&file);
	ofs_buf_release_secret(&j);
	free(rel);
	free(cpath);
	free(fpath);
	free(path);
	return rc;
}
