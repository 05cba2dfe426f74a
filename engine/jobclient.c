/* HTTP client of the import service: one reused libcurl easy handle, a bearer token cached
 * for the run, bounded retries with back-off honouring Retry-After, long-running create
 * (Azure-AsyncOperation / Location) and the copy-log downloads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "dynlib.h"

#include "azblob.h"
#include "crypto.h"
#include "jobclient.h"
#include "log.h"
#include "retry.h"
#include "util.h"

#define LRO_MAX_SECONDS 600.0		/* a create that runs longer is reported, not waited on */
#define BACKOFF_MAX_S 30.0		/* the longest back-off step (README "Import jobs") */

struct ofs_jobclient {
	CURL *curl;
	const struct ofs_credentials *cred;
	char *endpoint;		/* without a trailing '/' */
	char *base;		/* endpoint/subscriptions/S/resourceGroups/G/providers/Microsoft.DataBox */
	char *token;		/* secret */
	double token_until;	/* ofs_mono() after which we fetch a new one */
	int attempts;
	double backoff, timeout;
	char *ca_file;
	/* Where copy-log links may point (SPEC §15 "Links the client follows"). */
	int loopback;		/* the endpoint is on this machine: file: links may be read */
	char *storage_dir;	/* file: storage folder the credentials name, or NULL */
	char *storage_origin;	/* scheme://host[:port] of the azure:// storage, or NULL */
	char *storage_path;	/* its path prefix (path-style endpoint) or "" */
};

struct resp {
	long status;
	struct ofs_buf body;
	int overflow;
	double retry_after;	/* seconds, -1 when absent */
	char *async_op, *location;
};

static void
resp_init(struct resp *rs, size_t max)
{
	memset(rs, 0, sizeof(*rs));
	ofs_buf_init(&rs->body, max);
	rs->retry_after = -1;
}

static void
resp_clear(struct resp *rs)
{
	ofs_buf_reset(&rs->body);
	rs->status = 0;
	rs->overflow = 0;
	rs->retry_after = -1;
	free(rs->async_op);
	free(rs->location);
	rs->async_op = rs->location = NULL;
}

static void
resp_release(struct resp *rs)
{
	resp_clear(rs);
	ofs_buf_release(&rs->body);
}

static double
env_num(const char *name, double dflt, double lo, double hi)
{
	const char *s = getenv(name);
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return dflt;
	v = strtod(s, &end);
	if (*end != '\0' || !(v >= lo && v <= hi)) {
		ofs_warn("ignoring %s='%s' (expected a number from %g to %g)", name, s, lo, hi);
		return dflt;
	}
	return v;
}

static void
sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int endpoint_loopback(const char *endpoint);
static void storage_policy(struct ofs_jobclient *jc, const struct ofs_credentials *c);

int
ofs_jobclient_new(const struct ofs_credentials *c, struct ofs_jobclient **out,
    struct ofs_error *err)
{
	struct ofs_jobclient *jc;
	const char *ca;
	size_t n;
	int r;

	*out = NULL;
	if ((r = ofs_dynlib_load_curl(err)) != 0)
		return r;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return ofs_err_set(err, OFS_ERR_IO, "cannot initialize libcurl");
	jc = ofs_xcalloc(1, sizeof(*jc));
	if ((jc->curl = curl_easy_init()) == NULL) {
		free(jc);
		curl_global_cleanup();
		return ofs_err_set(err, OFS_ERR_IO, "cannot initialize libcurl");
	}
	jc->cred = c;
	jc->endpoint = ofs_xstrdup(c->endpoint);
	n = strlen(jc->endpoint);
	while (n > 0 && jc->endpoint[n - 1] == '/')
		jc->endpoint[--n] = '\0';
	jc->base = ofs_xasprintf("%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.DataBox",
	    jc->endpoint, c->subscription, c->resource_group);
	jc->attempts = (int)env_num("OFFSEED_HTTP_RETRIES", 6, 1, 100);
	jc->backoff = env_num("OFFSEED_HTTP_BACKOFF", 1, 0, 600);
	jc->timeout = env_num("OFFSEED_HTTP_TIMEOUT", 60, 1, 86400);
	if ((ca = getenv("OFFSEED_CA_FILE")) != NULL && *ca) {
		/* Say so now rather than as a TLS failure on the first request. */
		int fd = open(ca, O_RDONLY | O_NONBLOCK | O_CLOEXEC), e = fd < 0 ? errno : 0;
		struct stat st;

		if (fd >= 0 && fstat(fd, &st) != 0)
			e = errno;
		else if (fd >= 0 && !S_ISREG(st.st_mode))
			e = -1;
		if (fd >= 0)
			close(fd);
		if (e != 0) {
			ofs_jobclient_free(jc);
			return ofs_err_set(err, OFS_ERR_USAGE, "cannot use the CA file '%s' "
			    "(OFFSEED_CA_FILE): %s", ca, e < 0 ? "not a regular file" : strerror(e));
		}
		jc->ca_file = ofs_xstrdup(ca);
	}
	jc->loopback = endpoint_loopback(jc->endpoint);
	storage_policy(jc, c);
	*out = jc;
	return 0;
}

void
ofs_jobclient_free(struct ofs_jobclient *jc)
{
	if (jc == NULL)
		return;
	if (jc->token != NULL) {
		ofs_wipe(jc->token, strlen(jc->token));
		free(jc->token);
	}
	curl_easy_cleanup(jc->curl);
	curl_global_cleanup();
	free(jc->endpoint);
	free(jc->base);
	free(jc->ca_file);
	free(jc->storage_dir);
	free(jc->storage_origin);
	free(jc->storage_path);
	free(jc);
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct resp *rs = arg;

	if (ofs_buf_add(&rs->body, p, size * nmemb) != 0) {
		rs->overflow = 1;
		return 0;
	}
	return size * nmemb;
}

