/* offseed-dc export jobs without I/O (docs/DC.md "Export jobs"): the strict check of an
 * ExportFromAzure job's dataExportDetails (every blobPathList entry a repository object of
 * one /CONTAINER/PREFIX/), the export state kept in the job document, its outcome and the
 * read-only parts of its JobResource. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dc.h"
#include "jobjson.h"
#include "text.h"
#include "util.h"


/* The group of a repository object name (FORMAT.md §3), -1 when name is none. */
static int
name_group(const char *n)
{
	if (strcmp(n, "config") == 0)
		return DC_EXPORT_CONFIG;
	if (strncmp(n, "keys/", 5) == 0)
		return ofs_is_hex_lower(n + 5, 32) ? DC_EXPORT_KEYS : -1;
	if (strncmp(n, "index/", 6) == 0)
		return ofs_is_hex_lower(n + 6, 64) ? DC_EXPORT_INDEX : -1;
	if (strncmp(n, "snapshots/", 10) == 0)
		return ofs_is_hex_lower(n + 10, 64) ? DC_EXPORT_SNAPSHOTS : -1;
	if (strncmp(n, "containers/", 11) == 0) {
		const char *c = n + 11;

		if (strlen(c) != 32 + 1 + 6 + 4 || strspn(c, "0123456789abcdef") != 32 ||
		    c[32] != '-' || strspn(c + 33, "0123456789") != 6 || strcmp(c + 39, ".vhd") != 0)
			return -1;
		return DC_EXPORT_CONTAINERS;
	}
	if (strncmp(n, "data/", 5) == 0) {
		const char *c = n + 5;

		if (strlen(c) != 2 + 1 + 64 || strspn(c, "0123456789abcdef") != 2 || c[2] != '/' ||
		    !ofs_is_hex_lower(c + 3, 64) || strncmp(c, c + 3, 2) != 0)
			return -1;
		return DC_EXPORT_DATA;
	}
	return -1;
}

/* "/C[/P]" (base, without the trailing '/'): a valid container that is not the copy-log
 * container, and prefix segments neither empty, "." nor "..", without '\' or controls. */
