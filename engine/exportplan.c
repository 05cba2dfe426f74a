/* The objects an export job lists: mark what the snapshot (or the given paths of it)
 * reaches with prune's rules, map each blob to the pack the index finds it in, and name
 * those packs' containers and loose objects next to the repository's metadata. */
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "exportplan.h"
#include "index.h"
#include "jobjson.h"
#include "retention.h"
#include "util.h"

static const struct ofs_blob_ref no_ref;

static const char refusing[] = "refusing to export";

/* Packs the marked blobs live in. */
struct packmark {
	const struct ofs_repo *r;
	uint8_t *need;			/* one byte per pack of r->idx */
	int patch_seen;			/* a marked blob is a patch */
	struct ofs_error *err;
};

static int
mark_pack(const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *unused, void *ud)
{
	struct packmark *pm = ud;
	struct ofs_blob_ref ref;
	char hex[2 * OFS_ID_LEN + 1];

	if (!ofs_blobtab_lookup(pm->r->idx, id, &ref)) {
		/* trees were read through the index and chunks checked, so only a patch base
		 * can be missing here */
		ofs_hex(id, OFS_ID_LEN, hex);
		return ofs_err_set(pm->err, OFS_ERR_CORRUPT, "blob %.16s (a seed chunk a patch "
		    "copies from) is not in the index: the repository is damaged; %s (run "
		    "'offseed check')", hex, refusing);
	}
	pm->need[ref.pack] = 1;
	pm->patch_seen |= ref.type == OFS_BLOB_PATCH;
	return 0;
}

/* Add the chunks of a file node to used, each checked to be in the index. */
static int
mark_chunks(struct ofs_repo *r, const struct ofs_node *nd, struct ofs_blobtab *used,
    struct ofs_error *err)
{
	struct ofs_blob_ref ref;
	char hex[2 * OFS_ID_LEN + 1];

	for (size_t k = 0; k < nd->nchunks; k++) {
		if (!ofs_blobtab_lookup(r->idx, nd->chunks[k], &ref)) {
			ofs_hex(nd->chunks[k], OFS_ID_LEN, hex);
			return ofs_err_set(err, OFS_ERR_CORRUPT, "data blob %.16s of '%s' is not in "
			    "the index: the repository is damaged; %s (run 'offseed check')", hex,
			    (const char *)nd->name, refusing);
		}
		ofs_blobtab_add_blob(used, nd->chunks[k], &no_ref);
	}
	return 0;
}

/* Mark what path needs: the trees on the way go to nav (needed, but not everything below
 * them), the node's own content and everything beneath it to used. */
static int
mark_path(struct ofs_repo *r, const struct ofs_snapshot *snap, const char *path,
    struct ofs_blobtab *used, struct ofs_blobtab *nav, struct ofs_error *err)
{
	char *copy = ofs_xstrdup(path), *save = NULL, *comp;
	char snaphex[2 * OFS_ID_LEN + 1];
	uint8_t cur[OFS_ID_LEN];
	struct ofs_node node;
	int r_ = 0, at_root = 1;

	memset(&node, 0, sizeof(node));
	memcpy(cur, snap->tree, OFS_ID_LEN);
	ofs_hex(snap->id, OFS_ID_LEN, snaphex);
	for (comp = strtok_r(copy, "/", &save); comp != NULL; comp = strtok_r(NULL, "/", &save)) {
		struct ofs_tree_reader *rd = NULL;
		size_t len = strlen(comp);

		if (!at_root && (node.type != OFS_NODE_DIR || !node.has_subtree)) {
			r_ = ofs_err_set(err, OFS_ERR_NOTFOUND, "'%s' is not in snapshot %.8s ('%s' "
			    "is not a directory)", path, snaphex, (const char *)node.name);
			goto out;
		}
		ofs_blobtab_add_blob(nav, cur, &no_ref);
		if ((r_ = ofs_repo_open_tree(r, r->ctx, cur, &rd, err)) != 0) {
			ofs_err_wrap(err, "looking for '%s'", path);
			goto out;
		}
		ofs_node_release(&node);
		r_ = ofs_tree_reader_find(rd, (const uint8_t *)comp, len, &node, err);
		ofs_tree_reader_free(rd);
		if (r_ < 0) {
			ofs_err_wrap(err, "looking for '%s'", path);
			goto out;
		}
		if (r_ == 0) {
			r_ = ofs_err_set(err, OFS_ERR_NOTFOUND, "'%s' is not in snapshot %.8s", path,
			    snaphex);
			goto out;
		}
		r_ = 0;
		at_root = 0;
		if (node.type == OFS_NODE_DIR && node.has_subtree)
			memcpy(cur, node.subtree, OFS_ID_LEN);
	}
	if (at_root)
		r_ = ofs_retention_mark_tree(r, snap->tree, used, refusing, err);
	else if (node.type == OFS_NODE_DIR && node.has_subtree)
		r_ = ofs_retention_mark_tree(r, node.subtree, used, refusing, err);
	else
		r_ = mark_chunks(r, &node, used, err);
out:
	ofs_node_release(&node);
	free(copy);
	return r_;
}

