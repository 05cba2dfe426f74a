/* offseed-dc serve's jobs API (Microsoft.DataBox jobs): create, read, list, mark shipped,
 * cancel and delete jobs, and the status of their creation. Every call is a customer's,
 * authorized by its bearer token, on its own jobs only; another customer's subscription,
 * resource group or job is not found, exactly like one that does not exist. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "dc.h"
#include "serve_int.h"
#include "util.h"

static char *
jobs_base(struct dc_ctx *ctx, struct MHD_Connection *c, const struct dc_customer *cu)
{
	char *base = dc_request_base(ctx, c), *url;

	url = ofs_xasprintf("%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.DataBox",
	    base, cu->subscription, cu->resource_group);
	free(base);
	return url;
}

static json_t *
render(json_t *doc, const struct dc_customer *cu, int expand)
{
	return dc_job_render_in(doc, cu->subscription, cu->resource_group, expand);
}

/* The job must import into the caller's own account, one the storage holds: the copy
 * worker imports into the account the job names. 0 or -1 with the answer queued. */
static int
check_account(struct dc_ctx *ctx, struct MHD_Connection *c, const struct dc_customer *cu,
    json_t *body, enum MHD_Result *ret)
{
	const char *field = strcmp(dc_jstr(json_object_get(body, "properties"), "transferType"),
	    "ExportFromAzure") == 0 ? "dataExportDetails" : "dataImportDetails";
	json_t *acct = json_object_get(json_array_get(json_object_get(json_object_get(
	    json_object_get(body, "properties"), "details"), field), 0), "accountDetails");
	char *name = dc_account_of_id(dc_jstr(acct, "storageAccountId"));
	int r = 0;

	if (name == NULL || strcmp(name, cu->account) != 0) {
		*ret = dc_api_error(c, 400, "InvalidRequestContent", "properties.details."
		    "%s[0].accountDetails.storageAccountId must name your storage "
		    "account: /subscriptions/%s/resourceGroups/%s/providers/Microsoft.Storage/"
		    "storageAccounts/%s", field, cu->subscription, cu->resource_group, cu->account);
		r = -1;
	} else if (!dc_store_serves(ctx->store, name)) {
		dc_log("customer '%s': its storage account '%s' is not in %s", cu->name, name,
		    dc_store_location(ctx->store));
		*ret = dc_api_error(c, 400, "InvalidRequestContent", "storage account '%s' is not "
		    "served by this datacenter", name);
		r = -1;
	}
	free(name);
	return r;
}

