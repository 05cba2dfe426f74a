/* A repository wherever it lives: the storage backend (local folder, disk set, Azure Blob),
 * config and keys, the index, encrypted objects, and blob reads. */
#ifndef OFS_REPO_H
#define OFS_REPO_H

#include <stddef.h>
#include <pthread.h>
#include <stdint.h>

#include "blob.h"
#include "buf.h"
#include "config.h"
#include "crypto.h"
#include "error.h"
#include "index.h"
#include "tree.h"

/* Storage backend: names are repository-relative ('config', 'keys/<id>', 'index/<id>',
 * 'snapshots/<id>', 'containers/<file>.vhd', 'data/xx/<id>'). */
struct ofs_backend {
	const struct ofs_backend_ops *ops;
	char *loc;	/* as given, for messages */
	struct ofs_ratelimit *limit;	/* paces put() bodies; NULL: none (not owned) */
	int partial;	/* may hold only part of what the index lists (a disk set: an export
			 * carries what its snapshot needs); absent packs no snapshot on it
			 * needs are not findings of verify --deep */
};

struct ofs_backend_ops {
	/* Read len bytes at off (len 0: to the end), appended to out. Missing → NOTFOUND. */
	int (*get)(struct ofs_backend *b, const char *name, uint64_t off, uint64_t len,
	    struct ofs_buf *out, struct ofs_error *err);
	/* Durable, atomic create-or-replace. */
	int (*put)(struct ofs_backend *b, const char *name, const void *p, size_t n,
	    struct ofs_error *err);
	/* Names (without the dir prefix) of the objects in dir; owned array of owned strings. */
	int (*list)(struct ofs_backend *b, const char *dir, char ***names, size_t *n,
	    struct ofs_error *err);
	int (*remove)(struct ofs_backend *b, const char *name, struct ofs_error *err);
	int (*size)(struct ofs_backend *b, const char *name, uint64_t *size, struct ofs_error *err);
	/* Local path of an object, or NULL if the backend has none (owned). */
	char *(*path)(struct ofs_backend *b, const char *name);
	void (*free)(struct ofs_backend *b);
};

/* Open a backend for LOC: a path or file:PATH (local folder), disks:…, azure://…. Others:
 * OFS_ERR_USAGE. */
int ofs_backend_open(const char *loc, struct ofs_backend **out, struct ofs_error *err);
/* Open the local folder "PATH" or "file:PATH" (no other scheme is looked at; an empty PATH
 * → OFS_ERR_USAGE). No I/O: a missing folder shows at the first get or list. */
int ofs_backend_local_open(const char *loc, struct ofs_backend **out, struct ofs_error *err);
/* Open the read-only disk set "disks:MNT[,MNT…]" (prepared disks, SPEC §7): containers/X
 * from the disk whose PageBlob/C/P/containers/X exists, other names from BlockBlob/C/P/ on
 * the first disk that has them, list() the union; put/remove → OFS_ERR_IO; path() is NULL
 * for names on no disk (so no lock is attempted). A container on a disk that was not given
 * → OFS_ERR_UNAVAILABLE naming that disk's index and serial. A disk without
 * offseed-set.json or of another set (repository or seed set) → OFS_ERR_USAGE. */
int ofs_backend_disks_open(const char *loc, struct ofs_backend **out, struct ofs_error *err);
/* Open "azure://ACCOUNT/CONTAINER[/PREFIX]" (lib/azblob, settings from OFFSEED_AZURE_*):
 * names are blobs PREFIX/name; get reads by range, put is a block blob (atomic for
 * readers; creates the container on first use), list is prefix-based and returns the first
 * component below dir like a folder listing, path() is NULL. Errors as lib/azblob: 404 →
 * OFS_ERR_NOTFOUND, 401/403 → OFS_ERR_AUTH, retries exhausted → OFS_ERR_NETWORK; a bad
 * location, endpoint or missing credentials → OFS_ERR_USAGE (no request is made here). */
int ofs_backend_azure_open(const char *loc, struct ofs_backend **out, struct ofs_error *err);
void ofs_backend_free(struct ofs_backend *b);
void ofs_names_free(char **names, size_t n);

struct ofs_repo {
	struct ofs_backend *be;
	struct ofs_config cfg;
	struct ofs_buf config_raw;
	struct ofs_keys keys;
	int unlocked;
	struct ofs_blobtab *idx;
	struct ofs_blob_ctx *ctx;	/* for the calling thread; workers make their own */
	char *state_dir;		/* STATE/<repo id hex>, created on open */
	char id_hex[33];
	pthread_mutex_t ctr_mu;		/* guards the containers checked so far */
	char (*ctr_ok)[64];		/* container names whose superblock was checked */
	size_t nctr_ok, capctr_ok;
	struct ofs_rangecache *rcache;	/* remote repositories: read-ahead over pack spans */
};

