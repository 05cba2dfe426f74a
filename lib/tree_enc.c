/* The streaming tree encoder: {"nodes":[ node, node … ],"version":N}, each node written by
 * tree_codec.c's node writer after the same checks ofs_tree_encode makes, the order checked
 * instead of sorted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree_enc.h"
#include "tree_int.h"
#include "util.h"

#define FLUSH_AT (16u << 10)	/* bytes gathered before the sink gets them */

void
ofs_tree_enc_init(struct ofs_tree_enc *e, ofs_tree_sink sink, void *ud)
{
	memset(e, 0, sizeof(*e));
	ofs_buf_init(&e->buf, 0);
	e->sink = sink;
	e->ud = ud;
	ofs_buf_puts(&e->buf, "{\"nodes\":[");
}

void
ofs_tree_enc_release(struct ofs_tree_enc *e)
{
	ofs_buf_release(&e->buf);
	free(e->last);
	memset(e, 0, sizeof(*e));
	ofs_buf_init(&e->buf, 0);
}

static int
enc_flush(struct ofs_tree_enc *e, struct ofs_error *err)
{
	int r;

	if (e->sink == NULL || e->buf.len == 0)
		return 0;
	if ((r = e->sink(e->ud, e->buf.data, e->buf.len, err)) != 0) {
		e->failed = 1;
		return r;
	}
	e->sent += e->buf.len;
	ofs_buf_reset(&e->buf);
	return 0;
}

static int
too_large(struct ofs_tree_enc *e, struct ofs_error *err)
{
	e->failed = 1;
	return ofs_err_set(err, OFS_ERR_LIMIT, "tree of %zu nodes is too large", e->n);
}

int
ofs_tree_enc_add(struct ofs_tree_enc *e, const struct ofs_node *n, struct ofs_error *err)
{
	struct ofs_node prev;
	char why[128], nm[128];
	int c;

	if (e->failed || e->finished)
		return ofs_err_set(err, OFS_ERR_IO, "internal error: tree node after %s",
		    e->failed ? "a failure" : "the end");
	if (ofs_tree_node_check(n, why, sizeof(why)) != 0)
		goto refuse;
	if (e->n > 0) {
		memset(&prev, 0, sizeof(prev));
		prev.name = e->last;
		prev.namelen = e->lastlen;
		if ((c = ofs_tree_node_cmp(&prev, n)) >= 0) {
			snprintf(why, sizeof(why), c == 0 ? "duplicate name" :
			    "out of order (names must come sorted by bytes)");
			goto refuse;
		}
	}
	if (e->n > 0)
		ofs_buf_putc(&e->buf, ',');
	if (ofs_tree_node_put(n, &e->buf) != 0)
		return too_large(e, err);
	/* room left for the closing "],"version":N}" (under 32 bytes) */
	if (e->sent + e->buf.len + 32 > OFS_TREE_MAX) {
		e->failed = 1;
		return ofs_err_set(err, OFS_ERR_LIMIT, "too many entries in one directory: its "
		    "tree would pass %u MiB, the most a reader accepts (%zu entries so far)",
		    OFS_TREE_MAX >> 20, e->n + 1);
	}
	if (n->namelen > e->lastcap) {
		e->lastcap = n->namelen < 64 ? 64 : n->namelen;
		free(e->last);
		e->last = ofs_xmalloc(e->lastcap);
	}
	memcpy(e->last, n->name, n->namelen);
	e->lastlen = n->namelen;
	e->n++;
	return e->buf.len >= FLUSH_AT ? enc_flush(e, err) : 0;
refuse:
	e->failed = 1;
	ofs_tree_name_for_msg(n->name, n->namelen, nm, sizeof(nm));
	return ofs_err_set(err, OFS_ERR_IO, "cannot encode tree node '%s': %s", nm, why);
}

int
ofs_tree_enc_finish(struct ofs_tree_enc *e, struct ofs_error *err)
{
	char tail[32];

	if (e->failed || e->finished)
		return ofs_err_set(err, OFS_ERR_IO, "internal error: tree finished after %s",
		    e->failed ? "a failure" : "its end");
	snprintf(tail, sizeof(tail), "],\"version\":%d}", ofs_tree_version);
	ofs_buf_puts(&e->buf, tail);
	if (ofs_buf_check(&e->buf) != 0)
		return too_large(e, err);
	e->finished = 1;
	return enc_flush(e, err);
}