/* Value of header `name` in line (case-insensitive), trimmed, owned; or NULL. */
static char *
header_value(const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return NULL;
	line += k + 1;
	n -= k + 1;
	while (n > 0 && (*line == ' ' || *line == '\t'))
		line++, n--;
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
		n--;
	return ofs_xstrndup(line, n);
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct resp *rs = arg;
	size_t n = size * nmemb;
	char *v;

	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {	/* a new header block (1xx, proxy) */
		free(rs->async_op);
		free(rs->location);
		rs->async_op = rs->location = NULL;
		rs->retry_after = -1;
		return n;
	}
	if ((v = header_value(p, n, "Retry-After")) != NULL) {
		rs->retry_after = ofs_retry_after_parse(v, time(NULL));
		free(v);
	} else if ((v = header_value(p, n, "Azure-AsyncOperation")) != NULL) {
		free(rs->async_op);
		rs->async_op = v;
	} else if ((v = header_value(p, n, "Location")) != NULL) {
		free(rs->location);
		rs->location = v;
	}
	return n;
}

/* scheme://host[:port] of url equals that of the endpoint (the token goes nowhere else). */
static int
same_origin(const char *url, const char *endpoint)
{
	size_t n = strlen(endpoint);
	const char *p = strstr(endpoint, "://");
	const char *slash = p != NULL ? strchr(p + 3, '/') : NULL;

	if (slash != NULL)
		n = (size_t)(slash - endpoint);
	return strncmp(url, endpoint, n) == 0 && (url[n] == '/' || url[n] == '\0' ||
	    url[n] == '?');
}

/* "METHOD URL-without-query" for messages (queries may carry SAS signatures). */
static char *
request_name(const char *method, const char *url)
{
	size_t n = strcspn(url, "?");

	return ofs_xasprintf("%s %.*s", method, (int)n, url);
}

static int token_fetch(struct ofs_jobclient *jc, struct ofs_error *err);

static int
retryable_curl(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return 1;
	default:
		return 0;
	}
}

/*
 * One HTTP exchange with retries: 429, 5xx and connection failures are retried with
 * exponential back-off (Retry-After wins when given) up to jc->attempts; then
 * OFS_ERR_NETWORK naming the request. Any other answer returns 0 with rs filled, for the
 * caller to judge. With auth, a bearer token is attached (fetched when needed; a 401 on a
 * cached token fetches a new one once).
 */
static int
request_with_retries(struct ofs_jobclient *jc, const char *method, const char *url,
    const char *ctype, const void *body, size_t bodylen, int auth, struct resp *rs,
    struct ofs_error *err)
{
	char errbuf[CURL_ERROR_SIZE], last[768], *name = request_name(method, url), *hdr = NULL;
	struct curl_slist *hl = NULL;
	int attempt, r = 0, renewed = 0;
	double delay;
	CURLcode cc;

