/* offseed-dc storage, read side (export jobs): the size and byte ranges of one blob of a
 * customer's storage account. file: blobs are opened beneath DIR/ACCOUNT component by
 * component without following links (lib/beneath.h), regular files only; azure:// reads
 * ranges through lib/azblob.h and refuses answers of another length than asked. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "beneath.h"
#include "dc.h"
#include "util.h"

struct dc_blob_reader {
	int fd;			/* file: the blob, else -1 */
	struct dc_azure *az;	/* azure: */
	char *container, *name;
	uint64_t size;
};

void
dc_store_reader_free(struct dc_blob_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->container);
	free(r->name);
	free(r);
}

int
dc_store_reader_open(struct dc_store *st, const char *account, const char *container,
    const char *name, struct dc_blob_reader **out, uint64_t *size, struct ofs_error *err)
{
	struct dc_blob_reader *r;
	struct stat sb;
	char *acct = NULL, *rel = NULL;
	int afd = -1, fd, rc;

	*out = NULL;
	if ((rc = dc_store_target_ok(st, account, container, name, err)) != 0)
		return rc;
	r = ofs_xcalloc(1, sizeof(*r));
	r->fd = -1;
	r->container = ofs_xstrdup(container);
	r->name = ofs_xstrdup(name);
	if (dc_store_dir(st) == NULL) {
		r->az = dc_store_azure(st);
		if ((rc = dc_azure_props(r->az, container, name, &r->size, err)) != 0)
			goto fail;
		goto done;
	}
	/* The account folder is the store's own (account names are [a-z0-9]); below it
	 * everything is resolved beneath it. */
	acct = ofs_path_join(dc_store_dir(st), account);
	if ((afd = open(acct, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		rc = errno == ENOENT ? ofs_err_set(err, OFS_ERR_NOTFOUND, "blob %s/%s not found "
		    "(storage account '%s' holds nothing)", container, name, account) :
		    ofs_err_sys(err, OFS_ERR_IO, errno, "cannot open storage account '%s'", account);
		goto fail;
	}
	rel = ofs_xasprintf("%s/%s", container, name);
	if ((fd = ofs_beneath_open(afd, rel, &sb)) < 0) {
		rc = fd == -ENOENT || fd == -ENOTDIR ? ofs_err_set(err, OFS_ERR_NOTFOUND, "blob "
		    "%s/%s not found", container, name) : ofs_err_set(err, OFS_ERR_IO, "blob %s/%s "
		    "cannot be read: it %s", container, name, ofs_beneath_strerror(fd, &sb));
		goto fail;
	}
	r->fd = fd;
	r->size = (uint64_t)sb.st_size;
done:
	close(afd);
	free(acct);
	free(rel);
	*size = r->size;
	*out = r;
	return 0;
fail:
	if (afd >= 0)
		close(afd);
	free(acct);
	free(rel);
	dc_store_reader_free(r);
	return rc;
}

int
dc_store_reader_read(struct dc_blob_reader *r, uint64_t off, void *buf, size_t len,
    struct ofs_error *err)
{
	int e;

	if (off > r->size || len > r->size - off)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "blob %s/%s: bytes %llu+%zu are past its "
		    "end (%llu bytes)", r->container, r->name, (unsigned long long)off, len,
		    (unsigned long long)r->size);
	if (r->fd < 0)
		return dc_azure_get(r->az, r->container, r->name, off, buf, len, err);
	if ((e = ofs_pread_all(r->fd, buf, len, off)) != 0)
		return e == OFS_READ_EOF ? ofs_err_set(err, OFS_ERR_CORRUPT, "blob %s/%s shrank "
		    "while it was read", r->container, r->name) : ofs_err_sys(err, OFS_ERR_IO, -e,
		    "cannot read blob %s/%s at offset %llu", r->container, r->name,
		    (unsigned long long)off);
	return 0;
}

int
dc_store_stat(struct dc_store *st, const char *account, const char *container,
    const char *name, uint64_t *size, struct ofs_error *err)
{
	struct dc_blob_reader *r;
	int rc;

	if ((rc = dc_store_reader_open(st, account, container, name, &r, size, err)) == 0)
		dc_store_reader_free(r);
	return rc;
}
