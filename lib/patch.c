/* Patch chunks (FORMAT.md section 9.1): parse, rebuild and write them; and the 64 KiB block
 * hashes a backup compares with the seed's to find the ranges a new chunk can copy. */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>
#include <xxh_x86dispatch.h>	/* libxxhash's SSE2/AVX2/AVX-512 dispatch: 4x in cache here */

#include "patch.h"
#include "util.h"

int
ofs_patch_parse(const uint8_t *p, size_t n, size_t rawlen, struct ofs_patch *pt,
    struct ofs_error *err)
{
	struct ofs_rd rd;
	uint64_t lit = 0, out = 0;

	memset(pt, 0, sizeof(*pt));
	ofs_rd_init(&rd, p, n);
	pt->nbases = ofs_rd_u8(&rd);
	if (!ofs_rd_ok(&rd) || pt->nbases == 0 || pt->nbases > OFS_PATCH_MAX_BASES)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "patch: base count %u at offset 0 is not "
		    "1…%d", pt->nbases, OFS_PATCH_MAX_BASES);
	pt->bases = ofs_rd_ptr(&rd, (size_t)pt->nbases * OFS_ID_LEN);
	pt->nops = ofs_rd_u32le(&rd);
	if (!ofs_rd_ok(&rd) || pt->nops == 0 || pt->nops > ofs_rd_left(&rd) / OFS_PATCH_OP_SIZE)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "patch: op count at offset %zu does not "
		    "fit the %zu bytes", 1 + (size_t)pt->nbases * OFS_ID_LEN, n);
	pt->ops = ofs_rd_ptr(&rd, (size_t)pt->nops * OFS_PATCH_OP_SIZE);
	for (uint32_t i = 0; i < pt->nops; i++) {
		const uint8_t *op = pt->ops + (size_t)i * OFS_PATCH_OP_SIZE;
		size_t at = (size_t)(op - p);
		uint32_t off = ofs_get_u32le(op + 1), len = ofs_get_u32le(op + 5);

		if (len == 0)
			return ofs_err_set(err, OFS_ERR_CORRUPT, "patch: op %u at offset %zu has "
			    "length 0", i, at);
		if (op[0] == OFS_PATCH_LITERAL) {
			if (off != 0)
				return ofs_err_set(err, OFS_ERR_CORRUPT, "patch: literal op %u at "
				    "offset %zu has offset %u (must be 0)", i, at, off);
			lit += len;
		} else if (op[0] >= pt->nbases) {
			return ofs_err_set(err, OFS_ERR_CORRUPT, "patch: op %u at offset %zu names "
			    "base %u of %u", i, at, op[0], pt->nbases);
		}
		out += len;
		if (out > rawlen)
			return ofs_err_set(err, OFS_ERR_CORRUPT, "patch: op %u at offset %zu passes "
			    "the chunk length %zu", i, at, rawlen);
	}
	if (out != rawlen)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "patch: ops give %llu bytes, the chunk "
		    "has %zu", (unsigned long long)out, rawlen);
	if (lit != ofs_rd_left(&rd))
		return ofs_err_set(err, OFS_ERR_CORRUPT, "patch: literal ops need %llu bytes, "
		    "%zu follow at offset %zu", (unsigned long long)lit, ofs_rd_left(&rd), rd.off);
	pt->lit = ofs_rd_ptr(&rd, (size_t)lit);
	pt->litlen = (size_t)lit;
	pt->outlen = out;
	return 0;
}

int
ofs_patch_apply(const struct ofs_patch *pt, ofs_patch_fetch_fn fetch, void *arg,
    struct ofs_buf *out, struct ofs_error *err)
{
	struct ofs_buf base[OFS_PATCH_MAX_BASES];
	const uint8_t *lit = pt->lit;
	char hex[2 * OFS_ID_LEN + 1];
	int r = 0;

