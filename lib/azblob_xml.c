/* The XML the Blob service answers with, read without an XML library: a strict finder of
 * one element and a decoder of its text (entities, character references), the List Blobs
 * <EnumerationResults> and the <Error> body of a refusal. Every length is bounded. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azblob.h"
#include "azblob_int.h"
#include "util.h"

/* Find the first <tag …>content</tag> (or <tag/>) in [p, end). 1 found, 0 absent,
 * -1 malformed (no end tag). attrs gets the start tag's attribute text. */
static int
xml_elem(const char *p, const char *end, const char *tag, const char **cs, const char **ce,
    const char **after, const char **as, const char **ae)
{
	size_t tl = strlen(tag);
	const char *q = p;

	while (q < end) {
		const char *lt = memchr(q, '<', (size_t)(end - q)), *gt, *close;
		char nx;

		if (lt == NULL || (size_t)(end - lt) < tl + 2)
			return 0;
		if (memcmp(lt + 1, tag, tl) != 0) {
			q = lt + 1;
			continue;
		}
		nx = lt[1 + tl];
		if (nx != '>' && nx != '/' && nx != ' ' && nx != '\t' && nx != '\r' && nx != '\n') {
			q = lt + 1;
			continue;
		}
		if ((gt = memchr(lt, '>', (size_t)(end - lt))) == NULL)
			return -1;
		if (as) {
			*as = lt + 1 + tl;
			*ae = gt;
		}
		if (gt[-1] == '/') {
			*cs = *ce = gt + 1;
			*after = gt + 1;
			if (as)
				*ae = gt - 1;
			return 1;
		}
		*cs = gt + 1;
		{
			char etag[80];

			if (tl + 4 > sizeof(etag))
				return -1;
			snprintf(etag, sizeof(etag), "</%s>", tag);
			close = memmem(*cs, (size_t)(end - *cs), etag, tl + 3);
		}
		if (close == NULL)
			return -1;
		*ce = close;
		*after = close + tl + 3;
		return 1;
	}
	return 0;
}

static int
utf8_put(struct ofs_buf *b, uint32_t cp)
{
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	uint8_t u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xC0 | cp >> 6);
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xE0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xF0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		n = 4;
	}
	if (n > 1)
		u[n - 1] = (uint8_t)(0x80 | (cp & 0x3F));
	return ofs_buf_add(b, u, n);	/* all or nothing: never a cut character */
}

/* Decode XML text (the five entities and character references) into b, NUL-terminated.
 * Returns 0 or -1 for a stray '<', an unknown entity or a NUL. */
static int
xml_text(const char *p, const char *end, struct ofs_buf *b)
{
	static const struct { const char *ent; char ch; } ents[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' },
	};

	while (p < end) {
		if (*p == '<' || *p == '\0')
			return -1;
		if (*p != '&') {
			if (ofs_buf_addc(b, (uint8_t)*p++) != 0)
				return -1;	/* longer than the buffer allows: never cut */
			continue;
		}
		p++;
		if (p < end && *p == '#') {
			uint32_t cp = 0;
			int hex = 0, digits = 0;

			p++;
			if (p < end && (*p == 'x' || *p == 'X')) {
				hex = 1;
				p++;
			}
			for (; p < end && *p != ';'; p++) {
				int d = hex ? (isxdigit((unsigned char)*p) ?
				    (isdigit((unsigned char)*p) ? *p - '0' : (tolower(*p) - 'a' + 10)) : -1)
				    : (isdigit((unsigned char)*p) ? *p - '0' : -1);

				if (d < 0 || ++digits > 8)
					return -1;
				cp = cp * (hex ? 16 : 10) + (uint32_t)d;
			}
			if (p >= end || digits == 0 || utf8_put(b, cp) != 0)
				return -1;
			p++;
		} else {
			size_t i, left = (size_t)(end - p);

			for (i = 0; i < OFS_ARRAY_LEN(ents); i++) {
				size_t el = strlen(ents[i].ent);

				if (left >= el && memcmp(p, ents[i].ent, el) == 0) {
					if (ofs_buf_addc(b, (uint8_t)ents[i].ch) != 0)
						return -1;
					p += el;
					break;
				}
			}
			if (i == OFS_ARRAY_LEN(ents))
				return -1;
		}
	}
	return ofs_buf_cstr(b);
}

/* Pull Code and the first line of Message out of an <Error> body. */
void
ofs_azb_error_detail(const struct ofs_buf *body, const char *hdr_code, char *code,
    size_t codesz, char *msg, size_t msgsz)
{
	const char *p = (const char *)body->data, *end = p + body->len, *cs, *ce, *af;
	struct ofs_buf t = OFS_BUF_INIT(4096);

	snprintf(code, codesz, "%s", hdr_code);
	msg[0] = '\0';
	if (p == NULL)
		return;
	if (!code[0] && xml_elem(p, end, "Code", &cs, &ce, &af, NULL, NULL) == 1 &&
	    xml_text(cs, ce, &t) == 0)
		snprintf(code, codesz, "%s", (char *)t.data);
	ofs_buf_reset(&t);
	if (xml_elem(p, end, "Message", &cs, &ce, &af, NULL, NULL) == 1 &&
	    xml_text(cs, ce, &t) == 0 && t.data) {
		char *nl = strpbrk((char *)t.data, "\r\n");

		if (nl)
			*nl = '\0';
		snprintf(msg, msgsz, "%s", (char *)t.data);
	}
	ofs_buf_release(&t);
	/* keep messages printable */
	for (char *s = code; *s; s++)
		if (iscntrl((unsigned char)*s))
			*s = '?';
	for (char *s = msg; *s; s++)
		if (iscntrl((unsigned char)*s))
			*s = '?';
}

