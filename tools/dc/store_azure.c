/* offseed-dc azure:// storage: imports through the core's Azure Blob client (lib/azblob.h,
 * OFFSEED_AZURE_* variables). One client per upload (a client serves one thread); copy logs
 * are linked by URL with a read-only SAS for that blob when the service holds the key. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "azblob.h"
#include "buf.h"
#include "crypto.h"
#include "dc.h"
#include "util.h"

#define LOG_SAS_DAYS 90

struct dc_azure {
	struct ofs_azblob_opts o;	/* strings owned below */
	char *endpoint, *account, *key, *sas, *ca_file;
	pthread_mutex_t mu;
	char **made;			/* containers created (or found) already */
	size_t nmade;
};

static char *
dup_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? ofs_xstrdup(s) : NULL;
}

int
dc_azure_open(const char *account, struct dc_azure **out, struct ofs_error *err)
{
	struct dc_azure *az = ofs_xcalloc(1, sizeof(*az));
	struct ofs_azblob *c = NULL;
	int r;

	*out = NULL;
	ofs_azblob_opts_from_env(&az->o);
	az->endpoint = dup_or_null(az->o.endpoint);
	az->account = ofs_xstrdup(account);
	az->key = dup_or_null(az->o.key);
	az->sas = dup_or_null(az->o.sas);
	az->ca_file = dup_or_null(az->o.ca_file);
	az->o.endpoint = az->endpoint;
	az->o.account = az->account;
	az->o.key = az->key;
	az->o.sas = az->sas;
	az->o.ca_file = az->ca_file;
	pthread_mutex_init(&az->mu, NULL);
	/* Check the configuration now (no request is made). */
	if ((r = ofs_azblob_open(&az->o, &c, err)) != 0) {
		ofs_err_wrap(err, "azure://%s", account);
		dc_azure_free(az);
		return r;
	}
	ofs_azblob_free(c);
	*out = az;
	return 0;
}

void
dc_azure_free(struct dc_azure *az)
{
	if (az == NULL)
		return;
	if (az->key != NULL) {
		ofs_wipe(az->key, strlen(az->key));
		free(az->key);
	}
	if (az->sas != NULL) {
		ofs_wipe(az->sas, strlen(az->sas));
		free(az->sas);
	}
	for (size_t i = 0; i < az->nmade; i++)
		free(az->made[i]);
	free(az->made);
	free(az->endpoint);
	free(az->account);
	free(az->ca_file);
	pthread_mutex_destroy(&az->mu);
	free(az);
}

/* Create container once per service run. */
static int
ensure_container(struct dc_azure *az, struct ofs_azblob *c, const char *container,
    struct ofs_error *err)
{
	int known = 0, r;

	pthread_mutex_lock(&az->mu);
	for (size_t i = 0; i < az->nmade && !known; i++)
		known = strcmp(az->made[i], container) == 0;
	pthread_mutex_unlock(&az->mu);
	if (known)
		return 0;
	if ((r = ofs_azblob_create_container(c, container, NULL, err)) != 0)
		return r;
	pthread_mutex_lock(&az->mu);
	az->made = ofs_xreallocarray(az->made, az->nmade + 1, sizeof(*az->made));
	az->made[az->nmade++] = ofs_xstrdup(container);
	pthread_mutex_unlock(&az->mu);
	return 0;
}

struct progress {
	dc_copy_fn fn;
	void *arg;
	uint64_t reported;
};

static void
on_progress(void *ud, uint64_t bytes)
{
	struct progress *p = ud;

	/* A stop request is noticed at the next file boundary: an upload runs to its end. */
	p->reported += bytes;
	if (p->fn != NULL)
		p->fn(p->arg, bytes);
}

