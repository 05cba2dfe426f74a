/* offseed-dc serve's HTTP layer over libmicrohttpd: answers, what a request says, who may
 * ask (the Host and Content-Type checks that keep a browser's cross-site requests out),
 * request bodies and their limits, routing to the endpoints, and the daemon (TLS, threads,
 * connection limits). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "buf.h"
#include "dc.h"
#include "serve_int.h"
#include "util.h"

#define MAX_SEGS 12
/* Transport limits (SPEC §15 "Slow and greedy clients"). Connections wait in a few polling
 * threads (epoll), not one thread each, so idle ones cost a socket and a small buffer. */
#define CONN_TIMEOUT 10			/* seconds without progress before a connection is closed */
#define CONN_MAX 1024			/* connections at once */
#define CONN_PER_ADDRESS 32		/* connections at once from one address */
#define CONN_MEMORY (32u << 10)		/* per connection: the request line and headers */

/* ---- responses ---- */

enum MHD_Result
dc_reply(struct MHD_Connection *c, unsigned status, json_t *body, const char *const *hdrs)
{
	struct MHD_Response *rs;
	enum MHD_Result ret;
	char *text = NULL;
	size_t len = 0;

	if (body != NULL) {
		text = json_dumps(body, JSON_INDENT(2));
		json_decref(body);
		len = strlen(text);
	}
	rs = MHD_create_response_from_buffer(len, text ? text : (char *)"", text ?
	    MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (rs == NULL) {
		free(text);
		return MHD_NO;
	}
	if (body != NULL)
		MHD_add_response_header(rs, "Content-Type", "application/json; charset=utf-8");
	for (; hdrs != NULL && hdrs[0] != NULL; hdrs += 2)
		MHD_add_response_header(rs, hdrs[0], hdrs[1]);
	ret = MHD_queue_response(c, status, rs);
	MHD_destroy_response(rs);
	return ret;
}

enum MHD_Result
dc_api_error_h(struct MHD_Connection *c, unsigned status, const char *const *hdrs,
    const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return dc_reply(c, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message",
	    msg), hdrs);
}

enum MHD_Result
dc_oauth_error(struct MHD_Connection *c, unsigned status, const char *code, const char *desc)
{
	static const char *const hdrs[] = { "Cache-Control", "no-store", NULL };

	return dc_reply(c, status, json_pack("{s:s, s:s}", "error", code, "error_description",
	    desc), hdrs);
}

/* ---- request helpers ---- */

const char *
dc_header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

const char *
dc_query(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

/* "X.Y.Z" → comparable number; -1 when malformed. */
int64_t
dc_version_num(const char *s, const char **end)
{
	int64_t v = 0;
	int parts = 0;

	while (parts < 3) {
		int64_t x = 0;
		int digits = 0;

		while (*s >= '0' && *s <= '9' && digits < 6) {
			x = x * 10 + (*s++ - '0');
			digits++;
		}
		if (digits == 0)
			return -1;
		v = v * 1000000 + x;
		parts++;
		if (parts < 3) {
			if (*s != '.')
				return -1;
			s++;
		}
	}
	if (end != NULL)
		*end = s;
	return v;
}

json_t *
dc_parse_body(struct dc_request *rq)
{
	if (rq->body.len == 0)
		return NULL;
	return json_loadb((const char *)rq->body.data, rq->body.len, JSON_REJECT_DUPLICATES,
	    NULL);
}

int
dc_printable(const char *s, size_t max)
{
	return s != NULL && ofs_text_check(s, strlen(s), max, OFS_TEXT_NONEMPTY) == OFS_TEXT_OK;
}

/* ---- who may ask: Host, content type ---- */

/* The local IPv4 address of the connection, or 0. */
static int
local_addr(struct MHD_Connection *c, struct in_addr *out)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_CONNECTION_FD);
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (ci == NULL || getsockname(ci->connect_fd, (struct sockaddr *)&sa, &len) == -1 ||
	    sa.sin_family != AF_INET)
		return 0;
	*out = sa.sin_addr;
	return 1;
}

