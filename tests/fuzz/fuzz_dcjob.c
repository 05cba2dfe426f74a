/* Fuzz target: offseed-dc's job bodies (a PUT from the network, checked by dc_job_validate,
 * then made a job document and rendered) and its persisted job documents (loaded from the
 * state folder, checked by dc_job_doc_check), with the invariants the workers rely on. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dc.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000

/* Stop with the reason, so a replay or a libFuzzer log names the broken invariant. */
static void
broken(const char *what, const char *msg)
{
	fprintf(stderr, "fuzz_dcjob: invariant broken: %s%s%s\n", what, msg ? ": " : "",
	    msg ? msg : "");
	abort();
}

/* A write-only secret anywhere under v (the rendered details must have none). */
static int
has_secret(json_t *v)
{
	static const char *const keys[] = { "carrierAccountNumber", "bitLockerKey",
		"sharePassword", NULL };
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_object(v)) {
		for (i = 0; keys[i] != NULL; i++)
			if (json_object_get(v, keys[i]) != NULL)
				return 1;
		json_object_foreach(v, k, e)
			if (has_secret(e))
				return 1;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			if (has_secret(e))
				return 1;
	}
	return 0;
}

/* "C/BLOB", the path an export writes beneath DISK/{Page,Block}Blob/: segments neither
 * empty, "." nor "..", no '\', no control character. */
static int
rel_ok(const char *cont, const char *blob)
{
	char *p = ofs_xasprintf("%s/%s", cont, blob);
	const char *s, *e;
	int ok = 1;

	for (s = p; ok; s = e + 1) {
		size_t k;

		e = strchr(s, '/');
		k = e ? (size_t)(e - s) : strlen(s);
		if (k == 0 || (k == 1 && s[0] == '.') || (k == 2 && s[0] == '.' && s[1] == '.'))
			ok = 0;
		if (e == NULL)
			break;
	}
	for (s = p; ok && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '\\')
			ok = 0;
	free(p);
	return ok;
}

/* An accepted export body's blobPathList: every entry splits into a container other than
 * the copy-log one and a blob name of at most 1024 bytes that stays beneath its folder;
 * one config; groups in order. */
static void
check_export_paths(json_t *doc)
{
	json_t *list = dc_export_paths(doc), *v;
	size_t base = dc_export_base_len(doc), i, nconfig = 0;
	int last = -1;

	if (!json_is_array(list) || json_array_size(list) == 0 || base == 0)
		broken("an accepted export has no blobPathList or no /C/P", NULL);
	if (dc_export_account_id(doc) == NULL)
		broken("an accepted export has no storageAccountId", NULL);
	json_array_foreach(list, i, v) {
		const char *e = json_string_value(v), *blob;
		char *cont;
		int g;

		if (e == NULL || strlen(e) != json_string_length(v))
			broken("an accepted blobPathList entry is not a plain string", NULL);
		if (dc_export_split(e, base, &cont, &blob, &g) != 0)
			broken("an accepted blobPathList entry does not split", e);
		if (strncmp(e, json_string_value(json_array_get(list, 0)), base) != 0)
			broken("accepted entries of two repositories", e);
		if (!dc_container_name_ok(cont) || strcmp(cont, DC_LOG_CONTAINER) == 0)
			broken("an accepted entry names a bad container", e);
		if (blob != e + 1 + strlen(cont) + 1 || strlen(blob) > 1024)
			broken("an accepted entry's blob name is wrong or too long", e);
		if (!rel_ok(cont, blob))
			broken("an accepted entry leaves its folder", e);
		if (g < last)
			broken("accepted entries out of group order", e);
		if (g == DC_EXPORT_CONFIG)
			nconfig++;
		last = g;
		free(cont);
	}
	if (nconfig != 1)
		broken("an accepted blobPathList without exactly one config", NULL);
}

