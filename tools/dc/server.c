/* offseed-dc serve: the Data Box–style jobs API, its token endpoint and the loopback-only
 * admin endpoints (the dock) over libmicrohttpd; the job table and its state files; fault
 * injection for the client's tests. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"
#include "crypto.h"
#include "dc.h"
#include "jobjson.h"
#include "util.h"

#define MAX_SEGS 12
#define RETRY_AFTER "1"

struct request {
	struct ofs_buf body;
	int too_big;
};

static int64_t
now_s(void)
{
	return ofs_now_ns() / 1000000000;
}

/* ---- job table ---- */

struct dc_job *
dc_find_job(struct dc_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->njobs; i++)
		if (strcmp(ctx->jobs[i]->name, name) == 0)
			return ctx->jobs[i];
	return NULL;
}

static char *
job_path(struct dc_ctx *ctx, const char *name)
{
	char *file = ofs_xasprintf("%s.json", name), *p = ofs_path_join(ctx->jobs_dir, file);

	free(file);
	return p;
}

int
dc_save_job(struct dc_ctx *ctx, struct dc_job *job, struct ofs_error *err)
{
	char *text = json_dumps(job->doc, JSON_COMPACT), *path = job_path(ctx, job->name);
	int r;

	r = ofs_write_file_atomic(path, text, strlen(text), 0600, err);
	free(text);
	free(path);
	return r;
}

static struct dc_job *
job_add(struct dc_ctx *ctx, const char *name, json_t *doc)
{
	struct dc_job *job = ofs_xcalloc(1, sizeof(*job));

	job->name = ofs_xstrdup(name);
	job->doc = doc;
	ctx->jobs = ofs_xreallocarray(ctx->jobs, ctx->njobs + 1, sizeof(*ctx->jobs));
	ctx->jobs[ctx->njobs++] = job;
	return job;
}

static void
job_remove(struct dc_ctx *ctx, struct dc_job *job)
{
	for (size_t i = 0; i < ctx->njobs; i++)
		if (ctx->jobs[i] == job) {
			memmove(&ctx->jobs[i], &ctx->jobs[i + 1],
			    (ctx->njobs - i - 1) * sizeof(*ctx->jobs));
			ctx->njobs--;
			break;
		}
	if (job->joinable)
		pthread_join(job->thread, NULL);
	json_decref(job->doc);
	free(job->name);
	free(job);
}

void
dc_kick_job(struct dc_ctx *ctx, struct dc_job *job)
{
	struct dc_worker_arg *a;

	if (job->worker || ctx->stopping || !dc_job_needs_worker(job->doc))
		return;
	if (job->joinable) {		/* the last worker has finished (worker == 0) */
		pthread_join(job->thread, NULL);
		job->joinable = 0;
	}
	a = ofs_xcalloc(1, sizeof(*a));
	a->ctx = ctx;
	a->job = job;
	if (pthread_create(&job->thread, NULL, dc_copy_worker, a) != 0) {
		dc_log("cannot start the copy worker of job '%s'", job->name);
		free(a);
		return;
	}
	job->worker = 1;
	job->joinable = 1;
}

void
dc_job_finish(struct dc_ctx *ctx, struct dc_job *job)
{
	const char *status = dc_jstr(job->doc, "status"), *outcome;
	struct ofs_error err;

	if (job->worker || dc_stage_final(status) || strcmp(status, "Created") == 0)
		return;
	if ((outcome = dc_job_outcome(job->doc)) == NULL)
		return;
	dc_job_set_stage(job->doc, outcome, now_s());
	if (dc_save_job(ctx, job, &err) != 0)
		dc_log("cannot save job '%s': %s", job->name, err.msg);
	dc_log("job '%s': %s", job->name, outcome);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp((*(struct dc_job *const *)a)->name, (*(struct dc_job *const *)b)->name);
}

static int
load_jobs(struct dc_ctx *ctx, struct ofs_error *err)
{
	DIR *d = opendir(ctx->jobs_dir);
	struct dirent *de;
	char msg[512];

	if (d == NULL)
		return ofs_err_sys(err, OFS_ERR_IO, errno, "cannot open '%s'", ctx->jobs_dir);
	while ((de = readdir(d)) != NULL) {
		struct ofs_buf raw = OFS_BUF_INIT(DC_JOB_FILE_MAX);
		char *path, *name;
		json_t *doc;
		size_t n = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		path = ofs_path_join(ctx->jobs_dir, de->d_name);
		if (strstr(de->d_name, ".tmp-") != NULL) {	/* an interrupted write */
			unlink(path);
			free(path);
			continue;
		}
		if (n < 6 || strcmp(de->d_name + n - 5, ".json") != 0) {
			free(path);
			continue;
		}
		name = ofs_xstrndup(de->d_name, n - 5);
		doc = NULL;
		if (ofs_buf_read_file(&raw, path, err) != 0) {
			dc_log("skipping job file: %s", err->msg);
		} else if ((doc = json_loadb((const char *)raw.data, raw.len, 0, NULL)) == NULL ||
		    dc_job_doc_check(doc, msg, sizeof(msg)) != 0 ||
		    strcmp(dc_jstr(doc, "name"), name) != 0 || !ofs_job_name_ok(name)) {
			dc_log("skipping damaged job file '%s'", path);
			json_decref(doc);
			doc = NULL;
		}
		if (doc != NULL)
			job_add(ctx, name, doc);
		free(name);
		free(path);
		ofs_buf_release(&raw);
	}
	closedir(d);
	ofs_err_clear(err);
	if (ctx->njobs > 1)
		qsort(ctx->jobs, ctx->njobs, sizeof(*ctx->jobs), name_cmp);
	return 0;
}

