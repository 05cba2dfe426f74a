/* The stage's packs and containers, on the writer thread: blobs stream into the open
 * container's current pack; packs close at their target, containers are sealed when the
 * next blob would pass the size limit (with --disk, on the first disk with room). */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"
#include "log.h"
#include "stage_int.h"

/* Where container file `name` ("<set>-<seq>.vhd", or ".….partial") lives: the staging
 * folder's containers/, or the containers folder of disk k. Owned. */
char *
ofs_stg_container_file(struct stage *s, int k, const char *name)
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

/* Room a disk keeps free for what the end of the run copies there: the repository
 * metadata (twice what the staging folder holds now: it still grows), the manifests, and
 * 1 MiB. */
static uint64_t
disk_reserve(struct stage *s)
{
	char *root = s->repo->be->ops->path(s->repo->be, "");
	uint64_t meta = root != NULL ? ofs_tree_bytes(root, 4096, NULL, NULL) : 0;

	free(root);
	return 2 * meta + 256 * (uint64_t)(s->ct.next_seq + 16) + (2u << 20);
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
		s->ct.cur_disk = (int)k;
		s->ct.climit = u < s->o->container_size ? u / (1u << 20) * (1u << 20) :
		    s->o->container_size;
		return 0;
	}
	return ofs_err_set(err, OFS_ERR_NOSPACE, "every disk is full: the last one, '%s', has "
	    "less than %llu usable bytes left for another container",
	    s->o->disks[s->o->ndisks - 1], (unsigned long long)min);
}

static int
open_container(struct stage *s, struct ofs_error *err)
{
	struct ofs_superblock sb;
	char name[64], *rel, *path;
	int rc;

	s->ct.climit = s->o->container_size;
	s->ct.cur_disk = -1;
	if (s->o->ndisks > 0 && (rc = pick_disk(s, err)) != 0) {
		struct ofs_error cerr = { 0 };

		/* Keep what is done for the rerun with one more disk. */
		if (rc == OFS_ERR_NOSPACE && ofs_stg_checkpoint(s, &cerr) != 0)
			ofs_warn("cannot write a checkpoint: %s", cerr.msg);
		return rc;
	}

	memset(&sb, 0, sizeof(sb));
	sb.version = OFS_CONTAINER_VERSION;
	memcpy(sb.repo_id, s->repo->cfg.repo_id, 16);
	memcpy(sb.set_id, s->ct.set_id, 16);
	sb.seq = s->ct.next_seq;
	sb.created = ofs_now_ns() / 1000000000LL;
	ofs_container_name(s->ct.set_id, sb.seq, name, sizeof(name));
	rel = ofs_xasprintf(".%s.partial", name);
	path = ofs_stg_container_file(s, s->ct.cur_disk, rel);
	rc = ofs_cwriter_create(path, &sb, OFS_REGION_SIZE, &s->ct.cw, err);
	free(path);
	free(rel);
	if (rc == 0) {
		s->ct.seq = sb.seq;
		s->ct.next_seq++;
		s->res->containers++;
	}
	return rc;
}

