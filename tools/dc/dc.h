/* offseed-dc internals shared by its files: the service identity and credentials, the job
 * table and its persisted documents, the HTTP front end, the copy worker and the storage it
 * imports into. docs/DC.md describes the behaviour and the state folder. */
#ifndef OFS_DC_H
#define OFS_DC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

#define DC_API_VERSION "2025-02-01"
#define DC_BODY_MAX (1u << 20)		/* largest request body accepted */
#define DC_JOB_FILE_MAX (64u << 20)	/* largest job document loaded from the state */
#define DC_LOG_CONTAINER "offseed-copylogs"
#define DC_TOKEN_LIFETIME 3600

/* --- service identity and credentials (service.c) --- */

/* STATE/service.json: generated once, then stable. token_key signs bearer tokens. */
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
void dc_service_release(struct dc_service *s);

/* Issue a credentials file at out (mode 0600) valid for valid_days days and record its
 * client in STATE/clients/ (only the SHA-256 of the secret is kept). endpoint and storage
 * may be NULL: then the ones serve recorded are used (no endpoint at all: OFS_ERR_USAGE).
 * account (may be NULL) names the storage account in storage_account_id; default: ACCOUNT
 * of azure://ACCOUNT, else "offseedlocal". */
int dc_credentials_issue(struct dc_service *s, const char *endpoint, const char *storage,
    const char *account, int valid_days, const char *out, struct ofs_error *err);

/* Check a client id and secret against STATE/clients/. 0 when valid (*expires_at set);
 * -1 unknown client or wrong secret; -2 expired (*expires_at is the expiry). */
int dc_client_check(const struct dc_service *s, const char *client_id, const char *secret,
    int64_t now, int64_t *expires_at);

/* A bearer token for client_id valid until exp (unix seconds). Returns owned string. */
char *dc_token_make(const struct dc_service *s, const char *client_id, int64_t exp);
/* 0 valid, -1 malformed or forged or its client is gone, -2 expired. */
int dc_token_check(const struct dc_service *s, const char *token, int64_t now);

/* --- jobs (jobs.c): pure logic on the persisted job document --- */

/* Stages (properties.status). */
int dc_stage_final(const char *stage);		/* a copy end stage, Cancelled or ShippedToCustomer */
int dc_stage_cancellable(const char *stage);	/* Created, ShippedToAzureDC */

/* Validate a PUT body. 0, or -1 with msg naming the field. */
int dc_job_validate(json_t *body, char *msg, size_t msgsz);
/* A fresh job document for a validated body (body is copied). */
json_t *dc_job_new(const char *name, json_t *body, int64_t now);
/* Enter stage (appends to the stage history, closes the previous one). */
void dc_job_set_stage(json_t *doc, const char *stage, int64_t now);
/* The JobResource answer (new reference). expand adds properties.details. */
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

/* --- storage (store.c) --- */

struct dc_store;

/* Open LOC: "file:DIR" (DIR is created) or "azure://ACCOUNT" (OFFSEED_AZURE_*). */
int dc_store_open(const char *loc, struct dc_store **out, struct ofs_error *err);
void dc_store_free(struct dc_store *st);
/* Human name of the account ("local folder /x" or the account). */
const char *dc_store_account(const struct dc_store *st);
/* Canonical location: "file:/ABSOLUTE/DIR" or "azure://ACCOUNT". */
const char *dc_store_location(const struct dc_store *st);
/* Remove temporary files left by an interrupted import (file: only). */
void dc_store_cleanup(struct dc_store *st);

/* Progress callback: bytes just copied. Returns nonzero to abort (service stopping). */
typedef int (*dc_copy_fn)(void *arg, uint64_t bytes);

/* Import size bytes of the file at path as a page (page != 0) or block blob
 * container/name. When xxh (16 bytes) is given, the bytes read must hash to it (file:
 * only; else OFS_ERR_CORRUPT and nothing is stored). Aborted by fn: OFS_ERR_IO with
 * *aborted set. */
int dc_store_put_file(struct dc_store *st, const char *container, const char *name, int page,
    const char *path, uint64_t size, const uint8_t *xxh, dc_copy_fn fn, void *arg,
    int *aborted, struct ofs_error *err);
/* Store a small block blob from memory (copy logs) and return an owned link to it
 * (file:// URL or http(s) URL) in *link. */
int dc_store_put_bytes(struct dc_store *st, const char *container, const char *name,
    const void *data, size_t len, char **link, struct ofs_error *err);
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

/* --- the running service (server.c, copy.c) --- */

enum dc_fault { DC_FAULT_NONE = 0, DC_FAULT_503, DC_FAULT_429, DC_FAULT_DROP, DC_FAULT_SLOW };

struct dc_job {
	char *name;
	json_t *doc;		/* persisted state; read and written under ctx->mu */
	int worker;		/* a copy worker runs for this job */
	pthread_t thread;
	int joinable;
};

struct dc_ctx {
	pthread_mutex_t mu;
	struct dc_service svc;
	struct dc_store *store;
	char *jobs_dir;
	struct dc_job **jobs;
	size_t njobs;
	char *base_url;			/* http://127.0.0.1:PORT */
	char *min_agent;		/* or NULL */
	enum dc_fault fault;
	long fault_left;		/* -1: every request */
	unsigned slow_ms, copy_delay_ms, page_size;
	int64_t token_lifetime;
	int stopping;
	int copy_threads;
};

/* Job table (server.c). Callers hold ctx->mu. */
struct dc_job *dc_find_job(struct dc_ctx *ctx, const char *name);
/* Persist job->doc to STATE/jobs/NAME.json. */
int dc_save_job(struct dc_ctx *ctx, struct dc_job *job, struct ofs_error *err);
/* Start the copy worker of job if it needs one and none runs (ctx->mu held). */
void dc_kick_job(struct dc_ctx *ctx, struct dc_job *job);

/* The copy worker (copy.c): thread body, arg is a struct dc_worker_arg (freed by it). */
struct dc_worker_arg {
	struct dc_ctx *ctx;
	struct dc_job *job;
};
void *dc_copy_worker(void *arg);

/* Move a job whose disks are all done to its end stage (ctx->mu held, no worker). */
void dc_job_finish(struct dc_ctx *ctx, struct dc_job *job);

/* serve command (server.c). */
int dc_serve(int argc, char **argv);

/* Messages: "offseed-dc: ..." on stderr. */
void dc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
