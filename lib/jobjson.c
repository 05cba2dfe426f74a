/* Parsers for what the import service sends back (jobs, lists, errors, tokens, operation
 * status, copy logs) and for its credentials file: outside bytes, so every field is checked
 * for type, length and printable content before anyone uses it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto.h"
#include "jobjson.h"
#include "text.h"
#include "util.h"

#define STR_MAX 4096		/* ordinary fields */
#define LINK_MAX 16384		/* URLs (clients must accept ≥ 4 KB) */
#define ITEMS_MAX 100000	/* array entries we accept in one answer */

static json_t *
load(const uint8_t *p, size_t len, const char *what, struct ofs_error *err)
{
	json_error_t je;
	json_t *root;

	if (len > OFS_JOBJSON_MAX) {
		ofs_err_set(err, OFS_ERR_CORRUPT, "%s: answer too large (%zu bytes)", what, len);
		return NULL;
	}
	root = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL)
		ofs_err_set(err, OFS_ERR_CORRUPT, "%s: not valid JSON at line %d column %d: %s",
		    what, je.line, je.column, je.text);
	return root;
}

/* Optional string member: absent or null → *out NULL. Present: a string of ≤ max printable
 * bytes, else OFS_ERR_CORRUPT naming the field. */
static int
opt_str(json_t *o, const char *key, size_t max, char **out, const char *what,
    const char *ctx, struct ofs_error *err)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	size_t n;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: field '%s%s' is not a string", what,
		    ctx, key);
	s = json_string_value(v);
	n = json_string_length(v);
	/* jansson gave valid UTF-8; a NUL inside counts as too long, as it always has */
	switch (ofs_text_check(s, n, max, 0)) {
	case OFS_TEXT_OK:
		break;
	case OFS_TEXT_TOO_LONG:
	case OFS_TEXT_NUL:
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: field '%s%s' is too long", what,
		    ctx, key);
	default:
		return ofs_err_set(err, OFS_ERR_CORRUPT,
		    "%s: field '%s%s' holds control characters", what, ctx, key);
	}
	*out = ofs_xstrndup(s, n);
	return 0;
}

/* Like opt_str, but absent gives "" instead of NULL. */
static int
str_or_empty(json_t *o, const char *key, size_t max, char **out, const char *what,
    const char *ctx, struct ofs_error *err)
{
	int r = opt_str(o, key, max, out, what, ctx, err);

	if (r == 0 && *out == NULL)
		*out = ofs_xstrdup("");
	return r;
}

/* Optional non-negative integer; absent or null → -1. Integral reals are accepted (some
 * serializers write 1.0). */
static int
opt_count(json_t *o, const char *key, int64_t *out, const char *what, const char *ctx,
    struct ofs_error *err)
{
	json_t *v = json_object_get(o, key);
	double d;

	*out = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			goto bad;
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		d = json_real_value(v);
		if (!(d >= 0 && d < 9.2e18) || d != (double)(int64_t)d)
			goto bad;
		*out = (int64_t)d;
		return 0;
	}
bad:
	return ofs_err_set(err, OFS_ERR_CORRUPT,
	    "%s: field '%s%s' is not a non-negative integer", what, ctx, key);
}

/* Optional object or array member of the wanted type; absent/null → NULL. */
static int
opt_typed(json_t *o, const char *key, json_type type, json_t **out, const char *what,
    const char *ctx, struct ofs_error *err)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_typeof(v) != type)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: field '%s%s' is not an %s", what,
		    ctx, key, type == JSON_OBJECT ? "object" : "array");
	if (type == JSON_ARRAY && json_array_size(v) > ITEMS_MAX)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: field '%s%s' has too many entries",
		    what, ctx, key);
	*out = v;
	return 0;
}

void
ofs_job_release(struct ofs_job *j)
{
	if (j == NULL)
		return;
	free(j->name);
	free(j->transfer_type);
	free(j->status);
	free(j->start_time);
	free(j->cancellation_reason);
	free(j->error_code);
	free(j->error_message);
	free(j->storage_account_id);
	free(j->carrier_name);
	free(j->tracking_id);
	for (size_t i = 0; i < j->ndisks; i++) {
		free(j->disks[i].serial);
		free(j->disks[i].copy_status);
	}
	free(j->disks);
	for (size_t i = 0; i < j->nlogs; i++) {
		free(j->logs[i].serial);
		free(j->logs[i].error_link);
		free(j->logs[i].verbose_link);
	}
	free(j->logs);
	for (size_t i = 0; i < j->nexport_disks; i++) {
		free(j->export_disks[i].serial);
		free(j->export_disks[i].manifest_file);
		free(j->export_disks[i].manifest_hash);
		free(j->export_disks[i].backup_manifest_cloud_path);
	}
	free(j->export_disks);
	memset(j, 0, sizeof(*j));
	j->export_blobs = -1;
}