	last[0] = '\0';
	if (auth && !same_origin(url, jc->endpoint))
		auth = 0;
	for (attempt = 1;; attempt++) {
		resp_clear(rs);
		if (auth && (jc->token == NULL || ofs_mono() > jc->token_until) &&
		    (r = token_fetch(jc, err)) != 0)
			goto out;
		curl_easy_reset(jc->curl);
		curl_slist_free_all(hl);
		hl = NULL;
		hl = curl_slist_append(hl, "Accept: application/json");
		if (ctype != NULL) {
			free(hdr);
			hdr = ofs_xasprintf("Content-Type: %s", ctype);
			hl = curl_slist_append(hl, hdr);
		}
		if (auth) {
			if (hdr != NULL)
				ofs_wipe(hdr, strlen(hdr));
			free(hdr);
			hdr = ofs_xasprintf("Authorization: Bearer %s", jc->token);
			hl = curl_slist_append(hl, hdr);
			ofs_wipe(hdr, strlen(hdr));
		}
		hl = curl_slist_append(hl, "Expect:");
		errbuf[0] = '\0';
		curl_easy_setopt(jc->curl, CURLOPT_URL, url);
		curl_easy_setopt(jc->curl, CURLOPT_CUSTOMREQUEST, method);
		if (body != NULL) {
			curl_easy_setopt(jc->curl, CURLOPT_POSTFIELDS, body);
			curl_easy_setopt(jc->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodylen);
		} else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
			curl_easy_setopt(jc->curl, CURLOPT_POSTFIELDS, "");
			curl_easy_setopt(jc->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		}
		if (strcmp(method, "GET") == 0)
			curl_easy_setopt(jc->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(jc->curl, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(jc->curl, CURLOPT_USERAGENT, "offseed/" OFS_VERSION);
		curl_easy_setopt(jc->curl, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(jc->curl, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(jc->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
		curl_easy_setopt(jc->curl, CURLOPT_TIMEOUT_MS, (long)(jc->timeout * 1000));
		curl_easy_setopt(jc->curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(jc->curl, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(jc->curl, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(jc->curl, CURLOPT_WRITEDATA, rs);
		curl_easy_setopt(jc->curl, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(jc->curl, CURLOPT_HEADERDATA, rs);
		/* TLS is always verified: the system CAs, or OFFSEED_CA_FILE. */
		curl_easy_setopt(jc->curl, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(jc->curl, CURLOPT_SSL_VERIFYHOST, 2L);
		if (jc->ca_file != NULL)
			curl_easy_setopt(jc->curl, CURLOPT_CAINFO, jc->ca_file);
		ofs_verbose("%s (attempt %d)", name, attempt);
		cc = curl_easy_perform(jc->curl);
		/* The header list held the token: wipe it before freeing. */
		for (struct curl_slist *s = hl; s != NULL; s = s->next)
			ofs_wipe(s->data, strlen(s->data));
		if (cc == CURLE_WRITE_ERROR && rs->overflow) {
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s: the answer is larger than %zu bytes",
			    name, rs->body.max);
			goto out;
		}
		if (cc != CURLE_OK) {
			long connect_code = 0;

			curl_easy_getinfo(jc->curl, CURLINFO_HTTP_CONNECTCODE, &connect_code);
			if (connect_code == 407) {
				r = ofs_err_set(err, OFS_ERR_NETWORK, "%s: the proxy requires "
				    "authentication (HTTP 407): put the proxy user and password in "
				    "https_proxy / http_proxy", name);
				goto out;
			}
			snprintf(last, sizeof(last), "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
			if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE) {
				r = ofs_err_set(err, OFS_ERR_NETWORK, "%s failed: TLS: %s (the service's "
				    "certificate must verify against the system CAs or OFFSEED_CA_FILE)",
				    name, last);
				goto out;
			}
			if (!retryable_curl(cc)) {
				r = ofs_err_set(err, OFS_ERR_NETWORK, "%s failed: %s", name, last);
				goto out;
			}
		} else {
			curl_easy_getinfo(jc->curl, CURLINFO_RESPONSE_CODE, &rs->status);
			if (rs->status == 407) {
				r = ofs_err_set(err, OFS_ERR_NETWORK, "%s: the proxy requires "
				    "authentication (HTTP 407): put the proxy user and password in "
				    "https_proxy / http_proxy", name);
				goto out;
			}
			if (rs->status == 401 && auth && !renewed) {
				/* Our cached token may have been revoked: fetch a new one once. */
				renewed = 1;
				ofs_wipe(jc->token, strlen(jc->token));
				free(jc->token);
				jc->token = NULL;
				attempt--;
				continue;
			}
			if (rs->status != 429 && rs->status < 500)
				break;
			{
				struct ofs_api_error ae;

				if (ofs_jobjson_parse_error(rs->body.data, rs->body.len, &ae) == 0)
					snprintf(last, sizeof(last), "HTTP %ld %s: %s", rs->status,
					    ae.code, ae.message);
				else
					snprintf(last, sizeof(last), "HTTP %ld", rs->status);
			}
		}
		if (attempt >= jc->attempts) {
			r = ofs_err_set(err, OFS_ERR_NETWORK, "the import service did not answer %s "
			    "after %d attempts (last: %s); try again later", name, attempt, last);
			goto out;
		}
		if (rs->retry_after >= 0) {
			delay = rs->retry_after;
		} else {
			uint32_t rnd;

			ofs_random(&rnd, sizeof(rnd));
			delay = ofs_retry_backoff(jc->backoff, BACKOFF_MAX_S, attempt, rnd);
		}
		ofs_verbose("%s: %s; retrying in %.1f s", name, last, delay);
		sleep_s(delay);
	}
out:
	if (hdr != NULL)
		ofs_wipe(hdr, strlen(hdr));
	free(hdr);
	curl_slist_free_all(hl);
	free(name);
	return r;
}

/* Turn a non-success answer into an error naming what was asked. */
static int
api_fail(const struct resp *rs, const char *what, struct ofs_error *err)
{
	struct ofs_api_error ae;
	char detail[700];
	int have = ofs_jobjson_parse_error(rs->body.data, rs->body.len, &ae) == 0;

	if (have && strcmp(ae.code, "AgentVersionNotSupported") == 0)
		return ofs_err_set(err, OFS_ERR_VERSION, "the import service requires offseed %s "
		    "or later (this is %s); upgrade offseed",
		    ae.min_version[0] ? ae.min_version : "(a newer version)", OFS_VERSION);
	if (have)
		snprintf(detail, sizeof(detail), "HTTP %ld %s: %s", rs->status, ae.code,
		    ae.message);
	else
		snprintf(detail, sizeof(detail), "HTTP %ld", rs->status);
	switch (rs->status) {
	case 401:
	case 403:
		return ofs_err_set(err, OFS_ERR_AUTH, "%s: the import service refused the "
		    "credentials (%s); check them or download a new credentials file", what, detail);
	case 404:
		return ofs_err_set(err, OFS_ERR_NOTFOUND, "%s: not found (%s)", what, detail);
	default:
		return ofs_err_set(err, OFS_ERR_IO, "%s: refused by the import service (%s)", what,
		    detail);
	}
}

static int
token_fetch(struct ofs_jobclient *jc, struct ofs_error *err)
{
	struct ofs_buf form = OFS_BUF_INIT(0);
	struct resp rs;
	char *url, *id, *secret, *scope, *scope_s;
	int64_t expires_in;
	int r;

	if (jc->token != NULL) {
		ofs_wipe(jc->token, strlen(jc->token));
		free(jc->token);
		jc->token = NULL;
	}
	resp_init(&rs, 1u << 20);
	url = ofs_xasprintf("%s/%s/oauth2/v2.0/token", jc->endpoint, jc->cred->tenant);
	scope_s = ofs_xasprintf("%s/.default", jc->endpoint);
	id = curl_easy_escape(jc->curl, jc->cred->client_id, 0);
	secret = curl_easy_escape(jc->curl, jc->cred->client_secret, 0);
	scope = curl_easy_escape(jc->curl, scope_s, 0);
	if (id == NULL || secret == NULL || scope == NULL) {
		r = ofs_err_set(err, OFS_ERR_IO, "cannot encode the token request");
		goto out;
	}
	if ((r = ofs_buf_addf(&form, "grant_type=client_credentials&client_id=%s&client_secret=%s"
	    "&scope=%s", id, secret, scope)) != 0) {	/* form is unbounded: only past SIZE_MAX */
		r = ofs_err_set(err, r, "the token request is too large");
		goto out;
	}
	if ((r = request_with_retries(jc, "POST", url, "application/x-www-form-urlencoded",
	    form.data, form.len, 0, &rs, err)) != 0)
		goto out;
	if (rs.status == 400 || rs.status == 401 || rs.status == 403) {
		struct ofs_api_error ae;

		if (ofs_jobjson_parse_error(rs.body.data, rs.body.len, &ae) == 0 &&
		    strcmp(ae.code, "AgentVersionNotSupported") == 0) {
			r = api_fail(&rs, "token request", err);
			goto out;
		}
		r = ofs_err_set(err, OFS_ERR_AUTH, "the import service did not accept the "
		    "credentials file's client (HTTP %ld%s%s%s%s); download a new credentials file",
		    rs.status, ae.code[0] ? " " : "", ae.code, ae.message[0] ? ": " : "",
		    ae.message);
		goto out;
	}
	if (rs.status != 200) {
		r = api_fail(&rs, "token request", err);
		goto out;
	}
	if ((r = ofs_jobjson_parse_token(rs.body.data, rs.body.len, "the token answer",
	    &jc->token, &expires_in, err)) != 0)
		goto out;
	/* Renew a minute early (or at half-life for short tokens). */
	jc->token_until = ofs_mono() + (expires_in > 120 ? (double)expires_in - 60 :
	    (double)expires_in / 2);
out:
	if (secret != NULL) {
		ofs_wipe(secret, strlen(secret));
		curl_free(secret);
	}
	curl_free(id);
	curl_free(scope);
	free(scope_s);
	free(url);
	ofs_buf_release_secret(&form);
	ofs_buf_release_secret(&rs.body);	/* it held the access token */
	resp_release(&rs);
	return r;
}

static char *
job_url(struct ofs_jobclient *jc, const char *name, const char *tail, const char *query)
{
	return ofs_xasprintf("%s/jobs/%s%s?api-version=" OFS_JOB_API_VERSION "%s", jc->base,
	    name, tail ? tail : "", query ? query : "");
}

/* Keys the service may hide in its answers (write-only secrets). */
static int
sensitive_key(const char *k)
{
	return strcmp(k, "carrierAccountNumber") == 0 || strcmp(k, "bitLockerKey") == 0 ||
	    strcmp(k, "sharePassword") == 0;
}

/* Every member of mine is in theirs with an equal value (theirs may hold more: read-only
 * fields the service adds). */
static int
json_subset(json_t *mine, json_t *theirs)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_object(mine)) {
		if (!json_is_object(theirs))
			return 0;
		json_object_foreach(mine, k, v) {
			json_t *t = json_object_get(theirs, k);

			if (t == NULL && sensitive_key(k))
				continue;
			if (t == NULL && strcmp(k, "blobPathList") == 0 && json_is_array(v)) {
				/* answers carry an export list's count and digest (docs/DC.md) */
				char hex[65];
				const char *h = json_string_value(json_object_get(theirs,
				    "blobPathListSha256"));

				ofs_export_list_digest(v, hex);
				if (h == NULL || strcmp(h, hex) != 0 ||
				    !json_is_integer(json_object_get(theirs, "blobPathCount")) ||
				    json_integer_value(json_object_get(theirs, "blobPathCount")) !=
				    (json_int_t)json_array_size(v))
					return 0;
				continue;
			}
			if (t == NULL || !json_subset(v, t))
				return 0;
		}
		return 1;
	}
	if (json_is_array(mine)) {
		if (!json_is_array(theirs) || json_array_size(mine) != json_array_size(theirs))
			return 0;
		json_array_foreach(mine, i, v)
			if (!json_subset(v, json_array_get(theirs, i)))
				return 0;
		return 1;
	}
	return json_equal(mine, theirs);
}

static int
get_raw(struct ofs_jobclient *jc, const char *name, struct resp *rs, struct ofs_error *err)
{
	char *url = job_url(jc, name, NULL, "&$expand=details"), *what;
	int r;

	if ((r = request_with_retries(jc, "GET", url, NULL, NULL, 0, 1, rs, err)) == 0 &&
	    rs->status != 200) {
		what = ofs_xasprintf("job '%s'", name);
		r = api_fail(rs, what, err);
		free(what);
	}
	free(url);
	return r;
}

int
ofs_jobclient_get(struct ofs_jobclient *jc, const char *name, struct ofs_job *job,
    json_t **raw, struct ofs_error *err)
{
	struct resp rs;
	char *what;
	int r;

	memset(job, 0, sizeof(*job));
	if (raw != NULL)
		*raw = NULL;
	resp_init(&rs, OFS_JOBJSON_MAX);
	if ((r = get_raw(jc, name, &rs, err)) != 0)
		goto out;
	what = ofs_xasprintf("the service's answer for job '%s'", name);
	r = ofs_jobjson_parse_job(rs.body.data, rs.body.len, what, job, err);
	free(what);
	if (r == 0 && raw != NULL)
		*raw = json_loadb((const char *)rs.body.data, rs.body.len, 0, NULL);
out:
	resp_release(&rs);
	return r;
}

/* Follow a long-running operation: poll the Azure-AsyncOperation URL until a terminal
 * status, or the Location URL until it stops answering 202. */
static int
follow_lro(struct ofs_jobclient *jc, const char *name, const char *async_op,
    const char *location, double first_wait, struct ofs_error *err)
{
	const char *url = async_op != NULL ? async_op : location;
	double start = ofs_mono(), wait = first_wait >= 0 ? first_wait : 1;
	struct ofs_api_error ae;
	char status[32], *what;
	struct resp rs;
	int r = 0;

	resp_init(&rs, 1u << 20);
	what = ofs_xasprintf("creating job '%s'", name);
	for (;;) {
		sleep_s(wait > 30 ? 30 : wait);
		if ((r = request_with_retries(jc, "GET", url, NULL, NULL, 0, 1, &rs, err)) != 0)
			break;
		wait = rs.retry_after >= 0 ? rs.retry_after : 1;
		if (async_op != NULL) {
			if (rs.status != 200) {
				r = api_fail(&rs, what, err);
				break;
			}
			if ((r = ofs_jobjson_parse_async(rs.body.data, rs.body.len,
			    "the operation status", status, &ae, err)) != 0)
				break;
			if (strcasecmp(status, "Succeeded") == 0)
				break;
			if (strcasecmp(status, "Failed") == 0 || strcasecmp(status, "Canceled") == 0 ||
			    strcasecmp(status, "Cancelled") == 0) {
				if (strcmp(ae.code, "AgentVersionNotSupported") == 0)
					r = ofs_err_set(err, OFS_ERR_VERSION, "the import service "
					    "requires offseed %s or later (this is %s); upgrade offseed",
					    ae.min_version[0] ? ae.min_version : "(a newer version)",
					    OFS_VERSION);
				else if (ae.code[0] != '\0')
					r = ofs_err_set(err, OFS_ERR_IO, "%s: the operation ended %s "
					    "(%s: %s)", what, status, ae.code, ae.message);
				else
					r = ofs_err_set(err, OFS_ERR_IO, "%s: the operation ended %s",
					    what, status);
				break;
			}
		} else {
			if (rs.status == 200 || rs.status == 201 || rs.status == 204)
				break;
			if (rs.status != 202) {
				r = api_fail(&rs, what, err);
				break;
			}
		}
		if (ofs_mono() - start > LRO_MAX_SECONDS) {
			r = ofs_err_set(err, OFS_ERR_NETWORK, "%s: the service still reports it "
			    "running after %.0f seconds; run 'offseed import status --job %s' later",
			    what, LRO_MAX_SECONDS, name);
			break;
		}
	}
	free(what);
	resp_release(&rs);
	return r;
}

int
ofs_jobclient_create(struct ofs_jobclient *jc, const char *name, json_t *body,
    struct ofs_job *job, int *created, struct ofs_error *err)
{
	char *url = job_url(jc, name, NULL, NULL), *text = NULL, *what;
	struct resp rs, gs;
	json_t *theirs = NULL;
	int r;

	memset(job, 0, sizeof(*job));
	*created = 0;
	resp_init(&rs, OFS_JOBJSON_MAX);
	resp_init(&gs, OFS_JOBJSON_MAX);
	what = ofs_xasprintf("creating job '%s'", name);
	text = json_dumps(body, JSON_COMPACT);
	if ((r = request_with_retries(jc, "PUT", url, "application/json", text, strlen(text), 1,
	    &rs, err)) != 0)
		goto out;
	switch (rs.status) {
	case 200:		/* done at once: the service already held this job with this body */
		break;
	case 201:
	case 202:
		*created = 1;
		if ((rs.async_op != NULL || rs.location != NULL) &&
		    (r = follow_lro(jc, name, rs.async_op, rs.location, rs.retry_after, err)) != 0)
			goto out;
		break;
	case 409:
		/* A job of this name exists: ours from an earlier attempt whose answer was lost,
		 * or somebody else's. Only the first is accepted. */
		if ((r = get_raw(jc, name, &gs, err)) != 0)
			goto out;
		theirs = json_loadb((const char *)gs.body.data, gs.body.len, 0, NULL);
		if (theirs == NULL || !json_subset(body, theirs)) {
			struct ofs_api_error ae;

			ofs_jobjson_parse_error(rs.body.data, rs.body.len, &ae);
			r = ofs_err_set(err, OFS_ERR_IO, "%s: a job of that name already exists with "
			    "other details%s%s; choose another --job name", what,
			    ae.message[0] ? ": " : "", ae.message);
			goto out;
		}
		break;
	default:
		r = api_fail(&rs, what, err);
		goto out;
	}
	r = ofs_jobclient_get(jc, name, job, NULL, err);
out:
	json_decref(theirs);
	free(text);
	free(what);
	free(url);
	resp_release(&rs);
	resp_release(&gs);
	return r;
}

int
ofs_jobclient_list(struct ofs_jobclient *jc, struct ofs_job **jobs, size_t *n,
    struct ofs_error *err)
{
	char *url = ofs_xasprintf("%s/jobs?api-version=" OFS_JOB_API_VERSION, jc->base);
	struct ofs_job *all = NULL, *page;
	size_t nall = 0, npage;
	char *next = NULL;
	struct resp rs;
	int r = 0, pages = 0;

	*jobs = NULL;
	*n = 0;
	resp_init(&rs, OFS_JOBJSON_MAX);
	while (url != NULL) {
		if (++pages > 10000) {
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "the job list does not end (nextLink "
			    "loops)");
			break;
		}
		if ((r = request_with_retries(jc, "GET", url, NULL, NULL, 0, 1, &rs, err)) != 0)
			break;
		if (rs.status != 200) {
			r = api_fail(&rs, "listing jobs", err);
			break;
		}
		if ((r = ofs_jobjson_parse_list(rs.body.data, rs.body.len, "the job list", &page,
		    &npage, &next, err)) != 0)
			break;
		all = ofs_xreallocarray(all, nall + npage + 1, sizeof(*all));
		memcpy(all + nall, page, npage * sizeof(*page));
		nall += npage;
		free(page);
		free(url);
		url = next;	/* transferred */
		next = NULL;
	}
	free(url);
	if (r != 0) {
		for (size_t i = 0; i < nall; i++)
			ofs_job_release(&all[i]);
		free(all);
		all = NULL;
		nall = 0;
	}
	*jobs = all;
	*n = nall;
	resp_release(&rs);
	return r;
}

static int
post_action(struct ofs_jobclient *jc, const char *name, const char *action, json_t *body,
    const char *what, struct ofs_error *err)
{
	char *url = job_url(jc, name, action, NULL), *text = json_dumps(body, JSON_COMPACT);
	struct resp rs;
	int r;

	resp_init(&rs, 1u << 20);
	if ((r = request_with_retries(jc, "POST", url, "application/json", text, strlen(text), 1,
	    &rs, err)) == 0 && rs.status != 204 && rs.status != 200 && rs.status != 202)
		r = api_fail(&rs, what, err);
	free(text);
	free(url);
	resp_release(&rs);
	return r;
}

int
ofs_jobclient_ship(struct ofs_jobclient *jc, const char *name, const char *carrier,
    const char *tracking, struct ofs_error *err)
{
	json_t *b = json_pack("{s:{s:s, s:s}}", "deliverToDcPackageDetails", "carrierName",
	    carrier, "trackingId", tracking);
	char *what = ofs_xasprintf("marking the disks of job '%s' shipped", name);
	int r;

	if (b == NULL) {
		free(what);
		return ofs_err_set(err, OFS_ERR_USAGE, "carrier and tracking id must be UTF-8");
	}
	r = post_action(jc, name, "/markDevicesShipped", b, what, err);
	json_decref(b);
	free(what);
	return r;
}

int
ofs_jobclient_cancel(struct ofs_jobclient *jc, const char *name, const char *reason,
    struct ofs_error *err)
{
	json_t *b = json_pack("{s:s}", "reason", reason);
	char *what = ofs_xasprintf("cancelling job '%s'", name);
	int r;

	if (b == NULL) {
		free(what);
		return ofs_err_set(err, OFS_ERR_USAGE, "the reason must be UTF-8");
	}
	r = post_action(jc, name, "/cancel", b, what, err);
	json_decref(b);
	free(what);
	return r;
}

/* "scheme://authority" of an http(s) URL, lower-cased, owned; NULL when url is not
 * http(s)://HOST… or its authority holds user information ('@'), a backslash, a space, a
 * control character or bytes that are not UTF-8 (ofs_text_check). */
static char *
url_origin(const char *url)
{
	const char *p, *end;
	size_t n;
	char *o;

	if (strncasecmp(url, "http://", 7) == 0)
		p = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		p = url + 8;
	else
		return NULL;
	end = p + strcspn(p, "/?#");
	if (end == p)
		return NULL;
	n = (size_t)(end - p);
	if (ofs_text_check(p, n, SIZE_MAX, 0) != OFS_TEXT_OK || memchr(p, '@', n) != NULL ||
	    memchr(p, '\\', n) != NULL || memchr(p, ' ', n) != NULL)
		return NULL;
	o = ofs_xstrndup(url, (size_t)(end - url));
	for (char *q = o; *q != '\0'; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	return o;
}

/* Is the endpoint's host a loopback address (127.x.x.x, localhost, [::1])? */
static int
endpoint_loopback(const char *endpoint)
{
	char *o = url_origin(endpoint), *host;
	size_t n;
	int yes = 0;

	if (o == NULL)
		return 0;
	host = strstr(o, "://") + 3;
	if (strncmp(host, "[::1]", 5) == 0) {
		yes = host[5] == '\0' || host[5] == ':';
	} else {
		n = strcspn(host, ":");
		if (n == 9 && strncmp(host, "localhost", 9) == 0) {
			yes = 1;
		} else if (n > 4 && strncmp(host, "127.", 4) == 0) {
			int dots = 0;

			yes = 1;
			for (size_t i = 0; i < n; i++) {
				if (host[i] == '.')
					dots++;
				else if (host[i] < '0' || host[i] > '9')
					yes = 0;
			}
			yes = yes && dots == 3;
		}
	}
	free(o);
	return yes;
}

/* The storage the credentials name: file:DIR, or the blob endpoint this client would use for
 * azure://ACCOUNT (OFFSEED_AZURE_ENDPOINT, else https://ACCOUNT.blob.core.windows.net);
 * without a "storage" field, the account of storage_account_id. */
static void
storage_policy(struct ofs_jobclient *jc, const struct ofs_credentials *c)
{
	const char *loc = c->storage, *id = c->storage_account_id, *p;
	char *acct = NULL, *ep = NULL;
	struct ofs_azblob_opts o;

	if (loc != NULL && strncmp(loc, "file:", 5) == 0 && strncmp(loc, "file://", 7) != 0 &&
	    loc[5] == '/') {
		size_t n;

		jc->storage_dir = ofs_xstrdup(loc + 5);
		n = strlen(jc->storage_dir);
		while (n > 1 && jc->storage_dir[n - 1] == '/')
			jc->storage_dir[--n] = '\0';
		return;
	}
	if (loc != NULL && strncmp(loc, "azure://", 8) == 0)
		acct = ofs_xstrndup(loc + 8, strcspn(loc + 8, "/"));
	else if (loc == NULL && id != NULL && (p = strstr(id, "/storageAccounts/")) != NULL &&
	    p[17] != '\0' && strchr(p + 17, '/') == NULL)
		acct = ofs_xstrdup(p + 17);
	if (acct == NULL || *acct == '\0') {
		free(acct);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.account = acct;
	ofs_azblob_opts_from_env(&o);
	ep = o.endpoint != NULL ? ofs_xstrdup(o.endpoint) :
	    ofs_xasprintf("https://%s.blob.core.windows.net", acct);
	if ((jc->storage_origin = url_origin(ep)) != NULL) {
		/* A path-style endpoint (an emulator: http://host:port/ACCOUNT) confines links
		 * to its path too. */
		const char *path = ep + strlen(jc->storage_origin);
		size_t n = strcspn(path, "?#");

		while (n > 0 && path[n - 1] == '/')
			n--;
		jc->storage_path = ofs_xstrndup(path, n);
	}
	free(ep);
	free(acct);
}

int
ofs_link_local_path(const char *link, char **path)
{
	const char *p;

	*path = NULL;
	if (strncmp(link, "file://", 7) == 0) {
		p = link + 7;
		if (strncmp(p, "localhost/", 10) == 0)
			p += 9;
		if (*p != '/')
			return -1;	/* file://otherhost/… */
	} else if (strncmp(link, "file:", 5) == 0) {
		p = link + 5;
	} else if (link[0] == '/') {
		p = link;
	} else {
		return 0;
	}
	if (*p != '/' || strpbrk(p, "?#") != NULL)
		return -1;	/* relative, or a query or fragment nobody writes in a file URL */
	if ((*path = ofs_percent_decode(p, NULL)) == NULL)
		return -1;	/* bad escape or %00 */
	return 1;
}

/* The link as we name it in messages: without its query (it may hold a SAS signature). */
static char *
link_shown(const char *link)
{
	char *s = ofs_xstrndup(link, strcspn(link, "?"));
	char *shown = ofs_name_shown(s);

	free(s);
	return shown;
}

/* Open the regular file rel beneath the folder dirfd, one component at a time without
 * following a symbolic link, O_NONBLOCK (a FIFO never blocks us). The fd, or -1 with errno
 * (ELOOP a symbolic link on the way, ENODEV not a regular file). */
static int
open_beneath(int dirfd, const char *rel)
{
	char *copy = ofs_xstrdup(rel), *part = copy, *slash;
	int fd = dup(dirfd), next, e;
	struct stat st;

	while (fd >= 0 && (slash = strchr(part, '/')) != NULL) {
		*slash = '\0';
		next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		e = errno;
		if (next < 0 && e == ENOTDIR && fstatat(fd, part, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			e = ELOOP;	/* O_DIRECTORY answers first for a symbolic link */
		close(fd);
		fd = next;
		errno = e;
		part = slash + 1;
	}
	if (fd < 0)
		goto out;
	/* Look before opening: a device is never opened at all. */
	if (fstatat(fd, part, &st, AT_SYMLINK_NOFOLLOW) != 0)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = S_ISLNK(st.st_mode) ? ELOOP : ENODEV;
	else
		e = 0;
	if (e != 0) {
		close(fd);
		fd = -1;
		errno = e;
		goto out;
	}
	next = openat(fd, part, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	e = errno;
	close(fd);
	fd = next;
	errno = e;
	if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
		errno = ENODEV;
	}
out:
	e = errno;
	free(copy);
	errno = e;
	return fd;
}

/* A path without empty, "." or ".." components after its leading '/'. */
static int
abs_path_clean(const char *p)
{
	if (*p != '/')
		return 0;
	for (p++;;) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (p[n] == '\0')
			return 1;
		p += n + 1;
	}
}

/* The part of path below the folder dir ("a/b" for "DIR/a/b"), owned, or NULL when path
 * is not below dir. */
static char *
path_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return ofs_xstrdup(path + 1);
	if (strncmp(path, dir, n) != 0 || path[n] != '/')
		return NULL;
	return ofs_xstrdup(path + n + 1);
}

/* Read a copy log the service links as a local file: only from a loopback service, only
 * beneath the storage folder the credentials name, never through a symbolic link. */
static int
read_local_log(struct ofs_jobclient *jc, const char *shown, const char *path,
    struct ofs_buf *out, struct ofs_error *err)
{
	char *root = NULL, *rel = NULL, buf[65536];
	int dfd = -1, fd = -1, r = 0;
	ssize_t k;

	if (!jc->loopback)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "refusing the copy-log link '%s': file: "
		    "links are followed only for a service on this machine, and the endpoint is "
		    "not a loopback address", shown);
	if (jc->storage_dir == NULL)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "refusing the copy-log link '%s': the "
		    "credentials file names no file: storage folder it could lie in", shown);
	if (!abs_path_clean(path))
		return ofs_err_set(err, OFS_ERR_CORRUPT, "refusing the copy-log link '%s': its "
		    "path has an empty, '.' or '..' component", shown);
	if ((root = realpath(jc->storage_dir, NULL)) == NULL) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot follow the copy-log link '%s': "
		    "cannot resolve the storage folder '%s'", shown, jc->storage_dir);
		goto out;
	}
	/* The link names the folder as the credentials do, or by its real path. */
	if ((rel = path_below(path, jc->storage_dir)) == NULL &&
	    (rel = path_below(path, root)) == NULL) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "refusing the copy-log link '%s': it lies "
		    "outside the storage folder '%s' the credentials name", shown, jc->storage_dir);
		goto out;
	}
	if (*rel == '\0') {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "refusing the copy-log link '%s': it names "
		    "the storage folder itself", shown);
		goto out;
	}
	if ((dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot open the storage folder '%s'", root);
		goto out;
	}
	if ((fd = open_beneath(dfd, rel)) < 0) {
		int e = errno;

		if (e == ELOOP || e == ENODEV || e == ENOTDIR)
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "refusing the copy-log link '%s': %s "
			    "inside the storage folder '%s'", shown, e == ELOOP ? "a symbolic link "
			    "on the way (not followed)" : e == ENODEV ? "not a regular file" :
			    "not a folder on the way", jc->storage_dir);
		else
			r = ofs_err_sys(err, e == ENOENT ? OFS_ERR_NOTFOUND : OFS_ERR_IO, e,
			    "cannot open the copy log '%s'", shown);
		goto out;
	}
	while ((k = read(fd, buf, sizeof(buf))) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot read the copy log '%s'",
			    shown);
			goto out;
		}
		if (ofs_buf_add(out, buf, (size_t)k) != 0) {
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "the copy log '%s' is larger than %zu "
			    "bytes", shown, out->max);
			goto out;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(rel);
	free(root);
	return r;
}

