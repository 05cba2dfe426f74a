/* Blob sealing: zstd (skipped cheaply for incompressible data) then AES-256-GCM bound to the
 * blob's type and id. Stored form: nonce ‖ GCM(mode ‖ payload) ‖ tag. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "blob.h"
#include "log.h"
#include "util.h"

#define BIG_OBJECT (1u << 20)	/* larger sealed objects get exact buffers (blob_open) */
#define MODE_RAW 0
#define MODE_ZSTD 1
#define AAD_LEN (4 + 1 + OFS_ID_LEN)

/* Compressibility probe: above PROBE_FROM bytes, two PROBE_LEN samples (start and middle)
 * are compressed at level 1 first; if they save less than PROBE_SAVE_PCT the blob is stored
 * raw without a full zstd pass. */
#define PROBE_FROM (128u << 10)
#define PROBE_LEN (32u << 10)
#define PROBE_SAVE_PCT 2
#define MIN_SAVE_PCT 3		/* store raw when compression saves less */
/* Smaller blobs that look random (SMALL_DISTINCT or more distinct byte values among their
 * first SMALL_SAMPLE bytes: random data has about 162, text well under 100) are compressed
 * at level SMALL_PROBE_LEVEL first, about 4x cheaper than level 3; saving less than
 * SMALL_PROBE_PCT there, they are stored raw. A server's small files are often already
 * compressed (images, archives), and zstd at level 3 was a fifth of a stage of many small
 * files (issue 16). */
#define SMALL_SAMPLE 256
#define SMALL_DISTINCT 128
#define SMALL_PROBE_LEVEL (-5)
#define SMALL_PROBE_PCT 1
#define COMPRESS_MIN 64		/* smaller blobs are always raw */

struct ofs_blob_ctx {
	ZSTD_CCtx *cc;
	ZSTD_DCtx *dc;
	struct ofs_aead *aead;
	struct ofs_mac *mac;
	int level;
	struct ofs_buf scratch;
};

struct ofs_blob_ctx *
ofs_blob_ctx_new(const struct ofs_keys *k, int zstd_level)
{
	struct ofs_blob_ctx *c = ofs_xcalloc(1, sizeof(*c));

	c->cc = ZSTD_createCCtx();
	c->dc = ZSTD_createDCtx();
	if (c->cc == NULL || c->dc == NULL) {
		ofs_error("out of memory");
		abort();
	}
	c->aead = ofs_aead_new(k->data_key);
	c->mac = ofs_mac_new(k->id_key);
	c->level = zstd_level;
	ofs_buf_init(&c->scratch, 0);
	return c;
}

void
ofs_blob_ctx_free(struct ofs_blob_ctx *c)
{
	if (c == NULL)
		return;
	ZSTD_freeCCtx(c->cc);
	ZSTD_freeDCtx(c->dc);
	ofs_aead_free(c->aead);
	ofs_mac_free(c->mac);
	ofs_buf_release_secret(&c->scratch);	/* held plaintext */
	free(c);
}

void
ofs_blob_id(struct ofs_blob_ctx *c, const void *raw, size_t rawlen, uint8_t id[OFS_ID_LEN])
{
	ofs_mac_compute(c->mac, raw, rawlen, id);
}

const char *
ofs_blob_type_name(uint8_t type)
{
	switch (type) {
	case OFS_BLOB_DATA: return "data";
	case OFS_BLOB_PATCH: return "patch";
	case OFS_BLOB_TREE: return "tree";
	case OFS_OBJ_PACK_HEADER: return "pack header";
	case OFS_OBJ_INDEX: return "index";
	case OFS_OBJ_CONTAINER_INDEX: return "container index";
	case OFS_OBJ_SNAPSHOT: return "snapshot";
	case OFS_OBJ_JOURNAL: return "journal";
	default: return "unknown type";
	}
}

static int
corrupt(struct ofs_error *err, uint8_t type, const uint8_t id[OFS_ID_LEN], const char *why)
{
	char hex[9];

	ofs_hex(id, 4, hex);
	return ofs_err_set(err, OFS_ERR_CORRUPT, "blob %s… (%s): %s", hex, ofs_blob_type_name(type),
	    why);
}

static void
make_aad(uint8_t aad[AAD_LEN], uint8_t type, const uint8_t id[OFS_ID_LEN])
{
	memcpy(aad, "OFB1", 4);
	aad[4] = type;
	memcpy(aad + 5, id, OFS_ID_LEN);
}

