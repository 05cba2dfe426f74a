/* Client of the Data Box–style import service (SPEC §9): bearer token, the jobs API with
 * retries and long-running operations, and downloads of the copy logs it links. */
#ifndef OFS_JOBCLIENT_H
#define OFS_JOBCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "error.h"
#include "jobjson.h"

#define OFS_JOB_API_VERSION "2025-02-01"

struct ofs_jobclient;

/* A client for the service the credentials name. c is borrowed and must outlive the client.
 * Tunables from the environment (documented in README "Import jobs"):
 * OFFSEED_HTTP_RETRIES (attempts per request, default 6), OFFSEED_HTTP_BACKOFF (first
 * back-off in seconds, default 1, doubling up to 30), OFFSEED_HTTP_TIMEOUT (seconds per
 * request, default 60), OFFSEED_CA_FILE (CA bundle for TLS). */
int ofs_jobclient_new(const struct ofs_credentials *c, struct ofs_jobclient **out,
    struct ofs_error *err);
void ofs_jobclient_free(struct ofs_jobclient *jc);

/* PUT the job body (idempotent by name) and follow the long-running operation to its end;
 * then GET the job into *job (release it). *created is 1 when the service made a new job,
 * 0 when it already existed with this body (same body answered 200, or a 409 whose job
 * equals ours). 409 with another body → OFS_ERR_IO naming the job. */
int ofs_jobclient_create(struct ofs_jobclient *jc, const char *name, json_t *body,
    struct ofs_job *job, int *created, struct ofs_error *err);

/* GET the job with $expand=details. Unknown job → OFS_ERR_NOTFOUND. *raw (may be NULL)
 * receives the parsed JSON answer (owned reference). */
int ofs_jobclient_get(struct ofs_jobclient *jc, const char *name, struct ofs_job *job,
    json_t **raw, struct ofs_error *err);

/* Every job of the resource group (following nextLink); owned array of *n jobs. */
int ofs_jobclient_list(struct ofs_jobclient *jc, struct ofs_job **jobs, size_t *n,
    struct ofs_error *err);

int ofs_jobclient_ship(struct ofs_jobclient *jc, const char *name, const char *carrier,
    const char *tracking, struct ofs_error *err);
int ofs_jobclient_cancel(struct ofs_jobclient *jc, const char *name, const char *reason,
    struct ofs_error *err);

/* Fetch what a copy-log link points at into out (appending, at most out->max bytes), under
 * SPEC §15 "Links the client follows": http(s) links only to the endpoint's origin (the
 * bearer token goes there only) or to the storage the credentials name ("storage":
 * azure://ACCOUNT → the blob endpoint this client would use for it; without "storage",
 * the account of storage_account_id); file:///PATH (file:PATH, /PATH) only when the
 * endpoint is a loopback address and PATH, strictly percent-decoded and without ".."
 * parts, lies beneath the credentials' file:DIR storage folder, opened component by
 * component without following symbolic links, a regular file only. Anything else →
 * OFS_ERR_CORRUPT "refusing the copy-log link 'LINK': why" (the link without its query). */
int ofs_jobclient_download(struct ofs_jobclient *jc, const char *link, struct ofs_buf *out,
    struct ofs_error *err);

/* Read a JSON file that must hold one object (at most max bytes, duplicate keys refused)
 * into *out (new reference). A missing file, or one that is not a JSON object →
 * OFS_ERR_USAGE "cannot open WHAT 'PATH'…" / "WHAT 'PATH' is not a JSON object…"; other
 * read errors as ofs_buf_read_file says. */
int ofs_job_file_load(const char *path, const char *what, size_t max, json_t **out,
    struct ofs_error *err);

/* Read a --contact file ({"contactName", "phone", "emailList": [...], "carrierName",
 * "carrierAccountNumber"}, at most 1 MiB) into a job body's contactDetails and
 * returnToCustomerPackageDetails (new references in *contact and *ret). A missing file, a
 * file that is not a JSON object, or a missing or malformed field → OFS_ERR_USAGE naming
 * the file and the field. The same rules as `import create --contact`. */
int ofs_job_contact_load(const char *path, json_t **contact, json_t **ret,
    struct ofs_error *err);

/* The local path a file: link (file:///P, file://localhost/P, file:P) or absolute path names:
 * 1 with *path owned (strictly percent-decoded), 0 for other links, -1 for a malformed
 * one (relative, another host, a query, a bad escape or %00). */
int ofs_link_local_path(const char *link, char **path);

#endif
