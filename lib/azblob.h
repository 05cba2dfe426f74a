/* Azure Blob Storage client (REST over libcurl): SharedKey or SAS authorization, block and
 * page blobs, ranged reads, listing, retries with back-off, parallel uploads. See
 * docs/AZURE.md for the requests it sends and the limits it enforces. */
#ifndef OFS_AZBLOB_H
#define OFS_AZBLOB_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* x-ms-version sent with every request. */
#define OFS_AZBLOB_API_VERSION "2021-08-06"

/* Service limits enforced before any request is made (violations: OFS_ERR_USAGE). */
#define OFS_AZBLOB_PAGE_ALIGN 512u
#define OFS_AZBLOB_PAGE_MAX (4u << 20)			/* bytes per Put Page */
#define OFS_AZBLOB_PAGE_BLOB_MAX (8ull << 40)		/* page blob size */
#define OFS_AZBLOB_BLOCK_MAX (4000ull << 20)		/* bytes per Put Block */
#define OFS_AZBLOB_SINGLE_MAX (5000ull << 20)		/* bytes per single-shot Put Blob */
#define OFS_AZBLOB_BLOCKS_MAX 50000u			/* committed blocks per blob */
#define OFS_AZBLOB_BLOCK_ID_RAW_MAX 64u		/* decoded block id bytes */
#define OFS_AZBLOB_LIST_MAX 5000u			/* maxresults per List Blobs */
#define OFS_AZBLOB_NAME_MAX 1024u			/* blob name characters */

/* Client choices (not service limits). */
#define OFS_AZBLOB_SINGLE_PUT (4u << 20)	/* larger uploads go as blocks */
#define OFS_AZBLOB_BLOCK_SIZE (8u << 20)	/* block size for those (grows past 50,000 blocks) */
#define OFS_AZBLOB_BLOCK_ID_LEN 25		/* ofs_azblob_block_id output incl. NUL */

struct ofs_azblob;

/* Configuration. NULL/0 fields take defaults; ofs_azblob_opts_from_env fills unset fields
 * from the environment first. Strings are copied by ofs_azblob_open. */
struct ofs_azblob_opts {
	const char *endpoint;	/* "https://ACCT.blob.core.windows.net" (default from account) or
				 * path style "http://127.0.0.1:10000/devstoreaccount1" */
	const char *account;	/* NULL: derived from endpoint (last path segment, else the
				 * first host label) */
	const char *key;	/* base64 account key → SharedKey (wins over sas) */
	const char *sas;	/* SAS query string, with or without leading '?' */
	const char *ca_file;	/* PEM bundle for TLS verification (verification is always on) */
	int max_tries;		/* attempts per request incl. the first; default 5 */
	unsigned retry_base_ms;	/* first back-off; doubles per attempt; default 1000 */
	unsigned retry_max_ms;	/* back-off cap (Retry-After is honoured up to 10 min); 30000 */
	int parallel;		/* transfers in flight in the parallel calls; default 4 (max 64) */
	long timeout_s;		/* whole-request timeout; 0 = none (a stall of 60 s aborts) */
};

/* Fill the fields still NULL/0 from OFFSEED_AZURE_ENDPOINT, OFFSEED_AZURE_ACCOUNT,
 * OFFSEED_AZURE_KEY, OFFSEED_AZURE_SAS, OFFSEED_AZURE_CA_FILE, OFFSEED_AZURE_RETRIES
 * (max_tries), OFFSEED_AZURE_RETRY_MS (retry_base_ms), OFFSEED_AZURE_PARALLEL. The strings
 * point into the environment. */
void ofs_azblob_opts_from_env(struct ofs_azblob_opts *o);

/* Create a client. Makes no request. Fails with OFS_ERR_USAGE for a missing/invalid
 * endpoint or account or no credentials, OFS_ERR_AUTH for a key that is not base64 or a
 * SAS without sig= (never quoting either). *out is owned by the caller
 * (ofs_azblob_free). A client is used by one thread at a time. */
int ofs_azblob_open(const struct ofs_azblob_opts *o, struct ofs_azblob **out,
    struct ofs_error *err);
/* Close connections and wipe the key. NULL is a no-op. */
void ofs_azblob_free(struct ofs_azblob *c);

/* Account name in use (derived or given). */
const char *ofs_azblob_account(const struct ofs_azblob *c);
/* HTTP attempts made so far (each retry counts): lets tests check "no request was sent". */
uint64_t ofs_azblob_requests(const struct ofs_azblob *c);
/* Called after each successful upload request with its body size (progress); may be NULL. */
void ofs_azblob_set_progress(struct ofs_azblob *c, void (*fn)(void *ud, uint64_t bytes),
    void *ud);

/* Pace every request body through l (shared with other clients; NULL: no limit). */
struct ofs_ratelimit;
void ofs_azblob_set_ratelimit(struct ofs_azblob *c, struct ofs_ratelimit *l);

