/* The tree codec: the canonical encoding (compact JSON, keys sorted, nodes sorted by name
 * bytes, so identical directories get identical ids), a fast reader of exactly that plain
 * form, and the strict jansson decoder that reads any JSON and names the offending field.
 * docs/FORMAT.md is the format. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "tree.h"
#include "tree_int.h"
#include "util.h"

#define TREE_VERSION 1
#define XATTR_NAME_MAX 255
#define XATTR_VALUE_MAX (64u << 10)

static int
type_from_name(const char *s)
{
	return ofs_tree_type_from_span((const uint8_t *)s, strlen(s));
}

/* ---- encoding ---- */

/* Names and targets go as "key" when their bytes are valid UTF-8 without NUL, else as
 * "key_b64": one rule for both encoders, so their choice cannot drift apart. */
static int
bytes_as_text(const uint8_t *p, size_t n)
{
	return ofs_text_utf8_ok(p, n) && memchr(p, '\0', n) == NULL;
}

/* Bytes as "key" (valid UTF-8) or "key_b64". */
static void
set_bytes(json_t *o, const char *key, const uint8_t *p, size_t n)
{
	char k64[32];
	char *s;

	if (bytes_as_text(p, n)) {
		json_object_set_new(o, key, json_stringn((const char *)p, n));
	} else {
		snprintf(k64, sizeof(k64), "%s_b64", key);
		s = ofs_b64_encode(p, n);
		json_object_set_new(o, k64, json_string(s));
		free(s);
	}
}

static json_t *
jint(uint64_t v)
{
	return json_integer((json_int_t)v);	/* > INT64_MAX: two's complement (FORMAT) */
}

json_t *
ofs_tree_hex_id(const uint8_t *id, size_t n)
{
	char hex[2 * OFS_ID_LEN + 1];

	ofs_hex(id, n, hex);
	return json_string(hex);
}

static int
dump_to_buf(const char *p, size_t n, void *ud)
{
	return ofs_buf_add(ud, p, n) == 0 ? 0 : -1;
}

static json_t *
node_to_json(const struct ofs_node *n)
{
	json_t *o = json_object(), *a;

	set_bytes(o, "name", n->name, n->namelen);
	json_object_set_new(o, "type", json_string(ofs_node_type_name(n->type)));
	json_object_set_new(o, "mode", json_integer(n->mode));
	json_object_set_new(o, "uid", json_integer(n->uid));
	json_object_set_new(o, "gid", json_integer(n->gid));
	if (n->user != NULL)
		json_object_set_new(o, "user", json_string(n->user));
	if (n->group != NULL)
		json_object_set_new(o, "group", json_string(n->group));
	json_object_set_new(o, "size", jint(n->size));
	json_object_set_new(o, "mtime", json_integer(n->mtime_ns));
	json_object_set_new(o, "atime", json_integer(n->atime_ns));
	json_object_set_new(o, "ctime", json_integer(n->ctime_ns));
	json_object_set_new(o, "inode", jint(n->ino));
	json_object_set_new(o, "device", jint(n->dev));
	json_object_set_new(o, "links", jint(n->nlink));
	if (n->type == OFS_NODE_SYMLINK)
		set_bytes(o, "target", n->target, n->targetlen);
	if (n->type == OFS_NODE_CHR || n->type == OFS_NODE_BLK)
		json_object_set_new(o, "rdev", jint(n->rdev));
	if (n->nxattrs > 0) {
		a = json_array();
		for (size_t i = 0; i < n->nxattrs; i++) {
			char *v = ofs_b64_encode(n->xattrs[i].value, n->xattrs[i].len);
			json_array_append_new(a, json_pack("{s:s, s:s}", "name",
			    n->xattrs[i].name, "value_b64", v));
			free(v);
		}
		json_object_set_new(o, "xattrs", a);
	}
	if (n->type == OFS_NODE_FILE) {
		a = json_array();
		for (size_t i = 0; i < n->nchunks; i++)
			json_array_append_new(a, ofs_tree_hex_id(n->chunks[i], OFS_ID_LEN));
		json_object_set_new(o, "content", a);
		if (n->sparse) {
			a = json_array();
			for (size_t i = 0; i < n->nextents; i++)
				json_array_append_new(a, json_pack("[I, I]",
				    (json_int_t)n->extents[i].off, (json_int_t)n->extents[i].len));
			json_object_set_new(o, "sparse", a);
		}
	}
	if (n->type == OFS_NODE_DIR && n->has_subtree)
		json_object_set_new(o, "subtree", ofs_tree_hex_id(n->subtree, OFS_ID_LEN));
	if (n->flags != 0)
		json_object_set_new(o, "flags", json_integer(n->flags));
	return o;
}

/* The same bytes without jansson: each node written straight out, keys in sorted order,
 * strings escaped as jansson's compact dump escapes them ('"', '\\', and control characters
 * as \b \t \n \f \r or \u00XX in upper-case hex; everything else, UTF-8 included, as is).
 * A user or group name that is not UTF-8 is left out, as json_string refuses it. Building
 * and dumping a jansson object per node was 13% of the writer's time when staging many
 * small files. ofs_tree_encode_json keeps the jansson way, for the tests that compare. */
static void
put_str(struct ofs_buf *b, const uint8_t *p, size_t n)
{
	size_t from = 0;

	ofs_buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		const char *esc = NULL;
		char u[8];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		ofs_buf_put(b, p + from, i - from);
		from = i + 1;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = "\\n"; break;
		case '\f': esc = "\\f"; break;
		case '\r': esc = "\\r"; break;
		default:
			snprintf(u, sizeof(u), "\\u%04X", c);
			esc = u;
		}
		ofs_buf_puts(b, esc);
	}
	ofs_buf_put(b, p + from, n - from);
	ofs_buf_putc(b, '"');
}

