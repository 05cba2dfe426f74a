/* Disk-set backend: a prepared seed set (Data Box layout, SPEC §7) read in place from its
 * mount points. Read-only: containers come from the disk that holds them, metadata from the
 * first disk that has it; a container on a disk that was not given is named by disk. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "manifest.h"
#include "repo.h"
#include "setmanifest.h"
#include "util.h"

struct disk {
	char *mnt;
	struct ofs_backend *page;	/* MNT/PageBlob/C[/P]: containers/<file>.vhd */
	struct ofs_backend *block;	/* MNT/BlockBlob/C[/P]: config, keys/, index/, snapshots/ */
	uint32_t index;			/* from its offseed-manifest.json; 0 when unknown */
};

struct ctr {
	char *name;	/* "<set>-<seq>.vhd" */
	size_t disk;	/* index into disks_backend.d */
};

struct disks_backend {
	struct ofs_backend b;
	struct disk *d;
	size_t n;
	struct ofs_set_manifest *set;	/* of the first disk (all agree on repository and set) */
	struct ctr *ctrs;		/* sorted by name */
	size_t nctrs;
};

static int
cmp_ctr(const void *a, const void *b)
{
	return strcmp(((const struct ctr *)a)->name, ((const struct ctr *)b)->name);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const struct ctr *
find_ctr(const struct disks_backend *s, const char *name)
{
	struct ctr key = { (char *)name, 0 };

	return s->nctrs ? bsearch(&key, s->ctrs, s->nctrs, sizeof(key), cmp_ctr) : NULL;
}

/* "containers/X" → X (no further '/'), else NULL. */
static const char *
container_part(const char *name)
{
	if (strncmp(name, "containers/", 11) != 0 || name[11] == '\0' ||
	    strchr(name + 11, '/') != NULL)
		return NULL;
	return name + 11;
}

/* The set's disk that lists container cname, or NULL. */
static const struct ofs_set_disk *
set_disk_of(const struct ofs_set_manifest *m, const char *cname)
{
	for (size_t i = 0; i < m->ndisks; i++)
		for (size_t k = 0; k < m->disks[i].ncontainers; k++)
			if (strcmp(m->disks[i].containers[k], cname) == 0)
				return &m->disks[i];
	return NULL;
}

/* Where container cname should be, as an error: OFS_ERR_UNAVAILABLE when its disk was not
 * given, OFS_ERR_NOTFOUND when its disk was given but lacks it or no disk lists it. */
static int
where_err(struct disks_backend *s, const char *cname, struct ofs_error *err)
{
	const struct ofs_set_disk *sd = set_disk_of(s->set, cname);

	if (sd == NULL)
		return ofs_err_set(err, OFS_ERR_NOTFOUND, "container '%s' is on none of the %zu "
		    "disks of seed set %s", cname, s->set->ndisks, s->set->seed_set);
	for (size_t i = 0; i < s->n; i++)
		if (s->d[i].index == sd->index)
			return ofs_err_set(err, OFS_ERR_NOTFOUND, "container '%s' is missing from "
			    "disk %u of %zu (serial %s) at '%s'", cname, sd->index,
			    s->set->ndisks, sd->serial, s->d[i].mnt);
	return ofs_err_set(err, OFS_ERR_UNAVAILABLE, "unavailable: container '%s' is on "
	    "missing disk %u of %zu (serial %s), which is not among the disks given", cname,
	    sd->index, s->set->ndisks, sd->serial);
}

/* The backend and repository-relative name that hold name, or an error. */
static int
resolve(struct disks_backend *s, const char *name, struct ofs_backend **be, const char **rel,
    struct ofs_error *err)
{
	const struct ctr *c;
	const char *cname;
	uint64_t size;
	int r = OFS_ERR_NOTFOUND;

	if ((cname = container_part(name)) != NULL) {
		if ((c = find_ctr(s, cname)) == NULL)
			return where_err(s, cname, err);
		*be = s->d[c->disk].page;
		*rel = name;
		return 0;
	}
	for (size_t i = 0; i < s->n; i++) {
		r = s->d[i].block->ops->size(s->d[i].block, name, &size, err);
		if (r == 0) {
			*be = s->d[i].block;
			*rel = name;
			return 0;
		}
		if (r != OFS_ERR_NOTFOUND)
			return r;
	}
	return ofs_err_set(err, OFS_ERR_NOTFOUND, "'%s' is on none of the disks of '%s'", name,
	    s->b.loc);
}

static int
disks_get(struct ofs_backend *b, const char *name, uint64_t off, uint64_t len,
    struct ofs_buf *out, struct ofs_error *err)
{
	struct ofs_backend *be;
	const char *rel;
	int r;

	if ((r = resolve((struct disks_backend *)b, name, &be, &rel, err)) != 0)
		return r;
	return be->ops->get(be, rel, off, len, out, err);
}

static int
disks_put(struct ofs_backend *b, const char *name, const void *p, size_t n,
    struct ofs_error *err)
{
	return ofs_err_set(err, OFS_ERR_IO, "cannot write '%s': '%s' is a read-only disk set",
	    name, b->loc);
}

static int
disks_remove(struct ofs_backend *b, const char *name, struct ofs_error *err)
{
	return ofs_err_set(err, OFS_ERR_IO, "cannot remove '%s': '%s' is a read-only disk set",
	    name, b->loc);
}

static int
disks_size(struct ofs_backend *b, const char *name, uint64_t *size, struct ofs_error *err)
{
	struct ofs_backend *be;
	const char *rel;
	int r;

	if ((r = resolve((struct disks_backend *)b, name, &be, &rel, err)) != 0)
		return r;
	return be->ops->size(be, rel, size, err);
}

/* Sorted union of names without duplicates; takes ownership of add. */
static void
merge_names(char ***names, size_t *n, char **add, size_t nadd)
{
	size_t k = 0;

	*names = ofs_xreallocarray(*names, *n + nadd + 1, sizeof(char *));
	if (nadd > 0)
		memcpy(*names + *n, add, nadd * sizeof(char *));
	*n += nadd;
	free(add);
	if (*n > 1)
		qsort(*names, *n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < *n; i++) {
		if (k > 0 && strcmp((*names)[k - 1], (*names)[i]) == 0)
			free((*names)[i]);
		else
			(*names)[k++] = (*names)[i];
	}
	*n = k;
}

static int
disks_list(struct ofs_backend *b, const char *dir, char ***names, size_t *n,
    struct ofs_error *err)
{
	struct disks_backend *s = (struct disks_backend *)b;
	char **add = NULL;
	size_t nadd = 0;
	int r;

	*names = NULL;
	*n = 0;
	if (strcmp(dir, "containers") == 0) {
		*names = ofs_xreallocarray(NULL, s->nctrs + 1, sizeof(char *));
		for (size_t i = 0; i < s->nctrs; i++)
			(*names)[i] = ofs_xstrdup(s->ctrs[i].name);
		*n = s->nctrs;
		return 0;
	}
	for (size_t i = 0; i < s->n; i++) {
		if ((r = s->d[i].block->ops->list(s->d[i].block, dir, &add, &nadd, err)) != 0) {
			ofs_names_free(*names, *n);
			*names = NULL;
			*n = 0;
			return r;
		}
		merge_names(names, n, add, nadd);
	}
	if (*dir == '\0' && s->nctrs > 0) {
		add = ofs_xreallocarray(NULL, 1, sizeof(char *));
		add[0] = ofs_xstrdup("containers");
		merge_names(names, n, add, 1);
	}
	return 0;
}

/* Real paths for what is on a disk (containers, metadata); NULL for anything else, so
 * nothing tries to lock or write here. */
static char *
disks_path(struct ofs_backend *b, const char *name)
{
	struct disks_backend *s = (struct disks_backend *)b;
	struct ofs_backend *be;
	const char *rel;

	if (*name == '\0' || strncmp(name, "locks", 5) == 0)
		return NULL;
	if (resolve(s, name, &be, &rel, NULL) != 0)
		return NULL;
	return be->ops->path(be, rel);
}

static void
disks_free(struct ofs_backend *b)
{
	struct disks_backend *s = (struct disks_backend *)b;

	for (size_t i = 0; i < s->n; i++) {
		free(s->d[i].mnt);
		ofs_backend_free(s->d[i].page);
		ofs_backend_free(s->d[i].block);
	}
	for (size_t i = 0; i < s->nctrs; i++)
		free(s->ctrs[i].name);
	free(s->ctrs);
	free(s->d);
	ofs_set_manifest_free(s->set);
	free(s->b.loc);
	free(s);
}

static const struct ofs_backend_ops disks_ops = {
	disks_get, disks_put, disks_list, disks_remove, disks_size, disks_path, disks_free,
};

/* Open one disk: its set manifest (checked against the first disk's), its roots, its index
 * in the set and its containers. */
static int
open_disk(struct disks_backend *s, size_t i, struct ofs_error *err)
{
	struct disk *d = &s->d[i];
	struct ofs_set_manifest *m = NULL;
	struct ofs_manifest *dm = NULL;
	struct stat st;
	char *sp = NULL, *mp = NULL, *cont = NULL, *prefix = NULL, *loc = NULL, *base = NULL;
	char **names = NULL;
	size_t nn = 0;
	int r;

	if (stat(d->mnt, &st) != 0) {
		r = ofs_err_sys(err, errno == ENOENT ? OFS_ERR_USAGE : OFS_ERR_IO, errno,
		    "cannot open disk '%s'", d->mnt);
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "disk '%s' is not a folder", d->mnt);
		goto out;
	}
	sp = ofs_path_join(d->mnt, OFS_SET_MANIFEST_NAME);
	if ((r = ofs_set_manifest_load(sp, &m, err)) != 0) {
		if (r == OFS_ERR_NOTFOUND)
			r = ofs_err_set(err, OFS_ERR_USAGE, "'%s' is not a prepared disk (no %s; "
			    "prepare disks with 'offseed prep')", d->mnt, OFS_SET_MANIFEST_NAME);
		goto out;
	}
	if (s->set == NULL) {
		s->set = m;
		m = NULL;
	} else if (strcmp(m->repository, s->set->repository) != 0 ||
	    strcmp(m->seed_set, s->set->seed_set) != 0) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "disk '%s' belongs to another set (repository "
		    "%s, seed set %s) than '%s' (repository %s, seed set %s)", d->mnt,
		    m->repository, m->seed_set, s->d[0].mnt, s->set->repository,
		    s->set->seed_set);
		goto out;
	} else if (strcmp(m->destination, s->set->destination) != 0) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "disk '%s' names destination '%s', '%s' "
		    "names '%s'", d->mnt, m->destination, s->d[0].mnt, s->set->destination);
		goto out;
	}
	if ((r = ofs_dest_parse(s->set->destination, NULL, &cont, &prefix, err)) != 0) {
		ofs_err_wrap(err, "'%s'", sp);
		r = OFS_ERR_CORRUPT;
		goto out;
	}
	base = *prefix ? ofs_xasprintf("%s/%s", cont, prefix) : ofs_xstrdup(cont);
	loc = ofs_xasprintf("file:%s/PageBlob/%s", d->mnt, base);
	if ((r = ofs_backend_local_open(loc, &d->page, err)) != 0)
		goto out;
	free(loc);
	loc = ofs_xasprintf("file:%s/BlockBlob/%s", d->mnt, base);
	if ((r = ofs_backend_local_open(loc, &d->block, err)) != 0)
		goto out;
	/* Which disk of the set this is: only for naming a missing container's disk. */
	free(mp);
	mp = ofs_path_join(d->mnt, OFS_MANIFEST_NAME);
	if (ofs_manifest_load(mp, &dm, NULL) == 0 && dm->has_disk &&
	    dm->disk_index >= 1 && dm->disk_index <= s->set->ndisks)
		d->index = dm->disk_index;
	if ((r = d->page->ops->list(d->page, "containers", &names, &nn, err)) != 0)
		goto out;
	for (size_t k = 0; k < nn; k++) {
		size_t l = strlen(names[k]);

		if (l < 5 || strcmp(names[k] + l - 4, ".vhd") != 0)
			continue;
		s->ctrs = ofs_xreallocarray(s->ctrs, s->nctrs + 1, sizeof(*s->ctrs));
		s->ctrs[s->nctrs].name = names[k];
		s->ctrs[s->nctrs].disk = i;
		s->nctrs++;
		names[k] = NULL;	/* transferred */
	}
	r = 0;
