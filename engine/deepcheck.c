/* Deep verification: read every pack, open every blob, walk every snapshot. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "deepcheck.h"
#include "pack.h"
#include "util.h"

#define MAX_PACK (1ULL << 30)

/* The data pass holds the index entries (id and ref, 56 bytes) of at most this many blobs at
 * a time, grouped by pack for a window of consecutive packs (a pack with more blobs forms a
 * window of its own), so its memory does not grow with the repository: about 3.5 MiB. Each
 * window costs one pass over the index (a few ms per million blobs), and the workers wait
 * for it only between windows. For tests only, OFFSEED_TEST_DEEP_WINDOW=N (1 … the default)
 * lowers it, so a small repository is read in several windows. */
#define DEEP_WINDOW_BLOBS 65536u

struct bucket_ent {
	uint8_t id[OFS_ID_LEN];
	struct ofs_blob_ref ref;
};

struct bucket {
	struct bucket_ent *e;
	size_t n, cap;
};

/* How a walk of the snapshots reports. The walk runs while the data pass reads the packs
 * (WALK_TREES: tree problems and missing chunks, which need no data); only when that pass
 * found damaged blobs or missing chunks does a second walk name the files (WALK_FILES).
 * Without a data pass one walk does both (WALK_ALL). */
enum walk_mode { WALK_ALL, WALK_TREES, WALK_FILES };

struct deep {
	struct ofs_repo *r;
	struct ofs_progress *pr;
	ofs_deep_cb cb;
	void *ud;
	struct ofs_deep_stats *st;
	double subset;
	pthread_mutex_t mu;
	/* The window of packs the workers take from: [win_lo, win_hi), next_pack the next to
	 * take, inflight how many are being checked. When next_pack reaches win_hi, the worker
	 * that finds none in flight fills the next window into the same buckets (filling),
	 * while the others wait on cv. */
	pthread_cond_t cv;
	size_t next_pack, win_lo, win_hi, inflight;
	int filling;
	uint32_t window_cap;	/* DEEP_WINDOW_BLOBS, or the test knob's value */
	uint32_t *pack_blobs;	/* blobs of each pack to check (0 outside the subset) */
	struct ofs_blobtab *bad;	/* ids of blobs found damaged */
	struct ofs_blobtab *unread;	/* ids of blobs in packs that could not be read (EIO…) */
	int unread_errno;	/* the errno of the first such read */
	struct bucket *buckets;	/* blobs grouped by pack: packs of the window only */
	struct bucket_ent *win_ents;	/* the window's blobs, which the buckets point into */
	size_t win_cap;		/* entries win_ents holds */
	int files_suspect;	/* WALK_TREES met a file with a chunk not in the index */
	/* Subtrees found clean by this walk, keyed by tree id; the ref carries the subtree's
	 * counts (offset: trees, stored_len: files). Snapshots share most of their trees, so
	 * each is opened once however many snapshots hold it. */
	struct ofs_blobtab *clean;
	uint64_t walk_reports;	/* findings the walk itself reported (walking thread only) */
	size_t pending;		/* packs in seed containers not imported yet (not checked) */
	/* A partial repository (r->be->partial: a disk set) may lack packs. Their blobs go to
	 * `absent` and the reason to absent_msg[pack]; only those a snapshot needs (needed[pack],
	 * set by the walks) are findings. */
	int partial;
	struct ofs_blobtab *absent;
	char **absent_msg;
	uint8_t *needed;
	struct ofs_error pending_err;
	int fatal;
	struct ofs_error fatal_err;
};

char *
ofs_path_printable(const uint8_t *p, size_t len)
{
	/* unbounded, and at most 4 bytes per input byte: a put cannot fail short of running
	 * out of memory (which aborts) */
	struct ofs_buf b = OFS_BUF_INIT(0);

	for (size_t i = 0; i < len; i++) {
		if (ofs_text_is_control(p[i]) || p[i] == '\\')
			ofs_buf_putf(&b, "\\x%02x", p[i]);
		else
			ofs_buf_putc(&b, p[i]);
	}
	ofs_buf_putc(&b, 0);
	return (char *)ofs_buf_detach(&b, NULL);
}