/* May the client fetch this http(s) link? The endpoint's origin, or the storage's. */
static int
http_link_allowed(const struct ofs_jobclient *jc, const char *link)
{
	char *o = url_origin(link), *eo = url_origin(jc->endpoint);
	int ok = 0;

	if (o != NULL && eo != NULL && strcmp(o, eo) == 0) {
		ok = 1;
	} else if (o != NULL && jc->storage_origin != NULL && strcmp(o, jc->storage_origin) == 0) {
		const char *path = link + strlen(o);
		size_t n = strlen(jc->storage_path);

		ok = n == 0 || (strncmp(path, jc->storage_path, n) == 0 && path[n] == '/');
	}
	free(o);
	free(eo);
	return ok;
}

int
ofs_jobclient_download(struct ofs_jobclient *jc, const char *link, struct ofs_buf *out,
    struct ofs_error *err)
{
	char *path = NULL, *what, *shown = link_shown(link);
	struct resp rs;
	int r, local;

	if ((local = ofs_link_local_path(link, &path)) != 0) {
		if (local < 0)
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "refusing the copy-log link '%s': not "
			    "a well-formed file URL of an absolute local path (file:///PATH, "
			    "percent-escaped)", shown);
		else
			r = read_local_log(jc, shown, path, out, err);
		free(path);
		free(shown);
		return r;
	}
	if (strncasecmp(link, "http://", 7) != 0 && strncasecmp(link, "https://", 8) != 0) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "refusing the copy-log link '%s': an "
		    "unsupported kind of address (file:, http: or https: only)", shown);
		free(shown);
		return r;
	}
	if (!http_link_allowed(jc, link)) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "refusing the copy-log link '%s': it points "
		    "neither to the import service (%s) nor to the storage account the credentials "
		    "name", shown, jc->endpoint);
		free(shown);
		return r;
	}
	resp_init(&rs, out->max);
	what = request_name("GET", link);
	if ((r = request_with_retries(jc, "GET", link, NULL, NULL, 0, 1, &rs, err)) == 0) {
		if (rs.status != 200)
			r = api_fail(&rs, what, err);
		else if (ofs_buf_add(out, rs.body.data, rs.body.len) != 0)	/* outside bytes */
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "the copy log '%s' is larger than "
			    "%zu bytes", shown, out->max);
	}
	free(what);
	free(shown);
	resp_release(&rs);
	return r;
}