/* ---- responses ---- */

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, json_t *body, const char *const *hdrs)
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

static enum MHD_Result
api_error_h(struct MHD_Connection *c, unsigned status, const char *const *hdrs,
    const char *code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum MHD_Result
api_error_h(struct MHD_Connection *c, unsigned status, const char *const *hdrs,
    const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply(c, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message",
	    msg), hdrs);
}

#define api_error(c, status, code, ...) api_error_h(c, status, NULL, code, __VA_ARGS__)

static enum MHD_Result
oauth_error(struct MHD_Connection *c, unsigned status, const char *code, const char *desc)
{
	static const char *const hdrs[] = { "Cache-Control", "no-store", NULL };

	return reply(c, status, json_pack("{s:s, s:s}", "error", code, "error_description", desc),
	    hdrs);
}

/* ---- request helpers ---- */

static const char *
header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static const char *
query(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

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

/* "X.Y.Z" → comparable number; -1 when malformed. */
static int64_t
version_num(const char *s, const char **end)
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

static json_t *
parse_body(struct request *rq)
{
	if (rq->body.len == 0)
		return NULL;
	return json_loadb((const char *)rq->body.data, rq->body.len, JSON_REJECT_DUPLICATES,
	    NULL);
}

static int
printable(const char *s, size_t max)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* ---- token endpoint ---- */

static int
hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The decoded value of key in an application/x-www-form-urlencoded body (owned), or NULL. */
static char *
form_value(const struct ofs_buf *b, const char *key)
{
	const char *p = (const char *)b->data, *end = p + b->len;
	size_t klen = strlen(key);

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *eq;
		const char *stop = amp ? amp : end;
		char *out, *o;

		eq = memchr(p, '=', (size_t)(stop - p));
		if (eq != NULL && (size_t)(eq - p) == klen && memcmp(p, key, klen) == 0) {
			out = o = ofs_xmalloc((size_t)(stop - eq));
			for (const char *q = eq + 1; q < stop; q++) {
				if (*q == '+') {
					*o++ = ' ';
				} else if (*q == '%' && stop - q >= 3 && hexv(q[1]) >= 0 &&
				    hexv(q[2]) >= 0) {
					*o++ = (char)(hexv(q[1]) * 16 + hexv(q[2]));
					q += 2;
				} else {
					*o++ = *q;
				}
			}
			*o = '\0';
			if (strlen(out) != (size_t)(o - out)) {	/* %00 */
				free(out);
				return NULL;
			}
			return out;
		}
		p = stop + 1;
	}
	return NULL;
}

static enum MHD_Result
do_token(struct dc_ctx *ctx, struct MHD_Connection *c, const char *tenant, struct request *rq)
{
	char *grant = form_value(&rq->body, "grant_type"), *id = form_value(&rq->body, "client_id");
	char *secret = form_value(&rq->body, "client_secret"), *tok, when[32], desc[256];
	int64_t now = now_s(), cred_exp, exp;
	enum MHD_Result ret;
	json_t *o;
	int r;

	if (strcmp(tenant, ctx->svc.tenant) != 0) {
		snprintf(desc, sizeof(desc), "tenant '%.64s' not found", tenant);
		ret = oauth_error(c, 400, "invalid_request", desc);
		goto out;
	}
	if (grant == NULL || strcmp(grant, "client_credentials") != 0) {
		ret = oauth_error(c, 400, "unsupported_grant_type", "only client_credentials is "
		    "supported");
		goto out;
	}
	if (id == NULL || secret == NULL) {
		ret = oauth_error(c, 400, "invalid_request", "client_id and client_secret are "
		    "required");
		goto out;
	}
	r = dc_client_check(&ctx->svc, id, secret, now, &cred_exp);
	if (r == -2) {
		ofs_fmt_time(cred_exp, when, sizeof(when));
		snprintf(desc, sizeof(desc), "the client's credentials expired on %s; issue a new "
		    "credentials file", when);
		ret = oauth_error(c, 401, "invalid_client", desc);
		goto out;
	}
	if (r != 0) {
		ret = oauth_error(c, 401, "invalid_client", "client authentication failed (unknown "
		    "client or wrong secret)");
		goto out;
	}
	exp = now + ctx->token_lifetime;
	if (exp > cred_exp)
		exp = cred_exp;
	tok = dc_token_make(&ctx->svc, id, exp);
	o = json_pack("{s:s, s:I, s:I, s:s}", "token_type", "Bearer", "expires_in",
	    (json_int_t)(exp - now), "ext_expires_in", (json_int_t)(exp - now), "access_token",
	    tok);
	ofs_wipe(tok, strlen(tok));
	free(tok);
	{
		static const char *const hdrs[] = { "Cache-Control", "no-store", NULL };

		ret = reply(c, 200, o, hdrs);
	}
out:
	if (secret != NULL) {
		ofs_wipe(secret, strlen(secret));
		free(secret);
	}
	free(grant);
	free(id);
	return ret;
}

/* ---- jobs API ---- */

static char *
jobs_base(struct dc_ctx *ctx)
{
	return ofs_xasprintf("%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.DataBox",
	    ctx->base_url, ctx->svc.subscription, ctx->svc.resource_group);
}

