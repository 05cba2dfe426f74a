/* The Blob service operations: containers, block blobs (single shot, or parallel blocks and
 * a block list), page blobs (zero ranges skipped), ranged reads, properties, deletes and
 * listing, each checked against the service limits and run through the request engine
 * (azblob.c). docs/AZURE.md lists the requests. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "azblob.h"
#include "azblob_int.h"
#include "util.h"

/* ---------- blob types ---------- */

const char *
ofs_azblob_type_name(int type)
{
	switch (type) {
	case OFS_AZBLOB_TYPE_BLOCK: return "BlockBlob";
	case OFS_AZBLOB_TYPE_PAGE: return "PageBlob";
	case OFS_AZBLOB_TYPE_APPEND: return "AppendBlob";
	default: return "unknown";
	}
}

int
ofs_azb_type_from_name(const char *s, size_t n)
{
	if (n == 9 && memcmp(s, "BlockBlob", 9) == 0)
		return OFS_AZBLOB_TYPE_BLOCK;
	if (n == 8 && memcmp(s, "PageBlob", 8) == 0)
		return OFS_AZBLOB_TYPE_PAGE;
	if (n == 10 && memcmp(s, "AppendBlob", 10) == 0)
		return OFS_AZBLOB_TYPE_APPEND;
	return OFS_AZBLOB_TYPE_UNKNOWN;
}

/* ---------- operations ---------- */

int
ofs_azblob_create_container(struct ofs_azblob *c, const char *container, int *created,
    struct ofs_error *err)
{
	struct ofs_azb_req r;
	int rc;

	if (created)
		*created = 0;
	if ((rc = ofs_azb_check_names("PUT", container, NULL, err)) != 0)
		return rc;
	ofs_azb_req_init(&r, c, "PUT", container, NULL);
	r.query = ofs_xstrdup("restype=container");
	r.exists_ok = 1;
	if ((rc = ofs_azb_perform_one(c, &r, err)) == 0 && created)
		*created = !r.existed;
	ofs_azb_req_release(&r);
	return rc;
}

static int
block_id_len(const char *id)
{
	uint8_t raw[OFS_AZBLOB_BLOCK_ID_RAW_MAX + 3];
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > (OFS_AZBLOB_BLOCK_ID_RAW_MAX + 2) / 3 * 4)
		return -1;
	return ofs_azb_b64_decode(id, raw, OFS_AZBLOB_BLOCK_ID_RAW_MAX);
}

int
ofs_azblob_block_id_check(const char *id)
{
	return block_id_len(id);
}

void
ofs_azblob_block_id(uint64_t i, char out[OFS_AZBLOB_BLOCK_ID_LEN])
{
	char raw[32];

	snprintf(raw, sizeof(raw), "offseed-%010" PRIu64, (uint64_t)(i % 10000000000ull));
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)raw, 18);
}

/* Validate a job against the limits; fill r. */
static int
job_req(struct ofs_azblob *c, const struct ofs_azblob_job *j, struct ofs_azb_req *r,
    struct ofs_error *err)
{
	struct ofs_buf q = OFS_BUF_INIT(0);
	const char *what = j->op == OFS_AZBLOB_PUT_PAGE ? "Put Page" :
	    j->op == OFS_AZBLOB_PUT_BLOCK ? "Put Block" : "Put Blob";
	int rc;