/* ,"key": (no comma before the first key of an object) */
static void
put_key(struct ofs_buf *b, const char *key, int *first)
{
	if (!*first)
		ofs_buf_putc(b, ',');
	*first = 0;
	ofs_buf_putc(b, '"');
	ofs_buf_puts(b, key);
	ofs_buf_puts(b, "\":");
}

/* Decimal, as "%lld" writes it (a node has a dozen integers: printf was 3% of the
 * writer's time). */
static void
put_dec(struct ofs_buf *b, long long v)
{
	char d[24], *p = d + sizeof(d);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	ofs_buf_put(b, p, (size_t)(d + sizeof(d) - p));
}

static void
put_int(struct ofs_buf *b, const char *key, long long v, int *first)
{
	put_key(b, key, first);
	put_dec(b, v);
}

static void
put_id(struct ofs_buf *b, const uint8_t *id)
{
	char hex[2 * OFS_ID_LEN + 1];

	ofs_hex(id, OFS_ID_LEN, hex);
	ofs_buf_putc(b, '"');
	ofs_buf_put(b, hex, 2 * OFS_ID_LEN);
	ofs_buf_putc(b, '"');
}

/* "key" (UTF-8 without NUL) or "key_b64", as set_bytes chooses. */
static void
put_bytes(struct ofs_buf *b, const char *key, const uint8_t *p, size_t n, int *first)
{
	char k64[32];
	char *enc;

	if (bytes_as_text(p, n)) {
		put_key(b, key, first);
		put_str(b, p, n);
		return;
	}
	snprintf(k64, sizeof(k64), "%s_b64", key);
	put_key(b, k64, first);
	enc = ofs_b64_encode(p, n);
	put_str(b, (const uint8_t *)enc, strlen(enc));
	free(enc);
}

static void
put_name(struct ofs_buf *b, const char *key, const char *v, int *first)
{
	if (v != NULL && ofs_text_utf8_ok((const uint8_t *)v, strlen(v))) {
		put_key(b, key, first);
		put_str(b, (const uint8_t *)v, strlen(v));
	}
}

static int
node_put(const struct ofs_node *n, struct ofs_buf *b)
{
	int first = 1;

	ofs_buf_putc(b, '{');
	put_int(b, "atime", n->atime_ns, &first);
	if (n->type == OFS_NODE_FILE) {
		put_key(b, "content", &first);
		ofs_buf_putc(b, '[');
		for (size_t i = 0; i < n->nchunks; i++) {
			if (i > 0)
				ofs_buf_putc(b, ',');
			put_id(b, n->chunks[i]);
		}
		ofs_buf_putc(b, ']');
	}
	put_int(b, "ctime", n->ctime_ns, &first);
	put_int(b, "device", (long long)n->dev, &first);
	if (n->flags != 0)
		put_int(b, "flags", n->flags, &first);
	put_int(b, "gid", n->gid, &first);
	put_name(b, "group", n->group, &first);
	put_int(b, "inode", (long long)n->ino, &first);
	put_int(b, "links", (long long)n->nlink, &first);
	put_int(b, "mode", n->mode, &first);
	put_int(b, "mtime", n->mtime_ns, &first);
	put_bytes(b, "name", n->name, n->namelen, &first);
	if (n->type == OFS_NODE_CHR || n->type == OFS_NODE_BLK)
		put_int(b, "rdev", (long long)n->rdev, &first);
	put_int(b, "size", (long long)n->size, &first);
	if (n->type == OFS_NODE_FILE && n->sparse) {
		put_key(b, "sparse", &first);
		ofs_buf_putc(b, '[');
		for (size_t i = 0; i < n->nextents; i++) {
			ofs_buf_puts(b, i > 0 ? ",[" : "[");
			put_dec(b, (long long)n->extents[i].off);
			ofs_buf_putc(b, ',');
			put_dec(b, (long long)n->extents[i].len);
			ofs_buf_putc(b, ']');
		}
		ofs_buf_putc(b, ']');
	}
	if (n->type == OFS_NODE_DIR && n->has_subtree) {
		put_key(b, "subtree", &first);
		put_id(b, n->subtree);
	}
	if (n->type == OFS_NODE_SYMLINK)
		put_bytes(b, "target", n->target, n->targetlen, &first);
	put_key(b, "type", &first);
	ofs_buf_putc(b, '"');
	ofs_buf_puts(b, ofs_node_type_name(n->type));
	ofs_buf_putc(b, '"');
	put_int(b, "uid", n->uid, &first);
	put_name(b, "user", n->user, &first);
	if (n->nxattrs > 0) {
		put_key(b, "xattrs", &first);
		ofs_buf_putc(b, '[');
		for (size_t i = 0; i < n->nxattrs; i++) {
			char *v = ofs_b64_encode(n->xattrs[i].value, n->xattrs[i].len);

			ofs_buf_puts(b, i > 0 ? ",{\"name\":" : "{\"name\":");
			put_str(b, (const uint8_t *)n->xattrs[i].name, strlen(n->xattrs[i].name));
			ofs_buf_puts(b, ",\"value_b64\":");
			put_str(b, (const uint8_t *)v, strlen(v));
			ofs_buf_putc(b, '}');
			free(v);
		}
		ofs_buf_putc(b, ']');
	}
	ofs_buf_putc(b, '}');
	return ofs_buf_check(b);	/* any put above that failed marked b */
}