/* 1 when the Host header names this service: localhost, a loopback address, the address
 * the connection came in on, or --hostname, with any port (port forwards). A name that
 * only resolves here (DNS rebinding) or a foreign site's name is not. */
int
dc_host_ok(struct dc_ctx *ctx, struct MHD_Connection *c, const char *host)
{
	char name[256];
	const char *port, *end;
	struct in_addr a, local;
	size_t n;

	if (host == NULL || (n = strlen(host)) == 0 || n >= sizeof(name))
		return 0;
	if (host[0] == '[') {
		if ((end = strchr(host, ']')) == NULL)
			return 0;
		memcpy(name, host + 1, (size_t)(end - host - 1));
		name[end - host - 1] = '\0';
		port = end + 1;
	} else {
		port = host + strcspn(host, ":");
		memcpy(name, host, (size_t)(port - host));
		name[port - host] = '\0';
	}
	if (*port != '\0' && (*port != ':' || port[1] == '\0' || strlen(port + 1) > 5 ||
	    strspn(port + 1, "0123456789") != strlen(port + 1)))
		return 0;
	n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		name[--n] = '\0';
	if (n == 0)
		return 0;
	if (host[0] == '[')
		return strcmp(name, "::1") == 0;
	if (strcasecmp(name, "localhost") == 0)
		return 1;
	if (ctx->hostname != NULL && strcasecmp(name, ctx->hostname) == 0)
		return 1;
	if (inet_pton(AF_INET, name, &a) != 1)
		return 0;
	if ((ntohl(a.s_addr) >> 24) == 127)
		return 1;
	return local_addr(c, &local) && local.s_addr == a.s_addr;
}

/* The base URL for links in an answer: as the client reached us (its Host, when it names
 * this service), else the listen address. Owned. */
char *
dc_request_base(struct dc_ctx *ctx, struct MHD_Connection *c)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");

	if (dc_host_ok(ctx, c, host))
		return ofs_xasprintf("%s://%s", ctx->scheme, host);
	return ofs_xstrdup(ctx->base_url);
}

/* Content-Type application/json, with or without parameters. */
static int
is_json_type(struct MHD_Connection *c)
{
	const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	size_t n = strlen("application/json");

	if (t == NULL)
		return 0;
	t += strspn(t, " \t");
	if (strncasecmp(t, "application/json", n) != 0)
		return 0;
	t += n;
	t += strspn(t, " \t");
	return *t == '\0' || *t == ';';
}

static int
has_body(struct MHD_Connection *c, struct dc_request *rq)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");

	return rq->body.len > 0 || rq->too_big ||
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding") != NULL ||
	    (cl != NULL && strspn(cl, " 0") != strlen(cl));
}

/* A body must be JSON: a form or text/plain body is what a browser can send cross-site
 * without asking. */
int
dc_need_json(struct MHD_Connection *c, struct dc_request *rq, enum MHD_Result *ret)
{
	if (!has_body(c, rq) || is_json_type(c))
		return 0;
	*ret = dc_api_error(c, 415, "UnsupportedMediaType", "a request body must be sent as "
	    "Content-Type: application/json");
	return -1;
}

/* ---- routing: a request to its endpoint ---- */

/* Split "/a/b/c" into at most MAX_SEGS parts (pointers into buf). Returns the count, or
 * -1 when there are too many or an empty part. */
static int
split_path(char *buf, char **seg)
{
	int n = 0;
	char *p = buf, *s;

	if (*p == '/')
		p++;
	if (*p == '\0')
		return 0;
	while (p != NULL) {
		if (n == MAX_SEGS)
			return -1;
		s = strchr(p, '/');
		if (s != NULL)
			*s++ = '\0';
		if (*p == '\0')
			return s == NULL && n > 0 ? n : -1;	/* a trailing '/' is fine */
		seg[n++] = p;
		p = s;
	}
	return n;
}

/* --min-agent-version: an offseed client older than that is refused (1, *ret queued) with
 * the version it needs; other clients (no "offseed/" User-Agent) are not checked. */
