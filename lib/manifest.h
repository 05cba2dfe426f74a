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
#define OFS_MANIFEST_MAX (256u << 20)	/* bytes of one manifest */
/* Entries of one manifest (2 Mi). Apart from config and a few key slots a repository's
 * files have 64-hex names (index/, snapshots/, data/xx/: 147 bytes an entry line as offseed
 * writes it) or are containers (at least 131), so 256 MiB holds fewer than 2 Mi of them:
 * real manifests reach the size limit first. Minified JSON with one-letter paths (66 bytes
 * an entry) could otherwise ask for 4 million entries of 56 bytes plus a path each. */
#define OFS_MANIFEST_MAX_FILES ((size_t)1 << 21)
/* The declared sizes of a manifest's files add up to at most this (4 EiB): totals never
 * overflow, and every size also fits int64_t. */
#define OFS_MANIFEST_MAX_BYTES (1ULL << 62)

struct ofs_file_hashes {
	uint64_t size;
	uint8_t xxh[OFS_XXH_LEN];
	uint8_t (*regions)[OFS_XXH_LEN];	/* owned; NULL when not region-hashed */
	size_t nregions;
};

void ofs_file_hashes_release(struct ofs_file_hashes *h);
/* A copy of src into dst with its own region list (release it). */
void ofs_file_hashes_copy(const struct ofs_file_hashes *src, struct ofs_file_hashes *dst);

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
/* Parse a manifest's JSON (at most OFS_MANIFEST_MAX bytes) into *out (owned by the caller;
 * NULL on failure). Malformed → OFS_ERR_CORRUPT naming `what` and the field (or the JSON
 * line and column); newer version → OFS_ERR_VERSION. Every string kept is free of control
 * characters, paths are clean relative paths (FORMAT.md §12), at most OFS_MANIFEST_MAX_FILES
 * entries whose sizes add up to at most OFS_MANIFEST_MAX_BYTES. Streams over p: besides p
 * and the result it holds at most one byte per byte of p (for hostile input; a few KiB for
 * what offseed writes). */
int ofs_manifest_parse(const uint8_t *p, size_t len, const char *what, struct ofs_manifest **out,
    struct ofs_error *err);
/* The same with another entry limit (tests use a small one). */
int ofs_manifest_parse_limits(const uint8_t *p, size_t len, const char *what, size_t max_files,
    struct ofs_manifest **out, struct ofs_error *err);
int ofs_manifest_load(const char *path, struct ofs_manifest **out, struct ofs_error *err);
/* Serialize (files sorted by path, stable formatting: same manifest → same bytes).
 * OFS_ERR_USAGE for what the parser would refuse (control characters, non-UTF-8, unclean
 * or repeated paths, region counts, the entry and size limits). */
int ofs_manifest_encode(const struct ofs_manifest *m, struct ofs_buf *out, struct ofs_error *err);
int ofs_manifest_write(const struct ofs_manifest *m, const char *path, struct ofs_error *err);

#endif