static enum MHD_Result
job_put(struct dc_ctx *ctx, struct MHD_Connection *c, const struct dc_customer *cu,
    const char *name, struct dc_request *rq)
{
	char msg[512], *op_url = NULL, *base;
	json_t *body = NULL, *doc, *out;
	struct dc_job *job;
	struct ofs_error err;
	enum MHD_Result ret;

	if (!dc_job_name_ok(name)) {
		ret = dc_api_error(c, 400, "InvalidResourceName", "job name '%.40s' is invalid: 3 to "
		    "24 characters of letters, digits, '-', '_' and '.', starting with a letter or "
		    "digit, without \".tmp\"", name);
		goto out;
	}
	body = dc_parse_body(rq);
	/* Only an export job's blob list may make a body larger than DC_BODY_MAX. */
	if (rq->body.len > DC_BODY_MAX && (body == NULL ||
	    dc_jstr(json_object_get(body, "properties"), "transferType") == NULL ||
	    strcmp(dc_jstr(json_object_get(body, "properties"), "transferType"),
	    "ExportFromAzure") != 0)) {
		ret = dc_api_error(c, 413, "RequestEntityTooLarge", "the request body is larger "
		    "than %u bytes (only export jobs may be larger)", DC_BODY_MAX);
		goto out;
	}
	if (body == NULL) {
		ret = dc_api_error(c, 400, "InvalidRequestContent", "the request body is not a JSON "
		    "object");
		goto out;
	}
	if (dc_job_validate(body, msg, sizeof(msg)) != 0) {
		ret = dc_api_error(c, 400, "InvalidRequestContent", "%s", msg);
		goto out;
	}
	if (check_account(ctx, c, cu, body, &ret) != 0)
		goto out;
	pthread_mutex_lock(&ctx->mu);
	if ((job = dc_find_job(ctx, cu->name, name)) != NULL) {
		if (json_equal(json_object_get(job->doc, "request"), body))
			ret = dc_reply(c, 200, render(job->doc, cu, 1), NULL);
		else
			ret = dc_api_error(c, 409, "Conflict", "a job named '%s' already exists with "
			    "other details; choose another name", name);
		pthread_mutex_unlock(&ctx->mu);
		goto out;
	}
	doc = dc_job_new(name, body, dc_now_s());
	json_object_set_new(doc, "customer", json_string(cu->name));
	job = dc_add_job(ctx, cu->name, name, doc);
	if (dc_save_job(ctx, job, &err) != 0) {
		dc_drop_job(ctx, job);
		pthread_mutex_unlock(&ctx->mu);
		dc_log("cannot save job '%s': %s", name, err.msg);
		ret = dc_api_error(c, 500, "InternalServerError", "the job could not be stored");
		goto out;
	}
	base = dc_request_base(ctx, c);
	op_url = ofs_xasprintf("%s/subscriptions/%s/providers/Microsoft.DataBox/locations/%s/"
	    "operationStatuses/%s?api-version=" DC_API_VERSION, base, cu->subscription,
	    ctx->svc.location, dc_jstr(doc, "operation"));
	free(base);
	out = render(doc, cu, 1);
	pthread_mutex_unlock(&ctx->mu);
	dc_log("customer '%s': job '%s' created", cu->name, name);
	{
		const char *hdrs[] = { "Azure-AsyncOperation", op_url, "Retry-After", DC_RETRY_AFTER,
			NULL };

		ret = dc_reply(c, 201, out, hdrs);
	}
out:
	json_decref(body);
	free(op_url);
	return ret;
}

static enum MHD_Result
job_get(struct dc_ctx *ctx, struct MHD_Connection *c, const struct dc_customer *cu,
    const char *name)
{
	const char *expand = dc_query(c, "$expand");
	struct dc_job *job;
	json_t *out;

	pthread_mutex_lock(&ctx->mu);
	if ((job = dc_find_job(ctx, cu->name, name)) == NULL) {
		pthread_mutex_unlock(&ctx->mu);
		return dc_api_error(c, 404, "ResourceNotFound", "job '%.40s' not found", name);
	}
	out = render(job->doc, cu, expand != NULL && strcasecmp(expand, "details") == 0);
	pthread_mutex_unlock(&ctx->mu);
	return dc_reply(c, 200, out, NULL);
}

static enum MHD_Result
job_list(struct dc_ctx *ctx, struct MHD_Connection *c, const struct dc_customer *cu)
{
	const char *skip = dc_query(c, "$skipToken");
	unsigned long long start = 0;
	json_t *value = json_array(), *out;
	struct dc_job **mine;
	char *end, *base, *next = NULL;
	size_t i, n = 0;

	if (skip != NULL) {
		errno = 0;
		start = strtoull(skip, &end, 10);
		if (errno != 0 || end == skip || *end != '\0') {
			json_decref(value);
			return dc_api_error(c, 400, "InvalidSkipToken", "$skipToken is not valid");
		}
	}
	pthread_mutex_lock(&ctx->mu);
	mine = ofs_xreallocarray(NULL, ctx->njobs + 1, sizeof(*mine));
	for (i = 0; i < ctx->njobs; i++)
		if (strcmp(ctx->jobs[i]->customer, cu->name) == 0)
			mine[n++] = ctx->jobs[i];
	if (n > 1)
		qsort(mine, n, sizeof(*mine), dc_job_cmp);
	for (i = start; i < n && i < start + ctx->page_size; i++)
		json_array_append_new(value, render(mine[i]->doc, cu, 0));
	if (i < n) {
		base = jobs_base(ctx, c, cu);
		next = ofs_xasprintf("%s/jobs?api-version=" DC_API_VERSION "&$skipToken=%zu", base,
		    i);
		free(base);
	}
	pthread_mutex_unlock(&ctx->mu);
	free(mine);
	out = json_pack("{s:o}", "value", value);
	if (next != NULL)
		json_object_set_new(out, "nextLink", json_string(next));
	free(next);
	return dc_reply(c, 200, out, NULL);
}

