/* Manifests (per disk or per staging repo): every file with size and XXH3-128 per file and
 * per region, readable without the passphrase; and the streaming region hasher. */
#ifndef OFS_MANIFEST_H
#define OFS_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"
#include "error.h"

#define OFS_REGION_SIZE (64ULL << 20)
#define OFS_MANIFEST_NAME "offseed-manifest.json"
#define OFS_SET_MANIFEST_NAME "offseed-set.json"
#define OFS_MANIFEST_VERSION 1
#define OFS_MANIFEST_MAX (256u << 20)

struct ofs_file_hashes {
	uint64_t size;
	uint8_t xxh[OFS_XXH_LEN];
	uint8_t (*regions)[OFS_XXH_LEN];	/* owned; NULL when not region-hashed */
	size_t nregions;
};

void ofs_file_hashes_release(struct ofs_file_hashes *h);

/* Streaming hasher: whole-file XXH3-128 plus one per region_size bytes. */
struct ofs_hasher;
struct ofs_hasher *ofs_hasher_new(uint64_t region_size);
void ofs_hasher_update(struct ofs_hasher *h, const void *p, size_t n);
/* Finish into out (owned arrays); the hasher is reset for reuse. */
void ofs_hasher_finish(struct ofs_hasher *h, struct ofs_file_hashes *out);
void ofs_hasher_free(struct ofs_hasher *h);
/* Hash a file with large sequential reads. */
int ofs_hash_file(const char *path, uint64_t region_size, struct ofs_file_hashes *out,
    struct ofs_error *err);

struct ofs_manifest_file {
	char *path;		/* relative, '/'-separated, no "..", owned */
	struct ofs_file_hashes h;
};

struct ofs_manifest {
	uint32_t version;
	char *tool, *created, *repository, *seed_set, *job;	/* owned; job/seed_set may be NULL */
	int has_disk;
	uint32_t disk_index, disk_count;
	char *serial;
	uint64_t region_size;
	struct ofs_manifest_file *files;
	size_t nfiles, cap;
};

struct ofs_manifest *ofs_manifest_new(void);
void ofs_manifest_free(struct ofs_manifest *m);
/* Add a file entry; takes ownership of h's arrays (h is zeroed). */
void ofs_manifest_add(struct ofs_manifest *m, const char *path, struct ofs_file_hashes *h);
/* Parse JSON; malformed → OFS_ERR_CORRUPT naming `what` and the field (and JSON line/column);
 * newer version → OFS_ERR_VERSION. Paths are checked (relative, no "..", no NUL). */
int ofs_manifest_parse(const uint8_t *p, size_t len, const char *what, struct ofs_manifest **out,
    struct ofs_error *err);
int ofs_manifest_load(const char *path, struct ofs_manifest **out, struct ofs_error *err);
/* Serialize (files sorted by path, stable formatting: same manifest → same bytes). */
int ofs_manifest_encode(const struct ofs_manifest *m, struct ofs_buf *out, struct ofs_error *err);
int ofs_manifest_write(const struct ofs_manifest *m, const char *path, struct ofs_error *err);

#endif
