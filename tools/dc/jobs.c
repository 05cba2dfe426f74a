/* offseed-dc job logic without I/O: request validation, the persisted job document, stage
 * transitions, the outcome of a copy, and the JobResource answers rendered from it. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dc.h"
#include "jobjson.h"
#include "util.h"

#define DISKS_MAX 64

int64_t
dc_jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

const char *
dc_jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
is_one_of(const char *s, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return 1;
	return 0;
}

int
dc_stage_final(const char *stage)
{
	static const char *const final[] = { "Completed", "CompletedWithErrors",
		"CompletedWithWarnings", "Failed_IssueDetectedAtAzureDC", "Cancelled",
		"ShippedToCustomer", NULL };

	return is_one_of(stage, final);
}

int
dc_stage_takes_disks(const char *stage)
{
	return dc_stage_cancellable(stage) || strcmp(stage, "AtAzureDC") == 0 ||
	    strcmp(stage, "DataCopy") == 0;
}

int
dc_stage_cancellable(const char *stage)
{
	return strcmp(stage, "Created") == 0 || strcmp(stage, "ShippedToAzureDC") == 0;
}

static int
disk_status_final(const char *s)
{
	static const char *const final[] = { "Completed", "CompletedWithErrors", "Failed",
		"DriveNotReceived", "DriveCorrupted", "MetadataFilesModifiedOrRemoved", NULL };

	return is_one_of(s, final);
}

int
dc_fail(char *msg, size_t msgsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msgsz, fmt, ap);
	va_end(ap);
	return -1;
}

/* A printable string of 1..max bytes (ofs_text_check: no NUL, no C0 control or DEL). */
static int
text_ok(json_t *v, size_t max)
{
	return json_is_string(v) && ofs_text_check(json_string_value(v), json_string_length(v),
	    max, OFS_TEXT_NONEMPTY) == OFS_TEXT_OK;
}

static int
need_text(json_t *o, const char *key, size_t max, const char *where, char *msg, size_t msgsz)
{
	if (!text_ok(json_object_get(o, key), max))
		return dc_fail(msg, msgsz, "%s%s is required: a string of 1 to %zu printable "
		    "characters", where, key, max);
	return 0;
}

int
dc_need_value(json_t *o, const char *key, const char *want, const char *where, char *msg,
    size_t msgsz)
{
	const char *v = dc_jstr(o, key);

	if (v == NULL || strcmp(v, want) != 0)
		return dc_fail(msg, msgsz, "%s%s must be \"%s\"", where, key, want);
	return 0;
}

static json_t *
need_obj(json_t *o, const char *key, const char *where, char *msg, size_t msgsz)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_object(v)) {
		dc_fail(msg, msgsz, "%s%s is required and must be an object", where, key);
		return NULL;
	}
	return v;
}

int
dc_job_name_ok(const char *name)
{
	if (!ofs_job_name_ok(name) || !isalnum((unsigned char)name[0]))
		return 0;
	/* A job file is NAME.json: no hidden file, nothing the temp-file cleanup matches. */
	return strcasestr(name, ".tmp") == NULL;
}

int
dc_customer_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 32 || !isalnum((unsigned char)s[0]))
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
	return 1;
}

int
dc_serial_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-' && *s != ':')
			return 0;
	return 1;
}

/* A relative '/'-separated path without empty, "." or ".." parts, backslashes or control
 * characters. */
static int
relpath_ok(const char *p)
{
	const char *s = p, *e;

	if (*p == '\0' || *p == '/' || strlen(p) > 255)
		return 0;
	for (;;) {
		e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		if (e == NULL)
			break;
		s = e + 1;
	}
	return strchr(p, '\\') == NULL &&
	    ofs_text_check(p, strlen(p), SIZE_MAX, 0) == OFS_TEXT_OK;
}

