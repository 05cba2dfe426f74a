/* Repository: open/init, unlock with a key slot, the index, encrypted objects, blob reads
 * and snapshot lookup. Storage goes through struct ofs_backend. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container.h"
#include "patch.h"
#include "rangecache.h"
#include "repo.h"
#include "util.h"

/* Remote reads: a request fetches up to RCACHE_SPAN of a pack; RCACHE_SLOTS spans kept. */
#define RCACHE_SPAN (4u << 20)
#define RCACHE_SLOTS 16

char *
ofs_state_default(const char *opt)
{
	const char *x, *home;

	if (opt != NULL && *opt)
		return ofs_xstrdup(opt);
	if ((x = getenv("XDG_STATE_HOME")) != NULL && *x)
		return ofs_path_join(x, "offseed");
	home = getenv("HOME");
	return ofs_path_join(home && *home ? home : "/tmp", ".local/state/offseed");
}

static int
open_state(struct ofs_repo *r, const char *state, struct ofs_error *err)
{
	char *base = ofs_state_default(state);
	int rc;

	r->state_dir = ofs_path_join(base, r->id_hex);
	free(base);
	if ((rc = ofs_mkdir_p(r->state_dir, 0700, err)) != 0)
		return ofs_err_wrap(err, "cannot set up the state dir");
	return 0;
}

int
ofs_repo_open(const char *loc, const char *state, struct ofs_repo **out, struct ofs_error *err)
{
	struct ofs_repo *r = ofs_xcalloc(1, sizeof(*r));
	int rc;

	*out = NULL;
	ofs_buf_init(&r->config_raw, OFS_CONFIG_MAX);
	pthread_mutex_init(&r->ctr_mu, NULL);
	if ((rc = ofs_backend_open(loc, &r->be, err)) != 0)
		goto fail;
	if (strncmp(r->be->loc, "azure://", 8) == 0)
		r->rcache = ofs_rangecache_new(RCACHE_SLOTS, RCACHE_SPAN);
	if ((rc = r->be->ops->get(r->be, "config", 0, 0, &r->config_raw, err)) != 0) {
		if (rc == OFS_ERR_NOTFOUND)
			rc = ofs_err_set(err, OFS_ERR_USAGE,
			    "'%s' is not an offseed repository (no config; create one with "
			    "'offseed init')", loc);
		goto fail;
	}
	if ((rc = ofs_config_parse(r->config_raw.data, r->config_raw.len, "config", &r->cfg,
	    err)) != 0)
		goto fail;
	ofs_hex(r->cfg.repo_id, sizeof(r->cfg.repo_id), r->id_hex);
	if ((rc = open_state(r, state, err)) != 0)
		goto fail;
	*out = r;
	return 0;
fail:
	ofs_repo_close(r);
	return rc;
}

int
ofs_repo_unlock(struct ofs_repo *r, const char *pass, size_t passlen, struct ofs_error *err)
{
	struct ofs_buf slot = OFS_BUF_INIT(OFS_KEYSLOT_MAX);
	char **names = NULL, *name;
	size_t n = 0;
	int rc, opened = 0, auth_failed = 0;

	if ((rc = r->be->ops->list(r->be, "keys", &names, &n, err)) != 0)
		return rc;
	for (size_t i = 0; i < n && !opened; i++) {
		ofs_buf_reset(&slot);
		name = ofs_path_join("keys", names[i]);
		rc = r->be->ops->get(r->be, name, 0, 0, &slot, err);
		if (rc == 0)
			rc = ofs_keyslot_open(slot.data, slot.len, name, pass, passlen,
			    r->keys.master, err);
		free(name);
		if (rc == 0)
			opened = 1;
		else if (rc == OFS_ERR_AUTH)
			auth_failed = 1;
		else if (rc == OFS_ERR_VERSION)
			goto out;
	}
	if (!opened) {
		rc = auth_failed || n == 0 ? ofs_err_set(err, OFS_ERR_AUTH, "wrong passphrase")
		    : rc;
		goto out;
	}
	if ((rc = ofs_keys_derive(&r->keys, err)) != 0)
		goto out;
	if ((rc = ofs_config_authenticate(r->config_raw.data, r->config_raw.len, "config",
	    &r->keys, err)) != 0)
		goto out;
	r->ctx = ofs_blob_ctx_new(&r->keys, r->cfg.zstd_level);
	r->unlocked = 1;
	rc = 0;
out:
	if (!r->unlocked)
		ofs_keys_wipe(&r->keys);
	ofs_buf_release_secret(&slot);
	ofs_names_free(names, n);
	return rc;
}

