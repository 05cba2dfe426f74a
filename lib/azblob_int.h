/* What lib/azblob*.c share and nothing else includes (not a public contract): the client
 * and request structures, the request engine of azblob.c that the operations of
 * azblob_ops.c run through, the readers of azblob_xml.c, and azblob_sign.c's encoders. */
#ifndef OFS_AZBLOB_INT_H
#define OFS_AZBLOB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "dynlib.h"

#include "azblob.h"
#include "buf.h"
#include "error.h"

#define OFS_AZB_PARALLEL_MAX 64		/* transfers in flight per client */
#define OFS_AZB_KEY_MAX 256		/* decoded account key bytes */
#define OFS_AZB_LIST_BODY_MAX (64u << 20)	/* a List Blobs answer */

struct ofs_azblob {
	char *origin;		/* "http://127.0.0.1:10000" */
	char *base_path;	/* "" or "/devstoreaccount1" (as given, encoded) */
	char *account;
	uint8_t key[OFS_AZB_KEY_MAX];	/* decoded account key; wiped on free */
	size_t keylen;		/* 0: SAS */
	char *sas;		/* without '?'; NULL with a key */
	char *ca_file;
	int max_tries;
	unsigned retry_base_ms, retry_max_ms;
	int parallel;
	long timeout_s;
	CURLM *multi;
	CURL *easy[OFS_AZB_PARALLEL_MAX];
	uint64_t requests;
	uint64_t rng;
	void (*progress)(void *, uint64_t);
	void *progress_ud;
	struct ofs_ratelimit *limit;
};

/* One REST request and its retry state. */
struct ofs_azb_req {
	struct ofs_azblob *c;
	const char *verb;
	const char *container, *name;	/* name NULL for container requests */
	char *query;			/* encoded, no '?'; owned; may be NULL */
	char hdr[3][192];		/* extra x-ms-* headers ("name: value") */
	int nhdr;
	char label[64];			/* extra context for messages */
	int is_put;
	const uint8_t *mem;		/* body from memory, or */
	int fd;				/* from fd at fd_off when mem is NULL */
	uint64_t fd_off, body_len, pos;
	int read_fail, read_errno;
	struct ofs_buf *sink;		/* 2xx body (GET); NULL: discarded */
	size_t sink_base;
	uint64_t sink_limit;		/* bytes a ranged GET asked for (0: the buffer's max) */
	int sink_over;
	int ranged;			/* a ranged GET: only 206 is its answer */
	struct ofs_buf ebody;		/* error / list body */
	int exists_ok, existed;
	int keep_body;			/* 2xx body into ebody (List Blobs) */
	/* response */
	long status;
	char ecode[96], btype[24], etag[128], md5[64];
	uint64_t clen;
	int has_clen;
	double retry_after;		/* Retry-After in seconds (lib/retry.h); -1: none */
	/* engine */
	CURL *e;
	struct curl_slist *slist;
	char cerr[CURL_ERROR_SIZE];
	int attempts;
	double not_before;
	int result;
	struct ofs_error err;
	struct ofs_azb_req *next_wait;
};

/* --- azblob_sign.c --- */

/* Strict base64 (standard alphabet, padding required, unused bits zero) into out (room for
 * 3*strlen(s)/4 bytes). Returns the decoded length or -1. */
int ofs_azb_b64_decode(const char *s, uint8_t *out, size_t outcap);
/* Percent-encode s (everything but A-Za-z0-9-._~, and '/' when keep_slash). */
int ofs_azb_pct_encode(struct ofs_buf *b, const char *s, int keep_slash);
/* Base64(HMAC-SHA256(key, msg)) into out[OFS_AZBLOB_SIG_LEN]. */
void ofs_azb_sign_raw(const uint8_t *key, size_t keylen, const void *msg, size_t len,
    char *out);

/* --- azblob.c: names and the request engine --- */

/* Check a container name (Azure's rules) and, unless name is NULL, a blob name (1-1024
 * bytes). 0, or OFS_ERR_USAGE in err naming `what` (the request, e.g. "PUT"). */
int ofs_azb_check_names(const char *what, const char *container, const char *name,
    struct ofs_error *err);
/* A request `verb` for container[/name] (name NULL: the container) with no body, no query
 * and no extra header; result OFS_ERR_IO until it completes. The strings are borrowed
 * and must outlive the request. Release with ofs_azb_req_release. */
void ofs_azb_req_init(struct ofs_azb_req *r, struct ofs_azblob *c, const char *verb,
    const char *container, const char *name);
/* Free the query, the header list and the error/list body; r can be initialised again. */
void ofs_azb_req_release(struct ofs_azb_req *r);
/* Add one extra "Name: value" header (at most 3 per request: more aborts, a programming
 * error). */
void ofs_azb_req_header(struct ofs_azb_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Run rs[0..n) (n ≥ 1) with up to c->parallel transfers in flight over the client's
 * connection pool, each retried on its own schedule (back-off, Retry-After) up to
 * c->max_tries attempts. Stops at the first failure: returns its code with err naming the
 * request, and requests not finished keep result OFS_ERR_IO. 0 when all completed. */
int ofs_azb_perform_all(struct ofs_azblob *c, struct ofs_azb_req **rs, size_t n,
    struct ofs_error *err);
/* ofs_azb_perform_all of the single request r. */
int ofs_azb_perform_one(struct ofs_azblob *c, struct ofs_azb_req *r, struct ofs_error *err);

/* --- azblob_ops.c --- */

/* enum ofs_azblob_type of the n bytes s ("BlockBlob", …; UNKNOWN otherwise). */
int ofs_azb_type_from_name(const char *s, size_t n);

/* --- azblob_xml.c --- */

/* The error code and the first line of the message of a failed request: code from the
 * x-ms-error-code header (hdr_code, may be "") else the body's <Code>; msg from the
 * body's <Message>; "" when absent. Both NUL-terminated, cut to fit, control characters
 * replaced by '?' so they print safely. */
void ofs_azb_error_detail(const struct ofs_buf *body, const char *hdr_code, char *code,
    size_t codesz, char *msg, size_t msgsz);

#endif
