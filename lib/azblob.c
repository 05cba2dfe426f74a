/* Azure Blob client: configuration, names and URLs, and the one request engine over a
 * curl multi handle (serial calls are a batch of one; put_many runs several) with retries
 * and back-off. The blob operations are in azblob_ops.c, the XML readers in azblob_xml.c,
 * signing in azblob_sign.c. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "dynlib.h"
#include <openssl/crypto.h>

#include "azblob.h"
#include "azblob_int.h"
#include "log.h"
#include "ratelimit.h"
#include "retry.h"
#include "util.h"

#define ERRBODY_MAX (64u << 10)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---------- configuration ---------- */

static const char *
envs(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

void
ofs_azblob_opts_from_env(struct ofs_azblob_opts *o)
{
	const char *v;
	long n;

	if (!o->endpoint)
		o->endpoint = envs("OFFSEED_AZURE_ENDPOINT");
	if (!o->account)
		o->account = envs("OFFSEED_AZURE_ACCOUNT");
	if (!o->key)
		o->key = envs("OFFSEED_AZURE_KEY");
	if (!o->sas)
		o->sas = envs("OFFSEED_AZURE_SAS");
	if (!o->ca_file)
		o->ca_file = envs("OFFSEED_AZURE_CA_FILE");
	if (!o->max_tries && (v = envs("OFFSEED_AZURE_RETRIES")) != NULL &&
	    ofs_parse_long(v, 1, 100, &n) == 0)	/* else the default */
		o->max_tries = (int)n;
	if (!o->retry_base_ms && (v = envs("OFFSEED_AZURE_RETRY_MS")) != NULL)
		o->retry_base_ms = (unsigned)strtoul(v, NULL, 10);
	if (!o->parallel && (v = envs("OFFSEED_AZURE_PARALLEL")) != NULL &&
	    ofs_parse_long(v, 1, 64, &n) == 0)
		o->parallel = (int)n;
}

static int
account_ok(const char *a)
{
	size_t n = strlen(a), i;

	if (n < 3 || n > 24)
		return 0;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)a[i]) || isdigit((unsigned char)a[i])))
			return 0;
	return 1;
}

static int
parse_endpoint(struct ofs_azblob *c, const char *ep, const char *account, struct ofs_error *err)
{
	const char *host, *slash, *p;
	size_t n;

	if (strncmp(ep, "http://", 7) == 0)
		host = ep + 7;
	else if (strncmp(ep, "https://", 8) == 0)
		host = ep + 8;
	else
		return ofs_err_set(err, OFS_ERR_USAGE,
		    "Azure endpoint '%s' does not start with http:// or https://", ep);
	for (p = ep; *p; p++)
		if (*p == '?' || *p == '#' || *p == '@' || isspace((unsigned char)*p) ||
		    iscntrl((unsigned char)*p))
			return ofs_err_set(err, OFS_ERR_USAGE,
			    "Azure endpoint '%s' must be scheme://host[:port][/path]", ep);
	slash = strchr(host, '/');
	if ((slash ? (size_t)(slash - host) : strlen(host)) == 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "Azure endpoint '%s' has no host", ep);
	c->origin = ofs_xstrndup(ep, slash ? (size_t)(slash - ep) : strlen(ep));
	c->base_path = ofs_xstrdup(slash ? slash : "");
	n = strlen(c->base_path);
	while (n > 0 && c->base_path[n - 1] == '/')
		c->base_path[--n] = '\0';
	if (account) {
		c->account = ofs_xstrdup(account);
	} else if (n > 0) {
		const char *last = strrchr(c->base_path, '/');

		c->account = ofs_xstrdup(last + 1);
	} else {
		const char *dot = strchr(host, '.'), *colon = strchr(host, ':');
		size_t len = strlen(host);

		if (dot && (size_t)(dot - host) < len)
			len = (size_t)(dot - host);
		if (colon && (size_t)(colon - host) < len)
			len = (size_t)(colon - host);
		c->account = ofs_xstrndup(host, len);
	}
	if (!account_ok(c->account))
		return ofs_err_set(err, OFS_ERR_USAGE,
		    "'%s' is not a valid Azure storage account name (3-24 of a-z, 0-9)",
		    c->account);
	return 0;
}