void
ofs_repo_close(struct ofs_repo *r)
{
	if (r == NULL)
		return;
	ofs_keys_wipe(&r->keys);
	ofs_blob_ctx_free(r->ctx);
	ofs_blobtab_free(r->idx);
	ofs_config_release(&r->cfg);
	ofs_buf_release(&r->config_raw);
	ofs_backend_free(r->be);
	free(r->state_dir);
	free(r->ctr_ok);
	ofs_rangecache_free(r->rcache);
	pthread_mutex_destroy(&r->ctr_mu);
	free(r);
}

/* *empty = 1 when the backend's root holds nothing (or does not exist yet). A listing that
 * fails (network, permissions, a bad container name) is returned as the error it is. */
static int
root_empty(struct ofs_backend *b, int *empty, struct ofs_error *err)
{
	char **names = NULL;
	size_t n = 0;
	int rc;

	*empty = 0;
	rc = b->ops->list(b, "", &names, &n, err);
	if (rc == OFS_ERR_NOTFOUND)
		return *empty = 1, 0;
	if (rc != 0)
		return rc;
	*empty = n == 0;
	ofs_names_free(names, n);
	return 0;
}

int
ofs_repo_init(const char *loc, const char *dest, const char *pass, size_t passlen,
    struct ofs_kdf_params kdf, struct ofs_repo **out, struct ofs_error *err)
{
	static const char *dirs[] = { "keys", "index", "snapshots", "containers", "data", "locks" };
	struct ofs_buf cfg = OFS_BUF_INIT(OFS_CONFIG_MAX), slot = OFS_BUF_INIT(OFS_KEYSLOT_MAX);
	struct ofs_repo *r = ofs_xcalloc(1, sizeof(*r));
	uint8_t slot_id[16];
	char hex[33], *name = NULL, *root = NULL;
	int rc, empty;