static enum MHD_Result
job_put(struct dc_ctx *ctx, struct MHD_Connection *c, const char *name, struct request *rq)
{
	char msg[512], *op_url = NULL;
	json_t *body = parse_body(rq), *doc, *out;
	struct dc_job *job;
	struct ofs_error err;
	enum MHD_Result ret;

	if (!ofs_job_name_ok(name)) {
		json_decref(body);
		return api_error(c, 400, "InvalidResourceName", "job name '%.40s' is invalid: 3 to "
		    "24 characters of letters, digits, '-', '_' and '.'", name);
	}
	if (body == NULL)
		return api_error(c, 400, "InvalidRequestContent", "the request body is not a JSON "
		    "object");
	if (dc_job_validate(body, msg, sizeof(msg)) != 0) {
		json_decref(body);
		return api_error(c, 400, "InvalidRequestContent", "%s", msg);
	}
	pthread_mutex_lock(&ctx->mu);
	if ((job = dc_find_job(ctx, name)) != NULL) {
		if (json_equal(json_object_get(job->doc, "request"), body)) {
			out = dc_job_render(job->doc, &ctx->svc, 1);
			pthread_mutex_unlock(&ctx->mu);
			json_decref(body);
			return reply(c, 200, out, NULL);
		}
		pthread_mutex_unlock(&ctx->mu);
		json_decref(body);
		return api_error(c, 409, "Conflict", "a job named '%s' already exists with other "
		    "details; choose another name", name);
	}
	doc = dc_job_new(name, body, now_s());
	json_decref(body);
	job = job_add(ctx, name, doc);
	if (dc_save_job(ctx, job, &err) != 0) {
		job_remove(ctx, job);
		pthread_mutex_unlock(&ctx->mu);
		dc_log("cannot save job '%s': %s", name, err.msg);
		return api_error(c, 500, "InternalServerError", "the job could not be stored");
	}
	op_url = ofs_xasprintf("%s/subscriptions/%s/providers/Microsoft.DataBox/locations/%s/"
	    "operationStatuses/%s?api-version=" DC_API_VERSION, ctx->base_url,
	    ctx->svc.subscription, ctx->svc.location, dc_jstr(doc, "operation"));
	out = dc_job_render(doc, &ctx->svc, 1);
	pthread_mutex_unlock(&ctx->mu);
	dc_log("job '%s' created", name);
	{
		const char *hdrs[] = { "Azure-AsyncOperation", op_url, "Retry-After", RETRY_AFTER,
			NULL };

		ret = reply(c, 201, out, hdrs);
	}
	free(op_url);
	return ret;
}

static enum MHD_Result
job_get(struct dc_ctx *ctx, struct MHD_Connection *c, const char *name)
{
	const char *expand = query(c, "$expand");
	struct dc_job *job;
	json_t *out;

	pthread_mutex_lock(&ctx->mu);
	if ((job = dc_find_job(ctx, name)) == NULL) {
		pthread_mutex_unlock(&ctx->mu);
		return api_error(c, 404, "ResourceNotFound", "job '%.40s' not found", name);
	}
	out = dc_job_render(job->doc, &ctx->svc, expand != NULL && strcasecmp(expand,
	    "details") == 0);
	pthread_mutex_unlock(&ctx->mu);
	return reply(c, 200, out, NULL);
}

static enum MHD_Result
job_list(struct dc_ctx *ctx, struct MHD_Connection *c)
{
	const char *skip = query(c, "$skipToken");
	unsigned long long start = 0;
	json_t *value = json_array(), *out;
	struct dc_job **sorted;
	char *end, *base, *next = NULL;
	size_t i, n;

	if (skip != NULL) {
		errno = 0;
		start = strtoull(skip, &end, 10);
		if (errno != 0 || end == skip || *end != '\0') {
			json_decref(value);
			return api_error(c, 400, "InvalidSkipToken", "$skipToken is not valid");
		}
	}
	pthread_mutex_lock(&ctx->mu);
	n = ctx->njobs;
	sorted = ofs_xreallocarray(NULL, n + 1, sizeof(*sorted));
	if (n > 0) {
		memcpy(sorted, ctx->jobs, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), name_cmp);
	}
	for (i = start; i < n && i < start + ctx->page_size; i++)
		json_array_append_new(value, dc_job_render(sorted[i]->doc, &ctx->svc, 0));
	if (i < n) {
		base = jobs_base(ctx);
		next = ofs_xasprintf("%s/jobs?api-version=" DC_API_VERSION "&$skipToken=%zu", base,
		    i);
		free(base);
	}
	pthread_mutex_unlock(&ctx->mu);
	free(sorted);
	out = json_pack("{s:o}", "value", value);
	if (next != NULL)
		json_object_set_new(out, "nextLink", json_string(next));
	free(next);
	return reply(c, 200, out, NULL);
}

static enum MHD_Result
job_ship(struct dc_ctx *ctx, struct MHD_Connection *c, const char *name, struct request *rq)
{
	json_t *body = parse_body(rq), *pkg = json_object_get(body, "deliverToDcPackageDetails");
	const char *carrier = dc_jstr(pkg, "carrierName"), *tracking = dc_jstr(pkg, "trackingId");
	struct dc_job *job;
	const char *status;
	enum MHD_Result ret;

	if (!printable(carrier, 64) || !printable(tracking, 64)) {
		json_decref(body);
		return api_error(c, 400, "InvalidRequestContent", "deliverToDcPackageDetails with "
		    "carrierName and trackingId (1 to 64 printable characters) is required");
	}
	pthread_mutex_lock(&ctx->mu);
	if ((job = dc_find_job(ctx, name)) == NULL) {
		ret = api_error(c, 404, "ResourceNotFound", "job '%.40s' not found", name);
		goto out;
	}
	status = dc_jstr(job->doc, "status");
	if (strcmp(status, "Created") != 0 && strcmp(status, "ShippedToAzureDC") != 0) {
		ret = api_error(c, 409, "InvalidJobState", "job '%s' is %s; disks can be marked "
		    "shipped only while it is Created or ShippedToAzureDC", name, status);
		goto out;
	}
	json_object_set_new(job->doc, "deliverToDc", json_pack("{s:s, s:s}", "carrierName",
	    carrier, "trackingId", tracking));
	if (strcmp(status, "Created") == 0)
		dc_job_set_stage(job->doc, "ShippedToAzureDC", now_s());
	{
		struct ofs_error err;

		if (dc_save_job(ctx, job, &err) != 0) {
			dc_log("cannot save job '%s': %s", name, err.msg);
			ret = api_error(c, 500, "InternalServerError", "the job could not be stored");
			goto out;
		}
	}
	ret = reply(c, 204, NULL, NULL);
out:
	pthread_mutex_unlock(&ctx->mu);
	json_decref(body);
	return ret;
}