	if ((rc = ofs_azb_check_names(what, j->container, j->name ? j->name : "", err)) != 0)
		return rc;
	if (j->data == NULL && j->fd < 0 && j->len > 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "%s %s/%s: no data source", what,
		    j->container, j->name);
	switch (j->op) {
	case OFS_AZBLOB_PUT_BLOB:
		if (j->len > OFS_AZBLOB_SINGLE_MAX)
			return ofs_err_set(err, OFS_ERR_USAGE, "Put Blob %s/%s: %" PRIu64
			    " bytes is more than the single-shot limit of %llu", j->container,
			    j->name, j->len, (unsigned long long)OFS_AZBLOB_SINGLE_MAX);
		ofs_azb_req_init(r, c, "PUT", j->container, j->name);
		ofs_azb_req_header(r, "x-ms-blob-type: BlockBlob");
		break;
	case OFS_AZBLOB_PUT_BLOCK:
		if (block_id_len(j->block_id) < 0)
			return ofs_err_set(err, OFS_ERR_USAGE, "Put Block %s/%s: block id is not "
			    "base64 of 1-64 bytes", j->container, j->name);
		if (j->len > OFS_AZBLOB_BLOCK_MAX)
			return ofs_err_set(err, OFS_ERR_USAGE, "Put Block %s/%s: %" PRIu64
			    " bytes is more than the block limit of %llu", j->container, j->name,
			    j->len, (unsigned long long)OFS_AZBLOB_BLOCK_MAX);
		/* q is unbounded and the id at most 88 bytes: cstr fails only past SIZE_MAX */
		ofs_buf_puts(&q, "comp=block&blockid=");
		(void)ofs_azb_pct_encode(&q, j->block_id, 0);	/* marks q on failure */
		if (ofs_buf_cstr(&q) != 0) {
			ofs_buf_release(&q);
			return ofs_err_set(err, OFS_ERR_LIMIT, "Put Block %s/%s: query too long",
			    j->container, j->name);
		}
		ofs_azb_req_init(r, c, "PUT", j->container, j->name);
		r->query = (char *)ofs_buf_detach(&q, NULL);
		snprintf(r->label, sizeof(r->label), "(block %.40s)", j->block_id);
		break;
	case OFS_AZBLOB_PUT_PAGE:
		if (j->len == 0 || j->len > OFS_AZBLOB_PAGE_MAX || j->len % OFS_AZBLOB_PAGE_ALIGN ||
		    j->offset % OFS_AZBLOB_PAGE_ALIGN || j->offset > OFS_AZBLOB_PAGE_BLOB_MAX)
			return ofs_err_set(err, OFS_ERR_USAGE, "Put Page %s/%s at %" PRIu64 ": %"
			    PRIu64 " bytes; pages must be 512-aligned and 1-%u bytes", j->container,
			    j->name, j->offset, j->len, OFS_AZBLOB_PAGE_MAX);
		ofs_azb_req_init(r, c, "PUT", j->container, j->name);
		r->query = ofs_xstrdup("comp=page");
		ofs_azb_req_header(r, "x-ms-page-write: update");
		ofs_azb_req_header(r, "x-ms-range: bytes=%" PRIu64 "-%" PRIu64, j->offset,
		    j->offset + j->len - 1);
		snprintf(r->label, sizeof(r->label), "(page %" PRIu64 "+%" PRIu64 ")", j->offset,
		    j->len);
		break;
	default:
		return ofs_err_set(err, OFS_ERR_USAGE, "unknown upload operation %d", (int)j->op);
	}
	r->mem = j->data;
	r->fd = j->fd;
	r->fd_off = j->fd_offset;
	r->body_len = j->len;
	return 0;
}

int
ofs_azblob_put_many(struct ofs_azblob *c, struct ofs_azblob_job *jobs, size_t n,
    struct ofs_error *err)
{
	struct ofs_azb_req *reqs = NULL, **rs = NULL;
	size_t i, ninit = 0;
	int r = 0;

	for (i = 0; i < n; i++)
		jobs[i].result = OFS_ERR_IO;
	if (n == 0)
		return 0;
	reqs = ofs_xcalloc(n, sizeof(*reqs));
	rs = ofs_xcalloc(n, sizeof(*rs));
	for (ninit = 0; ninit < n; ninit++) {
		if ((r = job_req(c, &jobs[ninit], &reqs[ninit], err)) != 0)
			goto out;
		rs[ninit] = &reqs[ninit];
	}
	r = ofs_azb_perform_all(c, rs, n, err);
out:
	for (i = 0; i < ninit; i++) {
		jobs[i].result = reqs[i].result;
		ofs_azb_req_release(&reqs[i]);
	}
	free(reqs);
	free(rs);
	return r;
}

static int
put_one(struct ofs_azblob *c, const struct ofs_azblob_job *j, struct ofs_error *err)
{
	struct ofs_azblob_job copy = *j;

	return ofs_azblob_put_many(c, &copy, 1, err);
}