/* contactDetails and returnToCustomerPackageDetails (required: import; export: optional). */
static int
validate_contact(json_t *details, int need_return, char *msg, size_t msgsz)
{
	json_t *o, *arr, *v;
	size_t i;

	if ((o = need_obj(details, "contactDetails", "properties.details.", msg, msgsz)) == NULL ||
	    need_text(o, "contactName", 256, "properties.details.contactDetails.", msg,
	    msgsz) != 0 ||
	    need_text(o, "phone", 64, "properties.details.contactDetails.", msg, msgsz) != 0)
		return -1;
	arr = json_object_get(o, "emailList");
	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 16)
		return dc_fail(msg, msgsz, "properties.details.contactDetails.emailList must be an "
		    "array of 1 to 16 addresses");
	json_array_foreach(arr, i, v)
		if (!text_ok(v, 256) || strchr(json_string_value(v), '@') == NULL)
			return dc_fail(msg, msgsz, "properties.details.contactDetails.emailList[%zu] "
			    "is not an e-mail address", i);
	if (!need_return && json_object_get(details, "returnToCustomerPackageDetails") == NULL)
		return 0;
	if ((o = need_obj(details, "returnToCustomerPackageDetails", "properties.details.", msg,
	    msgsz)) == NULL ||
	    need_text(o, "carrierName", 64, "properties.details.returnToCustomerPackageDetails.",
	    msg, msgsz) != 0 ||
	    need_text(o, "carrierAccountNumber", 64,
	    "properties.details.returnToCustomerPackageDetails.", msg, msgsz) != 0)
		return -1;
	return 0;
}

static int
validate_import(json_t *details, char *msg, size_t msgsz)
{
	json_t *o, *arr, *v;
	const char *serial, *h;

	if (validate_contact(details, 1, msg, msgsz) != 0)
		return -1;
	arr = json_object_get(details, "dataImportDetails");
	if (!json_is_array(arr) || json_array_size(arr) != 1)
		return dc_fail(msg, msgsz, "properties.details.dataImportDetails must be an array "
		    "of one storage account");
	o = json_object_get(json_array_get(arr, 0), "accountDetails");
	if (!json_is_object(o))
		return dc_fail(msg, msgsz, "properties.details.dataImportDetails[0].accountDetails "
		    "is required");
	if (dc_need_value(o, "dataAccountType", "StorageAccount",
	    "properties.details.dataImportDetails[0].accountDetails.", msg, msgsz) != 0 ||
	    need_text(o, "storageAccountId", 1024,
	    "properties.details.dataImportDetails[0].accountDetails.", msg, msgsz) != 0)
		return -1;
	if ((o = need_obj(details, "importDiskDetailsCollection", "properties.details.", msg,
	    msgsz)) == NULL)
		return -1;
	if (json_object_size(o) == 0 || json_object_size(o) > DISKS_MAX)
		return dc_fail(msg, msgsz, "properties.details.importDiskDetailsCollection must "
		    "list 1 to %d disks", DISKS_MAX);
	json_object_foreach(o, serial, v) {
		if (!dc_serial_ok(serial))
			return dc_fail(msg, msgsz, "disk serial '%.64s' is invalid (1 to 64 of "
			    "A-Z a-z 0-9 . _ - :)", serial);
		if (!json_is_object(v))
			return dc_fail(msg, msgsz, "importDiskDetailsCollection.%s must be an object",
			    serial);
		if (!text_ok(json_object_get(v, "manifestFile"), 255) ||
		    !relpath_ok(dc_jstr(v, "manifestFile")))
			return dc_fail(msg, msgsz, "importDiskDetailsCollection.%s.manifestFile must "
			    "be a relative path on the disk", serial);
		h = dc_jstr(v, "manifestHash");
		if (h == NULL || strlen(h) != 64 || strspn(h, "0123456789abcdefABCDEF") != 64)
			return dc_fail(msg, msgsz, "importDiskDetailsCollection.%s.manifestHash must "
			    "be the SHA-256 of the manifest (64 hex digits)", serial);
	}
	return 0;
}