int
ofs_azblob_open(const struct ofs_azblob_opts *o, struct ofs_azblob **out, struct ofs_error *err)
{
	struct ofs_azblob *c;
	char *ep = NULL;
	int r, n;

	*out = NULL;
	if ((r = ofs_dynlib_load_curl(err)) != 0)
		return r;
	pthread_once(&curl_once, curl_init_once);
	c = ofs_xcalloc(1, sizeof(*c));
	if (o->endpoint) {
		ep = ofs_xstrdup(o->endpoint);
	} else if (o->account) {
		ep = ofs_xasprintf("https://%s.blob.core.windows.net", o->account);
	} else {
		r = ofs_err_set(err, OFS_ERR_USAGE,
		    "no Azure storage account: give one or set OFFSEED_AZURE_ENDPOINT");
		goto out;
	}
	if ((r = parse_endpoint(c, ep, o->account, err)) != 0)
		goto out;
	if (o->key) {
		if (strlen(o->key) > OFS_AZB_KEY_MAX * 4 / 3 ||
		    (n = ofs_azb_b64_decode(o->key, c->key, sizeof(c->key))) <= 0) {
			r = ofs_err_set(err, OFS_ERR_AUTH,
			    "the Azure account key is not valid base64");
			goto out;
		}
		c->keylen = (size_t)n;
	} else if (o->sas) {
		const char *s = o->sas[0] == '?' ? o->sas + 1 : o->sas;

		if (strncmp(s, "sig=", 4) != 0 && strstr(s, "&sig=") == NULL) {
			r = ofs_err_set(err, OFS_ERR_AUTH,
			    "the Azure SAS token has no signature (sig=)");
			goto out;
		}
		if (strpbrk(s, " #\r\n") != NULL) {
			r = ofs_err_set(err, OFS_ERR_AUTH, "the Azure SAS token is malformed");
			goto out;
		}
		c->sas = ofs_xstrdup(s);
	} else {
		r = ofs_err_set(err, OFS_ERR_USAGE,
		    "no Azure credentials: set OFFSEED_AZURE_KEY or OFFSEED_AZURE_SAS");
		goto out;
	}
	c->ca_file = o->ca_file ? ofs_xstrdup(o->ca_file) : NULL;
	c->max_tries = o->max_tries > 0 ? o->max_tries : 5;
	c->retry_base_ms = o->retry_base_ms ? o->retry_base_ms : 1000;
	c->retry_max_ms = o->retry_max_ms ? o->retry_max_ms : 30000;
	c->parallel = o->parallel > 0 ? o->parallel : 4;
	if (c->parallel > OFS_AZB_PARALLEL_MAX)
		c->parallel = OFS_AZB_PARALLEL_MAX;
	c->timeout_s = o->timeout_s;
	ofs_random(&c->rng, sizeof(c->rng));
	c->rng |= 1;
	if ((c->multi = curl_multi_init()) == NULL) {
		r = ofs_err_set(err, OFS_ERR_IO, "cannot initialise libcurl");
		goto out;
	}
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->parallel);
	*out = c;
	c = NULL;	/* transferred */
	r = 0;
out:
	free(ep);
	ofs_azblob_free(c);
	return r;
}

void
ofs_azblob_free(struct ofs_azblob *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < OFS_AZB_PARALLEL_MAX; i++)
		if (c->easy[i])
			curl_easy_cleanup(c->easy[i]);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	OPENSSL_cleanse(c->key, sizeof(c->key));
	if (c->sas) {
		OPENSSL_cleanse(c->sas, strlen(c->sas));
		free(c->sas);
	}
	free(c->origin);
	free(c->base_path);
	free(c->account);
	free(c->ca_file);
	free(c);
}

const char *
ofs_azblob_account(const struct ofs_azblob *c)
{
	return c->account;
}

uint64_t
ofs_azblob_requests(const struct ofs_azblob *c)
{
	return c->requests;
}

void
ofs_azblob_set_progress(struct ofs_azblob *c, void (*fn)(void *ud, uint64_t bytes), void *ud)
{
	c->progress = fn;
	c->progress_ud = ud;
}