int
dc_azure_put_file(struct dc_azure *az, const char *container, const char *name, int page,
    int fd, uint64_t size, dc_copy_fn fn, void *arg, int *aborted, struct ofs_error *err)
{
	struct progress p = { fn, arg, 0 };
	struct ofs_azblob *c = NULL;
	int r;

	*aborted = 0;
	if ((r = ofs_azblob_open(&az->o, &c, err)) != 0)
		return r;
	ofs_azblob_set_progress(c, on_progress, &p);
	if ((r = ensure_container(az, c, container, err)) != 0)
		goto out;
	if (page)
		r = ofs_azblob_put_page_blob_fd(c, container, name, fd, size, NULL, err);
	else
		r = ofs_azblob_put_blob_fd(c, container, name, fd, size, err);
	/* Zero ranges of a page blob are not sent; count them as processed too. */
	if (r == 0 && p.reported < size && fn != NULL)
		fn(arg, size - p.reported);
out:
	ofs_azblob_free(c);
	return r;
}

int
dc_azure_put_bytes(struct dc_azure *az, const char *container, const char *name,
    const void *data, size_t len, char **link, struct ofs_error *err)
{
	struct ofs_buf url = OFS_BUF_INIT(0), sas = OFS_BUF_INIT(0);
	struct ofs_azblob *c = NULL;
	int64_t expiry = ofs_now_ns() / 1000000000 + (int64_t)LOG_SAS_DAYS * 86400;
	char *q;
	size_t n;
	int r;

	*link = NULL;
	if ((r = ofs_azblob_open(&az->o, &c, err)) != 0)
		return r;
	if ((r = ensure_container(az, c, container, err)) != 0 ||
	    (r = ofs_azblob_put_blob(c, container, name, data, len, err)) != 0)
		goto out;
	if ((r = ofs_azblob_url(c, container, name, NULL, &url)) != 0) {
		r = ofs_err_set(err, OFS_ERR_IO, "cannot form the URL of %s/%s", container, name);
		goto out;
	}
	/* Never hand out the service's own SAS: cut any query, then add a read-only SAS
	 * for this one blob when we can sign one. */
	if ((q = strchr((char *)url.data, '?')) != NULL)
		*q = '\0';
	url.len = strlen((char *)url.data);
	if (az->key != NULL) {
		if ((r = ofs_azblob_make_sas(ofs_azblob_account(c), az->key, container, name, "r",
		    expiry, &sas, err)) != 0)
			goto out;
		ofs_buf_putc(&url, '?');
		ofs_buf_put(&url, sas.data, sas.len);
	}
	ofs_buf_putc(&url, 0);
	if ((r = ofs_buf_check(&url)) != 0) {	/* url is unbounded: only past SIZE_MAX */
		r = ofs_err_set(err, r, "the URL of %s/%s is too long", container, name);
		goto out;
	}
	*link = (char *)ofs_buf_detach(&url, &n);
out:
	ofs_buf_release(&url);
	ofs_buf_release(&sas);
	ofs_azblob_free(c);
	return r;
}

int
dc_azure_props(struct dc_azure *az, const char *container, const char *name,
    uint64_t *size, struct ofs_error *err)
{
	struct ofs_azblob_props p;
	struct ofs_azblob *c = NULL;
	int r;

	if ((r = ofs_azblob_open(&az->o, &c, err)) != 0)
		return r;
	if ((r = ofs_azblob_props(c, container, name, &p, err)) == 0)
		*size = p.size;
	ofs_azblob_free(c);
	return r;
}

int
dc_azure_get(struct dc_azure *az, const char *container, const char *name, uint64_t off,
    void *buf, size_t len, struct ofs_error *err)
{
	/* The answer may not be longer than asked (ofs_azblob_get refuses past max). */
	struct ofs_buf b = OFS_BUF_INIT(len);
	struct ofs_azblob *c = NULL;
	int r;

	if (len == 0)
		return 0;
	if ((r = ofs_azblob_open(&az->o, &c, err)) != 0)
		return r;
	if ((r = ofs_azblob_get(c, container, name, off, len, &b, err)) == 0) {
		if (b.len != len)
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "blob %s/%s: asked for %zu bytes at "
			    "offset %llu, the storage answered %zu", container, name, len,
			    (unsigned long long)off, b.len);
		else
			memcpy(buf, b.data, len);
	}
	ofs_buf_release(&b);
	ofs_azblob_free(c);
	return r;
}