static enum MHD_Result
job_cancel(struct dc_ctx *ctx, struct MHD_Connection *c, const char *name, struct request *rq)
{
	json_t *body = parse_body(rq);
	const char *reason = dc_jstr(body, "reason"), *status;
	struct dc_job *job;
	struct ofs_error err;
	enum MHD_Result ret;

	if (!printable(reason, 512)) {
		json_decref(body);
		return api_error(c, 400, "InvalidRequestContent", "a reason (1 to 512 printable "
		    "characters) is required");
	}
	pthread_mutex_lock(&ctx->mu);
	if ((job = dc_find_job(ctx, name)) == NULL) {
		ret = api_error(c, 404, "ResourceNotFound", "job '%.40s' not found", name);
		goto out;
	}
	status = dc_jstr(job->doc, "status");
	if (strcmp(status, "Cancelled") == 0) {
		ret = reply(c, 204, NULL, NULL);
		goto out;
	}
	if (!dc_stage_cancellable(status)) {
		ret = api_error(c, 409, "InvalidJobState", "job '%s' is %s; it can be cancelled "
		    "only before its disks reach the datacenter", name, status);
		goto out;
	}
	json_object_set_new(job->doc, "cancellationReason", json_string(reason));
	dc_job_set_stage(job->doc, "Cancelled", now_s());
	if (dc_save_job(ctx, job, &err) != 0) {
		dc_log("cannot save job '%s': %s", name, err.msg);
		ret = api_error(c, 500, "InternalServerError", "the job could not be stored");
		goto out;
	}
	dc_log("job '%s' cancelled", name);
	ret = reply(c, 204, NULL, NULL);
out:
	pthread_mutex_unlock(&ctx->mu);
	json_decref(body);
	return ret;
}

static enum MHD_Result
job_delete(struct dc_ctx *ctx, struct MHD_Connection *c, const char *name)
{
	struct dc_job *job;
	enum MHD_Result ret;
	const char *status;
	char *path;

	pthread_mutex_lock(&ctx->mu);
	if ((job = dc_find_job(ctx, name)) == NULL) {
		ret = reply(c, 204, NULL, NULL);
		goto out;
	}
	status = dc_jstr(job->doc, "status");
	if (!dc_stage_final(status) || job->worker) {
		ret = api_error(c, 409, "InvalidJobState", "job '%s' is %s; only a finished, "
		    "cancelled or returned job can be deleted", name, status);
		goto out;
	}
	path = job_path(ctx, name);
	if (unlink(path) == -1 && errno != ENOENT) {
		dc_log("cannot remove '%s': %s", path, strerror(errno));
		free(path);
		ret = api_error(c, 500, "InternalServerError", "the job could not be removed");
		goto out;
	}
	free(path);
	job_remove(ctx, job);
	dc_log("job '%s' deleted", name);
	ret = reply(c, 200, NULL, NULL);
out:
	pthread_mutex_unlock(&ctx->mu);
	return ret;
}

static enum MHD_Result
op_status(struct dc_ctx *ctx, struct MHD_Connection *c, const char *id)
{
	json_t *out = NULL;
	char t[32];

	pthread_mutex_lock(&ctx->mu);
	for (size_t i = 0; i < ctx->njobs; i++) {
		json_t *doc = ctx->jobs[i]->doc;

		if (strcmp(dc_jstr(doc, "operation"), id) == 0) {
			ofs_fmt_time(now_s(), t, sizeof(t));
			out = json_pack("{s:s, s:s, s:s, s:s}", "name", id, "status", "Succeeded",
			    "startTime", dc_jstr(doc, "created"), "endTime", dc_jstr(doc, "created"));
			break;
		}
	}
	pthread_mutex_unlock(&ctx->mu);
	if (out == NULL)
		return api_error(c, 404, "OperationNotFound", "operation '%.64s' not found", id);
	return reply(c, 200, out, NULL);
}

/* Bearer token check: NULL when fine, else the answer was queued (*ret). */
static int
authorize(struct dc_ctx *ctx, struct MHD_Connection *c, enum MHD_Result *ret)
{
	static const char *const hdrs[] = { "WWW-Authenticate", "Bearer", NULL };
	const char *auth = header(c, "Authorization");
	int r;

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0 || auth[7] == '\0') {
		*ret = api_error_h(c, 401, hdrs, "AuthenticationFailed", "the request has no "
		    "'Authorization: Bearer' token");
		return -1;
	}
	r = dc_token_check(&ctx->svc, auth + 7, now_s());
	if (r == -2) {
		*ret = api_error_h(c, 401, hdrs, "ExpiredAuthenticationToken", "the access token "
		    "has expired; get a new one from the token endpoint");
		return -1;
	}
	if (r != 0) {
		*ret = api_error_h(c, 401, hdrs, "InvalidAuthenticationToken", "the access token "
		    "is invalid");
		return -1;
	}
	return 0;
}