static void
report_io(struct deep *d, int kind, const char *object, const char *path, const char *detail,
    int io_errno)
{
	struct ofs_deep_finding f = { kind, object, path, detail, io_errno };

	pthread_mutex_lock(&d->mu);
	d->st->findings++;
	if (io_errno != 0)
		d->st->io++;
	if (d->cb != NULL)
		d->cb(&f, d->ud);
	pthread_mutex_unlock(&d->mu);
}

static void
report(struct deep *d, int kind, const char *object, const char *path, const char *detail)
{
	report_io(d, kind, object, path, detail, 0);
}

/* A blob found damaged, or (unread) in a pack a read of which failed: not known damaged. */
static void
mark(struct deep *d, const uint8_t id[OFS_ID_LEN], int unread)
{
	struct ofs_blob_ref dummy = { 0, 0, 0, 0, 0 };

	pthread_mutex_lock(&d->mu);
	ofs_blobtab_add_blob(unread ? d->unread : d->bad, id, &dummy);
	pthread_mutex_unlock(&d->mu);
}

static void
mark_bad(struct deep *d, const uint8_t id[OFS_ID_LEN])
{
	mark(d, id, 0);
}

static void
pack_location(const struct ofs_blobtab_pack *p, char *name, size_t namesz, uint64_t *off)
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
in_subset(const struct ofs_blobtab_pack *p, double pct)
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
	struct ofs_buf rebuilt;		/* patch blobs: the chunk */
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
	if (ref->type == OFS_BLOB_PATCH) {	/* the chunk it stands for, from its bases */
		ofs_buf_reset(&a->rebuilt);
		if (ofs_repo_rebuild_patch(a->d->r, a->ctx, id, a->raw.data, a->raw.len,
		    ref->raw_len, &a->rebuilt, &err) != 0) {
			report(a->d, OFS_DEEP_BLOB, obj, NULL, err.msg);
			mark_bad(a->d, id);
		}
		return 0;	/* the rebuild checked the id */
	}
	if (ref->type == OFS_BLOB_DATA || ref->type == OFS_BLOB_TREE) {
		ofs_blob_id(a->ctx, a->raw.data, a->raw.len, again);
		if (memcmp(again, id, OFS_ID_LEN) != 0) {
			report(a->d, OFS_DEEP_BLOB, obj, NULL, "content does not match its id");
			mark_bad(a->d, id);
			return 0;
		}
	}
	return 0;
}

static int
count_cb(const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *ref, void *ud)
{
	struct deep *d = ud;

	(void)id;
	if (ref->pack < ofs_blobtab_npacks(d->r->idx))
		d->pack_blobs[ref->pack]++;
	return 0;
}

struct fill {
	struct deep *d;
	size_t lo, hi;		/* the packs being bucketed */
};

static int
bucket_cb(const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *ref, void *ud)
{
	struct fill *f = ud;
	struct bucket *b;

	if (ref->pack < f->lo || ref->pack >= f->hi)
		return 0;
	b = &f->d->buckets[ref->pack];
	/* sized by the count pass over the same table (nobody adds while the check runs):
	 * never full, but a full bucket must not overrun the window's next */
	if (b->n == b->cap)
		return 0;
	memcpy(b->e[b->n].id, id, OFS_ID_LEN);
	b->e[b->n++].ref = *ref;
	return 0;
}

/* Replace the window (used up, no pack of it in flight) by the next packs whose blobs
 * together are at most window_cap (at least one pack), and bucket their blobs. The buckets
 * share one array, reused by every window (allocating per pack and window leaves the
 * threads' malloc arenas fragmented: several times the window in RSS). Called by one
 * worker at a time, without d->mu: the others wait until the caller publishes the window. */
