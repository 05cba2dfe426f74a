/* offseed-dc internals shared by its files: the service identity and credentials, the job
 * table and its persisted documents, the HTTP front end, the copy worker and the storage it
 * imports into. docs/DC.md describes the behaviour and the state folder. */
#ifndef OFS_DC_H
#define OFS_DC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "error.h"

#define DC_API_VERSION "2025-02-01"
#define DC_BODY_MAX (1u << 20)		/* largest request body accepted (a job) */
#define DC_SMALL_BODY_MAX (16u << 10)	/* token form, ship, cancel, other requests */
#define DC_ADMIN_BODY_MAX (512u << 10)	/* receive: up to 64 disks with their paths */
#define DC_EXPORT_BODY_MAX (64u << 20) /* an export job's PUT (its blobPathList) */
#define DC_JOB_FILE_MAX (192u << 20)	/* largest job document loaded from the state */
#define DC_LOG_CONTAINER "offseed-copylogs"
#define DC_TOKEN_LIFETIME 3600

/* --- service identity, customers and credentials (service.c) --- */

#define DC_DEFAULT_CUSTOMER "default"
#define DC_DEFAULT_ACCOUNT "offseedlocal"	/* the default customer's on file: storage */
#define DC_ADMIN_TOKEN_LEN 64			/* hex digits in STATE/admin.token */

/* STATE/service.json: generated once, then stable. token_key signs bearer tokens; tenant,
 * subscription, resource group and vault id are the default customer's. */
struct dc_service {
	char *dir;			/* the state folder */
	char *tenant, *subscription, *resource_group, *location, *vault_id;
	char *storage;			/* last --storage of serve, or NULL */
	char *endpoint;			/* last URL serve listened at, or NULL */
	uint8_t token_key[32];
};

/* Load STATE/service.json, creating the folder and a fresh identity when absent (under a
 * lock so serve and credentials never make two). Fills s (release it). */
int dc_service_open(const char *state, struct dc_service *s, struct ofs_error *err);
/* Rewrite service.json (mode 0600) from s. */
int dc_service_save(const struct dc_service *s, struct ofs_error *err);
/* Frees s and wipes its token key. */
void dc_service_release(struct dc_service *s);

/* A customer (STATE/customers/NAME.json): the unit of isolation. Its own tenant,
 * subscription, resource group, vault and storage account; its jobs are its own. */
struct dc_customer {
	char *name;
	char *tenant, *subscription, *resource_group, *vault_id;
	char *account;			/* its storage account (belongs to no other customer) */
};

/* Customer names: 1-32 of [A-Za-z0-9_-], starting with a letter or digit. */
int dc_customer_name_ok(const char *name);
/* Load customer name into c (release it). The default customer exists before it is
 * recorded: the service's ids and the account of s->storage (azure://ACCOUNT) or
 * DC_DEFAULT_ACCOUNT. Unknown or invalid name: OFS_ERR_NOTFOUND; damaged: OFS_ERR_CORRUPT. */
int dc_customer_load(const struct dc_service *s, const char *name, struct dc_customer *c,
    struct ofs_error *err);
/* Load customer name, recording it first when new (under the state lock). account (may be
 * NULL) names its storage account: default the derived one (the default customer: as in
 * dc_customer_load with storage; others: the name lower-cased to [a-z0-9], 3-24). storage
 * (NULL: s->storage) refuses accounts an azure:// store cannot hold. An account another
 * customer has, or a different account for an existing customer: OFS_ERR_USAGE. */
int dc_customer_open(struct dc_service *s, const char *name, const char *account,
    const char *storage, struct dc_customer *c, struct ofs_error *err);
void dc_customer_release(struct dc_customer *c);

/* Issue a credentials file of customer cu at out (mode 0600) valid for valid_days days and
 * record its client in STATE/clients/ (only the SHA-256 of the secret is kept). endpoint
 * and storage may be NULL: then the ones serve recorded are used (no endpoint at all:
 * OFS_ERR_USAGE). The file names cu's ids, its storage_account_id and, when the storage
 * is known, "storage": the location of cu's account (file:/DIR/ACCOUNT or azure://ACCOUNT). */
int dc_credentials_issue(struct dc_service *s, const struct dc_customer *cu, const char *endpoint,
    const char *storage, int valid_days, const char *out, struct ofs_error *err);

/* Check a client id and secret against STATE/clients/. 0 when valid (*expires_at set,
 * *customer the owned name of its customer); -1 unknown client or wrong secret; -2 expired
 * (*expires_at is the expiry). */