/* Cheap test on two samples: 1 if the blob looks worth a full compression pass. When the
 * first sample alone settles it (the second could not come out larger than `bound`), the
 * second is not compressed: same answer, and compressible blobs (most of them in a tree of
 * text) pay for one sample instead of two. */
static int
looks_compressible(struct ofs_blob_ctx *c, const uint8_t *raw, size_t rawlen)
{
	size_t bound = ZSTD_compressBound(PROBE_LEN), got = 0, n;
	const size_t want = (size_t)2 * PROBE_LEN * (100 - PROBE_SAVE_PCT) / 100;
	const uint8_t *sample[2] = { raw, raw + rawlen / 2 };

	if (ofs_buf_reserve(&c->scratch, bound) != 0)
		return 1;
	for (int i = 0; i < 2; i++) {
		n = ZSTD_compressCCtx(c->cc, c->scratch.data, bound, sample[i], PROBE_LEN, 1);
		if (ZSTD_isError(n))
			return 1;
		got += n;
		if (i == 0 && got + bound < want)
			return 1;
	}
	return got < want;
}

/* 1 when raw (≤ PROBE_FROM bytes) looks random and a fast pass into dst (bound bytes)
 * saves under SMALL_PROBE_PCT: store it raw without a full pass at the chosen level. */
static int
small_incompressible(struct ofs_blob_ctx *c, int level, const uint8_t *raw, size_t rawlen,
    uint8_t *dst, size_t bound)
{
	uint8_t seen[256] = { 0 };
	unsigned distinct = 0;
	size_t n;

	if (rawlen < SMALL_SAMPLE || level <= 1)
		return 0;
	for (size_t i = 0; i < SMALL_SAMPLE; i++) {
		distinct += !seen[raw[i]];
		seen[raw[i]] = 1;
	}
	if (distinct < SMALL_DISTINCT)
		return 0;
	n = ZSTD_compressCCtx(c->cc, dst, bound, raw, rawlen, SMALL_PROBE_LEVEL);
	return !ZSTD_isError(n) && n >= rawlen - rawlen * SMALL_PROBE_PCT / 100;
}

/* Room for one sealed blob: exact in an empty buffer (a chunk's own, which would otherwise
 * double past its size), by the usual growth when appending. */
static int
grow(struct ofs_buf *b, size_t n)
{
	/* exact for a first or a large object: doubling growth would hold up to twice it */
	return b->len == 0 || n > BIG_OBJECT ? ofs_buf_reserve_exact(b, n) :
	    ofs_buf_reserve(b, n);
}

int
ofs_blob_seal(struct ofs_blob_ctx *c, uint8_t type, const uint8_t id[OFS_ID_LEN],
    const void *raw, size_t rawlen, int compress, struct ofs_buf *out, struct ofs_error *err)
{
	uint8_t aad[AAD_LEN], mode = MODE_RAW;
	const void *payload = raw;
	size_t plen = rawlen, n;
	int r;

	make_aad(aad, type, id);
	if (compress && rawlen >= COMPRESS_MIN &&
	    (rawlen <= PROBE_FROM || looks_compressible(c, raw, rawlen))) {
		size_t bound = ZSTD_compressBound(rawlen);
		int level = compress == OFS_SEAL_FAST ? 1 : c->level;
		uint8_t *dst;

		/* Compressed straight into out, where it is then encrypted in place: no scratch
		 * copy of the blob (workers kept one of up to 8 MiB each). */
		if (grow(out, 1 + (bound > rawlen ? bound : rawlen) + OFS_AEAD_OVERHEAD) == 0) {
			dst = out->data + out->len + OFS_NONCE_LEN + 1;
			/* One-shot compression records the frame content size, which open checks. */
			if (rawlen <= PROBE_FROM &&
			    small_incompressible(c, level, raw, rawlen, dst, bound))
				n = rawlen;	/* stored raw below */
			else
				n = ZSTD_compressCCtx(c->cc, dst, bound, raw, rawlen, level);
			if (!ZSTD_isError(n) && n < rawlen - rawlen * MIN_SAVE_PCT / 100) {
				mode = MODE_ZSTD;
				payload = dst;
				plen = n;
			}
		}
	}
	if ((r = grow(out, 1 + plen + OFS_AEAD_OVERHEAD)) != 0)
		return corrupt(err, type, id, "sealed blob exceeds its buffer limit");
	if ((r = ofs_aead_seal2(c->aead, aad, sizeof(aad), &mode, 1, payload, plen,
	    out->data + out->len)) != 0)
		return ofs_err_set(err, OFS_ERR_IO, "cannot encrypt blob: AES-GCM failed");
	out->len += 1 + plen + OFS_AEAD_OVERHEAD;
	return 0;
}

