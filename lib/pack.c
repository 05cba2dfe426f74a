/* Pack building and parsing: stored blobs back to back, the sealed header listing them, and
 * the header's length as the last four bytes. */
#include <string.h>

#include "pack.h"
#include "util.h"

#define HEADER_RAW_MAX (4 + (size_t)OFS_PACK_MAX_BLOBS * OFS_PACK_ENTRY_SIZE)
#define BLOB_STORED_MIN (1 + OFS_AEAD_OVERHEAD)

void
ofs_pack_writer_init(struct ofs_pack_writer *w)
{
	memset(w, 0, sizeof(*w));
	ofs_buf_init(&w->data, 0);
}

void
ofs_pack_writer_release(struct ofs_pack_writer *w)
{
	ofs_buf_release(&w->data);
	free(w->entries);
	w->entries = NULL;
	w->n = w->cap = 0;
}

void
ofs_pack_writer_reset(struct ofs_pack_writer *w)
{
	ofs_buf_reset(&w->data);
	w->n = 0;
}

/* The entry for a blob of storedlen bytes about to be appended at w->data.len. */
static void
entry_add(struct ofs_pack_writer *w, uint8_t type, const uint8_t id[OFS_ID_LEN],
    size_t storedlen, uint32_t rawlen)
{
	struct ofs_pack_entry *e;

	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		w->entries = ofs_xreallocarray(w->entries, w->cap, sizeof(*w->entries));
	}
	e = &w->entries[w->n++];
	e->type = type;
	memcpy(e->id, id, OFS_ID_LEN);
	e->offset = (uint32_t)w->data.len;
	e->stored_len = (uint32_t)storedlen;
	e->raw_len = rawlen;
}

void
ofs_pack_writer_add(struct ofs_pack_writer *w, uint8_t type, const uint8_t id[OFS_ID_LEN],
    const void *stored, size_t storedlen, uint32_t rawlen)
{
	entry_add(w, type, id, storedlen, rawlen);
	if (ofs_buf_add(&w->data, stored, storedlen) != 0)
		abort();	/* unbounded buffer: cannot happen */
}

int
ofs_pack_writer_add_buf(struct ofs_pack_writer *w, uint8_t type, const uint8_t id[OFS_ID_LEN],
    struct ofs_buf *stored, uint32_t rawlen)
{
	struct ofs_buf mine;

	if (w->n > 0 || w->data.len > 0 || stored->max != 0) {
		ofs_pack_writer_add(w, type, id, stored->data, stored->len, rawlen);
		return 0;
	}
	entry_add(w, type, id, stored->len, rawlen);
	mine = w->data;
	w->data = *stored;	/* transferred: the blob is the pack's first bytes */
	*stored = mine;
	return 1;
}

int
ofs_pack_tail_build(struct ofs_blob_ctx *c, const struct ofs_pack_entry *entries, size_t n,
    uint8_t pack_id[OFS_ID_LEN], struct ofs_buf *out, struct ofs_error *err)
{
	struct ofs_buf hdr = OFS_BUF_INIT(0);
	size_t before = out->len;
	int r;

	if (n > OFS_PACK_MAX_BLOBS)
		return ofs_err_set(err, OFS_ERR_IO, "pack too large (%zu blobs)", n);
	ofs_random(pack_id, OFS_ID_LEN);
	/* hdr is unbounded (at most OFS_PACK_MAX_BLOBS entries): checked once */
	ofs_buf_put_u32le(&hdr, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		const struct ofs_pack_entry *e = &entries[i];

		ofs_buf_putc(&hdr, e->type);
		ofs_buf_put(&hdr, e->id, OFS_ID_LEN);
		ofs_buf_put_u32le(&hdr, e->stored_len);
		ofs_buf_put_u32le(&hdr, e->raw_len);
	}
	if ((r = ofs_buf_check(&hdr)) != 0)
		r = ofs_err_set(err, r, "pack header of %zu blobs is too large", n);
	else
		r = ofs_blob_seal(c, OFS_OBJ_PACK_HEADER, pack_id, hdr.data, hdr.len, 1, out,
		    err);
	if (r == 0 && (r = ofs_buf_add_u32le(out, (uint32_t)(out->len - before))) != 0)
		r = ofs_err_set(err, r, "pack tail does not fit in %zu bytes", out->max);
	ofs_buf_release(&hdr);
	return r;
}