	*out = NULL;
	ofs_buf_init(&r->config_raw, OFS_CONFIG_MAX);
	pthread_mutex_init(&r->ctr_mu, NULL);
	if (passlen < OFS_PASSPHRASE_MIN) {
		rc = ofs_err_set(err, OFS_ERR_USAGE,
		    "the passphrase is too short (%zu characters; at least %d needed)", passlen,
		    OFS_PASSPHRASE_MIN);
		goto out;
	}
	if ((rc = ofs_backend_open(loc, &r->be, err)) != 0 ||
	    (rc = root_empty(r->be, &empty, err)) != 0)
		goto out;
	if (!empty) {
		rc = ofs_err_set(err, OFS_ERR_USAGE,
		    "cannot create a repository in '%s': the folder is not empty", loc);
		goto out;
	}
	if ((root = r->be->ops->path(r->be, "")) != NULL) {
		for (size_t i = 0; i < OFS_ARRAY_LEN(dirs); i++) {
			char *d = ofs_path_join(root, dirs[i]);

			rc = ofs_mkdir_p(d, 0755, err);
			free(d);
			if (rc != 0)
				goto out;
		}
	}
	ofs_random(r->keys.master, sizeof(r->keys.master));
	if ((rc = ofs_keys_derive(&r->keys, err)) != 0)
		goto out;
	r->cfg.version = OFS_REPO_VERSION;
	ofs_random(r->cfg.repo_id, sizeof(r->cfg.repo_id));
	r->cfg.destination = ofs_xstrdup(dest ? dest : "");
	r->cfg.chunk_min = 512u << 10;
	r->cfg.chunk_avg = 1u << 20;
	r->cfg.chunk_max = 8u << 20;
	r->cfg.zstd_level = 3;
	r->cfg.created = ofs_now_ns() / 1000000000LL;
	if ((rc = ofs_config_encode(&r->cfg, &r->keys, &cfg, err)) != 0)
		goto out;
	if ((rc = ofs_keyslot_create(pass, passlen, r->keys.master, kdf, &slot, err)) != 0)
		goto out;
	ofs_random(slot_id, sizeof(slot_id));
	ofs_hex(slot_id, sizeof(slot_id), hex);
	name = ofs_path_join("keys", hex);
	/* Key slot first: a config without a key would be a repository nobody can open. */
	if ((rc = r->be->ops->put(r->be, name, slot.data, slot.len, err)) != 0)
		goto out;
	if ((rc = r->be->ops->put(r->be, "config", cfg.data, cfg.len, err)) != 0)
		goto out;
	if ((rc = ofs_buf_add(&r->config_raw, cfg.data, cfg.len)) != 0) {
		rc = ofs_err_set(err, rc, "the config of %zu bytes is too large", cfg.len);
		goto out;
	}
	ofs_hex(r->cfg.repo_id, sizeof(r->cfg.repo_id), r->id_hex);
	r->ctx = ofs_blob_ctx_new(&r->keys, r->cfg.zstd_level);
	r->unlocked = 1;
	*out = r;
	r = NULL;	/* transferred */
out:
	free(name);
	free(root);
	ofs_buf_release(&cfg);
	ofs_buf_release_secret(&slot);
	ofs_repo_close(r);
	return rc;
}

int
ofs_repo_put_object(struct ofs_repo *r, const char *dir, uint8_t type,
    const uint8_t id[OFS_ID_LEN], const void *raw, size_t len, struct ofs_error *err)
{
	struct ofs_buf sealed = OFS_BUF_INIT(0);
	char hex[2 * OFS_ID_LEN + 1], *name;
	int rc;

	ofs_hex(id, OFS_ID_LEN, hex);
	name = ofs_path_join(dir, hex);
	if ((rc = ofs_blob_seal(r->ctx, type, id, raw, len, 1, &sealed, err)) == 0)
		rc = r->be->ops->put(r->be, name, sealed.data, sealed.len, err);
	free(name);
	ofs_buf_release(&sealed);
	return rc;
}

int
ofs_repo_get_object(struct ofs_repo *r, const char *dir, uint8_t type,
    const uint8_t id[OFS_ID_LEN], size_t max, struct ofs_buf *out, struct ofs_error *err)
{
	struct ofs_buf sealed = OFS_BUF_INIT(max + 4096);
	char hex[2 * OFS_ID_LEN + 1], *name;
	int rc;

	ofs_hex(id, OFS_ID_LEN, hex);
	name = ofs_path_join(dir, hex);
	if ((rc = r->be->ops->get(r->be, name, 0, 0, &sealed, err)) == 0 &&
	    (rc = ofs_blob_open(r->ctx, type, id, sealed.data, sealed.len, max, out, err)) != 0)
		ofs_err_wrap(err, "'%s'", name);
	free(name);
	ofs_buf_release(&sealed);
	return rc;
}

/* Containers are found either through index files or, for a container whose index file
 * was never written (crash right after sealing), through its own container index. */