void
ofs_azblob_set_ratelimit(struct ofs_azblob *c, struct ofs_ratelimit *l)
{
	c->limit = l;
}

/* ---------- names and URLs ---------- */

static int
container_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 3 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return 0;
		if (s[i] == '-' && s[i + 1] == '-')
			return 0;
	}
	return 1;
}

int
ofs_azb_check_names(const char *what, const char *container, const char *name,
    struct ofs_error *err)
{
	size_t n;

	if (container == NULL || !container_ok(container))
		return ofs_err_set(err, OFS_ERR_USAGE, "%s: '%s' is not a valid container name "
		    "(3-63 of a-z, 0-9, single '-' inside)", what, container ? container : "");
	if (name == NULL)
		return 0;
	n = strlen(name);
	if (n == 0 || n > OFS_AZBLOB_NAME_MAX)
		return ofs_err_set(err, OFS_ERR_USAGE,
		    "%s: blob name must be 1-%u bytes long (is %zu)", what, OFS_AZBLOB_NAME_MAX, n);
	return 0;
}

/* path (encoded) of container[/name], base path included. Returns 0 or OFS_ERR_LIMIT. */
static int
req_path(const struct ofs_azblob *c, const char *container, const char *name, struct ofs_buf *b)
{
	/* a failed put or encode marks b, and then cstr fails */
	ofs_buf_puts(b, c->base_path);
	ofs_buf_putc(b, '/');
	(void)ofs_azb_pct_encode(b, container, 0);
	if (name) {
		ofs_buf_putc(b, '/');
		(void)ofs_azb_pct_encode(b, name, 1);
	}
	return ofs_buf_cstr(b);
}

int
ofs_azblob_url(const struct ofs_azblob *c, const char *container, const char *name,
    const char *query, struct ofs_buf *out)
{
	int q = query && *query;

	ofs_buf_puts(out, c->origin);
	(void)req_path(c, container, name, out);	/* marks out on failure */
	if (q)
		ofs_buf_putf(out, "?%s", query);
	if (c->sas)
		ofs_buf_putf(out, "%c%s", q ? '&' : '?', c->sas);
	return ofs_buf_cstr(out);	/* fails after any failed put */
}

/* "PUT seed/disk0.vhd" plus the label, for messages. */
static const char *
req_what(const struct ofs_azb_req *r, char *buf, size_t n)
{
	snprintf(buf, n, "%s %s%s%s%s%s", r->verb, r->container, r->name ? "/" : "",
	    r->name ? r->name : "", r->label[0] ? " " : "", r->label);
	return buf;
}

/* ---------- request engine ---------- */

void
ofs_azb_req_init(struct ofs_azb_req *r, struct ofs_azblob *c, const char *verb,
    const char *container, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->c = c;
	r->verb = verb;
	r->container = container;
	r->name = name;
	r->fd = -1;
	r->is_put = strcmp(verb, "PUT") == 0;
	ofs_buf_init(&r->ebody, ERRBODY_MAX);
	r->result = OFS_ERR_IO;
}

void
ofs_azb_req_release(struct ofs_azb_req *r)
{
	free(r->query);
	r->query = NULL;
	if (r->slist)
		curl_slist_free_all(r->slist);
	r->slist = NULL;
	ofs_buf_release(&r->ebody);
}

void
ofs_azb_req_header(struct ofs_azb_req *r, const char *fmt, ...)
{
	va_list ap;

	if (r->nhdr >= (int)OFS_ARRAY_LEN(r->hdr))
		abort();	/* programming error: more headers than room */
	va_start(ap, fmt);
	vsnprintf(r->hdr[r->nhdr++], sizeof(r->hdr[0]), fmt, ap);
	va_end(ap);
}

static size_t
read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
	struct ofs_azb_req *r = ud;
	size_t want = size * nitems;
	ssize_t got;

	if (want > r->body_len - r->pos)
		want = (size_t)(r->body_len - r->pos);
	if (want == 0)
		return 0;
	want = ofs_ratelimit_take(r->c->limit, want);
	if (r->mem) {
		memcpy(buf, r->mem + r->pos, want);
		r->pos += want;
		return want;
	}
	do
		got = pread(r->fd, buf, want, (off_t)(r->fd_off + r->pos));
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		r->read_fail = 1;
		r->read_errno = got < 0 ? errno : 0;
		return CURL_READFUNC_ABORT;
	}
	r->pos += (uint64_t)got;
	return (size_t)got;
}