static int
base_ok(const char *base, size_t n)
{
	char cont[64];
	const char *p = base + 1, *e = base + n, *slash;

	if (n < 2 || base[0] != '/')
		return 0;
	slash = memchr(p, '/', (size_t)(e - p));
	if ((size_t)((slash ? slash : e) - p) >= sizeof(cont))
		return 0;
	memcpy(cont, p, (size_t)((slash ? slash : e) - p));
	cont[(slash ? slash : e) - p] = '\0';
	if (!dc_container_name_ok(cont) || strcmp(cont, DC_LOG_CONTAINER) == 0)
		return 0;
	while (slash != NULL) {
		const char *s = slash + 1, *next = memchr(s, '/', (size_t)(e - s));
		size_t k = (size_t)((next ? next : e) - s);

		if (k == 0 || (k == 1 && s[0] == '.') || (k == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		slash = next;
	}
	if (memchr(base, '\\', n) != NULL)
		return 0;
	return ofs_text_check(base, n, 1024 + 64, OFS_TEXT_NONEMPTY) == OFS_TEXT_OK;
}

int
dc_export_split(const char *entry, size_t base_len, char **container, const char **blob,
    int *group)
{
	const char *slash;
	int g;

	*container = NULL;
	if (entry[0] != '/' || strlen(entry) <= base_len + 1 || entry[base_len] != '/')
		return -1;
	if ((g = name_group(entry + base_len + 1)) < 0)
		return -1;
	slash = strchr(entry + 1, '/');
	*container = ofs_xstrndup(entry + 1, (size_t)(slash - entry - 1));
	*blob = slash + 1;
	*group = g;
	return 0;
}

static const struct ofs_key details_keys[] = {
	{ "jobDetailsType", 0 }, { "contactDetails", 0 },
	{ "returnToCustomerPackageDetails", 0 }, { "dataExportDetails", 0 }, { NULL, 0 }
};
static const struct ofs_key entry_keys[] = {
	{ "accountDetails", 0 }, { "transferConfiguration", 0 }, { "logCollectionLevel", 0 },
	{ NULL, 0 }
};
static const struct ofs_key account_keys[] = {
	{ "dataAccountType", 0 }, { "storageAccountId", 0 }, { NULL, 0 }
};
static const struct ofs_key config_keys[] = {
	{ "transferConfigurationType", 0 }, { "transferFilterDetails", 0 }, { NULL, 0 }
};
static const struct ofs_key filter_keys[] = {
	{ "include", 0 }, { NULL, 0 }
};
static const struct ofs_key include_keys[] = {
	{ "dataAccountType", 0 }, { "blobFilterDetails", 0 }, { NULL, 0 }
};
static const struct ofs_key blob_keys[] = {
	{ "blobPathList", 0 }, { NULL, 0 }
};

#define W "properties.details.dataExportDetails[0]."

/* The blobPathList: entries of one /C/P/ with config, in group order, sorted, unique. */
static int
validate_paths(json_t *list, char *msg, size_t msgsz)
{
	const char *base = NULL, *prev = NULL, *e;
	size_t n = json_array_size(list), blen = 0, i;
	int last = -1;
	json_t *v;

	if (!json_is_array(list) || n == 0 || n > DC_EXPORT_BLOBS_MAX)
		return dc_fail(msg, msgsz, W "transferConfiguration.transferFilterDetails.include."
		    "blobFilterDetails.blobPathList must be an array of 1 to %u blob paths",
		    DC_EXPORT_BLOBS_MAX);
	/* The repository's /C/P/ is where its config is. */
	json_array_foreach(list, i, v) {
		size_t len;

		if (!json_is_string(v))
			return dc_fail(msg, msgsz, W "...blobPathList[%zu] must be a string", i);
		e = json_string_value(v);
		len = json_string_length(v);
		if (len >= 8 && strcmp(e + len - 7, "/config") == 0 && strlen(e) == len) {
			base = e;
			blen = len - 7;
			break;
		}
	}
	if (base == NULL || !base_ok(base, blen))
		return dc_fail(msg, msgsz, W "...blobPathList must name the repository's config as "
		    "\"/CONTAINER[/PREFIX]/config\" (a valid container other than '%s')",
		    DC_LOG_CONTAINER);
	json_array_foreach(list, i, v) {
		char *cont;
		const char *blob;
		int g;

		e = json_string_value(v);
		if (e == NULL || strlen(e) != json_string_length(v) ||
		    strncmp(e, base, blen) != 0 ||
		    dc_export_split(e, blen, &cont, &blob, &g) != 0)
			return dc_fail(msg, msgsz, W "...blobPathList[%zu] '%.200s' is not a repository "
			    "object under '%.*s/' (config, keys/ID, index/ID, snapshots/ID, "
			    "containers/ID-NNNNNN.vhd or data/XX/ID, lower-case hex)", i,
			    e ? e : "", (int)blen, base);
		free(cont);
		if (strlen(blob) > 1024)
			return dc_fail(msg, msgsz, W "...blobPathList[%zu]: the blob name is longer than "
			    "1024 bytes", i);
		if (g < last || (g == last && strcmp(prev, e) >= 0))
			return dc_fail(msg, msgsz, W "...blobPathList[%zu] '%.200s' is %s: entries go "
			    "config, keys, index, snapshots, containers, data, each sorted, once", i,
			    e, g == last && strcmp(prev, e) == 0 ? "a duplicate" : "out of order");
		last = g;
		prev = e;
	}
	return 0;
}

int
dc_export_validate(json_t *details, char *msg, size_t msgsz)
{
	json_t *arr, *x, *o, *tc, *tf, *inc, *bf;
	const char *bad = NULL, *lvl;

	if (json_object_get(details, "importDiskDetailsCollection") != NULL ||
	    json_object_get(details, "dataImportDetails") != NULL)
		return dc_fail(msg, msgsz, "properties.details.%s is not allowed with transferType "
		    "ExportFromAzure (the disks are attached at the datacenter)",
		    json_object_get(details, "dataImportDetails") ? "dataImportDetails" :
		    "importDiskDetailsCollection");
	if (ofs_json_keys_check(details, details_keys, &bad, NULL) != 0)
		return dc_fail(msg, msgsz, "properties.details.%.64s is not a field of an export job",
		    bad);
	arr = json_object_get(details, "dataExportDetails");
	if (!json_is_array(arr) || json_array_size(arr) != 1)
		return dc_fail(msg, msgsz, "properties.details.dataExportDetails must be an array of "
		    "one storage account with transferType ExportFromAzure");
	x = json_array_get(arr, 0);
	if (!json_is_object(x) || ofs_json_keys_check(x, entry_keys, &bad, NULL) != 0)
		return dc_fail(msg, msgsz, "properties.details.dataExportDetails[0]%s%.64s is not "
		    "allowed", bad ? "." : " ", bad ? bad : "must be an object;");
	lvl = dc_jstr(x, "logCollectionLevel");
	if (json_object_get(x, "logCollectionLevel") != NULL && (lvl == NULL ||
	    (strcmp(lvl, "Verbose") != 0 && strcmp(lvl, "Error") != 0)))
		return dc_fail(msg, msgsz, W "logCollectionLevel must be \"Verbose\" or \"Error\"");
	o = json_object_get(x, "accountDetails");
	if (!json_is_object(o) || ofs_json_keys_check(o, account_keys, &bad, NULL) != 0)
		return dc_fail(msg, msgsz, W "accountDetails must be {dataAccountType, "
		    "storageAccountId}%s%.64s", bad ? ": not " : "", bad ? bad : "");
	if (dc_need_value(o, "dataAccountType", "StorageAccount", W "accountDetails.", msg,
	    msgsz) != 0)
		return -1;
	if (dc_jstr(o, "storageAccountId") == NULL || ofs_text_check(dc_jstr(o,
	    "storageAccountId"), json_string_length(json_object_get(o, "storageAccountId")), 1024,
	    OFS_TEXT_NONEMPTY) != OFS_TEXT_OK)
		return dc_fail(msg, msgsz, W "accountDetails.storageAccountId is required: a string "
		    "of 1 to 1024 printable characters");
	tc = json_object_get(x, "transferConfiguration");
	if (!json_is_object(tc) || ofs_json_keys_check(tc, config_keys, &bad, NULL) != 0 ||
	    dc_need_value(tc, "transferConfigurationType", "TransferUsingFilter",
	    W "transferConfiguration.", msg, msgsz) != 0)
		return bad ? dc_fail(msg, msgsz, W "transferConfiguration.%.64s is not allowed", bad) :
		    json_is_object(tc) ? -1 : dc_fail(msg, msgsz, W "transferConfiguration is required "
		    "and must be an object");
	tf = json_object_get(tc, "transferFilterDetails");
	inc = json_object_get(tf, "include");
	if (!json_is_object(tf) || ofs_json_keys_check(tf, filter_keys, &bad, NULL) != 0 ||
	    !json_is_object(inc) || ofs_json_keys_check(inc, include_keys, &bad, NULL) != 0)
		return dc_fail(msg, msgsz, W "transferConfiguration.transferFilterDetails must be "
		    "{\"include\":{dataAccountType, blobFilterDetails}}%s%.64s", bad ? ": not " : "",
		    bad ? bad : "");
	if (dc_need_value(inc, "dataAccountType", "StorageAccount",
	    W "transferConfiguration.transferFilterDetails.include.", msg, msgsz) != 0)
		return -1;
	bf = json_object_get(inc, "blobFilterDetails");
	if (!json_is_object(bf) || ofs_json_keys_check(bf, blob_keys, &bad, NULL) != 0)
		return dc_fail(msg, msgsz, W "transferConfiguration.transferFilterDetails.include."
		    "blobFilterDetails must be {\"blobPathList\":[…]}%s%.64s", bad ? ": not " : "",
		    bad ? bad : "");
	return validate_paths(json_object_get(bf, "blobPathList"), msg, msgsz);
}

json_t *
dc_export_paths(json_t *doc)
{
	json_t *d = json_object_get(json_object_get(json_object_get(doc, "request"),
	    "properties"), "details");

	return json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(
	    json_array_get(json_object_get(d, "dataExportDetails"), 0), "transferConfiguration"),
	    "transferFilterDetails"), "include"), "blobFilterDetails"), "blobPathList");
}

