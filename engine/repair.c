/* repair: the engine of `offseed import repair`. The files an import job's error logs name
 * are uploaded from the staging repository straight to the storage account the job imports
 * into (a file: folder or Azure Blob), then read back and checked against the manifest. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "azblob.h"
#include "crypto.h"
#include "repair.h"
#include "util.h"

#define READ_CHUNK (8u << 20)

struct ofs_repair_store {
	char *dir;			/* file: storage, or NULL */
	struct ofs_azblob *az;		/* azure:// storage, or NULL */
};

char *
ofs_repair_storage_loc(const char *opt, const struct ofs_credentials *c,
    const struct ofs_job *j)
{
	const char *id = j->storage_account_id ? j->storage_account_id : c->storage_account_id;
	const char *p;

	if (opt != NULL)
		return ofs_xstrdup(opt);
	if (c->storage != NULL)
		return ofs_xstrdup(c->storage);
	if (id != NULL && (strncmp(id, "file:", 5) == 0 || strncmp(id, "azure://", 8) == 0))
		return ofs_xstrdup(id);
	if (id != NULL && (p = strstr(id, "/storageAccounts/")) != NULL && p[17] != '\0' &&
	    strchr(p + 17, '/') == NULL)
		return ofs_xasprintf("azure://%s", p + 17);
	return NULL;
}

int
ofs_repair_store_open(const char *loc, struct ofs_repair_store **out, struct ofs_error *err)
{
	struct ofs_repair_store *s = ofs_xcalloc(1, sizeof(*s));
	struct ofs_azblob_opts o;

	*out = s;
	if (strncmp(loc, "file:", 5) == 0) {
		s->dir = ofs_xstrdup(loc + 5);
		return 0;
	}
	if (strncmp(loc, "azure://", 8) == 0) {
		char *acct = ofs_xstrdup(loc + 8);
		int r;

		acct[strcspn(acct, "/")] = '\0';
		memset(&o, 0, sizeof(o));
		o.account = acct;
		ofs_azblob_opts_from_env(&o);
		r = ofs_azblob_open(&o, &s->az, err);
		free(acct);
		return r;
	}
	return ofs_err_set(err, OFS_ERR_USAGE, "unsupported storage location '%s' (file:DIR or "
	    "azure://ACCOUNT)", loc);
}

void
ofs_repair_store_free(struct ofs_repair_store *s)
{
	if (s == NULL)
		return;
	free(s->dir);
	ofs_azblob_free(s->az);
	free(s);
}

/* Copy src to dst durably: temp name, write, fsync, rename, fsync the folder. */
static int
copy_file(const char *src, const char *dst, struct ofs_error *err)
{
	char *tmp = ofs_xasprintf("%s.repair-%d", dst, (int)getpid()), *dir = ofs_xstrdup(dst);
	uint8_t *buf = ofs_xmalloc(READ_CHUNK);
	int in = -1, out = -1, r = 0;
	ssize_t n;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot open '%s'", src);
		goto out;
	}
	*strrchr(dir, '/') = '\0';
	if ((r = ofs_mkdir_p(dir, 0755, err)) != 0)
		goto out;
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot create '%s'", tmp);
		goto out;
	}
	while ((n = read(in, buf, READ_CHUNK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot read '%s'", src);
			goto out;
		}
		if ((r = ofs_write_all(out, buf, (size_t)n)) != 0) {
			r = ofs_err_sys(err, OFS_ERR_IO, -r, "cannot write '%s'", tmp);
			goto out;
		}
	}
	if (fsync(out) != 0 || close(out) != 0) {
		out = -1;
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot write '%s'", tmp);
		goto out;
	}
	out = -1;
	if (rename(tmp, dst) != 0) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot rename '%s' to '%s'", tmp, dst);
		goto out;
	}
	r = ofs_fsync_dir(dir, err);
out:
	if (out >= 0) {
		close(out);
		unlink(tmp);
	} else if (r != 0) {
		unlink(tmp);
	}
	if (in >= 0)
		close(in);
	free(buf);
	free(dir);
	free(tmp);
	return r;
}