static enum MHD_Result
job_ship(struct dc_ctx *ctx, struct MHD_Connection *c, const struct dc_customer *cu,
    const char *name, struct dc_request *rq)
{
	json_t *body = dc_parse_body(rq), *pkg = json_object_get(body, "deliverToDcPackageDetails");
	const char *carrier = dc_jstr(pkg, "carrierName"), *tracking = dc_jstr(pkg, "trackingId");
	struct dc_job *job;
	const char *status;
	enum MHD_Result ret;

	if (!dc_printable(carrier, 64) || !dc_printable(tracking, 64)) {
		json_decref(body);
		return dc_api_error(c, 400, "InvalidRequestContent", "deliverToDcPackageDetails with "
		    "carrierName and trackingId (1 to 64 printable characters) is required");
	}
	pthread_mutex_lock(&ctx->mu);
	if ((job = dc_find_job(ctx, cu->name, name)) == NULL) {
		ret = dc_api_error(c, 404, "ResourceNotFound", "job '%.40s' not found", name);
		goto out;
	}
	status = dc_jstr(job->doc, "status");
	if (strcmp(status, "Created") != 0 && strcmp(status, "ShippedToAzureDC") != 0) {
		ret = dc_api_error(c, 409, "InvalidJobState", "job '%s' is %s; disks can be marked "
		    "shipped only while it is Created or ShippedToAzureDC", name, status);
		goto out;
	}
	json_object_set_new(job->doc, "deliverToDc", json_pack("{s:s, s:s}", "carrierName",
	    carrier, "trackingId", tracking));
	if (strcmp(status, "Created") == 0)
		dc_job_set_stage(job->doc, "ShippedToAzureDC", dc_now_s());
	{
		struct ofs_error err;

		if (dc_save_job(ctx, job, &err) != 0) {
			dc_log("cannot save job '%s': %s", name, err.msg);
			ret = dc_api_error(c, 500, "InternalServerError", "the job could not be stored");
			goto out;
		}
	}
	ret = dc_reply(c, 204, NULL, NULL);
out:
	pthread_mutex_unlock(&ctx->mu);
	json_decref(body);
	return ret;
}

static enum MHD_Result
job_cancel(struct dc_ctx *ctx, struct MHD_Connection *c, const struct dc_customer *cu,
    const char *name, struct dc_request *rq)
{
	json_t *body = dc_parse_body(rq);
	const char *reason = dc_jstr(body, "reason"), *status;
	struct dc_job *job;
	struct ofs_error err;
	enum MHD_Result ret;

	if (!dc_printable(reason, 512)) {
		json_decref(body);
		return dc_api_error(c, 400, "InvalidRequestContent", "a reason (1 to 512 printable "
		    "characters) is required");
	}
	pthread_mutex_lock(&ctx->mu);
	if ((job = dc_find_job(ctx, cu->name, name)) == NULL) {
		ret = dc_api_error(c, 404, "ResourceNotFound", "job '%.40s' not found", name);
		goto out;
	}
	status = dc_jstr(job->doc, "status");
	if (strcmp(status, "Cancelled") == 0) {
		ret = dc_reply(c, 204, NULL, NULL);
		goto out;
	}
	if (!dc_stage_cancellable(status)) {
		ret = dc_api_error(c, 409, "InvalidJobState", "job '%s' is %s; it can be cancelled "
		    "only before its disks reach the datacenter", name, status);
		goto out;
	}
	json_object_set_new(job->doc, "cancellationReason", json_string(reason));
	dc_job_set_stage(job->doc, "Cancelled", dc_now_s());
	if (dc_save_job(ctx, job, &err) != 0) {
		dc_log("cannot save job '%s': %s", name, err.msg);
		ret = dc_api_error(c, 500, "InternalServerError", "the job could not be stored");
		goto out;
	}
	dc_log("customer '%s': job '%s' cancelled", cu->name, name);
	ret = dc_reply(c, 204, NULL, NULL);
out:
	pthread_mutex_unlock(&ctx->mu);
	json_decref(body);
	return ret;
}

