/* Azure Blob authorization: the SharedKey string-to-sign, HMAC signatures, service SAS
 * tokens, and the strict base64 / percent codecs they need. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "azblob.h"
#include "azblob_int.h"
#include "util.h"

static int
b64_val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

int
ofs_azb_b64_decode(const char *s, uint8_t *out, size_t outcap)
{
	size_t n = strlen(s), i, o = 0;
	int pad = 0;

	if (n == 0 || n % 4 != 0)
		return -1;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	if (n / 4 * 3 - pad > outcap)
		return -1;
	for (i = 0; i < n; i += 4) {
		int v[4], k, last = (i + 4 == n);
		uint32_t w;

		for (k = 0; k < 4; k++) {
			if (last && k >= 4 - pad) {
				v[k] = 0;
				continue;
			}
			if ((v[k] = b64_val((unsigned char)s[i + k])) < 0)
				return -1;
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
		/* canonical: the bits dropped by padding must be zero */
		if (last && pad == 1 && (v[2] & 3) != 0)
			return -1;
		if (last && pad == 2 && (v[1] & 15) != 0)
			return -1;
		out[o++] = w >> 16;
		if (!(last && pad == 2))
			out[o++] = w >> 8;
		if (!(last && pad >= 1))
			out[o++] = w;
	}
	return (int)o;
}

int
ofs_azb_pct_encode(struct ofs_buf *b, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int r;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
		    (keep_slash && ch == '/'))
			r = ofs_buf_addc(b, ch);
		else if ((r = ofs_buf_addc(b, '%')) == 0 && (r = ofs_buf_addc(b, hex[ch >> 4])) == 0)
			r = ofs_buf_addc(b, hex[ch & 15]);
		if (r != 0)
			return r;
	}
	return 0;
}

void
ofs_azb_sign_raw(const uint8_t *key, size_t keylen, const void *msg, size_t len, char *out)
{
	uint8_t mac[32];
	unsigned int maclen = sizeof(mac);

	HMAC(EVP_sha256(), key, (int)keylen, msg, len, mac, &maclen);
	EVP_EncodeBlock((unsigned char *)out, mac, 32);	/* 44 chars + NUL */
	OPENSSL_cleanse(mac, sizeof(mac));
}

int
ofs_azblob_sign(const char *key_b64, const void *msg, size_t len, char out[OFS_AZBLOB_SIG_LEN],
    struct ofs_error *err)
{
	size_t cap = strlen(key_b64) / 4 * 3 + 3;
	uint8_t *key = ofs_xmalloc(cap);
	int n;

	out[0] = '\0';
	if ((n = ofs_azb_b64_decode(key_b64, key, cap)) <= 0) {
		free(key);
		return ofs_err_set(err, OFS_ERR_AUTH, "the Azure account key is not valid base64");
	}
	ofs_azb_sign_raw(key, (size_t)n, msg, len, out);
	OPENSSL_cleanse(key, cap);
	free(key);
	return 0;
}

/* The 11 standard headers of the string-to-sign, in order. */
static const char *const std_headers[] = {
	"Content-Encoding", "Content-Language", "Content-Length", "Content-MD5", "Content-Type",
	"Date", "If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since", "Range",
};

struct kv {
	char *name;	/* owned, lower case */
	char *value;	/* owned */
};

static int
kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->value, y->value);
}

static void
kv_free(struct kv *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

/* Split "Name: value" into a lower-cased name and a trimmed value with whitespace runs
 * folded to one space. Returns 0 or -1. */
static int
split_header(const char *h, char **name, char **value)
{
	const char *colon = strchr(h, ':');
	struct ofs_buf v = OFS_BUF_INIT(0);
	const char *p;
	size_t i, nl;
	int space = 0;

	*name = *value = NULL;
	if (colon == NULL || colon == h)
		return -1;
	nl = (size_t)(colon - h);
	for (i = 0; i < nl; i++)
		if (isspace((unsigned char)h[i]) || iscntrl((unsigned char)h[i]))
			return -1;
	*name = ofs_xstrndup(h, nl);
	for (i = 0; i < nl; i++)
		(*name)[i] = (char)tolower((unsigned char)(*name)[i]);
	for (p = colon + 1; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			space = 1;
			continue;
		}
		if (space && v.len > 0)
			ofs_buf_putc(&v, ' ');
		space = 0;
		ofs_buf_putc(&v, (uint8_t)*p);
	}
	if (ofs_buf_cstr(&v) != 0) {	/* v is unbounded: only past SIZE_MAX */
		ofs_buf_release(&v);
		free(*name);
		*name = NULL;
		return -1;
	}
	*value = v.data ? (char *)ofs_buf_detach(&v, NULL) : ofs_xstrdup("");
	return 0;
}