static void
fill_window(struct deep *d, size_t *lo_out, size_t *hi_out)
{
	size_t np = ofs_blobtab_npacks(d->r->idx), at = 0;
	struct fill f = { d, d->win_hi, d->win_hi };
	uint64_t total = 0;

	for (size_t i = d->win_lo; i < d->win_hi; i++)
		memset(&d->buckets[i], 0, sizeof(d->buckets[i]));
	while (f.hi < np && (f.hi == f.lo || total + d->pack_blobs[f.hi] <= d->window_cap))
		total += d->pack_blobs[f.hi++];
	if (total > d->win_cap) {	/* the first window, or a pack bigger than window_cap */
		free(d->win_ents);
		d->win_cap = total;
		d->win_ents = ofs_xreallocarray(NULL, d->win_cap, sizeof(*d->win_ents));
	}
	for (size_t i = f.lo; i < f.hi; i++) {
		d->buckets[i].e = d->win_ents + at;
		d->buckets[i].cap = d->pack_blobs[i];
		at += d->pack_blobs[i];
	}
	if (total > 0)
		ofs_blobtab_foreach(d->r->idx, bucket_cb, &f);
	*lo_out = f.lo;
	*hi_out = f.hi;
}

/* The next pack for this worker (counted in flight), or 0 when none is left. */
static int
take_pack(struct deep *d, size_t *pack)
{
	size_t np = ofs_blobtab_npacks(d->r->idx), lo, hi;
	int got = 0;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		if (d->next_pack < d->win_hi) {
			*pack = d->next_pack++;
			d->inflight++;
			got = 1;
			break;
		}
		if (d->win_hi >= np)
			break;
		if (d->inflight > 0 || d->filling) {
			pthread_cond_wait(&d->cv, &d->mu);
			continue;
		}
		d->filling = 1;
		pthread_mutex_unlock(&d->mu);
		fill_window(d, &lo, &hi);
		pthread_mutex_lock(&d->mu);
		d->win_lo = d->next_pack = lo;
		d->win_hi = hi;
		d->filling = 0;
		pthread_cond_broadcast(&d->cv);
	}
	pthread_mutex_unlock(&d->mu);
	return got;
}

/* The worker is done with its pack: the last one of a used-up window wakes the others (one
 * of them fills the next window, or they all find the end). */
static void
done_pack(struct deep *d)
{
	pthread_mutex_lock(&d->mu);
	if (--d->inflight == 0 && d->next_pack >= d->win_hi)
		pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

/* Read a pack into data and its XXH3-128 into xh. From a local file it is read in pieces
 * of READ_PIECE, each hashed while still in cache, so the checksum costs no extra pass over
 * memory; other backends fetch it in one request. */
#define READ_PIECE (1u << 20)

static int
read_pack(struct deep *d, const char *name, uint64_t off, uint64_t len, struct ofs_buf *data,
    struct ofs_xxh *xh, struct ofs_error *err)
{
	struct ofs_backend *be = d->r->be;
	char *lp = be->ops->path != NULL ? be->ops->path(be, name) : NULL;
	uint64_t done = 0;
	int fd = -1, r = 0, e;

	ofs_buf_reset(data);
	ofs_xxh_reset(xh);
	if (lp == NULL) {
		if ((r = be->ops->get(be, name, off, len, data, err)) == 0)
			ofs_xxh_update(xh, data->data, data->len);
		return r;
	}
	if ((fd = open(lp, O_RDONLY | O_CLOEXEC)) == -1) {
		r = ofs_err_sys(err, errno == ENOENT ? OFS_ERR_NOTFOUND : OFS_ERR_IO, errno,
		    "cannot open '%s'", lp);
		goto out;
	}
	if (ofs_buf_reserve(data, (size_t)len) != 0) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "'%s': %llu bytes is more than expected", lp,
		    (unsigned long long)len);
		goto out;
	}
	while (done < len) {
		size_t n = len - done < READ_PIECE ? (size_t)(len - done) : READ_PIECE;

		if ((e = ofs_pread_all(fd, data->data + data->len, n, off + done)) != 0) {
			r = e == OFS_READ_EOF ? ofs_err_set(err, OFS_ERR_CORRUPT,
			    "'%s' is truncated: cannot read %llu bytes at offset %llu", lp,
			    (unsigned long long)len, (unsigned long long)off)
			    : ofs_err_sys(err, OFS_ERR_IO, -e, "cannot read '%s'", lp);
			goto out;
		}
		ofs_xxh_update(xh, data->data + data->len, n);
		data->len += n;
		done += n;
	}