int
ofs_blob_open(struct ofs_blob_ctx *c, uint8_t type, const uint8_t id[OFS_ID_LEN],
    const void *stored, size_t storedlen, size_t rawlen_max, struct ofs_buf *out,
    struct ofs_error *err)
{
	uint8_t aad[AAD_LEN], mode;
	size_t plen, bound, n;
	unsigned long long fcs;
	uint8_t *dst;
	int big;

	if (storedlen < 1 + OFS_AEAD_OVERHEAD)
		return corrupt(err, type, id, "too short to be a sealed blob");
	plen = storedlen - 1 - OFS_AEAD_OVERHEAD;
	bound = ZSTD_compressBound(rawlen_max);
	if (ZSTD_isError(bound) || bound < rawlen_max)
		bound = SIZE_MAX;
	if (plen > bound)
		return corrupt(err, type, id, "larger than its expected size");
	/* Decrypt straight into out (no copy for raw blobs); a zstd payload is then moved to
	 * scratch and decompressed back into out. Large objects (index files, catalogs) get
	 * exact buffers, and their scratch copy is not kept: doubling growth held up to twice
	 * each, and the scratch stayed allocated for the context's life. */
	big = plen > BIG_OBJECT;
	if ((big ? ofs_buf_reserve_exact(out, plen) : ofs_buf_reserve(out, plen)) != 0)
		return corrupt(err, type, id, "larger than the buffer limit");
	dst = out->data + out->len;
	make_aad(aad, type, id);
	if (ofs_aead_open2(c->aead, aad, sizeof(aad), stored, storedlen, &mode, 1, dst) != 0)
		return corrupt(err, type, id, "authentication failed (damaged, or not this blob)");
	if (mode == MODE_RAW) {
		if (plen > rawlen_max)
			return corrupt(err, type, id, "larger than its expected size");
		out->len += plen;
		return 0;
	}
	if (mode != MODE_ZSTD)
		return corrupt(err, type, id, "unknown compression mode");
	ofs_buf_reset(&c->scratch);	/* and unmarked: a refused blob before must not fail this one */
	if ((big && ofs_buf_reserve_exact(&c->scratch, plen) != 0) ||
	    ofs_buf_add(&c->scratch, dst, plen) != 0)
		return corrupt(err, type, id, "too large");
	fcs = ZSTD_getFrameContentSize(c->scratch.data, plen);
	if (fcs == ZSTD_CONTENTSIZE_ERROR || fcs == ZSTD_CONTENTSIZE_UNKNOWN || fcs > rawlen_max)
		return corrupt(err, type, id, "bad or oversized compressed frame");
	if (ZSTD_findFrameCompressedSize(c->scratch.data, plen) != plen)
		return corrupt(err, type, id, "trailing bytes after the compressed frame");
	if ((big ? ofs_buf_reserve_exact(out, (size_t)fcs) : ofs_buf_reserve(out, (size_t)fcs)) != 0)
		return corrupt(err, type, id, "larger than the buffer limit");
	n = ZSTD_decompressDCtx(c->dc, out->data + out->len, (size_t)fcs, c->scratch.data, plen);
	if (big)
		ofs_buf_release_secret(&c->scratch);
	if (ZSTD_isError(n) || n != fcs)
		return corrupt(err, type, id, "decompression failed");
	out->len += n;
	return 0;
}

/* ---- a stored blob read in pieces ---- */

struct ofs_blob_stream {
	uint8_t type, id[OFS_ID_LEN];
	struct ofs_buf stored;		/* the sealed bytes, decrypted in place */
	const uint8_t *payload;		/* inside stored: mode byte skipped */
	size_t plen;
	int zstd;
	uint64_t size;			/* plaintext bytes */
	ZSTD_DCtx *dc;			/* own: several streams may be open on one thread */
	ZSTD_inBuffer in;
	uint64_t produced;
	int done;
	char note[200];			/* prefix for read errors ("" for none) */
};