	for (int i = 0; i < pt->nbases; i++)
		ofs_buf_init(&base[i], 0);
	if (ofs_buf_reserve(out, (size_t)pt->outlen) != 0) {	/* outlen is outside bytes */
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "patch: chunk of %llu bytes does not fit",
		    (unsigned long long)pt->outlen);
		goto out;
	}
	for (int i = 0; i < pt->nbases; i++)
		if ((r = fetch(arg, pt->bases + (size_t)i * OFS_ID_LEN, &base[i], err)) != 0) {
			ofs_hex(pt->bases + (size_t)i * OFS_ID_LEN, OFS_ID_LEN, hex);
			ofs_err_wrap(err, "base %.16s… of a patch", hex);
			goto out;
		}
	for (uint32_t i = 0; i < pt->nops; i++) {
		const uint8_t *op = pt->ops + (size_t)i * OFS_PATCH_OP_SIZE;
		uint32_t off = ofs_get_u32le(op + 1), len = ofs_get_u32le(op + 5);

		if (op[0] == OFS_PATCH_LITERAL) {
			ofs_buf_put(out, lit, len);	/* within outlen, reserved above */
			lit += len;
			continue;
		}
		if ((uint64_t)off + len > base[op[0]].len) {
			ofs_hex(pt->bases + (size_t)op[0] * OFS_ID_LEN, OFS_ID_LEN, hex);
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "patch: op %u copies %u bytes at %u of "
			    "base %.16s…, which has %zu", i, len, off, hex, base[op[0]].len);
			goto out;
		}
		ofs_buf_put(out, base[op[0]].data + off, len);
	}
	if (ofs_buf_check(out) != 0)	/* cannot fail: the ops sum to outlen */
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "patch: chunk of %llu bytes does not fit",
		    (unsigned long long)pt->outlen);
out:
	for (int i = 0; i < pt->nbases; i++)
		ofs_buf_release_secret(&base[i]);
	return r;
}

void
ofs_patch_writer_init(struct ofs_patch_writer *w)
{
	memset(w, 0, sizeof(*w));
	ofs_buf_init(&w->ops, 0);
	ofs_buf_init(&w->lit, 0);
	w->last_base = -1;
}

void
ofs_patch_writer_reset(struct ofs_patch_writer *w)
{
	w->nbases = 0;
	ofs_buf_reset(&w->ops);
	ofs_buf_reset(&w->lit);
	w->nops = 0;
	w->last_base = -1;
	w->last_end = 0;
	w->outlen = w->litlen = 0;
}

void
ofs_patch_writer_release(struct ofs_patch_writer *w)
{
	ofs_buf_release(&w->ops);
	ofs_buf_release_secret(&w->lit);
	ofs_patch_writer_init(w);
}

/* Grow the last op by len when it continues, else add one. */
static void
add_op(struct ofs_patch_writer *w, int base, uint32_t off, uint32_t len)
{
	uint8_t *last = w->nops ? w->ops.data + w->ops.len - OFS_PATCH_OP_SIZE : NULL;

	if (last != NULL && w->last_base == base &&
	    (base == OFS_PATCH_LITERAL || w->last_end == off) &&
	    (uint64_t)ofs_get_u32le(last + 5) + len <= UINT32_MAX) {
		ofs_put_u32le(last + 5, ofs_get_u32le(last + 5) + len);
	} else {
		/* ops and lit are unbounded; ofs_patch_finish checks them */
		ofs_buf_putc(&w->ops, (uint8_t)base);
		ofs_buf_put_u32le(&w->ops, off);
		ofs_buf_put_u32le(&w->ops, len);
		w->nops++;
	}
	w->last_base = base;
	w->last_end = off + len;
	w->outlen += len;
}

int
ofs_patch_copy(struct ofs_patch_writer *w, const uint8_t id[OFS_ID_LEN], uint32_t off,
    uint32_t len)
{
	int b;

	for (b = 0; b < w->nbases; b++)
		if (memcmp(w->bases[b], id, OFS_ID_LEN) == 0)
			break;
	if (b == w->nbases) {
		if (w->nbases == OFS_PATCH_MAX_BASES)
			return -1;
		memcpy(w->bases[w->nbases++], id, OFS_ID_LEN);
	}
	add_op(w, b, off, len);
	return 0;
}

void
ofs_patch_literal(struct ofs_patch_writer *w, const void *p, size_t len)
{
	while (len > 0) {
		uint32_t n = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;

		add_op(w, OFS_PATCH_LITERAL, 0, n);
		ofs_buf_put(&w->lit, p, n);
		w->litlen += n;
		p = (const uint8_t *)p + n;
		len -= n;
	}
}

