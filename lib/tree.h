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
/* Is this a name we will create on restore? (same rules as decode) */
int ofs_name_ok(const uint8_t *name, size_t len);
/* "file", "dir", "symlink", "fifo", "chardev", "blockdev", "socket" ("unknown" otherwise). */
const char *ofs_node_type_name(int type);

#endif