int
dc_job_validate(json_t *body, char *msg, size_t msgsz)
{
	json_t *props, *sku, *details;
	const char *tt;

	if (!json_is_object(body))
		return dc_fail(msg, msgsz, "the request body must be a JSON object");
	if (need_text(body, "location", 64, "", msg, msgsz) != 0 ||
	    (sku = need_obj(body, "sku", "", msg, msgsz)) == NULL ||
	    dc_need_value(sku, "name", "DataBoxCustomerDisk", "sku.", msg, msgsz) != 0 ||
	    (props = need_obj(body, "properties", "", msg, msgsz)) == NULL)
		return -1;
	tt = dc_jstr(props, "transferType");
	if (tt == NULL || (strcmp(tt, "ImportToAzure") != 0 && strcmp(tt, "ExportFromAzure") != 0))
		return dc_fail(msg, msgsz, "properties.transferType must be \"ImportToAzure\" or "
		    "\"ExportFromAzure\"");
	if ((details = need_obj(props, "details", "properties.", msg, msgsz)) == NULL ||
	    dc_need_value(details, "jobDetailsType", "DataBoxCustomerDisk", "properties.details.",
	    msg, msgsz) != 0)
		return -1;
	if (strcmp(tt, "ImportToAzure") == 0)
		return validate_import(details, msg, msgsz);
	if (validate_contact(details, 0, msg, msgsz) != 0)
		return -1;
	return dc_export_validate(details, msg, msgsz);
}

int
dc_job_is_export(json_t *doc)
{
	const char *tt = dc_jstr(json_object_get(json_object_get(doc, "request"), "properties"),
	    "transferType");

	return tt != NULL && strcmp(tt, "ExportFromAzure") == 0;
}

static const char *
stage_status_of(const char *stage)
{
	if (strcmp(stage, "Completed") == 0 || strcmp(stage, "ShippedToCustomer") == 0)
		return "Succeeded";
	if (strcmp(stage, "CompletedWithErrors") == 0)
		return "SucceededWithErrors";
	if (strcmp(stage, "CompletedWithWarnings") == 0)
		return "SucceededWithWarnings";
	if (strcmp(stage, "Cancelled") == 0)
		return "Cancelled";
	if (strncmp(stage, "Failed", 6) == 0)
		return "Failed";
	return "InProgress";
}

void
dc_job_set_stage(json_t *doc, const char *stage, int64_t now)
{
	json_t *stages = json_object_get(doc, "stages"), *last;
	char t[32];

	ofs_fmt_time(now, t, sizeof(t));
	last = json_array_get(stages, json_array_size(stages) - 1);
	if (last != NULL && strcmp(dc_jstr(last, "stageStatus") ? dc_jstr(last, "stageStatus") :
	    "", "InProgress") == 0)
		json_object_set_new(last, "stageStatus", json_string("Succeeded"));
	json_array_append_new(stages, json_pack("{s:s, s:s, s:s}", "stageName", stage,
	    "stageStatus", stage_status_of(stage), "stageTime", t));
	json_object_set_new(doc, "status", json_string(stage));
}