/* Write an index file for the packs of the open container (or of a checkpoint). */
int
ofs_stg_write_index_file(struct stage *s, const struct ofs_index_pack *packs, size_t n,
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

void
ofs_stg_cpacks_clear(struct stage *s)
{
	for (size_t i = 0; i < s->ct.ncpacks; i++)
		free(s->ct.cpacks[i].blobs);
	s->ct.ncpacks = 0;
}

int
ofs_stg_seal_container(struct stage *s, struct ofs_error *err)
{
	struct ofs_buf plain = OFS_BUF_INIT(0), sealed = OFS_BUF_INIT(0);
	struct ofs_file_hashes h = { 0 };
	uint8_t id[OFS_ID_LEN];
	char name[64], *rel, *path;
	int rc;

	if (s->ct.cw == NULL)
		return 0;
	ofs_container_index_id(s->ct.set_id, s->ct.seq, id);
	if ((rc = ofs_index_encode(s->ct.cpacks, s->ct.ncpacks, &plain)) != 0 ||
	    (rc = ofs_blob_seal(s->wctx, OFS_OBJ_CONTAINER_INDEX, id, plain.data, plain.len, 1,
	    &sealed, err)) != 0)
		goto out;
	ofs_container_name(s->ct.set_id, s->ct.seq, name, sizeof(name));
	path = ofs_stg_container_file(s, s->ct.cur_disk, name);
	rc = ofs_cwriter_seal(s->ct.cw, sealed.data, sealed.len, (uint32_t)s->ct.ncpacks, path, &h, err);
	s->ct.cw = NULL;
	free(path);
	ofs_buf_release(&sealed);	/* before the index file is sealed from the same plaintext */
	if (rc != 0) {
		ofs_file_hashes_release(&h);
		goto out;
	}
	rel = ofs_path_join("containers", name);
	ofs_manifest_add(s->res->sealed, rel, &h);	/* takes h's arrays */
	free(rel);
	s->ct.sealed_serial = ofs_xreallocarray(s->ct.sealed_serial, s->res->sealed->nfiles,
	    sizeof(char *));
	s->ct.sealed_serial[s->res->sealed->nfiles - 1] = ofs_xstrdup(s->ct.cur_disk >= 0 ?
	    s->o->disk_serials[s->ct.cur_disk] : "");
	/* The container is sealed; its index file (the same plaintext: the container's index
	 * is an index file's) makes it known without opening it. */
	ofs_random(id, sizeof(id));
	if ((rc = ofs_repo_put_object(s->repo, "index", OFS_OBJ_INDEX, id, plain.data, plain.len,
	    err)) != 0)
		goto out;
	ofs_buf_release(&plain);
	ofs_stg_cpacks_clear(s);
	s->ct.seq = 0;
	/* On disks the journal keeps every sealed container's disk and hashes (the final
	 * manifests need them), so it is rewritten right away. */
	if (s->o->ndisks > 0 && (rc = ofs_stg_write_journal(s, err)) != 0)
		goto out;
out:
	ofs_buf_release(&plain);
	ofs_buf_release(&sealed);
	return rc;
}

/* Blobs in the open container's closed packs. */
static uint64_t
container_blobs(const struct stage *s)
{
	uint64_t n = 0;

	for (size_t i = 0; i < s->ct.ncpacks; i++)
		n += s->ct.cpacks[i].nblobs;
	return n;
}

static uint64_t
index_estimate(const struct stage *s, size_t extra_blobs)
{
	uint64_t n = 64 + OFS_AEAD_OVERHEAD + 1;

	for (size_t i = 0; i < s->ct.ncpacks; i++)
		n += 100 + (uint64_t)s->ct.cpacks[i].nblobs * 48;
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

	if (!s->ct.pack_open)
		return 0;
	if ((rc = ofs_pack_tail_build(s->wctx, s->ct.pw.entries, s->ct.pw.n, pid, &tail,
	    err)) != 0 ||
	    (rc = ofs_cwriter_write(s->ct.cw, tail.data, tail.len, s->ct.pack_h, err)) != 0)
		goto out;
	if (s->ct.ncpacks == s->ct.capcpacks) {
		s->ct.capcpacks = s->ct.capcpacks ? 2 * s->ct.capcpacks : 64;
		s->ct.cpacks = ofs_xreallocarray(s->ct.cpacks, s->ct.capcpacks,
		    sizeof(*s->ct.cpacks));
	}
	ip = &s->ct.cpacks[s->ct.ncpacks++];
	memset(ip, 0, sizeof(*ip));
	memcpy(ip->id, pid, OFS_ID_LEN);
	ip->loc.kind = OFS_LOC_CONTAINER;
	memcpy(ip->loc.set, s->ct.set_id, 16);
	ip->loc.seq = s->ct.seq;
	ip->loc.offset = s->ct.pack_off;
	ip->length = s->ct.pack_len + tail.len;
	ofs_xxh_digest(s->ct.pack_h, ip->xxh);
	ip->nblobs = s->ct.pw.n;
	ip->blobs = ofs_xreallocarray(NULL, s->ct.pw.n, sizeof(*ip->blobs));
	memcpy(ip->blobs, s->ct.pw.entries, s->ct.pw.n * sizeof(*ip->blobs));
	pthread_mutex_lock(&s->dedup.idx_mu);
	ofs_blobtab_add_index(s->repo->idx, ip, 1);
	pthread_mutex_unlock(&s->dedup.idx_mu);
	s->res->packs++;
	s->jn.since_ckpt += ip->length;
	s->ct.pw.n = 0;
	s->ct.pack_open = 0;
out:
	ofs_buf_release(&tail);
	return rc;
}

int
ofs_stg_flush_pack(struct stage *s, struct ofs_error *err)
{
	int rc;

	if ((rc = s->o->loose ? ofs_stg_close_loose_pack(s, &s->ct.pw, err) :
	    close_pack(s, err)) != 0)
		return rc;
	return ofs_stg_close_loose_pack(s, &s->up.tw, err);
}

int
ofs_stg_add_tree(struct stage *s, const uint8_t id[OFS_ID_LEN], struct ofs_buf *stored,
    uint32_t rawlen, struct ofs_error *err)
{
	struct ofs_pack_writer *w = &s->up.tw;
	size_t len = stored->len, room = (size_t)CONTAINER_PACK_TARGET + OFS_CHUNK_MAX + 4096;

	if (w->n > 0)
		return ofs_stg_add_blob(s, OFS_BLOB_TREE, id, stored, rawlen, err);
	/* the first tree of a pack: its buffer becomes the pack's, not copied into it (a
	 * large directory's tree is held once) */
	if (!ofs_pack_writer_add_buf(w, OFS_BLOB_TREE, id, stored, rawlen))
		return ofs_err_set(err, OFS_ERR_IO, "internal error: tree pack not empty");
	s->res->bytes_stored += len;
	if (len >= CONTAINER_PACK_TARGET)
		return ofs_stg_close_loose_pack(s, w, err);
	/* the room a new pack gets (ofs_stg_add_blob), so the trees after it do not double
	 * the buffer (a large one grows in place: mremap) */
	if (ofs_buf_reserve_exact(&w->data, room - len) != 0)
		return ofs_err_set(err, OFS_ERR_LIMIT, "a pack of %zu bytes does not fit", room);
	return 0;
}

int
ofs_stg_add_blob(struct stage *s, uint8_t type, const uint8_t id[OFS_ID_LEN],
    const struct ofs_buf *stored, uint32_t rawlen, struct ofs_error *err)
{
	struct ofs_pack_entry *e;
	uint64_t header = (uint64_t)(s->ct.pw.n + 1) * OFS_PACK_ENTRY_SIZE + 64 + OFS_AEAD_OVERHEAD;
	int rc;

	if (s->o->loose || type == OFS_BLOB_TREE) {
		/* Trees never share a pack with data: a snapshot that keeps an unchanged folder
		 * needs that folder's tree, and an export of it (SPEC §16) must not carry the
		 * data of files later deleted only because they were packed beside the tree. */
		struct ofs_pack_writer *w = type == OFS_BLOB_TREE ? &s->up.tw : &s->ct.pw;

		/* tree packs stay small (metadata, on every disk); backup's data packs are
		 * cloud-sized. Reserve once so the buffer does not double past the target. */
		uint64_t target = s->o->loose && type != OFS_BLOB_TREE ? OFS_PACK_TARGET :
		    CONTAINER_PACK_TARGET;

		if (w->data.cap == 0 &&
		    ofs_buf_reserve_exact(&w->data, (size_t)target + OFS_CHUNK_MAX + 4096) != 0)
			return ofs_err_set(err, OFS_ERR_LIMIT, "a pack of %llu bytes does not fit",
			    (unsigned long long)target);
		ofs_pack_writer_add(w, type, id, stored->data, stored->len, rawlen);
		s->res->bytes_stored += stored->len;
		return ofs_pack_writer_size(w) >= target ? ofs_stg_close_loose_pack(s, w, err) : 0;
	}
	/* Would this blob (plus the pack header and container index it implies) still fit? */
	if (s->ct.cw != NULL && (container_blobs(s) + s->ct.pw.n >= s->lim.container_blobs ||
	    ofs_cwriter_sealed_size(s->ct.cw, stored->len + header,
	    index_estimate(s, s->ct.pw.n + 1)) > s->ct.climit)) {
		if ((rc = close_pack(s, err)) != 0 || (rc = ofs_stg_seal_container(s, err)) != 0)
			return rc;
	}
	if (s->ct.cw == NULL && (rc = open_container(s, err)) != 0)
		return rc;
	if (!s->ct.pack_open) {
		if ((rc = ofs_cwriter_align(s->ct.cw, &s->ct.pack_off, err)) != 0)
			return rc;
		ofs_xxh_reset(s->ct.pack_h);
		s->ct.pack_len = 0;
		s->ct.pw.n = 0;
		s->ct.pack_open = 1;
	}
	if ((rc = ofs_cwriter_write(s->ct.cw, stored->data, stored->len, s->ct.pack_h, err)) != 0)
		return rc;
	if (s->ct.pw.n == s->ct.pw.cap) {
		s->ct.pw.cap = s->ct.pw.cap ? 2 * s->ct.pw.cap : 256;
		s->ct.pw.entries = ofs_xreallocarray(s->ct.pw.entries, s->ct.pw.cap,
		    sizeof(*s->ct.pw.entries));
	}
	e = &s->ct.pw.entries[s->ct.pw.n++];
	e->type = type;
	memcpy(e->id, id, OFS_ID_LEN);
	e->offset = (uint32_t)s->ct.pack_len;
	e->stored_len = (uint32_t)stored->len;
	e->raw_len = rawlen;
	s->ct.pack_len += stored->len;
	s->res->bytes_stored += stored->len;
	if (s->ct.pack_len >= s->ct.pack_target)
		return close_pack(s, err);
	return 0;
}

/* Unfinished containers (".<set>-<seq>.vhd.partial") that no journal names: a run killed
 * before its first checkpoint leaves one, and nothing in the index points into it. We hold
 * the lock, so nobody else writes there: remove them (the resumed open container, s->ct.cw,
 * stays), from the staging folder and every given disk, and say so. */
void
ofs_stg_remove_orphan_partials(struct stage *s)
{
	char keep[128] = "";

	if (s->ct.cw != NULL) {
		char name[96];

		ofs_container_name(s->ct.set_id, s->ct.seq, name, sizeof(name));
		snprintf(keep, sizeof(keep), ".%s.partial", name);
	}
	for (int k = s->o->ndisks > 0 ? 0 : -1; k < (int)s->o->ndisks || k == -1; k++) {
		char *probe = ofs_stg_container_file(s, k, "x"), *dir;
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
