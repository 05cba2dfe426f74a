/* offseed-dc serve's admin endpoints (the dock), for the operator only: a foreign Host is
 * refused, then the admin token is required. Receiving disks into a job (folders beneath
 * --dock-root), closing a job and shipping its disks back. */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <microhttpd.h>

#include "buf.h"
#include "crypto.h"
#include "dc.h"
#include "serve_int.h"
#include "util.h"

#define ADMIN_TOKEN_HEADER "X-Offseed-Admin-Token"

/* The operator: a foreign Host is refused, then the admin token is required. */
static int
admin_authorize(struct dc_ctx *ctx, struct MHD_Connection *c, struct dc_request *rq,
    enum MHD_Result *ret)
{
	const char *tok = dc_header(c, ADMIN_TOKEN_HEADER);

	if (!dc_host_ok(ctx, c, dc_header(c, "Host"))) {
		*ret = dc_api_error(c, 403, "HostNotAllowed", "the Host header does not name this "
		    "service; admin requests must address it directly");
		return -1;
	}
	if (tok == NULL || strlen(tok) != DC_ADMIN_TOKEN_LEN ||
	    !ofs_ct_equal(tok, ctx->admin_token, DC_ADMIN_TOKEN_LEN)) {
		*ret = dc_api_error(c, 401, "AdminAuthenticationFailed", "admin requests need the "
		    "operator's token (STATE/admin.token) in the " ADMIN_TOKEN_HEADER " header");
		return -1;
	}
	return dc_need_json(c, rq, ret);
}

