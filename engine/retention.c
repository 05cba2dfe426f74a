/* Retention: the forget policy (which snapshots stay) and prune (mark what the remaining
 * snapshots reach, drop or repack the rest, rewrite the index). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob.h"
#include "index.h"
#include "log.h"
#include "pack.h"
#include "patch.h"
#include "retention.h"
#include "util.h"

/* ---- forget ---- */

static void
period(int64_t ns, int rule, char *buf, size_t bufsz)
{
	time_t t = (time_t)(ns / 1000000000LL - (ns % 1000000000LL < 0 ? 1 : 0));
	struct tm tm;

	gmtime_r(&t, &tm);
	switch (rule) {
	case 1: strftime(buf, bufsz, "%Y-%m-%d", &tm); break;
	case 2: strftime(buf, bufsz, "%G-W%V", &tm); break;
	case 3: strftime(buf, bufsz, "%Y-%m", &tm); break;
	default: strftime(buf, bufsz, "%Y", &tm); break;
	}
}

size_t
ofs_forget_select(const struct ofs_snapshot *s, size_t n, const struct ofs_keep_policy *p,
    int *keep)
{
	int left[5] = { p->last, p->daily, p->weekly, p->monthly, p->yearly };
	char last[5][32] = { "", "", "", "", "" };
	size_t kept = 0;

	for (size_t k = n; k-- > 0;) {
		keep[k] = 0;
		for (int rule = 0; rule < 5; rule++) {
			char cur[32];

			if (left[rule] <= 0)
				continue;
			if (rule == 0) {
				keep[k] = 1;
				left[rule]--;
				continue;
			}
			period(s[k].time_ns, rule, cur, sizeof(cur));
			if (strcmp(cur, last[rule]) != 0) {
				keep[k] = 1;
				left[rule]--;
				memcpy(last[rule], cur, sizeof(cur));
			}
		}
		kept += (size_t)keep[k];
	}
	return kept;
}

/* ---- prune ---- */

static const struct ofs_blob_ref no_ref;

/* Mark tree id and everything below it in `used`. A tree already marked is not walked
 * again (snapshots share most of their trees). `refusing` ends the message of a chunk the
 * index lacks ("refusing to prune"). */
static int
mark_tree_for(struct ofs_repo *r, const uint8_t id[OFS_ID_LEN], struct ofs_blobtab *used,
    const char *refusing, struct ofs_error *err)
{
	struct ofs_tree_reader *rd = NULL;
	struct ofs_node nd;
	struct ofs_blob_ref ref;
	char hex[2 * OFS_ID_LEN + 1];
	int rc = 0, k;

	if (ofs_blobtab_lookup(used, id, &ref))
		return 0;
	ofs_blobtab_add_blob(used, id, &no_ref);
	/* a node at a time: a directory of millions of entries is never held whole */
	if ((rc = ofs_repo_open_tree(r, r->ctx, id, &rd, err)) != 0) {
		ofs_hex(id, OFS_ID_LEN, hex);
		ofs_err_wrap(err, "cannot read tree %.16s", hex);
		return rc;
	}
	while (rc == 0 && (k = ofs_tree_reader_next(rd, &nd, err)) != 0) {
		if (k < 0) {
			rc = k;
			break;
		}
		for (size_t i = 0; i < nd.nchunks; i++) {
			if (!ofs_blobtab_lookup(r->idx, nd.chunks[i], &ref)) {
				ofs_hex(nd.chunks[i], OFS_ID_LEN, hex);
				rc = ofs_err_set(err, OFS_ERR_CORRUPT,
				    "data blob %.16s of '%s' is not in the index: the repository is "
				    "damaged; %s (run 'offseed check')", hex,
				    (const char *)nd.name, refusing);
				break;
			}
			ofs_blobtab_add_blob(used, nd.chunks[i], &no_ref);
		}
		if (rc == 0 && nd.type == OFS_NODE_DIR && nd.has_subtree)
			rc = mark_tree_for(r, nd.subtree, used, refusing, err);
		ofs_node_release(&nd);
	}
	ofs_tree_reader_free(rd);
	return rc;
}

static int
mark_tree(struct ofs_repo *r, const uint8_t id[OFS_ID_LEN], struct ofs_blobtab *used,
    struct ofs_error *err)
{
	return mark_tree_for(r, id, used, "refusing to prune", err);
}

