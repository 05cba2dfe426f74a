/* Azure Blob backend: a repository at azure://ACCOUNT/CONTAINER[/PREFIX] reached through
 * lib/azblob (block blobs for objects, page blobs for the imported seed containers). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "azblob.h"
#include "repo.h"
#include "util.h"

#define AZ_POOL_MAX 16	/* clients kept for concurrent callers (one per thread in use) */

struct az_backend {
	struct ofs_backend b;
	char *account, *container, *prefix;	/* prefix "" or "P/" */
	struct ofs_azblob_opts opts;
	pthread_mutex_t mu;
	struct ofs_azblob *pool[AZ_POOL_MAX];
	int busy[AZ_POOL_MAX];
	size_t npool;
	int container_ok;	/* the container is known to exist (put) */
};

/* Take a client for this call: a free one from the pool, else a new one. */
static int
az_acquire(struct az_backend *a, struct ofs_azblob **c, int *slot, struct ofs_error *err)
{
	int r;

	*slot = -1;
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < a->npool; i++) {
		if (!a->busy[i]) {
			a->busy[i] = 1;
			*c = a->pool[i];
			*slot = (int)i;
			pthread_mutex_unlock(&a->mu);
			ofs_azblob_set_ratelimit(*c, a->b.limit);
			return 0;
		}
	}
	pthread_mutex_unlock(&a->mu);
	if ((r = ofs_azblob_open(&a->opts, c, err)) != 0)
		return r;
	ofs_azblob_set_ratelimit(*c, a->b.limit);
	pthread_mutex_lock(&a->mu);
	if (a->npool < AZ_POOL_MAX) {
		*slot = (int)a->npool;
		a->pool[a->npool] = *c;
		a->busy[a->npool++] = 1;
	}
	pthread_mutex_unlock(&a->mu);
	return 0;
}

static void
az_release(struct az_backend *a, struct ofs_azblob *c, int slot)
{
	if (slot < 0) {
		ofs_azblob_free(c);
		return;
	}
	pthread_mutex_lock(&a->mu);
	a->busy[slot] = 0;
	pthread_mutex_unlock(&a->mu);
}

static char *
az_name(struct az_backend *a, const char *name)
{
	return ofs_xasprintf("%s%s", a->prefix, name);
}

static int
az_get(struct ofs_backend *b, const char *name, uint64_t off, uint64_t len,
    struct ofs_buf *out, struct ofs_error *err)
{
	struct az_backend *a = (struct az_backend *)b;
	struct ofs_azblob *c;
	size_t before = out->len;
	char *n = az_name(a, name);
	int r, slot;

	if ((r = az_acquire(a, &c, &slot, err)) != 0)
		goto out;
	r = ofs_azblob_get(c, a->container, n, off, len, out, err);
	az_release(a, c, slot);
	if (r == 0 && len != 0 && out->len - before != len)
		r = ofs_err_set(err, OFS_ERR_CORRUPT,
		    "'%s' is truncated: cannot read %llu bytes at offset %llu", n,
		    (unsigned long long)len, (unsigned long long)off);
out:
	free(n);
	return r;
}

static int
az_put(struct ofs_backend *b, const char *name, const void *p, size_t len,
    struct ofs_error *err)
{
	struct az_backend *a = (struct az_backend *)b;
	struct ofs_azblob *c;
	char *n = az_name(a, name);
	int r, slot, known;

	if ((r = az_acquire(a, &c, &slot, err)) != 0)
		goto out;
	r = ofs_azblob_put_blob(c, a->container, n, p, len, err);
	pthread_mutex_lock(&a->mu);
	known = a->container_ok;
	pthread_mutex_unlock(&a->mu);
	if (r == OFS_ERR_NOTFOUND && !known) {
		/* First put into a container that does not exist yet: create it, retry once. */
		if ((r = ofs_azblob_create_container(c, a->container, NULL, err)) == 0)
			r = ofs_azblob_put_blob(c, a->container, n, p, len, err);
	}
	if (r == 0 && !known) {
		pthread_mutex_lock(&a->mu);
		a->container_ok = 1;
		pthread_mutex_unlock(&a->mu);
	}
	az_release(a, c, slot);
out:
	free(n);
	return r;
}