int dc_client_check(const struct dc_service *s, const char *client_id, const char *secret,
    int64_t now, int64_t *expires_at, char **customer);

/* A bearer token for client_id valid until exp (unix seconds). Returns owned string. */
char *dc_token_make(const struct dc_service *s, const char *client_id, int64_t exp);
/* 0 valid (*customer: owned name of the client's customer), -1 malformed or forged or its
 * client is gone, -2 expired. */
int dc_token_check(const struct dc_service *s, const char *token, int64_t now,
    char **customer);

/* The operator's admin token of state (STATE/admin.token, mode 0600, DC_ADMIN_TOKEN_LEN
 * hex digits) into tok. create: make it when absent (serve). Absent and !create:
 * OFS_ERR_NOTFOUND. */
int dc_admin_token(const char *state, int create, char tok[DC_ADMIN_TOKEN_LEN + 1],
    struct ofs_error *err);

/* --- jobs (jobs.c): pure logic on the persisted job document --- */

/* Stages (properties.status). */
int dc_stage_final(const char *stage);		/* a copy end stage, Cancelled or ShippedToCustomer */
int dc_stage_cancellable(const char *stage);	/* Created, ShippedToAzureDC */
int dc_stage_takes_disks(const char *stage);	/* … AtAzureDC, DataCopy: receive, export */

/* Job names the service keeps: the API's rule (3-24 of [-A-Za-z0-9_.]), a letter or digit
 * first, and no ".tmp" anywhere, so a job file never looks like a hidden or temporary one. */