static int
parse_disks(json_t *arr, struct ofs_job *j, const char *what, struct ofs_error *err)
{
	static const char ctx[] = "properties.details.copyProgress[].";
	size_t n = json_array_size(arr);
	int r;

	j->disks = ofs_xcalloc(n ? n : 1, sizeof(*j->disks));
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		struct ofs_job_disk *d = &j->disks[j->ndisks];

		if (!json_is_object(e))
			return ofs_err_set(err, OFS_ERR_CORRUPT,
			    "%s: properties.details.copyProgress[%zu] is not an object", what, i);
		j->ndisks++;
		if ((r = str_or_empty(e, "serialNumber", 256, &d->serial, what, ctx, err)) != 0 ||
		    (r = str_or_empty(e, "copyStatus", 64, &d->copy_status, what, ctx, err)) != 0 ||
		    (r = opt_count(e, "bytesProcessed", &d->bytes_processed, what, ctx, err)) != 0 ||
		    (r = opt_count(e, "totalBytesToProcess", &d->total_bytes, what, ctx, err)) != 0 ||
		    (r = opt_count(e, "filesProcessed", &d->files_processed, what, ctx, err)) != 0 ||
		    (r = opt_count(e, "totalFilesToProcess", &d->total_files, what, ctx, err)) != 0 ||
		    (r = opt_count(e, "filesErroredOut", &d->files_errored, what, ctx, err)) != 0)
			return r;
	}
	return 0;
}

static int
parse_logs(json_t *arr, struct ofs_job *j, const char *what, struct ofs_error *err)
{
	static const char ctx[] = "properties.details.copyLogDetails[].";
	size_t n = json_array_size(arr);
	int r;

	j->logs = ofs_xcalloc(n ? n : 1, sizeof(*j->logs));
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		struct ofs_job_log *l = &j->logs[j->nlogs];

		if (!json_is_object(e))
			return ofs_err_set(err, OFS_ERR_CORRUPT,
			    "%s: properties.details.copyLogDetails[%zu] is not an object", what, i);
		j->nlogs++;
		if ((r = str_or_empty(e, "serialNumber", 256, &l->serial, what, ctx, err)) != 0 ||
		    (r = opt_str(e, "errorLogLink", LINK_MAX, &l->error_link, what, ctx, err)) != 0 ||
		    (r = opt_str(e, "verboseLogLink", LINK_MAX, &l->verbose_link, what, ctx,
		    err)) != 0)
			return r;
	}
	return 0;
}

/* A disk serial as the service accepts it: 1-64 of [A-Za-z0-9._:-], not starting with
 * '.' or '-'. */
static int
serial_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

/* A relative '/'-separated path without empty, "." or ".." parts or backslashes. */
static int
relpath_ok(const char *p)
{
	const char *s = p;

	if (*p == '\0' || *p == '/' || strchr(p, '\\') != NULL)
		return 0;
	for (;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		if (e == NULL)
			return 1;
		s = e + 1;
	}
}

static const char *const export_disk_keys[] = { "manifestFile", "manifestHash",
	"backupManifestCloudPath" };

static int
parse_export_disks(json_t *coll, struct ofs_job *j, const char *what, struct ofs_error *err)
{
	static const char ctx[] = "properties.details.exportDiskDetailsCollection.";
	size_t n = json_object_size(coll);
	const char *serial, *k;
	json_t *v, *f;
	int r;

	if (n > ITEMS_MAX)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: field '%s' has too many entries", what,
		    "properties.details.exportDiskDetailsCollection");
	j->export_disks = ofs_xcalloc(n ? n : 1, sizeof(*j->export_disks));
	json_object_foreach(coll, serial, v) {
		struct ofs_job_export_disk *d = &j->export_disks[j->nexport_disks];
		char sub[sizeof(ctx) + 80];
		size_t i;

		if (!serial_ok(serial))
			return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: %s holds an invalid disk serial "
			    "(1 to 64 of A-Z a-z 0-9 . _ - :)", what,
			    "properties.details.exportDiskDetailsCollection");
		snprintf(sub, sizeof(sub), "%s%s.", ctx, serial);
		if (!json_is_object(v))
			return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: field '%s%s' is not an object",
			    what, ctx, serial);
		json_object_foreach(v, k, f) {
			for (i = 0; i < OFS_ARRAY_LEN(export_disk_keys); i++)
				if (strcmp(k, export_disk_keys[i]) == 0)
					break;
			if (i == OFS_ARRAY_LEN(export_disk_keys))
				return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: field '%s%.64s' is not "
				    "known", what, sub, ofs_text_check(k, strlen(k), 64, 0) ==
				    OFS_TEXT_OK ? k : "?");
		}
		j->nexport_disks++;
		d->serial = ofs_xstrdup(serial);
		if ((r = opt_str(v, "manifestFile", 255, &d->manifest_file, what, sub, err)) != 0 ||
		    (r = opt_str(v, "manifestHash", 64, &d->manifest_hash, what, sub, err)) != 0 ||
		    (r = opt_str(v, "backupManifestCloudPath", LINK_MAX,
		    &d->backup_manifest_cloud_path, what, sub, err)) != 0)
			return r;
		if (d->manifest_file != NULL && !relpath_ok(d->manifest_file))
			return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: field '%smanifestFile' is not a "
			    "relative path on the disk", what, sub);
		if (d->manifest_hash != NULL && d->manifest_hash[0] == '\0') {
			free(d->manifest_hash);		/* not known yet */
			d->manifest_hash = NULL;
		}
		if (d->manifest_hash != NULL) {
			if (strlen(d->manifest_hash) != 64 ||
			    strspn(d->manifest_hash, "0123456789abcdefABCDEF") != 64)
				return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: field '%smanifestHash' is "
				    "not a SHA-256 (64 hex digits)", what, sub);
			for (char *c = d->manifest_hash; *c; c++)
				if (*c >= 'A' && *c <= 'F')
					*c = (char)(*c - 'A' + 'a');
		}
	}
	return 0;
}