static int
load_container_index(struct ofs_repo *r, const char *fname, struct ofs_error *err)
{
	struct ofs_container *c = NULL;
	struct ofs_buf sealed = OFS_BUF_INIT(1u << 30), plain = OFS_BUF_INIT(1u << 30);
	struct ofs_index_pack *packs = NULL;
	uint8_t id[OFS_ID_LEN];
	size_t n = 0;
	char *name = ofs_path_join("containers", fname), *path = r->be->ops->path(r->be, name);
	int rc;

	if (path == NULL) {
		rc = ofs_err_set(err, OFS_ERR_IO, "cannot read container '%s' here", name);
		goto out;
	}
	if ((rc = ofs_container_open(path, &c, err)) != 0)
		goto out;
	if ((rc = ofs_container_read_index(c, &sealed, err)) != 0)
		goto out;
	ofs_container_index_id(c->sb.set_id, c->sb.seq, id);
	if ((rc = ofs_blob_open(r->ctx, OFS_OBJ_CONTAINER_INDEX, id, sealed.data, sealed.len,
	    1u << 30, &plain, err)) != 0) {
		ofs_err_wrap(err, "container '%s' index", path);
		goto out;
	}
	if ((rc = ofs_index_decode(plain.data, plain.len, path, &packs, &n, err)) != 0)
		goto out;
	ofs_blobtab_add_index(r->idx, packs, n);
out:
	ofs_index_packs_free(packs, n);
	ofs_container_close(c);
	ofs_buf_release(&sealed);
	ofs_buf_release(&plain);
	free(path);
	free(name);
	return rc;
}

struct seen_ctr {
	char (*names)[64];
	size_t n, cap;
};

static void
seen_add(struct seen_ctr *s, const uint8_t set[OFS_SET_ID_LEN], uint32_t seq)
{
	char name[64];

	ofs_container_name(set, seq, name, sizeof(name));
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->names = ofs_xreallocarray(s->names, s->cap, sizeof(*s->names));
	}
	memcpy(s->names[s->n++], name, sizeof(name));
}

