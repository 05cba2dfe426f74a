/* offseed-dc storage: where imported files and copy logs go. file:DIR is a folder of
 * storage accounts (DIR/ACCOUNT; blob container = its subfolder, blob name = path below
 * it); azure://ACCOUNT serves that one account through the core's Azure Blob client. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "crypto.h"
#include "dc.h"
#include "util.h"

#define COPY_BUF (4u << 20)
#define TMP_DIR ".offseed-dc-tmp"

enum { STORE_FILE = 1, STORE_AZURE };

struct dc_store {
	int kind;
	char *dir;		/* file: absolute folder */
	char *tmpdir;		/* file: DIR/.offseed-dc-tmp */
	char *account;		/* azure: the account served */
	char *loc;		/* canonical location: file:/ABS or azure://ACCOUNT */
	struct dc_azure *az;	/* azure: */
};


int
dc_container_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 63 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--") != NULL)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return 0;
	return 1;
}

int
dc_account_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 24)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

char *
dc_account_of_id(const char *id)
{
	static const char tail[] = "/providers/Microsoft.Storage/storageAccounts/";
	const char *p;

	if (id == NULL || (p = strstr(id, tail)) == NULL)
		return NULL;
	p += sizeof(tail) - 1;
	return dc_account_name_ok(p) ? ofs_xstrdup(p) : NULL;
}

int
dc_store_open(const char *loc, struct dc_store **out, struct ofs_error *err)
{
	struct dc_store *st;
	char real[PATH_MAX];
	int r;

	*out = NULL;
	st = ofs_xcalloc(1, sizeof(*st));
	if (strncmp(loc, "file:", 5) == 0 && strncmp(loc, "file://", 7) != 0 && loc[5] != '\0') {
		st->kind = STORE_FILE;
		if ((r = ofs_mkdir_p(loc + 5, 0755, err)) != 0)
			goto fail;
		if (realpath(loc + 5, real) == NULL) {
			r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot resolve '%s'", loc + 5);
			goto fail;
		}
		st->dir = ofs_xstrdup(real);
		st->tmpdir = ofs_path_join(real, TMP_DIR);
		if ((r = ofs_mkdir_p(st->tmpdir, 0700, err)) != 0)
			goto fail;
		st->loc = ofs_xasprintf("file:%s", real);
	} else if (strncmp(loc, "azure://", 8) == 0 && loc[8] != '\0') {
		st->kind = STORE_AZURE;
		st->account = ofs_xstrdup(loc + 8);
		st->account[strcspn(st->account, "/")] = '\0';
		st->loc = ofs_xasprintf("azure://%s", st->account);
		if ((r = dc_azure_open(st->account, &st->az, err)) != 0)
			goto fail;
	} else {
		r = ofs_err_set(err, OFS_ERR_USAGE, "--storage must be file:DIR or azure://ACCOUNT, "
		    "not '%s'", loc);
		goto fail;
	}
	*out = st;
	return 0;
fail:
	dc_store_free(st);
	return r;
}

void
dc_store_free(struct dc_store *st)
{
	if (st == NULL)
		return;
	if (st->az != NULL)
		dc_azure_free(st->az);
	free(st->dir);
	free(st->tmpdir);
	free(st->account);
	free(st->loc);
	free(st);
}

const char *
dc_store_default_account(const struct dc_store *st)
{
	return st->kind == STORE_AZURE ? st->account : NULL;
}

int
dc_store_serves(const struct dc_store *st, const char *account)
{
	if (account == NULL || !dc_account_name_ok(account))
		return 0;
	return st->kind == STORE_FILE || strcmp(account, st->account) == 0;
}

char *
dc_store_account_location(const struct dc_store *st, const char *account)
{
	if (st->kind == STORE_AZURE)
		return ofs_xasprintf("azure://%s", account);
	return ofs_xasprintf("file:%s/%s", st->dir, account);
}

/* The account, container and blob name are safe to use as a path below the store: a valid
 * account and container, and a blob name of 1..1024 bytes whose components are neither
 * empty, "." nor "..". 0, or OFS_ERR_USAGE naming what is wrong. */