/* The first dataImportDetails[] / dataExportDetails[] entry: its storage account, and for
 * an export the length of its blob path list. */
static int
parse_data_details(json_t *details, const char *key, struct ofs_job *j, const char *what,
    struct ofs_error *err)
{
	char ctx[80], sub[128];
	json_t *arr, *acct, *v, *bf, *c;
	int r;

	snprintf(ctx, sizeof(ctx), "properties.details.");
	if ((r = opt_typed(details, key, JSON_ARRAY, &arr, what, ctx, err)) != 0 || arr == NULL ||
	    !json_is_object(json_array_get(arr, 0)))
		return r;
	snprintf(sub, sizeof(sub), "properties.details.%s[0].", key);
	if ((r = opt_typed(json_array_get(arr, 0), "accountDetails", JSON_OBJECT, &acct, what,
	    sub, err)) != 0)
		return r;
	if (acct != NULL && j->storage_account_id == NULL) {
		snprintf(sub, sizeof(sub), "properties.details.%s[0].accountDetails.", key);
		if ((r = opt_str(acct, "storageAccountId", STR_MAX, &j->storage_account_id, what,
		    sub, err)) != 0)
			return r;
	}
	if (strcmp(key, "dataExportDetails") != 0)
		return 0;
	bf = json_object_get(json_object_get(json_object_get(json_object_get(
	    json_array_get(arr, 0), "transferConfiguration"), "transferFilterDetails"), "include"),
	    "blobFilterDetails");
	v = json_object_get(bf, "blobPathList");
	if ((c = json_object_get(bf, "blobPathCount")) != NULL) {
		/* offseed-dc answers with the count and digest of a long list (docs/DC.md) */
		const char *h = json_string_value(json_object_get(bf, "blobPathListSha256"));

		if (!json_is_integer(c) || json_integer_value(c) < 0 ||
		    json_integer_value(c) > OFS_EXPORT_BLOBS_MAX || h == NULL ||
		    !ofs_is_hex_lower(h, 64))
			return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: field 'properties.details.%s[0]"
			    ".transferConfiguration.transferFilterDetails.include.blobFilterDetails' "
			    "has no valid blobPathCount and blobPathListSha256", what, key);
		j->export_blobs = (int64_t)json_integer_value(c);
		return 0;
	}
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > OFS_EXPORT_BLOBS_MAX)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: field 'properties.details.%s[0]."
		    "transferConfiguration.transferFilterDetails.include.blobFilterDetails."
		    "blobPathList' is not an array of at most %u entries", what, key,
		    OFS_EXPORT_BLOBS_MAX);
	j->export_blobs = (int64_t)json_array_size(v);
	return 0;
}