int
ofs_patch_finish(const struct ofs_patch_writer *w, struct ofs_buf *out)
{
	int r;

	if ((r = ofs_buf_check(&w->ops)) != 0 || (r = ofs_buf_check(&w->lit)) != 0)
		return r;
	ofs_buf_putc(out, (uint8_t)w->nbases);
	ofs_buf_put(out, w->bases, (size_t)w->nbases * OFS_ID_LEN);
	ofs_buf_put_u32le(out, w->nops);
	ofs_buf_put(out, w->ops.data, w->ops.len);
	ofs_buf_put(out, w->lit.data, w->lit.len);
	return ofs_buf_check(out);
}

/* ---- block hashes ------------------------------------------------------------------ */

void
ofs_blocks_init(struct ofs_blocks *b, const uint8_t secret[OFS_BLOCK_SECRET_LEN])
{
	memset(b, 0, sizeof(*b));
	b->secret = secret;
}

static void
push_hash(struct ofs_blocks *b, uint64_t h)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 64;
		b->h = ofs_xreallocarray(b->h, b->cap, sizeof(*b->h));
	}
	b->h[b->n++] = h;
}

void
ofs_blocks_probe(struct ofs_blocks *b, uint64_t block, size_t len)
{
	b->probe_block = block;
	b->probe_len = len;
}

void
ofs_blocks_update(struct ofs_blocks *b, const void *p, size_t n)
{
	const uint8_t *q = p;

	while (n > 0) {
		size_t take;

		/* the probe's block: its first probe_len bytes, once they are all here */
		if (b->probe_len > 0 && !b->probe_done && b->n == b->probe_block &&
		    b->fill + n >= b->probe_len) {
			if (b->fill == 0) {
				b->probe_h = XXH3_64bits_withSecret(q, b->probe_len, b->secret,
				    OFS_BLOCK_SECRET_LEN);
				b->probe_done = 1;
			} else if (b->fill <= b->probe_len) {
				XXH3_state_t *pst = XXH3_createState();

				if (pst == NULL)
					abort();
				XXH3_copyState(pst, b->st);
				XXH3_64bits_update(pst, q, b->probe_len - b->fill);
				b->probe_h = XXH3_64bits_digest(pst);
				XXH3_freeState(pst);
				b->probe_done = 1;
			}
		}
		if (b->fill == 0 && n >= OFS_BLOCK_SIZE) {	/* whole block in hand: one call */
			push_hash(b, XXH3_64bits_withSecret(q, OFS_BLOCK_SIZE, b->secret,
			    OFS_BLOCK_SECRET_LEN));
			q += OFS_BLOCK_SIZE;
			n -= OFS_BLOCK_SIZE;
			continue;
		}
		if (b->st == NULL)
			b->st = XXH3_createState();
		if (b->st == NULL)
			abort();
		if (b->fill == 0)
			XXH3_64bits_reset_withSecret(b->st, b->secret, OFS_BLOCK_SECRET_LEN);
		take = OFS_BLOCK_SIZE - b->fill;
		if (take > n)
			take = n;
		XXH3_64bits_update(b->st, q, take);
		b->fill += take;
		q += take;
		n -= take;
		if (b->fill == OFS_BLOCK_SIZE) {
			push_hash(b, XXH3_64bits_digest(b->st));
			b->fill = 0;
		}
	}
}

void
ofs_blocks_final(struct ofs_blocks *b)
{
	if (b->fill > 0) {
		push_hash(b, XXH3_64bits_digest(b->st));
		b->fill = 0;
	}
}

void
ofs_blocks_reset(struct ofs_blocks *b)
{
	b->n = b->fill = 0;
	b->probe_len = 0;
	b->probe_done = 0;
}

uint64_t *
ofs_blocks_copy(const struct ofs_blocks *b, size_t *n)
{
	uint64_t *h = ofs_xreallocarray(NULL, b->n ? b->n : 1, sizeof(*h));

	if (b->n > 0)	/* none yet (a file skipped before its first block): b->h is NULL */
		memcpy(h, b->h, b->n * sizeof(*h));
	*n = b->n;
	return h;
}

void
ofs_blocks_release(struct ofs_blocks *b)
{
	free(b->h);
	if (b->st != NULL)
		XXH3_freeState(b->st);
	b->h = NULL;
	b->st = NULL;
	b->n = b->cap = b->fill = 0;
}