int
ofs_repo_load_index(struct ofs_repo *r, struct ofs_error *err)
{
	struct ofs_buf plain = OFS_BUF_INIT(1u << 30);
	struct ofs_index_pack *packs = NULL;
	struct seen_ctr seen = { NULL, 0, 0 };
	char **names = NULL, **ctrs = NULL;
	size_t n = 0, nctr = 0, np = 0;
	uint8_t id[OFS_ID_LEN];
	int rc;

	ofs_blobtab_free(r->idx);
	r->idx = ofs_blobtab_new();
	ofs_blobtab_spill_to(r->idx, r->state_dir, ofs_index_budget());
	if ((rc = r->be->ops->list(r->be, "index", &names, &n, err)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (ofs_unhex(names[i], id, sizeof(id)) != 0)
			continue;
		ofs_buf_reset(&plain);
		if ((rc = ofs_repo_get_object(r, "index", OFS_OBJ_INDEX, id, 1u << 30, &plain,
		    err)) != 0)
			goto out;
		if ((rc = ofs_index_decode(plain.data, plain.len, names[i], &packs, &np,
		    err)) != 0)
			goto out;
		for (size_t j = 0; j < np; j++)
			if (packs[j].loc.kind == OFS_LOC_CONTAINER)
				seen_add(&seen, packs[j].loc.set, packs[j].loc.seq);
		ofs_blobtab_add_index(r->idx, packs, np);
		ofs_index_packs_free(packs, np);
		packs = NULL;
		np = 0;
	}
	if ((rc = r->be->ops->list(r->be, "containers", &ctrs, &nctr, err)) != 0)
		goto out;
	for (size_t i = 0; i < nctr; i++) {
		size_t l = strlen(ctrs[i]);
		int known = 0;

		if (l < 4 || strcmp(ctrs[i] + l - 4, ".vhd") != 0)
			continue;
		for (size_t j = 0; j < seen.n && !known; j++)
			known = strcmp(seen.names[j], ctrs[i]) == 0;
		if (!known && (rc = load_container_index(r, ctrs[i], err)) != 0)
			goto out;
	}
	/* what a spilled index still holds in memory goes to a run too: commands that only read
	 * then keep the same few MiB whatever the count (until a stage adds more) */
	ofs_blobtab_spill_rest(r->idx);
out:
	ofs_index_packs_free(packs, np);
	ofs_names_free(names, n);
	ofs_names_free(ctrs, nctr);
	free(seen.names);
	ofs_buf_release(&plain);
	return rc;
}

#define SEED_JOBS_DIR "seed-jobs"

void
ofs_repo_note_seed_job(struct ofs_repo *r, const char *set_hex, const char *job)
{
	char *dir, *path;

	if (r->state_dir == NULL || job == NULL || strlen(set_hex) != 2 * OFS_SET_ID_LEN ||
	    strchr(set_hex, '/') != NULL)
		return;
	dir = ofs_path_join(r->state_dir, SEED_JOBS_DIR);
	path = ofs_path_join(dir, set_hex);
	if (ofs_mkdir_p(dir, 0700, NULL) == 0)
		(void)ofs_write_file_atomic(path, job, strlen(job), 0600, NULL);
	free(path);
	free(dir);
}

/* The import job noted for a seed set, or NULL (owned). */
static char *
seed_job(struct ofs_repo *r, const char *set_hex)
{
	char *path, buf[128];
	ssize_t n;
	int fd;

	if (r->state_dir == NULL)
		return NULL;
	path = ofs_xasprintf("%s/%s/%s", r->state_dir, SEED_JOBS_DIR, set_hex);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf[0] ? ofs_xstrdup(buf) : NULL;
}

int
ofs_repo_check_container(struct ofs_repo *r, const struct ofs_pack_loc *loc,
    struct ofs_error *err)
{
	struct ofs_buf head = OFS_BUF_INIT(OFS_SUPERBLOCK_SIZE);
	struct ofs_superblock sb;
	char cname[64], *name;
	int rc = 0, known = 0;

	if (loc->kind != OFS_LOC_CONTAINER)
		return 0;
	ofs_container_name(loc->set, loc->seq, cname, sizeof(cname));
	pthread_mutex_lock(&r->ctr_mu);
	for (size_t i = 0; i < r->nctr_ok && !known; i++)
		known = strcmp(r->ctr_ok[i], cname) == 0;
	pthread_mutex_unlock(&r->ctr_mu);
	if (known)
		return 0;
	name = ofs_path_join("containers", cname);
	if ((rc = r->be->ops->get(r->be, name, 0, OFS_SUPERBLOCK_SIZE, &head, err)) == 0 &&
	    (rc = ofs_superblock_parse(head.data, head.len, name, &sb, err)) == 0) {
		pthread_mutex_lock(&r->ctr_mu);
		if (r->nctr_ok == r->capctr_ok) {
			r->capctr_ok = r->capctr_ok ? 2 * r->capctr_ok : 16;
			r->ctr_ok = ofs_xreallocarray(r->ctr_ok, r->capctr_ok, sizeof(*r->ctr_ok));
		}
		memcpy(r->ctr_ok[r->nctr_ok++], cname, sizeof(cname));
		pthread_mutex_unlock(&r->ctr_mu);
	} else if (rc == OFS_ERR_NOTFOUND && strncmp(r->be->loc, "azure://", 8) == 0) {
		/* Backups may reach the cloud before the import of their seed (SPEC §10). */
		char set[2 * OFS_SET_ID_LEN + 1], *job;

		ofs_hex(loc->set, OFS_SET_ID_LEN, set);
		job = seed_job(r, set);
		rc = ofs_err_set(err, OFS_ERR_PENDING, "the seed containers of set %s are not "
		    "in the cloud yet (import job %s%s%s pending; '%s' is missing); restore from the "
		    "staging repo or the disks", set, job ? "'" : "", job ? job : "unknown here",
		    job ? "'" : "", name);
		free(job);
	}
	free(name);
	ofs_buf_release(&head);
	return rc;
}

/* The index entry of blob id, or OFS_ERR_CORRUPT naming it. */
static int
lookup(struct ofs_repo *r, const uint8_t id[OFS_ID_LEN], struct ofs_blob_ref *ref,
    struct ofs_error *err)
{
	char hex[2 * OFS_ID_LEN + 1];

	if (r->idx != NULL && ofs_blobtab_lookup(r->idx, id, ref))
		return 0;
	ofs_hex(id, OFS_ID_LEN, hex);
	return ofs_err_set(err, OFS_ERR_CORRUPT, "blob %.16s… is not in the index", hex);
}

/* The sealed bytes of the blob at index entry ref into stored; name (128 bytes) and *off
 * say where they are, for messages. */
static int
read_stored(struct ofs_repo *r, const struct ofs_blob_ref *ref, struct ofs_buf *stored,
    char *name, uint64_t *off, struct ofs_error *err)
{
	const struct ofs_blobtab_pack *p;
	char cname[64];
	uint64_t end;
	int rc;

	p = ofs_blobtab_pack(r->idx, ref->pack);
	if ((rc = ofs_repo_check_container(r, &p->loc, err)) != 0)
		return rc;
	if (p->loc.kind == OFS_LOC_CONTAINER) {
		ofs_container_name(p->loc.set, p->loc.seq, cname, sizeof(cname));
		snprintf(name, 128, "containers/%s", cname);
		*off = p->loc.offset + ref->offset;
		end = p->loc.offset + p->length;
	} else {
		ofs_loose_name(p->id, name, 128);
		*off = ref->offset;
		end = p->length;
	}
	if (r->rcache != NULL)
		return ofs_rangecache_read(r->rcache, r->be, name, *off, ref->stored_len, end,
		    stored, err);
	return r->be->ops->get(r->be, name, *off, ref->stored_len, stored, err);
}

/* Read and open blob id at its index entry ref. A patch comes back as its patch
 * plaintext. */
static int
read_opened(struct ofs_repo *r, struct ofs_blob_ctx *ctx, const uint8_t id[OFS_ID_LEN],
    const struct ofs_blob_ref *ref, struct ofs_buf *out, struct ofs_error *err)
{
	struct ofs_buf stored = OFS_BUF_INIT(0);
	char name[128];
	uint64_t off = 0;
	int rc;

	rc = read_stored(r, ref, &stored, name, &off, err);
	if (rc == 0 && (rc = ofs_blob_open(ctx ? ctx : r->ctx, ref->type, id, stored.data,
	    stored.len, ref->raw_len, out, err)) != 0)
		ofs_err_wrap(err, "'%s' at offset %llu", name, (unsigned long long)off);
	ofs_buf_release(&stored);
	return rc;
}

int
ofs_repo_read_blob(struct ofs_repo *r, struct ofs_blob_ctx *ctx, const uint8_t id[OFS_ID_LEN],
    struct ofs_buf *out, struct ofs_error *err)
{
	struct ofs_buf patch = OFS_BUF_INIT(0);
	struct ofs_blob_ref ref;
	int rc;

	if ((rc = lookup(r, id, &ref, err)) != 0)
		return rc;
	if (ref.type != OFS_BLOB_PATCH)	/* the common case opens straight into out */
		return read_opened(r, ctx, id, &ref, out, err);
	if ((rc = read_opened(r, ctx, id, &ref, &patch, err)) == 0)
		rc = ofs_repo_rebuild_patch(r, ctx, id, patch.data, patch.len, ref.raw_len, out,
		    err);
	ofs_buf_release_secret(&patch);
	return rc;
}

int
ofs_repo_patch_bases(struct ofs_repo *r, struct ofs_blob_ctx *ctx, const uint8_t id[OFS_ID_LEN],
    uint8_t bases[][OFS_ID_LEN], size_t *n, struct ofs_error *err)
{
	struct ofs_buf patch = OFS_BUF_INIT(0);
	struct ofs_blob_ref ref;
	struct ofs_patch pt;
	char hex[2 * OFS_ID_LEN + 1];
	int rc;

	*n = 0;
	if ((rc = lookup(r, id, &ref, err)) != 0 ||
	    (rc = read_opened(r, ctx, id, &ref, &patch, err)) != 0)
		goto out;
	ofs_hex(id, OFS_ID_LEN, hex);
	if (ref.type != OFS_BLOB_PATCH) {
		rc = ofs_err_set(err, OFS_ERR_CORRUPT, "blob %.16s… is not a patch", hex);
		goto out;
	}
	if ((rc = ofs_patch_parse(patch.data, patch.len, ref.raw_len, &pt, err)) != 0) {
		ofs_err_wrap(err, "blob %.16s… (patch)", hex);
		goto out;
	}
	memcpy(bases, pt.bases, (size_t)pt.nbases * OFS_ID_LEN);
	*n = pt.nbases;
out:
	ofs_buf_release_secret(&patch);
	return rc;
}

struct base_fetch {
	struct ofs_repo *r;
	struct ofs_blob_ctx *ctx;
};

/* A patch's bases are whole data chunks, never patches themselves. */
static int
fetch_base(void *arg, const uint8_t id[OFS_ID_LEN], struct ofs_buf *out, struct ofs_error *err)
{
	struct base_fetch *f = arg;
	struct ofs_blob_ref ref;
	char hex[2 * OFS_ID_LEN + 1];

	if (f->r->idx != NULL && ofs_blobtab_lookup(f->r->idx, id, &ref) &&
	    ref.type != OFS_BLOB_DATA) {
		ofs_hex(id, OFS_ID_LEN, hex);
		return ofs_err_set(err, OFS_ERR_CORRUPT, "patch base %.16s… is a %s blob, not a "
		    "data chunk", hex, ofs_blob_type_name(ref.type));
	}
	return ofs_repo_read_blob(f->r, f->ctx, id, out, err);
}

int
ofs_repo_rebuild_patch(struct ofs_repo *r, struct ofs_blob_ctx *ctx, const uint8_t id[OFS_ID_LEN],
    const uint8_t *patch, size_t len, size_t rawlen, struct ofs_buf *out, struct ofs_error *err)
{
	struct base_fetch f = { r, ctx ? ctx : r->ctx };
	struct ofs_patch pt;
	uint8_t again[OFS_ID_LEN];
	size_t at = out->len;
	char hex[2 * OFS_ID_LEN + 1];
	int rc;

	ofs_hex(id, OFS_ID_LEN, hex);
	if ((rc = ofs_patch_parse(patch, len, rawlen, &pt, err)) != 0 ||
	    (rc = ofs_patch_apply(&pt, fetch_base, &f, out, err)) != 0)
		return ofs_err_wrap(err, "blob %.16s… (patch)", hex);
	ofs_blob_id(f.ctx, out->data + at, out->len - at, again);
	if (memcmp(again, id, OFS_ID_LEN) != 0)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "blob %.16s… (patch): the rebuilt chunk "
		    "does not match its id", hex);
	return 0;
}