static int
agent_refused(struct dc_ctx *ctx, struct MHD_Connection *c, enum MHD_Result *ret)
{
	const char *ua = dc_header(c, "User-Agent");
	int64_t have, need;
	char ver[32], msg[256];

	if (ctx->min_agent == NULL || ua == NULL || strncmp(ua, "offseed/", 8) != 0)
		return 0;
	have = dc_version_num(ua + 8, NULL);
	need = dc_version_num(ctx->min_agent, NULL);
	if (have >= need)
		return 0;
	snprintf(ver, sizeof(ver), "%.*s", (int)strcspn(ua + 8, " "), ua + 8);
	snprintf(msg, sizeof(msg), "the import service requires offseed %s or later (this client "
	    "is %s)", ctx->min_agent, ver);
	*ret = dc_reply(c, 400, json_pack("{s:{s:s, s:s, s:s, s:[{s:s, s:{s:s}}]}}", "error",
	    "code", "AgentVersionNotSupported", "message", msg, "minimumVersion", ctx->min_agent,
	    "additionalInfo", "type", "MinimumAgentVersion", "info", "minimumVersion",
	    ctx->min_agent), NULL);
	return 1;
}

static enum MHD_Result
dispatch(struct dc_ctx *ctx, struct MHD_Connection *c, const char *url, const char *method,
    struct dc_request *rq)
{
	char buf[2048], *seg[MAX_SEGS];
	enum MHD_Result ret;
	int n;

	if (strlen(url) >= sizeof(buf))
		return dc_api_error(c, 414, "UriTooLong", "the request path is too long");
	memcpy(buf, url, strlen(url) + 1);
	if ((n = split_path(buf, seg)) < 0)
		return dc_api_error(c, 404, "NotFound", "no such resource");
	if (rq->too_big)
		return dc_api_error(c, 413, "RequestEntityTooLarge", "the request body is larger "
		    "than %zu bytes", rq->cap);
	if (n >= 1 && strcmp(seg[0], "admin") == 0)
		return dc_admin_request(ctx, c, method, seg, n, rq);
	if (dc_fault_apply(ctx, c, &ret))
		return ret;
	if (agent_refused(ctx, c, &ret))
		return ret;
	if (n == 4 && strcasecmp(seg[1], "oauth2") == 0 && strcmp(seg[2], "v2.0") == 0 &&
	    strcmp(seg[3], "token") == 0) {
		if (strcmp(method, "POST") != 0)
			return dc_oauth_error(c, 405, "invalid_request", "use POST");
		return dc_token_request(ctx, c, seg[0], rq);
	}
	if (n >= 1 && strcasecmp(seg[0], "subscriptions") == 0)
		return dc_jobs_request(ctx, c, method, seg, n, rq);
	return dc_api_error(c, 404, "NotFound", "no such resource");
}

/* The largest body the endpoint of method and url takes. A job PUT may be an export job's
 * (up to DC_EXPORT_BODY_MAX) only when it carries a valid bearer token: nobody else makes
 * the service hold 64 MiB. job_put keeps import bodies to DC_BODY_MAX. */
static size_t
body_cap(struct dc_ctx *ctx, struct MHD_Connection *c, const char *method, const char *url)
{
	const char *auth;
	char *customer = NULL;

	if (strncmp(url, "/admin/", 7) == 0)
		return DC_ADMIN_BODY_MAX;
	if (strcmp(method, "PUT") != 0)
		return DC_SMALL_BODY_MAX;	/* token form, ship, cancel */
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (strncasecmp(url, "/subscriptions/", 15) == 0 && auth != NULL &&
	    strncasecmp(auth, "Bearer ", 7) == 0 &&
	    dc_token_check(&ctx->svc, auth + 7, dc_now_s(), &customer) == 0) {
		free(customer);
		return DC_EXPORT_BODY_MAX;
	}
	return DC_BODY_MAX;			/* a job */
}

/* libmicrohttpd's access handler: called with the headers (a dc_request is made), with
 * each piece of the body (kept up to the endpoint's limit), then once more to answer. */