json_t *
dc_job_new(const char *name, json_t *body, int64_t now)
{
	json_t *doc, *disks, *coll, *v;
	const char *serial;
	uint8_t op[16];
	char ophex[33], t[32];

	ofs_random(op, sizeof(op));
	ofs_hex(op, sizeof(op), ophex);
	ofs_fmt_time(now, t, sizeof(t));
	disks = json_object();
	coll = json_object_get(json_object_get(json_object_get(body, "properties"), "details"),
	    "importDiskDetailsCollection");
	json_object_foreach(coll, serial, v)
		json_object_set_new(disks, serial, json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, "
		    "s:i, s:{}, s:{}}", "copyStatus", "NotStarted", "phase", "waiting",
		    "bytesProcessed", 0, "totalBytesToProcess", 0, "filesProcessed", 0,
		    "totalFilesToProcess", 0, "filesErroredOut", 0, "warnings", 0, "errors",
		    "imported"));
	/* A deep copy of the request: later changes to body do not leak in. */
	doc = json_pack("{s:s, s:i, s:s, s:o, s:s, s:s, s:[], s:s, s:b, s:o}", "format",
	    "offseed-dc-job", "version", 1, "name", name, "request", json_deep_copy(body),
	    "created", t, "status", "Created", "stages", "operation", ophex, "closed", 0,
	    "disks", disks);
	json_array_append_new(json_object_get(doc, "stages"), json_pack("{s:s, s:s, s:s}",
	    "stageName", "Created", "stageStatus", "InProgress", "stageTime", t));
	if (dc_job_is_export(doc)) {
		char hex[65];

		/* answers carry the list's count and digest (it may hold a million paths) */
		ofs_export_list_digest(dc_export_paths(doc), hex);
		json_object_set_new(doc, "export", json_pack("{s:s, s:I, s:s}", "state", "idle",
		    "pathCount", (json_int_t)json_array_size(dc_export_paths(doc)), "pathSha256",
		    hex));
	}
	return doc;
}

const char *
dc_job_customer(json_t *doc)
{
	const char *c = dc_jstr(doc, "customer");

	return c != NULL ? c : DC_DEFAULT_CUSTOMER;
}

int
dc_job_doc_check(json_t *doc, char *msg, size_t msgsz)
{
	static const char *const phases[] = { "waiting", "received", "checked", "done", NULL };
	static const char *const at_dock[] = { "received", "checked", NULL };
	json_t *disks, *d, *req, *coll;
	const char *serial;

	if (!json_is_object(doc) || strcmp(dc_jstr(doc, "format") ? dc_jstr(doc, "format") : "",
	    "offseed-dc-job") != 0)
		return dc_fail(msg, msgsz, "not an offseed-dc job document");
	if (dc_jint(doc, "version") != 1)
		return dc_fail(msg, msgsz, "job document version %lld is not supported",
		    (long long)dc_jint(doc, "version"));
	req = json_object_get(doc, "request");
	if (dc_jstr(doc, "name") == NULL || dc_jstr(doc, "status") == NULL ||
	    dc_jstr(doc, "operation") == NULL || dc_jstr(doc, "created") == NULL ||
	    !json_is_array(json_object_get(doc, "stages")) ||
	    dc_job_validate(req, msg, msgsz) != 0)
		return dc_fail(msg, msgsz, "the job document is damaged (a required field is missing)");
	if (json_object_get(doc, "customer") != NULL && (dc_jstr(doc, "customer") == NULL ||
	    !dc_customer_name_ok(dc_jstr(doc, "customer"))))
		return dc_fail(msg, msgsz, "the job document names no valid customer");
	disks = json_object_get(doc, "disks");
	if (!json_is_object(disks))
		return dc_fail(msg, msgsz, "the job document has no disks");
	if (dc_job_is_export(doc) && dc_export_doc_check(doc, msg, msgsz) != 0)
		return -1;
	coll = json_object_get(json_object_get(json_object_get(req, "properties"), "details"),
	    "importDiskDetailsCollection");
	json_object_foreach(disks, serial, d) {
		if (!dc_serial_ok(serial))
			return dc_fail(msg, msgsz, "the job document names a disk with an invalid "
			    "serial");
		/* the copy worker reads each import disk's manifest name from the request */
		if (!dc_job_is_export(doc) && !json_is_object(json_object_get(coll, serial)))
			return dc_fail(msg, msgsz, "disk '%s' of the job document is not in its "
			    "request", serial);
		if (!json_is_object(d) || dc_jstr(d, "copyStatus") == NULL ||
		    dc_jstr(d, "phase") == NULL || !json_is_object(json_object_get(d, "errors")) ||
		    !json_is_object(json_object_get(d, "imported")))
			return dc_fail(msg, msgsz, "disk '%s' of the job document is damaged", serial);
		if (!is_one_of(dc_jstr(d, "phase"), phases))
			return dc_fail(msg, msgsz, "disk '%s' has an unknown phase", serial);
		if (is_one_of(dc_jstr(d, "phase"), at_dock) && dc_jstr(d, "dock") == NULL)
			return dc_fail(msg, msgsz, "disk '%s' was received but its path is missing",
			    serial);
	}
	return 0;
}