static int
node_put_json(const struct ofs_node *n, struct ofs_buf *b)
{
	json_t *o = node_to_json(n);
	int r;

	if (o == NULL)
		return -1;
	r = json_dump_callback(o, dump_to_buf, b, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return r;
}

/* What the decoder would refuse, checked before writing. */
static int
node_check(const struct ofs_node *n, char *why, size_t whysz)
{
	if (!ofs_name_ok(n->name, n->namelen))
		return snprintf(why, whysz, "invalid name"), -1;
	if (n->type < OFS_NODE_FILE || n->type > OFS_NODE_SOCK)
		return snprintf(why, whysz, "unknown type %d", n->type), -1;
	if (n->mode > 07777)
		return snprintf(why, whysz, "mode %o has type bits", n->mode), -1;
	if (n->type == OFS_NODE_DIR && !n->has_subtree)
		return snprintf(why, whysz, "directory without subtree"), -1;
	if (n->type == OFS_NODE_SYMLINK && (n->target == NULL || n->targetlen == 0 ||
	    memchr(n->target, '\0', n->targetlen) != NULL))
		return snprintf(why, whysz, "symlink target missing or contains NUL"), -1;
	if (n->size > INT64_MAX)
		return snprintf(why, whysz, "size too large"), -1;
	for (size_t i = 0; i < n->nxattrs; i++) {
		const char *xn = n->xattrs[i].name;
		if (xn == NULL || *xn == '\0' || strlen(xn) > XATTR_NAME_MAX ||
		    !ofs_text_utf8_ok((const uint8_t *)xn, strlen(xn)) ||
		    n->xattrs[i].len > XATTR_VALUE_MAX)
			return snprintf(why, whysz, "invalid xattr %zu", i), -1;
	}
	if (n->sparse) {
		uint64_t end = 0;
		for (size_t i = 0; i < n->nextents; i++) {
			const struct ofs_extent *e = &n->extents[i];
			if (e->len == 0 || e->off < end || e->off > n->size ||
			    e->len > n->size - e->off)
				return snprintf(why, whysz, "bad sparse extent %zu", i), -1;
			end = e->off + e->len;
		}
	}
	return 0;
}

/* The document is {"nodes":[…],"version":N} (keys sorted, compact), written one node at a
 * time so that a directory of many entries never exists as a whole JSON tree in memory. */
static int
tree_encode(struct ofs_tree *t, struct ofs_buf *out, int (*put)(const struct ofs_node *,
    struct ofs_buf *), struct ofs_error *err)
{
	char why[128], nm[128], tail[32];
	size_t start = out->len;
	int r = 0;

	if (t->n > 1)
		qsort(t->nodes, t->n, sizeof(t->nodes[0]), ofs_tree_node_cmp);
	if (ofs_buf_add(out, "{\"nodes\":[", 10) != 0)
		goto too_large;
	for (size_t i = 0; i < t->n; i++) {
		const struct ofs_node *n = &t->nodes[i];

		if (node_check(n, why, sizeof(why)) != 0 ||
		    (i > 0 && ofs_tree_node_cmp(&t->nodes[i - 1], n) == 0 &&
		    snprintf(why, sizeof(why), "duplicate name") > 0)) {
			ofs_tree_name_for_msg(n->name, n->namelen, nm, sizeof(nm));
			r = ofs_err_set(err, OFS_ERR_IO, "cannot encode tree node '%s': %s", nm,
			    why);
			goto out;
		}
		if ((i > 0 && ofs_buf_add(out, ",", 1) != 0) || put(n, out) != 0)
			goto too_large;
	}
	snprintf(tail, sizeof(tail), "],\"version\":%d}", TREE_VERSION);
	if (ofs_buf_add(out, tail, strlen(tail)) != 0)
		goto too_large;
	return 0;
too_large:
	r = ofs_err_set(err, OFS_ERR_LIMIT, "tree of %zu nodes is too large", t->n);
out:
	out->len = start;
	return r;
}

int
ofs_tree_encode(struct ofs_tree *t, struct ofs_buf *out, struct ofs_error *err)
{
	return tree_encode(t, out, node_put, err);
}

int
ofs_tree_encode_json(struct ofs_tree *t, struct ofs_buf *out, struct ofs_error *err)
{
	return tree_encode(t, out, node_put_json, err);
}

/* For the streaming encoder (lib/tree_enc.c): the same node bytes, checks and version. */
const int ofs_tree_version = TREE_VERSION;

int
ofs_tree_node_put(const struct ofs_node *n, struct ofs_buf *b)
{
	return node_put(n, b);
}

int
ofs_tree_node_check(const struct ofs_node *n, char *why, size_t whysz)
{
	return node_check(n, why, whysz);
}

/* ---- decoding: the strict field readers (shared with lib/snapshot.c) ---- */

int
ofs_tree_bad(struct ofs_tree_dctx *d, const char *field, const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (d->idx == (size_t)-1)
		return ofs_err_set(d->err, OFS_ERR_CORRUPT, "malformed %s: field '%s': %s", d->what,
		    field, detail);
	return ofs_err_set(d->err, OFS_ERR_CORRUPT, "malformed %s: node %zu%s%s%s: field '%s': %s",
	    d->what, d->idx, d->name[0] ? " ('" : "", d->name, d->name[0] ? "')" : "", field,
	    detail);
}

int
ofs_tree_get_int(struct ofs_tree_dctx *d, json_t *o, const char *key, int required,
    int64_t lo, int64_t hi, int64_t *v)
{
	json_t *j = json_object_get(o, key);

	*v = 0;
	if (j == NULL) {
		if (required)
			return ofs_tree_bad(d, key, "missing");
		return 0;
	}
	if (!json_is_integer(j))
		return ofs_tree_bad(d, key, "not an integer");
	*v = json_integer_value(j);
	if (*v < lo || *v > hi)
		return ofs_tree_bad(d, key, "%lld out of range", (long long)*v);
	return 0;
}

/* "key" (UTF-8 string) or "key_b64". Exactly one unless optional. */
static int
get_bytes(struct ofs_tree_dctx *d, json_t *o, const char *key, int required, uint8_t **p, size_t *n)
{
	char k64[32];
	json_t *s, *b;

	*p = NULL;
	*n = 0;
	snprintf(k64, sizeof(k64), "%s_b64", key);
	s = json_object_get(o, key);
	b = json_object_get(o, k64);
	if (s != NULL && b != NULL)
		return ofs_tree_bad(d, key, "both '%s' and '%s'", key, k64);
	if (s == NULL && b == NULL)
		return required ? ofs_tree_bad(d, key, "missing") : 0;
	if (s != NULL) {
		if (!json_is_string(s))
			return ofs_tree_bad(d, key, "not a string");
		*n = json_string_length(s);
		*p = ofs_xmalloc(*n + 1);
		memcpy(*p, json_string_value(s), *n);
		(*p)[*n] = 0;
		return 0;
	}
	if (!json_is_string(b) || ofs_tree_b64_decode(json_string_value(b),
	    json_string_length(b), p, n) != 0)
		return ofs_tree_bad(d, k64, "not valid base64");
	return 0;
}

int
ofs_tree_get_id(struct ofs_tree_dctx *d, json_t *j, const char *field, uint8_t *id, size_t n)
{
	if (!json_is_string(j) || json_string_length(j) != 2 * n ||
	    ofs_unhex(json_string_value(j), id, n) != 0)
		return ofs_tree_bad(d, field, "not a %zu-character hex id", 2 * n);
	return 0;
}

int
ofs_tree_get_str(struct ofs_tree_dctx *d, json_t *o, const char *key, char **out)
{
	json_t *j = json_object_get(o, key);

	*out = NULL;
	if (j == NULL)
		return 0;
	if (!json_is_string(j))
		return ofs_tree_bad(d, key, "not a string");
	if (strlen(json_string_value(j)) != json_string_length(j))
		return ofs_tree_bad(d, key, "contains NUL");
	*out = ofs_xstrdup(json_string_value(j));
	return 0;
}

/* In the order JSON_SORT_KEYS writes them (enum node_key follows it). */
static const struct ofs_key node_keys[] = {
	{ "atime", 0 }, { "content", 0 }, { "ctime", 0 }, { "device", 0 }, { "flags", 0 },
	{ "gid", 0 }, { "group", 0 }, { "inode", 0 }, { "links", 0 }, { "mode", 0 },
	{ "mtime", 0 }, { "name", 0 }, { "name_b64", 0 }, { "rdev", 0 }, { "size", 0 },
	{ "sparse", 0 }, { "subtree", 0 }, { "target", 0 }, { "target_b64", 0 }, { "type", 0 },
	{ "uid", 0 }, { "user", 0 }, { "xattrs", 0 }, { NULL, 0 }
};

enum node_key {
	K_ATIME, K_CONTENT, K_CTIME, K_DEVICE, K_FLAGS, K_GID, K_GROUP, K_INODE, K_LINKS, K_MODE,
	K_MTIME, K_NAME, K_NAME_B64, K_RDEV, K_SIZE, K_SPARSE, K_SUBTREE, K_TARGET, K_TARGET_B64,
	K_TYPE, K_UID, K_USER, K_XATTRS, K_COUNT
};

int
ofs_tree_known_keys(struct ofs_tree_dctx *d, json_t *o, const struct ofs_key *keys)
{
	const char *unknown;

	if (ofs_json_keys_check(o, keys, &unknown, NULL) != 0)
		return ofs_tree_bad(d, unknown, "unknown field");
	return 0;
}

static int
node_from_json(struct ofs_tree_dctx *d, json_t *o, struct ofs_node *n)
{
	json_t *j, *e;
	int64_t v;
	size_t i;
	int r;

	if (!json_is_object(o))
		return ofs_tree_bad(d, "node", "not an object");
	if ((r = get_bytes(d, o, "name", 1, &n->name, &n->namelen)) != 0)
		return r;
	ofs_tree_name_for_msg(n->name, n->namelen, d->name, sizeof(d->name));
	if (!ofs_name_ok(n->name, n->namelen))
		return ofs_tree_bad(d, "name", "not an acceptable file name");
	if ((r = ofs_tree_known_keys(d, o, node_keys)) != 0)
		return r;
	j = json_object_get(o, "type");
	if (!json_is_string(j) || (n->type = type_from_name(json_string_value(j))) == 0)
		return ofs_tree_bad(d, "type", "missing or unknown");
	if ((r = ofs_tree_get_int(d, o, "mode", 1, 0, 07777, &v)) != 0)
		return r;
	n->mode = (uint32_t)v;
	if ((r = ofs_tree_get_int(d, o, "uid", 0, 0, UINT32_MAX, &v)) != 0)
		return r;
	n->uid = (uint32_t)v;
	if ((r = ofs_tree_get_int(d, o, "gid", 0, 0, UINT32_MAX, &v)) != 0)
		return r;
	n->gid = (uint32_t)v;
	if ((r = ofs_tree_get_str(d, o, "user", &n->user)) != 0 ||
	    (r = ofs_tree_get_str(d, o, "group", &n->group)) != 0)
		return r;
	if ((r = ofs_tree_get_int(d, o, "size", 0, 0, INT64_MAX, &v)) != 0)
		return r;
	n->size = (uint64_t)v;
	if ((r = ofs_tree_get_int(d, o, "mtime", 0, INT64_MIN, INT64_MAX, &n->mtime_ns)) != 0 ||
	    (r = ofs_tree_get_int(d, o, "atime", 0, INT64_MIN, INT64_MAX, &n->atime_ns)) != 0 ||
	    (r = ofs_tree_get_int(d, o, "ctime", 0, INT64_MIN, INT64_MAX, &n->ctime_ns)) != 0)
		return r;
	if ((r = ofs_tree_get_int(d, o, "inode", 0, INT64_MIN, INT64_MAX, &v)) != 0)
		return r;
	n->ino = (uint64_t)v;
	if ((r = ofs_tree_get_int(d, o, "device", 0, INT64_MIN, INT64_MAX, &v)) != 0)
		return r;
	n->dev = (uint64_t)v;
	if ((r = ofs_tree_get_int(d, o, "links", 0, 0, INT64_MAX, &v)) != 0)
		return r;
	n->nlink = (uint64_t)v;
	if ((r = ofs_tree_get_int(d, o, "flags", 0, 0, OFS_NODE_CHANGED, &v)) != 0)
		return r;
	n->flags = (uint32_t)v;

	if (n->type == OFS_NODE_SYMLINK) {
		if ((r = get_bytes(d, o, "target", 1, &n->target, &n->targetlen)) != 0)
			return r;
		if (n->targetlen == 0 || memchr(n->target, '\0', n->targetlen) != NULL)
			return ofs_tree_bad(d, "target", "empty or contains NUL");
	} else if (json_object_get(o, "target") || json_object_get(o, "target_b64")) {
		return ofs_tree_bad(d, "target", "only symlinks have a target");
	}
	if (n->type == OFS_NODE_CHR || n->type == OFS_NODE_BLK) {
		if ((r = ofs_tree_get_int(d, o, "rdev", 1, INT64_MIN, INT64_MAX, &v)) != 0)
			return r;
		n->rdev = (uint64_t)v;
	} else if (json_object_get(o, "rdev") != NULL) {
		return ofs_tree_bad(d, "rdev", "only device nodes have rdev");
	}

	if ((j = json_object_get(o, "xattrs")) != NULL) {
		if (!json_is_array(j))
			return ofs_tree_bad(d, "xattrs", "not an array");
		n->xattrs = ofs_xcalloc(json_array_size(j) + 1, sizeof(*n->xattrs));
		json_array_foreach(j, i, e) {
			json_t *xn = json_object_get(e, "name"), *xv = json_object_get(e, "value_b64");
			struct ofs_xattr *x = &n->xattrs[i];

			if (!json_is_object(e) || json_object_size(e) != 2 || !json_is_string(xn) ||
			    !json_is_string(xv))
				return ofs_tree_bad(d, "xattrs", "entry %zu is not {name, "
				    "value_b64}", i);
			if (json_string_length(xn) == 0 || json_string_length(xn) > XATTR_NAME_MAX ||
			    strlen(json_string_value(xn)) != json_string_length(xn))
				return ofs_tree_bad(d, "xattrs", "entry %zu has a bad name", i);
			x->name = ofs_xstrdup(json_string_value(xn));
			n->nxattrs = i + 1;
			if (ofs_tree_b64_decode(json_string_value(xv), json_string_length(xv),
			    &x->value, &x->len) != 0 || x->len > XATTR_VALUE_MAX)
				return ofs_tree_bad(d, "xattrs", "entry %zu value is not valid "
				    "base64", i);
			for (size_t k = 0; k < i; k++)
				if (strcmp(n->xattrs[k].name, x->name) == 0)
					return ofs_tree_bad(d, "xattrs", "duplicate name '%s'",
					    x->name);
		}
	}

	j = json_object_get(o, "content");
	if (n->type == OFS_NODE_FILE) {
		if (j != NULL) {
			if (!json_is_array(j))
				return ofs_tree_bad(d, "content", "not an array");
			n->nchunks = json_array_size(j);
			n->chunks = ofs_xcalloc(n->nchunks + 1, OFS_ID_LEN);
			json_array_foreach(j, i, e)
				if ((r = ofs_tree_get_id(d, e, "content", n->chunks[i],
				    OFS_ID_LEN)) != 0)
					return r;
		}
	} else if (j != NULL) {
		return ofs_tree_bad(d, "content", "only files have content");
	}

	j = json_object_get(o, "sparse");
	if (j != NULL) {
		uint64_t end = 0;

		if (n->type != OFS_NODE_FILE)
			return ofs_tree_bad(d, "sparse", "only files are sparse");
		if (!json_is_array(j))
			return ofs_tree_bad(d, "sparse", "not an array");
		n->sparse = 1;
		n->nextents = json_array_size(j);
		n->extents = ofs_xcalloc(n->nextents + 1, sizeof(*n->extents));
		json_array_foreach(j, i, e) {
			json_t *a = json_array_get(e, 0), *b = json_array_get(e, 1);
			json_int_t off, len;

			if (!json_is_array(e) || json_array_size(e) != 2 || !json_is_integer(a) ||
			    !json_is_integer(b))
				return ofs_tree_bad(d, "sparse", "extent %zu is not [offset, "
				    "length]", i);
			off = json_integer_value(a);
			len = json_integer_value(b);
			if (off < 0 || len <= 0 || (uint64_t)off < end || (uint64_t)off > n->size ||
			    (uint64_t)len > n->size - (uint64_t)off)
				return ofs_tree_bad(d, "sparse", "extent %zu [%lld, %lld] "
				    "overlaps, is unsorted, empty or outside size %" PRIu64, i,
				    (long long)off, (long long)len, n->size);
			n->extents[i].off = (uint64_t)off;
			n->extents[i].len = (uint64_t)len;
			end = (uint64_t)off + (uint64_t)len;
		}
	}

	j = json_object_get(o, "subtree");
	if (n->type == OFS_NODE_DIR) {
		if (j == NULL)
			return ofs_tree_bad(d, "subtree", "missing");
		if ((r = ofs_tree_get_id(d, j, "subtree", n->subtree, OFS_ID_LEN)) != 0)
			return r;
		n->has_subtree = 1;
	} else if (j != NULL) {
		return ofs_tree_bad(d, "subtree", "only directories have a subtree");
	}
	return 0;
}

/* ---- the plain form, read without jansson ----
 * offseed writes trees as compact JSON with sorted keys, and nearly all their strings need
 * no escape. A tree in exactly that plain form (no whitespace, no backslash or control
 * character in any string, the top level {"nodes":[…],"version":1}, each xattr as
 * {"name":…,"value_b64":…}) is parsed here straight into nodes, under the same checks as
 * node_from_json. Anything else, every malformed tree included, is declined and goes to
 * the jansson decoder, which accepts it or words the error. fuzz_tree checks that what
 * this path accepts decodes to the same tree through jansson. */

struct plain {
	const uint8_t *p, *end;
};

static int
pl_char(struct plain *l, char c)
{
	if (l->p == l->end || *l->p != (uint8_t)c)
		return 0;
	l->p++;
	return 1;
}

static int
pl_lit(struct plain *l, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(l->end - l->p) < n || memcmp(l->p, s, n) != 0)
		return 0;
	l->p += n;
	return 1;
}

