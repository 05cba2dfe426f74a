/* Azure Blob client: configuration, one request engine over a curl multi handle (serial
 * calls are a batch of one; put_many runs several), retries with back-off, the blob
 * operations, and the List Blobs / error XML readers. */
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
#include <openssl/evp.h>

#include "azblob.h"
#include "azblob_int.h"
#include "out.h"
#include "ratelimit.h"
#include "util.h"

#define ERRBODY_MAX (64u << 10)
#define LIST_BODY_MAX (64u << 20)
#define RETRY_AFTER_CAP_S 600
#define PARALLEL_MAX 64
#define KEY_MAX 256

struct ofs_azblob {
	char *origin;		/* "http://127.0.0.1:10000" */
	char *base_path;	/* "" or "/devstoreaccount1" (as given, encoded) */
	char *account;
	uint8_t key[KEY_MAX];	/* decoded account key; wiped on free */
	size_t keylen;		/* 0: SAS */
	char *sas;		/* without '?'; NULL with a key */
	char *ca_file;
	int max_tries;
	unsigned retry_base_ms, retry_max_ms;
	int parallel;
	long timeout_s;
	CURLM *multi;
	CURL *easy[PARALLEL_MAX];
	uint64_t requests;
	uint64_t rng;
	void (*progress)(void *, uint64_t);
	void *progress_ud;
	struct ofs_ratelimit *limit;
};