static int
add_to(const uint8_t id[OFS_ID_LEN], const struct ofs_blob_ref *unused, void *ud)
{
	ofs_blobtab_add_blob(ud, id, &no_ref);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct names {
	char **v;
	size_t n, cap;
};

static void
names_add(struct names *l, char *s)	/* takes s */
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = ofs_xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = s;
}

/* Sort names [from, l->n) and drop duplicates; returns how many stay. */
static size_t
names_sort_unique(struct names *l, size_t from)
{
	size_t k = from;

	qsort(l->v + from, l->n - from, sizeof(*l->v), cmp_str);
	for (size_t i = from; i < l->n; i++) {
		if (k > from && strcmp(l->v[k - 1], l->v[i]) == 0) {
			free(l->v[i]);
			continue;
		}
		l->v[k++] = l->v[i];
	}
	l->n = k;
	return k - from;
}

static int
all_hex(const char *s, size_t len)
{
	return strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

/* Every object of dir whose name is len lower-case hex digits, as "dir/NAME", sorted. */
static int
add_listing(struct ofs_repo *r, const char *dir, size_t len, struct names *l, size_t *count,
    struct ofs_error *err)
{
	char **v = NULL;
	size_t n = 0, from = l->n;
	int rc;

	if ((rc = r->be->ops->list(r->be, dir, &v, &n, err)) != 0) {
		ofs_err_wrap(err, "listing '%s'", dir);
		return rc;
	}
	for (size_t i = 0; i < n; i++)
		if (all_hex(v[i], len))
			names_add(l, ofs_path_join(dir, v[i]));
	ofs_names_free(v, n);
	*count = names_sort_unique(l, from);
	return 0;
}

/* Sizes: config and loose packs known here, the rest asked of the backend. */
static void
add_sizes(struct ofs_repo *r, struct ofs_export_plan *p, const uint64_t *loose_len)
{
	size_t loose_from = p->n - p->nloose;

	for (size_t i = 0; i < p->n; i++) {
		struct ofs_error e2 = { 0 };
		uint64_t sz = 0;

		if (i == 0) {
			sz = r->config_raw.len;
		} else if (i >= loose_from) {
			sz = loose_len[i - loose_from];
		} else if (r->be->ops->size(r->be, p->names[i], &sz, &e2) != 0) {
			if (p->nsize_unknown++ == 0)
				p->first_unknown = ofs_xstrdup(p->names[i]);
			continue;
		}
		p->bytes += sz;
	}
}

struct loose {
	char *name;
	uint64_t len;
};

static int
cmp_loose(const void *a, const void *b)
{
	return strcmp(((const struct loose *)a)->name, ((const struct loose *)b)->name);
}

int
ofs_exportplan_build(struct ofs_repo *r, const struct ofs_snapshot *snap,
    const char *const *paths, size_t npaths, struct ofs_export_plan *p,
    struct ofs_error *err)
{
	struct ofs_blobtab *used = ofs_blobtab_new(), *nav = ofs_blobtab_new();
	size_t npacks = ofs_blobtab_npacks(r->idx), nl = 0, from;
	struct packmark pm = { r, NULL, 0, err };
	struct loose *lo = NULL;
	uint64_t *loose_len = NULL;
	struct names l = { NULL, 0, 0 };
	char hex[2 * OFS_ID_LEN + 1];
	int rc = 0;

	memset(p, 0, sizeof(*p));
	/* every chunk the snapshot needs: as many as the index, under the same budget */
	ofs_blobtab_spill_to(used, r->state_dir, ofs_index_budget());
	pm.need = ofs_xcalloc(npacks + 1, 1);
	/* 1. what the selection reaches */
	if (npaths == 0)
		rc = ofs_retention_mark_tree(r, snap->tree, used, refusing, err);
	for (size_t i = 0; i < npaths && rc == 0; i++)
		rc = mark_path(r, snap, paths[i], used, nav, err);
	if (rc != 0)
		goto out;
	/* the trees on the way join the rest only now: in used before, they would have
	 * stopped the walk of a later path below them */
	ofs_blobtab_foreach(nav, add_to, used);
	/* 2. its packs; the seed chunks of patches too (read only when there are patches) */
	if ((rc = ofs_blobtab_foreach(used, mark_pack, &pm)) != 0)
		goto out;
	if (pm.patch_seen) {
		if ((rc = ofs_retention_mark_patch_bases(r, used, err)) != 0 ||
		    (rc = ofs_blobtab_foreach(used, mark_pack, &pm)) != 0)
			goto out;
	}
	p->blobs = ofs_blobtab_nblobs(used);
	/* 3. the names, group by group */
	names_add(&l, ofs_xstrdup("config"));
	if ((rc = add_listing(r, "keys", 32, &l, &p->nkeys, err)) != 0 ||
	    (rc = add_listing(r, "index", 2 * OFS_ID_LEN, &l, &p->nindex, err)) != 0)
		goto out;
	ofs_hex(snap->id, OFS_ID_LEN, hex);
	names_add(&l, ofs_xasprintf("snapshots/%s", hex));
	from = l.n;
	lo = ofs_xcalloc(npacks + 1, sizeof(*lo));
	for (size_t i = 0; i < npacks; i++) {
		const struct ofs_blobtab_pack *ip = ofs_blobtab_pack(r->idx, (uint32_t)i);
		char name[96];

		if (!pm.need[i])
			continue;
		if (ip->loc.kind == OFS_LOC_CONTAINER) {
			ofs_container_name(ip->loc.set, ip->loc.seq, name, sizeof(name));
			names_add(&l, ofs_xasprintf("containers/%s", name));
		} else {
			ofs_loose_name(ip->id, name, sizeof(name));
			lo[nl].name = ofs_xstrdup(name);
			lo[nl++].len = ip->length;
		}
	}
	p->ncontainers = names_sort_unique(&l, from);
	/* a pack id is unique in the table, so loose names are too */
	qsort(lo, nl, sizeof(*lo), cmp_loose);
	loose_len = ofs_xcalloc(nl + 1, sizeof(*loose_len));
	for (size_t i = 0; i < nl; i++) {
		names_add(&l, lo[i].name);
		lo[i].name = NULL;	/* transferred */
		loose_len[i] = lo[i].len;
	}
	p->nloose = nl;
	p->names = l.v;
	p->n = l.n;
	l.v = NULL;	/* transferred */
	l.n = 0;
	add_sizes(r, p, loose_len);
out:
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	if (lo != NULL)
		for (size_t i = 0; i < nl; i++)
			free(lo[i].name);
	free(lo);
	free(loose_len);
	free(pm.need);
	ofs_blobtab_free(used);
	ofs_blobtab_free(nav);
	if (rc != 0)
		ofs_exportplan_release(p);
	return rc;
}

void
ofs_exportplan_release(struct ofs_export_plan *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->names[i]);
	free(p->names);
	free(p->first_unknown);
	memset(p, 0, sizeof(*p));
}

