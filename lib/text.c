/* The strict text layer: hex and base64, UTF-8 and printable strings, known JSON keys,
 * percent-escapes and RFC 3339 times, shared by every parser of outside text (text.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "text.h"
#include "util.h"

/* ---- hex and base64 -------------------------------------------------------------------- */

void
ofs_hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int
ofs_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
lower_hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
ofs_unhex(const char *s, uint8_t *out, size_t n)
{
	return s == NULL ? -1 : ofs_unhexn(s, strlen(s), out, n);
}

int
ofs_unhexn(const char *s, size_t len, uint8_t *out, size_t n)
{
	if (len != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = ofs_hexval((unsigned char)s[2 * i]), lo = ofs_hexval((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
ofs_unhex_lower(const char *s, size_t len, uint8_t *out, size_t n)
{
	if (len != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = lower_hexval((unsigned char)s[2 * i]);
		int lo = lower_hexval((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		if (out != NULL)
			out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
ofs_is_hex_lower(const char *s, size_t n)
{
	if (s == NULL || strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower_hexval((unsigned char)s[i]) < 0)
			return 0;
	return 1;
}

char *
ofs_b64_encode(const uint8_t *p, size_t n)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = ofs_xmalloc((n + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}


/* ---- UTF-8 and printable strings ------------------------------------------------------- */

int
ofs_text_utf8_ok(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		uint32_t cp;
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

enum ofs_text_why
ofs_text_check(const char *s, size_t n, size_t max, unsigned flags)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char high = 0;

	if (n == 0)
		return (flags & OFS_TEXT_NONEMPTY) ? OFS_TEXT_EMPTY : OFS_TEXT_OK;
	if (n > max)
		return OFS_TEXT_TOO_LONG;
	if (memchr(s, '\0', n) != NULL)
		return OFS_TEXT_NUL;
	for (size_t i = 0; i < n; i++) {
		if (ofs_text_is_control(u[i]))
			return OFS_TEXT_CONTROL;
		high |= u[i];
	}
	if (!(high & 0x80))
		return OFS_TEXT_OK;
	if (!ofs_text_utf8_ok(u, n))
		return OFS_TEXT_UTF8;
	if (flags & OFS_TEXT_NO_C1)
		for (size_t i = 0; i + 1 < n; i++)
			if (u[i] == 0xc2 && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
				return OFS_TEXT_CONTROL;
	return OFS_TEXT_OK;
}

const char *
ofs_text_why_str(enum ofs_text_why why)
{
	switch (why) {
	case OFS_TEXT_OK: return "is fine";
	case OFS_TEXT_EMPTY: return "is empty";
	case OFS_TEXT_TOO_LONG: return "is too long";
	case OFS_TEXT_NUL: return "holds a NUL byte";
	case OFS_TEXT_CONTROL: return "holds control characters";
	case OFS_TEXT_UTF8: return "is not valid UTF-8";
	}
	return "is not printable text";
}

void
ofs_text_clean(char *dst, size_t dstsz, const char *s, size_t n)
{
	size_t i;

	for (i = 0; s != NULL && i < n && s[i] != '\0' && i + 1 < dstsz; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[i] = ofs_text_is_control(c) ? '?' : (char)c;
	}
	dst[i] = '\0';
}

int
ofs_json_quote(struct ofs_buf *b, const char *s)
{
	ofs_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			ofs_buf_putc(b, '\\');
			ofs_buf_putc(b, *p);
		} else if (ofs_text_is_control(*p)) {
			ofs_buf_putf(b, "\\u%04x", *p);
		} else {
			ofs_buf_putc(b, *p);
		}
	}
	ofs_buf_putc(b, '"');
	return ofs_buf_check(b);	/* a failed put above marked b */
}

/* ---- known keys ------------------------------------------------------------------------ */

int
ofs_key_find(const struct ofs_key *keys, const char *k, size_t n)
{
	for (int i = 0; keys[i].name != NULL; i++)
		if (strlen(keys[i].name) == n && memcmp(keys[i].name, k, n) == 0)
			return i;
	return -1;
}

int
ofs_json_keys_check(const struct json_t *o, const struct ofs_key *keys,
    const char **unknown, const char **missing)
{
	json_t *obj = (json_t *)o;	/* jansson's iteration takes no const */
	const char *k;
	json_t *v;

	*unknown = NULL;
	if (missing != NULL)
		*missing = NULL;
	json_object_foreach(obj, k, v) {
		if (ofs_key_find(keys, k, strlen(k)) < 0) {
			*unknown = k;
			return -1;
		}
	}
	if (missing == NULL)
		return 0;
	for (size_t i = 0; keys[i].name != NULL; i++) {
		if ((keys[i].flags & OFS_KEY_REQUIRED) && json_object_get(obj, keys[i].name) == NULL) {
			*missing = keys[i].name;
			return -1;
		}
	}
	return 0;
}

/* ---- percent-escapes ------------------------------------------------------------------- */

int
ofs_percent_decode_span(const char *s, size_t n, unsigned flags, struct ofs_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		int ch = (unsigned char)s[i], hi, lo, r;

		if (ch == '%') {
			if (n - i < 3 || (hi = ofs_hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = ofs_hexval((unsigned char)s[i + 2])) < 0)
				return -1;
			ch = hi << 4 | lo;
			if (ch == 0 && (flags & OFS_PCT_NO_NUL))
				return -1;
			i += 2;
		} else if (ch == '+' && (flags & OFS_PCT_PLUS_SPACE)) {
			ch = ' ';
		}
		if ((r = ofs_buf_addc(out, (uint8_t)ch)) != 0)
			return r;
	}
	return 0;
}

char *
ofs_percent_decode(const char *s, size_t *len)
{
	struct ofs_buf b = OFS_BUF_INIT(0);	/* unbounded: no more than strlen(s) bytes */
	size_t n = strlen(s);

	if (ofs_buf_reserve_exact(&b, n) != 0 ||
	    ofs_percent_decode_span(s, n, OFS_PCT_NO_NUL, &b) != 0 || ofs_buf_cstr(&b) != 0) {
		ofs_buf_release(&b);
		return NULL;
	}
	return (char *)ofs_buf_detach(&b, len);
}

char *
ofs_percent_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);
	char *out, *o;

	out = o = ofs_xmalloc(3 * n + 1);
	for (size_t i = 0; i < n; i++) {
		if (ofs_text_is_control(u[i]) || u[i] == '%' || u[i] >= 0x80) {
			*o++ = '%';
			*o++ = hex[u[i] >> 4];
			*o++ = hex[u[i] & 15];
		} else {
			*o++ = (char)u[i];
		}
	}
	*o = '\0';
	return out;
}

char *
ofs_name_shown(const char *s)
{
	if (ofs_text_check(s, strlen(s), SIZE_MAX, OFS_TEXT_NO_C1) == OFS_TEXT_OK)
		return ofs_xstrdup(s);
	return ofs_percent_encode(s);
}

/* ---- RFC 3339 times -------------------------------------------------------------------- */

/* n decimal digits at s into *v: 0, or -1 at the first byte that is not a digit (a NUL
 * included, so nothing past the end is read). */
static int
digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const unsigned char d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return d[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
ofs_time_parse(const char *s, unsigned flags, int64_t *unix_sec, int32_t *nsec)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int32_t frac = 0;
	const char *p;

	if (s == NULL || digits(s, 4, &y) != 0 || s[4] != '-' || digits(s + 5, 2, &mo) != 0 ||
	    s[7] != '-' || digits(s + 8, 2, &d) != 0 || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &h) != 0 || s[13] != ':' || digits(s + 14, 2, &mi) != 0 ||
	    s[16] != ':' || digits(s + 17, 2, &sec) != 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		int nd = 0;

		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (++nd > 9)
				return -1;
			frac = frac * 10 + (*p - '0');
		}
		if (nd == 0)
			return -1;
		for (; nd < 9; nd++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && !(flags & OFS_TIME_UTC)) {
		sign = *p == '-' ? -1 : 1;
		if (digits(p + 1, 2, &oh) != 0 || p[3] != ':' || digits(p + 4, 2, &om) != 0 ||
		    oh > 23 || om > 59)
			return -1;
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	*unix_sec = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + mi * 60 + sec -
	    (int64_t)sign * (oh * 3600 + om * 60);
	if (nsec != NULL)
		*nsec = frac;
	return 0;
}

int
ofs_parse_time(const char *s, int64_t *unix_sec)
{
	return ofs_time_parse(s, 0, unix_sec, NULL);
}

void
ofs_fmt_time(int64_t unix_sec, char *buf, size_t bufsz)
{
	time_t t = (time_t)unix_sec;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, bufsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
