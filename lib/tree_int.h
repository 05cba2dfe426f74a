/* Helpers shared by lib/tree.c, lib/tree_codec.c, lib/tree_enc.c, lib/tree_read.c and
 * lib/snapshot.c only (not a public contract): strict base64, names in messages, node order
 * and type names, the encoder's parts, the strict JSON field readers behind both the tree
 * and the snapshot decoder, and the plain-form node reader the streaming reader uses. */
#ifndef OFS_TREE_INT_H
#define OFS_TREE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "text.h"
#include "tree.h"

/* Strict canonical base64 decode of slen bytes of s (padding required, unused bits zero).
 * Returns 0 with *out owned and NUL-terminated after *outlen bytes (names and targets are
 * used as C strings too), or -1 with *out NULL. */
int ofs_tree_b64_decode(const char *s, size_t slen, uint8_t **out, size_t *outlen);
/* Printable rendering of a name for messages into buf (bytes outside ASCII graphics and
 * '\\' as \xNN), NUL-terminated, cut to fit bufsz (≥ 6). */
void ofs_tree_name_for_msg(const uint8_t *p, size_t n, char *buf, size_t bufsz);
/* qsort comparator of two struct ofs_node: name bytes, a shorter prefix first. */
int ofs_tree_node_cmp(const void *a, const void *b);
/* enum ofs_node_type of the n bytes s ("file", "dir", …), or 0 when unknown. */
int ofs_tree_type_from_span(const uint8_t *s, size_t n);

/* The encoder's parts, shared with lib/tree_enc.c so that a tree written node by node is
 * byte for byte ofs_tree_encode's: the version in {"nodes":[…],"version":N}; one node's
 * JSON appended to b (0, or ofs_buf_check's code); what the decoder would refuse (0, or -1
 * with the reason in why). */
extern const int ofs_tree_version;
int ofs_tree_node_put(const struct ofs_node *n, struct ofs_buf *b);
int ofs_tree_node_check(const struct ofs_node *n, char *why, size_t whysz);

/* Where a decoder is, for its messages: the object (`what`), the node index ((size_t)-1
 * outside the node list) and the node's printable name ("" until known). */
struct ofs_tree_dctx {
	const char *what;
	size_t idx;
	char name[96];
	struct ofs_error *err;
};

/* Set OFS_ERR_CORRUPT "malformed WHAT: [node N ('NAME'): ]field 'FIELD': DETAIL" in d->err
 * and return it. */
int ofs_tree_bad(struct ofs_tree_dctx *d, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The readers below return 0, or ofs_tree_bad's code naming the field. */
/* Integer o[key] in [lo, hi] into *v (0 when absent and not required). */
int ofs_tree_get_int(struct ofs_tree_dctx *d, json_t *o, const char *key, int required,
    int64_t lo, int64_t hi, int64_t *v);
/* String o[key] without NUL into *out (owned; NULL when absent). */
int ofs_tree_get_str(struct ofs_tree_dctx *d, json_t *o, const char *key, char **out);
/* j as 2n lower- or upper-case hex digits into id[0..n); field names j in messages. */
int ofs_tree_get_id(struct ofs_tree_dctx *d, json_t *j, const char *field, uint8_t *id,
    size_t n);
/* Every key of object o is listed in keys (text.h's table, ending with { NULL, 0 }; the
 * OFS_KEY_REQUIRED flags are not looked at: each decoder reports an absent field itself).
 * The first key not listed, in the object's order, is the "unknown field". */
int ofs_tree_known_keys(struct ofs_tree_dctx *d, json_t *o, const struct ofs_key *keys);
/* n (≤ OFS_ID_LEN) bytes of id as a new JSON string of lower-case hex (a new reference). */
json_t *ofs_tree_hex_id(const uint8_t *id, size_t n);

/* The plain form's frame around the nodes (what ofs_tree_decode_plain reads first and
 * last), for the streaming reader (lib/tree_read.c). */
#define OFS_TREE_PLAIN_HEAD "{\"nodes\":["
#define OFS_TREE_PLAIN_TAIL ",\"version\":1}"
/* One node of the plain form, exactly the len bytes at p ('{' … '}'), read as
 * ofs_tree_decode_plain reads it, into *n (zeroed by the caller). 1 when it is read, 0 when
 * the plain reader declines (then *n may hold parts: ofs_node_release it). */
int ofs_tree_plain_node(const uint8_t *p, size_t len, struct ofs_node *n);

#endif
