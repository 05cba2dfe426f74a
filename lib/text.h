/* The one strict layer for text from outside: hex and base64, UTF-8 and printable strings,
 * the keys a JSON object may hold, percent-escapes and RFC 3339 times. Every codec uses these, so two
 * parsers of similar files cannot drift apart. */
#ifndef OFS_TEXT_H
#define OFS_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct json_t;		/* jansson's; only pointers here, so no <jansson.h> for every user */

/* ---- hex and base64 ---- */

/* Lower-case hex of n bytes into out (2n+1 bytes incl. NUL). */
void ofs_hex(const uint8_t *p, size_t n, char *out);
/* Value of one hex digit (either case), or -1. */
int ofs_hexval(int c);
/* Parse exactly 2n hex digits of either case (the string s, or its first len bytes) into
 * out (n bytes). Returns 0, or -1 for another length or a non-hex byte (out may then be
 * partly written). For names on disk, which a listing skips when they are not an id. */
int ofs_unhex(const char *s, uint8_t *out, size_t n);
int ofs_unhexn(const char *s, size_t len, uint8_t *out, size_t n);
/* The same for the documents offseed defines as lower-case hex (FORMAT.md §2): exactly 2n
 * of [0-9a-f] in s[0..len), else -1. out may be NULL to check only. */
int ofs_unhex_lower(const char *s, size_t len, uint8_t *out, size_t n);
/* 1 when the NUL-terminated s is exactly n lower-case hex digits, else 0. */
int ofs_is_hex_lower(const char *s, size_t n);
/* Standard base64 (RFC 4648 alphabet) with padding of n bytes; returns an owned
 * NUL-terminated string. The strict decoders stay with their formats (tree names and
 * targets, key slots, Azure keys). */
char *ofs_b64_encode(const uint8_t *p, size_t n);

/* ---- UTF-8 and printable strings ---- */

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF): 1 or 0. */
int ofs_text_utf8_ok(const uint8_t *p, size_t n);

/* 1 when the byte c is a C0 control (U+0000–U+001F) or DEL, else 0: what
 * ofs_text_check refuses as OFS_TEXT_CONTROL (C1 aside), and the bytes every rendering of
 * a name for a terminal or a message escapes. */
static inline int ofs_text_is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

/* Why ofs_text_check refused a string; 0 is fine. The values are stable (tests name them). */
enum ofs_text_why {
	OFS_TEXT_OK = 0,
	OFS_TEXT_EMPTY,		/* no bytes, with OFS_TEXT_NONEMPTY */
	OFS_TEXT_TOO_LONG,	/* more than max bytes */
	OFS_TEXT_NUL,		/* a NUL byte inside (JSON's \u0000) */
	OFS_TEXT_CONTROL,	/* C0 (U+0000–U+001F) or DEL; C1 too with OFS_TEXT_NO_C1 */
	OFS_TEXT_UTF8,		/* not valid UTF-8 */
};
#define OFS_TEXT_NONEMPTY 1u	/* refuse "" */
#define OFS_TEXT_NO_C1 2u	/* refuse C1 controls U+0080–U+009F as well */

/* Check the n bytes at s as printable text: at most max bytes, no NUL, no control
 * character, valid UTF-8 (checked only when a byte ≥ 0x80 is present). Returns OFS_TEXT_OK
 * or the first reason found, in this order: empty, too long, NUL, C0/DEL, UTF-8, C1.
 * Never allocates. */
enum ofs_text_why ofs_text_check(const char *s, size_t n, size_t max, unsigned flags);
/* The reason in words ("holds a control character"), for messages. */
const char *ofs_text_why_str(enum ofs_text_why why);
/* Copy at most dstsz-1 bytes of s (n bytes, or up to its NUL when shorter) into dst,
 * NUL-terminated, with C0 controls and DEL replaced by '?': a string from outside made safe
 * for a message. dstsz ≥ 1. */
void ofs_text_clean(char *dst, size_t dstsz, const char *s, size_t n);