int
ofs_retention_mark_tree(struct ofs_repo *r, const uint8_t id[OFS_ID_LEN],
    struct ofs_blobtab *used, const char *refusing, struct ofs_error *err)
{
	return mark_tree_for(r, id, used, refusing, err);
}

enum { P_KEEP = 0, P_DELETE, P_REPACK };

struct pack_use {
	uint64_t used, total;
	size_t nused, n;
	int action;
};

struct blob_list {
	uint8_t (*ids)[OFS_ID_LEN];
	struct ofs_blob_ref *refs;
	size_t n, cap;
};

struct scan {
	struct ofs_blobtab *used;
	struct pack_use *pu;
	struct blob_list repack;	/* filled in the second pass */
	int second;
	int patch_used;			/* a used blob is a patch (its bases are in containers) */
};

static int
scan_blob(const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *ref, void *ud)
{
	struct scan *sc = ud;
	struct ofs_blob_ref dummy;
	int used = ofs_blobtab_lookup(sc->used, id, &dummy);
	struct pack_use *p = &sc->pu[ref->pack];

	if (!sc->second) {
		p->n++;
		p->total += ref->stored_len;
		if (used) {
			p->nused++;
			p->used += ref->stored_len;
			sc->patch_used |= ref->type == OFS_BLOB_PATCH;
		}
		return 0;
	}
	if (p->action == P_REPACK && used) {
		struct blob_list *l = &sc->repack;

		if (l->n == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 256;
			l->ids = ofs_xreallocarray(l->ids, l->cap, sizeof(*l->ids));
			l->refs = ofs_xreallocarray(l->refs, l->cap, sizeof(*l->refs));
		}
		memcpy(l->ids[l->n], id, OFS_ID_LEN);
		l->refs[l->n++] = *ref;
	}
	return 0;
}

static int
container_unused(struct ofs_repo *r, const struct scan *sc, size_t npacks)
{
	for (size_t i = 0; i < npacks; i++)
		if (ofs_blobtab_pack(r->idx, (uint32_t)i)->loc.kind == OFS_LOC_CONTAINER &&
		    sc->pu[i].nused == 0)
			return 1;
	return 0;
}

/* The used patches, listed before their bases are read. */
struct patch_list {
	const struct ofs_blobtab *used;
	struct blob_list l;
};

static int
list_used_patch(const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *ref, void *ud)
{
	struct patch_list *pl = ud;
	struct ofs_blob_ref dummy;
	struct blob_list *l = &pl->l;

	if (ref->type != OFS_BLOB_PATCH || !ofs_blobtab_lookup(pl->used, id, &dummy))
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->ids = ofs_xreallocarray(l->ids, l->cap, sizeof(*l->ids));
	}
	memcpy(l->ids[l->n++], id, OFS_ID_LEN);
	return 0;
}

int
ofs_retention_mark_patch_bases(struct ofs_repo *r, struct ofs_blobtab *used,
    struct ofs_error *err)
{
	uint8_t bases[OFS_PATCH_MAX_BASES][OFS_ID_LEN];
	struct patch_list pl;
	size_t nb;
	int rc = 0;

	memset(&pl, 0, sizeof(pl));
	pl.used = used;
	ofs_blobtab_foreach(r->idx, list_used_patch, &pl);
	for (size_t i = 0; i < pl.l.n; i++) {
		if ((rc = ofs_repo_patch_bases(r, NULL, pl.l.ids[i], bases, &nb, err)) != 0)
			break;
		for (size_t k = 0; k < nb; k++)
			ofs_blobtab_add_blob(used, bases[k], &no_ref);
	}
	free(pl.l.ids);
	return rc;
}

/* Mark the bases of every used patch used. */
static int
mark_patch_bases(struct ofs_repo *r, struct scan *sc, struct ofs_error *err)
{
	return ofs_retention_mark_patch_bases(r, sc->used, err);
}