const char *
dc_export_account_id(json_t *doc)
{
	json_t *d = json_object_get(json_object_get(json_object_get(doc, "request"),
	    "properties"), "details");

	return dc_jstr(json_object_get(json_array_get(json_object_get(d, "dataExportDetails"), 0),
	    "accountDetails"), "storageAccountId");
}

size_t
dc_export_base_len(json_t *doc)
{
	json_t *v, *list = dc_export_paths(doc);
	size_t i, n;

	json_array_foreach(list, i, v) {
		n = json_string_length(v);
		if (n >= 8 && strcmp(json_string_value(v) + n - 7, "/config") == 0)
			return n - 7;
	}
	return 0;
}

int
dc_export_doc_check(json_t *doc, char *msg, size_t msgsz)
{
	static const char *const states[] = { "idle", "planned", "failed", "done", NULL };
	json_t *ex = json_object_get(doc, "export"), *v;
	const char *st = dc_jstr(ex, "state");
	size_t i, n = json_array_size(dc_export_paths(doc));

	if (!json_is_object(ex) || st == NULL)
		return dc_fail(msg, msgsz, "the export job document has no export state");
	for (i = 0; states[i] != NULL && strcmp(states[i], st) != 0; i++)
		;
	if (states[i] == NULL)
		return dc_fail(msg, msgsz, "the export job document has an unknown export state");
	if (json_object_get(ex, "seedSet") != NULL && (dc_jstr(ex, "seedSet") == NULL ||
	    !ofs_is_hex_lower(dc_jstr(ex, "seedSet"), 32)))
		return dc_fail(msg, msgsz, "the export job document's seed set is damaged");
	if (json_object_get(ex, "pathSha256") != NULL && (dc_jstr(ex, "pathSha256") == NULL ||
	    !ofs_is_hex_lower(dc_jstr(ex, "pathSha256"), 64) ||
	    dc_jint(ex, "pathCount") != (int64_t)n))
		return dc_fail(msg, msgsz, "the export job document's blob list digest is damaged");
	if (strcmp(st, "planned") != 0)
		return 0;
	if (json_array_size(json_object_get(ex, "sizes")) != n ||
	    json_array_size(json_object_get(ex, "place")) != n ||
	    !json_is_array(json_object_get(ex, "disks")) ||
	    json_array_size(json_object_get(ex, "disks")) == 0 || dc_jstr(ex, "seedSet") == NULL ||
	    dc_jstr(ex, "repository") == NULL || !ofs_is_hex_lower(dc_jstr(ex, "repository"), 32))
		return dc_fail(msg, msgsz, "the export job document's plan is damaged");
	json_array_foreach(json_object_get(ex, "disks"), i, v) {
		json_t *d = json_is_string(v) && dc_serial_ok(json_string_value(v)) ?
		    dc_job_disk(doc, json_string_value(v)) : NULL;

		if (d == NULL || dc_jstr(d, "dock") == NULL)
			return dc_fail(msg, msgsz, "the export job document's plan names a disk it does "
			    "not have");
	}
	json_array_foreach(json_object_get(ex, "place"), i, v)
		if (!json_is_integer(v) || json_integer_value(v) < DC_PLACE_MISSING ||
		    json_integer_value(v) >= (json_int_t)json_array_size(json_object_get(ex, "disks")))
			return dc_fail(msg, msgsz, "the export job document's plan is damaged");
	json_array_foreach(json_object_get(ex, "sizes"), i, v)
		if (!json_is_integer(v) || json_integer_value(v) < -1)
			return dc_fail(msg, msgsz, "the export job document's plan is damaged");
	return 0;
}