json_t *
dc_job_disk(json_t *doc, const char *serial)
{
	return json_object_get(json_object_get(doc, "disks"), serial);
}

void
dc_job_close(json_t *doc)
{
	const char *serial;
	json_t *d;

	json_object_set_new(doc, "closed", json_true());
	json_object_foreach(json_object_get(doc, "disks"), serial, d)
		if (strcmp(dc_jstr(d, "phase"), "waiting") == 0) {
			json_object_set_new(d, "phase", json_string("done"));
			json_object_set_new(d, "copyStatus", json_string("DriveNotReceived"));
		}
}

int
dc_job_needs_worker(json_t *doc)
{
	const char *serial, *ph;
	json_t *d;

	if (dc_job_is_export(doc))
		return dc_export_needs_worker(doc);
	json_object_foreach(json_object_get(doc, "disks"), serial, d) {
		ph = dc_jstr(d, "phase");
		if (strcmp(ph, "received") == 0 || strcmp(ph, "checked") == 0)
			return 1;
	}
	return 0;
}

const char *
dc_job_outcome(json_t *doc)
{
	size_t n = 0, ok = 0, partial = 0;
	int64_t warnings = 0;
	const char *serial, *s;
	json_t *d;

	if (dc_job_is_export(doc))
		return dc_export_outcome(doc);
	json_object_foreach(json_object_get(doc, "disks"), serial, d) {
		s = dc_jstr(d, "copyStatus");
		if (!disk_status_final(s) || strcmp(dc_jstr(d, "phase"), "done") != 0)
			return NULL;
		n++;
		if (strcmp(s, "Completed") == 0)
			ok++;
		else if (strcmp(s, "CompletedWithErrors") == 0)
			partial++;
		warnings += dc_jint(d, "warnings");
	}
	if (ok == n)
		return warnings > 0 ? "CompletedWithWarnings" : "Completed";
	if (ok + partial == 0)
		return "Failed_IssueDetectedAtAzureDC";
	return "CompletedWithErrors";
}

/* Remove write-only secrets (Azure never returns them) from a copy of the request. */
static void
strip_secrets(json_t *v)
{
	static const char *const keys[] = { "carrierAccountNumber", "bitLockerKey",
		"sharePassword", NULL };
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_object(v)) {
		for (i = 0; keys[i] != NULL; i++)
			json_object_del(v, keys[i]);
		json_object_foreach(v, k, e)
			strip_secrets(e);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			strip_secrets(e);
	}
}

static const char *const counters[] = { "bytesProcessed", "totalBytesToProcess",
	"filesProcessed", "totalFilesToProcess", "filesErroredOut", NULL };

json_t *
dc_job_render(json_t *doc, const struct dc_service *s, int expand)
{
	return dc_job_render_in(doc, s->subscription, s->resource_group, expand);
}