/* Render both ways: an object with its id, status, and no secret in the details. */
static void
check_render(json_t *doc)
{
	for (int expand = 0; expand <= 1; expand++) {
		json_t *out = dc_job_render_in(doc, "sub", "rg", expand), *props, *det;
		char *text;

		if (!json_is_object(out) || dc_jstr(out, "id") == NULL)
			broken("a rendered job has no id", NULL);
		props = json_object_get(out, "properties");
		if (dc_jstr(props, "status") == NULL ||
		    strcmp(dc_jstr(props, "status"), dc_jstr(doc, "status")) != 0)
			broken("a rendered job's status differs from its document's", NULL);
		det = json_object_get(props, "details");
		if (expand != (det != NULL))
			broken("details rendered without $expand or missing with it", NULL);
		if (det != NULL) {
			/* The request's part of the details (the document's own stages and
			 * shipping details are added after the secrets are removed). */
			json_t *req = json_deep_copy(det);

			json_object_del(req, "jobStages");
			json_object_del(req, "deliverToDcPackageDetails");
			if (has_secret(req))
				broken("a rendered job shows a write-only secret", NULL);
			json_decref(req);
		}
		if (det != NULL && json_array_size(json_object_get(det, "copyProgress")) !=
		    json_object_size(json_object_get(doc, "disks")))
			broken("copyProgress does not list every disk", NULL);
		if (det != NULL && dc_job_is_export(doc) &&
		    !json_is_object(json_object_get(det, "exportDiskDetailsCollection")))
			broken("a rendered export has no exportDiskDetailsCollection", NULL);
		if ((text = json_dumps(out, JSON_COMPACT)) == NULL)
			broken("a rendered job cannot be sent", NULL);
		free(text);
		json_decref(out);
	}
}

/* What the copy and export workers take from a checked document without looking again
 * (copy.c copy_worker, export.c load_run): ofs_xstrdup of these strings. */
static void
check_worker_needs(json_t *doc)
{
	json_t *ex = json_object_get(doc, "export"), *d, *coll, *v;
	const char *serial, *ph, *st = dc_jstr(ex, "state");
	size_t i;

	if (dc_job_is_export(doc)) {
		if (st == NULL || strcmp(st, "planned") != 0)
			return;
		json_array_foreach(json_object_get(ex, "disks"), i, v) {
			const char *s = json_string_value(v);

			if (s == NULL || !dc_serial_ok(s))
				broken("a checked export plan lists a disk that is not a valid serial",
				    s);
			if (dc_jstr(dc_job_disk(doc, s), "dock") == NULL)
				broken("a checked export plan lists a disk without a dock", s);
		}
		return;
	}
	coll = json_object_get(json_object_get(json_object_get(json_object_get(doc, "request"),
	    "properties"), "details"), "importDiskDetailsCollection");
	json_object_foreach(json_object_get(doc, "disks"), serial, d) {
		ph = dc_jstr(d, "phase");
		if (strcmp(ph, "received") != 0 && strcmp(ph, "checked") != 0)
			continue;
		if (dc_jstr(d, "dock") == NULL)
			broken("a checked disk at the dock has no dock path", serial);
		if (dc_jstr(json_object_get(coll, serial), "manifestFile") == NULL ||
		    dc_jstr(json_object_get(coll, serial), "manifestHash") == NULL)
			broken("a checked import disk at the dock is not in the request", serial);
	}
}

/* A saved document (jobstore.c writes JSON_COMPACT, loads with flags 0) loads back equal
 * and passes the check. */
static void
check_roundtrip(json_t *doc)
{
	char msg[512], *text = json_dumps(doc, JSON_COMPACT);
	json_t *back;

	if (text == NULL)
		broken("a job document cannot be saved", NULL);
	back = json_loads(text, 0, NULL);
	free(text);
	if (back == NULL || !json_equal(back, doc))
		broken("a saved job document does not load back", NULL);
	if (dc_job_doc_check(back, msg, sizeof(msg)) != 0)
		broken("a saved job document fails its check", msg);
	json_decref(back);
}