out:
	if (fd != -1)
		close(fd);
	free(lp);
	return r;
}

/* What a worker keeps from one pack to the next. */
struct worker {
	struct ofs_blob_ctx *ctx;
	struct ofs_buf data;
	struct ofs_xxh *xh;
	struct blob_ctx_arg a;
};

/* Check pack i against its bucket (the window holds it while it is in flight). Returns 1
 * when the check must stop (a format this build cannot read), else 0. */
static int
check_pack(struct deep *d, struct worker *w, size_t i)
{
	const struct ofs_blobtab_pack *p = ofs_blobtab_pack(d->r->idx, (uint32_t)i);
	const struct bucket *bk = &d->buckets[i];
	struct ofs_error err = { 0 };
	char name[128], object[200];
	uint8_t xxh[OFS_XXH_LEN];
	uint64_t off;

	if (!in_subset(p, d->subset))
		return 0;
	pack_location(p, name, sizeof(name), &off);
	snprintf(object, sizeof(object), "%s @ %llu", name, (unsigned long long)off);
	{
		struct ofs_error verr = { 0 };
		int vr = ofs_repo_check_container(d->r, &p->loc, &verr);

		if (vr == OFS_ERR_PENDING) {
			/* not damage: the import has not brought this container yet */
			pthread_mutex_lock(&d->mu);
			if (d->pending++ == 0)
				d->pending_err = verr;
			pthread_mutex_unlock(&d->mu);
			return 0;
		}
		if (vr == OFS_ERR_VERSION) {
			/* a format we cannot read: stop, it is not damage */
			pthread_mutex_lock(&d->mu);
			if (!d->fatal) {
				d->fatal = OFS_ERR_VERSION;
				d->fatal_err = verr;
			}
			pthread_mutex_unlock(&d->mu);
			return 1;
		}
	}
	if (p->length > MAX_PACK)
		ofs_err_set(&err, OFS_ERR_CORRUPT, "its index gives %llu bytes, more than a pack "
		    "may hold", (unsigned long long)p->length);
	if (p->length > MAX_PACK || read_pack(d, name, off, p->length, &w->data, w->xh,
	    &err) != 0) {
		if (d->partial && p->length <= MAX_PACK && (err.code == OFS_ERR_NOTFOUND ||
		    err.code == OFS_ERR_UNAVAILABLE)) {
			/* not on this set: a finding only if a snapshot needs it */
			pthread_mutex_lock(&d->mu);
			d->absent_msg[i] = ofs_xstrdup(err.msg);
			for (size_t k = 0; k < bk->n; k++)
				ofs_blobtab_add_blob(d->absent, bk->e[k].id, &bk->e[k].ref);
			pthread_mutex_unlock(&d->mu);
			return 0;
		}
		/* a read the system failed is not damage: the bytes were never seen */
		int io = p->length <= MAX_PACK && err.code == OFS_ERR_IO ? err.sys_errno : 0;

		if (io != 0) {
			pthread_mutex_lock(&d->mu);
			if (d->unread_errno == 0)
				d->unread_errno = io;
			pthread_mutex_unlock(&d->mu);
		}
		report_io(d, OFS_DEEP_PACK_UNREADABLE, object, NULL, err.msg, io);
		for (size_t k = 0; k < bk->n; k++)
			mark(d, bk->e[k].id, io != 0);
		return 0;
	}
	ofs_xxh_digest(w->xh, xxh);
	if (memcmp(xxh, p->xxh, OFS_XXH_LEN) != 0)
		report(d, OFS_DEEP_PACK_HASH, object, NULL,
		    "pack bytes do not match the index checksum");
	{
		struct ofs_pack_entry *ents = NULL;
		size_t nents = 0, need = 0;
		struct ofs_error perr = { 0 };

		if (ofs_pack_parse(w->ctx, p->id, w->data.data, w->data.len, w->data.len, &ents,
		    &nents, &need, &perr) != 0)
			report(d, OFS_DEEP_PACK_HEADER, object, NULL, perr.msg);
		free(ents);
	}
	w->a.d = d;
	w->a.pack = (uint32_t)i;
	w->a.data = w->data.data;
	w->a.len = w->data.len;
	w->a.object = object;
	w->a.ctx = w->ctx;
	w->a.count = 0;
	for (size_t k = 0; k < bk->n; k++)
		check_blob(bk->e[k].id, &bk->e[k].ref, &w->a);
	pthread_mutex_lock(&d->mu);
	d->st->packs++;
	d->st->blobs += w->a.count;
	d->st->bytes += w->data.len;
	pthread_mutex_unlock(&d->mu);
	ofs_progress_add(d->pr, w->data.len, 0, NULL);
	return 0;
}