/* A string with no escape or control character and valid UTF-8 (what jansson would
 * accept and return unchanged): its bytes, in place. */
static int
pl_str(struct plain *l, const uint8_t **s, size_t *n)
{
	const uint8_t *q;
	uint8_t high = 0;

	if (!pl_char(l, '"'))
		return 0;
	for (q = l->p; q < l->end && *q != '"'; q++) {
		if (*q < 0x20 || *q == '\\')
			return 0;
		high |= *q;
	}
	if (q == l->end || ((high & 0x80) && !ofs_text_utf8_ok(l->p, (size_t)(q - l->p))))
		return 0;
	*s = l->p;
	*n = (size_t)(q - l->p);
	l->p = q + 1;
	return 1;
}

/* A 64-hex-digit id in quotes. */
static int
pl_id(struct plain *l, uint8_t id[OFS_ID_LEN])
{
	if (l->end - l->p < 2 * OFS_ID_LEN + 2 || l->p[0] != '"' || l->p[2 * OFS_ID_LEN + 1] != '"' ||
	    ofs_unhexn((const char *)l->p + 1, 2 * OFS_ID_LEN, id, OFS_ID_LEN) != 0)
		return 0;
	l->p += 2 * OFS_ID_LEN + 2;
	return 1;
}

/* A JSON integer that fits int64_t (jansson's integer: no fraction, exponent or leading
 * zero). */