int
ofs_pack_writer_finish(struct ofs_pack_writer *w, struct ofs_blob_ctx *c,
    uint8_t pack_id[OFS_ID_LEN], struct ofs_error *err)
{
	if (w->data.len > UINT32_MAX)
		return ofs_err_set(err, OFS_ERR_IO, "pack too large (%zu blobs, %zu bytes)", w->n,
		    w->data.len);
	return ofs_pack_tail_build(c, w->entries, w->n, pack_id, &w->data, err);
}

static int
pack_corrupt(struct ofs_error *err, const uint8_t id[OFS_ID_LEN], uint64_t off, const char *why)
{
	char hex[9];

	ofs_hex(id, 4, hex);
	return ofs_err_set(err, OFS_ERR_CORRUPT, "pack %s…: %s (at offset %llu)", hex, why,
	    (unsigned long long)off);
}

int
ofs_pack_parse(struct ofs_blob_ctx *c, const uint8_t pack_id[OFS_ID_LEN], const uint8_t *tail,
    size_t tail_len, uint64_t pack_len, struct ofs_pack_entry **entries, size_t *n, size_t *need,
    struct ofs_error *err)
{
	struct ofs_buf plain = OFS_BUF_INIT(HEADER_RAW_MAX);
	struct ofs_pack_entry *ents = NULL;
	struct ofs_rd rd;
	uint64_t hlen, hoff, sum = 0;
	uint32_t count;
	int r;

	*entries = NULL;
	*n = 0;
	if (need != NULL)
		*need = 0;
	if (tail_len < 4 || pack_len < 4 || tail_len > pack_len) {
		r = pack_corrupt(err, pack_id, 0, "too short to be a pack");
		goto out;
	}
	hlen = ofs_get_u32le(tail + tail_len - 4);
	if (hlen > pack_len - 4 || hlen < BLOB_STORED_MIN) {
		r = pack_corrupt(err, pack_id, pack_len - 4, "bad header length");
		goto out;
	}
	hoff = pack_len - 4 - hlen;
	if (hlen + 4 > tail_len) {
		if (need != NULL)
			*need = (size_t)hlen + 4;
		r = OFS_ERR_NOTFOUND;
		ofs_err_set(err, r, "pack header needs the last %llu bytes",
		    (unsigned long long)hlen + 4);
		goto out;
	}
	if (hoff > UINT32_MAX) {
		r = pack_corrupt(err, pack_id, hoff, "blob area larger than 4 GiB");
		goto out;
	}
	if ((r = ofs_blob_open(c, OFS_OBJ_PACK_HEADER, pack_id, tail + tail_len - 4 - hlen,
	    (size_t)hlen, HEADER_RAW_MAX, &plain, err)) != 0) {
		ofs_err_wrap(err, "pack header at offset %llu", (unsigned long long)hoff);
		goto out;
	}
	ofs_rd_init(&rd, plain.data, plain.len);
	count = ofs_rd_u32le(&rd);
	if (!ofs_rd_ok(&rd) || count > OFS_PACK_MAX_BLOBS ||
	    ofs_rd_left(&rd) != (size_t)count * OFS_PACK_ENTRY_SIZE) {
		r = pack_corrupt(err, pack_id, hoff, "header entry count does not match its length");
		goto out;
	}
	ents = ofs_xcalloc(count ? count : 1, sizeof(*ents));
	for (uint32_t i = 0; i < count; i++) {
		struct ofs_pack_entry *e = &ents[i];

		e->type = ofs_rd_u8(&rd);
		ofs_rd_bytes(&rd, e->id, OFS_ID_LEN);
		e->stored_len = ofs_rd_u32le(&rd);
		e->raw_len = ofs_rd_u32le(&rd);
		e->offset = (uint32_t)sum;
		if (e->stored_len < BLOB_STORED_MIN) {
			r = pack_corrupt(err, pack_id, sum, "blob shorter than a sealed blob");
			goto out;
		}
		sum += e->stored_len;
		if (sum > hoff) {
			r = pack_corrupt(err, pack_id, e->offset, "blobs overlap the pack header");
			goto out;
		}
	}
	if (!ofs_rd_ok(&rd) || sum != hoff) {
		r = pack_corrupt(err, pack_id, sum, "blobs do not fill the pack up to its header");
		goto out;
	}
	*entries = ents;
	*n = count;
	ents = NULL;	/* transferred */
	r = 0;
out:
	free(ents);
	ofs_buf_release(&plain);
	return r;
}
