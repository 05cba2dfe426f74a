/* FastCDC (normalized, level 2) content-defined chunking with a gear table derived from the
 * repository's chunker seed, so boundaries do not leak across repositories. */
#ifndef OFS_CHUNKER_H
#define OFS_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#define OFS_CHUNK_MIN (512u * 1024)
#define OFS_CHUNK_AVG (1024u * 1024)
#define OFS_CHUNK_MAX (8u * 1024 * 1024)

struct ofs_chunker {
	uint64_t gear[256];
	uint64_t mask_s, mask_l;	/* harder mask below avg, easier above */
	uint32_t min, avg, max;
};

/* Derive the gear table from seed (32 bytes) and set sizes (avg a power of two,
 * 64 ≤ min < avg < max ≤ 1 GiB). Gear: the first 2048 bytes of AES-256-CTR keystream
 * (key = seed, IV = 16 zero bytes), read as 256 u64 little-endian. Masks: log2(avg) ± 2
 * one-bits at positions 63 - floor(j·48 / n), j = 0…n-1 (FORMAT.md). Returns 0 or -1. */
int ofs_chunker_init(struct ofs_chunker *c, const uint8_t seed[32], uint32_t min, uint32_t avg,
    uint32_t max);

/* Length of the next chunk at the start of data[0..len). If no cut point is found before
 * len and len < max and !eof, returns 0: supply more data (keep ≥ max bytes buffered when
 * possible). With eof, returns len when no cut is found (the last chunk, possibly < min).
 * A cut after byte i (return i + 1) happens at the first i ≥ min with
 * (h_i & mask) == 0, h_i = (h_{i-1} << 1) + gear[data[i]], h_{min-1} = 0, mask = mask_s
 * while i < avg, else mask_l; a chunk is never longer than max. */
size_t ofs_chunker_next(const struct ofs_chunker *c, const uint8_t *data, size_t len, int eof);

#endif
