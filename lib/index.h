/* The index: which pack holds which blob, and where each pack lives (loose object or inside
 * a container at an offset). Serialized form (plaintext of index files and of container
 * indexes) plus the compact in-memory lookup table (≤ 48 bytes per blob). */
#ifndef OFS_INDEX_H
#define OFS_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"
#include "pack.h"

#define OFS_SET_ID_LEN 16

enum ofs_loc_kind { OFS_LOC_LOOSE = 0, OFS_LOC_CONTAINER = 1 };

struct ofs_pack_loc {
	uint8_t kind;			/* enum ofs_loc_kind */
	uint8_t set[OFS_SET_ID_LEN];	/* container: seed set id */
	uint32_t seq;			/* container: sequence number (1-based) */
	uint64_t offset;		/* container: byte offset of the pack in the file */
};

struct ofs_index_pack {
	uint8_t id[OFS_ID_LEN];
	struct ofs_pack_loc loc;
	uint64_t length;
	uint8_t xxh[OFS_XXH_LEN];	/* XXH3-128 of the stored pack bytes */
	struct ofs_pack_entry *blobs;
	size_t nblobs;
};

/* Serialize packs (with their blobs) to the index plaintext, appended to out. */
int ofs_index_encode(const struct ofs_index_pack *packs, size_t n, struct ofs_buf *out);
/* Parse index plaintext. Returns owned packs (free with ofs_index_packs_free). Malformed →
 * OFS_ERR_CORRUPT naming `what` and the offset; a newer version → OFS_ERR_VERSION. */
int ofs_index_decode(const uint8_t *p, size_t len, const char *what,
    struct ofs_index_pack **packs, size_t *n, struct ofs_error *err);
void ofs_index_packs_free(struct ofs_index_pack *packs, size_t n);

/* Container file name for a pack location: "<set hex>-<seq %06u>.vhd". buf ≥ 48 bytes. */
void ofs_container_name(const uint8_t set[OFS_SET_ID_LEN], uint32_t seq, char *buf, size_t bufsz);
/* Loose pack object name: "data/<xx>/<id hex>". buf ≥ 80 bytes. */
void ofs_loose_name(const uint8_t id[OFS_ID_LEN], char *buf, size_t bufsz);

/* In-memory table. Not thread-safe for writers; concurrent lookups are fine while nobody adds. */
struct ofs_blob_ref {
	uint32_t pack;		/* number from ofs_blobtab_add_pack */
	uint32_t offset;
	uint32_t stored_len;
	uint32_t raw_len;
	uint8_t type;
};

struct ofs_blobtab_pack {
	uint8_t id[OFS_ID_LEN];
	struct ofs_pack_loc loc;
	uint64_t length;
	uint8_t xxh[OFS_XXH_LEN];
};

struct ofs_blobtab;
struct ofs_blobtab *ofs_blobtab_new(void);
void ofs_blobtab_free(struct ofs_blobtab *x);
/* Add a pack; returns its number. A pack id already present returns the existing number. */
uint32_t ofs_blobtab_add_pack(struct ofs_blobtab *x, const struct ofs_blobtab_pack *p);
/* 1 and *n (may be NULL) set to its number when pack id is known, else 0. */
int ofs_blobtab_find_pack(const struct ofs_blobtab *x, const uint8_t id[OFS_ID_LEN], uint32_t *n);
/* Add a blob; returns 0 if added, 1 if the id was already present (first one kept). */
int ofs_blobtab_add_blob(struct ofs_blobtab *x, const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *r);
/* Add every pack and blob of a decoded index. */
void ofs_blobtab_add_index(struct ofs_blobtab *x, const struct ofs_index_pack *packs, size_t n);
/* 1 and *r filled if found, else 0. */
int ofs_blobtab_lookup(const struct ofs_blobtab *x, const uint8_t id[OFS_ID_LEN], struct ofs_blob_ref *r);
const struct ofs_blobtab_pack *ofs_blobtab_pack(const struct ofs_blobtab *x, uint32_t n);
size_t ofs_blobtab_npacks(const struct ofs_blobtab *x);
size_t ofs_blobtab_nblobs(const struct ofs_blobtab *x);
/* Call fn for every blob; stop early when fn returns non-zero (and return that). */
int ofs_blobtab_foreach(const struct ofs_blobtab *x,
    int (*fn)(const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *r, void *ud), void *ud);
/* Bytes of heap the table uses (for the memory benchmark). */
size_t ofs_blobtab_memory(const struct ofs_blobtab *x);

/* The memory budget of a repository's index (`--index-memory`, SPEC §17): past it, the
 * entries in memory move to a sorted run in a temporary file of dir (lib/index_spill.h),
 * and the table keeps only about 1.5 bytes a spilled blob in memory. 0: no budget. */
#define OFS_INDEX_BUDGET_DEFAULT ((size_t)8 << 20)
void ofs_index_set_budget(size_t bytes);
size_t ofs_index_budget(void);
/* Let x spill to temporary files in dir beyond budget bytes (no-op when budget is 0). */
void ofs_blobtab_spill_to(struct ofs_blobtab *x, const char *dir, size_t budget);
/* When x has spilled, move the entries still in memory to a run as well. */
void ofs_blobtab_spill_rest(struct ofs_blobtab *x);
/* Blobs of x in spilled runs (the rest are in memory). */
size_t ofs_blobtab_spilled(const struct ofs_blobtab *x);

#endif