static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct dc_ctx *ctx = cls;
	struct dc_request *rq = *con_cls;
	const char *cl;
	char *end;

	if (rq == NULL) {
		rq = ofs_xcalloc(1, sizeof(*rq));
		rq->cap = body_cap(ctx, c, method, url);
		ofs_buf_init(&rq->body, rq->cap);
		*con_cls = rq;
		/* A declared length over the limit is refused before the body is read (the
		 * connection is closed after the answer). */
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (cl != NULL && (errno = 0, strtoull(cl, &end, 10) > rq->cap || errno != 0)) {
			rq->too_big = rq->answered = 1;
			return dc_api_error(c, 413, "RequestEntityTooLarge", "the request body is "
			    "larger than %zu bytes", rq->cap);
		}
		return MHD_YES;
	}
	if (rq->answered) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!rq->too_big && ofs_buf_add(&rq->body, upload, *upload_size) != 0)
			rq->too_big = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	return dispatch(ctx, c, url, method, rq);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct dc_request *rq = *con_cls;

	if (rq != NULL) {
		ofs_buf_release_secret(&rq->body);	/* may hold a client secret */
		free(rq);
		*con_cls = NULL;
	}
}

/* ---- the daemon ---- */

/* libmicrohttpd's own messages, one of a kind per 10 s: a flood of refused connections
 * must not flood the log. */
static void
mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static const char *last;
	static int64_t last_t;
	static unsigned skipped;
	int64_t t = dc_now_s();

	pthread_mutex_lock(&mu);
	if (fmt == last && t - last_t < 10) {
		skipped++;
	} else {
		if (skipped > 0)
			dc_log("(%u more like the last message)", skipped);
		last = fmt;
		last_t = t;
		skipped = 0;
		fputs("offseed-dc: ", stderr);
		vfprintf(stderr, fmt, ap);
		if (*fmt == '\0' || fmt[strlen(fmt) - 1] != '\n')
			fputc('\n', stderr);
	}
	pthread_mutex_unlock(&mu);
}

/* Listening on loopback: loopback peers only. Elsewhere (TLS or --insecure-http): anyone. */
static enum MHD_Result
accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
	const struct dc_ctx *ctx = cls;

	if (addr->sa_family != AF_INET || len < (socklen_t)sizeof(struct sockaddr_in))
		return MHD_NO;
	if (!ctx->loopback)
		return MHD_YES;
	return (ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr) >> 24) == 127 ?
	    MHD_YES : MHD_NO;
}

/* Connections the process can hold: as many files as the hard limit lets it open. */
static unsigned
connection_limit(void)
{
	struct rlimit rl;
	rlim_t want = CONN_MAX + 128;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 256;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur >= want)
		return CONN_MAX;
	return rl.rlim_cur > 192 ? (unsigned)(rl.rlim_cur - 128) : 64;
}

/* Read a PEM file for the TLS layer, NUL-terminated. */
int
dc_http_read_pem(struct ofs_buf *b, const char *path, struct ofs_error *err)
{
	int r;

	if ((r = ofs_buf_read_file(b, path, err)) != 0)
		return r;
	if (ofs_buf_add(b, "", 1) != 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "'%s' is too large for a PEM file", path);
	return 0;
}

int
dc_http_has_tls(void)
{
	return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

struct MHD_Daemon *
dc_http_start(struct dc_ctx *ctx, int lfd, const char *cert, const char *key)
{
	struct MHD_OptionItem mo[16];	/* 11 at most */
	unsigned flags, pool;
	int nmo = 0;

	/* A few polling threads serve every connection; a request handler may wait for the job
	 * table's lock or sleep (fault slow), so there are several. */
	pool = (unsigned)ofs_ncpu();
	pool = pool < 4 ? 4 : pool > 16 ? 16 : pool;
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL };
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, lfd, NULL };
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, pool, NULL };
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT, NULL };
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, connection_limit(),
	    NULL };
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    CONN_PER_ADDRESS, NULL };
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY,
	    NULL };
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed,
	    NULL };
	if (cert != NULL) {
		mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cert };
		mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)key };
	}
	mo[nmo++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (cert != NULL)
		flags |= MHD_USE_TLS;
	return MHD_start_daemon(flags, 0, accept_policy, ctx, handler, ctx,
	    MHD_OPTION_ARRAY, mo, MHD_OPTION_END);
}
