/* Parsers for the bytes the import service and its operator hand us: job resources and job
 * lists, error bodies, token and long-running-operation answers, copy logs, and the
 * credentials file. Every string is length-checked and free of control characters, every
 * number is a non-negative integer, so nothing from outside reaches a terminal or a path
 * unchecked. Errors are OFS_ERR_CORRUPT naming `what` and the field. */
#ifndef OFS_JOBJSON_H
#define OFS_JOBJSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "text.h"

/* Largest service answer we read. An export job's answers carry the count and digest of
 * its blob path list, not the list (docs/DC.md), so they stay small too. */
#define OFS_JOBJSON_MAX (16u << 20)
#define OFS_EXPORT_BLOBS_MAX 1048576u	/* blobPathList entries an export job may list */
#define OFS_EXPORT_BODY_MAX (64u << 20)	/* export PUT bodies the service accepts */
#define OFS_CREDENTIALS_MAX (64u << 10)
#define OFS_JOB_NAME_MAX 24

/* Per-disk copy progress (details.copyProgress[]). Counters are -1 when absent. */
struct ofs_job_disk {
	char *serial;
	char *copy_status;		/* "NotStarted", "InProgress", …; "" when absent */
	int64_t bytes_processed, total_bytes;
	int64_t files_processed, total_files, files_errored;
};

/* details.copyLogDetails[]: links are URLs (file:, http:, https:) or absolute paths. */
struct ofs_job_log {
	char *serial;
	char *error_link, *verbose_link;	/* NULL when absent */
};

/* details.exportDiskDetailsCollection{SERIAL: {…}} of an export job: what the service wrote
 * on each disk. Filled once the disk's manifest is written. */
struct ofs_job_export_disk {
	char *serial;
	char *manifest_file;		/* disk-relative path, or NULL */
	char *manifest_hash;		/* 64 lower-case hex (SHA-256 of the manifest), or NULL */
	char *backup_manifest_cloud_path;	/* or NULL ("" is kept as "") */
};

struct ofs_job {
	char *name;			/* "" when absent */
	char *transfer_type;		/* "ImportToAzure", "ExportFromAzure", or NULL */
	char *status;			/* properties.status (stage); "" when absent */
	char *start_time;		/* properties.startTime or NULL */
	char *cancellation_reason;	/* or NULL */
	char *error_code, *error_message;	/* properties.error or NULL */
	char *storage_account_id;	/* accountDetails of the first dataImportDetails[] (or
					 * dataExportDetails[]), or NULL */
	char *carrier_name, *tracking_id;	/* details.deliverToDcPackageDetails, or NULL */
	int is_cancellable;		/* -1 unknown */
	struct ofs_job_disk *disks;
	size_t ndisks;
	struct ofs_job_log *logs;
	size_t nlogs;
	struct ofs_job_export_disk *export_disks;	/* in the answer's order */
	size_t nexport_disks;
	int64_t export_blobs;		/* entries of the first dataExportDetails' blobPathList,
					 * -1 when absent */
};

void ofs_job_release(struct ofs_job *j);

/* The digest an export job's answers carry instead of a long blobPathList (docs/DC.md):
 * lower-case hex SHA-256 of the entries, each followed by "\n". */
void ofs_export_list_digest(json_t *list, char hex[65]);

/* Parse a JobResource (GET /jobs/NAME, PUT answers). 0 and *j filled (release it), or
 * OFS_ERR_CORRUPT. properties.transferType, when present, must be ImportToAzure or
 * ExportFromAzure; an exportDiskDetailsCollection entry must be an object of only
 * manifestFile (a relative path), manifestHash (64 hex digits, or "" before it is known)
 * and backupManifestCloudPath, under a serial of 1-64 [A-Za-z0-9._:-]. */
int ofs_jobjson_parse_job(const uint8_t *p, size_t len, const char *what, struct ofs_job *j,
    struct ofs_error *err);

/* Parse a job list {value:[JobResource…], nextLink}. *jobs is an owned array of *n jobs
 * (release each, free the array); *next_link is owned or NULL. */
int ofs_jobjson_parse_list(const uint8_t *p, size_t len, const char *what, struct ofs_job **jobs,
    size_t *n, char **next_link, struct ofs_error *err);