static int
upload(struct ofs_repair_store *s, const struct ofs_repair_file *t, const char *src,
    struct ofs_error *err)
{
	struct stat st;
	char *dst;
	int fd, r;

	if (s->dir != NULL) {
		dst = ofs_xasprintf("%s/%s/%s", s->dir, t->container, t->blob);
		r = copy_file(src, dst, err);
		free(dst);
		return r;
	}
	if ((fd = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return ofs_err_sys(err, OFS_ERR_IO, errno, "cannot open '%s'", src);
	if (fstat(fd, &st) != 0) {
		r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot stat '%s'", src);
	} else if ((r = ofs_azblob_create_container(s->az, t->container, NULL, err)) == 0) {
		if (t->page)
			r = ofs_azblob_put_page_blob_fd(s->az, t->container, t->blob, fd,
			    (uint64_t)st.st_size, NULL, err);
		else
			r = ofs_azblob_put_blob_fd(s->az, t->container, t->blob, fd,
			    (uint64_t)st.st_size, err);
	}
	close(fd);
	return r;
}

/* Read the stored blob back and hash it: *size and xxh filled. */
static int
readback(struct ofs_repair_store *s, const struct ofs_repair_file *t, uint64_t *size,
    uint8_t xxh[OFS_XXH_LEN], struct ofs_error *err)
{
	struct ofs_file_hashes h = { 0 };
	struct ofs_azblob_props p;
	struct ofs_buf b = OFS_BUF_INIT(READ_CHUNK);
	struct ofs_xxh *x = NULL;
	char *path;
	int r;

	if (s->dir != NULL) {
		path = ofs_xasprintf("%s/%s/%s", s->dir, t->container, t->blob);
		r = ofs_hash_file(path, OFS_REGION_SIZE, &h, err);
		if (r == 0) {
			*size = h.size;
			memcpy(xxh, h.xxh, OFS_XXH_LEN);
		}
		ofs_file_hashes_release(&h);
		free(path);
		return r;
	}
	if ((r = ofs_azblob_props(s->az, t->container, t->blob, &p, err)) != 0)
		return r;
	x = ofs_xxh_new();
	for (uint64_t off = 0; off < p.size; off += READ_CHUNK) {
		uint64_t len = p.size - off < READ_CHUNK ? p.size - off : READ_CHUNK;

		ofs_buf_reset(&b);
		if ((r = ofs_azblob_get(s->az, t->container, t->blob, off, len, &b, err)) != 0)
			goto out;
		if (b.len != len) {
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "%s/%s: read back %zu bytes at %llu, "
			    "expected %llu", t->container, t->blob, b.len, (unsigned long long)off,
			    (unsigned long long)len);
			goto out;
		}
		ofs_xxh_update(x, b.data, b.len);
	}
	ofs_xxh_digest(x, xxh);
	*size = p.size;
out:
	ofs_xxh_free(x);
	ofs_buf_release(&b);
	return r;
}

/* The staging manifest entry whose path the blob name ends with (the blob is
 * PREFIX/<repository path>); the longest match wins. */
static const struct ofs_manifest_file *
find_in_manifest(const struct ofs_manifest *m, const char *blob)
{
	const struct ofs_manifest_file *best = NULL;
	size_t bl = strlen(blob);

	for (size_t i = 0; i < m->nfiles; i++) {
		const char *p = m->files[i].path;
		size_t pl = strlen(p);

		if (pl > bl || strcmp(blob + bl - pl, p) != 0 || (pl < bl && blob[bl - pl - 1] != '/'))
			continue;
		if (best == NULL || pl > strlen(best->path))
			best = &m->files[i];
	}
	return best;
}

/* Destination of one log entry: container and blob from the entry, else from its disk
 * path (PageBlob/C/REST or BlockBlob/C/REST). 0, or -1 when it names neither. */
static int
entry_target(const struct ofs_copylog_entry *e, struct ofs_repair_file *t)
{
	const char *p = e->path;
	int kind = -1;

	memset(t, 0, sizeof(*t));
	if (p != NULL && strncmp(p, "PageBlob/", 9) == 0)
		kind = 1, p += 9;
	else if (p != NULL && strncmp(p, "BlockBlob/", 10) == 0)
		kind = 0, p += 10;
	else
		p = NULL;
	if (e->blob_type != NULL)
		kind = strcmp(e->blob_type, "PageBlob") == 0 ? 1 : (strcmp(e->blob_type,
		    "BlockBlob") == 0 ? 0 : kind);
	if (e->container != NULL && e->blob != NULL) {
		t->container = ofs_xstrdup(e->container);
		t->blob = ofs_xstrdup(e->blob);
	} else if (p != NULL && strchr(p, '/') != NULL) {
		t->container = ofs_xstrndup(p, strcspn(p, "/"));
		t->blob = ofs_xstrdup(p + strcspn(p, "/") + 1);
	} else {
		return -1;
	}
	if (kind < 0) {
		size_t n = strlen(t->blob);

		kind = n > 4 && strcmp(t->blob + n - 4, ".vhd") == 0;
	}
	t->page = kind;
	{
		char *cb = ofs_xasprintf("%s/%s", t->container, t->blob);

		t->shown = ofs_name_shown(cb);
		free(cb);
		t->shown_container = ofs_name_shown(t->container);
		t->shown_blob = ofs_name_shown(t->blob);
	}
	return 0;
}

static void
file_release(struct ofs_repair_file *t)
{
	free(t->container);
	free(t->blob);
	free(t->serial);
	free(t->reason);
	free(t->shown);
	free(t->shown_container);
	free(t->shown_blob);
}


void
ofs_repair_list_release(struct ofs_repair_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		file_release(&l->files[i]);
	free(l->files);
	memset(l, 0, sizeof(*l));
}

static void
note(const struct ofs_repair_cb *cb, enum ofs_repair_note_kind kind, const char *serial,
    const struct ofs_copylog_entry *e, const struct ofs_copylog_unusable *u)
{
	struct ofs_repair_note n = { kind, serial, e, u };

	if (cb != NULL && cb->note != NULL)
		cb->note(&n, cb->arg);
}

/* The files one disk's error log cl names, added to l unless already there. */
static void
collect_log(const struct ofs_copylog *cl, const char *serial, const struct ofs_manifest *m,
    const struct ofs_repair_cb *cb, struct ofs_repair_list *l)
{
	for (size_t e = 0; e < cl->n; e++) {
		const struct ofs_copylog_entry *ce = &cl->entries[e];
		struct ofs_repair_file t;
		size_t k;

		if (ce->error != NULL && strcmp(ce->error, "unlisted") == 0) {
			/* An extra file on the disk: never part of the repository. */
			note(cb, OFS_REPAIR_IGNORED, serial, ce, NULL);
			continue;
		}
		if (entry_target(ce, &t) != 0) {
			/* A problem of the whole disk (its manifest): the files it held are not
			 * listed one by one, so they cannot be repaired from here. */
			note(cb, OFS_REPAIR_WHOLE_DISK, serial, ce, NULL);
			l->whole++;
			continue;
		}
		for (k = 0; k < l->n; k++)
			if (strcmp(l->files[k].container, t.container) == 0 &&
			    strcmp(l->files[k].blob, t.blob) == 0)
				break;
		if (k < l->n) {
			file_release(&t);
			continue;
		}
		t.serial = ofs_xstrdup(serial);
		t.reason = ce->error ? ofs_xstrdup(ce->error) : NULL;
		t.mf = find_in_manifest(m, t.blob);
		l->files = ofs_xreallocarray(l->files, l->n + 1, sizeof(*l->files));
		l->files[l->n++] = t;
	}
	/* Entries that cannot be used (a malformed escaped name, an unsafe path) cost their
	 * own file, not the job: the others are still repaired. An extra file's entry never
	 * matters. */
	for (size_t e = 0; e < cl->nunusable; e++) {
		const struct ofs_copylog_unusable *u = &cl->unusable[e];

		if (u->error != NULL && strcmp(u->error, "unlisted") == 0) {
			note(cb, OFS_REPAIR_IGNORED_UNREADABLE, serial, NULL, u);
			continue;
		}
		note(cb, OFS_REPAIR_UNUSABLE, serial, NULL, u);
		l->unusable++;
	}
}

int
ofs_repair_collect(struct ofs_jobclient *jc, const struct ofs_job *j,
    const struct ofs_manifest *m, const struct ofs_repair_cb *cb, struct ofs_repair_list *l,
    struct ofs_error *err)
{
	int r = 0;

	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < j->nlogs && r == 0; i++) {
		struct ofs_buf b = OFS_BUF_INIT(OFS_JOBJSON_MAX);
		struct ofs_copylog cl = { 0 };

		if (j->logs[i].error_link == NULL)
			continue;
		if ((r = ofs_jobclient_download(jc, j->logs[i].error_link, &b, err)) != 0 ||
		    (r = ofs_jobjson_parse_copylog(b.data, b.len, "the error log", &cl, err)) != 0)
			ofs_err_wrap(err, "disk %s", j->logs[i].serial);
		else
			collect_log(&cl, j->logs[i].serial, m, cb, l);
		ofs_copylog_release(&cl);
		ofs_buf_release(&b);
	}
	return r;
}