uint64_t
ofs_blob_stream_size(const struct ofs_blob_stream *s)
{
	return s->size;
}

void
ofs_blob_stream_note(struct ofs_blob_stream *s, const char *note)
{
	snprintf(s->note, sizeof(s->note), "%s", note);
}

void
ofs_blob_stream_free(struct ofs_blob_stream *s)
{
	if (s == NULL)
		return;
	ZSTD_freeDCtx(s->dc);
	ofs_buf_release_secret(&s->stored);	/* held plaintext */
	free(s);
}

void
ofs_blob_stream_rewind(struct ofs_blob_stream *s)
{
	if (s->dc != NULL)
		ZSTD_DCtx_reset(s->dc, ZSTD_reset_session_only);
	s->in.src = s->payload;
	s->in.size = s->plen;
	s->in.pos = 0;
	s->produced = 0;
	s->done = 0;
}

/* The checks and messages of ofs_blob_open, in its order, on bytes decrypted in place. */
int
ofs_blob_stream_open(struct ofs_blob_ctx *c, uint8_t type, const uint8_t id[OFS_ID_LEN],
    struct ofs_buf *stored, size_t rawlen_max, size_t bufmax, struct ofs_blob_stream **out,
    struct ofs_error *err)
{
	struct ofs_blob_stream *s = ofs_xcalloc(1, sizeof(*s));
	uint8_t aad[AAD_LEN], mode;
	unsigned long long fcs;
	size_t bound;
	int r;

	*out = NULL;
	s->type = type;
	memcpy(s->id, id, OFS_ID_LEN);
	s->stored = *stored;
	ofs_buf_init(stored, stored->max);	/* transferred */
	if (s->stored.len < 1 + OFS_AEAD_OVERHEAD) {
		r = corrupt(err, type, id, "too short to be a sealed blob");
		goto out;
	}
	s->plen = s->stored.len - 1 - OFS_AEAD_OVERHEAD;
	bound = ZSTD_compressBound(rawlen_max);
	if (ZSTD_isError(bound) || bound < rawlen_max)
		bound = SIZE_MAX;
	if (s->plen > bound) {
		r = corrupt(err, type, id, "larger than its expected size");
		goto out;
	}
	if (bufmax != 0 && s->plen > bufmax) {
		r = corrupt(err, type, id, "larger than the buffer limit");
		goto out;
	}
	/* GCM decrypts in place: the payload lands where its ciphertext was. */
	s->payload = s->stored.data + OFS_NONCE_LEN + 1;
	make_aad(aad, type, id);
	if (ofs_aead_open2(c->aead, aad, sizeof(aad), s->stored.data, s->stored.len, &mode, 1,
	    s->stored.data + OFS_NONCE_LEN + 1) != 0) {
		r = corrupt(err, type, id, "authentication failed (damaged, or not this blob)");
		goto out;
	}
	if (mode == MODE_RAW) {
		if (s->plen > rawlen_max) {
			r = corrupt(err, type, id, "larger than its expected size");
			goto out;
		}
		s->size = s->plen;
	} else if (mode != MODE_ZSTD) {
		r = corrupt(err, type, id, "unknown compression mode");
		goto out;
	} else {
		fcs = ZSTD_getFrameContentSize(s->payload, s->plen);
		if (fcs == ZSTD_CONTENTSIZE_ERROR || fcs == ZSTD_CONTENTSIZE_UNKNOWN ||
		    fcs > rawlen_max) {
			r = corrupt(err, type, id, "bad or oversized compressed frame");
			goto out;
		}
		if (ZSTD_findFrameCompressedSize(s->payload, s->plen) != s->plen) {
			r = corrupt(err, type, id, "trailing bytes after the compressed frame");
			goto out;
		}
		if (bufmax != 0 && fcs > bufmax) {
			r = corrupt(err, type, id, "larger than the buffer limit");
			goto out;
		}
		s->zstd = 1;
		s->size = fcs;
		if ((s->dc = ZSTD_createDCtx()) == NULL) {
			ofs_error("out of memory");
			abort();
		}
	}
	ofs_blob_stream_rewind(s);
	*out = s;
	s = NULL;	/* transferred */
	r = 0;
out:
	ofs_blob_stream_free(s);
	return r;
}

