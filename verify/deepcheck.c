/* Deep verification: read every pack, open every blob, walk every snapshot. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "deepcheck.h"
#include "pack.h"
#include "util.h"

#define MAX_PACK (1ULL << 30)

struct bucket_ent {
	uint8_t id[OFS_ID_LEN];
	struct ofs_blob_ref ref;
};

struct bucket {
	struct bucket_ent *e;
	size_t n, cap;
};

/* Tree blobs decrypted during the data pass, kept for the snapshot walk (trees are small;
 * reading them a second time from the repository cost as much as the whole data pass). */
struct tree_ent {
	uint8_t id[OFS_ID_LEN];
	uint8_t *raw;
	size_t len;
};

struct deep {
	struct ofs_repo *r;
	struct ofs_progress *pr;
	ofs_deep_cb cb;
	void *ud;
	struct ofs_deep_stats *st;
	double subset;
	pthread_mutex_t mu;
	size_t next_pack;
	struct ofs_idx *bad;	/* ids of blobs found damaged */
	struct bucket *buckets;	/* blobs grouped by pack */
	struct tree_ent *trees;	/* sorted by id after the data pass */
	size_t ntrees, captrees;
	int fatal;
	struct ofs_error fatal_err;
};

char *
ofs_path_printable(const uint8_t *p, size_t len)
{
	struct ofs_buf b = OFS_BUF_INIT(0);

	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\')
			ofs_buf_addf(&b, "\\x%02x", p[i]);
		else
			ofs_buf_addc(&b, p[i]);
	}
	ofs_buf_addc(&b, 0);
	return (char *)ofs_buf_detach(&b, NULL);
}

static void
report(struct deep *d, int kind, const char *object, const char *path, const char *detail)
{
	struct ofs_deep_finding f = { kind, object, path, detail };

	pthread_mutex_lock(&d->mu);
	d->st->findings++;
	if (d->cb != NULL)
		d->cb(&f, d->ud);
	pthread_mutex_unlock(&d->mu);
}

static void
mark_bad(struct deep *d, const uint8_t id[OFS_ID_LEN])
{
	struct ofs_blob_ref dummy = { 0, 0, 0, 0, 0 };

	pthread_mutex_lock(&d->mu);
	ofs_idx_add_blob(d->bad, id, &dummy);
	pthread_mutex_unlock(&d->mu);
}

static void
pack_location(const struct ofs_idx_pack *p, char *name, size_t namesz, uint64_t *off)
{
	char cname[64];

	if (p->loc.kind == OFS_LOC_CONTAINER) {
		ofs_container_name(p->loc.set, p->loc.seq, cname, sizeof(cname));
		snprintf(name, namesz, "containers/%s", cname);
		*off = p->loc.offset;
	} else {
		ofs_loose_name(p->id, name, namesz);
		*off = 0;
	}
}

/* Deterministic pseudo-random choice of packs for --subset. */
static int
in_subset(const struct ofs_idx_pack *p, double pct)
{
	if (pct >= 100.0)
		return 1;
	return (double)(ofs_get_u32le(p->id) % 10000) < pct * 100.0;
}

struct blob_ctx_arg {
	struct deep *d;
	uint32_t pack;
	const uint8_t *data;
	uint64_t len;
	const char *object;
	struct ofs_blob_ctx *ctx;
	struct ofs_buf raw;
	size_t count;
};

static int
check_blob(const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *ref, void *ud)
{
	struct blob_ctx_arg *a = ud;
	struct ofs_error err = { 0 };
	uint8_t again[OFS_ID_LEN];
	char hex[2 * OFS_ID_LEN + 1], obj[300];

	if (ref->pack != a->pack)
		return 0;
	a->count++;
	ofs_hex(id, OFS_ID_LEN, hex);
	snprintf(obj, sizeof(obj), "blob %.16s… in %s", hex, a->object);
	if ((uint64_t)ref->offset + ref->stored_len > a->len) {
		report(a->d, OFS_DEEP_BLOB, obj, NULL, "outside its pack");
		mark_bad(a->d, id);
		return 0;
	}
	ofs_buf_reset(&a->raw);
	if (ofs_blob_open(a->ctx, ref->type, id, a->data + ref->offset, ref->stored_len,
	    ref->raw_len, &a->raw, &err) != 0) {
		report(a->d, OFS_DEEP_BLOB, obj, NULL, err.msg);
		mark_bad(a->d, id);
		return 0;
	}
	if (ref->type == OFS_BLOB_DATA || ref->type == OFS_BLOB_TREE) {
		ofs_blob_id(a->ctx, a->raw.data, a->raw.len, again);
		if (memcmp(again, id, OFS_ID_LEN) != 0) {
			report(a->d, OFS_DEEP_BLOB, obj, NULL, "content does not match its id");
			mark_bad(a->d, id);
			return 0;
		}
	}
	if (ref->type == OFS_BLOB_TREE) {
		struct deep *d = a->d;
		struct tree_ent *t;

		pthread_mutex_lock(&d->mu);
		if (d->ntrees == d->captrees) {
			d->captrees = d->captrees ? 2 * d->captrees : 256;
			d->trees = ofs_xreallocarray(d->trees, d->captrees, sizeof(*d->trees));
		}
		t = &d->trees[d->ntrees++];
		memcpy(t->id, id, OFS_ID_LEN);
		t->len = a->raw.len;
		t->raw = ofs_xmalloc(a->raw.len ? a->raw.len : 1);
		memcpy(t->raw, a->raw.data, a->raw.len);
		pthread_mutex_unlock(&d->mu);
	}
	return 0;
}