/* One REST request and its retry state. */
struct req {
	struct ofs_azblob *c;
	const char *verb;
	const char *container, *name;	/* name NULL for container requests */
	char *query;			/* encoded, no '?'; owned; may be NULL */
	char hdr[3][192];		/* extra x-ms-* headers ("name: value") */
	int nhdr;
	char label[64];			/* extra context for messages */
	int is_put;
	const uint8_t *mem;		/* body from memory, or */
	int fd;				/* from fd at fd_off when mem is NULL */
	uint64_t fd_off, body_len, pos;
	int read_fail, read_errno;
	struct ofs_buf *sink;		/* 2xx body (GET); NULL: discarded */
	size_t sink_base;
	uint64_t sink_limit;		/* bytes a ranged GET asked for (0: the buffer's max) */
	int sink_over;
	int ranged;			/* a ranged GET: only 206 is its answer */
	struct ofs_buf ebody;		/* error / list body */
	int exists_ok, existed;
	int keep_body;			/* 2xx body into ebody (List Blobs) */
	/* response */
	long status;
	char ecode[96], btype[24], etag[128], md5[64];
	uint64_t clen;
	int has_clen;
	/* engine */
	CURL *e;
	struct curl_slist *slist;
	char cerr[CURL_ERROR_SIZE];
	int attempts;
	double not_before;
	int result;
	struct ofs_error err;
	struct req *next_wait;
};

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
		if (strlen(o->key) > KEY_MAX * 4 / 3 ||
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
	if (c->parallel > PARALLEL_MAX)
		c->parallel = PARALLEL_MAX;
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
	for (i = 0; i < PARALLEL_MAX; i++)
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

const char *
ofs_azblob_type_name(int type)
{
	switch (type) {
	case OFS_AZBLOB_TYPE_BLOCK: return "BlockBlob";
	case OFS_AZBLOB_TYPE_PAGE: return "PageBlob";
	case OFS_AZBLOB_TYPE_APPEND: return "AppendBlob";
	default: return "unknown";
	}
}

static int
type_from_name(const char *s, size_t n)
{
	if (n == 9 && memcmp(s, "BlockBlob", 9) == 0)
		return OFS_AZBLOB_TYPE_BLOCK;
	if (n == 8 && memcmp(s, "PageBlob", 8) == 0)
		return OFS_AZBLOB_TYPE_PAGE;
	if (n == 10 && memcmp(s, "AppendBlob", 10) == 0)
		return OFS_AZBLOB_TYPE_APPEND;
	return OFS_AZBLOB_TYPE_UNKNOWN;
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

static int
check_names(const char *what, const char *container, const char *name, struct ofs_error *err)
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

/* path (encoded) of container[/name], base path included. */
static void
req_path(const struct ofs_azblob *c, const char *container, const char *name, struct ofs_buf *b)
{
	ofs_buf_adds(b, c->base_path);
	ofs_buf_addc(b, '/');
	ofs_azb_pct_encode(b, container, 0);
	if (name) {
		ofs_buf_addc(b, '/');
		ofs_azb_pct_encode(b, name, 1);
	}
	ofs_buf_cstr(b);
}

int
ofs_azblob_url(const struct ofs_azblob *c, const char *container, const char *name,
    const char *query, struct ofs_buf *out)
{
	int q = query && *query;

	ofs_buf_adds(out, c->origin);
	req_path(c, container, name, out);
	if (q)
		ofs_buf_addf(out, "?%s", query);
	if (c->sas)
		ofs_buf_addf(out, "%c%s", q ? '&' : '?', c->sas);
	return ofs_buf_cstr(out);
}

/* "PUT seed/disk0.vhd" plus the label, for messages. */
static const char *
req_what(const struct req *r, char *buf, size_t n)
{
	snprintf(buf, n, "%s %s%s%s%s%s", r->verb, r->container, r->name ? "/" : "",
	    r->name ? r->name : "", r->label[0] ? " " : "", r->label);
	return buf;
}

/* ---------- request engine ---------- */

static void
req_init(struct req *r, struct ofs_azblob *c, const char *verb, const char *container,
    const char *name)
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

static void
req_release(struct req *r)
{
	free(r->query);
	r->query = NULL;
	if (r->slist)
		curl_slist_free_all(r->slist);
	r->slist = NULL;
	ofs_buf_release(&r->ebody);
}

static void
req_header(struct req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
req_header(struct req *r, const char *fmt, ...)
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
	struct req *r = ud;
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
	struct req *r = ud;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > r->body_len)
		return CURL_SEEKFUNC_FAIL;
	r->pos = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

static size_t
write_cb(char *p, size_t size, size_t nmemb, void *ud)
{
	struct req *r = ud;
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
		ofs_buf_add(&r->ebody, p, n);	/* error bodies: keep the start */
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
	struct req *r = ud;
	size_t n = size * nitems, nl;
	const char *colon, *v;

	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		r->ecode[0] = r->btype[0] = r->etag[0] = r->md5[0] = '\0';
		r->has_clen = 0;
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
req_start(struct ofs_azblob *c, struct req *r, CURL *e, struct ofs_error *err)
{
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
	r->cerr[0] = '\0';
	if (r->sink)
		r->sink->len = r->sink_base;
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
		req_path(c, r->container, r->name, &path);
		if ((r_ = ofs_azblob_string_to_sign(&sts, r->verb, c->account, (char *)path.data,
		    r->query, hv, nh, err)) != 0)
			goto out;
		ofs_azb_sign_raw(c->key, c->keylen, sts.data, sts.len, sig);
		snprintf(auth, sizeof(auth), "Authorization: SharedKey %s:%s", c->account, sig);
		r->slist = curl_slist_append(r->slist, auth);
		OPENSSL_cleanse(auth, sizeof(auth));
	}
	r->slist = curl_slist_append(r->slist, "Expect:");
	ofs_azblob_url(c, r->container, r->name, r->query, &url);

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
static void
error_detail(struct req *r, char *code, size_t codesz, char *msg, size_t msgsz)
{
	const char *p = (const char *)r->ebody.data, *end = p + r->ebody.len, *cs, *ce, *af;
	struct ofs_buf t = OFS_BUF_INIT(4096);

	snprintf(code, codesz, "%s", r->ecode);
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
req_finish(struct ofs_azblob *c, struct req *r, CURLcode cc)
{
	char what[OFS_AZBLOB_NAME_MAX + 200], detail[600], code[96], msg[400];
	long status = 0, connect = 0;
	curl_off_t ra = 0;
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
		error_detail(r, code, sizeof(code), msg, sizeof(msg));
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
	curl_easy_getinfo(r->e, CURLINFO_RETRY_AFTER, &ra);
	if (ra > 0) {
		delay = (double)(ra > RETRY_AFTER_CAP_S ? RETRY_AFTER_CAP_S : ra);
	} else {
		double d = (double)c->retry_base_ms;
		int k;

		for (k = 1; k < r->attempts && d < c->retry_max_ms; k++)
			d *= 2;
		if (d > c->retry_max_ms)
			d = c->retry_max_ms;
		/* jitter: between half and the full delay */
		d = d / 2 + (double)(rng_next(c) % 1000) / 1000.0 * d / 2;
		delay = d / 1000.0;
	}
	ofs_verbose("%s: %s; retrying in %.1f s", what, detail, delay);
	r->not_before = ofs_mono() + delay;
	return FIN_RETRY;
}

/* Run rs[0..n) with up to c->parallel transfers in flight. Stops at the first failure. */
static int
run(struct ofs_azblob *c, struct req **rs, size_t n, struct ofs_error *err)
{
	struct req *busy[PARALLEL_MAX] = { 0 }, *wait = NULL, *failed = NULL;
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
			struct req *pick = NULL, **pp;

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
			struct req *q = NULL;
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
		for (struct req *w = wait; w; w = w->next_wait)
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

static int
run1(struct ofs_azblob *c, struct req *r, struct ofs_error *err)
{
	struct req *rs[1] = { r };

	return run(c, rs, 1, err);
}

/* ---------- operations ---------- */

int
ofs_azblob_create_container(struct ofs_azblob *c, const char *container, int *created,
    struct ofs_error *err)
{
	struct req r;
	int rc;

	if (created)
		*created = 0;
	if ((rc = check_names("PUT", container, NULL, err)) != 0)
		return rc;
	req_init(&r, c, "PUT", container, NULL);
	r.query = ofs_xstrdup("restype=container");
	r.exists_ok = 1;
	if ((rc = run1(c, &r, err)) == 0 && created)
		*created = !r.existed;
	req_release(&r);
	return rc;
}

static int
block_id_len(const char *id)
{
	uint8_t raw[OFS_AZBLOB_BLOCK_ID_RAW_MAX + 3];
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > (OFS_AZBLOB_BLOCK_ID_RAW_MAX + 2) / 3 * 4)
		return -1;
	return ofs_azb_b64_decode(id, raw, OFS_AZBLOB_BLOCK_ID_RAW_MAX);
}

int
ofs_azblob_block_id_check(const char *id)
{
	return block_id_len(id);
}

void
ofs_azblob_block_id(uint64_t i, char out[OFS_AZBLOB_BLOCK_ID_LEN])
{
	char raw[32];

	snprintf(raw, sizeof(raw), "offseed-%010" PRIu64, (uint64_t)(i % 10000000000ull));
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)raw, 18);
}

/* Validate a job against the limits; fill r. */
static int
job_req(struct ofs_azblob *c, const struct ofs_azblob_job *j, struct req *r,
    struct ofs_error *err)
{
	struct ofs_buf q = OFS_BUF_INIT(0);
	const char *what = j->op == OFS_AZBLOB_PUT_PAGE ? "Put Page" :
	    j->op == OFS_AZBLOB_PUT_BLOCK ? "Put Block" : "Put Blob";
	int rc;

	if ((rc = check_names(what, j->container, j->name ? j->name : "", err)) != 0)
		return rc;
	if (j->data == NULL && j->fd < 0 && j->len > 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "%s %s/%s: no data source", what,
		    j->container, j->name);
	switch (j->op) {
	case OFS_AZBLOB_PUT_BLOB:
		if (j->len > OFS_AZBLOB_SINGLE_MAX)
			return ofs_err_set(err, OFS_ERR_USAGE, "Put Blob %s/%s: %" PRIu64
			    " bytes is more than the single-shot limit of %llu", j->container,
			    j->name, j->len, (unsigned long long)OFS_AZBLOB_SINGLE_MAX);
		req_init(r, c, "PUT", j->container, j->name);
		req_header(r, "x-ms-blob-type: BlockBlob");
		break;
	case OFS_AZBLOB_PUT_BLOCK:
		if (block_id_len(j->block_id) < 0)
			return ofs_err_set(err, OFS_ERR_USAGE, "Put Block %s/%s: block id is not "
			    "base64 of 1-64 bytes", j->container, j->name);
		if (j->len > OFS_AZBLOB_BLOCK_MAX)
			return ofs_err_set(err, OFS_ERR_USAGE, "Put Block %s/%s: %" PRIu64
			    " bytes is more than the block limit of %llu", j->container, j->name,
			    j->len, (unsigned long long)OFS_AZBLOB_BLOCK_MAX);
		req_init(r, c, "PUT", j->container, j->name);
		ofs_buf_adds(&q, "comp=block&blockid=");
		ofs_azb_pct_encode(&q, j->block_id, 0);
		ofs_buf_cstr(&q);
		r->query = (char *)ofs_buf_detach(&q, NULL);
		snprintf(r->label, sizeof(r->label), "(block %.40s)", j->block_id);
		break;
	case OFS_AZBLOB_PUT_PAGE:
		if (j->len == 0 || j->len > OFS_AZBLOB_PAGE_MAX || j->len % OFS_AZBLOB_PAGE_ALIGN ||
		    j->offset % OFS_AZBLOB_PAGE_ALIGN || j->offset > OFS_AZBLOB_PAGE_BLOB_MAX)
			return ofs_err_set(err, OFS_ERR_USAGE, "Put Page %s/%s at %" PRIu64 ": %"
			    PRIu64 " bytes; pages must be 512-aligned and 1-%u bytes", j->container,
			    j->name, j->offset, j->len, OFS_AZBLOB_PAGE_MAX);
		req_init(r, c, "PUT", j->container, j->name);
		r->query = ofs_xstrdup("comp=page");
		req_header(r, "x-ms-page-write: update");
		req_header(r, "x-ms-range: bytes=%" PRIu64 "-%" PRIu64, j->offset,
		    j->offset + j->len - 1);
		snprintf(r->label, sizeof(r->label), "(page %" PRIu64 "+%" PRIu64 ")", j->offset,
		    j->len);
		break;
	default:
		return ofs_err_set(err, OFS_ERR_USAGE, "unknown upload operation %d", (int)j->op);
	}
	r->mem = j->data;
	r->fd = j->fd;
	r->fd_off = j->fd_offset;
	r->body_len = j->len;
	return 0;
}

int
ofs_azblob_put_many(struct ofs_azblob *c, struct ofs_azblob_job *jobs, size_t n,
    struct ofs_error *err)
{
	struct req *reqs = NULL, **rs = NULL;
	size_t i, ninit = 0;
	int r = 0;

	for (i = 0; i < n; i++)
		jobs[i].result = OFS_ERR_IO;
	if (n == 0)
		return 0;
	reqs = ofs_xcalloc(n, sizeof(*reqs));
	rs = ofs_xcalloc(n, sizeof(*rs));
	for (ninit = 0; ninit < n; ninit++) {
		if ((r = job_req(c, &jobs[ninit], &reqs[ninit], err)) != 0)
			goto out;
		rs[ninit] = &reqs[ninit];
	}
	r = run(c, rs, n, err);
out:
	for (i = 0; i < ninit; i++) {
		jobs[i].result = reqs[i].result;
		req_release(&reqs[i]);
	}
	free(reqs);
	free(rs);
	return r;
}

static int
put_one(struct ofs_azblob *c, const struct ofs_azblob_job *j, struct ofs_error *err)
{
	struct ofs_azblob_job copy = *j;

	return ofs_azblob_put_many(c, &copy, 1, err);
}

/* Upload data/fd of size bytes: one Put Blob, or blocks + block list. */
static int
put_blob_any(struct ofs_azblob *c, const char *container, const char *name,
    const void *data, int fd, uint64_t size, struct ofs_error *err)
{
	struct ofs_azblob_job *jobs = NULL, one = { 0 };
	char (*ids)[OFS_AZBLOB_BLOCK_ID_LEN] = NULL;
	const char **idp = NULL;
	uint64_t bs = OFS_AZBLOB_BLOCK_SIZE, nb, i;
	int r;

	if ((r = check_names("PUT", container, name, err)) != 0)
		return r;
	if (size <= OFS_AZBLOB_SINGLE_PUT) {
		one.op = OFS_AZBLOB_PUT_BLOB;
		one.container = container;
		one.name = name;
		one.data = data;
		one.fd = fd;
		one.len = size;
		return put_one(c, &one, err);
	}
	nb = (size + bs - 1) / bs;
	if (nb > OFS_AZBLOB_BLOCKS_MAX) {
		bs = (size + OFS_AZBLOB_BLOCKS_MAX - 1) / OFS_AZBLOB_BLOCKS_MAX;
		bs = (bs + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
		if (bs > OFS_AZBLOB_BLOCK_MAX)
			return ofs_err_set(err, OFS_ERR_USAGE, "PUT %s/%s: %" PRIu64
			    " bytes is more than a block blob can hold", container, name, size);
		nb = (size + bs - 1) / bs;
	}
	jobs = ofs_xcalloc(nb, sizeof(*jobs));
	ids = ofs_xcalloc(nb, sizeof(*ids));
	idp = ofs_xcalloc(nb, sizeof(*idp));
	for (i = 0; i < nb; i++) {
		ofs_azblob_block_id(i, ids[i]);
		idp[i] = ids[i];
		jobs[i].op = OFS_AZBLOB_PUT_BLOCK;
		jobs[i].container = container;
		jobs[i].name = name;
		jobs[i].block_id = ids[i];
		jobs[i].len = i + 1 < nb ? bs : size - i * bs;
		if (data) {
			jobs[i].data = (const uint8_t *)data + i * bs;
			jobs[i].fd = -1;
		} else {
			jobs[i].fd = fd;
			jobs[i].fd_offset = i * bs;
		}
	}
	if ((r = ofs_azblob_put_many(c, jobs, (size_t)nb, err)) != 0)
		goto out;
	r = ofs_azblob_put_block_list(c, container, name, idp, (size_t)nb, err);
out:
	free(jobs);
	free(ids);
	free(idp);
	return r;
}

int
ofs_azblob_put_blob(struct ofs_azblob *c, const char *container, const char *name,
    const void *data, size_t len, struct ofs_error *err)
{
	if (data == NULL && len > 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "PUT %s/%s: no data", container, name);
	return put_blob_any(c, container, name, data ? data : "", -1, len, err);
}

int
ofs_azblob_put_blob_fd(struct ofs_azblob *c, const char *container, const char *name,
    int fd, uint64_t size, struct ofs_error *err)
{
	if (fd < 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "PUT %s/%s: no file", container, name);
	return put_blob_any(c, container, name, NULL, fd, size, err);
}

int
ofs_azblob_put_block(struct ofs_azblob *c, const char *container, const char *name,
    const char *block_id, const void *data, size_t len, struct ofs_error *err)
{
	struct ofs_azblob_job j = { 0 };

	j.op = OFS_AZBLOB_PUT_BLOCK;
	j.container = container;
	j.name = name;
	j.block_id = block_id;
	j.data = data ? data : "";
	j.fd = -1;
	j.len = data ? len : 0;
	if (data == NULL && len > 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "PUT %s/%s: no data", container, name);
	return put_one(c, &j, err);
}

int
ofs_azblob_put_block_list(struct ofs_azblob *c, const char *container, const char *name,
    const char *const *ids, size_t n, struct ofs_error *err)
{
	struct ofs_buf body = OFS_BUF_INIT(0);
	struct req r;
	size_t i;
	int rc, len0 = -1;

	if ((rc = check_names("Put Block List", container, name, err)) != 0)
		return rc;
	if (n == 0 || n > OFS_AZBLOB_BLOCKS_MAX)
		return ofs_err_set(err, OFS_ERR_USAGE, "Put Block List %s/%s: %zu blocks "
		    "(must be 1-%u)", container, name, n, OFS_AZBLOB_BLOCKS_MAX);
	for (i = 0; i < n; i++) {
		int l = block_id_len(ids[i]);

		if (l < 0)
			return ofs_err_set(err, OFS_ERR_USAGE, "Put Block List %s/%s: block id %zu "
			    "is not base64 of 1-64 bytes", container, name, i);
		if (len0 >= 0 && l != len0)
			return ofs_err_set(err, OFS_ERR_USAGE, "Put Block List %s/%s: block ids "
			    "differ in length (%d and %d bytes)", container, name, len0, l);
		len0 = l;
	}
	ofs_buf_adds(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	for (i = 0; i < n; i++)
		ofs_buf_addf(&body, "<Latest>%s</Latest>", ids[i]);	/* base64: no escaping */
	ofs_buf_adds(&body, "</BlockList>");
	req_init(&r, c, "PUT", container, name);
	r.query = ofs_xstrdup("comp=blocklist");
	snprintf(r.label, sizeof(r.label), "(block list of %zu)", n);
	r.mem = body.data;
	r.body_len = body.len;
	rc = run1(c, &r, err);
	req_release(&r);
	ofs_buf_release(&body);
	return rc;
}

int
ofs_azblob_create_page_blob(struct ofs_azblob *c, const char *container, const char *name,
    uint64_t size, struct ofs_error *err)
{
	struct req r;
	int rc;

	if ((rc = check_names("PUT", container, name, err)) != 0)
		return rc;
	if (size % OFS_AZBLOB_PAGE_ALIGN || size > OFS_AZBLOB_PAGE_BLOB_MAX)
		return ofs_err_set(err, OFS_ERR_USAGE, "PUT %s/%s: a page blob of %" PRIu64
		    " bytes is not possible (multiple of 512, at most 8 TiB)", container, name,
		    size);
	req_init(&r, c, "PUT", container, name);
	req_header(&r, "x-ms-blob-type: PageBlob");
	req_header(&r, "x-ms-blob-content-length: %" PRIu64, size);
	rc = run1(c, &r, err);
	req_release(&r);
	return rc;
}

int
ofs_azblob_put_page(struct ofs_azblob *c, const char *container, const char *name,
    uint64_t off, const void *data, size_t len, struct ofs_error *err)
{
	struct ofs_azblob_job j = { 0 };

	j.op = OFS_AZBLOB_PUT_PAGE;
	j.container = container;
	j.name = name;
	j.offset = off;
	j.data = data ? data : "";
	j.fd = -1;
	j.len = data ? len : 0;
	if (data == NULL && len > 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "PUT %s/%s: no data", container, name);
	return put_one(c, &j, err);
}

static int
all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

int
ofs_azblob_put_page_blob_fd(struct ofs_azblob *c, const char *container, const char *name,
    int fd, uint64_t size, uint64_t *sent, struct ofs_error *err)
{
	struct ofs_azblob_job *jobs = NULL;
	uint8_t **bufs = NULL;
	size_t nbuf, i;
	uint64_t off = 0;
	int r;

	if (sent)
		*sent = 0;
	if ((r = ofs_azblob_create_page_blob(c, container, name, size, err)) != 0)
		return r;
	nbuf = (size_t)c->parallel * 2;
	if ((uint64_t)nbuf > (size + OFS_AZBLOB_PAGE_MAX - 1) / OFS_AZBLOB_PAGE_MAX)
		nbuf = (size_t)((size + OFS_AZBLOB_PAGE_MAX - 1) / OFS_AZBLOB_PAGE_MAX);
	bufs = ofs_xcalloc(nbuf ? nbuf : 1, sizeof(*bufs));
	jobs = ofs_xcalloc(nbuf ? nbuf : 1, sizeof(*jobs));
	while (off < size) {
		size_t nj = 0;
		uint64_t batch = 0;

		for (i = 0; i < nbuf && off < size; i++) {
			size_t len = size - off < OFS_AZBLOB_PAGE_MAX ? (size_t)(size - off) :
			    OFS_AZBLOB_PAGE_MAX;
			int e;

			if (bufs[i] == NULL)
				bufs[i] = ofs_xmalloc(OFS_AZBLOB_PAGE_MAX);
			if ((e = ofs_pread_all(fd, bufs[i], len, off)) != 0) {
				r = e == OFS_READ_EOF ? ofs_err_set(err, OFS_ERR_IO, "PUT %s/%s: the file "
				    "ended before %" PRIu64 " bytes", container, name, size) :
				    ofs_err_sys(err, OFS_ERR_IO, -e, "PUT %s/%s: cannot read at %"
				    PRIu64, container, name, off);
				goto out;
			}
			if (!all_zero(bufs[i], len)) {
				memset(&jobs[nj], 0, sizeof(jobs[nj]));
				jobs[nj].op = OFS_AZBLOB_PUT_PAGE;
				jobs[nj].container = container;
				jobs[nj].name = name;
				jobs[nj].offset = off;
				jobs[nj].data = bufs[i];
				jobs[nj].fd = -1;
				jobs[nj].len = len;
				nj++;
				batch += len;
			}
			off += len;
		}
		if (nj && (r = ofs_azblob_put_many(c, jobs, nj, err)) != 0)
			goto out;
		if (sent)
			*sent += batch;
	}
	r = 0;
out:
	for (i = 0; i < nbuf; i++)
		free(bufs[i]);
	free(bufs);
	free(jobs);
	return r;
}

int
ofs_azblob_get(struct ofs_azblob *c, const char *container, const char *name, uint64_t off,
    uint64_t len, struct ofs_buf *out, struct ofs_error *err)
{
	struct req r;
	int rc;

	if ((rc = check_names("GET", container, name, err)) != 0)
		return rc;
	if (len > 0 && off + len < off)
		return ofs_err_set(err, OFS_ERR_USAGE, "GET %s/%s: range overflows", container,
		    name);
	req_init(&r, c, "GET", container, name);
	if (len > 0)
		req_header(&r, "x-ms-range: bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
	else if (off > 0)
		req_header(&r, "x-ms-range: bytes=%" PRIu64 "-", off);
	r.ranged = off > 0 || len > 0;
	r.sink_limit = len;
	if (off > 0 || len > 0)
		snprintf(r.label, sizeof(r.label), "(range %" PRIu64 "+%" PRIu64 ")", off, len);
	r.sink = out;
	r.sink_base = out->len;
	rc = run1(c, &r, err);
	if (rc != 0)
		out->len = r.sink_base;
	req_release(&r);
	return rc;
}

int
ofs_azblob_props(struct ofs_azblob *c, const char *container, const char *name,
    struct ofs_azblob_props *p, struct ofs_error *err)
{
	struct req r;
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = check_names("HEAD", container, name, err)) != 0)
		return rc;
	req_init(&r, c, "HEAD", container, name);
	if ((rc = run1(c, &r, err)) == 0) {
		if (!r.has_clen)
			rc = ofs_err_set(err, OFS_ERR_CORRUPT, "HEAD %s/%s: no Content-Length in "
			    "the answer", container, name);
		p->size = r.clen;
		p->type = type_from_name(r.btype, strlen(r.btype));
		snprintf(p->etag, sizeof(p->etag), "%s", r.etag);
		snprintf(p->content_md5, sizeof(p->content_md5), "%s", r.md5);
	}
	req_release(&r);
	return rc;
}

int
ofs_azblob_delete(struct ofs_azblob *c, const char *container, const char *name,
    struct ofs_error *err)
{
	struct req r;
	int rc;

	if ((rc = check_names("DELETE", container, name, err)) != 0)
		return rc;
	req_init(&r, c, "DELETE", container, name);
	req_header(&r, "x-ms-delete-snapshots: include");
	rc = run1(c, &r, err);
	req_release(&r);
	return rc;
}

/* ---------- listing ---------- */

void
ofs_azblob_list_release(struct ofs_azblob_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->items[i].name);
	free(l->items);
	free(l->next_marker);
	l->items = NULL;
	l->n = 0;
	l->next_marker = NULL;
}

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

		if (ofs_azb_pct_decode(&d, (char *)t.data, t.len) != 0 || d.len == 0 ||
		    memchr(d.data, '\0', d.len) != NULL) {
			ofs_buf_release(&d);
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "List Blobs: bad encoded <Name>");
			goto out;
		}
		ofs_buf_release(&t);
		t = d;
		ofs_buf_cstr(&t);
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
		it->type = type_from_name(cs, (size_t)(ce - cs));
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

int
ofs_azblob_list(struct ofs_azblob *c, const char *container, const char *prefix,
    const char *marker, unsigned maxresults, struct ofs_azblob_list *out,
    struct ofs_error *err)
{
	struct ofs_buf q = OFS_BUF_INIT(0);
	struct req r;
	int rc;

	if ((rc = check_names("GET", container, NULL, err)) != 0)
		return rc;
	if (maxresults > OFS_AZBLOB_LIST_MAX)
		return ofs_err_set(err, OFS_ERR_USAGE, "List Blobs %s: maxresults %u is more than %u",
		    container, maxresults, OFS_AZBLOB_LIST_MAX);
	if (prefix && strlen(prefix) > OFS_AZBLOB_NAME_MAX)
		return ofs_err_set(err, OFS_ERR_USAGE, "List Blobs %s: prefix too long", container);
	ofs_buf_adds(&q, "restype=container&comp=list");
	if (prefix && *prefix) {
		ofs_buf_adds(&q, "&prefix=");
		ofs_azb_pct_encode(&q, prefix, 0);
	}
	if (marker && *marker) {
		ofs_buf_adds(&q, "&marker=");
		ofs_azb_pct_encode(&q, marker, 0);
	}
	if (maxresults)
		ofs_buf_addf(&q, "&maxresults=%u", maxresults);
	ofs_buf_cstr(&q);
	req_init(&r, c, "GET", container, NULL);
	r.ebody.max = LIST_BODY_MAX;	/* the 2xx body lands in ebody */
	r.keep_body = 1;
	r.query = (char *)ofs_buf_detach(&q, NULL);
	snprintf(r.label, sizeof(r.label), "(list)");
	if ((rc = run1(c, &r, err)) == 0 &&
	    (rc = ofs_azblob_list_parse(r.ebody.data, r.ebody.len, out, err)) != 0)
		ofs_err_wrap(err, "GET %s (list)", container);
	req_release(&r);
	return rc;
}

int
ofs_azblob_list_all(struct ofs_azblob *c, const char *container, const char *prefix,
    struct ofs_azblob_list *out, struct ofs_error *err)
{
	char *marker = NULL;
	int r;

	do {
		free(marker);
		marker = out->next_marker;
		out->next_marker = NULL;	/* transferred */
		if ((r = ofs_azblob_list(c, container, prefix, marker, 0, out, err)) != 0)
			break;
	} while (out->next_marker != NULL);
	free(marker);
	return r;
}