static int
parse_job_obj(json_t *root, struct ofs_job *j, const char *what, struct ofs_error *err)
{
	json_t *props, *details, *arr, *o;
	int r;

	memset(j, 0, sizeof(*j));
	j->is_cancellable = -1;
	j->export_blobs = -1;
	if (!json_is_object(root))
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: a job is not a JSON object", what);
	if ((r = str_or_empty(root, "name", 256, &j->name, what, "", err)) != 0 ||
	    (r = opt_typed(root, "properties", JSON_OBJECT, &props, what, "", err)) != 0)
		return r;
	if (props == NULL) {
		j->status = ofs_xstrdup("");
		return 0;
	}
	if ((r = opt_str(props, "transferType", 64, &j->transfer_type, what, "properties.",
	    err)) != 0)
		return r;
	if (j->transfer_type != NULL && strcmp(j->transfer_type, "ImportToAzure") != 0 &&
	    strcmp(j->transfer_type, "ExportFromAzure") != 0)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: field 'properties.transferType' is "
		    "neither ImportToAzure nor ExportFromAzure", what);
	if ((r = str_or_empty(props, "status", 64, &j->status, what, "properties.", err)) != 0 ||
	    (r = opt_str(props, "startTime", 64, &j->start_time, what, "properties.", err)) != 0 ||
	    (r = opt_str(props, "cancellationReason", STR_MAX, &j->cancellation_reason, what,
	    "properties.", err)) != 0 ||
	    (r = opt_typed(props, "error", JSON_OBJECT, &o, what, "properties.", err)) != 0)
		return r;
	if (json_is_boolean(json_object_get(props, "isCancellable")))
		j->is_cancellable = json_is_true(json_object_get(props, "isCancellable"));
	if (o != NULL &&
	    ((r = opt_str(o, "code", 128, &j->error_code, what, "properties.error.", err)) != 0 ||
	    (r = opt_str(o, "message", STR_MAX, &j->error_message, what, "properties.error.",
	    err)) != 0))
		return r;
	if ((r = opt_typed(props, "details", JSON_OBJECT, &details, what, "properties.",
	    err)) != 0 || details == NULL)
		return r;
	if ((r = opt_typed(details, "copyProgress", JSON_ARRAY, &arr, what,
	    "properties.details.", err)) != 0 || (arr != NULL &&
	    (r = parse_disks(arr, j, what, err)) != 0))
		return r;
	if ((r = opt_typed(details, "copyLogDetails", JSON_ARRAY, &arr, what,
	    "properties.details.", err)) != 0 || (arr != NULL &&
	    (r = parse_logs(arr, j, what, err)) != 0))
		return r;
	if ((r = opt_typed(details, "deliverToDcPackageDetails", JSON_OBJECT, &o, what,
	    "properties.details.", err)) != 0)
		return r;
	if (o != NULL && ((r = opt_str(o, "carrierName", 256, &j->carrier_name, what,
	    "properties.details.deliverToDcPackageDetails.", err)) != 0 ||
	    (r = opt_str(o, "trackingId", 256, &j->tracking_id, what,
	    "properties.details.deliverToDcPackageDetails.", err)) != 0))
		return r;
	if ((r = parse_data_details(details, "dataImportDetails", j, what, err)) != 0 ||
	    (r = parse_data_details(details, "dataExportDetails", j, what, err)) != 0)
		return r;
	if ((r = opt_typed(details, "exportDiskDetailsCollection", JSON_OBJECT, &o, what,
	    "properties.details.", err)) != 0)
		return r;
	return o != NULL ? parse_export_disks(o, j, what, err) : 0;
}

int
ofs_jobjson_parse_job(const uint8_t *p, size_t len, const char *what, struct ofs_job *j,
    struct ofs_error *err)
{
	json_t *root;
	int r;

	memset(j, 0, sizeof(*j));
	if ((root = load(p, len, what, err)) == NULL)
		return OFS_ERR_CORRUPT;
	if ((r = parse_job_obj(root, j, what, err)) != 0)
		ofs_job_release(j);
	json_decref(root);
	return r;
}

int
ofs_jobjson_parse_list(const uint8_t *p, size_t len, const char *what, struct ofs_job **jobs,
    size_t *n, char **next_link, struct ofs_error *err)
{
	struct ofs_job *v = NULL;
	size_t cnt = 0, want;
	json_t *root, *arr;
	int r;

	*jobs = NULL;
	*n = 0;
	*next_link = NULL;
	if ((root = load(p, len, what, err)) == NULL)
		return OFS_ERR_CORRUPT;
	if (!json_is_object(root)) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s: a job list is not a JSON object", what);
		goto out;
	}
	if ((r = opt_typed(root, "value", JSON_ARRAY, &arr, what, "", err)) != 0 ||
	    (r = opt_str(root, "nextLink", LINK_MAX, next_link, what, "", err)) != 0)
		goto out;
	want = arr != NULL ? json_array_size(arr) : 0;
	v = ofs_xcalloc(want ? want : 1, sizeof(*v));
	for (size_t i = 0; i < want; i++) {
		char ctx[64];

		snprintf(ctx, sizeof(ctx), "%s: value[%zu]", what, i);
		if ((r = parse_job_obj(json_array_get(arr, i), &v[cnt], ctx, err)) != 0) {
			ofs_job_release(&v[cnt]);
			goto out;
		}
		cnt++;
	}
	*jobs = v;
	*n = cnt;
	v = NULL;	/* transferred */
	cnt = 0;
out:
	for (size_t i = 0; i < cnt; i++)
		ofs_job_release(&v[i]);
	free(v);
	if (r != 0) {
		free(*next_link);
		*next_link = NULL;
	}
	json_decref(root);
	return r;
}

