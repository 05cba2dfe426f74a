/* Snapshot trees: one blob per directory, a list of nodes sorted by name bytes (JSON,
 * FORMAT.md; names and link targets are bytes, base64 when not valid UTF-8). The snapshot
 * record that points at the root tree is in snapshot.h, included here for its callers. */
#ifndef OFS_TREE_H
#define OFS_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"
#include "error.h"
#include "snapshot.h"
#include "text.h"		/* ofs_b64_encode and UTF-8, which names use */

#define OFS_TREE_MAX (256u << 20)	/* largest tree blob a reader accepts */

enum ofs_node_type {
	OFS_NODE_FILE = 1,
	OFS_NODE_DIR,
	OFS_NODE_SYMLINK,
	OFS_NODE_FIFO,
	OFS_NODE_CHR,
	OFS_NODE_BLK,
	OFS_NODE_SOCK,
};

enum ofs_node_flags {
	OFS_NODE_CHANGED = 1,	/* file changed while it was read: content may be inconsistent */
};

struct ofs_xattr {
	char *name;
	uint8_t *value;
	size_t len;
};

struct ofs_extent {	/* a data region of a sparse file; everything else is a hole */
	uint64_t off, len;
};

struct ofs_node {
	uint8_t *name;		/* raw bytes, owned; never contains '/' or NUL; decoded and
				 * walked names are also NUL-terminated */
	size_t namelen;
	int type;		/* enum ofs_node_type */
	uint32_t mode;		/* permission bits incl. suid/sgid/sticky (no type bits) */
	uint32_t uid, gid;
	char *user, *group;	/* may be NULL */
	uint64_t size;
	int64_t mtime_ns, atime_ns, ctime_ns;
	uint64_t ino, dev, nlink;
	uint8_t *target;	/* symlink target bytes, owned (NUL-terminated when decoded) */
	size_t targetlen;
	uint64_t rdev;		/* device nodes */
	struct ofs_xattr *xattrs;
	size_t nxattrs;
	uint8_t (*chunks)[OFS_ID_LEN];	/* file content, in order; owned */
	size_t nchunks;
	struct ofs_extent *extents;	/* NULL: the whole file is data; else data regions */
	size_t nextents;
	int sparse;		/* extents are meaningful */
	uint8_t subtree[OFS_ID_LEN];	/* directories */
	int has_subtree;
	uint32_t flags;		/* enum ofs_node_flags */
};

struct ofs_tree {
	struct ofs_node *nodes;
	size_t n, cap;
};

void ofs_tree_init(struct ofs_tree *t);
void ofs_tree_release(struct ofs_tree *t);
void ofs_node_release(struct ofs_node *n);
/* Append a zeroed node and return it (pointer valid until the next add). */
struct ofs_node *ofs_tree_add(struct ofs_tree *t);
/* Same nodes in the same order, field by field (which optional arrays are present
 * included): 1 or 0. */
int ofs_tree_equal(const struct ofs_tree *a, const struct ofs_tree *b);
/* Sort by name bytes and serialize (deterministic: same tree → same bytes → same id). */
int ofs_tree_encode(struct ofs_tree *t, struct ofs_buf *out, struct ofs_error *err);
/* The same bytes built through jansson objects: the reference the tests compare
 * ofs_tree_encode with. */
int ofs_tree_encode_json(struct ofs_tree *t, struct ofs_buf *out, struct ofs_error *err);
/* Parse and validate: names non-empty, no '/', no NUL, not "." or "..", no duplicates; types
 * and field ranges known. Malformed → OFS_ERR_CORRUPT naming `what` and the field. */
int ofs_tree_decode(const uint8_t *p, size_t len, const char *what, struct ofs_tree *t,
    struct ofs_error *err);
/* The two readers behind ofs_tree_decode, for tests and the fuzz target. _plain reads
 * only the plain form offseed writes (compact, sorted keys, no escapes) and returns 0, or
 * -1 when it declines and leaves *t empty; _json reads any JSON and words every error. */
int ofs_tree_decode_plain(const uint8_t *p, size_t len, struct ofs_tree *t);
int ofs_tree_decode_json(const uint8_t *p, size_t len, const char *what, struct ofs_tree *t,
    struct ofs_error *err);
/* A tree read one node at a time, so that a directory of millions of entries is never held
 * as its whole plaintext and every decoded node at once (SPEC §17). It accepts exactly
 * what ofs_tree_decode accepts, yields the same nodes in the same order, and fails with the
 * same code and message. Every check is done before the first node is yielded: a tree
 * larger than whole_max is read twice from the sealed bytes (once to check, keeping only
 * the previous name, once to yield); a smaller one is decoded whole at open. A tree not in
 * offseed's own plain form (escapes, whitespace, other key order: never written by
 * offseed) is decoded whole by ofs_tree_decode (the plaintext and all its nodes at once). */
struct ofs_tree_reader;
struct ofs_blob_stream;

struct ofs_tree_reader_opts {
	size_t whole_max;	/* plaintext up to this is decoded whole at open */
	size_t step;		/* plaintext bytes read at a time when streaming */
};
#define OFS_TREE_WHOLE_MAX (1u << 20)
#define OFS_TREE_READ_STEP (64u << 10)

/* Open a reader on the plaintext p[0..len) (not copied: it must outlive the reader); opts
 * NULL for the defaults; `what` names the tree in messages (copied). *out is owned. */
int ofs_tree_reader_open_mem(const uint8_t *p, size_t len, const char *what,
    const struct ofs_tree_reader_opts *opts, struct ofs_tree_reader **out,
    struct ofs_error *err);
/* The same on an opened stored blob (blob.h); takes bs, also when it fails. */
int ofs_tree_reader_open_blob(struct ofs_blob_stream *bs, const char *what,
    const struct ofs_tree_reader_opts *opts, struct ofs_tree_reader **out,
    struct ofs_error *err);
/* A reader handing out the nodes of an already decoded tree; takes *t (left empty). */
struct ofs_tree_reader *ofs_tree_reader_from_tree(struct ofs_tree *t);
/* The next node into *out (owned by the caller: ofs_node_release it): 1, 0 at the end, or
 * a negative OFS_ERR_* (the source failed to read: not expected after a good open). */
int ofs_tree_reader_next(struct ofs_tree_reader *r, struct ofs_node *out,
    struct ofs_error *err);
/* Read on to the node named name[0..len): 1 with it in *out (owned by the caller), 0 when
 * the tree has none (*out zeroed), or an error. */
int ofs_tree_reader_find(struct ofs_tree_reader *r, const uint8_t *name, size_t len,
    struct ofs_node *out, struct ofs_error *err);
/* Plaintext bytes the reader holds now (its window; 0 when decoded whole): for tests. */
size_t ofs_tree_reader_held(const struct ofs_tree_reader *r);
void ofs_tree_reader_free(struct ofs_tree_reader *r);

/* Is this a name we will create on restore? (same rules as decode) */
int ofs_name_ok(const uint8_t *name, size_t len);
/* "file", "dir", "symlink", "fifo", "chardev", "blockdev", "socket" ("unknown" otherwise). */
const char *ofs_node_type_name(int type);

#endif
