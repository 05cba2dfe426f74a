/* offseed-dc serve's HTTP layer: answers, what a request says, and who may ask (the Host
 * and Content-Type checks that keep a browser's cross-site requests out). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "buf.h"
#include "dc.h"
#include "serve_int.h"
#include "util.h"

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
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
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

