/* Packs: blobs back to back, then the sealed pack header (per blob: type, id, stored length,
 * raw length), then the sealed header's length as u32 little-endian. Built in memory. */
#ifndef OFS_PACK_H
#define OFS_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "buf.h"
#include "crypto.h"

#define OFS_PACK_TARGET (32u << 20)	/* close a pack once it reaches this size */
#define OFS_PACK_MAX_BLOBS 100000u	/* parser limit */
#define OFS_PACK_ENTRY_SIZE 41		/* type 1 + id 32 + stored 4 + raw 4 */

struct ofs_pack_entry {
	uint8_t type;
	uint8_t id[OFS_ID_LEN];
	uint32_t offset;	/* from the start of the pack (implicit on disk: running sum) */
	uint32_t stored_len;
	uint32_t raw_len;
};

struct ofs_pack_writer {
	struct ofs_buf data;		/* blobs so far; the header is appended by finish */
	struct ofs_pack_entry *entries;
	size_t n, cap;
};

void ofs_pack_writer_init(struct ofs_pack_writer *w);
void ofs_pack_writer_release(struct ofs_pack_writer *w);
/* Empty the writer for the next pack, keeping storage. */
void ofs_pack_writer_reset(struct ofs_pack_writer *w);
/* Append one stored blob. */
void ofs_pack_writer_add(struct ofs_pack_writer *w, uint8_t type, const uint8_t id[OFS_ID_LEN],
    const void *stored, size_t storedlen, uint32_t rawlen);
/* The same for a blob in a buffer of its own (unbounded), sealed in place there: when w
 * holds nothing yet the buffer itself becomes the pack's (no copy; w's empty storage goes
 * to *stored) and 1 is returned; else it is copied as by _add and 0 is returned. */
int ofs_pack_writer_add_buf(struct ofs_pack_writer *w, uint8_t type,
    const uint8_t id[OFS_ID_LEN], struct ofs_buf *stored, uint32_t rawlen);
static inline size_t ofs_pack_writer_size(const struct ofs_pack_writer *w) { return w->data.len; }
/* Draw a random pack id, append the sealed header and its length to w->data. After this
 * w->data holds the whole pack, w->entries its blobs (offsets filled). */
int ofs_pack_writer_finish(struct ofs_pack_writer *w, struct ofs_blob_ctx *c,
    uint8_t pack_id[OFS_ID_LEN], struct ofs_error *err);

/* Build the tail of a pack from its entries: draw a random pack id, append the sealed header
 * and its u32le length to out. For writers that stream blobs straight to their destination
 * (entries' offsets are the running sum of stored lengths). */
int ofs_pack_tail_build(struct ofs_blob_ctx *c, const struct ofs_pack_entry *entries, size_t n,
    uint8_t pack_id[OFS_ID_LEN], struct ofs_buf *out, struct ofs_error *err);

/* Parse a pack whose last tail_len bytes are in tail (tail_len ≥ 4; pass the whole pack to
 * be sure). pack_len is the full pack length. Returns entries (owned) with offsets, checking
 * that blobs and header exactly tile the pack. Malformed → OFS_ERR_CORRUPT naming the pack id
 * and the offset. If the tail is too short for the header, returns OFS_ERR_NOTFOUND with
 * *need set to the tail length required. */
int ofs_pack_parse(struct ofs_blob_ctx *c, const uint8_t pack_id[OFS_ID_LEN], const uint8_t *tail,
    size_t tail_len, uint64_t pack_len, struct ofs_pack_entry **entries, size_t *n, size_t *need,
    struct ofs_error *err);

#endif
