/* Trees read one node at a time (tree.h's ofs_tree_reader): offseed's plain form parsed
 * node by node from a small window over the plaintext, which comes from memory or from a
 * stored blob decompressed in pieces (blob.h); anything else goes to the whole-document
 * decoder of lib/tree_codec.c. docs/MEMORY.md has the figures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "tree.h"
#include "tree_int.h"
#include "util.h"

#define DECLINE 2	/* plain_next: not the plain form (or not valid): decode whole */

enum { S_HEAD, S_NODE, S_TAIL, S_END };

struct ofs_tree_reader {
	char what[128];
	struct ofs_tree_reader_opts o;
	/* the plaintext: from bs, or mem[0..size) */
	struct ofs_blob_stream *bs;
	const uint8_t *mem;
	size_t mempos;
	uint64_t size;
	/* decoded whole: the nodes of tree from next on */
	int whole;
	struct ofs_tree tree;
	size_t next;
	/* streaming: unread plaintext win.data[pos..len), where the parser is, the last name */
	struct ofs_buf win;
	size_t pos;
	int eof, state;
	uint8_t *prev;
	size_t prevlen, idx;
};

static int
src_read(struct ofs_tree_reader *r, uint8_t *dst, size_t cap, size_t *got,
    struct ofs_error *err)
{
	size_t n;

	if (r->bs != NULL)
		return ofs_blob_stream_read(r->bs, dst, cap, got, err);
	n = r->size - r->mempos < cap ? (size_t)(r->size - r->mempos) : cap;
	memcpy(dst, r->mem + r->mempos, n);
	r->mempos += n;
	*got = n;
	return 0;
}

static void
rewind_all(struct ofs_tree_reader *r)
{
	if (r->bs != NULL)
		ofs_blob_stream_rewind(r->bs);
	r->mempos = 0;
	ofs_buf_reset(&r->win);
	r->pos = 0;
	r->eof = 0;
	r->state = S_HEAD;
	r->prevlen = 0;
	r->idx = 0;
}

/* At least n unread bytes in the window: 1, 0 when the plaintext ends first, or an error.
 * The read part is dropped first, so the window holds about one node and one step. */
static int
need(struct ofs_tree_reader *r, size_t n, struct ofs_error *err)
{
	size_t got;
	int rc;

	while (r->win.len - r->pos < n && !r->eof) {
		if (r->pos > 0) {
			memmove(r->win.data, r->win.data + r->pos, r->win.len - r->pos);
			r->win.len -= r->pos;
			r->pos = 0;
		}
		if (ofs_buf_reserve(&r->win, r->o.step) != 0)	/* plaintext ≤ OFS_TREE_MAX */
			return ofs_err_set(err, OFS_ERR_CORRUPT, "malformed %s: too large", r->what);
		if ((rc = src_read(r, r->win.data + r->win.len, r->o.step, &got, err)) != 0)
			return rc;
		r->win.len += got;
		r->eof = got == 0;
	}
	return r->win.len - r->pos >= n;
}

/* The length of the node at pos: from its '{' to the matching '}', counting brackets
 * outside strings (the plain form has no escapes; with one, the node is declined by the
 * parser whatever this finds). 1, 0 when there is none, or an error. */
static int
frame(struct ofs_tree_reader *r, size_t *flen, struct ofs_error *err)
{
	size_t i = 0;
	int depth = 0, instr = 0, k;

	for (;;) {
		uint8_t c;

		if (r->pos + i == r->win.len && (k = need(r, i + 1, err)) <= 0)
			return k;
		c = r->win.data[r->pos + i++];
		if (instr) {
			instr = c != '"';
			continue;
		}
		if (c == '"')
			instr = 1;
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			break;
		if (depth <= 0)
			return 0;
	}
	*flen = i;
	return 1;
}