static void *
pack_worker(void *arg)
{
	struct deep *d = arg;
	struct worker w;
	size_t i;
	int stop;

	memset(&w, 0, sizeof(w));
	w.ctx = ofs_blob_ctx_new(&d->r->keys, d->r->cfg.zstd_level);
	ofs_buf_init(&w.data, 0);
	w.xh = ofs_xxh_new();
	ofs_buf_init(&w.a.raw, 0);
	ofs_buf_init(&w.a.rebuilt, 0);
	while (take_pack(d, &i)) {
		stop = check_pack(d, &w, i);
		done_pack(d);
		if (stop)
			break;
	}
	ofs_buf_release(&w.data);
	ofs_xxh_free(w.xh);
	ofs_buf_release(&w.a.raw);
	ofs_buf_release_secret(&w.a.rebuilt);
	ofs_blob_ctx_free(w.ctx);
	return NULL;
}

/* A finding of the tree walk: counted, so a subtree is remembered as clean only if none
 * was reported inside it. */
static void
walk_report(struct deep *d, int kind, const char *object, const char *path, const char *detail)
{
	d->walk_reports++;
	report(d, kind, object, path, detail);
}

/* Walk one tree (see enum walk_mode for what each mode reports). */
static int
walk_tree(struct deep *d, struct ofs_blob_ctx *ctx, const uint8_t id[OFS_ID_LEN],
    const char *snap, const char *prefix, int depth, enum walk_mode mode)
{
	struct ofs_tree_reader *rd = NULL;
	struct ofs_node nd;
	struct ofs_error err = { 0 };
	struct ofs_blob_ref ref;
	char hex[2 * OFS_ID_LEN + 1], obj[200];
	const char *where = prefix[0] ? prefix : "/";
	uint64_t trees0, files0, reports0;
	int loaded, suspect0, k;

	if (mode != WALK_FILES && ofs_blobtab_lookup(d->clean, id, &ref)) {
		d->st->trees += ref.offset;
		d->st->files += ref.stored_len;
		return 0;
	}
	ofs_hex(id, OFS_ID_LEN, hex);
	snprintf(obj, sizeof(obj), "snapshot %.8s tree %.16s…", snap, hex);
	if (depth > 4096) {
		if (mode != WALK_FILES)
			walk_report(d, OFS_DEEP_TREE, obj, prefix, "trees nest too deep");
		return 0;
	}
	if (!ofs_blobtab_lookup(d->r->idx, id, &ref)) {
		if (mode != WALK_FILES)
			walk_report(d, OFS_DEEP_MISSING, obj, where, "tree blob not in the index");
		return 0;
	}
	if (mode == WALK_ALL && ofs_blobtab_lookup(d->bad, id, &ref)) {
		walk_report(d, OFS_DEEP_PATH, obj, where, "directory listing is damaged");
		return 0;
	}
	/* a node at a time: a directory of millions of entries is never held whole */
	loaded = ofs_repo_open_tree(d->r, ctx, id, &rd, &err) == 0;
	if (!loaded && d->partial && (err.code == OFS_ERR_NOTFOUND ||
	    err.code == OFS_ERR_UNAVAILABLE) && ofs_blobtab_lookup(d->r->idx, id, &ref))
		d->needed[ref.pack] = 1;	/* its pack is not on this set, and is needed */
	if (!loaded) {
		/* WALK_FILES: the tree walk reported it already */
		if (mode != WALK_FILES) {
			d->walk_reports++;
			report_io(d, OFS_DEEP_PATH, obj, where, err.msg[0] ? err.msg :
			    "directory listing is damaged", err.code == OFS_ERR_IO ?
			    err.sys_errno : 0);	/* a read that failed is not damage */
		}
		return 0;
	}
	if (mode == WALK_FILES && ofs_blobtab_lookup(d->bad, id, &ref)) {
		/* opens, yet the data pass found it damaged (its id differs) */
		walk_report(d, OFS_DEEP_PATH, obj, where, "directory listing is damaged");
		ofs_tree_reader_free(rd);
		return 0;
	}
	if (mode != WALK_FILES)
		d->st->trees++;
	trees0 = d->st->trees - 1;
	files0 = d->st->files;
	reports0 = d->walk_reports;
	suspect0 = d->files_suspect;
	memset(&nd, 0, sizeof(nd));
	for (;;) {
		struct ofs_node *n = &nd;
		char *name, *path;
		size_t missing = 0, bad = 0, unread = 0, lacking = 0;
		uint32_t lack_pack = 0;

		ofs_node_release(&nd);	/* the previous one */
		if ((k = ofs_tree_reader_next(rd, &nd, &err)) != 1)
			break;
		if (n->type == OFS_NODE_FILE && mode != WALK_FILES)
			d->st->files++;
		if (n->type == OFS_NODE_FILE) {
			for (size_t c = 0; c < n->nchunks; c++) {
				if (!ofs_blobtab_lookup(d->r->idx, n->chunks[c], &ref))
					missing++;
				else if (mode != WALK_TREES &&
				    ofs_blobtab_lookup(d->bad, n->chunks[c], &ref))
					bad++;
				else if (mode != WALK_TREES &&
				    ofs_blobtab_lookup(d->unread, n->chunks[c], &ref))
					unread++;
				else if (mode != WALK_TREES && d->partial &&
				    ofs_blobtab_lookup(d->absent, n->chunks[c], &ref)) {
					lacking++;
					lack_pack = ref.pack;
					d->needed[ref.pack] = 1;
				}
			}
			if (missing + bad + unread + lacking == 0)
				continue;
			if (mode == WALK_TREES) {
				d->files_suspect = 1;
				continue;
			}
		} else if (n->type != OFS_NODE_DIR || !n->has_subtree) {
			continue;
		}
		name = ofs_path_printable(n->name, n->namelen);
		path = ofs_xasprintf("%s/%s", prefix, name);
		free(name);
		if (n->type == OFS_NODE_DIR) {
			walk_tree(d, ctx, n->subtree, snap, path, depth + 1, mode);
		} else {
			char detail[320];

			if (missing + bad == 0 && lacking > 0) {
				char lname[128];
				uint64_t loff;

				pack_location(ofs_blobtab_pack(d->r->idx, lack_pack), lname,
				    sizeof(lname), &loff);
				snprintf(detail, sizeof(detail), "%zu of %zu chunks are in objects "
				    "this disk set lacks (such as '%s')", lacking, n->nchunks, lname);
				walk_report(d, OFS_DEEP_PATH, obj, path, detail);
			} else if (missing + bad == 0) {	/* only unread: an I/O error */
				snprintf(detail, sizeof(detail), "%zu of %zu chunks not checked: "
				    "%s", unread, n->nchunks, strerror(d->unread_errno));
				d->walk_reports++;
				report_io(d, OFS_DEEP_PATH, obj, path, detail, d->unread_errno);
			} else {
				snprintf(detail, sizeof(detail), "%zu of %zu chunks damaged, %zu "
				    "missing", bad, n->nchunks, missing + lacking);
				walk_report(d, OFS_DEEP_PATH, obj, path, detail);
			}
		}
		free(path);
	}
	ofs_node_release(&nd);
	ofs_tree_reader_free(rd);
	if (k < 0) {	/* checked at open: only a read that failed gets here */
		d->walk_reports++;
		report_io(d, OFS_DEEP_PATH, obj, where, err.msg, err.code == OFS_ERR_IO ?
		    err.sys_errno : 0);
	}
	if (mode != WALK_FILES && d->walk_reports == reports0 && d->files_suspect == suspect0 &&
	    d->st->trees - trees0 <= UINT32_MAX && d->st->files - files0 <= UINT32_MAX) {
		struct ofs_blob_ref memo = { 0 };

		memo.offset = (uint32_t)(d->st->trees - trees0);
		memo.stored_len = (uint32_t)(d->st->files - files0);
		ofs_blobtab_add_blob(d->clean, id, &memo);
	}
	return 0;
}