static enum MHD_Result
api(struct dc_ctx *ctx, struct MHD_Connection *c, const char *method, char **seg, int n,
    struct request *rq)
{
	const char *apiv = query(c, "api-version");
	enum MHD_Result ret;

	if (authorize(ctx, c, &ret) != 0)
		return ret;
	if (apiv == NULL)
		return api_error(c, 400, "MissingApiVersionParameter", "the api-version query "
		    "parameter is required (supported: " DC_API_VERSION ")");
	if (strcmp(apiv, DC_API_VERSION) != 0)
		return api_error(c, 400, "InvalidApiVersionParameter", "api-version '%.32s' is not "
		    "supported; the supported version is " DC_API_VERSION, apiv);
	if (n < 2 || strcasecmp(seg[1], ctx->svc.subscription) != 0)
		return api_error(c, 404, "SubscriptionNotFound", "subscription '%.64s' not found",
		    n >= 2 ? seg[1] : "");
	/* /subscriptions/S/providers/Microsoft.DataBox/locations/L/operationStatuses/ID */
	if (n == 8 && strcasecmp(seg[2], "providers") == 0 &&
	    strcasecmp(seg[3], "Microsoft.DataBox") == 0 && strcasecmp(seg[4], "locations") == 0 &&
	    strcasecmp(seg[6], "operationStatuses") == 0) {
		if (strcmp(method, "GET") != 0)
			return api_error(c, 405, "MethodNotAllowed", "use GET");
		return op_status(ctx, c, seg[7]);
	}
	if (n < 7 || strcasecmp(seg[2], "resourceGroups") != 0 ||
	    strcasecmp(seg[4], "providers") != 0 || strcasecmp(seg[5], "Microsoft.DataBox") != 0 ||
	    strcasecmp(seg[6], "jobs") != 0 || n > 9)
		return api_error(c, 404, "NotFound", "no such resource");
	if (strcasecmp(seg[3], ctx->svc.resource_group) != 0)
		return api_error(c, 404, "ResourceGroupNotFound", "resource group '%.64s' not found",
		    seg[3]);
	if (n == 7) {
		if (strcmp(method, "GET") != 0)
			return api_error(c, 405, "MethodNotAllowed", "use GET to list jobs");
		return job_list(ctx, c);
	}
	if (n == 8) {
		if (strcmp(method, "PUT") == 0)
			return job_put(ctx, c, seg[7], rq);
		if (strcmp(method, "GET") == 0)
			return job_get(ctx, c, seg[7]);
		if (strcmp(method, "DELETE") == 0)
			return job_delete(ctx, c, seg[7]);
		return api_error(c, 405, "MethodNotAllowed", "use PUT, GET or DELETE");
	}
	if (strcmp(method, "POST") != 0)
		return api_error(c, 405, "MethodNotAllowed", "use POST");
	if (strcasecmp(seg[8], "markDevicesShipped") == 0)
		return job_ship(ctx, c, seg[7], rq);
	if (strcasecmp(seg[8], "cancel") == 0)
		return job_cancel(ctx, c, seg[7], rq);
	return api_error(c, 404, "NotFound", "no such action '%.40s'", seg[8]);
}

/* ---- admin endpoints (the dock): loopback only, no token ---- */

static enum MHD_Result
admin_receive(struct dc_ctx *ctx, struct MHD_Connection *c, struct dc_job *job,
    struct request *rq)
{
	json_t *body = parse_body(rq), *disks = json_object_get(body, "disks"), *v, *d;
	const char *serial, *status = dc_jstr(job->doc, "status");
	struct ofs_error err;
	struct stat sb;
	enum MHD_Result ret;
	char t[32];

	if (!json_is_object(disks) || json_object_size(disks) == 0) {
		ret = api_error(c, 400, "InvalidRequestContent", "{\"disks\":{SERIAL:PATH,…}} is "
		    "required");
		goto out;
	}
	if (strcmp(status, "Created") != 0 && strcmp(status, "ShippedToAzureDC") != 0 &&
	    strcmp(status, "AtAzureDC") != 0 && strcmp(status, "DataCopy") != 0) {
		ret = api_error(c, 409, "InvalidJobState", "job '%s' is %s; it takes no disks",
		    job->name, status);
		goto out;
	}
	if (json_is_true(json_object_get(job->doc, "closed"))) {
		ret = api_error(c, 409, "InvalidJobState", "job '%s' is closed; it takes no more "
		    "disks", job->name);
		goto out;
	}
	json_object_foreach(disks, serial, v) {
		const char *path = json_string_value(v);

		if ((d = dc_job_disk(job->doc, serial)) == NULL) {
			ret = api_error(c, 400, "UnknownDisk", "disk '%.64s' is not part of job '%s'",
			    serial, job->name);
			goto out;
		}
		if (strcmp(dc_jstr(d, "phase"), "waiting") != 0) {
			ret = api_error(c, 409, "DiskAlreadyReceived", "disk '%s' of job '%s' was "
			    "already received", serial, job->name);
			goto out;
		}
		if (!printable(path, 4096) || path[0] != '/' || stat(path, &sb) == -1 ||
		    !S_ISDIR(sb.st_mode)) {
			ret = api_error(c, 400, "InvalidDiskPath", "disk '%s': '%.200s' is not an "
			    "absolute path to a folder", serial, path ? path : "");
			goto out;
		}
	}
	ofs_fmt_time(now_s(), t, sizeof(t));
	json_object_foreach(disks, serial, v) {
		d = dc_job_disk(job->doc, serial);
		json_object_set(d, "dock", v);
		json_object_set_new(d, "phase", json_string("received"));
		json_object_set_new(d, "received", json_string(t));
	}
	if (strcmp(status, "Created") == 0 || strcmp(status, "ShippedToAzureDC") == 0)
		dc_job_set_stage(job->doc, "AtAzureDC", now_s());
	if (dc_save_job(ctx, job, &err) != 0) {
		dc_log("cannot save job '%s': %s", job->name, err.msg);
		ret = api_error(c, 500, "InternalServerError", "the job could not be stored");
		goto out;
	}
	dc_log("job '%s': %zu disk(s) received", job->name, json_object_size(disks));
	dc_kick_job(ctx, job);
	ret = reply(c, 200, dc_job_render(job->doc, &ctx->svc, 1), NULL);
out:
	json_decref(body);
	return ret;
}

