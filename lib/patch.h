/* Patch chunks: a new chunk stored as copies of byte ranges of seed chunks plus the bytes
 * that differ, so an edit inside a large file uploads about the edited bytes, not the
 * megabyte-sized chunks around them. Also the per-file 64 KiB block hashes that tell the
 * next backup which ranges still equal the seed. */
#ifndef OFS_PATCH_H
#define OFS_PATCH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"

#define OFS_BLOCK_SIZE (32u << 10)	/* block hashes cover the file data in these steps */
#define OFS_PATCH_MAX_BASES 16
#define OFS_PATCH_LITERAL 0xff		/* op base value: bytes from the literal area */
#define OFS_PATCH_OP_SIZE 9

/* A parsed patch plaintext; the pointers point into the parsed bytes. */
struct ofs_patch {
	uint8_t nbases;
	const uint8_t *bases;		/* nbases × 32-byte chunk ids */
	uint32_t nops;
	const uint8_t *ops;		/* nops × 9 bytes: base (u8) ‖ offset (u32le) ‖ len (u32le) */
	const uint8_t *lit;
	size_t litlen;
	uint64_t outlen;		/* the chunk's length: the sum of the op lengths */
};

/* Check the structure of a patch plaintext (FORMAT.md section 9.1) and fill *pt. The chunk
 * it describes must be exactly rawlen bytes. OFS_ERR_CORRUPT names the byte offset. */
int ofs_patch_parse(const uint8_t *p, size_t n, size_t rawlen, struct ofs_patch *pt,
    struct ofs_error *err);

/* Fetch the plaintext of base chunk id into out (appending). */
typedef int (*ofs_patch_fetch_fn)(void *arg, const uint8_t id[OFS_ID_LEN], struct ofs_buf *out,
    struct ofs_error *err);

/* Rebuild the chunk into out (appending): fetches each base once. A copy outside its base
 * is OFS_ERR_CORRUPT. */
int ofs_patch_apply(const struct ofs_patch *pt, ofs_patch_fetch_fn fetch, void *arg,
    struct ofs_buf *out, struct ofs_error *err);

/* Builds a patch from ops in chunk order; adjacent literals and contiguous copies of one
 * base merge. */
struct ofs_patch_writer {
	uint8_t bases[OFS_PATCH_MAX_BASES][OFS_ID_LEN];
	int nbases;
	struct ofs_buf ops, lit;
	uint32_t nops;
	int last_base;			/* base of the last op, -1: none */
	uint32_t last_end;		/* copy: offset after the last op */
	uint64_t outlen, litlen;
};

void ofs_patch_writer_init(struct ofs_patch_writer *w);
void ofs_patch_writer_reset(struct ofs_patch_writer *w);
void ofs_patch_writer_release(struct ofs_patch_writer *w);
/* Copy len bytes at off of chunk id. Returns 0, or -1 (nothing added) when it would need a
 * 17th base: the caller adds those bytes as a literal instead. */
int ofs_patch_copy(struct ofs_patch_writer *w, const uint8_t id[OFS_ID_LEN], uint32_t off,
    uint32_t len);
void ofs_patch_literal(struct ofs_patch_writer *w, const void *p, size_t len);
/* The patch plaintext, appended to out. Returns 0, or OFS_ERR_LIMIT when out's maximum
 * is reached (or w's own unbounded buffers passed SIZE_MAX). */
__attribute__((warn_unused_result))
int ofs_patch_finish(const struct ofs_patch_writer *w, struct ofs_buf *out);

/* 64-bit block hashes of a stream: XXH3-64 with the repository's block secret over each
 * OFS_BLOCK_SIZE piece (the last one may be shorter). A probe also hashes the first
 * probe_len bytes of one block: the seed's last, shorter block, so that a file that grew
 * since can still copy the part it kept. */
struct ofs_blocks {
	uint64_t *h;
	size_t n, cap;
	size_t fill;			/* bytes of the unfinished block */
	void *st;			/* XXH3 state of the unfinished block */
	const uint8_t *secret;
	uint64_t probe_block;
	size_t probe_len;		/* 0: no probe */
	int probe_done;
	uint64_t probe_h;
};

void ofs_blocks_init(struct ofs_blocks *b, const uint8_t secret[OFS_BLOCK_SECRET_LEN]);
/* Set the probe before the first update; 0 < len < OFS_BLOCK_SIZE. */
void ofs_blocks_probe(struct ofs_blocks *b, uint64_t block, size_t len);
void ofs_blocks_update(struct ofs_blocks *b, const void *p, size_t n);
/* Hash the unfinished last block, if any. */
void ofs_blocks_final(struct ofs_blocks *b);
/* Empty it for the next stream (no probe), keeping its storage. */
void ofs_blocks_reset(struct ofs_blocks *b);
/* A copy of the hashes, exactly n long (owned by the caller). */
uint64_t *ofs_blocks_copy(const struct ofs_blocks *b, size_t *n);
void ofs_blocks_release(struct ofs_blocks *b);

#endif