static void
walk_all(struct deep *d, struct ofs_snapshot *snaps, size_t nsnaps, enum walk_mode mode)
{
	char hex[2 * OFS_ID_LEN + 1];

	for (size_t i = 0; i < nsnaps; i++) {
		ofs_hex(snaps[i].id, OFS_ID_LEN, hex);
		if (mode != WALK_FILES)
			d->st->snapshots++;
		walk_tree(d, d->r->ctx, snaps[i].tree, hex, "", 0, mode);
	}
}

/* A partial set: each pack it lacks is a finding when a snapshot on it needs the pack (the
 * walks said so), else only counted. */
static void
report_absent(struct deep *d)
{
	char name[128], object[200], detail[OFS_ERR_MSG_MAX + 80];
	uint64_t off;

	for (size_t i = 0; i < ofs_blobtab_npacks(d->r->idx); i++) {
		if (d->absent_msg[i] == NULL)
			continue;
		if (!d->needed[i]) {
			d->st->absent++;
			continue;
		}
		pack_location(ofs_blobtab_pack(d->r->idx, (uint32_t)i), name, sizeof(name), &off);
		snprintf(object, sizeof(object), "%s @ %llu", name, (unsigned long long)off);
		snprintf(detail, sizeof(detail), "the disk set lacks it and a snapshot on it needs "
		    "it: %s", d->absent_msg[i]);
		report(d, OFS_DEEP_PACK_UNREADABLE, object, NULL, detail);
	}
}