static int
pl_int(struct plain *l, int64_t *v)
{
	int neg = pl_char(l, '-');
	const uint8_t *d = l->p;
	uint64_t u = 0;

	while (l->p < l->end && *l->p >= '0' && *l->p <= '9' && l->p - d < 19)
		u = u * 10 + (uint64_t)(*l->p++ - '0');
	if (l->p == d || (d[0] == '0' && l->p - d > 1) || u > (uint64_t)INT64_MAX + (uint64_t)neg)
		return 0;
	if (l->p < l->end && (*l->p == '.' || *l->p == 'e' || *l->p == 'E' ||
	    (*l->p >= '0' && *l->p <= '9')))
		return 0;
	*v = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 1;
}

/* "key": — the index of a node key, looked up from `from` on (the next key in sorted
 * order), or -1. */
static int
pl_key(struct plain *l, int from)
{
	const uint8_t *s;
	size_t n;

	if (!pl_str(l, &s, &n) || !pl_char(l, ':'))
		return -1;
	for (int i = 0; i < K_COUNT; i++) {
		int k = (from + i) % K_COUNT;

		if (strncmp(node_keys[k].name, (const char *)s, n) == 0 &&
		    node_keys[k].name[n] == '\0')
			return k;
	}
	return -1;
}

/* An array being read: room for element n (doubling; one spare element, as the jansson
 * decoder allocates, so an empty array is still a non-NULL one). */