/* Upload one file, read it back and compare: 0 (*size and xxh as read back), or the
 * failure in ferr. */
static int
repair_one(struct ofs_repair_store *s, const char *dir, const char *mpath,
    const struct ofs_repair_file *t, uint64_t *size, uint8_t xxh[OFS_XXH_LEN],
    struct ofs_error *ferr)
{
	char eh[2 * OFS_XXH_LEN + 1], fh[2 * OFS_XXH_LEN + 1], *src;
	int fr;

	if (t->mf == NULL)
		return ofs_err_set(ferr, OFS_ERR_CORRUPT, "%s is not in the staging manifest '%s'",
		    t->shown, mpath);
	src = ofs_path_join(dir, t->mf->path);
	fr = upload(s, t, src, ferr);
	free(src);
	if (fr != 0 || (fr = readback(s, t, size, xxh, ferr)) != 0)
		return fr;
	if (*size != t->mf->h.size)
		return ofs_err_set(ferr, OFS_ERR_CORRUPT, "%s: %llu bytes after upload, the "
		    "manifest says %llu", t->shown, (unsigned long long)*size,
		    (unsigned long long)t->mf->h.size);
	if (memcmp(xxh, t->mf->h.xxh, OFS_XXH_LEN) != 0) {
		ofs_hex(t->mf->h.xxh, OFS_XXH_LEN, eh);
		ofs_hex(xxh, OFS_XXH_LEN, fh);
		return ofs_err_set(ferr, OFS_ERR_CORRUPT, "%s: XXH3-128 %s after upload, the "
		    "manifest says %s (is the staging copy damaged too? run offseed verify %s)",
		    t->shown, fh, eh, dir);
	}
	return 0;
}

int
ofs_repair_run(struct ofs_repair_store *s, const char *dir, const char *mpath,
    const struct ofs_repair_list *l, const struct ofs_repair_cb *cb, size_t *ok,
    size_t *bad)
{
	int r = 0;

	*ok = *bad = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct ofs_repair_file *t = &l->files[i];
		struct ofs_error ferr = { 0 };
		uint8_t xxh[OFS_XXH_LEN] = { 0 };
		uint64_t size = 0;
		int fr;

		fr = repair_one(s, dir, mpath, t, &size, xxh, &ferr);
		if (fr == 0) {
			(*ok)++;
		} else {
			(*bad)++;
			if (r == 0 || (fr != OFS_ERR_CORRUPT && r == OFS_ERR_CORRUPT))
				r = fr;
		}
		if (cb != NULL && cb->file_done != NULL)
			cb->file_done(t, fr, size, xxh, &ferr, cb->arg);
	}
	return r;
}