static int
bucket_cb(const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *ref, void *ud)
{
	struct bucket *b = &((struct deep *)ud)->buckets[ref->pack];

	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 8;
		b->e = ofs_xreallocarray(b->e, b->cap, sizeof(*b->e));
	}
	memcpy(b->e[b->n].id, id, OFS_ID_LEN);
	b->e[b->n++].ref = *ref;
	return 0;
}

static void *
pack_worker(void *arg)
{
	struct deep *d = arg;
	struct ofs_blob_ctx *ctx = ofs_blob_ctx_new(&d->r->keys, d->r->cfg.zstd_level);
	struct ofs_buf data = OFS_BUF_INIT(0);
	struct ofs_error err = { 0 };
	struct blob_ctx_arg a;
	size_t np = ofs_idx_npacks(d->r->idx), i;
	char name[128], object[200];
	uint8_t xxh[OFS_XXH_LEN];
	uint64_t off;

	memset(&a, 0, sizeof(a));
	ofs_buf_init(&a.raw, 0);
	for (;;) {
		const struct ofs_idx_pack *p;

		pthread_mutex_lock(&d->mu);
		i = d->next_pack++;
		pthread_mutex_unlock(&d->mu);
		if (i >= np)
			break;
		p = ofs_idx_pack(d->r->idx, (uint32_t)i);
		if (!in_subset(p, d->subset))
			continue;
		pack_location(p, name, sizeof(name), &off);
		snprintf(object, sizeof(object), "%s @ %llu", name, (unsigned long long)off);
		{
			struct ofs_error verr = { 0 };

			if (ofs_repo_check_container(d->r, &p->loc, &verr) == OFS_ERR_VERSION) {
				/* a format we cannot read: stop, it is not damage */
				pthread_mutex_lock(&d->mu);
				if (!d->fatal) {
					d->fatal = OFS_ERR_VERSION;
					d->fatal_err = verr;
				}
				pthread_mutex_unlock(&d->mu);
				break;
			}
		}
		ofs_buf_reset(&data);
		if (p->length > MAX_PACK || d->r->be->ops->get(d->r->be, name, off, p->length,
		    &data, &err) != 0) {
			report(d, OFS_DEEP_PACK_UNREADABLE, object, NULL, err.msg);
			for (size_t k = 0; k < d->buckets[i].n; k++)
				mark_bad(d, d->buckets[i].e[k].id);
			continue;
		}
		ofs_xxh128(data.data, data.len, xxh);
		if (memcmp(xxh, p->xxh, OFS_XXH_LEN) != 0)
			report(d, OFS_DEEP_PACK_HASH, object, NULL,
			    "pack bytes do not match the index checksum");
		{
			struct ofs_pack_entry *ents = NULL;
			size_t nents = 0, need = 0;
			struct ofs_error perr = { 0 };

			if (ofs_pack_parse(ctx, p->id, data.data, data.len, data.len, &ents, &nents,
			    &need, &perr) != 0)
				report(d, OFS_DEEP_PACK_HEADER, object, NULL, perr.msg);
			free(ents);
		}
		a.d = d;
		a.pack = (uint32_t)i;
		a.data = data.data;
		a.len = data.len;
		a.object = object;
		a.ctx = ctx;
		a.count = 0;
		for (size_t k = 0; k < d->buckets[i].n; k++)
			check_blob(d->buckets[i].e[k].id, &d->buckets[i].e[k].ref, &a);
		pthread_mutex_lock(&d->mu);
		d->st->packs++;
		d->st->blobs += a.count;
		d->st->bytes += data.len;
		pthread_mutex_unlock(&d->mu);
		ofs_progress_add(d->pr, data.len, 0, NULL);
	}
	ofs_buf_release(&data);
	ofs_buf_release(&a.raw);
	ofs_blob_ctx_free(ctx);
	return NULL;
}

static int
tree_cmp(const void *a, const void *b)
{
	return memcmp(((const struct tree_ent *)a)->id, ((const struct tree_ent *)b)->id,
	    OFS_ID_LEN);
}

static int
load_tree(struct deep *d, struct ofs_blob_ctx *ctx, const uint8_t id[OFS_ID_LEN],
    struct ofs_tree *t, struct ofs_error *err)
{
	struct tree_ent key, *hit;
	char hex[2 * OFS_ID_LEN + 1];

	memcpy(key.id, id, OFS_ID_LEN);
	hit = d->ntrees ? bsearch(&key, d->trees, d->ntrees, sizeof(*d->trees), tree_cmp) : NULL;
	if (hit == NULL)
		return ofs_repo_load_tree(d->r, ctx, id, t, err);
	ofs_hex(id, OFS_ID_LEN, hex);
	ofs_tree_init(t);
	return ofs_tree_decode(hit->raw, hit->len, hex, t, err);
}

