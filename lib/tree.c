/* The in-memory tree of one directory: nodes and their lifecycle, comparison and type
 * names, and the name rules (file names, base64) its codec (lib/tree_codec.c) and restore
 * apply; UTF-8 is the text layer's (text.h). docs/FORMAT.md is the format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"
#include "tree_int.h"
#include "util.h"

/* ---- names, base64 ---- */

int
ofs_name_ok(const uint8_t *name, size_t len)
{
	if (name == NULL || len == 0 || len > 4096)
		return 0;
	if (memchr(name, '/', len) != NULL || memchr(name, '\0', len) != NULL)
		return 0;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	return 1;
}

/* The encoder is the text layer's ofs_b64_encode; this alphabet is the decoder's. */
static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64val(char c)
{
	const char *q;

	if (c == '\0' || (q = strchr(b64chars, c)) == NULL)
		return -1;
	return (int)(q - b64chars);
}

/* Strict canonical decode (padding required, unused bits zero). Returns 0 and an owned
 * buffer, or -1. */
int
ofs_tree_b64_decode(const char *s, size_t slen, uint8_t **out, size_t *outlen)
{
	uint8_t *buf, *o;
	size_t i;

	*out = NULL;
	*outlen = 0;
	if (slen % 4 != 0)
		return -1;
	buf = o = ofs_xmalloc(slen / 4 * 3 + 1);
	for (i = 0; i < slen; i += 4) {
		int a = b64val(s[i]), b = b64val(s[i + 1]), c, d;
		int last = i + 4 == slen;

		if (a < 0 || b < 0)
			goto bad;
		if (last && s[i + 2] == '=' && s[i + 3] == '=') {
			if (b & 15)
				goto bad;
			*o++ = (uint8_t)(a << 2 | b >> 4);
			break;
		}
		c = b64val(s[i + 2]);
		if (c < 0)
			goto bad;
		if (last && s[i + 3] == '=') {
			if (c & 3)
				goto bad;
			*o++ = (uint8_t)(a << 2 | b >> 4);
			*o++ = (uint8_t)((b & 15) << 4 | c >> 2);
			break;
		}
		if ((d = b64val(s[i + 3])) < 0)
			goto bad;
		*o++ = (uint8_t)(a << 2 | b >> 4);
		*o++ = (uint8_t)((b & 15) << 4 | c >> 2);
		*o++ = (uint8_t)((c & 3) << 6 | d);
	}
	*o = 0;		/* callers use names and targets as C strings too */
	*out = buf;
	*outlen = (size_t)(o - buf);
	return 0;
bad:
	free(buf);
	return -1;
}

/* Printable rendering of a name for messages (escapes bytes outside ASCII graphics). */
void
ofs_tree_name_for_msg(const uint8_t *p, size_t n, char *buf, size_t bufsz)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < bufsz; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			buf[o++] = (char)p[i];
		else
			o += (size_t)snprintf(buf + o, bufsz - o, "\\x%02x", p[i]);
	}
	buf[o] = '\0';
}

/* ---- tree lifecycle ---- */

void
ofs_tree_init(struct ofs_tree *t)
{
	memset(t, 0, sizeof(*t));
}

void
ofs_node_release(struct ofs_node *n)
{
	if (n == NULL)
		return;
	free(n->name);
	free(n->user);
	free(n->group);
	free(n->target);
	for (size_t i = 0; i < n->nxattrs; i++) {
		free(n->xattrs[i].name);
		free(n->xattrs[i].value);
	}
	free(n->xattrs);
	free(n->chunks);
	free(n->extents);
	memset(n, 0, sizeof(*n));
}

void
ofs_tree_release(struct ofs_tree *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		ofs_node_release(&t->nodes[i]);
	free(t->nodes);
	memset(t, 0, sizeof(*t));
}

struct ofs_node *
ofs_tree_add(struct ofs_tree *t)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->nodes = ofs_xreallocarray(t->nodes, t->cap, sizeof(*t->nodes));
	}
	memset(&t->nodes[t->n], 0, sizeof(t->nodes[0]));
	return &t->nodes[t->n++];
}

static int
namecmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl;
}

int
ofs_tree_node_cmp(const void *a, const void *b)
{
	const struct ofs_node *x = a, *y = b;

	return namecmp(x->name, x->namelen, y->name, y->namelen);
}

static int
same_str(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

static int
same_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static int
node_equal(const struct ofs_node *a, const struct ofs_node *b)
{
	if (!same_bytes(a->name, a->namelen, b->name, b->namelen) || a->type != b->type ||
	    a->mode != b->mode || a->uid != b->uid || a->gid != b->gid ||
	    !same_str(a->user, b->user) || !same_str(a->group, b->group) || a->size != b->size ||
	    a->mtime_ns != b->mtime_ns || a->atime_ns != b->atime_ns ||
	    a->ctime_ns != b->ctime_ns || a->ino != b->ino || a->dev != b->dev ||
	    a->nlink != b->nlink || !same_bytes(a->target, a->targetlen, b->target, b->targetlen) ||
	    a->rdev != b->rdev || a->nxattrs != b->nxattrs ||
	    (a->xattrs == NULL) != (b->xattrs == NULL) || (a->chunks == NULL) != (b->chunks == NULL) ||
	    !same_bytes(a->chunks, a->nchunks * OFS_ID_LEN, b->chunks, b->nchunks * OFS_ID_LEN) ||
	    a->sparse != b->sparse || (a->extents == NULL) != (b->extents == NULL) ||
	    !same_bytes(a->extents, a->nextents * sizeof(*a->extents), b->extents,
	    b->nextents * sizeof(*b->extents)) || a->has_subtree != b->has_subtree ||
	    memcmp(a->subtree, b->subtree, OFS_ID_LEN) != 0 || a->flags != b->flags)
		return 0;
	for (size_t i = 0; i < a->nxattrs; i++)
		if (!same_str(a->xattrs[i].name, b->xattrs[i].name) ||
		    !same_bytes(a->xattrs[i].value, a->xattrs[i].len, b->xattrs[i].value,
		    b->xattrs[i].len))
			return 0;
	return 1;
}

int
ofs_tree_equal(const struct ofs_tree *a, const struct ofs_tree *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (!node_equal(&a->nodes[i], &b->nodes[i]))
			return 0;
	return 1;
}

static const char *const type_names[] = {
	[OFS_NODE_FILE] = "file",
	[OFS_NODE_DIR] = "dir",
	[OFS_NODE_SYMLINK] = "symlink",
	[OFS_NODE_FIFO] = "fifo",
	[OFS_NODE_CHR] = "chardev",
	[OFS_NODE_BLK] = "blockdev",
	[OFS_NODE_SOCK] = "socket",
};

const char *
ofs_node_type_name(int type)
{
	if (type < OFS_NODE_FILE || type > OFS_NODE_SOCK)
		return "unknown";
	return type_names[type];
}

int
ofs_tree_type_from_span(const uint8_t *s, size_t n)
{
	for (int i = OFS_NODE_FILE; i <= OFS_NODE_SOCK; i++)
		if (strlen(type_names[i]) == n && memcmp(s, type_names[i], n) == 0)
			return i;
	return 0;
}