json_t *
dc_job_render_in(json_t *doc, const char *sub, const char *rg, int expand)
{
	json_t *req = json_object_get(doc, "request"), *props, *details, *out, *v, *d;
	json_t *progress, *logs, *acct;
	const char *name = dc_jstr(doc, "name"), *status = dc_jstr(doc, "status"), *k, *serial;
	int export = dc_job_is_export(doc);
	char *id;

	id = ofs_xasprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.DataBox/"
	    "jobs/%s", sub, rg, name);
	out = json_pack("{s:s, s:s, s:s}", "id", id, "name", name, "type",
	    "Microsoft.DataBox/jobs");
	free(id);
	json_object_foreach(req, k, v)
		if (strcmp(k, "properties") != 0 && strcmp(k, "id") != 0 &&
		    strcmp(k, "name") != 0 && strcmp(k, "type") != 0)
			json_object_set(out, k, v);
	props = json_object();
	json_object_foreach(json_object_get(req, "properties"), k, v)
		if (strcmp(k, "details") != 0)
			json_object_set(props, k, v);
	json_object_set_new(props, "status", json_string(status));
	json_object_set_new(props, "startTime", json_string(dc_jstr(doc, "created")));
	json_object_set_new(props, "isCancellable", json_boolean(dc_stage_cancellable(status)));
	json_object_set_new(props, "isDeletable", json_boolean(dc_stage_final(status)));
	json_object_set_new(props, "isShippingAddressEditable", json_false());
	json_object_set_new(props, "isPrepareToShipEnabled", json_false());
	if (dc_jstr(doc, "cancellationReason") != NULL)
		json_object_set(props, "cancellationReason",
		    json_object_get(doc, "cancellationReason"));
	if (json_is_object(json_object_get(doc, "error")))
		json_object_set(props, "error", json_object_get(doc, "error"));
	else if (strcmp(status, "Failed_IssueDetectedAtAzureDC") == 0)
		json_object_set_new(props, "error", json_pack("{s:s, s:s}", "code",
		    "DataCopyFailed", "message", "no disk of the job could be imported; see the "
		    "copy logs"));
	if (expand) {
		details = export ? dc_export_details_copy(doc) :
		    json_deep_copy(json_object_get(json_object_get(req, "properties"), "details"));
		strip_secrets(details);
		json_object_set(details, "jobStages", json_object_get(doc, "stages"));
		if ((v = json_object_get(doc, "deliverToDc")) != NULL)
			json_object_set(details, "deliverToDcPackageDetails", v);
		acct = json_object_get(json_array_get(json_object_get(details, export ?
		    "dataExportDetails" : "dataImportDetails"), 0), "accountDetails");
		progress = json_array();
		logs = json_array();
		json_object_foreach(json_object_get(doc, "disks"), serial, d) {
			json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "serialNumber", serial,
			    "copyStatus", dc_jstr(d, "copyStatus"), "transferType", export ?
			    "ExportFromAzure" : "ImportToAzure",
			    "dataAccountType", "StorageAccount", "accountId",
			    dc_jstr(acct, "storageAccountId"));

			for (size_t i = 0; counters[i] != NULL; i++)
				json_object_set_new(p, counters[i],
				    json_integer(dc_jint(d, counters[i])));
			json_object_set_new(p, "directoriesErroredOut", json_integer(0));
			json_object_set_new(p, "invalidFilesProcessed", json_integer(0));
			json_object_set_new(p, "invalidFileBytesUploaded", json_integer(0));
			json_object_set_new(p, "renamedContainerCount", json_integer(0));
			json_object_set_new(p, "isEnumerationInProgress", json_boolean(
			    strcmp(dc_jstr(d, "phase"), "received") == 0));
			json_array_append_new(progress, p);
			if (dc_jstr(d, "errorLogLink") != NULL)
				json_array_append_new(logs, json_pack("{s:s, s:s, s:s, s:s}",
				    "copyLogDetailsType", "DataBoxCustomerDisk", "serialNumber", serial,
				    "errorLogLink", dc_jstr(d, "errorLogLink"), "verboseLogLink",
				    dc_jstr(d, "verboseLogLink")));
		}
		json_object_set_new(details, "copyProgress", progress);
		json_object_set_new(details, "copyLogDetails", logs);
		if (export)
			dc_export_render(doc, details);
		json_object_set_new(props, "details", details);
	}
	json_object_set_new(out, "properties", props);
	return out;
}