/* Walk one tree; report every file whose chunks are damaged or missing. */
static int
walk_tree(struct deep *d, struct ofs_blob_ctx *ctx, const uint8_t id[OFS_ID_LEN],
    const char *snap, const char *prefix, int depth)
{
	struct ofs_tree t;
	struct ofs_error err = { 0 };
	struct ofs_blob_ref ref;
	char hex[2 * OFS_ID_LEN + 1], obj[200];

	ofs_hex(id, OFS_ID_LEN, hex);
	snprintf(obj, sizeof(obj), "snapshot %.8s tree %.16s…", snap, hex);
	if (depth > 4096) {
		report(d, OFS_DEEP_TREE, obj, prefix, "trees nest too deep");
		return 0;
	}
	if (!ofs_idx_lookup(d->r->idx, id, &ref)) {
		report(d, OFS_DEEP_MISSING, obj, prefix[0] ? prefix : "/", "tree blob not in the index");
		return 0;
	}
	if (ofs_idx_lookup(d->bad, id, &ref) || load_tree(d, ctx, id, &t, &err) != 0) {
		report(d, OFS_DEEP_PATH, obj, prefix[0] ? prefix : "/",
		    err.msg[0] ? err.msg : "directory listing is damaged");
		return 0;
	}
	d->st->trees++;
	for (size_t i = 0; i < t.n; i++) {
		struct ofs_node *n = &t.nodes[i];
		char *name = ofs_path_printable(n->name, n->namelen);
		char *path = ofs_xasprintf("%s/%s", prefix, name);

		free(name);
		if (n->type == OFS_NODE_DIR && n->has_subtree) {
			walk_tree(d, ctx, n->subtree, snap, path, depth + 1);
		} else if (n->type == OFS_NODE_FILE) {
			size_t missing = 0, bad = 0;

			d->st->files++;
			for (size_t c = 0; c < n->nchunks; c++) {
				if (!ofs_idx_lookup(d->r->idx, n->chunks[c], &ref))
					missing++;
				else if (ofs_idx_lookup(d->bad, n->chunks[c], &ref))
					bad++;
			}
			if (missing + bad > 0) {
				char detail[128];

				snprintf(detail, sizeof(detail),
				    "%zu of %zu chunks damaged, %zu missing", bad, n->nchunks,
				    missing);
				report(d, OFS_DEEP_PATH, obj, path, detail);
			}
		}
		free(path);
	}
	ofs_tree_release(&t);
	return 0;
}

int
ofs_deep_check(struct ofs_repo *r, int read_data, double subset_pct, struct ofs_progress *pr,
    ofs_deep_cb cb, void *ud, struct ofs_deep_stats *st, struct ofs_error *err)
{
	struct deep d;
	struct ofs_snapshot *snaps = NULL;
	size_t nsnaps = 0;
	int nthreads = ofs_ncpu(), rc;
	pthread_t *th;
	char hex[2 * OFS_ID_LEN + 1];

	memset(st, 0, sizeof(*st));
	memset(&d, 0, sizeof(d));
	d.r = r;
	d.pr = pr;
	d.cb = cb;
	d.ud = ud;
	d.st = st;
	d.subset = subset_pct > 0 ? subset_pct : 100.0;
	d.bad = ofs_idx_new();
	pthread_mutex_init(&d.mu, NULL);
	if (read_data) {
		d.buckets = ofs_xcalloc(ofs_idx_npacks(r->idx) + 1, sizeof(*d.buckets));
		ofs_idx_foreach(r->idx, bucket_cb, &d);
		th = ofs_xcalloc((size_t)nthreads, sizeof(*th));
		for (int i = 0; i < nthreads; i++)
			pthread_create(&th[i], NULL, pack_worker, &d);
		for (int i = 0; i < nthreads; i++)
			pthread_join(th[i], NULL);
		free(th);
	}
	if (d.fatal) {
		rc = d.fatal;
		*err = d.fatal_err;
		goto out;
	}
	if (d.ntrees > 1)
		qsort(d.trees, d.ntrees, sizeof(*d.trees), tree_cmp);
	if ((rc = ofs_repo_list_snapshots(r, &snaps, &nsnaps, err)) != 0)
		goto out;
	for (size_t i = 0; i < nsnaps; i++) {
		ofs_hex(snaps[i].id, OFS_ID_LEN, hex);
		st->snapshots++;
		walk_tree(&d, r->ctx, snaps[i].tree, hex, "", 0);
	}
out:
	for (size_t i = 0; i < nsnaps; i++)
		ofs_snapshot_release(&snaps[i]);
	free(snaps);
	if (d.buckets != NULL)
		for (size_t i = 0; i < ofs_idx_npacks(r->idx); i++)
			free(d.buckets[i].e);
	free(d.buckets);
	for (size_t i = 0; i < d.ntrees; i++)
		free(d.trees[i].raw);
	free(d.trees);
	ofs_idx_free(d.bad);
	pthread_mutex_destroy(&d.mu);
	return rc;
}
