/* A tree written node by node, in name order, as each node is known: the same bytes as
 * ofs_tree_encode of the same nodes (so the same id), without holding the nodes or, with a
 * sink, the whole JSON. */
#ifndef OFS_TREE_ENC_H
#define OFS_TREE_ENC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "tree.h"

/* Where the bytes go: 0, or an error code (with err set) that the encoder returns. */
typedef int (*ofs_tree_sink)(void *ud, const void *p, size_t n, struct ofs_error *err);

struct ofs_tree_enc {
	struct ofs_buf buf;	/* bytes not yet given to the sink (all of them without one) */
	ofs_tree_sink sink;
	void *ud;
	uint8_t *last;		/* the previous node's name (order check) */
	size_t lastlen, lastcap;
	size_t n;		/* nodes so far */
	uint64_t sent;		/* bytes given to the sink so far */
	int failed, finished;
};

/* Start a tree. sink NULL: the whole document collects in e->buf (for tests and small
 * callers); else it gets the bytes in pieces of some KiB, the last at finish. */
void ofs_tree_enc_init(struct ofs_tree_enc *e, ofs_tree_sink sink, void *ud);
/* Free what e holds (any state; e can be initialised again). */
void ofs_tree_enc_release(struct ofs_tree_enc *e);
/* Append node n (read only; the caller keeps it and may free it now). Nodes must come in
 * strictly increasing name-byte order. A node the decoder would refuse, a duplicate or an
 * out-of-order name is OFS_ERR_IO "cannot encode tree node 'NAME': why", as
 * ofs_tree_encode words it. A tree that would pass OFS_TREE_MAX, which no reader accepts,
 * is OFS_ERR_LIMIT (too many entries in one directory). After any failure every call
 * fails. */
int ofs_tree_enc_add(struct ofs_tree_enc *e, const struct ofs_node *n, struct ofs_error *err);
/* Close the document and give the sink its last bytes. */
int ofs_tree_enc_finish(struct ofs_tree_enc *e, struct ofs_error *err);

#endif
