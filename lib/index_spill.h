/* Private to lib/index*.c: the part of the blob table that does not fit its memory budget
 * (SPEC §17, `--index-memory`). The table's entries beyond the budget live in sorted runs,
 * each a temporary file (O_TMPFILE in the state dir) of 48-byte entries in id order, with
 * two small arrays in memory per run: the first 8 bytes of the id starting each block of
 * RUN_BLOCK entries (0.25 B a blob), and a blocked Bloom filter (1.25 B a blob) so that an
 * absent id costs no read. A lookup reads one block (1,536 bytes, pread: nothing stays
 * mapped, so nothing counts against the process's memory). Runs are merged two at a time
 * when the newer is at least half the size of the one before, so there are about
 * log2(blobs / budget) of them. Not thread-safe for writers; lookups and foreach may run
 * concurrently once nobody adds. */
#ifndef OFS_INDEX_SPILL_H
#define OFS_INDEX_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

/* One blob of the table, in memory and in a run file: 48 bytes, the pack number (24 bits)
 * shares a word with the type (8 bits). */
struct ofs_ient {
	uint8_t id[OFS_ID_LEN];
	uint32_t pack_type;
	uint32_t offset;
	uint32_t stored_len;
	uint32_t raw_len;
};

struct ofs_spill;

/* A spill over dir (kept, not copied: it must outlive the spill). */
struct ofs_spill *ofs_spill_new(const char *dir);
void ofs_spill_free(struct ofs_spill *sp);
/* Write n entries, given in id order through order[] (indexes into get()), as a new run.
 * 0, or an errno (the spill is unchanged; the caller keeps the entries). */
int ofs_spill_add(struct ofs_spill *sp, size_t n,
    const struct ofs_ient *(*get)(void *ud, size_t i), void *ud);
/* 1 and *out filled when id is in a run, else 0. */
int ofs_spill_lookup(const struct ofs_spill *sp, const uint8_t id[OFS_ID_LEN],
    struct ofs_ient *out);
/* Every spilled entry, run by run; stops when fn returns non-zero (and returns that). */
int ofs_spill_foreach(const struct ofs_spill *sp,
    int (*fn)(const struct ofs_ient *e, void *ud), void *ud);
size_t ofs_spill_count(const struct ofs_spill *sp);
/* Bytes of memory the spill uses (fences, filters, run list). */
size_t ofs_spill_memory(const struct ofs_spill *sp);
size_t ofs_spill_runs(const struct ofs_spill *sp);

#endif