static int
snapcmp(const void *a, const void *b)
{
	const struct ofs_snapshot *x = a, *y = b;

	return x->time_ns < y->time_ns ? -1 : x->time_ns > y->time_ns;
}

int
ofs_repo_list_snapshots(struct ofs_repo *r, struct ofs_snapshot **out, size_t *nout,
    struct ofs_error *err)
{
	struct ofs_buf plain = OFS_BUF_INIT(16u << 20);
	struct ofs_snapshot *s = NULL;
	char **names = NULL;
	size_t n = 0, k = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	if ((rc = r->be->ops->list(r->be, "snapshots", &names, &n, err)) != 0)
		return rc;
	s = ofs_xcalloc(n ? n : 1, sizeof(*s));
	for (size_t i = 0; i < n; i++) {
		uint8_t id[OFS_ID_LEN];

		if (ofs_unhex(names[i], id, sizeof(id)) != 0)
			continue;
		ofs_buf_reset(&plain);
		if ((rc = ofs_repo_get_object(r, "snapshots", OFS_OBJ_SNAPSHOT, id, 16u << 20,
		    &plain, err)) != 0)
			goto fail;
		if ((rc = ofs_snapshot_decode(plain.data, plain.len, names[i], &s[k], err)) != 0)
			goto fail;
		memcpy(s[k].id, id, sizeof(id));
		k++;
	}
	qsort(s, k, sizeof(*s), snapcmp);
	*out = s;
	*nout = k;
	ofs_names_free(names, n);
	ofs_buf_release(&plain);
	return 0;
fail:
	for (size_t i = 0; i < k; i++)
		ofs_snapshot_release(&s[i]);
	free(s);
	ofs_names_free(names, n);
	ofs_buf_release(&plain);
	return rc;
}