int dc_job_name_ok(const char *name);
/* Format a validation failure into msg (msgsz bytes); returns -1, the validators' answer. */
int dc_fail(char *msg, size_t msgsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* o's string member key must be want; else dc_fail naming where key. 0 or -1. */
int dc_need_value(json_t *o, const char *key, const char *want, const char *where, char *msg,
    size_t msgsz);
/* Validate a PUT body (ImportToAzure or ExportFromAzure). 0, or -1 with msg naming the
 * field. */
int dc_job_validate(json_t *body, char *msg, size_t msgsz);
/* 1 when the job document is an export job's (transferType ExportFromAzure). */
int dc_job_is_export(json_t *doc);
/* Disk serials: 1-64 of [A-Za-z0-9._:-], not starting with '.' or '-' (they name folders
 * of the copy logs and appear in SERIAL=PATH arguments). */
int dc_serial_ok(const char *s);
/* A fresh job document for a validated body (body is copied). */
json_t *dc_job_new(const char *name, json_t *body, int64_t now);
/* The customer a job document belongs to (documents from before customers: the default). */
const char *dc_job_customer(json_t *doc);
/* Enter stage (appends to the stage history, closes the previous one). */
void dc_job_set_stage(json_t *doc, const char *stage, int64_t now);
/* The JobResource answer (new reference) with its id under subscription sub and resource
 * group rg. expand adds properties.details. */
json_t *dc_job_render_in(json_t *doc, const char *sub, const char *rg, int expand);
/* dc_job_render_in with the default customer's ids of s. */
json_t *dc_job_render(json_t *doc, const struct dc_service *s, int expand);
/* Check a persisted document's shape (after loading). 0 or -1 with msg. */
int dc_job_doc_check(json_t *doc, char *msg, size_t msgsz);
/* Disk object of serial, or NULL. */
json_t *dc_job_disk(json_t *doc, const char *serial);
/* The stage the job ends in from its disks' copyStatus values, or NULL while a disk is
 * still to do (not received and the job not closed, or not yet copied). */
const char *dc_job_outcome(json_t *doc);
/* Mark disks never received DriveNotReceived (the job is closed). */
void dc_job_close(json_t *doc);
/* 1 when some received disk still needs the copy worker. */
int dc_job_needs_worker(json_t *doc);
/* Integer member (0 when absent or not an integer). */
int64_t dc_jint(json_t *o, const char *key);
/* String member or NULL. */
const char *dc_jstr(json_t *o, const char *key);

/* --- export jobs (jobs_export.c): pure logic --- */

#define DC_EXPORT_BLOBS_MAX 1048576u	/* entries of a blobPathList */
/* Groups of repository objects, in the order a blobPathList lists them. */
enum { DC_EXPORT_CONFIG, DC_EXPORT_KEYS, DC_EXPORT_INDEX, DC_EXPORT_SNAPSHOTS,
	DC_EXPORT_CONTAINERS, DC_EXPORT_DATA };
/* export.place[i]: the disk (0-based, export.disks order) of blob i, or one of these. */
#define DC_PLACE_ALL (-1)		/* metadata: on every disk */
#define DC_PLACE_MISSING (-2)		/* not in storage: BlobNotFound */

/* Check properties.details of an ExportFromAzure body strictly (docs/DC.md). 0 or -1 with
 * msg naming the field or the blobPathList entry. */
int dc_export_validate(json_t *details, char *msg, size_t msgsz);
/* Split a validated entry "/C/P/NAME" whose "/C/P" is base_len bytes: *container (owned) C,
 * *blob the blob name "P/NAME" (points into entry), *group DC_EXPORT_*. -1 when entry is
 * not such a path. */
int dc_export_split(const char *entry, size_t base_len, char **container, const char **blob,
    int *group);
/* The job's blobPathList, its storageAccountId, and the length of its "/C/P". */
json_t *dc_export_paths(json_t *doc);
const char *dc_export_account_id(json_t *doc);
size_t dc_export_base_len(json_t *doc);
/* The export state of a loaded document ("export": state, seedSet, plan). 0 or -1. */
int dc_export_doc_check(json_t *doc, char *msg, size_t msgsz);
/* 1 while a planned export has not finished (a worker is to run). */
int dc_export_needs_worker(json_t *doc);
/* ShippedToCustomer or CompletedWithErrors once the export is done, else NULL. */
const char *dc_export_outcome(json_t *doc);
/* Add exportDiskDetailsCollection to the rendered details. */
void dc_export_render(json_t *doc, json_t *details);
/* A copy of an export job's request details for answers: its blobPathList replaced by
 * {"blobPathCount": N, "blobPathListSha256": H} (ofs_export_list_digest). New reference. */
json_t *dc_export_details_copy(json_t *doc);

/* --- storage (store.c) --- */

/* The service's storage holds one storage account per customer. file:DIR is a folder of
 * accounts: account A is DIR/A (blob container = its subfolder, blob name = path below).
 * azure://ACCOUNT serves that one account only. */
struct dc_store;

/* Open LOC: "file:DIR" (DIR is created) or "azure://ACCOUNT" (OFFSEED_AZURE_*). */
int dc_store_open(const char *loc, struct dc_store **out, struct ofs_error *err);
void dc_store_free(struct dc_store *st);
/* Canonical location of the whole store: "file:/ABSOLUTE/DIR" or "azure://ACCOUNT". */
const char *dc_store_location(const struct dc_store *st);
/* The account a store serves by default: ACCOUNT of azure://ACCOUNT, else NULL (any). */
const char *dc_store_default_account(const struct dc_store *st);
/* 1 when the store can hold storage account `account` (a valid account name; for azure://
 * only the one account it serves). */
int dc_store_serves(const struct dc_store *st, const char *account);
/* Location of one account, owned: "file:/DIR/ACCOUNT" or "azure://ACCOUNT". */
char *dc_store_account_location(const struct dc_store *st, const char *account);
/* Remove temporary files left by an interrupted import (file: only). */
void dc_store_cleanup(struct dc_store *st);

/* Storage account names: 3-24 of [a-z0-9]. */
int dc_account_name_ok(const char *s);
/* The account NAME of ".../providers/Microsoft.Storage/storageAccounts/NAME", owned, or NULL
 * when id is not of that form or NAME is not a valid account name. */
char *dc_account_of_id(const char *storage_account_id);

/* Progress callback: bytes just copied. Returns nonzero to abort (service stopping). */
typedef int (*dc_copy_fn)(void *arg, uint64_t bytes);

/* Import size bytes read from fd (a regular file the caller opened; what names it in
 * messages) as a page (page != 0) or block blob container/name of account. When xxh (16
 * bytes) is given, the bytes read must hash to it (file: only; else OFS_ERR_CORRUPT and
 * nothing is stored). Aborted by fn: OFS_ERR_IO with *aborted set. The copy-log container
 * is refused here (OFS_ERR_USAGE): only dc_store_put_bytes writes it. */
int dc_store_put_fd(struct dc_store *st, const char *account, const char *container,
    const char *name, int page, int fd, const char *what, uint64_t size, const uint8_t *xxh,
    dc_copy_fn fn, void *arg, int *aborted, struct ofs_error *err);
/* Store a small block blob from memory (copy logs) in account and return an owned link to
 * it (file:// URL or http(s) URL) in *link. */
int dc_store_put_bytes(struct dc_store *st, const char *account, const char *container,
    const char *name, const void *data, size_t len, char **link, struct ofs_error *err);
/* Reading blobs back (store_read.c; export jobs): a reader of one blob of account. file:
 * the blob is opened beneath DIR/ACCOUNT without following a symbolic link (regular files
 * only); azure://: Get Blob Properties, then ranged Get Blob answers no longer than asked.
 * A missing blob (or container): OFS_ERR_NOTFOUND naming it. *size is its size. */
struct dc_blob_reader;
int dc_store_reader_open(struct dc_store *st, const char *account, const char *container,
    const char *name, struct dc_blob_reader **out, uint64_t *size, struct ofs_error *err);
/* Read exactly len bytes at off: a blob ending first or an answer of another length is
 * OFS_ERR_CORRUPT, a failed read OFS_ERR_IO. */
int dc_store_reader_read(struct dc_blob_reader *r, uint64_t off, void *buf, size_t len,
    struct ofs_error *err);
void dc_store_reader_free(struct dc_blob_reader *r);
/* Size of a blob (dc_store_reader_open and free). */
int dc_store_stat(struct dc_store *st, const char *account, const char *container,
    const char *name, uint64_t *size, struct ofs_error *err);
/* The checks of store.c: account served, valid container and blob name (OFS_ERR_USAGE). */
int dc_store_target_ok(const struct dc_store *st, const char *account, const char *container,
    const char *name, struct ofs_error *err);
/* file: the absolute store folder, else NULL; azure: its client settings, else NULL. */
const char *dc_store_dir(const struct dc_store *st);
struct dc_azure *dc_store_azure(const struct dc_store *st);
/* The azure:// reader parts (store_azure.c). */
int dc_azure_props(struct dc_azure *az, const char *container, const char *name,
    uint64_t *size, struct ofs_error *err);
int dc_azure_get(struct dc_azure *az, const char *container, const char *name, uint64_t off,
    void *buf, size_t len, struct ofs_error *err);

/* The azure:// backend (store_azure.c), used by store.c. */
struct dc_azure;
int dc_azure_open(const char *account, struct dc_azure **out, struct ofs_error *err);
void dc_azure_free(struct dc_azure *az);
int dc_azure_put_file(struct dc_azure *az, const char *container, const char *name, int page,
    int fd, uint64_t size, dc_copy_fn fn, void *arg, int *aborted, struct ofs_error *err);
int dc_azure_put_bytes(struct dc_azure *az, const char *container, const char *name,
    const void *data, size_t len, char **link, struct ofs_error *err);

/* Azure container naming rules (3-63 of [a-z0-9-], letter/digit first, no "--", no '-'
 * last). */
int dc_container_name_ok(const char *s);

/* --- the running service (server.c and serve_*.c, jobstore.c, copy.c) --- */

enum dc_fault { DC_FAULT_NONE = 0, DC_FAULT_503, DC_FAULT_429, DC_FAULT_DROP, DC_FAULT_SLOW };

struct dc_job {
	char *customer;		/* the customer that created it */
	char *name;		/* unique per customer */
	json_t *doc;		/* persisted state; read and written under ctx->mu */
	int worker;		/* a copy worker runs for this job */
	int planning;		/* an export run is being planned (admin export) */
	pthread_t thread;
	int joinable;
};

struct dc_ctx {
	pthread_mutex_t mu;
	struct dc_service svc;		/* immutable while serving (read without mu) */
	struct dc_store *store;
	char *jobs_dir;
	struct dc_job **jobs;
	size_t njobs;
	char *base_url;			/* http(s)://HOST:PORT */
	const char *scheme;		/* "http" or "https" */
	const char *hostname;		/* --hostname, or NULL */
	int loopback;			/* listening on a loopback address */
	char *dock_root;		/* --dock-root resolved, or NULL */
	char admin_token[DC_ADMIN_TOKEN_LEN + 1];
	char *min_agent;		/* or NULL */
	enum dc_fault fault;
	long fault_left;		/* -1: every request */
	unsigned slow_ms, copy_delay_ms, page_size;
	int64_t token_lifetime;
	int stopping;
	int copy_threads;
};

/* Job table (jobstore.c): ctx->jobs in memory, STATE/jobs/CUSTOMER/NAME.json on disk
 * (ctx->jobs_dir is STATE/jobs). Callers hold ctx->mu once serving has started. */

/* The job name of customer, or NULL. */
struct dc_job *dc_find_job(struct dc_ctx *ctx, const char *customer, const char *name);
/* Add a job to the table (takes doc; customer and name are copied). Not saved yet. */
struct dc_job *dc_add_job(struct dc_ctx *ctx, const char *customer, const char *name,
    json_t *doc);
/* Take job out of the table and free it, joining its finished worker thread. Its file
 * stays. */
void dc_drop_job(struct dc_ctx *ctx, struct dc_job *job);
/* dc_drop_job every job and free the table (serve stopping, no worker running). */
void dc_drop_jobs(struct dc_ctx *ctx);
/* Persist job->doc to STATE/jobs/CUSTOMER/NAME.json (atomic: temporary file, rename). */
int dc_save_job(struct dc_ctx *ctx, struct dc_job *job, struct ofs_error *err);
/* Remove job's file (one already gone is fine). 0, or -1 when it stays (logged). */
int dc_unlink_job(struct dc_ctx *ctx, struct dc_job *job);
/* qsort order of struct dc_job pointers: by name, then customer. */
int dc_job_cmp(const void *a, const void *b);
/* Load every job file of STATE/jobs into the empty table, sorted by dc_job_cmp: damaged or
 * duplicate files are skipped (logged), files from before customers (STATE/jobs/NAME.json)
 * move to the default customer's folder, interrupted writes (NAME.tmp-XXXXXX) are removed.
 * Fails only when STATE/jobs cannot be read (OFS_ERR_IO). */
int dc_load_jobs(struct dc_ctx *ctx, struct ofs_error *err);
/* Start the copy worker of job if it needs one and none runs (ctx->mu held). */
void dc_kick_job(struct dc_ctx *ctx, struct dc_job *job);

/* The copy worker (copy.c): thread body, arg is a struct dc_worker_arg (freed by it). */
struct dc_worker_arg {
	struct dc_ctx *ctx;
	struct dc_job *job;
};
void *dc_copy_worker(void *arg);

/* A copy log (copy.c) written as text while its entries are made, one compact JSON object
 * per line: memory follows the log's size, not a document of every entry. */
struct dc_logtext {
	struct ofs_buf b;
	int n;			/* entries so far */
};
/* Start with the members of hdr (taken), "files" last. */
void dc_logtext_open(struct dc_logtext *l, json_t *hdr);
/* Add entry e (the caller keeps its reference). */
void dc_logtext_add(struct dc_logtext *l, json_t *e);
/* Close the text: 0, or OFS_ERR_LIMIT when some put failed (only past SIZE_MAX). */
int dc_logtext_close(struct dc_logtext *l);

/* An export run (export.c): the blobs of the job, their sizes and the disk each goes to. */
struct dc_xplan {
	size_t n;			/* blobs (the blobPathList) */
	char **paths;			/* owned copies of its entries */
	size_t base_len;		/* length of "/C/P" */
	int64_t *sizes;			/* -1: not in storage */
	int *place;			/* disk index, DC_PLACE_ALL or DC_PLACE_MISSING */
	size_t ndisks;
	char **serials, **docks;	/* owned; docks resolved absolute folders */
	char *account;			/* the job's storage account */
	char repo[33];			/* repository id of its config */
	uint64_t need_more;		/* not enough room: bytes missing */
};
void dc_xplan_release(struct dc_xplan *p);
/* Stat every blob of p->paths in account p->account, read the config keylessly and place
 * the blobs on p->docks by capacity (metadata on every disk; containers and data packs
 * each on one, largest first to the disk with the most room; disks on one filesystem share
 * it; OFFSEED_DC_TEST_DISK_BYTES caps each disk as if on its own filesystem). Runs without
 * ctx->mu. 0 and p filled; else an HTTP status with code and msg: 507
 * InsufficientDiskSpace (p->need_more set), 409 ConfigNotFound / ConfigInvalid, 503
 * StorageUnavailable, 400 InvalidDiskPath. */
unsigned dc_export_plan(struct dc_ctx *ctx, struct dc_xplan *p, char *code, size_t codesz,
    char *msg, size_t msgsz);
/* Record plan p (taken) in job's document (ctx->mu held): export.state "planned", disks
 * replaced by p's, seed set drawn once, error cleared. */
void dc_export_record(struct dc_job *job, struct dc_xplan *p, int64_t now);
/* The export worker (export.c): thread body like dc_copy_worker, for export jobs. */
void *dc_export_worker(void *arg);

/* Move a job whose disks are all done to its end stage and save it (jobstore.c; ctx->mu
 * held; nothing happens while its worker runs or a disk is still to do). */
void dc_job_finish(struct dc_ctx *ctx, struct dc_job *job);

/* serve command (server.c). */
int dc_serve(int argc, char **argv);

/* Messages: "offseed-dc: ..." on stderr (service.c). */
void dc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The time in unix seconds (service.c). */
int64_t dc_now_s(void);

#endif