/* Parse an encoded query into decoded name/value pairs (names lower-cased). */
static int
parse_query(const char *q, struct kv **out, size_t *nout)
{
	struct kv *v = NULL;
	size_t n = 0;
	const char *p = q;

	*out = NULL;
	*nout = 0;
	while (p && *p) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		struct ofs_buf nb = OFS_BUF_INIT(0), vb = OFS_BUF_INIT(0);
		size_t i;

		if (end == p || eq == p)
			goto bad;
		if (ofs_percent_decode_span(p, (size_t)((eq ? eq : end) - p), 0, &nb) != 0 ||
		    (eq && ofs_percent_decode_span(eq + 1, (size_t)(end - eq - 1), 0, &vb) != 0) ||
		    memchr(nb.data, '\0', nb.len) != NULL ||
		    (vb.len && memchr(vb.data, '\0', vb.len) != NULL) ||
		    ofs_buf_cstr(&nb) != 0 || ofs_buf_cstr(&vb) != 0) {	/* unbounded */
			ofs_buf_release(&nb);
			ofs_buf_release(&vb);
			goto bad;
		}
		v = ofs_xreallocarray(v, n + 1, sizeof(*v));
		v[n].name = (char *)ofs_buf_detach(&nb, NULL);
		for (i = 0; v[n].name[i]; i++)
			v[n].name[i] = (char)tolower((unsigned char)v[n].name[i]);
		v[n].value = vb.data ? (char *)ofs_buf_detach(&vb, NULL) : ofs_xstrdup("");
		n++;
		p = amp ? amp + 1 : NULL;
	}
	*out = v;
	*nout = n;
	return 0;
bad:
	kv_free(v, n);
	return -1;
}

int
ofs_azblob_string_to_sign(struct ofs_buf *out, const char *verb, const char *account,
    const char *path, const char *query, const char *const *headers, size_t nheaders,
    struct ofs_error *err)
{
	struct kv *h = NULL, *q = NULL, *x = NULL;
	size_t nh = 0, nq = 0, nx = 0, i, j;
	int r = 0;

	h = ofs_xcalloc(nheaders ? nheaders : 1, sizeof(*h));
	for (nh = 0; nh < nheaders; nh++)
		if (split_header(headers[nh], &h[nh].name, &h[nh].value) != 0) {
			r = ofs_err_set(err, OFS_ERR_USAGE, "malformed request header");
			goto out;
		}
	if (query && parse_query(query, &q, &nq) != 0) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "malformed request query");
		goto out;
	}

	ofs_buf_putf(out, "%s\n", verb);
	for (i = 0; i < OFS_ARRAY_LEN(std_headers); i++) {
		const char *v = "";

		for (j = 0; j < nh; j++)
			if (strcasecmp(h[j].name, std_headers[i]) == 0)
				v = h[j].value;
		if (i == 2 && strcmp(v, "0") == 0)
			v = "";		/* Content-Length 0 signs as empty (2015-02-21+) */
		ofs_buf_putf(out, "%s\n", v);
	}

	/* CanonicalizedHeaders: x-ms-* sorted by name */
	x = ofs_xcalloc(nh ? nh : 1, sizeof(*x));
	for (i = 0; i < nh; i++)
		if (strncmp(h[i].name, "x-ms-", 5) == 0)
			x[nx++] = h[i];
	if (nx > 1)
		qsort(x, nx, sizeof(*x), kv_cmp);
	for (i = 0; i < nx; i++)
		ofs_buf_putf(out, "%s:%s\n", x[i].name, x[i].value);

	/* CanonicalizedResource */
	ofs_buf_putf(out, "/%s%s", account, path);
	if (nq > 1)
		qsort(q, nq, sizeof(*q), kv_cmp);
	for (i = 0; i < nq; i = j) {
		ofs_buf_putf(out, "\n%s:%s", q[i].name, q[i].value);
		for (j = i + 1; j < nq && strcmp(q[j].name, q[i].name) == 0; j++)
			ofs_buf_putf(out, ",%s", q[j].value);
	}
	if ((r = ofs_buf_cstr(out)) != 0)	/* fails, too, after a failed put */
		r = ofs_err_set(err, r, "the string to sign is too large");
out:
	free(x);	/* entries are borrowed from h */
	kv_free(h, nh);
	kv_free(q, nq);
	return r;
}

int
ofs_azblob_make_sas(const char *account, const char *key_b64, const char *container,
    const char *name, const char *perms, int64_t expiry, struct ofs_buf *out,
    struct ofs_error *err)
{
	struct ofs_buf sts = OFS_BUF_INIT(0);
	char se[32], sig[OFS_AZBLOB_SIG_LEN];
	const char *sv = "2020-12-06", *spr = "https,http", *sr = name ? "b" : "c";
	int r;

	ofs_fmt_time(expiry, se, sizeof(se));
	/* sp st se canonical si sip spr sv sr snapshot ses rscc rscd rsce rscl rsct */
	ofs_buf_putf(&sts, "%s\n\n%s\n/blob/%s/%s%s%s\n\n\n%s\n%s\n%s\n\n\n\n\n\n\n", perms, se,
	    account, container, name ? "/" : "", name ? name : "", spr, sv, sr);
	if ((r = ofs_buf_check(&sts)) != 0)	/* sts is unbounded: only past SIZE_MAX */
		goto too_large;
	if ((r = ofs_azblob_sign(key_b64, sts.data, sts.len, sig, err)) != 0)
		goto out;
	/* a failed put or encode marks out, and then cstr fails */
	ofs_buf_putf(out, "sv=%s&spr=https%%2Chttp&se=", sv);
	(void)ofs_azb_pct_encode(out, se, 0);
	ofs_buf_putf(out, "&sr=%s&sp=", sr);
	(void)ofs_azb_pct_encode(out, perms, 0);
	ofs_buf_puts(out, "&sig=");
	(void)ofs_azb_pct_encode(out, sig, 0);
	if ((r = ofs_buf_cstr(out)) == 0)
		goto out;
too_large:
	r = ofs_err_set(err, r, "the shared access signature is too large");
out:
	ofs_buf_release(&sts);
	return r;
}