int
ofs_repo_find_snapshot(struct ofs_repo *r, const char *spec, struct ofs_snapshot *out,
    struct ofs_error *err)
{
	struct ofs_snapshot *s = NULL;
	size_t n = 0, match = SIZE_MAX, hits = 0;
	char hex[2 * OFS_ID_LEN + 1];
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = ofs_repo_list_snapshots(r, &s, &n, err)) != 0)
		return rc;
	if (strcmp(spec, "latest") == 0) {
		if (n > 0) {
			match = n - 1;
			hits = 1;
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			ofs_hex(s[i].id, OFS_ID_LEN, hex);
			if (*spec && strncmp(hex, spec, strlen(spec)) == 0) {
				match = i;
				hits++;
			}
		}
	}
	if (hits == 0)
		rc = ofs_err_set(err, OFS_ERR_NOTFOUND, "no snapshot '%s' in the repository", spec);
	else if (hits > 1)
		rc = ofs_err_set(err, OFS_ERR_USAGE,
		    "snapshot prefix '%s' is ambiguous (%zu matches)", spec, hits);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && i == match)
			*out = s[i];
		else
			ofs_snapshot_release(&s[i]);
	}
	free(s);
	return rc;
}

int
ofs_repo_load_tree(struct ofs_repo *r, struct ofs_blob_ctx *ctx, const uint8_t id[OFS_ID_LEN],
    struct ofs_tree *t, struct ofs_error *err)
{
	struct ofs_buf raw = OFS_BUF_INIT(OFS_TREE_MAX);
	char hex[2 * OFS_ID_LEN + 1];
	int rc;