/* Upload data/fd of size bytes: one Put Blob, or blocks + block list. */
static int
put_blob_any(struct ofs_azblob *c, const char *container, const char *name,
    const void *data, int fd, uint64_t size, struct ofs_error *err)
{
	struct ofs_azblob_job *jobs = NULL, one = { 0 };
	char (*ids)[OFS_AZBLOB_BLOCK_ID_LEN] = NULL;
	const char **idp = NULL;
	uint64_t bs = OFS_AZBLOB_BLOCK_SIZE, nb, i;
	int r;

	if ((r = ofs_azb_check_names("PUT", container, name, err)) != 0)
		return r;
	if (size <= OFS_AZBLOB_SINGLE_PUT) {
		one.op = OFS_AZBLOB_PUT_BLOB;
		one.container = container;
		one.name = name;
		one.data = data;
		one.fd = fd;
		one.len = size;
		return put_one(c, &one, err);
	}
	nb = (size + bs - 1) / bs;
	if (nb > OFS_AZBLOB_BLOCKS_MAX) {
		bs = (size + OFS_AZBLOB_BLOCKS_MAX - 1) / OFS_AZBLOB_BLOCKS_MAX;
		bs = (bs + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
		if (bs > OFS_AZBLOB_BLOCK_MAX)
			return ofs_err_set(err, OFS_ERR_USAGE, "PUT %s/%s: %" PRIu64
			    " bytes is more than a block blob can hold", container, name, size);
		nb = (size + bs - 1) / bs;
	}
	jobs = ofs_xcalloc(nb, sizeof(*jobs));
	ids = ofs_xcalloc(nb, sizeof(*ids));
	idp = ofs_xcalloc(nb, sizeof(*idp));
	for (i = 0; i < nb; i++) {
		ofs_azblob_block_id(i, ids[i]);
		idp[i] = ids[i];
		jobs[i].op = OFS_AZBLOB_PUT_BLOCK;
		jobs[i].container = container;
		jobs[i].name = name;
		jobs[i].block_id = ids[i];
		jobs[i].len = i + 1 < nb ? bs : size - i * bs;
		if (data) {
			jobs[i].data = (const uint8_t *)data + i * bs;
			jobs[i].fd = -1;
		} else {
			jobs[i].fd = fd;
			jobs[i].fd_offset = i * bs;
		}
	}
	if ((r = ofs_azblob_put_many(c, jobs, (size_t)nb, err)) != 0)
		goto out;
	r = ofs_azblob_put_block_list(c, container, name, idp, (size_t)nb, err);
out:
	free(jobs);
	free(ids);
	free(idp);
	return r;
}

int
ofs_azblob_put_blob(struct ofs_azblob *c, const char *container, const char *name,
    const void *data, size_t len, struct ofs_error *err)
{
	if (data == NULL && len > 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "PUT %s/%s: no data", container, name);
	return put_blob_any(c, container, name, data ? data : "", -1, len, err);
}

int
ofs_azblob_put_blob_fd(struct ofs_azblob *c, const char *container, const char *name,
    int fd, uint64_t size, struct ofs_error *err)
{
	if (fd < 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "PUT %s/%s: no file", container, name);
	return put_blob_any(c, container, name, NULL, fd, size, err);
}

/* Send j (op, container, name and its own fields set) with len bytes from memory; data
 * may be NULL only for an empty body. */
static int
put_memory(struct ofs_azblob *c, struct ofs_azblob_job *j, const void *data, size_t len,
    struct ofs_error *err)
{
	if (data == NULL && len > 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "PUT %s/%s: no data", j->container, j->name);
	j->data = data ? data : "";
	j->fd = -1;
	j->len = data ? len : 0;
	return put_one(c, j, err);
}

int
ofs_azblob_put_block(struct ofs_azblob *c, const char *container, const char *name,
    const char *block_id, const void *data, size_t len, struct ofs_error *err)
{
	struct ofs_azblob_job j = { 0 };

	j.op = OFS_AZBLOB_PUT_BLOCK;
	j.container = container;
	j.name = name;
	j.block_id = block_id;
	return put_memory(c, &j, data, len, err);
}

int
ofs_azblob_put_block_list(struct ofs_azblob *c, const char *container, const char *name,
    const char *const *ids, size_t n, struct ofs_error *err)
{
	struct ofs_buf body = OFS_BUF_INIT(0);
	struct ofs_azb_req r;
	size_t i;
	int rc, len0 = -1;

	if ((rc = ofs_azb_check_names("Put Block List", container, name, err)) != 0)
		return rc;
	if (n == 0 || n > OFS_AZBLOB_BLOCKS_MAX)
		return ofs_err_set(err, OFS_ERR_USAGE, "Put Block List %s/%s: %zu blocks "
		    "(must be 1-%u)", container, name, n, OFS_AZBLOB_BLOCKS_MAX);
	for (i = 0; i < n; i++) {
		int l = block_id_len(ids[i]);

		if (l < 0)
			return ofs_err_set(err, OFS_ERR_USAGE, "Put Block List %s/%s: block id %zu "
			    "is not base64 of 1-64 bytes", container, name, i);
		if (len0 >= 0 && l != len0)
			return ofs_err_set(err, OFS_ERR_USAGE, "Put Block List %s/%s: block ids "
			    "differ in length (%d and %d bytes)", container, name, len0, l);
		len0 = l;
	}
	ofs_buf_puts(&body, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	for (i = 0; i < n; i++)
		ofs_buf_putf(&body, "<Latest>%s</Latest>", ids[i]);	/* base64: no escaping */
	ofs_buf_puts(&body, "</BlockList>");
	if ((rc = ofs_buf_check(&body)) != 0) {
		ofs_buf_release(&body);
		return ofs_err_set(err, rc, "Put Block List %s/%s: block list of %zu is too "
		    "large", container, name, n);
	}
	ofs_azb_req_init(&r, c, "PUT", container, name);
	r.query = ofs_xstrdup("comp=blocklist");
	snprintf(r.label, sizeof(r.label), "(block list of %zu)", n);
	r.mem = body.data;
	r.body_len = body.len;
	rc = ofs_azb_perform_one(c, &r, err);
	ofs_azb_req_release(&r);
	ofs_buf_release(&body);
	return rc;
}

int
ofs_azblob_create_page_blob(struct ofs_azblob *c, const char *container, const char *name,
    uint64_t size, struct ofs_error *err)
{
	struct ofs_azb_req r;
	int rc;

	if ((rc = ofs_azb_check_names("PUT", container, name, err)) != 0)
		return rc;
	if (size % OFS_AZBLOB_PAGE_ALIGN || size > OFS_AZBLOB_PAGE_BLOB_MAX)
		return ofs_err_set(err, OFS_ERR_USAGE, "PUT %s/%s: a page blob of %" PRIu64
		    " bytes is not possible (multiple of 512, at most 8 TiB)", container, name,
		    size);
	ofs_azb_req_init(&r, c, "PUT", container, name);
	ofs_azb_req_header(&r, "x-ms-blob-type: PageBlob");
	ofs_azb_req_header(&r, "x-ms-blob-content-length: %" PRIu64, size);
	rc = ofs_azb_perform_one(c, &r, err);
	ofs_azb_req_release(&r);
	return rc;
}

int
ofs_azblob_put_page(struct ofs_azblob *c, const char *container, const char *name,
    uint64_t off, const void *data, size_t len, struct ofs_error *err)
{
	struct ofs_azblob_job j = { 0 };

	j.op = OFS_AZBLOB_PUT_PAGE;
	j.container = container;
	j.name = name;
	j.offset = off;
	return put_memory(c, &j, data, len, err);
}

static int
all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

int
ofs_azblob_put_page_blob_fd(struct ofs_azblob *c, const char *container, const char *name,
    int fd, uint64_t size, uint64_t *sent, struct ofs_error *err)
{
	struct ofs_azblob_job *jobs = NULL;
	uint8_t **bufs = NULL;
	size_t nbuf, i;
	uint64_t off = 0;
	int r;

	if (sent)
		*sent = 0;
	if ((r = ofs_azblob_create_page_blob(c, container, name, size, err)) != 0)
		return r;
	nbuf = (size_t)c->parallel * 2;
	if ((uint64_t)nbuf > (size + OFS_AZBLOB_PAGE_MAX - 1) / OFS_AZBLOB_PAGE_MAX)
		nbuf = (size_t)((size + OFS_AZBLOB_PAGE_MAX - 1) / OFS_AZBLOB_PAGE_MAX);
	bufs = ofs_xcalloc(nbuf ? nbuf : 1, sizeof(*bufs));
	jobs = ofs_xcalloc(nbuf ? nbuf : 1, sizeof(*jobs));
	while (off < size) {
		size_t nj = 0;
		uint64_t batch = 0;

		for (i = 0; i < nbuf && off < size; i++) {
			size_t len = size - off < OFS_AZBLOB_PAGE_MAX ? (size_t)(size - off) :
			    OFS_AZBLOB_PAGE_MAX;
			int e;

			if (bufs[i] == NULL)
				bufs[i] = ofs_xmalloc(OFS_AZBLOB_PAGE_MAX);
			if ((e = ofs_pread_all(fd, bufs[i], len, off)) != 0) {
				r = e == OFS_READ_EOF ? ofs_err_set(err, OFS_ERR_IO, "PUT %s/%s: the file "
				    "ended before %" PRIu64 " bytes", container, name, size) :
				    ofs_err_sys(err, OFS_ERR_IO, -e, "PUT %s/%s: cannot read at %"
				    PRIu64, container, name, off);
				goto out;
			}
			if (!all_zero(bufs[i], len)) {
				memset(&jobs[nj], 0, sizeof(jobs[nj]));
				jobs[nj].op = OFS_AZBLOB_PUT_PAGE;
				jobs[nj].container = container;
				jobs[nj].name = name;
				jobs[nj].offset = off;
				jobs[nj].data = bufs[i];
				jobs[nj].fd = -1;
				jobs[nj].len = len;
				nj++;
				batch += len;
			}
			off += len;
		}
		if (nj && (r = ofs_azblob_put_many(c, jobs, nj, err)) != 0)
			goto out;
		if (sent)
			*sent += batch;
	}
	r = 0;
out:
	for (i = 0; i < nbuf; i++)
		free(bufs[i]);
	free(bufs);
	free(jobs);
	return r;
}

int
ofs_azblob_get(struct ofs_azblob *c, const char *container, const char *name, uint64_t off,
    uint64_t len, struct ofs_buf *out, struct ofs_error *err)
{
	struct ofs_azb_req r;
	int rc;

	if ((rc = ofs_azb_check_names("GET", container, name, err)) != 0)
		return rc;
	if (len > 0 && off + len < off)
		return ofs_err_set(err, OFS_ERR_USAGE, "GET %s/%s: range overflows", container,
		    name);
	ofs_azb_req_init(&r, c, "GET", container, name);
	if (len > 0)
		ofs_azb_req_header(&r, "x-ms-range: bytes=%" PRIu64 "-%" PRIu64, off,
		    off + len - 1);
	else if (off > 0)
		ofs_azb_req_header(&r, "x-ms-range: bytes=%" PRIu64 "-", off);
	r.ranged = off > 0 || len > 0;
	r.sink_limit = len;
	if (off > 0 || len > 0)
		snprintf(r.label, sizeof(r.label), "(range %" PRIu64 "+%" PRIu64 ")", off, len);
	r.sink = out;
	r.sink_base = out->len;
	rc = ofs_azb_perform_one(c, &r, err);
	if (rc != 0)
		ofs_buf_truncate(out, r.sink_base);	/* out as it was, unmarked */
	ofs_azb_req_release(&r);
	return rc;
}

int
ofs_azblob_props(struct ofs_azblob *c, const char *container, const char *name,
    struct ofs_azblob_props *p, struct ofs_error *err)
{
	struct ofs_azb_req r;
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = ofs_azb_check_names("HEAD", container, name, err)) != 0)
		return rc;
	ofs_azb_req_init(&r, c, "HEAD", container, name);
	if ((rc = ofs_azb_perform_one(c, &r, err)) == 0) {
		if (!r.has_clen)
			rc = ofs_err_set(err, OFS_ERR_CORRUPT, "HEAD %s/%s: no Content-Length in "
			    "the answer", container, name);
		p->size = r.clen;
		p->type = ofs_azb_type_from_name(r.btype, strlen(r.btype));
		snprintf(p->etag, sizeof(p->etag), "%s", r.etag);
		snprintf(p->content_md5, sizeof(p->content_md5), "%s", r.md5);
	}
	ofs_azb_req_release(&r);
	return rc;
}