int
ofs_job_file_load(const char *path, const char *what, size_t max, json_t **out,
    struct ofs_error *err)
{
	struct ofs_buf raw = OFS_BUF_INIT(max);
	json_error_t je;
	int r;

	*out = NULL;
	if ((r = ofs_buf_read_file(&raw, path, err)) != 0) {
		if (r == OFS_ERR_NOTFOUND)
			r = ofs_err_set(err, OFS_ERR_USAGE, "cannot open %s '%s': No such file or "
			    "directory", what, path);
		goto out;
	}
	if ((*out = json_loadb((const char *)raw.data, raw.len, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL || !json_is_object(*out)) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "%s '%s' is not a JSON object%s%s", what, path,
		    *out == NULL ? ": " : "", *out == NULL ? je.text : "");
		json_decref(*out);
		*out = NULL;
	}
out:
	ofs_buf_release(&raw);
	return r;
}

int
ofs_job_contact_load(const char *path, json_t **contact, json_t **ret, struct ofs_error *err)
{
	const char *name, *phone, *carrier, *account;
	json_t *c = NULL, *emails, *v;
	size_t i;
	int r;

	*contact = NULL;
	*ret = NULL;
	if ((r = ofs_job_file_load(path, "contact file", 1u << 20, &c, err)) != 0)
		goto out;
	name = json_string_value(json_object_get(c, "contactName"));
	phone = json_string_value(json_object_get(c, "phone"));
	carrier = json_string_value(json_object_get(c, "carrierName"));
	account = json_string_value(json_object_get(c, "carrierAccountNumber"));
	emails = json_object_get(c, "emailList");
	if (name == NULL || *name == '\0' || phone == NULL || *phone == '\0' ||
	    !json_is_array(emails) || json_array_size(emails) == 0) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "contact file '%s' needs \"contactName\", "
		    "\"phone\" and a non-empty \"emailList\"", path);
		goto out;
	}
	json_array_foreach(emails, i, v) {
		if (!json_is_string(v) || strchr(json_string_value(v), '@') == NULL) {
			r = ofs_err_set(err, OFS_ERR_USAGE, "contact file '%s': emailList[%zu] is not "
			    "an e-mail address", path, i);
			goto out;
		}
	}
	if (carrier == NULL || *carrier == '\0' || account == NULL || *account == '\0') {
		r = ofs_err_set(err, OFS_ERR_USAGE, "contact file '%s' needs \"carrierName\" and "
		    "\"carrierAccountNumber\" for the return shipment", path);
		goto out;
	}
	*contact = json_pack("{s:s, s:s, s:O}", "contactName", name, "phone", phone, "emailList",
	    emails);
	*ret = json_pack("{s:s, s:s}", "carrierName", carrier, "carrierAccountNumber", account);
out:
	json_decref(c);
	return r;
}