static int
seek_cb(void *ud, curl_off_t off, int origin)
{
	struct ofs_azb_req *r = ud;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > r->body_len)
		return CURL_SEEKFUNC_FAIL;
	r->pos = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

static size_t
write_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	struct ofs_azb_req *r = ud;
	size_t n = size * nmemb;
	long code = 0;

	curl_easy_getinfo(r->e, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code < 300 && r->sink) {
		/* never more than was asked for: an answer that ignores x-ms-range (a 200 with
		 * the whole blob) or runs on is cut off here, before it grows memory */
		if ((r->ranged && code != 206) || (r->sink_limit != 0 &&
		    n > r->sink_limit - (r->sink->len - r->sink_base)) ||
		    ofs_buf_add(r->sink, p, n) != 0) {
			r->sink_over = 1;
			return 0;
		}
		return n;
	}
	if (code >= 200 && code < 300 && r->keep_body) {
		if (ofs_buf_add(&r->ebody, p, n) != 0) {
			r->sink_over = 1;
			return 0;
		}
		return n;
	}
	if (r->ebody.len + n <= r->ebody.max)
		ofs_buf_put(&r->ebody, p, n);	/* error bodies: keep the start (fits) */
	return n;
}

static void
copy_trim(char *dst, size_t dstsz, const char *v, size_t n)
{
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' ||
	    v[n - 1] == '\t'))
		n--;
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static size_t
header_cb(char *p, size_t size, size_t nitems, void *ud)
{
	struct ofs_azb_req *r = ud;
	size_t n = size * nitems, nl;
	const char *colon, *v;

	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		r->ecode[0] = r->btype[0] = r->etag[0] = r->md5[0] = '\0';
		r->has_clen = 0;
		r->retry_after = -1;
		return n;
	}
	if ((colon = memchr(p, ':', n)) == NULL)
		return n;
	nl = (size_t)(colon - p);
	for (v = colon + 1; v < p + n && (*v == ' ' || *v == '\t'); v++)
		;
#define IS(h) (nl == sizeof(h) - 1 && strncasecmp(p, h, nl) == 0)
	if (IS("x-ms-error-code"))
		copy_trim(r->ecode, sizeof(r->ecode), v, (size_t)(p + n - v));
	else if (IS("x-ms-blob-type"))
		copy_trim(r->btype, sizeof(r->btype), v, (size_t)(p + n - v));
	else if (IS("etag"))
		copy_trim(r->etag, sizeof(r->etag), v, (size_t)(p + n - v));
	else if (IS("content-md5"))
		copy_trim(r->md5, sizeof(r->md5), v, (size_t)(p + n - v));
	else if (IS("content-length")) {
		char num[32], *end;
		unsigned long long x;

		copy_trim(num, sizeof(num), v, (size_t)(p + n - v));
		errno = 0;
		x = strtoull(num, &end, 10);
		if (num[0] >= '0' && num[0] <= '9' && *end == '\0' && errno == 0) {
			r->clen = x;
			r->has_clen = 1;
		}
	} else if (IS("retry-after")) {
		char ra[64];

		/* no valid value is this long: a longer one is ignored, not cut into one */
		r->retry_after = -1;
		if ((size_t)(p + n - v) < sizeof(ra)) {
			copy_trim(ra, sizeof(ra), v, (size_t)(p + n - v));
			r->retry_after = ofs_retry_after_parse(ra, time(NULL));
		}
	}
#undef IS
	return n;
}

static uint64_t
rng_next(struct ofs_azblob *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return c->rng;
}