/* Repack order: by pack, then offset, so each old pack is read front to back. */
static int
cmp_ref(const void *a, const void *b)
{
	const struct ofs_blob_ref *x = a, *y = b;

	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

struct index_file {
	char *name;
	struct ofs_index_pack *packs;
	size_t n;
};

static int
load_index_files(struct ofs_repo *r, struct index_file **out, size_t *nout,
    struct ofs_error *err)
{
	struct ofs_buf plain = OFS_BUF_INIT(0);
	struct index_file *f = NULL;
	char **names = NULL;
	size_t n = 0, k = 0;
	int rc;

	if ((rc = r->be->ops->list(r->be, "index", &names, &n, err)) != 0)
		return rc;
	f = ofs_xcalloc(n + 1, sizeof(*f));
	for (size_t i = 0; i < n; i++) {
		uint8_t id[OFS_ID_LEN];
		char *what;

		if (strlen(names[i]) != 2 * OFS_ID_LEN || ofs_unhex(names[i], id, OFS_ID_LEN) != 0)
			continue;
		ofs_buf_reset(&plain);
		if ((rc = ofs_repo_get_object(r, "index", OFS_OBJ_INDEX, id, 1u << 30, &plain,
		    err)) != 0)
			goto out;
		what = ofs_path_join("index", names[i]);
		rc = ofs_index_decode(plain.data, plain.len, what, &f[k].packs, &f[k].n, err);
		free(what);
		if (rc != 0)
			goto out;
		f[k++].name = ofs_xstrdup(names[i]);
	}
out:
	ofs_buf_release(&plain);
	ofs_names_free(names, n);
	if (rc != 0) {
		for (size_t i = 0; i < k; i++) {
			free(f[i].name);
			ofs_index_packs_free(f[i].packs, f[i].n);
		}
		free(f);
		return rc;
	}
	*out = f;
	*nout = k;
	return 0;
}

/* Close the writer's pack, store it as a loose pack and record it in newp. */
static int
flush_pack(struct ofs_repo *r, struct ofs_pack_writer *w, struct ofs_index_pack **newp,
    size_t *nnew, struct ofs_prune_stats *st, struct ofs_error *err)
{
	struct ofs_index_pack *p;
	char name[80];
	int rc;

	if (w->n == 0)
		return 0;
	*newp = ofs_xreallocarray(*newp, *nnew + 1, sizeof(**newp));
	p = &(*newp)[*nnew];
	memset(p, 0, sizeof(*p));
	if ((rc = ofs_pack_writer_finish(w, r->ctx, p->id, err)) != 0)
		return rc;
	ofs_loose_name(p->id, name, sizeof(name));
	if ((rc = r->be->ops->put(r->be, name, w->data.data, w->data.len, err)) != 0)
		return rc;
	p->loc.kind = OFS_LOC_LOOSE;
	p->length = w->data.len;
	ofs_xxh128(w->data.data, w->data.len, p->xxh);
	p->blobs = ofs_xreallocarray(NULL, w->n, sizeof(*w->entries));
	memcpy(p->blobs, w->entries, w->n * sizeof(*w->entries));
	p->nblobs = w->n;
	(*nnew)++;
	st->packs_written++;
	st->bytes_written += w->data.len;
	ofs_pack_writer_reset(w);
	return 0;
}

static int
container_of(const struct ofs_blobtab_pack *p, char *name, size_t namesz)
{
	char base[64];

	ofs_container_name(p->loc.set, p->loc.seq, base, sizeof(base));
	snprintf(name, namesz, "containers/%s", base);
	return 0;
}

/* One prune run: what the steps below share. */
struct prune {
	struct ofs_repo *r;
	struct ofs_prune_stats *st;
	struct scan sc;
	size_t npacks;
	struct ofs_index_pack *newp;	/* packs written by the repack */
	size_t nnew;
	struct index_file *files;	/* the index files read before writing the new one */
	size_t nfiles;
};

/* 1 when pack i is in a container and the first pack of it in the index (so that each
 * container is counted, and deleted, once). */
static int
first_of_container(const struct ofs_repo *r, size_t i)
{
	const struct ofs_blobtab_pack *ip = ofs_blobtab_pack(r->idx, (uint32_t)i);

	for (size_t k = 0; k < i; k++) {
		const struct ofs_blobtab_pack *kp = ofs_blobtab_pack(r->idx, (uint32_t)k);

		if (kp->loc.kind == OFS_LOC_CONTAINER && kp->loc.seq == ip->loc.seq &&
		    memcmp(kp->loc.set, ip->loc.set, OFS_SET_ID_LEN) == 0)
			return 0;
	}
	return 1;
}

/* Step 1: mark every blob reachable from a snapshot used. */
static int
mark_snapshots(struct prune *pr, struct ofs_error *err)
{
	struct ofs_snapshot *s = NULL;
	size_t n = 0;
	int rc;

	if ((rc = ofs_repo_list_snapshots(pr->r, &s, &n, err)) != 0)
		goto out;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = mark_tree(pr->r, s[i].tree, pr->sc.used, err);
out:
	for (size_t i = 0; i < n; i++)
		ofs_snapshot_release(&s[i]);
	free(s);
	return rc;
}

/* Step 2: per pack, used and total stored bytes (each blob counted in the pack the index
 * finds it in); decide each pack's action. */
static int
decide(struct prune *pr, struct ofs_error *err)
{
	struct ofs_repo *r = pr->r;
	struct scan *sc = &pr->sc;
	int rc;

	ofs_blobtab_foreach(r->idx, scan_blob, sc);
	/* The seed chunks patches copy from are used too. The trees do not list them, and
	 * reading the patches costs a download from the cloud, so this is done only when a
	 * container would otherwise go (patches copy only from containers). */
	if (sc->patch_used && container_unused(r, sc, pr->npacks)) {
		if ((rc = mark_patch_bases(r, sc, err)) != 0)
			return rc;
		memset(sc->pu, 0, (pr->npacks + 1) * sizeof(*sc->pu));
		ofs_blobtab_foreach(r->idx, scan_blob, sc);
	}
	for (size_t i = 0; i < pr->npacks; i++) {
		const struct ofs_blobtab_pack *ip = ofs_blobtab_pack(r->idx, (uint32_t)i);
		struct pack_use *pu = &sc->pu[i];

		pr->st->blobs_used += pu->nused;
		pr->st->blobs_unused += pu->n - pu->nused;
		if (pu->nused == 0)
			pu->action = P_DELETE;
		else if (ip->loc.kind == OFS_LOC_LOOSE && pu->used * 2 < pu->total)
			pu->action = P_REPACK;
		else
			pu->action = P_KEEP;
	}
	/* a container goes only when none of its packs holds a used blob */
	for (size_t i = 0; i < pr->npacks; i++) {
		const struct ofs_blobtab_pack *ip = ofs_blobtab_pack(r->idx, (uint32_t)i);

		if (ip->loc.kind != OFS_LOC_CONTAINER || sc->pu[i].action != P_DELETE)
			continue;
		for (size_t k = 0; k < pr->npacks; k++) {
			const struct ofs_blobtab_pack *kp = ofs_blobtab_pack(r->idx, (uint32_t)k);

			if (kp->loc.kind == OFS_LOC_CONTAINER && kp->loc.seq == ip->loc.seq &&
			    memcmp(kp->loc.set, ip->loc.set, OFS_SET_ID_LEN) == 0 &&
			    sc->pu[k].action != P_DELETE) {
				sc->pu[i].action = P_KEEP;
				break;
			}
		}
	}
	return 0;
}

/* The statistics of the decided actions; deleted container names go to deleted (may be
 * NULL). Returns 1 when some pack is not kept as it is. */
static int
count(struct prune *pr, json_t *deleted)
{
	struct ofs_repo *r = pr->r;
	struct ofs_prune_stats *st = pr->st;
	const struct pack_use *pu = pr->sc.pu;
	int changed = 0;

	for (size_t i = 0; i < pr->npacks; i++) {
		const struct ofs_blobtab_pack *ip = ofs_blobtab_pack(r->idx, (uint32_t)i);

		if (pu[i].action != P_KEEP)
			changed = 1;
		if (ip->loc.kind == OFS_LOC_CONTAINER) {
			if (pu[i].action == P_KEEP)
				st->container_bytes_reclaimable += ip->length -
				    (pu[i].used < ip->length ? pu[i].used : ip->length);
		} else if (pu[i].action == P_DELETE) {
			st->packs_deleted++;
			st->bytes_deleted += ip->length;
		} else if (pu[i].action == P_REPACK) {
			st->packs_repacked++;
			st->bytes_deleted += ip->length;
		}
	}
	/* containers (each counted once, by its first pack) */
	for (size_t i = 0; i < pr->npacks; i++) {
		const struct ofs_blobtab_pack *ip = ofs_blobtab_pack(r->idx, (uint32_t)i);

		if (ip->loc.kind != OFS_LOC_CONTAINER || !first_of_container(r, i))
			continue;
		if (pu[i].action == P_DELETE) {
			char name[96];
			uint64_t sz = 0;
			struct ofs_error e2 = { 0 };

			container_of(ip, name, sizeof(name));
			st->containers_deleted++;
			if (r->be->ops->size(r->be, name, &sz, &e2) == 0)
				st->bytes_deleted += sz;
			if (deleted != NULL)
				json_array_append_new(deleted,
				    json_string(name + strlen("containers/")));
		} else {
			st->containers_kept++;
		}
	}
	return changed;
}

/* Step 3: copy the used blobs' stored bytes of the packs to repack into new loose packs
 * (pr->newp), each checked to still open first. */
static int
repack(struct prune *pr, struct ofs_error *err)
{
	struct ofs_repo *r = pr->r;
	struct scan *sc = &pr->sc;
	struct ofs_pack_writer w;
	struct ofs_buf stored = OFS_BUF_INIT(0), plain = OFS_BUF_INIT(0);
	struct pair { struct ofs_blob_ref ref; size_t i; } *order;
	int rc = 0;

	ofs_pack_writer_init(&w);
	sc->second = 1;
	ofs_blobtab_foreach(r->idx, scan_blob, sc);
	/* sort (id, ref) pairs together through an index array */
	order = ofs_xcalloc(sc->repack.n + 1, sizeof(*order));
	for (size_t i = 0; i < sc->repack.n; i++) {
		order[i].ref = sc->repack.refs[i];
		order[i].i = i;
	}
	qsort(order, sc->repack.n, sizeof(*order), cmp_ref);
	for (size_t j = 0; j < sc->repack.n && rc == 0; j++) {
		const struct ofs_blob_ref *ref = &sc->repack.refs[order[j].i];
		const uint8_t *id = sc->repack.ids[order[j].i];
		const struct ofs_blobtab_pack *ip = ofs_blobtab_pack(r->idx, ref->pack);
		char name[80];

		ofs_loose_name(ip->id, name, sizeof(name));
		ofs_buf_reset(&stored);
		if ((rc = r->be->ops->get(r->be, name, ref->offset, ref->stored_len, &stored,
		    err)) != 0)
			break;
		if (stored.len != ref->stored_len) {
			rc = ofs_err_set(err, OFS_ERR_CORRUPT, "short read of a blob in '%s'",
			    name);
			break;
		}
		/* it must still open: never copy damaged bytes into a new pack */
		ofs_buf_reset(&plain);
		if ((rc = ofs_blob_open(r->ctx, ref->type, id, stored.data, stored.len,
		    ref->raw_len, &plain, err)) != 0)
			break;
		ofs_pack_writer_add(&w, ref->type, id, stored.data, stored.len, ref->raw_len);
		pr->st->blobs_repacked++;
		if (ofs_pack_writer_size(&w) >= OFS_PACK_TARGET)
			rc = flush_pack(r, &w, &pr->newp, &pr->nnew, pr->st, err);
	}
	if (rc == 0)
		rc = flush_pack(r, &w, &pr->newp, &pr->nnew, pr->st, err);
	free(order);
	ofs_pack_writer_release(&w);
	ofs_buf_release(&stored);
	ofs_buf_release(&plain);
	return rc;
}

/* Step 4: one new index file: the kept packs of the old index files (read into pr->files),
 * then the new packs. */
static int
write_index(struct prune *pr, struct ofs_error *err)
{
	struct ofs_repo *r = pr->r;
	struct ofs_buf enc = OFS_BUF_INIT(0);
	struct ofs_index_pack *all = NULL;
	uint8_t iid[OFS_ID_LEN], *seen;
	size_t nall = 0;
	int rc;

	if ((rc = load_index_files(r, &pr->files, &pr->nfiles, err)) != 0)
		return rc;
	seen = ofs_xcalloc(pr->npacks + 1, 1);
	for (size_t f = 0; f < pr->nfiles; f++) {
		for (size_t k = 0; k < pr->files[f].n; k++) {
			const struct ofs_index_pack *fp = &pr->files[f].packs[k];
			struct ofs_blobtab_pack q;
			uint32_t num;

			memset(&q, 0, sizeof(q));
			memcpy(q.id, fp->id, OFS_ID_LEN);
			q.loc = fp->loc;
			q.length = fp->length;
			memcpy(q.xxh, fp->xxh, OFS_XXH_LEN);
			num = ofs_blobtab_add_pack(r->idx, &q);	/* present: its number */
			if (num >= pr->npacks || seen[num] || pr->sc.pu[num].action != P_KEEP)
				continue;
			seen[num] = 1;
			all = ofs_xreallocarray(all, nall + 1, sizeof(*all));
			all[nall++] = *fp;	/* borrowed */
		}
	}
	for (size_t k = 0; k < pr->nnew; k++) {
		all = ofs_xreallocarray(all, nall + 1, sizeof(*all));
		all[nall++] = pr->newp[k];
	}
	if ((rc = ofs_index_encode(all, nall, &enc)) == 0) {
		ofs_random(iid, sizeof(iid));
		rc = ofs_repo_put_object(r, "index", OFS_OBJ_INDEX, iid, enc.data, enc.len, err);
	} else {
		ofs_err_set(err, OFS_ERR_IO, "cannot encode the new index");
	}
	if (rc == 0)
		pr->st->index_files_written = 1;
	ofs_buf_release(&enc);
	free(seen);
	free(all);
	return rc;
}

/* Step 5, only once the new index is stored: delete the old index files, then the dropped
 * packs and containers (one already gone is no error). */
static int
delete_old(struct prune *pr, struct ofs_error *err)
{
	struct ofs_repo *r = pr->r;
	int rc;

	for (size_t f = 0; f < pr->nfiles; f++) {
		char *name = ofs_path_join("index", pr->files[f].name);

		rc = r->be->ops->remove(r->be, name, err);
		free(name);
		if (rc != 0)
			return rc;
		pr->st->index_files_deleted++;
	}
	for (size_t i = 0; i < pr->npacks; i++) {
		const struct ofs_blobtab_pack *ip = ofs_blobtab_pack(r->idx, (uint32_t)i);
		char name[96];

		if (pr->sc.pu[i].action == P_KEEP)
			continue;
		if (ip->loc.kind == OFS_LOC_LOOSE) {
			ofs_loose_name(ip->id, name, sizeof(name));
		} else {
			if (!first_of_container(r, i))
				continue;
			container_of(ip, name, sizeof(name));
		}
		if ((rc = r->be->ops->remove(r->be, name, err)) != 0 && rc != OFS_ERR_NOTFOUND)
			return rc;
	}
	return 0;
}

int
ofs_prune_run(struct ofs_repo *r, int dry_run, struct ofs_prune_stats *st,
    json_t *deleted_containers, struct ofs_error *err)
{
	struct prune pr;
	int rc;

	memset(st, 0, sizeof(*st));
	memset(&pr, 0, sizeof(pr));
	pr.r = r;
	pr.st = st;
	pr.sc.used = ofs_blobtab_new();
	/* every chunk a snapshot keeps: as many as the index, under the same budget */
	ofs_blobtab_spill_to(pr.sc.used, r->state_dir, ofs_index_budget());
	pr.npacks = ofs_blobtab_npacks(r->idx);
	pr.sc.pu = ofs_xcalloc(pr.npacks + 1, sizeof(*pr.sc.pu));

	if ((rc = mark_snapshots(&pr, err)) != 0 || (rc = decide(&pr, err)) != 0)
		goto out;
	if (!count(&pr, deleted_containers) || dry_run)
		goto out;
	if ((rc = repack(&pr, err)) != 0 || (rc = write_index(&pr, err)) != 0)
		goto out;
	rc = delete_old(&pr, err);
out:
	for (size_t f = 0; f < pr.nfiles; f++) {
		free(pr.files[f].name);
		ofs_index_packs_free(pr.files[f].packs, pr.files[f].n);
	}
	free(pr.files);
	ofs_index_packs_free(pr.newp, pr.nnew);
	free(pr.sc.repack.ids);
	free(pr.sc.repack.refs);
	free(pr.sc.pu);
	ofs_blobtab_free(pr.sc.used);
	return rc;
}

json_t *
ofs_prune_stats_json(const struct ofs_prune_stats *st)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "packs_deleted", (json_int_t)st->packs_deleted,
	    "packs_repacked", (json_int_t)st->packs_repacked,
	    "packs_written", (json_int_t)st->packs_written,
	    "blobs_repacked", (json_int_t)st->blobs_repacked,
	    "bytes_deleted", (json_int_t)st->bytes_deleted,
	    "bytes_written", (json_int_t)st->bytes_written,
	    "containers_deleted", (json_int_t)st->containers_deleted,
	    "containers_kept", (json_int_t)st->containers_kept,
	    "container_bytes_reclaimable", (json_int_t)st->container_bytes_reclaimable,
	    "index_files_written", (json_int_t)st->index_files_written,
	    "index_files_deleted", (json_int_t)st->index_files_deleted,
	    "blobs_used", (json_int_t)st->blobs_used,
	    "blobs_unused", (json_int_t)st->blobs_unused);
}