static void *
pl_room(void *a, size_t n, size_t *cap, size_t size)
{
	if (a == NULL || n == *cap) {
		*cap = a == NULL ? 4 : *cap * 2;
		a = ofs_xreallocarray(a, *cap + 1, size);
		memset((char *)a + n * size, 0, (*cap + 1 - n) * size);
	}
	return a;
}

static int
pl_content(struct plain *l, struct ofs_node *n)
{
	size_t cap = 0;

	if (!pl_char(l, '['))
		return 0;
	n->chunks = pl_room(NULL, 0, &cap, OFS_ID_LEN);
	if (pl_char(l, ']'))
		return 1;
	do {
		n->chunks = pl_room(n->chunks, n->nchunks, &cap, OFS_ID_LEN);
		if (!pl_id(l, n->chunks[n->nchunks]))
			return 0;
		n->nchunks++;
	} while (pl_char(l, ','));
	return pl_char(l, ']');
}

/* [[offset,length],…] with offset >= 0 and length > 0; order and size are checked once
 * the node is read. */
static int
pl_sparse(struct plain *l, struct ofs_node *n)
{
	size_t cap = 0;

	if (!pl_char(l, '['))
		return 0;
	n->sparse = 1;
	n->extents = pl_room(NULL, 0, &cap, sizeof(*n->extents));
	if (pl_char(l, ']'))
		return 1;
	do {
		int64_t off, len;

		n->extents = pl_room(n->extents, n->nextents, &cap, sizeof(*n->extents));
		if (!pl_char(l, '[') || !pl_int(l, &off) || !pl_char(l, ',') || !pl_int(l, &len) ||
		    !pl_char(l, ']') || off < 0 || len <= 0)
			return 0;
		n->extents[n->nextents].off = (uint64_t)off;
		n->extents[n->nextents++].len = (uint64_t)len;
	} while (pl_char(l, ','));
	return pl_char(l, ']');
}