/* Copy a printable prefix of s into dst (size n), replacing control characters. */
static void
copy_clean(char *dst, size_t n, const char *s)
{
	ofs_text_clean(dst, n, s, SIZE_MAX);
}

/* A version "N.N.N" (digits and dots, at least one dot) at the start of s; its length. */
static size_t
version_at(const char *s)
{
	size_t i = 0, dots = 0;

	while (isdigit((unsigned char)s[i]) || (s[i] == '.' && i > 0 &&
	    isdigit((unsigned char)s[i + 1]))) {
		if (s[i] == '.')
			dots++;
		i++;
	}
	return dots > 0 ? i : 0;
}

static void
set_min_version(struct ofs_api_error *e, const char *s)
{
	const char *start = s;
	size_t n;

	if (s == NULL || e->min_version[0] != '\0')
		return;
	for (; *s != '\0'; s++) {
		if ((s == start || !isdigit((unsigned char)s[-1])) &&
		    (n = version_at(s)) > 0 && n < sizeof(e->min_version)) {
			memcpy(e->min_version, s, n);
			e->min_version[n] = '\0';
			return;
		}
	}
}

/* A min-version field in o (string or number-less), by any of the names services use. */
static void
min_version_field(struct ofs_api_error *e, json_t *o)
{
	static const char *const keys[] = { "minimumVersion", "minVersion", "minimum_version",
		"min_version", "minimumAgentVersion", "minAgentVersion" };

	if (!json_is_object(o))
		return;
	for (size_t i = 0; i < OFS_ARRAY_LEN(keys); i++) {
		json_t *v = json_object_get(o, keys[i]);

		if (json_is_string(v) && version_at(json_string_value(v)) ==
		    strlen(json_string_value(v)))
			set_min_version(e, json_string_value(v));
	}
}

int
ofs_jobjson_parse_error(const uint8_t *p, size_t len, struct ofs_api_error *e)
{
	json_t *root, *eo, *arr, *v;
	size_t i;
	int r = -1;

	memset(e, 0, sizeof(*e));
	if (len > OFS_JOBJSON_MAX ||
	    (root = json_loadb((const char *)p, len, 0, NULL)) == NULL)
		return -1;
	if (!json_is_object(root))
		goto out;
	eo = json_object_get(root, "error");
	if (json_is_string(eo)) {	/* OAuth: {"error":"invalid_client","error_description":…} */
		copy_clean(e->code, sizeof(e->code), json_string_value(eo));
		v = json_object_get(root, "error_description");
		copy_clean(e->message, sizeof(e->message), json_is_string(v) ?
		    json_string_value(v) : "");
		r = 0;
		goto out;
	}
	if (!json_is_object(eo))
		goto out;
	v = json_object_get(eo, "code");
	copy_clean(e->code, sizeof(e->code), json_is_string(v) ? json_string_value(v) : "");
	v = json_object_get(eo, "message");
	copy_clean(e->message, sizeof(e->message), json_is_string(v) ? json_string_value(v) : "");
	min_version_field(e, eo);
	min_version_field(e, root);
	json_array_foreach(json_object_get(eo, "details"), i, v)
		min_version_field(e, v);
	arr = json_object_get(eo, "additionalInfo");
	json_array_foreach(arr, i, v)
		min_version_field(e, json_object_get(v, "info"));
	if (strcmp(e->code, "AgentVersionNotSupported") == 0) {
		set_min_version(e, e->message);
		json_array_foreach(json_object_get(eo, "details"), i, v)
			if (json_is_string(json_object_get(v, "message")))
				set_min_version(e, json_string_value(json_object_get(v, "message")));
	}
	r = e->code[0] != '\0' || e->message[0] != '\0' ? 0 : -1;
out:
	if (r != 0)
		memset(e, 0, sizeof(*e));
	json_decref(root);
	return r;
}

int
ofs_jobjson_parse_token(const uint8_t *p, size_t len, const char *what, char **token,
    int64_t *expires_in, struct ofs_error *err)
{
	json_t *root, *v;
	char *num = NULL, *end;
	int r;

	*token = NULL;
	*expires_in = 3600;
	if ((root = load(p, len, what, err)) == NULL)
		return OFS_ERR_CORRUPT;
	if (!json_is_object(root)) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s: not a JSON object", what);
		goto out;
	}
	if ((r = opt_str(root, "access_token", LINK_MAX, token, what, "", err)) != 0)
		goto out;
	if (*token == NULL || **token == '\0' || strchr(*token, ' ') != NULL) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s: no usable access_token", what);
		goto out;
	}
	v = json_object_get(root, "expires_in");
	if (json_is_string(v)) {	/* Entra answers a numeric string */
		if ((r = opt_str(root, "expires_in", 20, &num, what, "", err)) != 0)
			goto out;
		*expires_in = strtoll(num, &end, 10);
		if (*num == '\0' || *end != '\0' || *expires_in < 0) {
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s: field 'expires_in' is not a "
			    "number of seconds", what);
			goto out;
		}
	} else if (v != NULL && (r = opt_count(root, "expires_in", expires_in, what, "",
	    err)) != 0)
		goto out;
	if (*expires_in < 0)
		*expires_in = 3600;