/* ---------- List Blobs ---------- */

static int
parse_u64(const char *s, const char *e, uint64_t *out)
{
	uint64_t v = 0;

	if (s == e || e - s > 20)
		return -1;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int
parse_blob(const char *p, const char *end, struct ofs_azblob_item *it, struct ofs_error *err)
{
	const char *cs, *ce, *af, *as, *ae, *ps, *pe;
	struct ofs_buf t = OFS_BUF_INIT(4 * OFS_AZBLOB_NAME_MAX);
	int k, r = 0;

	memset(it, 0, sizeof(*it));
	if ((k = xml_elem(p, end, "Name", &cs, &ce, &af, &as, &ae)) != 1 ||
	    xml_text(cs, ce, &t) != 0 || t.len == 0) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "List Blobs: a <Blob> without a valid <Name>");
		goto out;
	}
	if (memmem(as, (size_t)(ae - as), "Encoded=\"true\"", 14) != NULL) {
		struct ofs_buf d = OFS_BUF_INIT(4 * OFS_AZBLOB_NAME_MAX);

		/* a decoded name that leaves no room for its NUL is too long: never cut */
		if (ofs_percent_decode_span((char *)t.data, t.len, OFS_PCT_NO_NUL, &d) != 0 ||
		    d.len == 0 || ofs_buf_cstr(&d) != 0) {
			ofs_buf_release(&d);
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "List Blobs: bad encoded <Name>");
			goto out;
		}
		ofs_buf_release(&t);
		t = d;
	}
	if (xml_elem(p, end, "Properties", &ps, &pe, &af, NULL, NULL) != 1) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "List Blobs: blob '%s' has no <Properties>",
		    (char *)t.data);
		goto out;
	}
	if (xml_elem(ps, pe, "Content-Length", &cs, &ce, &af, NULL, NULL) != 1 ||
	    parse_u64(cs, ce, &it->size) != 0) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "List Blobs: blob '%s' has no valid "
		    "<Content-Length>", (char *)t.data);
		goto out;
	}
	if ((k = xml_elem(ps, pe, "BlobType", &cs, &ce, &af, NULL, NULL)) == 1)
		it->type = ofs_azb_type_from_name(cs, (size_t)(ce - cs));
	else if (k < 0) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "List Blobs: malformed <BlobType>");
		goto out;
	}
	it->name = (char *)ofs_buf_detach(&t, NULL);
out:
	ofs_buf_release(&t);
	return r;
}

int
ofs_azblob_list_parse(const void *xml, size_t len, struct ofs_azblob_list *out,
    struct ofs_error *err)
{
	const char *p = xml, *end = p + len, *es, *ee, *bs, *be, *af, *ms, *me, *q;
	struct ofs_buf marker = OFS_BUF_INIT(65536);
	int k, r = 0;

	free(out->next_marker);
	out->next_marker = NULL;
	if (len == 0 || xml_elem(p, end, "EnumerationResults", &es, &ee, &af, NULL, NULL) != 1)
		return ofs_err_set(err, OFS_ERR_CORRUPT,
		    "List Blobs: the answer is not an <EnumerationResults> document");
	if ((k = xml_elem(es, ee, "Blobs", &bs, &be, &af, NULL, NULL)) < 0)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "List Blobs: malformed <Blobs>");
	if (k == 0)
		bs = be = af = es;
	/* NextMarker: after <Blobs> (where the service puts it), else before */
	k = xml_elem(af, ee, "NextMarker", &ms, &me, &q, NULL, NULL);
	if (k == 0)
		k = xml_elem(es, bs, "NextMarker", &ms, &me, &q, NULL, NULL);
	if (k < 0 || (k == 1 && xml_text(ms, me, &marker) != 0)) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "List Blobs: malformed <NextMarker>");
		goto out;
	}
	for (q = bs; q < be;) {
		const char *cs, *ce;
		struct ofs_azblob_item it;

		if ((k = xml_elem(q, be, "Blob", &cs, &ce, &af, NULL, NULL)) == 0)
			break;
		if (k < 0) {
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "List Blobs: unterminated <Blob>");
			goto out;
		}
		if ((r = parse_blob(cs, ce, &it, err)) != 0)
			goto out;
		out->items = ofs_xreallocarray(out->items, out->n + 1, sizeof(*out->items));
		out->items[out->n++] = it;
		q = af;
	}
	if (marker.len > 0)
		out->next_marker = (char *)ofs_buf_detach(&marker, NULL);
out:
	ofs_buf_release(&marker);
	return r;
}