/* 1 when path (resolved) lies strictly beneath root (resolved). */
static int
beneath(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return path[0] == '/' && path[1] != '\0';
	return strncmp(path, root, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

json_t *
dc_admin_render(struct dc_ctx *ctx, struct dc_job *job)
{
	struct dc_customer cu;
	struct ofs_error err;
	json_t *out;

	if (dc_customer_load(&ctx->svc, job->customer, &cu, &err) != 0) {
		out = dc_job_render(job->doc, &ctx->svc, 1);
	} else {
		out = dc_job_render_in(job->doc, cu.subscription, cu.resource_group, 1);
		dc_customer_release(&cu);
	}
	json_object_del(json_object_get(json_object_get(out, "properties"), "details"),
	    "dataExportDetails");
	return out;
}

int
dc_dock_path(struct dc_ctx *ctx, struct MHD_Connection *c, const char *serial,
    const char *path, char *real, enum MHD_Result *ret)
{
	struct stat sb;

	/* The disk folder itself is a real folder (not a symlink to one); what it resolves to
	 * is kept, so a symlinked parent swapped later changes nothing. */
	if (!dc_printable(path, 4096) || path[0] != '/' || lstat(path, &sb) == -1 ||
	    !S_ISDIR(sb.st_mode) || realpath(path, real) == NULL) {
		*ret = dc_api_error(c, 400, "InvalidDiskPath", "disk '%s': '%.200s' is not an "
		    "absolute path to a folder (not a symlink)", serial, path ? path : "");
		return -1;
	}
	if (ctx->dock_root != NULL && !beneath(ctx->dock_root, real)) {
		*ret = dc_api_error(c, 400, "InvalidDiskPath", "disk '%s': '%.200s' is not "
		    "beneath the dock root '%s'", serial, path, ctx->dock_root);
		return -1;
	}
	return 0;
}

static enum MHD_Result
admin_receive(struct dc_ctx *ctx, struct MHD_Connection *c, struct dc_job *job,
    struct dc_request *rq)
{
	json_t *body = dc_parse_body(rq), *disks = json_object_get(body, "disks"), *v, *d;
	json_t *resolved = json_object();
	const char *serial, *status = dc_jstr(job->doc, "status");
	char real[PATH_MAX], t[32];
	struct ofs_error err;
	enum MHD_Result ret;

	if (!json_is_object(disks) || json_object_size(disks) == 0) {
		ret = dc_api_error(c, 400, "InvalidRequestContent", "{\"disks\":{SERIAL:PATH,…}} is "
		    "required");
		goto out;
	}
	if (dc_job_is_export(job->doc)) {
		ret = dc_api_error(c, 409, "ExportJob", "job '%s' is an export job: attach its "
		    "disks with 'offseed-dc export'", job->name);
		goto out;
	}
	if (!dc_stage_takes_disks(status)) {
		ret = dc_api_error(c, 409, "InvalidJobState", "job '%s' is %s; it takes no disks",
		    job->name, status);
		goto out;
	}
	if (json_is_true(json_object_get(job->doc, "closed"))) {
		ret = dc_api_error(c, 409, "InvalidJobState", "job '%s' is closed; it takes no more "
		    "disks", job->name);
		goto out;
	}
	json_object_foreach(disks, serial, v) {
		const char *path = json_string_value(v);

		if ((d = dc_job_disk(job->doc, serial)) == NULL) {
			ret = dc_api_error(c, 400, "UnknownDisk", "disk '%.64s' is not part of job '%s'",
			    serial, job->name);
			goto out;
		}
		if (strcmp(dc_jstr(d, "phase"), "waiting") != 0) {
			ret = dc_api_error(c, 409, "DiskAlreadyReceived", "disk '%s' of job '%s' was "
			    "already received", serial, job->name);
			goto out;
		}
		if (dc_dock_path(ctx, c, serial, path, real, &ret) != 0)
			goto out;
		json_object_set_new(resolved, serial, json_string(real));
	}
	ofs_fmt_time(dc_now_s(), t, sizeof(t));
	json_object_foreach(resolved, serial, v) {
		d = dc_job_disk(job->doc, serial);
		json_object_set(d, "dock", v);
		json_object_set_new(d, "phase", json_string("received"));
		json_object_set_new(d, "received", json_string(t));
	}
	if (strcmp(status, "Created") == 0 || strcmp(status, "ShippedToAzureDC") == 0)
		dc_job_set_stage(job->doc, "AtAzureDC", dc_now_s());
	if (dc_save_job(ctx, job, &err) != 0) {
		dc_log("cannot save job '%s': %s", job->name, err.msg);
		ret = dc_api_error(c, 500, "InternalServerError", "the job could not be stored");
		goto out;
	}
	dc_log("customer '%s': job '%s': %zu disk(s) received", job->customer, job->name,
	    json_object_size(resolved));
	dc_kick_job(ctx, job);
	ret = dc_reply(c, 200, dc_admin_render(ctx, job), NULL);
out:
	json_decref(resolved);
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

/* The job an admin request names: customer's, or the only job of that name (ctx->mu held).
 * NULL with the answer queued. */
static struct dc_job *
admin_job(struct dc_ctx *ctx, struct MHD_Connection *c, const char *customer,
    const char *name, enum MHD_Result *ret)
{
	struct dc_job *job = NULL;
	struct ofs_buf who = OFS_BUF_INIT(4096);
	size_t n = 0;

	if (customer != NULL) {
		if ((job = dc_find_job(ctx, customer, name)) == NULL)
			*ret = dc_api_error(c, 404, "ResourceNotFound", "customer '%.40s' has no job "
			    "'%.40s'", customer, name);
		return job;
	}
	for (size_t i = 0; i < ctx->njobs; i++)
		if (strcmp(ctx->jobs[i]->name, name) == 0) {
			job = ctx->jobs[i];
			if (ofs_buf_addf(&who, "%s%s", n++ ? ", " : "", job->customer) != 0)
				break;
		}
	if (n == 0)
		*ret = dc_api_error(c, 404, "ResourceNotFound", "job '%.40s' not found", name);
	else if (n > 1)
		*ret = dc_api_error(c, 409, "AmbiguousJobName", "customers %.*s each have a job "
		    "'%s'; name the customer (--customer)", (int)who.len, (const char *)who.data,
		    name);
	ofs_buf_release(&who);
	return n == 1 ? job : NULL;
}

/* /admin/health, /admin/jobs/NAME[/ACTION], /admin/customers/C/jobs/NAME[/ACTION]. */
enum MHD_Result
dc_admin_request(struct dc_ctx *ctx, struct MHD_Connection *c, const char *method,
    char **seg, int n, struct dc_request *rq)
{
	const char *customer = NULL, *status, *action;
	struct dc_job *job;
	enum MHD_Result ret;
	struct ofs_error err;

	if (admin_authorize(ctx, c, rq, &ret) != 0)
		return ret;
	if (n == 2 && strcmp(seg[1], "health") == 0)
		return dc_reply(c, 200, json_pack("{s:s, s:s}", "status", "ok", "version",
		    OFS_VERSION), NULL);
	if (n >= 3 && strcmp(seg[1], "customers") == 0) {
		customer = seg[2];
		seg += 2;
		n -= 2;
	}
	if (n < 3 || strcmp(seg[1], "jobs") != 0 || n > 4)
		return dc_api_error(c, 404, "NotFound", "no such admin endpoint");
	action = n == 4 ? seg[3] : NULL;
	pthread_mutex_lock(&ctx->mu);
	if ((job = admin_job(ctx, c, customer, seg[2], &ret)) == NULL)
		goto out;
	if (action == NULL) {
		if (strcmp(method, "GET") != 0)
			ret = dc_api_error(c, 405, "MethodNotAllowed", "use GET");
		else
			ret = dc_reply(c, 200, json_deep_copy(job->doc), NULL);
		goto out;
	}
	if (strcmp(method, "POST") != 0) {
		ret = dc_api_error(c, 405, "MethodNotAllowed", "use POST");
		goto out;
	}
	if (strcmp(action, "receive") == 0) {
		ret = admin_receive(ctx, c, job, rq);
	} else if (strcmp(action, "export") == 0) {
		ret = dc_admin_export(ctx, c, job, rq);
	} else if (strcmp(action, "close") == 0 && dc_job_is_export(job->doc)) {
		ret = dc_api_error(c, 409, "ExportJob", "job '%s' is an export job; it has no "
		    "disks to close", job->name);
	} else if (strcmp(action, "close") == 0) {
		if (close_job(ctx, job) != 0)
			ret = dc_api_error(c, 409, "InvalidJobState", "job '%s' is %s; only a job whose "
			    "disks were shipped can be closed", job->name,
			    dc_jstr(job->doc, "status"));
		else
			ret = dc_reply(c, 200, dc_admin_render(ctx, job), NULL);
	} else if (strcmp(action, "return") == 0) {
		close_job(ctx, job);
		status = dc_jstr(job->doc, "status");
		if (strcmp(status, "ShippedToCustomer") == 0) {
			ret = dc_reply(c, 200, dc_admin_render(ctx, job), NULL);
		} else if (dc_stage_final(status) && strcmp(status, "Cancelled") != 0) {
			dc_job_set_stage(job->doc, "ShippedToCustomer", dc_now_s());
			if (dc_save_job(ctx, job, &err) != 0)
				dc_log("cannot save job '%s': %s", job->name, err.msg);
			dc_log("customer '%s': job '%s': disks shipped back", job->customer,
			    job->name);
			ret = dc_reply(c, 200, dc_admin_render(ctx, job), NULL);
		} else if (job->worker) {
			ret = dc_api_error(c, 409, "CopyInProgress", "job '%s' is still copying; return "
			    "the disks when it has finished", job->name);
		} else {
			ret = dc_api_error(c, 409, "InvalidJobState", "job '%s' is %s; its disks are "
			    "not at the datacenter", job->name, status);
		}
	} else {
		ret = dc_api_error(c, 404, "NotFound", "no such admin action '%.40s'", action);
	}
out:
	pthread_mutex_unlock(&ctx->mu);
	return ret;
}