out:
	if (r != 0 && *token != NULL) {
		ofs_wipe(*token, strlen(*token));
		free(*token);
		*token = NULL;
	}
	free(num);
	json_decref(root);
	return r;
}

int
ofs_jobjson_parse_async(const uint8_t *p, size_t len, const char *what, char status[32],
    struct ofs_api_error *e, struct ofs_error *err)
{
	json_t *root, *eo, *v;
	char *s = NULL;
	int r;

	status[0] = '\0';
	memset(e, 0, sizeof(*e));
	if ((root = load(p, len, what, err)) == NULL)
		return OFS_ERR_CORRUPT;
	if (!json_is_object(root)) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s: not a JSON object", what);
		goto out;
	}
	if ((r = opt_str(root, "status", 31, &s, what, "", err)) != 0)
		goto out;
	if (s == NULL || *s == '\0') {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s: no 'status' field", what);
		goto out;
	}
	memcpy(status, s, strlen(s) + 1);
	if (json_is_object(eo = json_object_get(root, "error"))) {
		v = json_object_get(eo, "code");
		copy_clean(e->code, sizeof(e->code), json_is_string(v) ? json_string_value(v) : "");
		v = json_object_get(eo, "message");
		copy_clean(e->message, sizeof(e->message), json_is_string(v) ?
		    json_string_value(v) : "");
		min_version_field(e, eo);
		if (strcmp(e->code, "AgentVersionNotSupported") == 0)
			set_min_version(e, e->message);
	}
out:
	free(s);
	json_decref(root);
	return r;
}

void
ofs_copylog_release(struct ofs_copylog *l)
{
	if (l == NULL)
		return;
	free(l->serial);
	for (size_t i = 0; i < l->n; i++) {
		free(l->entries[i].path);
		free(l->entries[i].path_shown);
		free(l->entries[i].container);
		free(l->entries[i].blob);
		free(l->entries[i].blob_type);
		free(l->entries[i].error);
		free(l->entries[i].detail);
	}
	free(l->entries);
	for (size_t i = 0; i < l->nunusable; i++) {
		free(l->unusable[i].shown);
		free(l->unusable[i].error);
		free(l->unusable[i].reason);
	}
	free(l->unusable);
	memset(l, 0, sizeof(*l));
}

/* A relative '/'-separated path without "", ".", ".." parts or a leading '/'. */
static int
rel_path_ok(const char *s)
{
	const char *part = s;

	if (*s == '\0' || *s == '/')
		return 0;
	for (;;) {
		const char *slash = strchr(part, '/');
		size_t n = slash ? (size_t)(slash - part) : strlen(part);

		if (n == 0 || (n == 1 && part[0] == '.') || (n == 2 && part[0] == '.' &&
		    part[1] == '.') || memchr(part, '\\', n) != NULL)
			return 0;
		if (slash == NULL)
			return 1;
		part = slash + 1;
	}
}

/* First present string among keys (checked like opt_str). */
static int
first_str(json_t *o, const char *const *keys, size_t nkeys, size_t max, char **out,
    const char *what, const char *ctx, struct ofs_error *err)
{
	int r;

	*out = NULL;
	for (size_t i = 0; i < nkeys; i++) {
		if ((r = opt_str(o, keys[i], max, out, what, ctx, err)) != 0)
			return r;
		if (*out != NULL)
			return 0;
	}
	return 0;
}

/* One entry; what names it ("entry N"). On failure the caller moves it to the unusable. */
static int
parse_copylog_entry(json_t *e, struct ofs_copylog_entry *c, const char *what,
    struct ofs_error *err)
{
	static const char *const k_path[] = { "path", "diskPath", "file", "filePath" };
	static const char *const k_cont[] = { "container", "containerName" };
	static const char *const k_blob[] = { "blob", "blobName", "blobPath" };
	static const char *const k_type[] = { "blobType", "blob_type", "type" };
	static const char *const k_detail[] = { "detail", "message", "description" };
	static const char *const k_err[] = { "error", "reason", "errorCode", "finding", "code",
		"status" };
	char *enc = NULL;
	json_t *ev;
	int r;