/* Prepare e for one attempt of r and add it to the multi handle. */
static int
req_start(struct ofs_azblob *c, struct ofs_azb_req *r, CURL *e, struct ofs_error *err)
{
	/* unbounded: they fail only past SIZE_MAX, checked all the same */
	struct ofs_buf url = OFS_BUF_INIT(0), path = OFS_BUF_INIT(0), sts = OFS_BUF_INIT(0);
	const char *hv[8];
	char date[64], ver[64], clen[48], auth[160], sig[OFS_AZBLOB_SIG_LEN];
	size_t nh = 0;
	time_t now = time(NULL);
	struct tm tm;
	int i, r_ = 0;

	curl_easy_reset(e);
	r->e = e;
	r->attempts++;
	c->requests++;
	r->status = 0;
	r->pos = 0;
	r->read_fail = r->read_errno = 0;
	r->sink_over = 0;
	r->ecode[0] = r->btype[0] = r->etag[0] = r->md5[0] = '\0';
	r->has_clen = 0;
	r->retry_after = -1;
	r->cerr[0] = '\0';
	if (r->sink)
		ofs_buf_truncate(r->sink, r->sink_base);	/* a retry: unmarked again */
	ofs_buf_reset(&r->ebody);
	if (r->slist) {
		curl_slist_free_all(r->slist);
		r->slist = NULL;
	}

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "x-ms-date: %a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(ver, sizeof(ver), "x-ms-version: %s", OFS_AZBLOB_API_VERSION);
	hv[nh++] = date;
	hv[nh++] = ver;
	for (i = 0; i < r->nhdr; i++)
		hv[nh++] = r->hdr[i];
	for (i = 0; i < (int)nh; i++)
		r->slist = curl_slist_append(r->slist, hv[i]);
	if (c->keylen) {
		if (r->is_put) {
			snprintf(clen, sizeof(clen), "Content-Length: %" PRIu64, r->body_len);
			hv[nh++] = clen;	/* signed; curl sends its own */
		}
		if ((r_ = req_path(c, r->container, r->name, &path)) != 0) {
			r_ = ofs_err_set(err, r_, "the path of %s is too long", r->container);
			goto out;
		}
		if ((r_ = ofs_azblob_string_to_sign(&sts, r->verb, c->account, (char *)path.data,
		    r->query, hv, nh, err)) != 0)
			goto out;
		ofs_azb_sign_raw(c->key, c->keylen, sts.data, sts.len, sig);
		snprintf(auth, sizeof(auth), "Authorization: SharedKey %s:%s", c->account, sig);
		r->slist = curl_slist_append(r->slist, auth);
		OPENSSL_cleanse(auth, sizeof(auth));
	}
	r->slist = curl_slist_append(r->slist, "Expect:");
	if ((r_ = ofs_azblob_url(c, r->container, r->name, r->query, &url)) != 0) {
		r_ = ofs_err_set(err, r_, "the URL of %s is too long", r->container);
		goto out;
	}

	curl_easy_setopt(e, CURLOPT_URL, (char *)url.data);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->slist);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "offseed/" OFS_VERSION);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->cerr);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	if (c->timeout_s > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT, c->timeout_s);
	if (r->is_put) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, r);
		curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, seek_cb);
		curl_easy_setopt(e, CURLOPT_SEEKDATA, r);
		curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
	} else if (strcmp(r->verb, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->verb, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->verb);
	}
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
		r_ = ofs_err_set(err, OFS_ERR_IO, "cannot start an HTTP transfer");
out:
	ofs_buf_release(&url);	/* curl copied the URL */
	ofs_buf_release(&path);
	ofs_buf_release_secret(&sts);
	OPENSSL_cleanse(sig, sizeof(sig));
	return r_;
}

/* "https://proxy:3128" from the environment for the endpoint's scheme, credentials cut. */
static void
proxy_desc(const struct ofs_azblob *c, char *buf, size_t n)
{
	static const char *https_vars[] = { "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY" };
	static const char *http_vars[] = { "http_proxy", "all_proxy", "ALL_PROXY" };
	int https = strncmp(c->origin, "https:", 6) == 0;
	const char **vars = https ? https_vars : http_vars;
	size_t nv = https ? OFS_ARRAY_LEN(https_vars) : OFS_ARRAY_LEN(http_vars), i;
	const char *v = NULL, *at, *scheme_end;

	for (i = 0; i < nv && v == NULL; i++)
		v = envs(vars[i]);
	if (v == NULL) {
		snprintf(buf, n, "(configured proxy)");
		return;
	}
	scheme_end = strstr(v, "://");
	at = strchr(scheme_end ? scheme_end + 3 : v, '@');
	if (at)
		snprintf(buf, n, "%.*s%s", scheme_end ? (int)(scheme_end + 3 - v) : 0, v, at + 1);
	else
		snprintf(buf, n, "%s", v);
}