/* A body's bytes besides the blob list, generously (contact and ids are capped far below). */
#define BODY_OVERHEAD (64u << 10)

int
ofs_exportplan_job_body(const struct ofs_export_plan *p, const struct ofs_export_target *t,
    json_t **out, struct ofs_error *err)
{
	json_t *list, *details, *exp;
	uint64_t bytes = BODY_OVERHEAD;
	size_t plen = strlen(t->prefix);

	*out = NULL;
	if (t->contact == NULL)
		return ofs_err_set(err, OFS_ERR_USAGE, "the export job needs contact details");
	if (p->n > OFS_EXPORT_BLOBS_MAX)
		return ofs_err_set(err, OFS_ERR_LIMIT, "the selection needs %zu objects; an export "
		    "job lists at most %u: export fewer paths per job", p->n, OFS_EXPORT_BLOBS_MAX);
	for (size_t i = 0; i < p->n; i++)	/* "/C/P/NAME", with quotes and a comma */
		bytes += 2 + strlen(t->container) + (plen ? plen + 1 : 0) + 1 + strlen(p->names[i]) +
		    3;
	if (bytes > OFS_EXPORT_BODY_MAX)
		return ofs_err_set(err, OFS_ERR_LIMIT, "the export job body would be about %llu "
		    "bytes; the service accepts at most %u: export fewer paths per job",
		    (unsigned long long)bytes, OFS_EXPORT_BODY_MAX);
	list = json_array();
	for (size_t i = 0; i < p->n; i++) {
		char *e = plen ? ofs_xasprintf("/%s/%s/%s", t->container, t->prefix, p->names[i]) :
		    ofs_xasprintf("/%s/%s", t->container, p->names[i]);

		json_array_append_new(list, json_string(e));
		free(e);
	}
	exp = json_pack("{s:{s:s, s:s}, s:{s:s, s:{s:{s:s, s:{s:o}}}}, s:s}",
	    "accountDetails", "dataAccountType", "StorageAccount", "storageAccountId",
	    t->storage_account_id,
	    "transferConfiguration", "transferConfigurationType", "TransferUsingFilter",
	    "transferFilterDetails", "include", "dataAccountType", "StorageAccount",
	    "blobFilterDetails", "blobPathList", list,
	    "logCollectionLevel", "Verbose");
	details = json_pack("{s:s, s:O, s:[o]}", "jobDetailsType", "DataBoxCustomerDisk",
	    "contactDetails", t->contact, "dataExportDetails", exp);
	if (t->return_package != NULL)
		json_object_set(details, "returnToCustomerPackageDetails", t->return_package);
	*out = json_pack("{s:s, s:{s:s}, s:{s:s, s:o}}", "location", t->location, "sku", "name",
	    "DataBoxCustomerDisk", "properties", "transferType", "ExportFromAzure", "details",
	    details);
	if (*out == NULL)	/* only a string that is not UTF-8 makes json_pack fail */
		return ofs_err_set(err, OFS_ERR_USAGE, "cannot build the export job body: a "
		    "location or account id is not text");
	return 0;
}