static int
cmpstr(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Like a directory listing: the first path component after dir/, each once, sorted. */
static int
az_list(struct ofs_backend *b, const char *dir, char ***names, size_t *n,
    struct ofs_error *err)
{
	struct az_backend *a = (struct az_backend *)b;
	struct ofs_azblob_list l = OFS_AZBLOB_LIST_INIT;
	struct ofs_azblob *c;
	char *pfx = *dir ? ofs_xasprintf("%s%s/", a->prefix, dir) : ofs_xstrdup(a->prefix);
	size_t plen = strlen(pfx), cap = 0;
	int r, slot;

	*names = NULL;
	*n = 0;
	if ((r = az_acquire(a, &c, &slot, err)) != 0)
		goto out;
	r = ofs_azblob_list_all(c, a->container, *pfx ? pfx : NULL, &l, err);
	az_release(a, c, slot);
	if (r == OFS_ERR_NOTFOUND) {	/* no container yet: an empty repository */
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		const char *rest = l.items[i].name, *slash;
		size_t k;

		if (strncmp(rest, pfx, plen) != 0)
			continue;
		rest += plen;
		if (*rest == '\0' || *rest == '.' || strstr(rest, ".tmp-") != NULL)
			continue;
		k = (slash = strchr(rest, '/')) != NULL ? (size_t)(slash - rest) : strlen(rest);
		if (*n > 0 && strlen((*names)[*n - 1]) == k &&
		    strncmp((*names)[*n - 1], rest, k) == 0)
			continue;	/* listing is sorted: same directory as the previous */
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*names = ofs_xreallocarray(*names, cap, sizeof(char *));
		}
		(*names)[*n] = ofs_xmalloc(k + 1);
		memcpy((*names)[*n], rest, k);
		(*names)[(*n)++][k] = '\0';
	}
	if (*n > 1)
		qsort(*names, *n, sizeof(char *), cmpstr);
out:
	ofs_azblob_list_release(&l);
	free(pfx);
	return r;
}

static int
az_remove(struct ofs_backend *b, const char *name, struct ofs_error *err)
{
	struct az_backend *a = (struct az_backend *)b;
	struct ofs_azblob *c;
	char *n = az_name(a, name);
	int r, slot;

	if ((r = az_acquire(a, &c, &slot, err)) == 0) {
		r = ofs_azblob_delete(c, a->container, n, err);
		az_release(a, c, slot);
		if (r == OFS_ERR_NOTFOUND)
			r = 0;	/* as unlink of a missing file in the local backend */
	}
	free(n);
	return r;
}

static int
az_size(struct ofs_backend *b, const char *name, uint64_t *size, struct ofs_error *err)
{
	struct az_backend *a = (struct az_backend *)b;
	struct ofs_azblob_props p;
	struct ofs_azblob *c;
	char *n = az_name(a, name);
	int r, slot;

	if ((r = az_acquire(a, &c, &slot, err)) == 0) {
		if ((r = ofs_azblob_props(c, a->container, n, &p, err)) == 0)
			*size = p.size;
		az_release(a, c, slot);
	}
	free(n);
	return r;
}

static char *
az_path(struct ofs_backend *b, const char *name)
{
	(void)b;
	(void)name;
	return NULL;
}

static void
az_free(struct ofs_backend *b)
{
	struct az_backend *a = (struct az_backend *)b;

	for (size_t i = 0; i < a->npool; i++)
		ofs_azblob_free(a->pool[i]);
	pthread_mutex_destroy(&a->mu);
	free(a->account);
	free(a->container);
	free(a->prefix);
	free(a->b.loc);
	free(a);
}

static const struct ofs_backend_ops az_ops = {
	az_get, az_put, az_list, az_remove, az_size, az_path, az_free,
};

int
ofs_backend_azure_open(const char *loc, struct ofs_backend **out, struct ofs_error *err)
{
	struct az_backend *a;
	struct ofs_azblob *probe = NULL;
	const char *s, *slash, *slash2;
	size_t plen;
	int r, slot;

	*out = NULL;
	if (strncmp(loc, "azure://", 8) != 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "'%s' is not an azure:// location", loc);
	s = loc + 8;
	if ((slash = strchr(s, '/')) == NULL || slash == s || slash[1] == '\0' ||
	    slash[1] == '/')
		return ofs_err_set(err, OFS_ERR_USAGE,
		    "repository location '%s': expected azure://ACCOUNT/CONTAINER[/PREFIX]", loc);
	a = ofs_xcalloc(1, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	a->b.ops = &az_ops;
	a->b.loc = ofs_xstrdup(loc);
	a->account = ofs_xstrndup(s, (size_t)(slash - s));
	slash2 = strchr(slash + 1, '/');
	if (slash2 == NULL) {
		a->container = ofs_xstrdup(slash + 1);
		a->prefix = ofs_xstrdup("");
	} else {
		a->container = ofs_xstrndup(slash + 1, (size_t)(slash2 - slash - 1));
		plen = strlen(slash2 + 1);
		while (plen > 0 && slash2[plen] == '/')
			plen--;
		a->prefix = plen ? ofs_xasprintf("%.*s/", (int)plen, slash2 + 1) : ofs_xstrdup("");
	}
	a->opts.account = a->account;
	ofs_azblob_opts_from_env(&a->opts);
	/* Check the configuration (endpoint, credentials) now, without a request. */
	if ((r = az_acquire(a, &probe, &slot, err)) != 0) {
		ofs_err_wrap(err, "'%s'", loc);
		az_free(&a->b);
		return r;
	}
	az_release(a, probe, slot);
	*out = &a->b;
	return 0;
}