static int
close_job(struct dc_ctx *ctx, struct dc_job *job)
{
	const char *status = dc_jstr(job->doc, "status");
	struct ofs_error err;

	if (strcmp(status, "ShippedToAzureDC") != 0 && strcmp(status, "AtAzureDC") != 0 &&
	    strcmp(status, "DataCopy") != 0)
		return -1;
	dc_job_close(job->doc);
	if (dc_save_job(ctx, job, &err) != 0)
		dc_log("cannot save job '%s': %s", job->name, err.msg);
	dc_job_finish(ctx, job);
	return 0;
}

static enum MHD_Result
admin(struct dc_ctx *ctx, struct MHD_Connection *c, const char *method, char **seg, int n,
    struct request *rq)
{
	struct dc_job *job;
	enum MHD_Result ret;
	const char *status;
	struct ofs_error err;

	if (n == 2 && strcmp(seg[1], "health") == 0)
		return reply(c, 200, json_pack("{s:s, s:s}", "status", "ok", "version",
		    OFS_VERSION), NULL);
	if (n < 3 || strcmp(seg[1], "jobs") != 0 || n > 4)
		return api_error(c, 404, "NotFound", "no such admin endpoint");
	pthread_mutex_lock(&ctx->mu);
	if ((job = dc_find_job(ctx, seg[2])) == NULL) {
		ret = api_error(c, 404, "ResourceNotFound", "job '%.40s' not found", seg[2]);
		goto out;
	}
	if (n == 3) {
		if (strcmp(method, "GET") != 0)
			ret = api_error(c, 405, "MethodNotAllowed", "use GET");
		else
			ret = reply(c, 200, json_deep_copy(job->doc), NULL);
		goto out;
	}
	if (strcmp(method, "POST") != 0) {
		ret = api_error(c, 405, "MethodNotAllowed", "use POST");
		goto out;
	}
	if (strcmp(seg[3], "receive") == 0) {
		ret = admin_receive(ctx, c, job, rq);
	} else if (strcmp(seg[3], "close") == 0) {
		if (close_job(ctx, job) != 0)
			ret = api_error(c, 409, "InvalidJobState", "job '%s' is %s; only a job whose "
			    "disks were shipped can be closed", job->name,
			    dc_jstr(job->doc, "status"));
		else
			ret = reply(c, 200, dc_job_render(job->doc, &ctx->svc, 1), NULL);
	} else if (strcmp(seg[3], "return") == 0) {
		close_job(ctx, job);
		status = dc_jstr(job->doc, "status");
		if (strcmp(status, "ShippedToCustomer") == 0) {
			ret = reply(c, 200, dc_job_render(job->doc, &ctx->svc, 1), NULL);
		} else if (dc_stage_final(status) && strcmp(status, "Cancelled") != 0) {
			dc_job_set_stage(job->doc, "ShippedToCustomer", now_s());
			if (dc_save_job(ctx, job, &err) != 0)
				dc_log("cannot save job '%s': %s", job->name, err.msg);
			dc_log("job '%s': disks shipped back", job->name);
			ret = reply(c, 200, dc_job_render(job->doc, &ctx->svc, 1), NULL);
		} else if (job->worker) {
			ret = api_error(c, 409, "CopyInProgress", "job '%s' is still copying; return "
			    "the disks when it has finished", job->name);
		} else {
			ret = api_error(c, 409, "InvalidJobState", "job '%s' is %s; its disks are "
			    "not at the datacenter", job->name, status);
		}
	} else {
		ret = api_error(c, 404, "NotFound", "no such admin action '%.40s'", seg[3]);
	}
out:
	pthread_mutex_unlock(&ctx->mu);
	return ret;
}

/* ---- dispatch ---- */

/* The fault to apply to this request (counted), or DC_FAULT_NONE. */
static enum dc_fault
take_fault(struct dc_ctx *ctx)
{
	enum dc_fault f = DC_FAULT_NONE;

	pthread_mutex_lock(&ctx->mu);
	if (ctx->fault != DC_FAULT_NONE && ctx->fault_left != 0) {
		f = ctx->fault;
		if (ctx->fault_left > 0)
			ctx->fault_left--;
	}
	pthread_mutex_unlock(&ctx->mu);
	return f;
}

static enum MHD_Result
dispatch(struct dc_ctx *ctx, struct MHD_Connection *c, const char *url, const char *method,
    struct request *rq)
{
	static const char *const retry_hdrs[] = { "Retry-After", RETRY_AFTER, NULL };
	char buf[2048], *seg[MAX_SEGS];
	const char *ua;
	enum dc_fault f;
	int n;