/* Append s as a JSON string: '"' and '\' escaped, C0 controls and DEL as \u00xx. The
 * caller checks s first (ofs_text_check). Returns 0, or OFS_ERR_LIMIT when b's maximum
 * was reached (or b was marked before). */
__attribute__((warn_unused_result))
int ofs_json_quote(struct ofs_buf *b, const char *s);

/* ---- known keys ---- */

/* A key a JSON object may hold. A table ends with { NULL, 0 }. */
struct ofs_key {
	const char *name;
	unsigned flags;		/* OFS_KEY_REQUIRED or 0 */
};
#define OFS_KEY_REQUIRED 1u

/* Index in keys of the key k (n bytes, may hold NUL), or -1. */
int ofs_key_find(const struct ofs_key *keys, const char *k, size_t n);
/* Check a jansson object's keys against the table: 0 when every key is listed and every
 * required one is present. Else -1 with *unknown set to the first key not listed (in the
 * object's order; a key holding NUL counts as not listed), or, when all are listed and
 * missing is not NULL, *missing set to the first required key absent (table order). Pass
 * missing NULL to check only for unknown keys (the caller then reports absent fields
 * itself, in its own order). */
int ofs_json_keys_check(const struct json_t *o, const struct ofs_key *keys,
    const char **unknown, const char **missing);

/* ---- percent-escapes ---- */

/* Decode the percent-escaped form of a name: "%XX" (two hex digits, either case) is that
 * byte, any other byte stands for itself. Strict: a '%' without two hex digits after it,
 * or %00, fails. Returns the owned NUL-terminated bytes (*len, may be NULL, gets their
 * count), or NULL. */
char *ofs_percent_decode(const char *s, size_t *len);
/* The one percent-decoder the others are made of: decode the n bytes at s, appending to
 * out. Every '%' must start %XX with two hex digits of either case. flags:
 * OFS_PCT_NO_NUL refuses %00 (for names that become C strings); OFS_PCT_PLUS_SPACE reads
 * '+' as a space (application/x-www-form-urlencoded). Returns 0; -1 on a bad escape or a
 * refused %00; OFS_ERR_LIMIT when out reaches its maximum (nothing is ever cut). */
#define OFS_PCT_NO_NUL 1u
#define OFS_PCT_PLUS_SPACE 2u
OFS_BUF_MUST int ofs_percent_decode_span(const char *s, size_t n, unsigned flags,
    struct ofs_buf *out);
/* The escaped form copy logs use: bytes < 0x20, 0x7f, '%' and ≥ 0x80 as upper-case %XX,
 * the others as they are. Returns an owned string; ofs_percent_decode gives s back. */
char *ofs_percent_encode(const char *s);
/* A name fit for a terminal, a message or a JSON string, owned: a copy of s when it is
 * valid UTF-8 without control characters (C0, DEL, C1), else ofs_percent_encode(s). */
char *ofs_name_shown(const char *s);

/* ---- RFC 3339 times ---- */

/* Strict RFC 3339: YYYY-MM-DDTHH:MM:SS, an optional fraction of 1–9 digits, then Z or
 * ±HH:MM ('t' and 'z' in lower case too). Month days as in the calendar, hours 00–23,
 * minutes 00–59, seconds 00–60 (a leap second counts as :00 of the next minute), offsets
 * up to ±23:59. Returns 0 with *unix_sec (and *nsec, may be NULL, the fraction in
 * nanoseconds), or -1. With OFS_TIME_UTC only Z is accepted. */
#define OFS_TIME_UTC 1u
int ofs_time_parse(const char *s, unsigned flags, int64_t *unix_sec, int32_t *nsec);
/* ofs_time_parse(s, 0, unix_sec, NULL). */
int ofs_parse_time(const char *s, int64_t *unix_sec);
/* RFC 3339 UTC with seconds, "2026-11-22T06:00:00Z". */
void ofs_fmt_time(int64_t unix_sec, char *buf, size_t bufsz);

#endif