int
dc_store_target_ok(const struct dc_store *st, const char *account, const char *container,
    const char *name, struct ofs_error *err)
{
	size_t n = strlen(name);

	if (!dc_store_serves(st, account))
		return ofs_err_set(err, OFS_ERR_USAGE, "storage account '%.64s' is not served by "
		    "%s", account ? account : "", st->loc);
	if (!dc_container_name_ok(container))
		return ofs_err_set(err, OFS_ERR_USAGE, "invalid container name");
	if (n == 0 || n > 1024)
		return ofs_err_set(err, OFS_ERR_USAGE, "invalid blob name");
	for (const char *c = name; *c;) {
		size_t k = strcspn(c, "/");

		if (k == 0 || (k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
			return ofs_err_set(err, OFS_ERR_USAGE, "invalid blob name");
		c += k;
		if (*c == '/' && *++c == '\0')
			return ofs_err_set(err, OFS_ERR_USAGE, "invalid blob name");
	}
	return 0;
}

const char *
dc_store_dir(const struct dc_store *st)
{
	return st->kind == STORE_FILE ? st->dir : NULL;
}

struct dc_azure *
dc_store_azure(const struct dc_store *st)
{
	return st->az;
}

const char *
dc_store_location(const struct dc_store *st)
{
	return st->loc;
}

void
dc_store_cleanup(struct dc_store *st)
{
	struct ofs_error err;

	if (st->kind != STORE_FILE)
		return;
	ofs_rm_rf(st->tmpdir);
	ofs_mkdir_p(st->tmpdir, 0700, &err);
}

/* DIR/account/container/name with its parent folders made (target_ok checked). */
static char *
file_target(struct dc_store *st, const char *account, const char *container,
    const char *name, struct ofs_error *err)
{
	char *acct = ofs_path_join(st->dir, account), *cont = ofs_path_join(acct, container);
	char *dst = ofs_path_join(cont, name), *parent = ofs_xstrdup(dst);

	free(acct);
	free(cont);
	if (ofs_mkdir_p(dirname(parent), 0755, err) != 0) {
		free(parent);
		free(dst);
		return NULL;
	}
	free(parent);
	return dst;
}

static int
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Copy into a temporary file next to the storage, check, then rename into place: a blob is
 * either absent or complete. Page blobs keep their zero ranges as holes. */
static int
file_put(struct dc_store *st, const char *account, const char *container, const char *name,
    int page, int src, const char *path, uint64_t size, const uint8_t *xxh, dc_copy_fn fn, void *arg,
    int *aborted, struct ofs_error *err)
{
	char *tmp = NULL, *dst = NULL, *parent = NULL;
	struct ofs_xxh *h = ofs_xxh_new();
	uint8_t *buf = ofs_xmalloc(COPY_BUF), got[OFS_XXH_LEN];
	uint64_t off = 0;
	int fd = -1, r = 0, e;

	if ((dst = file_target(st, account, container, name, err)) == NULL) {
		r = err->code;
		goto out;
	}
	tmp = ofs_path_join(st->tmpdir, "import-XXXXXX");
	if ((fd = mkstemp(tmp)) == -1) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot create a file in '%s'", st->tmpdir);
		free(tmp);
		tmp = NULL;
		goto out;
	}
	while (off < size) {
		size_t n = size - off < COPY_BUF ? (size_t)(size - off) : COPY_BUF;

		if ((e = -ofs_pread_all(src, buf, n, off)) != 0) {
			r = e == -OFS_READ_EOF ? ofs_err_set(err, OFS_ERR_CORRUPT, "'%s' shrank "
			    "while it was imported", path) : ofs_err_sys(err, OFS_ERR_IO, e,
			    "cannot read '%s' at offset %llu", path, (unsigned long long)off);
			goto out;
		}
		ofs_xxh_update(h, buf, n);
		if (!(page && all_zero(buf, n)) && (e = -ofs_pwrite_all(fd, buf, n, off)) != 0) {
			r = ofs_err_sys(err, OFS_ERR_IO, e, "cannot write blob %s/%s", container, name);
			goto out;
		}
		off += n;
		if (fn != NULL && fn(arg, n) != 0) {
			*aborted = 1;
			r = ofs_err_set(err, OFS_ERR_IO, "import of '%s' interrupted", path);
			goto out;
		}
	}
	ofs_xxh_digest(h, got);
	if (xxh != NULL && memcmp(got, xxh, OFS_XXH_LEN) != 0) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "'%s' changed after it was checked (its "
		    "XXH3-128 no longer matches the manifest)", path);
		goto out;
	}
	if (ftruncate(fd, (off_t)size) == -1 || fsync(fd) == -1 || fchmod(fd, 0644) == -1) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot write blob %s/%s", container, name);
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, dst) == -1) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot rename into '%s'", dst);
		goto out;
	}
	free(tmp);
	tmp = NULL;
	parent = ofs_xstrdup(dst);
	r = ofs_fsync_dir(dirname(parent), err);
out:
	if (fd != -1)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(dst);
	free(parent);
	free(buf);
	ofs_xxh_free(h);
	return r;
}

int
dc_store_put_fd(struct dc_store *st, const char *account, const char *container,
    const char *name, int page, int fd, const char *what, uint64_t size, const uint8_t *xxh,
    dc_copy_fn fn, void *arg, int *aborted, struct ofs_error *err)
{
	struct stat sb;
	int r;

	*aborted = 0;
	if ((r = dc_store_target_ok(st, account, container, name, err)) != 0)
		return r;
	if (strcmp(container, DC_LOG_CONTAINER) == 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "container '%s' is reserved for the "
		    "service's copy logs", DC_LOG_CONTAINER);
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != size)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "'%s' is no longer a regular file of %llu "
		    "bytes", what, (unsigned long long)size);
	if (st->kind == STORE_FILE)
		return file_put(st, account, container, name, page, fd, what, size, xxh, fn, arg,
		    aborted, err);
	return dc_azure_put_file(st->az, container, name, page, fd, size, fn, arg, aborted, err);
}

/* file:// URL of an absolute path, percent-encoding everything unusual. */
static char *
file_url(const char *path)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	size_t n;

	ofs_buf_puts(&b, "file://");
	for (const char *p = path; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '/' || c == '.' || c == '_' || c == '-' || c == '~')
			ofs_buf_putc(&b, c);
		else
			ofs_buf_putf(&b, "%%%02X", c);
	}
	ofs_buf_putc(&b, 0);
	if (ofs_buf_check(&b) != 0)
		abort();	/* unbounded buffer: only past SIZE_MAX, like running out of memory */
	return (char *)ofs_buf_detach(&b, &n);
}

int
dc_store_put_bytes(struct dc_store *st, const char *account, const char *container,
    const char *name, const void *data, size_t len, char **link, struct ofs_error *err)
{
	char *dst;
	int r;

	*link = NULL;
	if ((r = dc_store_target_ok(st, account, container, name, err)) != 0)
		return r;
	if (st->kind == STORE_AZURE)
		return dc_azure_put_bytes(st->az, container, name, data, len, link, err);
	if ((dst = file_target(st, account, container, name, err)) == NULL)
		return err->code;
	if ((r = ofs_write_file_atomic(dst, data, len, 0644, err)) == 0)
		*link = file_url(dst);
	free(dst);
	return r;
}