	if (strlen(url) >= sizeof(buf))
		return api_error(c, 414, "UriTooLong", "the request path is too long");
	memcpy(buf, url, strlen(url) + 1);
	if ((n = split_path(buf, seg)) < 0)
		return api_error(c, 404, "NotFound", "no such resource");
	if (rq->too_big)
		return api_error(c, 413, "RequestEntityTooLarge", "the request body is larger "
		    "than %u bytes", DC_BODY_MAX);
	if (n >= 1 && strcmp(seg[0], "admin") == 0)
		return admin(ctx, c, method, seg, n, rq);

	switch ((f = take_fault(ctx))) {
	case DC_FAULT_503:
		return api_error_h(c, 503, retry_hdrs, "ServiceUnavailable", "the service is "
		    "unavailable (fault injection); retry later");
	case DC_FAULT_429:
		return api_error_h(c, 429, retry_hdrs, "TooManyRequests", "too many requests "
		    "(fault injection); retry later");
	case DC_FAULT_DROP:
		return MHD_NO;		/* closes the connection without an answer */
	case DC_FAULT_SLOW: {
		struct timespec ts = { (time_t)(ctx->slow_ms / 1000),
			(long)(ctx->slow_ms % 1000) * 1000000L };

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		break;
	}
	case DC_FAULT_NONE:
		break;
	}

	if (ctx->min_agent != NULL && (ua = header(c, "User-Agent")) != NULL &&
	    strncmp(ua, "offseed/", 8) == 0) {
		int64_t have = version_num(ua + 8, NULL), need = version_num(ctx->min_agent, NULL);
		char ver[32], msg[256];

		if (have < need) {
			snprintf(ver, sizeof(ver), "%.*s", (int)strcspn(ua + 8, " "), ua + 8);
			snprintf(msg, sizeof(msg), "the import service requires offseed %s or later "
			    "(this client is %s)", ctx->min_agent, ver);
			return reply(c, 400, json_pack("{s:{s:s, s:s, s:s, s:[{s:s, s:{s:s}}]}}",
			    "error", "code", "AgentVersionNotSupported", "message", msg,
			    "minimumVersion", ctx->min_agent, "additionalInfo", "type",
			    "MinimumAgentVersion", "info", "minimumVersion", ctx->min_agent), NULL);
		}
	}
	if (n == 4 && strcasecmp(seg[1], "oauth2") == 0 && strcmp(seg[2], "v2.0") == 0 &&
	    strcmp(seg[3], "token") == 0) {
		if (strcmp(method, "POST") != 0)
			return oauth_error(c, 405, "invalid_request", "use POST");
		return do_token(ctx, c, seg[0], rq);
	}
	if (n >= 1 && strcasecmp(seg[0], "subscriptions") == 0)
		return api(ctx, c, method, seg, n, rq);
	return api_error(c, 404, "NotFound", "no such resource");
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct dc_ctx *ctx = cls;
	struct request *rq = *con_cls;

	if (rq == NULL) {
		rq = ofs_xcalloc(1, sizeof(*rq));
		ofs_buf_init(&rq->body, DC_BODY_MAX);
		*con_cls = rq;
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
	struct request *rq = *con_cls;

	if (rq != NULL) {
		ofs_buf_release_secret(&rq->body);	/* may hold a client secret */
		free(rq);
		*con_cls = NULL;
	}
}

static enum MHD_Result
loopback_only(void *cls, const struct sockaddr *addr, socklen_t len)
{
	if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
		return (ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr) >> 24) == 127 ?
		    MHD_YES : MHD_NO;
	return MHD_NO;
}

/* ---- serve command ---- */