	if (!json_is_object(e))
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s is not an object", what);
	/* "error" may be a string or an {code, message} object; read first, so an entry that
	 * turns out unusable still says what it was about. */
	ev = json_object_get(e, "error");
	if (json_is_object(ev)) {
		if ((r = opt_str(ev, "code", 128, &c->error, what, "error.", err)) != 0)
			return r;
	} else if ((r = first_str(e, k_err, OFS_ARRAY_LEN(k_err), STR_MAX, &c->error, what, "",
	    err)) != 0)
		return r;
	if ((r = first_str(e, k_path, OFS_ARRAY_LEN(k_path), STR_MAX, &c->path_shown, what, "",
	    err)) != 0 ||
	    (r = first_str(e, k_cont, OFS_ARRAY_LEN(k_cont), 63, &c->container, what, "",
	    err)) != 0 ||
	    (r = first_str(e, k_blob, OFS_ARRAY_LEN(k_blob), 1024, &c->blob, what, "",
	    err)) != 0 ||
	    (r = first_str(e, k_type, OFS_ARRAY_LEN(k_type), 32, &c->blob_type, what, "",
	    err)) != 0 ||
	    (r = first_str(e, k_detail, OFS_ARRAY_LEN(k_detail), STR_MAX, &c->detail, what, "",
	    err)) != 0 ||
	    (r = opt_str(e, "pathEncoding", 32, &enc, what, "", err)) != 0)
		return r;
	if (enc != NULL && strcmp(enc, "percent") != 0) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s: unknown pathEncoding '%s'", what, enc);
		free(enc);
		return r;
	}
	if (c->path_shown != NULL) {
		if (enc == NULL) {
			c->path = ofs_xstrdup(c->path_shown);
		} else if ((c->path = ofs_percent_decode(c->path_shown, NULL)) == NULL) {
			free(enc);
			return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: malformed percent escape in "
			    "path '%s'", what, c->path_shown);
		}
	}
	free(enc);
	if (c->path == NULL && c->blob == NULL)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s names neither a path nor a blob",
		    what);
	if (c->path != NULL && !rel_path_ok(c->path))
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: unsafe path '%s'", what,
		    c->path_shown);
	if (c->blob != NULL && !rel_path_ok(c->blob))
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: unsafe blob name '%s'", what,
		    c->blob);
	if (c->container != NULL && !rel_path_ok(c->container))
		return ofs_err_set(err, OFS_ERR_CORRUPT, "%s: unsafe container name '%s'", what,
		    c->container);
	return 0;
}

static void
entry_release(struct ofs_copylog_entry *c)
{
	free(c->path);
	free(c->path_shown);
	free(c->container);
	free(c->blob);
	free(c->blob_type);
	free(c->error);
	free(c->detail);
	memset(c, 0, sizeof(*c));
}

int
ofs_jobjson_parse_copylog(const uint8_t *p, size_t len, const char *what,
    struct ofs_copylog *l, struct ofs_error *err)
{
	static const char *const lists[] = { "files", "errors", "entries", "failedFiles",
		"erroredFiles" };
	static const char *const k_serial[] = { "serialNumber", "serial", "diskSerial" };
	json_t *root, *arr = NULL;
	size_t n;
	int r = 0;

	memset(l, 0, sizeof(*l));
	if ((root = load(p, len, what, err)) == NULL)
		return OFS_ERR_CORRUPT;
	if (json_is_array(root)) {
		arr = root;
	} else if (json_is_object(root)) {
		if ((r = first_str(root, k_serial, OFS_ARRAY_LEN(k_serial), 256, &l->serial,
		    what, "", err)) != 0)
			goto out;
		for (size_t i = 0; i < OFS_ARRAY_LEN(lists) && arr == NULL; i++)
			if ((r = opt_typed(root, lists[i], JSON_ARRAY, &arr, what, "", err)) != 0)
				goto out;
	} else {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s: not a JSON object or array", what);
		goto out;
	}
	n = arr != NULL ? json_array_size(arr) : 0;
	if (n > ITEMS_MAX) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s: too many entries", what);
		goto out;
	}
	l->entries = ofs_xcalloc(n ? n : 1, sizeof(*l->entries));
	for (size_t i = 0; i < n; i++) {
		struct ofs_copylog_entry *c = &l->entries[l->n];
		struct ofs_copylog_unusable *u;
		struct ofs_error perr = { 0 };
		char ewhat[40];

		snprintf(ewhat, sizeof(ewhat), "entry %zu", i);
		if (parse_copylog_entry(json_array_get(arr, i), c, ewhat, &perr) == 0) {
			l->n++;
			continue;
		}
		/* Keep only what is safe to show: the name as written and the error code. */
		l->unusable = ofs_xreallocarray(l->unusable, l->nunusable + 1,
		    sizeof(*l->unusable));
		u = &l->unusable[l->nunusable++];
		u->index = i;
		u->shown = c->path_shown != NULL ? c->path_shown : c->blob;
		if (u->shown == c->path_shown)
			c->path_shown = NULL;	/* transferred */
		else
			c->blob = NULL;		/* transferred */
		u->error = c->error;
		c->error = NULL;		/* transferred */
		u->reason = ofs_xstrdup(perr.msg);
		entry_release(c);
	}