/* A body dc_job_validate accepted, as job_put handles it. */
static void
accepted(json_t *body)
{
	char msg[512];
	json_t *doc = dc_job_new("fuzzjob", body, NOW), *disks, *coll, *d;
	const char *serial;
	int export = dc_job_is_export(doc);

	json_object_set_new(doc, "customer", json_string("default"));
	if (dc_job_doc_check(doc, msg, sizeof(msg)) != 0)
		broken("a new job of an accepted body fails the document check", msg);
	if (!json_equal(json_object_get(doc, "request"), body))
		broken("a new job's request differs from its body", NULL);
	if (dc_job_needs_worker(doc) || dc_job_outcome(doc) != NULL ||
	    !dc_stage_cancellable(dc_jstr(doc, "status")))
		broken("a new job is not a cancellable Created job without a worker", NULL);
	disks = json_object_get(doc, "disks");
	coll = json_object_get(json_object_get(json_object_get(body, "properties"), "details"),
	    "importDiskDetailsCollection");
	if (export) {
		if (json_object_size(disks) != 0 || coll != NULL ||
		    strcmp(dc_jstr(json_object_get(doc, "export"), "state"), "idle") != 0)
			broken("a new export job has disks or is not idle", NULL);
		check_export_paths(doc);
	} else {
		if (json_object_size(disks) != json_object_size(coll) ||
		    json_object_size(disks) == 0 || json_object_size(disks) > 64)
			broken("a new import job does not have its 1 to 64 disks", NULL);
		json_object_foreach(disks, serial, d)
			if (!dc_serial_ok(serial) || json_object_get(coll, serial) == NULL)
				broken("a new import job has a disk it was not asked for", serial);
	}
	check_render(doc);
	check_worker_needs(doc);
	check_roundtrip(doc);
	/* shipped, then closed with no disk received */
	dc_job_set_stage(doc, "ShippedToAzureDC", NOW + 1);
	if (dc_job_doc_check(doc, msg, sizeof(msg)) != 0)
		broken("a shipped job fails the document check", msg);
	check_render(doc);
	if (!export) {
		dc_job_close(doc);
		if (dc_job_outcome(doc) == NULL || dc_job_needs_worker(doc))
			broken("a closed import job without disks has no outcome", NULL);
		if (dc_job_doc_check(doc, msg, sizeof(msg)) != 0)
			broken("a closed job fails the document check", msg);
	}
	json_decref(doc);
}

/* A request body as job_put takes it: at most DC_EXPORT_BODY_MAX bytes, duplicates refused,
 * more than DC_BODY_MAX only for an export job. */
static void
fuzz_body(const uint8_t *data, size_t size)
{
	char msg[512];
	json_t *body;
	const char *tt;

	if (size == 0 || size > DC_EXPORT_BODY_MAX)
		return;
	body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (body == NULL)
		return;
	tt = dc_jstr(json_object_get(body, "properties"), "transferType");
	if (size > DC_BODY_MAX && (tt == NULL || strcmp(tt, "ExportFromAzure") != 0))
		goto out;
	msg[0] = '\0';
	if (dc_job_validate(body, msg, sizeof(msg)) != 0) {
		if (msg[0] == '\0')
			broken("a refused body without a message", NULL);
		goto out;
	}
	accepted(body);
out:
	json_decref(body);
}

/* A job file of the state folder as jobstore.c loads it. */
static void
fuzz_doc(const uint8_t *data, size_t size)
{
	char msg[512];
	json_t *doc;

	if (size > DC_JOB_FILE_MAX)
		return;
	if ((doc = json_loadb((const char *)data, size, 0, NULL)) == NULL)
		return;
	if (dc_job_doc_check(doc, msg, sizeof(msg)) == 0) {
		if (dc_job_is_export(doc))
			check_export_paths(doc);
		check_worker_needs(doc);
		(void)dc_job_needs_worker(doc);
		(void)dc_job_outcome(doc);
		check_render(doc);
		check_roundtrip(doc);
		dc_job_close(doc);
		if (dc_job_doc_check(doc, msg, sizeof(msg)) != 0)
			broken("a closed job fails the document check", msg);
		check_render(doc);
	}
	json_decref(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_body(data, size);
	fuzz_doc(data, size);
	return 0;
}