static enum MHD_Result
job_delete(struct dc_ctx *ctx, struct MHD_Connection *c, const struct dc_customer *cu,
    const char *name)
{
	struct dc_job *job;
	enum MHD_Result ret;
	const char *status;

	pthread_mutex_lock(&ctx->mu);
	if ((job = dc_find_job(ctx, cu->name, name)) == NULL) {
		ret = dc_reply(c, 204, NULL, NULL);
		goto out;
	}
	status = dc_jstr(job->doc, "status");
	if (!dc_stage_final(status) || job->worker) {
		ret = dc_api_error(c, 409, "InvalidJobState", "job '%s' is %s; only a finished, "
		    "cancelled or returned job can be deleted", name, status);
		goto out;
	}
	if (dc_unlink_job(ctx, job) != 0) {
		ret = dc_api_error(c, 500, "InternalServerError", "the job could not be removed");
		goto out;
	}
	dc_drop_job(ctx, job);
	dc_log("customer '%s': job '%s' deleted", cu->name, name);
	ret = dc_reply(c, 200, NULL, NULL);
out:
	pthread_mutex_unlock(&ctx->mu);
	return ret;
}

static enum MHD_Result
op_status(struct dc_ctx *ctx, struct MHD_Connection *c, const struct dc_customer *cu,
    const char *id)
{
	json_t *out = NULL;

	pthread_mutex_lock(&ctx->mu);
	for (size_t i = 0; i < ctx->njobs; i++) {
		json_t *doc = ctx->jobs[i]->doc;

		if (strcmp(ctx->jobs[i]->customer, cu->name) == 0 &&
		    strcmp(dc_jstr(doc, "operation"), id) == 0) {
			out = json_pack("{s:s, s:s, s:s, s:s}", "name", id, "status", "Succeeded",
			    "startTime", dc_jstr(doc, "created"), "endTime", dc_jstr(doc, "created"));
			break;
		}
	}
	pthread_mutex_unlock(&ctx->mu);
	if (out == NULL)
		return dc_api_error(c, 404, "OperationNotFound", "operation '%.64s' not found", id);
	return dc_reply(c, 200, out, NULL);
}

/* Bearer token check: 0 and *customer (owned) when fine, else the answer was queued. */
static int
authorize(struct dc_ctx *ctx, struct MHD_Connection *c, char **customer, enum MHD_Result *ret)
{
	static const char *const hdrs[] = { "WWW-Authenticate", "Bearer", NULL };
	const char *auth = dc_header(c, "Authorization");
	int r;

	*customer = NULL;
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0 || auth[7] == '\0') {
		*ret = dc_api_error_h(c, 401, hdrs, "AuthenticationFailed", "the request has no "
		    "'Authorization: Bearer' token");
		return -1;
	}
	r = dc_token_check(&ctx->svc, auth + 7, dc_now_s(), customer);
	if (r == -2) {
		*ret = dc_api_error_h(c, 401, hdrs, "ExpiredAuthenticationToken", "the access token "
		    "has expired; get a new one from the token endpoint");
		return -1;
	}
	if (r != 0) {
		*ret = dc_api_error_h(c, 401, hdrs, "InvalidAuthenticationToken", "the access token "
		    "is invalid");
		return -1;
	}
	return 0;
}