int
dc_export_needs_worker(json_t *doc)
{
	const char *st = dc_jstr(json_object_get(doc, "export"), "state");

	return st != NULL && strcmp(st, "planned") == 0;
}

const char *
dc_export_outcome(json_t *doc)
{
	json_t *ex = json_object_get(doc, "export");
	const char *st = dc_jstr(ex, "state");

	if (st == NULL || strcmp(st, "done") != 0)
		return NULL;
	return dc_jint(ex, "errored") > 0 ? "CompletedWithErrors" : "ShippedToCustomer";
}

json_t *
dc_export_details_copy(json_t *doc)
{
	json_t *d = json_object_get(json_object_get(json_object_get(doc, "request"),
	    "properties"), "details"), *out = json_object(), *v, *e, *tc, *ex;
	const char *k;
	char hex[65];

	json_object_foreach(d, k, v)
		if (strcmp(k, "dataExportDetails") != 0)
			json_object_set_new(out, k, json_deep_copy(v));
	e = json_array_get(json_object_get(d, "dataExportDetails"), 0);
	tc = json_object_get(e, "transferConfiguration");
	ex = json_object_get(doc, "export");
	if (dc_jstr(ex, "pathSha256") != NULL) {
		snprintf(hex, sizeof(hex), "%s", dc_jstr(ex, "pathSha256"));
	} else {
		ofs_export_list_digest(dc_export_paths(doc), hex);
	}
	json_object_set_new(out, "dataExportDetails", json_pack("[{s:O?, s:O?, s:{s:O?, "
	    "s:{s:{s:O?, s:{s:I, s:s}}}}}]", "accountDetails", json_object_get(e, "accountDetails"),
	    "logCollectionLevel", json_object_get(e, "logCollectionLevel"), "transferConfiguration",
	    "transferConfigurationType", json_object_get(tc, "transferConfigurationType"),
	    "transferFilterDetails", "include", "dataAccountType", json_object_get(json_object_get(
	    json_object_get(tc, "transferFilterDetails"), "include"), "dataAccountType"),
	    "blobFilterDetails", "blobPathCount", (json_int_t)json_array_size(dc_export_paths(doc)),
	    "blobPathListSha256", hex));
	return out;
}

void
dc_export_render(json_t *doc, json_t *details)
{
	json_t *coll = json_object(), *d;
	const char *serial;

	json_object_foreach(json_object_get(doc, "disks"), serial, d)
		if (dc_jstr(d, "manifestHash") != NULL)
			json_object_set_new(coll, serial, json_pack("{s:s, s:s, s:s}", "manifestFile",
			    "offseed-manifest.json", "manifestHash", dc_jstr(d, "manifestHash"),
			    "backupManifestCloudPath", ""));
	json_object_set_new(details, "exportDiskDetailsCollection", coll);
}