enum { FIN_OK, FIN_RETRY, FIN_FAIL };

static int
retryable_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

/* Classify a finished attempt. FIN_RETRY sets r->not_before; FIN_FAIL sets r->err. */
static int
req_finish(struct ofs_azblob *c, struct ofs_azb_req *r, CURLcode cc)
{
	char what[OFS_AZBLOB_NAME_MAX + 200], detail[600], code[96], msg[400];
	long status = 0, connect = 0;
	double delay;
	int kind;

	req_what(r, what, sizeof(what));
	curl_easy_getinfo(r->e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(r->e, CURLINFO_HTTP_CONNECTCODE, &connect);
	r->status = status;
	if (status == 407 || connect == 407) {
		char proxy[512];

		proxy_desc(c, proxy, sizeof(proxy));
		ofs_err_set(&r->err, OFS_ERR_AUTH,
		    "%s: the proxy at %s requires authentication (407)", what, proxy);
		return FIN_FAIL;
	}
	if (cc != CURLE_OK) {
		const char *ce = r->cerr[0] ? r->cerr : curl_easy_strerror(cc);

		if (r->sink_over) {
			long got = 0;

			curl_easy_getinfo(r->e, CURLINFO_RESPONSE_CODE, &got);
			if (r->sink != NULL && r->ranged && got != 206)
				ofs_err_set(&r->err, OFS_ERR_CORRUPT, "%s: the service ignored the "
				    "range (HTTP %ld, not 206 Partial Content)", what, got);
			else if (r->sink != NULL && r->sink_limit != 0)
				ofs_err_set(&r->err, OFS_ERR_CORRUPT, "%s: the answer is longer than "
				    "the %" PRIu64 " bytes asked for", what, r->sink_limit);
			else
				ofs_err_set(&r->err, OFS_ERR_CORRUPT, "%s: the response is larger "
				    "than %zu bytes", what, r->sink ? r->sink->max : r->ebody.max);
			return FIN_FAIL;
		}
		if (r->read_fail) {
			if (r->read_errno)
				ofs_err_sys(&r->err, OFS_ERR_IO, r->read_errno,
				    "%s: cannot read the data to upload", what);
			else
				ofs_err_set(&r->err, OFS_ERR_IO,
				    "%s: the file to upload ended early", what);
			return FIN_FAIL;
		}
		if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
		    cc == CURLE_SSL_CERTPROBLEM) {
			ofs_err_set(&r->err, OFS_ERR_NETWORK,
			    "%s: cannot verify the server's TLS certificate: %s", what, ce);
			return FIN_FAIL;
		}
		snprintf(detail, sizeof(detail), "%s", ce);
		if (!retryable_curl(cc)) {
			ofs_err_set(&r->err, OFS_ERR_NETWORK, "%s: %s", what, detail);
			return FIN_FAIL;
		}
	} else {
		if (status >= 200 && status < 300)
			return FIN_OK;
		ofs_azb_error_detail(&r->ebody, r->ecode, code, sizeof(code), msg, sizeof(msg));
		if (status == 409 && r->exists_ok && strcmp(code, "ContainerAlreadyExists") == 0) {
			r->existed = 1;
			return FIN_OK;
		}
		snprintf(detail, sizeof(detail), "%ld%s%s%s%s", status, code[0] ? " " : "", code,
		    msg[0] ? ": " : "", msg);
		kind = status == 404 ? OFS_ERR_NOTFOUND :
		    status == 401 || status == 403 ? OFS_ERR_AUTH :
		    status == 408 || status == 429 || status == 500 || status == 502 ||
		    status == 503 || status == 504 ? 0 : OFS_ERR_IO;
		if (kind != 0) {
			ofs_err_set(&r->err, kind, "%s: %s", what, detail);
			return FIN_FAIL;
		}
	}
	if (r->attempts >= c->max_tries) {
		ofs_err_set(&r->err, OFS_ERR_NETWORK, "%s: %s (gave up after %d attempt%s)", what,
		    detail, r->attempts, r->attempts == 1 ? "" : "s");
		return FIN_FAIL;
	}
	/* Retry-After 0 (or a date already past) counts as absent, as libcurl reported it
	 * before: the back-off still spaces the attempts. */
	if (r->retry_after > 0)
		delay = r->retry_after;
	else
		delay = ofs_retry_backoff(c->retry_base_ms, c->retry_max_ms, r->attempts,
		    (uint32_t)(rng_next(c) >> 32)) / 1000.0;
	ofs_verbose("%s: %s; retrying in %.1f s", what, detail, delay);
	r->not_before = ofs_mono() + delay;
	return FIN_RETRY;
}