/* An error body: {"error":{"code","message",…}} (ARM) or {"error":"x",
 * "error_description":"…"} (OAuth). min_version is the minimum agent version an
 * AgentVersionNotSupported answer names (field minimumVersion / minVersion, details or
 * additionalInfo, else the first "N.N.N" in the message), "" when none. */
struct ofs_api_error {
	char code[128];
	char message[512];
	char min_version[32];
};

/* 0 when p is a recognizable error body (e filled, strings truncated to fit), else -1 with
 * e zeroed. Never fails otherwise. */
int ofs_jobjson_parse_error(const uint8_t *p, size_t len, struct ofs_api_error *e);

/* Token answer {access_token, expires_in (number or numeric string)}. *token is owned and
 * secret (wipe it). expires_in defaults to 3600 when absent. */
int ofs_jobjson_parse_token(const uint8_t *p, size_t len, const char *what, char **token,
    int64_t *expires_in, struct ofs_error *err);

/* Azure-AsyncOperation answer {status, error}: status copied (≤ 31 chars); e filled when an
 * error object is present, else zeroed. */
int ofs_jobjson_parse_async(const uint8_t *p, size_t len, const char *what, char status[32],
    struct ofs_api_error *e, struct ofs_error *err);

/* One file a copy log lists. A name that is not valid UTF-8 or holds control characters is
 * written by the service percent-escaped with "pathEncoding": "percent" (bytes < 0x20,
 * 0x7f, '%' and bytes >= 0x80 as %XX); path holds it decoded back to its bytes. */
struct ofs_copylog_entry {
	char *path;		/* disk-relative path (PageBlob/C/…, BlockBlob/C/…) as bytes (not
				 * necessarily UTF-8: print path_shown), or NULL */
	char *path_shown;	/* the path as the log writes it (printable), or NULL */
	char *container;	/* destination blob container, or NULL */
	char *blob;		/* blob name inside container, or NULL */
	char *blob_type;	/* "PageBlob" / "BlockBlob", or NULL */
	char *error;		/* reason (finding name or error code), or NULL */
	char *detail;		/* human detail ("detail" / "message"), or NULL */
};

/* An entry that cannot be used (malformed escape, unsafe path, names neither path nor
 * blob, wrong types): kept apart so the others still count. */
struct ofs_copylog_unusable {
	size_t index;		/* position in the log's list */
	char *shown;		/* the path or blob as written, when it is printable, or NULL */
	char *error;		/* the entry's error code when readable, or NULL */
	char *reason;		/* why it cannot be used */
};

struct ofs_copylog {
	char *serial;		/* or NULL */
	struct ofs_copylog_entry *entries;
	size_t n;
	struct ofs_copylog_unusable *unusable;
	size_t nunusable;
};

void ofs_copylog_release(struct ofs_copylog *l);

/* Parse a per-disk copy log (JSON object with a "files" / "errors" / "entries" array of
 * objects naming path or blob, or a bare array of such objects). Disk paths (after
 * decoding) are checked like manifest paths (relative, no "..", no empty parts). A bad
 * entry goes to l->unusable; only a log that is not JSON, or not of that shape, fails. */
int ofs_jobjson_parse_copylog(const uint8_t *p, size_t len, const char *what,
    struct ofs_copylog *l, struct ofs_error *err);

/* ofs_percent_decode, ofs_percent_encode and ofs_name_shown (the copy logs' escaped names)
 * are in text.h. */

/* The import service's credentials file (SPEC §9). Strings owned; client_secret is
 * wiped by ofs_credentials_release. expires_at is unix seconds. Any extra field is ignored
 * except "storage" (the storage location the service imports into, when it says). */
struct ofs_credentials {
	char *endpoint, *tenant, *client_id, *client_secret;
	char *subscription, *resource_group, *location;
	char *storage_account_id, *vault_id, *expires;
	char *storage;		/* optional, or NULL */
	int64_t expires_at;
};

void ofs_credentials_release(struct ofs_credentials *c);

/* Parse and check every required field (present, a string, 1–4096 printable characters;
 * endpoint http(s)://; expires RFC 3339). Fails with OFS_ERR_AUTH "'WHAT' is not a valid
 * credentials file: REASON". Does not check expiry (the caller knows the time). */
int ofs_credentials_parse(const uint8_t *p, size_t len, const char *what,
    struct ofs_credentials *c, struct ofs_error *err);

/* 1 when s is a valid job name (3–24 characters of [-A-Za-z0-9_.]). */
int ofs_job_name_ok(const char *s);

#endif
