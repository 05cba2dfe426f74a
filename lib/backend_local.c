/* Local-folder backend: a repository that is a plain directory (staging repo, local repo). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ratelimit.h"
#include "repo.h"
#include "util.h"

struct local_backend {
	struct ofs_backend b;
	char *root;
};

static char *
full(struct ofs_backend *b, const char *name)
{
	return ofs_path_join(((struct local_backend *)b)->root, name);
}

static int
local_get(struct ofs_backend *b, const char *name, uint64_t off, uint64_t len,
    struct ofs_buf *out, struct ofs_error *err)
{
	char *p = full(b, name);
	struct stat st;
	int fd, r = 0, e;

	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) == -1) {
		r = ofs_err_sys(err, errno == ENOENT ? OFS_ERR_NOTFOUND : OFS_ERR_IO, errno,
		    "cannot open '%s'", p);
		goto out;
	}
	if (len == 0) {
		if (fstat(fd, &st) == -1) {
			r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot stat '%s'", p);
			goto out;
		}
		if ((uint64_t)st.st_size < off) {
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "'%s' is shorter than expected", p);
			goto out;
		}
		len = (uint64_t)st.st_size - off;
	}
	if (len > SIZE_MAX || ofs_buf_reserve(out, (size_t)len) != 0) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "'%s': %llu bytes is more than expected", p,
		    (unsigned long long)len);
		goto out;
	}
	if ((e = ofs_pread_all(fd, out->data + out->len, (size_t)len, off)) != 0) {
		r = e == OFS_READ_EOF ? ofs_err_set(err, OFS_ERR_CORRUPT,
		    "'%s' is truncated: cannot read %llu bytes at offset %llu", p,
		    (unsigned long long)len, (unsigned long long)off)
		    : ofs_err_sys(err, OFS_ERR_IO, -e, "cannot read '%s'", p);
		goto out;
	}
	out->len += (size_t)len;
out:
	if (fd != -1)
		close(fd);
	free(p);
	return r;
}

static int
local_put(struct ofs_backend *b, const char *name, const void *data, size_t n,
    struct ofs_error *err)
{
	char *p = full(b, name), *d = ofs_xstrdup(p);
	int r;

	ofs_ratelimit_take_all(b->limit, n);
	if ((r = ofs_mkdir_p(dirname(d), 0755, err)) == 0)
		r = ofs_write_file_atomic(p, data, n, 0644, err);
	free(d);
	free(p);
	return r;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
local_list(struct ofs_backend *b, const char *dir, char ***names, size_t *n,
    struct ofs_error *err)
{
	char *p = full(b, dir);
	struct dirent *e;
	DIR *d;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	if ((d = opendir(p)) == NULL) {
		int code = errno == ENOENT ? 0 : ofs_err_sys(err, OFS_ERR_IO, errno,
		    "cannot list '%s'", p);

		free(p);
		return code;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp-") != NULL)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*names = ofs_xreallocarray(*names, cap, sizeof(char *));
		}
		(*names)[(*n)++] = ofs_xstrdup(e->d_name);
	}
	closedir(d);
	free(p);
	if (*n > 1)
		qsort(*names, *n, sizeof(char *), cmpstr);
	return 0;
}

static int
local_remove(struct ofs_backend *b, const char *name, struct ofs_error *err)
{
	char *p = full(b, name);
	int r = 0;

	if (unlink(p) == -1 && errno != ENOENT)
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot remove '%s'", p);
	free(p);
	return r;
}

static int
local_size(struct ofs_backend *b, const char *name, uint64_t *size, struct ofs_error *err)
{
	char *p = full(b, name);
	struct stat st;
	int r = 0;

	if (stat(p, &st) == -1)
		r = ofs_err_sys(err, errno == ENOENT ? OFS_ERR_NOTFOUND : OFS_ERR_IO, errno,
		    "cannot stat '%s'", p);
	else
		*size = (uint64_t)st.st_size;
	free(p);
	return r;
}

static char *
local_path(struct ofs_backend *b, const char *name)
{
	return full(b, name);
}

static void
local_free(struct ofs_backend *b)
{
	struct local_backend *l = (struct local_backend *)b;

	free(l->root);
	free(l->b.loc);
	free(l);
}

static const struct ofs_backend_ops local_ops = {
	local_get, local_put, local_list, local_remove, local_size, local_path, local_free,
};

int
ofs_backend_local_open(const char *loc, struct ofs_backend **out, struct ofs_error *err)
{
	struct local_backend *l;
	const char *path = loc;

	*out = NULL;
	if (strncmp(loc, "file:", 5) == 0)
		path = loc + 5;
	if (*path == '\0')
		return ofs_err_set(err, OFS_ERR_USAGE, "empty repository location");
	l = ofs_xcalloc(1, sizeof(*l));
	l->b.ops = &local_ops;
	l->b.loc = ofs_xstrdup(loc);
	l->root = ofs_xstrdup(path);
	*out = &l->b;
	return 0;
}
