/* Blobs: compress (zstd, or stored raw when it saves < 3%), then AES-256-GCM with the blob
 * type and id as associated data. Stored form: nonce ‖ GCM(mode byte ‖ payload) ‖ tag.
 * The same sealing protects every encrypted object (pack headers, index files, container
 * indexes, snapshots), each with its own type and id. */
#ifndef OFS_BLOB_H
#define OFS_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"

enum ofs_blob_type {
	OFS_BLOB_DATA = 0,		/* file content chunk */
	OFS_BLOB_TREE = 1,		/* directory listing */
	OFS_BLOB_PATCH = 2,		/* file content chunk stored as a patch (lib/patch.h) */
	OFS_OBJ_PACK_HEADER = 0x10,	/* id = pack id */
	OFS_OBJ_INDEX = 0x11,		/* id = index file id */
	OFS_OBJ_CONTAINER_INDEX = 0x12,	/* id = 32 bytes: set id ‖ seq (u32 le) ‖ zeros */
	OFS_OBJ_SNAPSHOT = 0x13,	/* id = snapshot id */
	OFS_OBJ_JOURNAL = 0x14,		/* id = repository id ‖ zeros */
};

/* Per-thread context: cipher, HMAC and zstd contexts. */
struct ofs_blob_ctx;
struct ofs_blob_ctx *ofs_blob_ctx_new(const struct ofs_keys *k, int zstd_level);
void ofs_blob_ctx_free(struct ofs_blob_ctx *c);

/* "data", "tree", "pack header", … for messages. */
const char *ofs_blob_type_name(uint8_t type);

/* Chunk/tree id: HMAC-SHA256(id key, raw). */
void ofs_blob_id(struct ofs_blob_ctx *c, const void *raw, size_t rawlen, uint8_t id[OFS_ID_LEN]);

/* Seal raw into its stored form, appended to out. compress = 0 forces mode raw;
 * OFS_SEAL_FAST compresses at zstd level 1 instead of the context's (for the state dir's
 * own files, the journal and catalog: rewritten often, read back rarely). */
#define OFS_SEAL_FAST 2
int ofs_blob_seal(struct ofs_blob_ctx *c, uint8_t type, const uint8_t id[OFS_ID_LEN],
    const void *raw, size_t rawlen, int compress, struct ofs_buf *out, struct ofs_error *err);
/* Open a stored blob, appending the raw bytes to out. rawlen_max bounds decompression
 * (a forged length cannot allocate more). Authentication failure or a bad mode/size is
 * OFS_ERR_CORRUPT with a message naming the type and id. */
int ofs_blob_open(struct ofs_blob_ctx *c, uint8_t type, const uint8_t id[OFS_ID_LEN],
    const void *stored, size_t storedlen, size_t rawlen_max, struct ofs_buf *out,
    struct ofs_error *err);

/* A stored blob read in pieces, so that a large one never exists whole as plaintext.
 * ofs_blob_stream_open takes the sealed bytes from *stored (left empty), authenticates and
 * decrypts them in place (they stay the only whole copy), with ofs_blob_open's checks and
 * messages; bufmax (0: none) stands for the output buffer's limit ofs_blob_open's caller
 * would give ("larger than the buffer limit"). A zstd payload is then decompressed by
 * ofs_blob_stream_read through a streaming context of the stream's own, whose window is
 * what the frame declares, at most its content size. *out is owned by the caller. */
struct ofs_blob_stream;
int ofs_blob_stream_open(struct ofs_blob_ctx *c, uint8_t type, const uint8_t id[OFS_ID_LEN],
    struct ofs_buf *stored, size_t rawlen_max, size_t bufmax, struct ofs_blob_stream **out,
    struct ofs_error *err);
/* Plaintext bytes in all (the frame's content size, checked at the end). */
uint64_t ofs_blob_stream_size(const struct ofs_blob_stream *s);
/* Up to cap next plaintext bytes into dst; *got 0 only at the end. A damaged frame is
 * OFS_ERR_CORRUPT "blob …: decompression failed", prefixed with the note if one is set. */
int ofs_blob_stream_read(struct ofs_blob_stream *s, uint8_t *dst, size_t cap, size_t *got,
    struct ofs_error *err);
/* Back to the first plaintext byte. */
void ofs_blob_stream_rewind(struct ofs_blob_stream *s);
/* Prefix for read errors (as ofs_err_wrap's: "NOTE: message"), e.g. the file and offset. */
void ofs_blob_stream_note(struct ofs_blob_stream *s, const char *note);
void ofs_blob_stream_free(struct ofs_blob_stream *s);

/* A blob sealed as its raw bytes arrive, which are never whole in memory once past 1 MiB:
 * the id (HMAC) is computed and the bytes compressed (zstd, streaming) as they come; the
 * result is the stored form ofs_blob_seal would give (same modes: raw when compression
 * saves < 3%), read back by ofs_blob_open. Use: new, write…, end (the id, so the caller
 * can skip a duplicate: then just free), seal, free. c must outlive the stream; one
 * thread. Any failure leaves the stream failed: free it. */
struct ofs_blob_sealer;
struct ofs_blob_sealer *ofs_blob_sealer_new(struct ofs_blob_ctx *c, uint8_t type);
void ofs_blob_sealer_free(struct ofs_blob_sealer *bs);
/* Append n raw bytes. OFS_ERR_IO (zstd failed), OFS_ERR_LIMIT (no room). */
int ofs_blob_sealer_write(struct ofs_blob_sealer *bs, const void *p, size_t n,
    struct ofs_error *err);
/* No more bytes: the blob's id and raw length. */
int ofs_blob_sealer_end(struct ofs_blob_sealer *bs, uint8_t id[OFS_ID_LEN], uint64_t *rawlen,
    struct ofs_error *err);
/* Encrypt in place: *stored is the stored blob, a buffer owned by bs (valid until free)
 * whose storage the caller may take by swapping another buffer in (ofs_pack_writer_add_buf
 * does): bs frees whatever it holds then. */
int ofs_blob_sealer_seal(struct ofs_blob_sealer *bs, struct ofs_buf **stored,
    struct ofs_error *err);

#endif