static int
stream_bad(struct ofs_blob_stream *s, struct ofs_error *err)
{
	int r = corrupt(err, s->type, s->id, "decompression failed");

	if (s->note[0] != '\0')
		ofs_err_wrap(err, "%s", s->note);
	return r;
}

int
ofs_blob_stream_read(struct ofs_blob_stream *s, uint8_t *dst, size_t cap, size_t *got,
    struct ofs_error *err)
{
	ZSTD_outBuffer o = { dst, cap, 0 };
	size_t n;

	*got = 0;
	if (!s->zstd) {
		n = s->in.size - s->in.pos < cap ? s->in.size - s->in.pos : cap;
		memcpy(dst, s->payload + s->in.pos, n);
		s->in.pos += n;
		*got = n;
		return 0;
	}
	/* Until cap is filled or the frame ends: zstd may return having consumed input but
	 * produced nothing yet. */
	while (!s->done && o.pos < o.size) {
		n = ZSTD_decompressStream(s->dc, &o, &s->in);
		if (ZSTD_isError(n) || s->produced + o.pos > s->size)
			return stream_bad(s, err);
		if (n == 0)
			s->done = 1;
		else if (s->in.pos == s->in.size && o.pos < o.size)
			return stream_bad(s, err);	/* input ends inside the frame */
	}
	s->produced += o.pos;
	if (s->done && (s->produced != s->size || s->in.pos != s->in.size))
		return stream_bad(s, err);
	*got = o.pos;
	return 0;
}

/* ---- a blob sealed as it is written ---- */

/* Raw bytes are kept whole up to STREAM_FROM and then sealed as ofs_blob_seal would (most
 * trees are small, and a compressor per open directory would cost more than their JSON).
 * Past it the bytes stream through zstd into out, behind room for the nonce and mode byte
 * and FCS_GAP bytes for the frame content size, which a streaming frame cannot write in
 * its header but blob_open requires: the header is moved into the gap at the end. */
#define STREAM_FROM (1u << 20)
#define STREAM_WINDOW_LOG 20	/* 1 MiB window: the repeated keys of a tree are near */
#define FCS_GAP 8
#define PREFIX (OFS_NONCE_LEN + 1)

struct ofs_blob_sealer {
	struct ofs_blob_ctx *c;
	uint8_t type;
	struct ofs_buf raw;	/* the bytes so far, until STREAM_FROM */
	struct ofs_buf out;	/* nonce ‖ mode ‖ zstd frame; once sealed, the stored form */
	ZSTD_CCtx *cc;		/* streaming (NULL while raw holds everything) */
	struct ofs_mac *mac;	/* the id, streaming */
	uint64_t rawlen;
	uint8_t id[OFS_ID_LEN];
	int ended, sealed, failed;
};

struct ofs_blob_sealer *
ofs_blob_sealer_new(struct ofs_blob_ctx *c, uint8_t type)
{
	struct ofs_blob_sealer *bs = ofs_xcalloc(1, sizeof(*bs));

	bs->c = c;
	bs->type = type;
	ofs_buf_init(&bs->raw, 0);
	ofs_buf_init(&bs->out, 0);
	return bs;
}

void
ofs_blob_sealer_free(struct ofs_blob_sealer *bs)
{
	if (bs == NULL)
		return;
	ZSTD_freeCCtx(bs->cc);
	ofs_mac_free(bs->mac);
	ofs_buf_release_secret(&bs->raw);
	ofs_buf_release_secret(&bs->out);	/* plaintext until sealed */
	free(bs);
}

static int
stream_fail(struct ofs_blob_sealer *bs, struct ofs_error *err, int code, const char *why)
{
	bs->failed = 1;
	return ofs_err_set(err, code, "cannot seal a %s blob of %llu bytes: %s",
	    ofs_blob_type_name(bs->type), (unsigned long long)bs->rawlen, why);
}

/* Room for the compressor's next output: a quarter more at a time, exactly (doubling
 * would hold up to twice the compressed blob). */
static int
out_room(struct ofs_buf *b, size_t want)
{
	if (b->cap > b->len && b->cap - b->len - 1 >= want)
		return 0;
	return ofs_buf_reserve_exact(b, want + b->len / 4);
}

/* Compress n bytes of p into out (op ZSTD_e_end: and end the frame). */
static int
stream_feed(struct ofs_blob_sealer *bs, const void *p, size_t n, ZSTD_EndDirective op,
    struct ofs_error *err)
{
	ZSTD_inBuffer in = { p, n, 0 };
	size_t left;