static enum MHD_Result
api_call(struct dc_ctx *ctx, struct MHD_Connection *c, const struct dc_customer *cu,
    const char *method, char **seg, int n, struct dc_request *rq)
{
	const char *apiv = dc_query(c, "api-version");
	enum MHD_Result ret;

	if (apiv == NULL)
		return dc_api_error(c, 400, "MissingApiVersionParameter", "the api-version query "
		    "parameter is required (supported: " DC_API_VERSION ")");
	if (strcmp(apiv, DC_API_VERSION) != 0)
		return dc_api_error(c, 400, "InvalidApiVersionParameter", "api-version '%.32s' is not "
		    "supported; the supported version is " DC_API_VERSION, apiv);
	/* Another customer's subscription is not found, exactly like one that does not exist. */
	if (n < 2 || strcasecmp(seg[1], cu->subscription) != 0)
		return dc_api_error(c, 404, "SubscriptionNotFound", "subscription '%.64s' not found",
		    n >= 2 ? seg[1] : "");
	/* /subscriptions/S/providers/Microsoft.DataBox/locations/L/operationStatuses/ID */
	if (n == 8 && strcasecmp(seg[2], "providers") == 0 &&
	    strcasecmp(seg[3], "Microsoft.DataBox") == 0 && strcasecmp(seg[4], "locations") == 0 &&
	    strcasecmp(seg[6], "operationStatuses") == 0) {
		if (strcmp(method, "GET") != 0)
			return dc_api_error(c, 405, "MethodNotAllowed", "use GET");
		return op_status(ctx, c, cu, seg[7]);
	}
	if (n < 7 || strcasecmp(seg[2], "resourceGroups") != 0 ||
	    strcasecmp(seg[4], "providers") != 0 || strcasecmp(seg[5], "Microsoft.DataBox") != 0 ||
	    strcasecmp(seg[6], "jobs") != 0 || n > 9)
		return dc_api_error(c, 404, "NotFound", "no such resource");
	if (strcasecmp(seg[3], cu->resource_group) != 0)
		return dc_api_error(c, 404, "ResourceGroupNotFound", "resource group '%.64s' not found",
		    seg[3]);
	if (dc_need_json(c, rq, &ret) != 0)
		return ret;
	if (n == 7) {
		if (strcmp(method, "GET") != 0)
			return dc_api_error(c, 405, "MethodNotAllowed", "use GET to list jobs");
		return job_list(ctx, c, cu);
	}
	if (n == 8) {
		if (strcmp(method, "PUT") == 0)
			return job_put(ctx, c, cu, seg[7], rq);
		if (strcmp(method, "GET") == 0)
			return job_get(ctx, c, cu, seg[7]);
		if (strcmp(method, "DELETE") == 0)
			return job_delete(ctx, c, cu, seg[7]);
		return dc_api_error(c, 405, "MethodNotAllowed", "use PUT, GET or DELETE");
	}
	if (strcmp(method, "POST") != 0)
		return dc_api_error(c, 405, "MethodNotAllowed", "use POST");
	if (strcasecmp(seg[8], "markDevicesShipped") == 0)
		return job_ship(ctx, c, cu, seg[7], rq);
	if (strcasecmp(seg[8], "cancel") == 0)
		return job_cancel(ctx, c, cu, seg[7], rq);
	return dc_api_error(c, 404, "NotFound", "no such action '%.40s'", seg[8]);
}

enum MHD_Result
dc_jobs_request(struct dc_ctx *ctx, struct MHD_Connection *c, const char *method,
    char **seg, int n, struct dc_request *rq)
{
	static const char *const hdrs[] = { "WWW-Authenticate", "Bearer", NULL };
	struct dc_customer cu;
	struct ofs_error err;
	enum MHD_Result ret;
	char *customer;

	if (authorize(ctx, c, &customer, &ret) != 0)
		return ret;
	if (dc_customer_load(&ctx->svc, customer, &cu, &err) != 0) {
		dc_log("client of customer '%s': %s", customer, err.msg);
		free(customer);
		return dc_api_error_h(c, 401, hdrs, "InvalidAuthenticationToken", "the access token "
		    "is invalid");
	}
	free(customer);
	ret = api_call(ctx, c, &cu, method, seg, n, rq);
	dc_customer_release(&cu);
	return ret;
}