/*
 * Every operation below: container names follow Azure's rules (3-63 of [a-z0-9-], starting
 * with a letter or digit, no "--"); blob names are 1-1024 bytes, no NUL. Results: 0 or
 * - OFS_ERR_USAGE: a client-side limit was broken (no request made);
 * - OFS_ERR_NOTFOUND: 404 (container or blob missing);
 * - OFS_ERR_AUTH: 401/403 (bad key, SAS without the permission) or a proxy 407;
 * - OFS_ERR_NETWORK: 408/429/500/502/503/504 or connection failures still failing after
 *   max_tries attempts (back-off with jitter, Retry-After honoured), or a TLS failure;
 * - OFS_ERR_IO: any other refusal, or a local read error; OFS_ERR_CORRUPT: a response
 *   that does not parse or does not fit the caller's buffer.
 * err names the request: "PUT seed/disk0.vhd: 403 AuthenticationFailed: Server failed…".
 */

/* Create Container. *created (may be NULL) is 1 when new, 0 when it already existed
 * (which is not an error). */
int ofs_azblob_create_container(struct ofs_azblob *c, const char *container, int *created,
    struct ofs_error *err);

/* Upload a block blob from memory, replacing any existing blob: one Put Blob up to
 * OFS_AZBLOB_SINGLE_PUT, else parallel Put Block (OFS_AZBLOB_BLOCK_SIZE) + Put Block List. */
int ofs_azblob_put_blob(struct ofs_azblob *c, const char *container, const char *name,
    const void *data, size_t len, struct ofs_error *err);
/* Same, streaming size bytes from fd at offset 0 (pread; the fd offset is not used).
 * A short file gives OFS_ERR_IO. */
int ofs_azblob_put_blob_fd(struct ofs_azblob *c, const char *container, const char *name,
    int fd, uint64_t size, struct ofs_error *err);

/* Block id number i (0 ≤ i < 10^10) as base64 text of 18 bytes ("offseed-%010u"), so all
 * ids of a blob have the same decoded length as the service requires. */
void ofs_azblob_block_id(uint64_t i, char out[OFS_AZBLOB_BLOCK_ID_LEN]);
/* Is id canonical base64 of 1..64 bytes? Returns the decoded length or -1. */
int ofs_azblob_block_id_check(const char *id);
/* Put Block: len ≤ OFS_AZBLOB_BLOCK_MAX; id as ofs_azblob_block_id_check accepts. */
int ofs_azblob_put_block(struct ofs_azblob *c, const char *container, const char *name,
    const char *block_id, const void *data, size_t len, struct ofs_error *err);
/* Put Block List committing ids[0..n) (as <Latest>) in order: 1 ≤ n ≤ 50,000, each id valid
 * and all of the same decoded length. */
int ofs_azblob_put_block_list(struct ofs_azblob *c, const char *container, const char *name,
    const char *const *ids, size_t n, struct ofs_error *err);

/* Create (or reset) a zero-filled page blob of size bytes (multiple of 512, ≤ 8 TiB). */
int ofs_azblob_create_page_blob(struct ofs_azblob *c, const char *container,
    const char *name, uint64_t size, struct ofs_error *err);
/* Put Page (update) of len bytes at off: both multiples of 512, 0 < len ≤ 4 MiB. */
int ofs_azblob_put_page(struct ofs_azblob *c, const char *container, const char *name,
    uint64_t off, const void *data, size_t len, struct ofs_error *err);
/* Upload size bytes of fd (size a multiple of 512) as page blob name: create it, then put
 * every 4 MiB range that is not all zeros, `parallel` at a time. *sent (may be NULL) gets
 * the bytes actually uploaded. */
int ofs_azblob_put_page_blob_fd(struct ofs_azblob *c, const char *container,
    const char *name, int fd, uint64_t size, uint64_t *sent, struct ofs_error *err);

/* One upload of a parallel batch. Body from data, or when data is NULL from fd at
 * fd_offset (pread). result is set to 0 when the job completed. */
enum ofs_azblob_op {
	OFS_AZBLOB_PUT_BLOB = 1,	/* single-shot block blob, len ≤ OFS_AZBLOB_SINGLE_MAX */
	OFS_AZBLOB_PUT_BLOCK,		/* block_id, len ≤ OFS_AZBLOB_BLOCK_MAX */
	OFS_AZBLOB_PUT_PAGE,		/* offset, len as ofs_azblob_put_page */
};
struct ofs_azblob_job {
	enum ofs_azblob_op op;
	const char *container, *name;
	const char *block_id;
	uint64_t offset;
	const void *data;
	int fd;
	uint64_t fd_offset;
	uint64_t len;
	int result;		/* out: 0 done, else OFS_ERR_* (failed or not run) */
};
/* Run jobs[0..n) with up to `parallel` transfers in flight over one connection pool
 * (curl multi), each retried like a single request. All jobs are checked against the
 * limits before the first request. Stops at the first failure (err names that request);
 * jobs not run keep result OFS_ERR_IO. */