	do {
		ZSTD_outBuffer o;

		if (out_room(&bs->out, ZSTD_CStreamOutSize()) != 0)
			return stream_fail(bs, err, OFS_ERR_LIMIT, "its buffer is full");
		o.dst = bs->out.data + bs->out.len;
		o.size = bs->out.cap - bs->out.len - 1;	/* ofs_buf keeps a spare byte */
		o.pos = 0;
		left = ZSTD_compressStream2(bs->cc, &o, &in, op);
		if (ZSTD_isError(left))
			return stream_fail(bs, err, OFS_ERR_IO, ZSTD_getErrorName(left));
		bs->out.len += o.pos;
	} while (op == ZSTD_e_end ? left != 0 : in.pos < in.size);
	return 0;
}

/* Past STREAM_FROM: start the compressor and the id, and send it what raw held. */
static int
stream_start(struct ofs_blob_sealer *bs, struct ofs_error *err)
{
	int r;

	if ((bs->cc = ZSTD_createCCtx()) == NULL) {
		ofs_error("out of memory");
		abort();
	}
	if (ZSTD_isError(ZSTD_CCtx_setParameter(bs->cc, ZSTD_c_compressionLevel, bs->c->level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(bs->cc, ZSTD_c_windowLog, STREAM_WINDOW_LOG)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(bs->cc, ZSTD_c_checksumFlag, 0)))
		return stream_fail(bs, err, OFS_ERR_IO, "cannot set up zstd");
	bs->mac = ofs_mac_dup(bs->c->mac);
	ofs_mac_start(bs->mac);
	ofs_mac_update(bs->mac, bs->raw.data, bs->raw.len);
	if (ofs_buf_add_zeros(&bs->out, PREFIX + FCS_GAP) != 0)
		return stream_fail(bs, err, OFS_ERR_LIMIT, "its buffer is full");
	r = stream_feed(bs, bs->raw.data, bs->raw.len, ZSTD_e_continue, err);
	ofs_buf_release_secret(&bs->raw);
	return r;
}

int
ofs_blob_sealer_write(struct ofs_blob_sealer *bs, const void *p, size_t n,
    struct ofs_error *err)
{
	int r;

	if (bs->failed || bs->ended)
		return stream_fail(bs, err, OFS_ERR_IO, bs->failed ?
		    "internal error: written after a failure" : "internal error: written after its end");
	if (n == 0)
		return 0;
	bs->rawlen += n;
	if (bs->cc == NULL && bs->raw.len + n <= STREAM_FROM) {
		if (ofs_buf_add(&bs->raw, p, n) != 0)
			return stream_fail(bs, err, OFS_ERR_LIMIT, "its buffer is full");
		return 0;
	}
	if (bs->cc == NULL && (r = stream_start(bs, err)) != 0)
		return r;
	ofs_mac_update(bs->mac, p, n);
	return stream_feed(bs, p, n, ZSTD_e_continue, err);
}

/* Write the content size into the finished frame's header: a streamed frame has none
 * (magic, descriptor without size or dictionary, window byte: 6 bytes), so the header
 * moves FCS_GAP bytes back into the gap with an 8-byte size added after it (descriptor
 * bits 7-6 = 3): the blocks stay where they are. */
static int
frame_set_size(struct ofs_blob_sealer *bs, struct ofs_error *err)
{
	uint8_t *f = bs->out.data + PREFIX + FCS_GAP, fhd;
	size_t flen = bs->out.len - PREFIX - FCS_GAP;

	if (flen < 6 || ofs_get_u32le(f) != ZSTD_MAGICNUMBER)
		return stream_fail(bs, err, OFS_ERR_IO, "zstd wrote no frame header");
	/* zstd writes a size only when the first call already ends the frame, which
	 * stream_start never makes */
	if ((f[4] & 0xe3) != 0)
		return stream_fail(bs, err, OFS_ERR_IO, "zstd wrote an unexpected frame header");
	fhd = f[4];
	memmove(f - FCS_GAP, f, 6);
	f -= FCS_GAP;
	f[4] = fhd | 0xc0;
	ofs_put_u64le(f + 6, bs->rawlen);
	flen += FCS_GAP;	/* the frame fills the gap and ends where it ended */
	if (ZSTD_getFrameContentSize(f, flen) != bs->rawlen ||
	    ZSTD_findFrameCompressedSize(f, flen) != flen)
		return stream_fail(bs, err, OFS_ERR_IO, "its zstd frame does not check out");
	return 0;
}

int
ofs_blob_sealer_end(struct ofs_blob_sealer *bs, uint8_t id[OFS_ID_LEN], uint64_t *rawlen,
    struct ofs_error *err)
{
	int r;

	if (bs->failed || bs->ended)
		return stream_fail(bs, err, OFS_ERR_IO, bs->failed ?
		    "internal error: ended after a failure" : "internal error: ended twice");
	if (bs->cc == NULL) {
		ofs_blob_id(bs->c, bs->raw.data, bs->raw.len, bs->id);
	} else {
		if ((r = stream_feed(bs, NULL, 0, ZSTD_e_end, err)) != 0 ||
		    (r = frame_set_size(bs, err)) != 0)
			return r;
		ofs_mac_final(bs->mac, bs->id);
		ZSTD_freeCCtx(bs->cc);	/* its window and tables, before the blob is copied */
		bs->cc = NULL;
	}
	bs->ended = 1;
	memcpy(id, bs->id, OFS_ID_LEN);
	*rawlen = bs->rawlen;
	return 0;
}

/* Compression saved too little (MIN_SAVE_PCT, as ofs_blob_seal decides): the raw bytes,
 * which only the frame still holds, replace it. */
static int
stream_to_raw(struct ofs_blob_sealer *bs, struct ofs_error *err)
{
	struct ofs_buf rb = OFS_BUF_INIT(0);
	size_t n;

	if (bs->rawlen > SIZE_MAX - PREFIX - OFS_TAG_LEN ||
	    ofs_buf_reserve_exact(&rb, PREFIX + (size_t)bs->rawlen + OFS_TAG_LEN) != 0)
		return stream_fail(bs, err, OFS_ERR_LIMIT, "too large");
	n = ZSTD_decompressDCtx(bs->c->dc, rb.data + PREFIX, (size_t)bs->rawlen,
	    bs->out.data + PREFIX, bs->out.len - PREFIX);
	if (ZSTD_isError(n) || n != bs->rawlen) {
		ofs_buf_release_secret(&rb);
		return stream_fail(bs, err, OFS_ERR_IO, "its zstd frame does not decompress");
	}
	rb.len = PREFIX + n;
	ofs_buf_release_secret(&bs->out);
	bs->out = rb;	/* transferred */
	return 0;
}

int
ofs_blob_sealer_seal(struct ofs_blob_sealer *bs, struct ofs_buf **stored,
    struct ofs_error *err)
{
	uint8_t aad[AAD_LEN], mode = MODE_ZSTD;
	size_t plen;
	int r;

	*stored = NULL;
	if (!bs->ended || bs->sealed || bs->failed)
		return stream_fail(bs, err, OFS_ERR_IO, "internal error: sealed out of turn");
	if (bs->mac == NULL) {	/* it stayed small: the one-shot seal */
		if ((r = ofs_blob_seal(bs->c, bs->type, bs->id, bs->raw.data, bs->raw.len, 1,
		    &bs->out, err)) != 0)
			return r;
		ofs_buf_release_secret(&bs->raw);
	} else {
		plen = bs->out.len - PREFIX;
		if (plen >= bs->rawlen - bs->rawlen * MIN_SAVE_PCT / 100) {
			if ((r = stream_to_raw(bs, err)) != 0)
				return r;
			mode = MODE_RAW;
			plen = bs->out.len - PREFIX;
		}
		if (out_room(&bs->out, OFS_TAG_LEN) != 0)
			return stream_fail(bs, err, OFS_ERR_LIMIT, "its buffer is full");
		make_aad(aad, bs->type, bs->id);
		/* in place: the payload is encrypted where it lies, behind the nonce */
		if (ofs_aead_seal2(bs->c->aead, aad, sizeof(aad), &mode, 1,
		    bs->out.data + PREFIX, plen, bs->out.data) != 0)
			return stream_fail(bs, err, OFS_ERR_IO, "AES-GCM failed");
		bs->out.len = PREFIX + plen + OFS_TAG_LEN;
	}
	bs->sealed = 1;
	*stored = &bs->out;
	return 0;
}