/* Run rs[0..n) with up to c->parallel transfers in flight. Stops at the first failure. */
int
ofs_azb_perform_all(struct ofs_azblob *c, struct ofs_azb_req **rs, size_t n, struct ofs_error *err)
{
	struct ofs_azb_req *busy[OFS_AZB_PARALLEL_MAX] = { 0 }, *wait = NULL, *failed = NULL;
	size_t next = 0, ndone = 0;
	int par = c->parallel, inflight = 0, s, r = 0;

	if ((size_t)par > n)
		par = (int)n;
	for (s = 0; s < par; s++)
		if (c->easy[s] == NULL && (c->easy[s] = curl_easy_init()) == NULL)
			return ofs_err_set(err, OFS_ERR_IO, "cannot initialise libcurl");

	while (ndone < n && failed == NULL) {
		double now = ofs_mono(), first_wait = 0;
		int running = 0, left;
		CURLMsg *m;
		long timeout = 1000;

		for (s = 0; s < par; s++) {
			struct ofs_azb_req *pick = NULL, **pp;

			if (busy[s])
				continue;
			for (pp = &wait; *pp; pp = &(*pp)->next_wait)
				if ((*pp)->not_before <= now) {
					pick = *pp;
					*pp = pick->next_wait;
					break;
				}
			if (pick == NULL && next < n)
				pick = rs[next++];
			if (pick == NULL)
				break;
			if ((r = req_start(c, pick, c->easy[s], err)) != 0)
				goto out;
			busy[s] = pick;
			inflight++;
		}
		if (inflight > 0)
			curl_multi_perform(c->multi, &running);
		while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
			struct ofs_azb_req *q = NULL;
			int k;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&q);
			k = req_finish(c, q, m->data.result);
			curl_multi_remove_handle(c->multi, m->easy_handle);
			for (s = 0; s < par; s++)
				if (busy[s] == q)
					busy[s] = NULL;
			inflight--;
			if (k == FIN_OK) {
				q->result = 0;
				ndone++;
				if (q->is_put && q->body_len && c->progress)
					c->progress(c->progress_ud, q->body_len);
			} else if (k == FIN_RETRY) {
				q->next_wait = wait;
				wait = q;
			} else {
				q->result = q->err.code;
				failed = q;
				break;
			}
		}
		if (failed || ndone == n)
			break;
		for (struct ofs_azb_req *w = wait; w; w = w->next_wait)
			if (first_wait == 0 || w->not_before < first_wait)
				first_wait = w->not_before;
		if (first_wait > 0) {
			long t = (long)((first_wait - ofs_mono()) * 1000) + 1;

			if (t < 0)
				t = 0;
			if (t < timeout)
				timeout = t;
		}
		if (inflight > 0 || timeout > 0)
			curl_multi_poll(c->multi, NULL, 0, (int)timeout, NULL);
	}
out:
	for (s = 0; s < par; s++)
		if (busy[s])
			curl_multi_remove_handle(c->multi, c->easy[s]);
	if (failed) {
		if (err) {
			*err = failed->err;
		}
		r = failed->result;
	}
	return r;
}

int
ofs_azb_perform_one(struct ofs_azblob *c, struct ofs_azb_req *r, struct ofs_error *err)
{
	struct ofs_azb_req *rs[1] = { r };

	return ofs_azb_perform_all(c, rs, 1, err);
}