int
ofs_azblob_delete(struct ofs_azblob *c, const char *container, const char *name,
    struct ofs_error *err)
{
	struct ofs_azb_req r;
	int rc;

	if ((rc = ofs_azb_check_names("DELETE", container, name, err)) != 0)
		return rc;
	ofs_azb_req_init(&r, c, "DELETE", container, name);
	ofs_azb_req_header(&r, "x-ms-delete-snapshots: include");
	rc = ofs_azb_perform_one(c, &r, err);
	ofs_azb_req_release(&r);
	return rc;
}

/* ---------- listing ---------- */

void
ofs_azblob_list_release(struct ofs_azblob_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->items[i].name);
	free(l->items);
	free(l->next_marker);
	l->items = NULL;
	l->n = 0;
	l->next_marker = NULL;
}

int
ofs_azblob_list(struct ofs_azblob *c, const char *container, const char *prefix,
    const char *marker, unsigned maxresults, struct ofs_azblob_list *out,
    struct ofs_error *err)
{
	struct ofs_buf q = OFS_BUF_INIT(0);
	struct ofs_azb_req r;
	int rc;

	if ((rc = ofs_azb_check_names("GET", container, NULL, err)) != 0)
		return rc;
	if (maxresults > OFS_AZBLOB_LIST_MAX)
		return ofs_err_set(err, OFS_ERR_USAGE, "List Blobs %s: maxresults %u is more than %u",
		    container, maxresults, OFS_AZBLOB_LIST_MAX);
	if (prefix && strlen(prefix) > OFS_AZBLOB_NAME_MAX)
		return ofs_err_set(err, OFS_ERR_USAGE, "List Blobs %s: prefix too long", container);
	/* a failed put or encode marks q, and then cstr fails (q is unbounded) */
	ofs_buf_puts(&q, "restype=container&comp=list");
	if (prefix && *prefix) {
		ofs_buf_puts(&q, "&prefix=");
		(void)ofs_azb_pct_encode(&q, prefix, 0);
	}
	if (marker && *marker) {
		ofs_buf_puts(&q, "&marker=");
		(void)ofs_azb_pct_encode(&q, marker, 0);
	}
	if (maxresults)
		ofs_buf_putf(&q, "&maxresults=%u", maxresults);
	if ((rc = ofs_buf_cstr(&q)) != 0) {
		ofs_buf_release(&q);
		return ofs_err_set(err, rc, "List Blobs %s: query too long", container);
	}
	ofs_azb_req_init(&r, c, "GET", container, NULL);
	r.ebody.max = OFS_AZB_LIST_BODY_MAX;	/* the 2xx body lands in ebody */
	r.keep_body = 1;
	r.query = (char *)ofs_buf_detach(&q, NULL);
	snprintf(r.label, sizeof(r.label), "(list)");
	if ((rc = ofs_azb_perform_one(c, &r, err)) == 0 &&
	    (rc = ofs_azblob_list_parse(r.ebody.data, r.ebody.len, out, err)) != 0)
		ofs_err_wrap(err, "GET %s (list)", container);
	ofs_azb_req_release(&r);
	return rc;
}

int
ofs_azblob_list_all(struct ofs_azblob *c, const char *container, const char *prefix,
    struct ofs_azblob_list *out, struct ofs_error *err)
{
	char *marker = NULL;
	int r;

	do {
		free(marker);
		marker = out->next_marker;
		out->next_marker = NULL;	/* transferred */
		if ((r = ofs_azblob_list(c, container, prefix, marker, 0, out, err)) != 0)
			break;
	} while (out->next_marker != NULL);
	free(marker);
	return r;
}