static int
pl_xattrs(struct plain *l, struct ofs_node *n)
{
	size_t cap = 0;

	if (!pl_char(l, '['))
		return 0;
	n->xattrs = pl_room(NULL, 0, &cap, sizeof(*n->xattrs));
	if (pl_char(l, ']'))
		return 1;
	do {
		struct ofs_xattr *x;
		const uint8_t *name, *val;
		size_t namelen, vallen;

		n->xattrs = pl_room(n->xattrs, n->nxattrs, &cap, sizeof(*n->xattrs));
		if (!pl_lit(l, "{\"name\":") || !pl_str(l, &name, &namelen) ||
		    !pl_lit(l, ",\"value_b64\":") || !pl_str(l, &val, &vallen) || !pl_char(l, '}') ||
		    namelen == 0 || namelen > XATTR_NAME_MAX)
			return 0;
		x = &n->xattrs[n->nxattrs];
		x->name = ofs_xstrndup((const char *)name, namelen);
		n->nxattrs++;
		if (ofs_tree_b64_decode((const char *)val, vallen, &x->value, &x->len) != 0 ||
		    x->len > XATTR_VALUE_MAX)
			return 0;
		for (size_t k = 0; k + 1 < n->nxattrs; k++)
			if (strcmp(n->xattrs[k].name, x->name) == 0)
				return 0;
	} while (pl_char(l, ','));
	return pl_char(l, ']');
}

/* Name or target bytes: "key" as is, or "key_b64" decoded (one of them, never both). */
static int
pl_bytes(uint32_t have, int key, int key64, const uint8_t *const *s, const size_t *sn,
    uint8_t **out, size_t *outlen)
{
	int plain = have >> key & 1, b64 = have >> key64 & 1;

	if (plain == b64)
		return 0;
	if (plain) {
		*out = (uint8_t *)ofs_xstrndup((const char *)s[key], sn[key]);
		*outlen = sn[key];
		return 1;
	}
	return ofs_tree_b64_decode((const char *)s[key64], sn[key64], out, outlen) == 0;
}

/* The checks of node_from_json on the values read. */
static int
pl_node_ok(struct ofs_node *n, uint32_t have, const uint8_t *const *s, const size_t *sn,
    const int64_t *iv)
{
#define HAS(k) (have >> (k) & 1)
	uint64_t end = 0;

	if (!pl_bytes(have, K_NAME, K_NAME_B64, s, sn, &n->name, &n->namelen) ||
	    !ofs_name_ok(n->name, n->namelen))
		return 0;
	if (!HAS(K_TYPE) || (n->type = ofs_tree_type_from_span(s[K_TYPE], sn[K_TYPE])) == 0)
		return 0;
	if (!HAS(K_MODE) || iv[K_MODE] < 0 || iv[K_MODE] > 07777 ||
	    iv[K_UID] < 0 || iv[K_UID] > UINT32_MAX || iv[K_GID] < 0 || iv[K_GID] > UINT32_MAX ||
	    iv[K_SIZE] < 0 || iv[K_LINKS] < 0 || iv[K_FLAGS] < 0 ||
	    iv[K_FLAGS] > OFS_NODE_CHANGED)
		return 0;
	n->mode = (uint32_t)iv[K_MODE];
	n->uid = (uint32_t)iv[K_UID];
	n->gid = (uint32_t)iv[K_GID];
	n->size = (uint64_t)iv[K_SIZE];
	n->mtime_ns = iv[K_MTIME];
	n->atime_ns = iv[K_ATIME];
	n->ctime_ns = iv[K_CTIME];
	n->ino = (uint64_t)iv[K_INODE];
	n->dev = (uint64_t)iv[K_DEVICE];
	n->nlink = (uint64_t)iv[K_LINKS];
	n->flags = (uint32_t)iv[K_FLAGS];
	if (HAS(K_USER))
		n->user = ofs_xstrndup((const char *)s[K_USER], sn[K_USER]);
	if (HAS(K_GROUP))
		n->group = ofs_xstrndup((const char *)s[K_GROUP], sn[K_GROUP]);
	if (n->type == OFS_NODE_SYMLINK) {
		if (!pl_bytes(have, K_TARGET, K_TARGET_B64, s, sn, &n->target, &n->targetlen) ||
		    n->targetlen == 0 || memchr(n->target, '\0', n->targetlen) != NULL)
			return 0;
	} else if (HAS(K_TARGET) || HAS(K_TARGET_B64)) {
		return 0;
	}
	if ((n->type == OFS_NODE_CHR || n->type == OFS_NODE_BLK) != !!HAS(K_RDEV))
		return 0;
	n->rdev = (uint64_t)iv[K_RDEV];
	if (n->type != OFS_NODE_FILE && (HAS(K_CONTENT) || HAS(K_SPARSE)))
		return 0;
	for (size_t i = 0; i < n->nextents; i++) {
		const struct ofs_extent *e = &n->extents[i];

		if (e->off < end || e->off > n->size || e->len > n->size - e->off)
			return 0;
		end = e->off + e->len;
	}
	if ((n->type == OFS_NODE_DIR) != !!HAS(K_SUBTREE))
		return 0;
	n->has_subtree = n->type == OFS_NODE_DIR;
	return 1;
#undef HAS
}

