/* A backup to the cloud before the import has brought the seed there: the cloud location
 * gets the staging repository's metadata (config, keys, index, snapshots, tree packs) first,
 * never its containers, so the backup can reference the seed's chunks by container. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap.h"
#include "log.h"
#include "util.h"

#define STAGING_NOTE "staging"

/* "azure://a/c/p/" and "azure://a/c/p" are the same location. */
static int
same_loc(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la > 0 && a[la - 1] == '/')
		la--;
	while (lb > 0 && b[lb - 1] == '/')
		lb--;
	return la == lb && strncmp(a, b, la) == 0;
}

void
ofs_bootstrap_note_staging(struct ofs_repo *r)
{
	char *root = r->be->ops->path(r->be, ""), *abs, *note;

	if (root == NULL)
		return;
	abs = realpath(root, NULL);
	note = ofs_path_join(r->state_dir, STAGING_NOTE);
	if (abs != NULL)
		(void)ofs_write_file_atomic(note, abs, strlen(abs), 0600, NULL);
	free(note);
	free(abs);
	free(root);
}

/* The staging repository a stage on this machine noted for destination loc, or NULL. */
static char *
find_staging(const char *state, const char *loc)
{
	char *base = ofs_state_default(state), *found = NULL;
	struct dirent *e;
	DIR *d;

	if ((d = opendir(base)) == NULL) {
		free(base);
		return NULL;
	}
	while (found == NULL && (e = readdir(d)) != NULL) {
		struct ofs_buf b = OFS_BUF_INIT(4096);
		struct ofs_repo *r = NULL;
		char *note;

		if (e->d_name[0] == '.')
			continue;
		note = ofs_xasprintf("%s/%s/%s", base, e->d_name, STAGING_NOTE);
		if (ofs_buf_read_file(&b, note, NULL) == 0 && b.len > 0 && ofs_buf_cstr(&b) == 0) {
			if (ofs_repo_open((const char *)b.data, state, &r, NULL) == 0 &&
			    r->cfg.destination != NULL && same_loc(r->cfg.destination, loc))
				found = ofs_xstrdup((const char *)b.data);
			ofs_repo_close(r);
		}
		ofs_buf_release(&b);
		free(note);
	}
	closedir(d);
	free(base);
	return found;
}

/* Copy object name from src to dst. */
static int
copy_object(struct ofs_backend *src, struct ofs_backend *dst, const char *name,
    uint64_t *bytes, struct ofs_error *err)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	int rc;

	if ((rc = src->ops->get(src, name, 0, 0, &b, err)) == 0 &&
	    (rc = dst->ops->put(dst, name, b.data, b.len, err)) == 0)
		*bytes += b.len;
	ofs_buf_release(&b);
	return rc;
}

/* Copy every object of dir (and, for data/, of its sub-folders). */
static int
copy_dir(struct ofs_backend *src, struct ofs_backend *dst, const char *dir, int nested,
    size_t *n, uint64_t *bytes, struct ofs_error *err)
{
	char **names = NULL;
	size_t nn = 0;
	int rc;

	if ((rc = src->ops->list(src, dir, &names, &nn, err)) != 0)
		return rc == OFS_ERR_NOTFOUND ? 0 : rc;
	for (size_t i = 0; i < nn && rc == 0; i++) {
		char *name = ofs_path_join(dir, names[i]);

		if (nested)
			rc = copy_dir(src, dst, name, 0, n, bytes, err);
		else if ((rc = copy_object(src, dst, name, bytes, err)) == 0)
			(*n)++;
		free(name);
	}
	ofs_names_free(names, nn);
	return rc;
}

int
ofs_bootstrap_cloud(const char *loc, const char *state, const char *seed_from,
    struct ofs_error *err)
{
	struct ofs_backend *dst = NULL;
	struct ofs_repo *st = NULL;
	struct ofs_buf probe = OFS_BUF_INIT(1u << 20);
	char *staging = NULL;
	uint64_t bytes = 0;
	size_t n = 0;
	int rc;

	if (strncmp(loc, "azure://", 8) != 0)
		return seed_from == NULL ? 0 : ofs_err_set(err, OFS_ERR_USAGE, "--seed-from is "
		    "for a backup to azure://, not to '%s'", loc);
	if ((rc = ofs_backend_open(loc, &dst, err)) != 0)
		return rc;
	rc = dst->ops->get(dst, "config", 0, 0, &probe, err);
	if (rc != OFS_ERR_NOTFOUND)
		goto out;	/* there already (0), or the location cannot be read */
	staging = seed_from != NULL ? ofs_xstrdup(seed_from) : find_staging(state, loc);
	if (staging == NULL) {
		rc = ofs_err_set(err, OFS_ERR_USAGE, "'%s' holds no repository yet, and no "
		    "staging repository on this machine has it as destination: give "
		    "--seed-from STAGING (the repository whose seed goes there) or run 'offseed "
		    "init --repo %s'", loc, loc);
		goto out;
	}
	if ((rc = ofs_repo_open(staging, state, &st, err)) != 0)
		goto out;
	if (st->cfg.destination == NULL || !same_loc(st->cfg.destination, loc)) {
		rc = ofs_err_set(err, OFS_ERR_USAGE, "the staging repository '%s' is for '%s', not "
		    "'%s'", staging, st->cfg.destination && st->cfg.destination[0] ?
		    st->cfg.destination : "no destination", loc);
		goto out;
	}
	/* config last: until it is there, a rerun starts over */
	if ((rc = copy_dir(st->be, dst, "data", 1, &n, &bytes, err)) != 0 ||
	    (rc = copy_dir(st->be, dst, "index", 0, &n, &bytes, err)) != 0 ||
	    (rc = copy_dir(st->be, dst, "snapshots", 0, &n, &bytes, err)) != 0 ||
	    (rc = copy_dir(st->be, dst, "keys", 0, &n, &bytes, err)) != 0 ||
	    (rc = copy_object(st->be, dst, "config", &bytes, err)) != 0)
		goto out;
	ofs_info("'%s' held no repository: uploaded the metadata of staging repository '%s' "
	    "(%zu objects, %llu bytes; the seed containers come with the import)", loc,
	    staging, n + 1, (unsigned long long)bytes);
out:
	ofs_buf_release(&probe);
	ofs_repo_close(st);
	ofs_backend_free(dst);
	free(staging);
	return rc;
}