int
ofs_deep_check(struct ofs_repo *r, int read_data, double subset_pct, struct ofs_progress *pr,
    ofs_deep_cb cb, void *ud, struct ofs_deep_stats *st, struct ofs_error *err)
{
	struct deep d;
	struct ofs_snapshot *snaps = NULL;
	size_t nsnaps = 0;
	int nthreads = ofs_ncpu(), rc;
	pthread_t *th = NULL;

	memset(st, 0, sizeof(*st));
	memset(&d, 0, sizeof(d));
	d.r = r;
	d.pr = pr;
	d.cb = cb;
	d.ud = ud;
	d.st = st;
	d.subset = subset_pct > 0 ? subset_pct : 100.0;
	d.bad = ofs_blobtab_new();
	d.unread = ofs_blobtab_new();
	d.clean = ofs_blobtab_new();
	d.partial = r->be->partial;
	d.absent = ofs_blobtab_new();
	d.absent_msg = ofs_xcalloc(ofs_blobtab_npacks(r->idx) + 1, sizeof(*d.absent_msg));
	d.needed = ofs_xcalloc(ofs_blobtab_npacks(r->idx) + 1, 1);
	d.window_cap = DEEP_WINDOW_BLOBS;
	{
		const char *t = getenv("OFFSEED_TEST_DEEP_WINDOW");
		unsigned long n;

		if (t != NULL && sscanf(t, "%lu", &n) == 1 && n >= 1 && n <= DEEP_WINDOW_BLOBS)
			d.window_cap = (uint32_t)n;
	}
	pthread_mutex_init(&d.mu, NULL);
	pthread_cond_init(&d.cv, NULL);
	if ((rc = ofs_repo_list_snapshots(r, &snaps, &nsnaps, err)) != 0)
		goto out;
	if (!read_data) {
		walk_all(&d, snaps, nsnaps, WALK_ALL);
		goto out;
	}
	/* how many blobs each pack holds, so the workers' windows can be cut; the blobs
	 * themselves are bucketed one window at a time (take_pack) */
	d.buckets = ofs_xcalloc(ofs_blobtab_npacks(r->idx) + 1, sizeof(*d.buckets));
	d.pack_blobs = ofs_xcalloc(ofs_blobtab_npacks(r->idx) + 1, sizeof(*d.pack_blobs));
	ofs_blobtab_foreach(r->idx, count_cb, &d);
	for (size_t i = 0; i < ofs_blobtab_npacks(r->idx); i++)
		if (!in_subset(ofs_blobtab_pack(r->idx, (uint32_t)i), d.subset))
			d.pack_blobs[i] = 0;	/* not read: its blobs are not needed */
	th = ofs_xcalloc((size_t)nthreads, sizeof(*th));
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, pack_worker, &d);
	/* the trees are walked while the packs are read (r->ctx is this thread's alone) */
	walk_all(&d, snaps, nsnaps, WALK_TREES);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	free(th);
	if (d.fatal) {
		rc = d.fatal;
		*err = d.fatal_err;
		goto out;
	}
	if (d.files_suspect || ofs_blobtab_nblobs(d.bad) > 0 || ofs_blobtab_nblobs(d.unread) > 0 ||
	    ofs_blobtab_nblobs(d.absent) > 0)
		walk_all(&d, snaps, nsnaps, WALK_FILES);
	report_absent(&d);
	if (d.pending > 0) {
		/* damage found elsewhere is the verdict; otherwise the check is incomplete */
		if (st->findings > 0) {
			ofs_warn("%zu packs not checked: %s", d.pending, d.pending_err.msg);
		} else {
			rc = d.pending_err.code;
			*err = d.pending_err;
			ofs_err_wrap(err, "%zu packs not checked", d.pending);
		}
	}
out:
	for (size_t i = 0; i < nsnaps; i++)
		ofs_snapshot_release(&snaps[i]);
	free(snaps);
	free(d.buckets);
	free(d.win_ents);
	free(d.pack_blobs);
	ofs_blobtab_free(d.bad);
	ofs_blobtab_free(d.unread);
	ofs_blobtab_free(d.clean);
	ofs_blobtab_free(d.absent);
	for (size_t i = 0; i < ofs_blobtab_npacks(r->idx); i++)
		free(d.absent_msg[i]);
	free(d.absent_msg);
	free(d.needed);
	pthread_cond_destroy(&d.cv);
	pthread_mutex_destroy(&d.mu);
	return rc;
}
