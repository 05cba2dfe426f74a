/* offseed-dc serve's internals, shared by server.c and serve_*.c only: the request being
 * read, the answers (JSON bodies, API and OAuth errors), the checks of who asks (Host,
 * Content-Type), the daemon, fault injection and the endpoints' entry points. Handlers run
 * on libmicrohttpd's polling threads and take ctx->mu for the job table. */
#ifndef OFS_DC_SERVE_INT_H
#define OFS_DC_SERVE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "buf.h"
#include "dc.h"

#define DC_RETRY_AFTER "1"		/* seconds, in Retry-After answers */
#define DC_TLS_FILE_MAX (1u << 20)	/* largest --tls-cert or --tls-key file */

/* One request of a connection, made when its headers are in (serve_http.c). */
struct dc_request {
	struct ofs_buf body;	/* bounded by cap; wiped when done (may hold a client secret) */
	size_t cap;		/* the endpoint's body limit */
	int too_big;
	int answered;		/* refused before its body was read */
};

/* --- answers (serve_http.c): each queues a response and returns what the handler returns */

/* Answer status with body (taken; NULL: an empty body) pretty-printed as JSON, and the
 * extra headers hdrs (NULL, or name, value pairs ending in NULL). */
enum MHD_Result dc_reply(struct MHD_Connection *c, unsigned status, json_t *body,
    const char *const *hdrs);
/* An ARM error answer {"error":{"code":code,"message":...}} with headers hdrs (as in
 * dc_reply). */
enum MHD_Result dc_api_error_h(struct MHD_Connection *c, unsigned status,
    const char *const *hdrs, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
#define dc_api_error(c, status, code, ...) dc_api_error_h(c, status, NULL, code, __VA_ARGS__)
/* An OAuth error answer {"error":code,"error_description":desc}, not to be cached. */
enum MHD_Result dc_oauth_error(struct MHD_Connection *c, unsigned status, const char *code,
    const char *desc);

/* --- what the request says (serve_http.c) --- */

/* Request header or query parameter name, or NULL. */
const char *dc_header(struct MHD_Connection *c, const char *name);
const char *dc_query(struct MHD_Connection *c, const char *name);
/* The body as JSON (new reference; duplicate keys refused), or NULL when empty or not JSON. */
json_t *dc_parse_body(struct dc_request *rq);
/* 1 when s is 1 to max bytes without control characters. */
int dc_printable(const char *s, size_t max);
/* "X.Y.Z" (each part up to 6 digits) as a comparable number; -1 when malformed. *end (may
 * be NULL) is set past the version. */
int64_t dc_version_num(const char *s, const char **end);

/* --- who may ask (serve_http.c) --- */

/* 1 when the Host header value host names this service: localhost, a loopback address, the
 * address the connection came in on, or --hostname, with any port (port forwards). A name
 * that only resolves here (DNS rebinding) or a foreign site's name is not. */
int dc_host_ok(struct dc_ctx *ctx, struct MHD_Connection *c, const char *host);
/* The base URL for links in an answer: as the client reached us (its Host, when it names
 * this service), else the listen address. Returns owned string. */
char *dc_request_base(struct dc_ctx *ctx, struct MHD_Connection *c);
/* A body must be JSON: a form or text/plain body is what a browser can send cross-site
 * without asking. 0 when fine, else -1 with the answer queued (*ret). */
int dc_need_json(struct MHD_Connection *c, struct dc_request *rq, enum MHD_Result *ret);

/* --- the daemon (serve_http.c) --- */

/* Read a PEM file for TLS (--tls-cert, --tls-key) into b (made with DC_TLS_FILE_MAX),
 * NUL-terminated. OFS_ERR_* of ofs_buf_read_file, or OFS_ERR_USAGE when too large. */
int dc_http_read_pem(struct ofs_buf *b, const char *path, struct ofs_error *err);
/* 1 when this libmicrohttpd can serve HTTPS. */
int dc_http_has_tls(void);
/* Serve ctx's endpoints on the listening socket lfd, HTTPS when cert and key (PEM,
 * NUL-terminated, kept until the daemon stops) are given, else HTTP. Loopback listeners
 * accept loopback peers only; connections are capped in number, per address, in memory and
 * idle time. Returns the daemon (it owns lfd; stop it with MHD_stop_daemon), or NULL
 * (lfd still the caller's). */
struct MHD_Daemon *dc_http_start(struct dc_ctx *ctx, int lfd, const char *cert,
    const char *key);

/* --- fault injection (serve_fault.c) --- */

/* Parse --fault MODE[:COUNT] (503, 429, drop or slow; COUNT >= 1, else every request) into
 * ctx->fault and ctx->fault_left. OFS_ERR_USAGE naming s. */
int dc_fault_parse(struct dc_ctx *ctx, const char *s, struct ofs_error *err);
/* Apply the fault of ctx to this request, counting it (takes ctx->mu): 1 when the request is
 * answered (*ret: a 503 or 429 with Retry-After, or MHD_NO to drop the connection), 0 to go
 * on, after ctx->slow_ms for the slow fault. */
int dc_fault_apply(struct dc_ctx *ctx, struct MHD_Connection *c, enum MHD_Result *ret);

/* --- the endpoints --- */

/* POST /TENANT/oauth2/v2.0/token (serve_token.c): the client credentials grant of a form
 * body. Answers a bearer token valid for ctx->token_lifetime seconds but never past the
 * credentials' expiry, or an OAuth error (unknown, wrong or expired client; a tenant not
 * the client's customer's). The client secret is wiped after use. */
enum MHD_Result dc_token_request(struct dc_ctx *ctx, struct MHD_Connection *c,
    const char *tenant, struct dc_request *rq);

/* /subscriptions/... (serve_jobs.c), seg[0..n) the path's parts: the jobs API of the customer
 * whose bearer token the request carries (401 without a valid one). Refuses a missing or
 * other api-version, and a body that is not JSON (dc_need_json). */
enum MHD_Result dc_jobs_request(struct dc_ctx *ctx, struct MHD_Connection *c,
    const char *method, char **seg, int n, struct dc_request *rq);

/* /admin/... (serve_admin.c), seg[0..n) the path's parts: /admin/health, and
 * /admin[/customers/C]/jobs/NAME[/receive|close|return] for the operator, who must address
 * the service directly (dc_host_ok) with its admin token (X-Offseed-Admin-Token). A job name
 * several customers have needs the customer. */
enum MHD_Result dc_admin_request(struct dc_ctx *ctx, struct MHD_Connection *c,
    const char *method, char **seg, int n, struct dc_request *rq);

/* A dock folder for disk serial (serve_admin.c): an absolute path to an existing folder that
 * is not itself a symlink, beneath --dock-root when given; its resolved path into real.
 * 0, or -1 with the 400 InvalidDiskPath answer queued (*ret). */
int dc_dock_path(struct dc_ctx *ctx, struct MHD_Connection *c, const char *serial,
    const char *path, char *real, enum MHD_Result *ret);
/* The JobResource of job as its customer sees it, for the operator (an export job's
 * blobPathList left out: it can be a million entries). */
json_t *dc_admin_render(struct dc_ctx *ctx, struct dc_job *job);
/* POST /admin/.../jobs/NAME/export (serve_export.c; ctx->mu held, released while the
 * blobs are looked at): attach disks to an export job and start its export. */
enum MHD_Result dc_admin_export(struct dc_ctx *ctx, struct MHD_Connection *c,
    struct dc_job *job, struct dc_request *rq);

#endif