int ofs_azblob_put_many(struct ofs_azblob *c, struct ofs_azblob_job *jobs, size_t n,
    struct ofs_error *err);

/* Get Blob: append bytes [off, off+len) (len 0: to the end) to out; the service clips the
 * range at the blob end. A body larger than out->max gives OFS_ERR_CORRUPT. On failure out
 * keeps its previous length. */
int ofs_azblob_get(struct ofs_azblob *c, const char *container, const char *name,
    uint64_t off, uint64_t len, struct ofs_buf *out, struct ofs_error *err);

enum ofs_azblob_type {
	OFS_AZBLOB_TYPE_UNKNOWN = 0,
	OFS_AZBLOB_TYPE_BLOCK,
	OFS_AZBLOB_TYPE_PAGE,
	OFS_AZBLOB_TYPE_APPEND,
};
/* "BlockBlob", "PageBlob", "AppendBlob", "unknown". */
const char *ofs_azblob_type_name(int type);

struct ofs_azblob_props {
	uint64_t size;
	int type;		/* enum ofs_azblob_type */
	char etag[128];		/* as sent, with quotes */
	char content_md5[64];	/* base64, "" if none */
};
/* Get Blob Properties (HEAD). */
int ofs_azblob_props(struct ofs_azblob *c, const char *container, const char *name,
    struct ofs_azblob_props *p, struct ofs_error *err);

/* Delete Blob (with its snapshots). */
int ofs_azblob_delete(struct ofs_azblob *c, const char *container, const char *name,
    struct ofs_error *err);

struct ofs_azblob_item {
	char *name;		/* owned */
	uint64_t size;
	int type;		/* enum ofs_azblob_type */
};
struct ofs_azblob_list {
	struct ofs_azblob_item *items;
	size_t n;
	char *next_marker;	/* owned; NULL when there are no more pages */
};
#define OFS_AZBLOB_LIST_INIT { NULL, 0, NULL }
void ofs_azblob_list_release(struct ofs_azblob_list *l);

/* List Blobs, one page: names starting with prefix (NULL: all), continuing at marker (NULL:
 * start), at most maxresults (1..5000; 0 = service default). Appends items to out and
 * replaces out->next_marker. */
int ofs_azblob_list(struct ofs_azblob *c, const char *container, const char *prefix,
    const char *marker, unsigned maxresults, struct ofs_azblob_list *out,
    struct ofs_error *err);
/* All pages (following NextMarker); out->next_marker ends NULL. */
int ofs_azblob_list_all(struct ofs_azblob *c, const char *container, const char *prefix,
    struct ofs_azblob_list *out, struct ofs_error *err);
/* Parse a List Blobs response body (XML EnumerationResults): append its blobs, set
 * next_marker. OFS_ERR_CORRUPT naming the problem for malformed input. */
int ofs_azblob_list_parse(const void *xml, size_t len, struct ofs_azblob_list *out,
    struct ofs_error *err);

/* --- signing, exposed for tests and for callers building their own requests --- */

/* SharedKey string-to-sign (Blob service, version ≥ 2015-02-21) into out (appended, NUL
 * terminated): verb, the standard headers found in headers[] ("Name: value", case-
 * insensitive names; Content-Length "0" counts as empty), the x-ms-* headers canonicalized,
 * and the resource "/" account path plus the query parameters (query: raw encoded, without
 * '?', may be NULL) decoded and sorted. path is the URL path as sent (percent-encoded).
 * OFS_ERR_USAGE for a malformed header or query. */
int ofs_azblob_string_to_sign(struct ofs_buf *out, const char *verb, const char *account,
    const char *path, const char *query, const char *const *headers, size_t nheaders,
    struct ofs_error *err);
/* Base64(HMAC-SHA256(base64-decoded key_b64, msg)) into out (NUL terminated).
 * OFS_ERR_AUTH when the key is not base64. */
#define OFS_AZBLOB_SIG_LEN 45
int ofs_azblob_sign(const char *key_b64, const void *msg, size_t len,
    char out[OFS_AZBLOB_SIG_LEN], struct ofs_error *err);

/* Service SAS (sv 2020-12-06, https and http, no start time) for a container (name NULL)
 * or one blob, with permissions perms (e.g. "rcwdl") until expiry (unix seconds), signed
 * with the account key. Appends the query string (no '?') to out. */
int ofs_azblob_make_sas(const char *account, const char *key_b64, const char *container,
    const char *name, const char *perms, int64_t expiry, struct ofs_buf *out,
    struct ofs_error *err);

/* The URL a request for container[/name] with the given encoded query (may be NULL)
 * goes to, SAS appended when the client uses one. Appended to out, NUL terminated.
 * Contains the SAS: never print it. Returns 0, or OFS_ERR_LIMIT at out's maximum. */
__attribute__((warn_unused_result))
int ofs_azblob_url(const struct ofs_azblob *c, const char *container, const char *name,
    const char *query, struct ofs_buf *out);

#endif