	ofs_tree_init(t);
	if ((rc = ofs_repo_read_blob(r, ctx, id, &raw, err)) == 0) {
		ofs_hex(id, OFS_ID_LEN, hex);
		rc = ofs_tree_decode(raw.data, raw.len, hex, t, err);
	}
	ofs_buf_release(&raw);
	return rc;
}

int
ofs_repo_open_tree(struct ofs_repo *r, struct ofs_blob_ctx *ctx, const uint8_t id[OFS_ID_LEN],
    struct ofs_tree_reader **out, struct ofs_error *err)
{
	struct ofs_buf stored = OFS_BUF_INIT(0);
	struct ofs_blob_stream *bs = NULL;
	struct ofs_blob_ref ref;
	struct ofs_tree t;
	char hex[2 * OFS_ID_LEN + 1], name[128], note[200];
	uint64_t off = 0;
	int rc;

	*out = NULL;
	if ((rc = lookup(r, id, &ref, err)) != 0)
		return rc;
	/* Small trees (nearly all) and patches: decoded whole, as ofs_repo_load_tree does. */
	if (ref.type == OFS_BLOB_PATCH || ref.raw_len <= OFS_TREE_WHOLE_MAX) {
		if ((rc = ofs_repo_load_tree(r, ctx, id, &t, err)) == 0)
			*out = ofs_tree_reader_from_tree(&t);
		return rc;
	}
	if ((rc = read_stored(r, &ref, &stored, name, &off, err)) == 0) {
		snprintf(note, sizeof(note), "'%s' at offset %llu", name, (unsigned long long)off);
		if ((rc = ofs_blob_stream_open(ctx ? ctx : r->ctx, ref.type, id, &stored,
		    ref.raw_len, OFS_TREE_MAX, &bs, err)) != 0) {
			ofs_err_wrap(err, "%s", note);
		} else {
			ofs_blob_stream_note(bs, note);
			ofs_hex(id, OFS_ID_LEN, hex);
			rc = ofs_tree_reader_open_blob(bs, hex, NULL, out, err);
			bs = NULL;	/* transferred */
		}
	}
	ofs_buf_release(&stored);
	return rc;
}