/* The next bytes are lit: consumed and 1, 0 when they are not, or an error. */
static int
next_is(struct ofs_tree_reader *r, const char *lit, struct ofs_error *err)
{
	size_t n = strlen(lit);
	int k;

	if ((k = need(r, n, err)) <= 0)
		return k;
	if (memcmp(r->win.data + r->pos, lit, n) != 0)
		return 0;
	r->pos += n;
	return 1;
}

/* One step of the plain form {"nodes":[node,…],"version":1}: 1 with a node in *out
 * (zeroed first), 0 at its end (nothing may follow), DECLINE, or an error. */
static int
plain_next(struct ofs_tree_reader *r, struct ofs_node *out, struct ofs_error *err)
{
	size_t flen, m;
	int k, c;

	memset(out, 0, sizeof(*out));
	if (r->state == S_HEAD) {
		if ((k = next_is(r, OFS_TREE_PLAIN_HEAD, err)) <= 0)
			return k < 0 ? k : DECLINE;
		if ((k = next_is(r, "]", err)) < 0)
			return k;
		r->state = k ? S_TAIL : S_NODE;
	}
	if (r->state == S_NODE) {
		if ((k = frame(r, &flen, err)) <= 0)
			return k < 0 ? k : DECLINE;
		if (!ofs_tree_plain_node(r->win.data + r->pos, flen, out))
			goto decline;
		m = r->prevlen < out->namelen ? r->prevlen : out->namelen;
		c = m > 0 ? memcmp(r->prev, out->name, m) : 0;
		if (r->idx > 0 && (c > 0 || (c == 0 && r->prevlen >= out->namelen)))
			goto decline;	/* unsorted or duplicate */
		r->pos += flen;
		r->prev = ofs_xrealloc(r->prev, out->namelen + 1);
		memcpy(r->prev, out->name, out->namelen);
		r->prevlen = out->namelen;
		r->idx++;
		if ((k = next_is(r, ",", err)) == 0 && (k = next_is(r, "]", err)) == 1)
			r->state = S_TAIL;
		if (k <= 0) {
			ofs_node_release(out);
			return k < 0 ? k : DECLINE;
		}
		return 1;
	}
	if (r->state == S_TAIL) {
		if ((k = next_is(r, OFS_TREE_PLAIN_TAIL, err)) <= 0)
			return k < 0 ? k : DECLINE;
		if ((k = need(r, 1, err)) != 0)
			return k < 0 ? k : DECLINE;	/* trailing bytes */
		r->state = S_END;
	}
	return 0;
decline:
	ofs_node_release(out);
	return DECLINE;
}

/* The whole plaintext through ofs_tree_decode, as the tree was read before streaming: for
 * small trees and for any not in the plain form (whose errors it words). */
static int
decode_whole(struct ofs_tree_reader *r, struct ofs_error *err)
{
	struct ofs_buf all = OFS_BUF_INIT(0);
	const uint8_t *p = r->mem;
	size_t got, len = (size_t)r->size;
	int rc = 0;

	if (r->bs != NULL) {
		ofs_blob_stream_rewind(r->bs);
		if (ofs_buf_reserve_exact(&all, (size_t)r->size + 1) != 0)
			return ofs_err_set(err, OFS_ERR_CORRUPT, "malformed %s: too large", r->what);
		do {
			if ((rc = ofs_blob_stream_read(r->bs, all.data + all.len,
			    all.cap - all.len, &got, err)) != 0)
				goto out;
			all.len += got;
		} while (got > 0 && all.len < all.cap);
		p = all.data;
		len = all.len;	/* the stream checked it is the size */
	}
	rc = ofs_tree_decode(p, len, r->what, &r->tree, err);
	r->whole = 1;
	ofs_blob_stream_free(r->bs);	/* what streaming needed is not needed any more */
	r->bs = NULL;
	ofs_buf_release(&r->win);
out:
	ofs_buf_release_secret(&all);
	return rc;
}