/* The state dir root: opt when given, else $XDG_STATE_HOME/offseed or
 * ~/.local/state/offseed (owned). */
char *ofs_state_default(const char *opt);

/* Open: read and parse config (OFS_ERR_VERSION if newer). state may be NULL (default). */
int ofs_repo_open(const char *loc, const char *state, struct ofs_repo **out, struct ofs_error *err);
/* Try every key slot with the passphrase; OFS_ERR_AUTH "wrong passphrase" if none opens.
 * Authenticates the config. */
int ofs_repo_unlock(struct ofs_repo *r, const char *pass, size_t passlen, struct ofs_error *err);
void ofs_repo_close(struct ofs_repo *r);

/* Create a new repository at loc (must be empty or absent). */
int ofs_repo_init(const char *loc, const char *dest, const char *pass, size_t passlen,
    struct ofs_kdf_params kdf, struct ofs_repo **out, struct ofs_error *err);

/* Load index/ files and the indexes of sealed containers not covered by them. */
int ofs_repo_load_index(struct ofs_repo *r, struct ofs_error *err);

/* Seal raw with (type, id) and store it as dir/<id hex>. */
int ofs_repo_put_object(struct ofs_repo *r, const char *dir, uint8_t type,
    const uint8_t id[OFS_ID_LEN], const void *raw, size_t len, struct ofs_error *err);
/* Read and open dir/<id hex>; raw appended to out. */
int ofs_repo_get_object(struct ofs_repo *r, const char *dir, uint8_t type,
    const uint8_t id[OFS_ID_LEN], size_t max, struct ofs_buf *out, struct ofs_error *err);

/* Remember (in the state dir) that seed set set_hex travels in import job job, so a restore
 * refused while the import is pending can name the job. Best effort: failures are ignored. */
void ofs_repo_note_seed_job(struct ofs_repo *r, const char *set_hex, const char *job);

/* Before the first read from a container (through index files, which skip its structure),
 * check its superblock: a newer container format → OFS_ERR_VERSION naming both versions.
 * Thread-safe; remembers the containers already checked. */
int ofs_repo_check_container(struct ofs_repo *r, const struct ofs_pack_loc *loc,
    struct ofs_error *err);

/* Read one blob by id through the index (with ctx for the calling thread). */
int ofs_repo_read_blob(struct ofs_repo *r, struct ofs_blob_ctx *ctx, const uint8_t id[OFS_ID_LEN],
    struct ofs_buf *out, struct ofs_error *err);
/* The base ids of patch blob id (at most OFS_PATCH_MAX_BASES, 16), read without them. */
int ofs_repo_patch_bases(struct ofs_repo *r, struct ofs_blob_ctx *ctx, const uint8_t id[OFS_ID_LEN],
    uint8_t bases[][OFS_ID_LEN], size_t *n, struct ofs_error *err);
/* Rebuild the chunk a patch blob (already opened: its plaintext in patch) stands for, into
 * out (appending): its bases are read by id and must be data chunks; the result must match
 * id. OFS_ERR_CORRUPT names the blob. ofs_repo_read_blob does this for patch blobs itself. */
int ofs_repo_rebuild_patch(struct ofs_repo *r, struct ofs_blob_ctx *ctx, const uint8_t id[OFS_ID_LEN],
    const uint8_t *patch, size_t len, size_t rawlen, struct ofs_buf *out, struct ofs_error *err);

/* Snapshots: list ids (sorted by time), load one, resolve "latest" or an id prefix. */
int ofs_repo_list_snapshots(struct ofs_repo *r, struct ofs_snapshot **out, size_t *n,
    struct ofs_error *err);
int ofs_repo_find_snapshot(struct ofs_repo *r, const char *spec, struct ofs_snapshot *out,
    struct ofs_error *err);
int ofs_repo_load_tree(struct ofs_repo *r, struct ofs_blob_ctx *ctx, const uint8_t id[OFS_ID_LEN],
    struct ofs_tree *t, struct ofs_error *err);
/* Open tree id for reading one node at a time (tree.h): the same checks, nodes, codes and
 * messages as ofs_repo_load_tree, all before the first node. A tree above
 * OFS_TREE_WHOLE_MAX bytes of plaintext is read from its sealed bytes (decrypted in place)
 * through a zstd stream, never whole; a smaller one is decoded whole. *out is owned. */
int ofs_repo_open_tree(struct ofs_repo *r, struct ofs_blob_ctx *ctx, const uint8_t id[OFS_ID_LEN],
    struct ofs_tree_reader **out, struct ofs_error *err);

#endif
