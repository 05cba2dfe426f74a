/* offseed-dc serve's export endpoint (the dock, operator only): POST
 * /admin/[customers/C/]jobs/NAME/export {"disks":{SERIAL:"/abs/folder"}} attaches empty
 * disks to an export job, looks at every listed blob of the job's own storage account,
 * decides the whole placement and starts the export worker, or answers 507 when the disks
 * are too small (nothing written). */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "dc.h"
#include "serve_int.h"
#include "util.h"

#define EXPORT_DISKS_MAX 64

/* Record a refusal in the job (ctx->mu held): properties.error, AtAzureDC. */
static void
record_error(struct dc_ctx *ctx, struct dc_job *job, const char *code, const char *msg)
{
	const char *status = dc_jstr(job->doc, "status");
	struct ofs_error err;

	json_object_set_new(job->doc, "error", json_pack("{s:s, s:s}", "code", code, "message",
	    msg));
	if (strcmp(status, "Created") == 0 || strcmp(status, "ShippedToAzureDC") == 0)
		dc_job_set_stage(job->doc, "AtAzureDC", dc_now_s());
	if (dc_save_job(ctx, job, &err) != 0)
		dc_log("cannot save job '%s': %s", job->name, err.msg);
}

/* The disks of the request, checked: serials, folders, at most EXPORT_DISKS_MAX, no
 * folder twice. 0, or -1 with the answer queued. */
static int
take_disks(struct dc_ctx *ctx, struct MHD_Connection *c, json_t *disks, struct dc_xplan *p,
    enum MHD_Result *ret)
{
	const char *serial;
	char real[PATH_MAX];
	json_t *v;
	size_t k = 0;

	if (!json_is_object(disks) || json_object_size(disks) == 0 ||
	    json_object_size(disks) > EXPORT_DISKS_MAX) {
		*ret = dc_api_error(c, 400, "InvalidRequestContent", "{\"disks\":{SERIAL:PATH,…}} "
		    "with 1 to %d disks is required", EXPORT_DISKS_MAX);
		return -1;
	}
	p->serials = ofs_xcalloc(json_object_size(disks) + 1, sizeof(char *));
	p->docks = ofs_xcalloc(json_object_size(disks) + 1, sizeof(char *));
	json_object_foreach(disks, serial, v) {
		if (!dc_serial_ok(serial)) {
			*ret = dc_api_error(c, 400, "InvalidDiskSerial", "disk serial '%.64s' is "
			    "invalid (1 to 64 of A-Z a-z 0-9 . _ - :)", serial);
			return -1;
		}
		if (dc_dock_path(ctx, c, serial, json_string_value(v), real, ret) != 0)
			return -1;
		for (size_t j = 0; j < k; j++)
			if (strcmp(p->docks[j], real) == 0) {
				*ret = dc_api_error(c, 400, "InvalidDiskPath", "disks '%s' and '%s' are "
				    "the same folder '%.200s'", p->serials[j], serial, real);
				return -1;
			}
		p->serials[k] = ofs_xstrdup(serial);
		p->docks[k] = ofs_xstrdup(real);
		p->ndisks = ++k;
	}
	return 0;
}

enum MHD_Result
dc_admin_export(struct dc_ctx *ctx, struct MHD_Connection *c, struct dc_job *job,
    struct dc_request *rq)
{
	json_t *body = dc_parse_body(rq), *paths, *v;
	const char *status = dc_jstr(job->doc, "status");
	struct dc_xplan p;
	struct ofs_error err;
	enum MHD_Result ret;
	char code[64], msg[1024];
	unsigned st;
	size_t i;

	memset(&p, 0, sizeof(p));
	if (!dc_job_is_export(job->doc)) {
		ret = dc_api_error(c, 409, "NotAnExportJob", "job '%s' is an import job: receive "
		    "its disks with 'offseed-dc receive'", job->name);
		goto out;
	}
	if (!dc_stage_takes_disks(status)) {
		ret = dc_api_error(c, 409, "InvalidJobState", "job '%s' is %s; it takes no disks",
		    job->name, status);
		goto out;
	}
	if (job->worker || job->planning) {
		ret = dc_api_error(c, 409, "ExportInProgress", "job '%s' is being exported; wait "
		    "for it to finish or fail", job->name);
		goto out;
	}
	if (take_disks(ctx, c, json_object_get(body, "disks"), &p, &ret) != 0)
		goto out;
	if ((p.account = dc_account_of_id(dc_export_account_id(job->doc))) == NULL ||
	    !dc_store_serves(ctx->store, p.account)) {
		ret = dc_api_error(c, 409, "StorageAccountNotServed", "the storage account of job "
		    "'%s' is not served here", job->name);
		goto out;
	}
	/* A copy of the list: the blobs are looked at without the lock. */
	paths = dc_export_paths(job->doc);
	p.n = json_array_size(paths);
	p.base_len = dc_export_base_len(job->doc);
	p.paths = ofs_xcalloc(p.n + 1, sizeof(char *));
	json_array_foreach(paths, i, v)
		p.paths[i] = ofs_xstrdup(json_string_value(v));
	job->planning = 1;
	pthread_mutex_unlock(&ctx->mu);
	st = dc_export_plan(ctx, &p, code, sizeof(code), msg, sizeof(msg));
	pthread_mutex_lock(&ctx->mu);
	job->planning = 0;
	if (st != 0) {
		if (st == 507 || st == 409)
			record_error(ctx, job, code, msg);
		dc_log("customer '%s': job '%s': export refused: %s", job->customer, job->name, msg);
		ret = dc_api_error(c, st, code, "%s", msg);
		goto out;
	}
	status = dc_jstr(job->doc, "status");
	if (!dc_stage_takes_disks(status)) {
		ret = dc_api_error(c, 409, "InvalidJobState", "job '%s' became %s meanwhile",
		    job->name, status);
		goto out;
	}
	if (strcmp(status, "Created") == 0 || strcmp(status, "ShippedToAzureDC") == 0)
		dc_job_set_stage(job->doc, "AtAzureDC", dc_now_s());
	dc_export_record(job, &p, dc_now_s());
	if (dc_save_job(ctx, job, &err) != 0) {
		dc_log("cannot save job '%s': %s", job->name, err.msg);
		ret = dc_api_error(c, 500, "InternalServerError", "the job could not be stored");
		goto out;
	}
	dc_log("customer '%s': job '%s': export of %zu blob(s) to %zu disk(s) planned",
	    job->customer, job->name, p.n, p.ndisks);
	dc_kick_job(ctx, job);
	ret = dc_reply(c, 200, dc_admin_render(ctx, job), NULL);
out:
	dc_xplan_release(&p);
	json_decref(body);
	return ret;
}
