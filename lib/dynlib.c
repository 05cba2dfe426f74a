/* libcurl and libarchive, opened on first use (see dynlib.h for why). */
#define OFS_DYNLIB_IMPL
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "dynlib.h"

static struct ofs_curl_api curl_api;
static struct ofs_archive_api archive_api;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT, archive_once = PTHREAD_ONCE_INIT;

static void *
open_lib(const char *soname, const char *package)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		fprintf(stderr, "offseed: cannot load %s: %s (install the Debian package %s)\n",
		    soname, dlerror(), package);
		exit(1);
	}
	return h;
}

static void *
symbol(void *h, const char *soname, const char *name)
{
	void *p = dlsym(h, name);

	if (p == NULL) {
		fprintf(stderr, "offseed: %s has no '%s': too old a version\n", soname, name);
		exit(1);
	}
	return p;
}

static void
load_curl(void)
{
	void *h = open_lib("libcurl.so.4", "libcurl4");

#define X(f) *(void **)&curl_api.f = symbol(h, "libcurl.so.4", #f);
	OFS_CURL_FNS(X)
#undef X
}

static void
load_archive(void)
{
	void *h = open_lib("libarchive.so.13", "libarchive13");

#define X(f) *(void **)&archive_api.f = symbol(h, "libarchive.so.13", #f);
	OFS_ARCHIVE_FNS(X)
#undef X
}

const struct ofs_curl_api *
ofs_curl_api(void)
{
	pthread_once(&curl_once, load_curl);
	return &curl_api;
}

const struct ofs_archive_api *
ofs_archive_api(void)
{
	pthread_once(&archive_once, load_archive);
	return &archive_api;
}