out:
	ofs_names_free(names, nn);
	ofs_manifest_free(dm);
	ofs_set_manifest_free(m);
	free(sp);
	free(mp);
	free(cont);
	free(prefix);
	free(loc);
	free(base);
	return r;
}

int
ofs_backend_disks_open(const char *loc, struct ofs_backend **out, struct ofs_error *err)
{
	struct disks_backend *s;
	const char *p, *comma;
	size_t k = 0;
	int r;

	*out = NULL;
	if (strncmp(loc, "disks:", 6) != 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "'%s' is not a disk set (disks:MNT[,MNT…])",
		    loc);
	s = ofs_xcalloc(1, sizeof(*s));
	s->b.ops = &disks_ops;
	s->b.loc = ofs_xstrdup(loc);
	s->b.partial = 1;
	for (p = loc + 6; ; p = comma + 1) {
		comma = strchr(p, ',');
		if ((comma ? (size_t)(comma - p) : strlen(p)) == 0) {
			r = ofs_err_set(err, OFS_ERR_USAGE, "'%s': empty mount point in the disk "
			    "list (disks:MNT[,MNT…])", loc);
			goto fail;
		}
		if (s->n == OFS_SET_MAX_DISKS) {
			r = ofs_err_set(err, OFS_ERR_USAGE, "'%s': more than %d disks", loc,
			    OFS_SET_MAX_DISKS);
			goto fail;
		}
		s->d = ofs_xreallocarray(s->d, s->n + 1, sizeof(*s->d));
		memset(&s->d[s->n], 0, sizeof(s->d[s->n]));
		s->d[s->n].mnt = comma ? ofs_xstrndup(p, (size_t)(comma - p)) : ofs_xstrdup(p);
		s->n++;
		if (comma == NULL)
			break;
	}
	for (size_t i = 0; i < s->n; i++) {
		for (size_t j = 0; j < i; j++)
			if (strcmp(s->d[i].mnt, s->d[j].mnt) == 0) {
				r = ofs_err_set(err, OFS_ERR_USAGE, "'%s': disk '%s' is given twice",
				    loc, s->d[i].mnt);
				goto fail;
			}
		if ((r = open_disk(s, i, err)) != 0)
			goto fail;
	}
	if (s->nctrs > 1)
		qsort(s->ctrs, s->nctrs, sizeof(*s->ctrs), cmp_ctr);
	/* A container on two disks: the first one (in the order given) serves it. */
	for (size_t i = 1; i < s->nctrs; i++) {
		if (strcmp(s->ctrs[i].name, s->ctrs[k].name) == 0) {
			if (s->ctrs[i].disk < s->ctrs[k].disk)
				s->ctrs[k].disk = s->ctrs[i].disk;
			free(s->ctrs[i].name);
		} else {
			s->ctrs[++k] = s->ctrs[i];
		}
	}
	if (s->nctrs > 0)
		s->nctrs = k + 1;
	*out = &s->b;
	return 0;
fail:
	disks_free(&s->b);
	return r;
}