/* Check the whole tree before the first node is yielded, as ofs_tree_decode does. */
static int
reader_start(struct ofs_tree_reader *r, struct ofs_error *err)
{
	struct ofs_node n;
	int k;

	if (r->size > OFS_TREE_MAX)	/* as ofs_tree_decode words it */
		return ofs_err_set(err, OFS_ERR_CORRUPT, "malformed %s: %llu bytes is too large",
		    r->what, (unsigned long long)r->size);
	if (r->size <= r->o.whole_max)
		return decode_whole(r, err);
	rewind_all(r);
	do {
		k = plain_next(r, &n, err);
		ofs_node_release(&n);
	} while (k == 1);
	if (k < 0)
		return k;
	if (k == DECLINE)
		return decode_whole(r, err);
	rewind_all(r);
	return 0;
}

static struct ofs_tree_reader *
reader_new(const char *what, const struct ofs_tree_reader_opts *opts)
{
	struct ofs_tree_reader *r = ofs_xcalloc(1, sizeof(*r));

	snprintf(r->what, sizeof(r->what), "%s", what ? what : "tree");
	r->o.whole_max = opts ? opts->whole_max : OFS_TREE_WHOLE_MAX;
	r->o.step = opts && opts->step > 0 ? opts->step : OFS_TREE_READ_STEP;
	ofs_buf_init(&r->win, 0);
	ofs_tree_init(&r->tree);
	return r;
}

static int
reader_open(struct ofs_tree_reader *r, struct ofs_tree_reader **out, struct ofs_error *err)
{
	int rc;

	if ((rc = reader_start(r, err)) != 0) {
		ofs_tree_reader_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int
ofs_tree_reader_open_mem(const uint8_t *p, size_t len, const char *what,
    const struct ofs_tree_reader_opts *opts, struct ofs_tree_reader **out,
    struct ofs_error *err)
{
	struct ofs_tree_reader *r = reader_new(what, opts);

	*out = NULL;
	r->mem = p;
	r->size = len;
	return reader_open(r, out, err);
}

int
ofs_tree_reader_open_blob(struct ofs_blob_stream *bs, const char *what,
    const struct ofs_tree_reader_opts *opts, struct ofs_tree_reader **out,
    struct ofs_error *err)
{
	struct ofs_tree_reader *r = reader_new(what, opts);

	*out = NULL;
	r->bs = bs;	/* transferred */
	r->size = ofs_blob_stream_size(bs);
	return reader_open(r, out, err);
}

struct ofs_tree_reader *
ofs_tree_reader_from_tree(struct ofs_tree *t)
{
	struct ofs_tree_reader *r = reader_new(NULL, NULL);

	r->tree = *t;
	ofs_tree_init(t);	/* transferred */
	r->whole = 1;
	return r;
}

int
ofs_tree_reader_next(struct ofs_tree_reader *r, struct ofs_node *out, struct ofs_error *err)
{
	int k;

	if (r->whole) {
		memset(out, 0, sizeof(*out));
		if (r->next == r->tree.n)
			return 0;
		*out = r->tree.nodes[r->next];
		memset(&r->tree.nodes[r->next++], 0, sizeof(*out));	/* transferred */
		return 1;
	}
	if ((k = plain_next(r, out, err)) == DECLINE)	/* it passed once: cannot happen */
		return ofs_err_set(err, OFS_ERR_CORRUPT, "malformed %s: changed while read",
		    r->what);
	return k;
}

int
ofs_tree_reader_find(struct ofs_tree_reader *r, const uint8_t *name, size_t len,
    struct ofs_node *out, struct ofs_error *err)
{
	int k;

	while ((k = ofs_tree_reader_next(r, out, err)) == 1) {
		if (out->namelen == len && memcmp(out->name, name, len) == 0)
			return 1;
		ofs_node_release(out);
	}
	return k;
}

size_t
ofs_tree_reader_held(const struct ofs_tree_reader *r)
{
	return r->win.cap;
}

void
ofs_tree_reader_free(struct ofs_tree_reader *r)
{
	if (r == NULL)
		return;
	ofs_blob_stream_free(r->bs);
	ofs_buf_release_secret(&r->win);
	ofs_tree_release(&r->tree);
	free(r->prev);
	free(r);
}