static int
pl_node(struct plain *l, struct ofs_node *n)
{
	const uint8_t *s[K_COUNT] = { 0 };
	size_t sn[K_COUNT] = { 0 };
	int64_t iv[K_COUNT] = { 0 };
	uint32_t have = 0;
	int k = -1, ok;

	if (!pl_char(l, '{'))
		return 0;
	do {
		if ((k = pl_key(l, k + 1)) < 0 || (have >> k & 1))
			return 0;
		have |= 1u << k;
		switch (k) {
		case K_CONTENT:
			ok = pl_content(l, n);
			break;
		case K_SPARSE:
			ok = pl_sparse(l, n);
			break;
		case K_XATTRS:
			ok = pl_xattrs(l, n);
			break;
		case K_SUBTREE:
			ok = pl_id(l, n->subtree);
			break;
		case K_NAME: case K_NAME_B64: case K_TYPE: case K_USER: case K_GROUP:
		case K_TARGET: case K_TARGET_B64:
			ok = pl_str(l, &s[k], &sn[k]);
			break;
		default:
			ok = pl_int(l, &iv[k]);
			break;
		}
		if (!ok)
			return 0;
	} while (pl_char(l, ','));
	return pl_char(l, '}') && pl_node_ok(n, have, s, sn, iv);
}

int
ofs_tree_plain_node(const uint8_t *p, size_t len, struct ofs_node *n)
{
	struct plain l = { p, p + len };

	return pl_node(&l, n) && l.p == l.end;
}

int
ofs_tree_decode_plain(const uint8_t *p, size_t len, struct ofs_tree *t)
{
	struct plain l = { p, p + len };

	ofs_tree_init(t);
	if (len > OFS_TREE_MAX || !pl_lit(&l, "{\"nodes\":["))
		return -1;
	if (!pl_char(&l, ']')) {
		do {
			struct ofs_node *n = ofs_tree_add(t);

			if (!pl_node(&l, n) ||
			    (t->n > 1 && ofs_tree_node_cmp(&t->nodes[t->n - 2], n) >= 0))
				goto decline;
		} while (pl_char(&l, ','));
		if (!pl_char(&l, ']'))
			goto decline;
	}
	if (!pl_lit(&l, ",\"version\":1}") || l.p != l.end)
		goto decline;
	return 0;
decline:
	ofs_tree_release(t);
	return -1;
}

static int
tree_decode(const uint8_t *p, size_t len, const char *what, struct ofs_tree *t,
    struct ofs_error *err)
{
	struct ofs_tree_dctx d = { what ? what : "tree", (size_t)-1, "", err };
	json_error_t jerr;
	json_t *root = NULL, *nodes, *e;
	int64_t v;
	size_t i;
	int r = 0;

	ofs_tree_init(t);
	if (len > OFS_TREE_MAX)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "malformed %s: %zu bytes is too large",
		    d.what, len);
	if ((root = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "malformed %s: byte %d: %s", d.what,
		    jerr.position, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		r = ofs_tree_bad(&d, "(top)", "not an object");
		goto out;
	}
	if ((r = ofs_tree_get_int(&d, root, "version", 1, 0, INT64_MAX, &v)) != 0)
		goto out;
	if (v != TREE_VERSION) {
		r = ofs_err_set(err, OFS_ERR_VERSION, "%s has tree format version %lld, this "
		    "offseed reads version %d", d.what, (long long)v, TREE_VERSION);
		goto out;
	}
	nodes = json_object_get(root, "nodes");
	if (!json_is_array(nodes) || json_object_size(root) != 2) {
		r = ofs_tree_bad(&d, "nodes", "missing, not an array, or extra top-level fields");
		goto out;
	}
	t->cap = json_array_size(nodes);
	t->nodes = ofs_xcalloc(t->cap + 1, sizeof(*t->nodes));
	json_array_foreach(nodes, i, e) {
		d.idx = i;
		d.name[0] = '\0';
		t->n = i + 1;
		if ((r = node_from_json(&d, e, &t->nodes[i])) != 0)
			goto out;
		if (i > 0) {
			int c = ofs_tree_node_cmp(&t->nodes[i - 1], &t->nodes[i]);
			if (c == 0) {
				r = ofs_tree_bad(&d, "name", "duplicate name");
				goto out;
			}
			if (c > 0) {
				r = ofs_tree_bad(&d, "name", "nodes not sorted by name");
				goto out;
			}
		}
	}
out:
	json_decref(root);
	if (r != 0)
		ofs_tree_release(t);
	return r;
}

int
ofs_tree_decode_json(const uint8_t *p, size_t len, const char *what, struct ofs_tree *t,
    struct ofs_error *err)
{
	int entered = ofs_arena_enter(), r;

	r = tree_decode(p, len, what, t, err);
	if (entered)
		ofs_arena_leave();
	return r;
}

int
ofs_tree_decode(const uint8_t *p, size_t len, const char *what, struct ofs_tree *t,
    struct ofs_error *err)
{
	if (ofs_tree_decode_plain(p, len, t) == 0)
		return 0;
	return ofs_tree_decode_json(p, len, what, t, err);
}