out:
	if (r != 0)
		ofs_copylog_release(l);
	json_decref(root);
	return r;
}

void
ofs_credentials_release(struct ofs_credentials *c)
{
	if (c == NULL)
		return;
	if (c->client_secret != NULL)
		ofs_wipe(c->client_secret, strlen(c->client_secret));
	free(c->endpoint);
	free(c->tenant);
	free(c->client_id);
	free(c->client_secret);
	free(c->subscription);
	free(c->resource_group);
	free(c->location);
	free(c->storage_account_id);
	free(c->vault_id);
	free(c->expires);
	free(c->storage);
	memset(c, 0, sizeof(*c));
}

int
ofs_credentials_parse(const uint8_t *p, size_t len, const char *what,
    struct ofs_credentials *c, struct ofs_error *err)
{
	struct {
		const char *key;
		char **dst;
	} f[] = {
		{ "endpoint", &c->endpoint }, { "tenant", &c->tenant },
		{ "client_id", &c->client_id }, { "client_secret", &c->client_secret },
		{ "subscription", &c->subscription }, { "resource_group", &c->resource_group },
		{ "location", &c->location }, { "storage_account_id", &c->storage_account_id },
		{ "vault_id", &c->vault_id }, { "expires", &c->expires },
	};
	struct ofs_error sub = { 0 };
	json_error_t je;
	json_t *root = NULL;
	int r = 0;

	memset(c, 0, sizeof(*c));
	if (len > OFS_CREDENTIALS_MAX) {
		r = ofs_err_set(err, OFS_ERR_AUTH, "'%s' is not a valid credentials file: larger "
		    "than %u bytes", what, OFS_CREDENTIALS_MAX);
		goto out;
	}
	/* No parser detail in the message: the text near an error could be the secret. */
	if ((root = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		r = ofs_err_set(err, OFS_ERR_AUTH, "'%s' is not a valid credentials file: not "
		    "JSON (line %d)", what, je.line);
		goto out;
	}
	if (!json_is_object(root)) {
		r = ofs_err_set(err, OFS_ERR_AUTH, "'%s' is not a valid credentials file: not a "
		    "JSON object", what);
		goto out;
	}
	for (size_t i = 0; i < OFS_ARRAY_LEN(f); i++) {
		if (opt_str(root, f[i].key, STR_MAX, f[i].dst, what, "", &sub) != 0 ||
		    *f[i].dst == NULL || **f[i].dst == '\0') {
			r = ofs_err_set(err, OFS_ERR_AUTH, "'%s' is not a valid credentials file: "
			    "field '%s' is missing or not a usable string", what, f[i].key);
			goto out;
		}
	}
	if (opt_str(root, "storage", STR_MAX, &c->storage, what, "", &sub) != 0) {
		r = ofs_err_set(err, OFS_ERR_AUTH, "'%s' is not a valid credentials file: field "
		    "'storage' is not a usable string", what);
		goto out;
	}
	if (strncmp(c->endpoint, "http://", 7) != 0 && strncmp(c->endpoint, "https://", 8) != 0) {
		r = ofs_err_set(err, OFS_ERR_AUTH, "'%s' is not a valid credentials file: "
		    "endpoint is not an http(s) URL", what);
		goto out;
	}
	if (strpbrk(c->tenant, "/?#% ") != NULL || strpbrk(c->subscription, "/?#% ") != NULL ||
	    strpbrk(c->resource_group, "/?#% ") != NULL) {
		r = ofs_err_set(err, OFS_ERR_AUTH, "'%s' is not a valid credentials file: tenant, "
		    "subscription or resource_group holds URL delimiters", what);
		goto out;
	}
	if (ofs_parse_time(c->expires, &c->expires_at) != 0) {
		r = ofs_err_set(err, OFS_ERR_AUTH, "'%s' is not a valid credentials file: "
		    "'expires' is not an RFC 3339 time", what);
		goto out;
	}
out:
	if (r != 0)
		ofs_credentials_release(c);
	json_decref(root);
	return r;
}

int
ofs_job_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > OFS_JOB_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

void
ofs_export_list_digest(json_t *list, char hex[65])
{
	struct ofs_sha256_ctx *c = ofs_sha256_new();
	uint8_t sha[32];
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v) {
		ofs_sha256_update(c, json_string_value(v) ? json_string_value(v) : "",
		    json_string_value(v) ? json_string_length(v) : 0);
		ofs_sha256_update(c, "\n", 1);
	}
	ofs_sha256_final(c, sha);
	ofs_hex(sha, sizeof(sha), hex);
}
