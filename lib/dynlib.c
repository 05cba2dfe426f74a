/* libcurl and libarchive, opened on first use (see dynlib.h for why). */
#define OFS_DYNLIB_IMPL
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "dynlib.h"

/* One library: its table, whether loading worked, and the reason when it did not. */
struct dl {
	pthread_once_t once;
	const char *soname, *package;
	int ok;
	char why[512];
};

static struct ofs_curl_api curl_api;
static struct ofs_archive_api archive_api;
static struct dl curl_dl = { PTHREAD_ONCE_INIT, "libcurl.so.4", "libcurl4", 0, "" };
static struct dl archive_dl = { PTHREAD_ONCE_INIT, "libarchive.so.13", "libarchive13", 0, "" };

/* Open d's library, or record why not (NULL). */
static void *
open_lib(struct dl *d)
{
	void *h = dlopen(d->soname, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL)
		snprintf(d->why, sizeof(d->why), "cannot load %s: %s (install the Debian package %s)",
		    d->soname, dlerror(), d->package);
	return h;
}

/* Resolve name into *slot; 0, or -1 recording the missing symbol once. */
static int
symbol(struct dl *d, void *h, const char *name, void **slot)
{
	if ((*slot = dlsym(h, name)) != NULL)
		return 0;
	if (d->why[0] == '\0')
		snprintf(d->why, sizeof(d->why), "%s has no '%s': too old a version", d->soname,
		    name);
	return -1;
}

static void
load_curl(void)
{
	void *h = open_lib(&curl_dl);
	int bad = 0;

	if (h == NULL)
		return;
#define X(f) bad |= symbol(&curl_dl, h, #f, (void **)&curl_api.f);
	OFS_CURL_FNS(X)
#undef X
	curl_dl.ok = !bad;
}

static void
load_archive(void)
{
	void *h = open_lib(&archive_dl);
	int bad = 0;

	if (h == NULL)
		return;
#define X(f) bad |= symbol(&archive_dl, h, #f, (void **)&archive_api.f);
	OFS_ARCHIVE_FNS(X)
#undef X
	archive_dl.ok = !bad;
}

static int
loaded(struct dl *d, void (*load)(void), struct ofs_error *err)
{
	pthread_once(&d->once, load);
	return d->ok ? 0 : ofs_err_set(err, OFS_ERR_UNAVAILABLE, "%s", d->why);
}

int
ofs_dynlib_load_curl(struct ofs_error *err)
{
	return loaded(&curl_dl, load_curl, err);
}

int
ofs_dynlib_load_archive(struct ofs_error *err)
{
	return loaded(&archive_dl, load_archive, err);
}

const struct ofs_curl_api *
ofs_curl_api(void)
{
	if (!curl_dl.ok)
		abort();
	return &curl_api;
}

const struct ofs_archive_api *
ofs_archive_api(void)
{
	if (!archive_dl.ok)
		abort();
	return &archive_api;
}