static int
parse_listen(const char *s, struct sockaddr_in *sa, struct ofs_error *err)
{
	const char *colon = strrchr(s, ':');
	char host[64], *end;
	unsigned long port;

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		return ofs_err_set(err, OFS_ERR_USAGE, "--listen must be 127.0.0.1:PORT");
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (errno != 0 || end == colon + 1 || *end != '\0' || port > 65535 ||
	    inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return ofs_err_set(err, OFS_ERR_USAGE, "--listen '%s' is not HOST:PORT", s);
	if ((ntohl(sa->sin_addr.s_addr) >> 24) != 127)
		return ofs_err_set(err, OFS_ERR_USAGE, "--listen '%s': offseed-dc listens on "
		    "loopback addresses (127.x.x.x) only", s);
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

static int
parse_fault(struct dc_ctx *ctx, const char *s, struct ofs_error *err)
{
	static const struct { const char *name; enum dc_fault f; } modes[] = {
		{ "503", DC_FAULT_503 }, { "429", DC_FAULT_429 }, { "drop", DC_FAULT_DROP },
		{ "slow", DC_FAULT_SLOW },
	};
	size_t n = strcspn(s, ":");
	char *end;

	for (size_t i = 0; i < OFS_ARRAY_LEN(modes); i++) {
		if (strlen(modes[i].name) != n || strncmp(s, modes[i].name, n) != 0)
			continue;
		ctx->fault = modes[i].f;
		ctx->fault_left = -1;
		if (s[n] == ':') {
			errno = 0;
			ctx->fault_left = strtol(s + n + 1, &end, 10);
			if (errno != 0 || end == s + n + 1 || *end != '\0' || ctx->fault_left < 1)
				return ofs_err_set(err, OFS_ERR_USAGE, "--fault '%s': the count must "
				    "be a positive number", s);
		}
		return 0;
	}
	return ofs_err_set(err, OFS_ERR_USAGE, "--fault '%s': expected 503, 429, drop or slow, "
	    "optionally with :COUNT", s);
}

static int
serve_usage(void)
{
	fprintf(stderr, "usage: offseed-dc serve --listen 127.0.0.1:PORT --state DIR --storage LOC\n"
	    "           [--min-agent-version X.Y.Z] [--fault MODE[:COUNT]] [--copy-delay MS]\n"
	    "           [--token-lifetime SECONDS] [--page-size N]\n");
	return 2;
}

int
dc_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "state", required_argument, NULL, 's' },
		{ "storage", required_argument, NULL, 'S' },
		{ "min-agent-version", required_argument, NULL, 'm' },
		{ "fault", required_argument, NULL, 'f' },
		{ "copy-delay", required_argument, NULL, 'd' },
		{ "token-lifetime", required_argument, NULL, 't' },
		{ "page-size", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen = NULL, *state = NULL, *storage = NULL, *env;
	struct sockaddr_in sa;
	struct dc_ctx ctx;
	struct ofs_error err;
	struct MHD_Daemon *d = NULL;
	const union MHD_DaemonInfo *info;
	sigset_t sigs;
	char *end;
	long v;
	int ch, sig, rc = 1;

	memset(&ctx, 0, sizeof(ctx));
	pthread_mutex_init(&ctx.mu, NULL);
	ctx.page_size = 50;
	ctx.token_lifetime = DC_TOKEN_LIFETIME;
	ctx.slow_ms = 2000;
	if ((env = getenv("OFFSEED_DC_SLOW_MS")) != NULL && *env)
		ctx.slow_ms = (unsigned)strtoul(env, NULL, 10);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'l': listen = optarg; break;
		case 's': state = optarg; break;
		case 'S': storage = optarg; break;
		case 'm':
			if (version_num(optarg, (const char **)&end) < 0 || *end != '\0') {
				dc_log("--min-agent-version '%s' is not X.Y.Z", optarg);
				return 2;
			}
			ctx.min_agent = optarg;
			break;
		case 'f':
			if (parse_fault(&ctx, optarg, &err) != 0) {
				dc_log("%s", err.msg);
				return 2;
			}
			break;
		case 'd': case 't': case 'p':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || v < (ch == 'd' ? 0 : 1) ||
			    v > 86400000) {
				dc_log("invalid number '%s'", optarg);
				return 2;
			}
			if (ch == 'd')
				ctx.copy_delay_ms = (unsigned)v;
			else if (ch == 't')
				ctx.token_lifetime = v;
			else
				ctx.page_size = (unsigned)v;
			break;
		case 'h':
			serve_usage();
			return 0;
		default:
			return serve_usage();
		}
	}
	if (listen == NULL || state == NULL || storage == NULL || optind != argc)
		return serve_usage();
	if (parse_listen(listen, &sa, &err) != 0) {
		dc_log("%s", err.msg);
		return 2;
	}
	if (dc_service_open(state, &ctx.svc, &err) != 0) {
		dc_log("%s", err.msg);
		return ofs_exit_code(err.code);
	}
	if (dc_store_open(storage, &ctx.store, &err) != 0) {
		dc_log("%s", err.msg);
		rc = ofs_exit_code(err.code);
		goto out;
	}
	dc_store_cleanup(ctx.store);
	ctx.jobs_dir = ofs_path_join(state, "jobs");
	if (load_jobs(&ctx, &err) != 0) {
		dc_log("%s", err.msg);
		goto out;
	}

	/* Signals go to sigwait below, not to the server's threads. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_ERROR_LOG, 0, loopback_only, NULL, handler, &ctx,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
	    MHD_OPTION_END);
	if (d == NULL) {
		dc_log("cannot listen on %s (in use?)", listen);
		goto out;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	ctx.base_url = ofs_xasprintf("http://%s:%u", inet_ntoa(sa.sin_addr),
	    info != NULL ? (unsigned)info->port : (unsigned)ntohs(sa.sin_port));
	free(ctx.svc.storage);
	ctx.svc.storage = ofs_xstrdup(dc_store_location(ctx.store));
	free(ctx.svc.endpoint);
	ctx.svc.endpoint = ofs_xstrdup(ctx.base_url);
	if (dc_service_save(&ctx.svc, &err) != 0)
		dc_log("cannot record the endpoint: %s", err.msg);

	pthread_mutex_lock(&ctx.mu);
	for (size_t i = 0; i < ctx.njobs; i++) {
		if (dc_job_needs_worker(ctx.jobs[i]->doc)) {
			dc_log("job '%s': resuming the copy", ctx.jobs[i]->name);
			dc_kick_job(&ctx, ctx.jobs[i]);
		} else {
			dc_job_finish(&ctx, ctx.jobs[i]);
		}
	}
	pthread_mutex_unlock(&ctx.mu);

	printf("listening on %s\n", ctx.base_url);
	fflush(stdout);
	while (sigwait(&sigs, &sig) != 0)
		;
	dc_log("stopping (signal %d)", sig);
	pthread_mutex_lock(&ctx.mu);
	ctx.stopping = 1;
	pthread_mutex_unlock(&ctx.mu);
	MHD_stop_daemon(d);
	/* Copy workers stop at their next file boundary. Their state is on disk already, so
	 * one still busy (a long disk check) after 5 s is not waited for. */
	for (int tries = 0;; tries++) {
		int busy = 0;

		pthread_mutex_lock(&ctx.mu);
		for (size_t i = 0; i < ctx.njobs; i++)
			busy += ctx.jobs[i]->worker;
		pthread_mutex_unlock(&ctx.mu);
		if (busy == 0)
			break;
		if (tries == 50)
			_exit(0);
		usleep(100000);
	}
	rc = 0;
out:
	while (ctx.njobs > 0)
		job_remove(&ctx, ctx.jobs[ctx.njobs - 1]);
	free(ctx.jobs);
	free(ctx.base_url);
	dc_store_free(ctx.store);
	dc_service_release(&ctx.svc);
	free(ctx.jobs_dir);
	return rc;
}
