/* offseed import repair: re-upload the files a job's error logs name, from the staging
 * repository straight to the storage account the job imports into (a file: folder or
 * Azure Blob), then read each one back and check it against the staging manifest. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "azblob.h"
#include "crypto.h"
#include "import.h"
#include "manifest.h"
#include "out.h"
#include "util.h"

static const char usage[] =
    "usage: offseed import repair --job NAME --repo STAGING [--storage LOC] [--json]\n"
    "\n"
    "Read the job's error logs and upload every file they name straight from the staging\n"
    "repository to the storage account the job imported into, then read each one back and\n"
    "check its size and XXH3-128 against the staging manifest. (Azure's RepairImport no\n"
    "longer exists; this does it online.)\n"
    "\n"
    "  --storage LOC   where the blobs live: file:DIR (a folder standing for the account,\n"
    "                  DIR/CONTAINER/BLOB) or azure://ACCOUNT (OFFSEED_AZURE_ENDPOINT,\n"
    "                  OFFSEED_AZURE_KEY or OFFSEED_AZURE_SAS). Default: the \"storage\"\n"
    "                  field of the credentials file, else the job's storage account\n"
    "                  (azure://NAME from its storageAccountId).\n"
    "\n"
    "A disk rejected as a whole (its manifest did not match the job) lists no files: repair\n"
    "names it and exits 4; ship that disk again. A file name that is not UTF-8 text comes\n"
    "percent-escaped in the log (\"pathEncoding\": \"percent\") and is decoded back to its\n"
    "bytes; an entry that cannot be used (a malformed escape, an unsafe path) is named and\n"
    "skipped, the other files are still repaired, and the exit is 4. Entries of extra\n"
    "(unlisted) files are ignored.\n"
    "\n"
    "Exit: 0 every listed file uploaded and re-checked (or nothing to repair), 4 a file is\n"
    "missing from the staging repository or does not match its manifest after upload, or\n"
    "a disk was not imported at all, or an error-log entry cannot be used (also when a\n"
    "copy-log link is refused),\n"
    "1 upload failure, 5 credentials or storage key refused, 8 service unavailable.\n";

#define READ_CHUNK (8u << 20)

struct target {
	char *container, *blob;		/* destination */
	int page;			/* page blob (else block) */
	const struct ofs_manifest_file *mf;	/* staging manifest entry, or NULL */
	char *serial, *reason;
	char *shown;			/* "container/blob" fit for messages (escaped) */
	char *shown_container, *shown_blob;	/* the same, apart (for --json) */
};

struct store {
	char *dir;			/* file: storage, or NULL */
	struct ofs_azblob *az;		/* azure:// storage, or NULL */
};

/* Local folder of a repository location, owned; NULL for remote ones. */
static char *
local_dir(const char *loc)
{
	if (strncmp(loc, "file:", 5) == 0)
		return ofs_xstrdup(loc + 5);
	if (strstr(loc, "://") != NULL || strncmp(loc, "disks:", 6) == 0)
		return NULL;
	return ofs_xstrdup(loc);
}

/* The storage location: --storage, the credentials' "storage", else the job's account. */
static char *
storage_loc(const char *opt, const struct ofs_credentials *c, const struct ofs_job *j)
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

static int
store_open(const char *loc, struct store *s, struct ofs_error *err)
{
	struct ofs_azblob_opts o;

	memset(s, 0, sizeof(*s));
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

static void
store_close(struct store *s)
{
	free(s->dir);
	ofs_azblob_free(s->az);
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
upload(struct store *s, const struct target *t, const char *src, struct ofs_error *err)
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
readback(struct store *s, const struct target *t, uint64_t *size, uint8_t xxh[OFS_XXH_LEN],
    struct ofs_error *err)
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
entry_target(const struct ofs_copylog_entry *e, struct target *t)
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
target_release(struct target *t)
{
	free(t->container);
	free(t->blob);
	free(t->serial);
	free(t->reason);
	free(t->shown);
	free(t->shown_container);
	free(t->shown_blob);
}

int
ofs_import_repair(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "storage", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *job = NULL, *storage_opt = NULL;
	struct ofs_error err = { 0 };
	struct ofs_credentials cred = { 0 };
	struct ofs_jobclient *jc = NULL;
	struct ofs_repo *repo = NULL;
	struct ofs_manifest *m = NULL;
	struct ofs_job j = { 0 };
	struct store st = { 0 };
	struct target *tg = NULL;
	size_t ntg = 0, ok = 0, bad = 0, whole = 0, unusable = 0;
	char *dir = NULL, *mpath = NULL, *loc = NULL;
	json_t *done = json_array(), *failed = json_array();
	int ch, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': job = optarg; break;
		case 's': storage_opt = optarg; break;
		case 'h': r = ofs_cli_usage(usage, 1); goto done;
		default: r = ofs_cli_usage(usage, 0); goto done;
		}
	}
	if (optind != argc) {
		ofs_error("unexpected argument '%s'", argv[optind]);
		r = ofs_cli_usage(usage, 0);
		goto done;
	}
	if (job == NULL || !ofs_job_name_ok(job)) {
		r = ofs_err_set(&err, OFS_ERR_USAGE, job == NULL ? "no job given: use --job NAME" :
		    "invalid job name '%s'", job);
		goto out;
	}
	if (g->repo == NULL) {
		r = ofs_err_set(&err, OFS_ERR_USAGE, "no staging repository given: use --repo "
		    "STAGING");
		goto out;
	}
	if ((dir = local_dir(g->repo)) == NULL) {
		r = ofs_err_set(&err, OFS_ERR_USAGE, "the staging repository '%s' must be a local "
		    "folder", g->repo);
		goto out;
	}
	if ((r = ofs_import_credentials_load(g->credentials, &cred, &err)) != 0 ||
	    (r = ofs_repo_open(g->repo, g->state, &repo, &err)) != 0 ||
	    (r = ofs_import_vault_check(repo->state_dir, g->repo, g->credentials, &cred, 0,
	    &err)) != 0)
		goto out;
	mpath = ofs_path_join(dir, OFS_MANIFEST_NAME);
	if ((r = ofs_manifest_load(mpath, &m, &err)) != 0)
		goto out;
	if ((r = ofs_jobclient_new(&cred, &jc, &err)) != 0 ||
	    (r = ofs_jobclient_get(jc, job, &j, NULL, &err)) != 0)
		goto out;

	/* Collect what the error logs name, once each. */
	for (size_t i = 0; i < j.nlogs; i++) {
		struct ofs_buf b = OFS_BUF_INIT(OFS_JOBJSON_MAX);
		struct ofs_copylog cl = { 0 };

		if (j.logs[i].error_link == NULL)
			continue;
		if ((r = ofs_jobclient_download(jc, j.logs[i].error_link, &b, &err)) != 0 ||
		    (r = ofs_jobjson_parse_copylog(b.data, b.len, "the error log", &cl, &err)) != 0) {
			ofs_err_wrap(&err, "disk %s", j.logs[i].serial);
			ofs_buf_release(&b);
			goto out;
		}
		for (size_t e = 0; e < cl.n; e++) {
			struct target t;
			size_t k;

			if (cl.entries[e].error != NULL &&
			    strcmp(cl.entries[e].error, "unlisted") == 0) {
				/* An extra file on the disk: never part of the repository. */
				ofs_verbose("disk %s: '%s' is not in the disk's manifest; ignored",
				    j.logs[i].serial, cl.entries[e].path_shown ?
				    cl.entries[e].path_shown : "?");
				continue;
			}
			if (entry_target(&cl.entries[e], &t) != 0) {
				/* A problem of the whole disk (its manifest): the files it held are
				 * not listed one by one, so they cannot be repaired from here. */
				ofs_error("disk %s was not imported (%s%s%s): its files are not "
				    "listed, so repair cannot upload them; ship the disk again",
				    j.logs[i].serial, cl.entries[e].error ? cl.entries[e].error :
				    "error", cl.entries[e].detail ? ": " : "",
				    cl.entries[e].detail ? cl.entries[e].detail : "");
				json_array_append_new(failed, json_pack("{s:s, s:s?, s:s?}", "serial",
				    j.logs[i].serial, "path", cl.entries[e].path_shown, "message",
				    "the whole disk was not imported"));
				whole++;
				continue;
			}
			for (k = 0; k < ntg; k++)
				if (strcmp(tg[k].container, t.container) == 0 &&
				    strcmp(tg[k].blob, t.blob) == 0)
					break;
			if (k < ntg) {
				target_release(&t);
				continue;
			}
			t.serial = ofs_xstrdup(j.logs[i].serial);
			t.reason = cl.entries[e].error ? ofs_xstrdup(cl.entries[e].error) : NULL;
			t.mf = find_in_manifest(m, t.blob);
			tg = ofs_xreallocarray(tg, ntg + 1, sizeof(*tg));
			tg[ntg++] = t;
		}
		/* Entries that cannot be used (a malformed escaped name, an unsafe path) cost
		 * their own file, not the job: the others are still repaired. An extra file's
		 * entry never matters. */
		for (size_t e = 0; e < cl.nunusable; e++) {
			const struct ofs_copylog_unusable *u = &cl.unusable[e];

			if (u->error != NULL && strcmp(u->error, "unlisted") == 0) {
				ofs_verbose("disk %s: an unlisted file's entry cannot be read (%s); "
				    "ignored", j.logs[i].serial, u->reason);
				continue;
			}
			ofs_error("disk %s: an entry of the error log cannot be used (%s): its file "
			    "is not repaired", j.logs[i].serial, u->reason);
			json_array_append_new(failed, json_pack("{s:s, s:s?, s:s?, s:s}", "serial",
			    j.logs[i].serial, "path", u->shown, "error", u->error, "message",
			    u->reason));
			unusable++;
		}
		ofs_copylog_release(&cl);
		ofs_buf_release(&b);
	}
	if (ntg == 0) {
		if (unusable > 0)
			r = ofs_err_set(&err, OFS_ERR_CORRUPT, "job %s: %zu error-log entries "
			    "could not be used; nothing repaired", job, unusable);
		else if (whole > 0)
			r = ofs_err_set(&err, OFS_ERR_CORRUPT, "job %s: %zu disk(s) were not "
			    "imported at all; nothing repaired", job, whole);
		else
			ofs_info("job %s: the error logs name no files; nothing to repair (stage %s)",
			    job, j.status);
		goto summary;
	}
	if ((loc = storage_loc(storage_opt, &cred, &j)) == NULL) {
		r = ofs_err_set(&err, OFS_ERR_USAGE, "cannot tell where job %s imports to: give "
		    "--storage file:DIR or azure://ACCOUNT", job);
		goto out;
	}
	if ((r = store_open(loc, &st, &err)) != 0)
		goto out;

	for (size_t i = 0; i < ntg; i++) {
		struct target *t = &tg[i];
		struct ofs_error ferr = { 0 };
		uint8_t xxh[OFS_XXH_LEN];
		char eh[2 * OFS_XXH_LEN + 1], fh[2 * OFS_XXH_LEN + 1], *src = NULL;
		uint64_t size = 0;
		int fr;

		if (t->mf == NULL) {
			fr = ofs_err_set(&ferr, OFS_ERR_CORRUPT, "%s is not in the staging "
			    "manifest '%s'", t->shown, mpath);
			goto one;
		}
		src = ofs_path_join(dir, t->mf->path);
		if ((fr = upload(&st, t, src, &ferr)) != 0)
			goto one;
		if ((fr = readback(&st, t, &size, xxh, &ferr)) != 0)
			goto one;
		if (size != t->mf->h.size) {
			fr = ofs_err_set(&ferr, OFS_ERR_CORRUPT, "%s: %llu bytes after upload, "
			    "the manifest says %llu", t->shown, (unsigned long long)size,
			    (unsigned long long)t->mf->h.size);
			goto one;
		}
		if (memcmp(xxh, t->mf->h.xxh, OFS_XXH_LEN) != 0) {
			ofs_hex(t->mf->h.xxh, OFS_XXH_LEN, eh);
			ofs_hex(xxh, OFS_XXH_LEN, fh);
			fr = ofs_err_set(&ferr, OFS_ERR_CORRUPT, "%s: XXH3-128 %s after upload, "
			    "the manifest says %s (is the staging copy damaged too? run offseed "
			    "verify %s)", t->shown, fh, eh, dir);
			goto one;
		}
one:
		if (fr == 0) {
			ok++;
			ofs_hex(xxh, OFS_XXH_LEN, fh);
			ofs_result("repaired %s from %s (%llu bytes, XXH3-128 %s matches the "
			    "manifest)\n", t->shown, t->mf->path,
			    (unsigned long long)size, fh);
			json_array_append_new(done, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}",
			    "serial", t->serial, "container", t->shown_container, "blob", t->shown_blob,
			    "blob_type", t->page ? "PageBlob" : "BlockBlob", "source", t->mf->path,
			    "size", (json_int_t)size, "xxh128", fh));
		} else {
			bad++;
			if (r == 0 || (fr != OFS_ERR_CORRUPT && r == OFS_ERR_CORRUPT))
				r = fr;
			ofs_error("cannot repair %s: %s", t->shown, ferr.msg);
			json_array_append_new(failed, json_pack("{s:s, s:s, s:s, s:s}", "serial",
			    t->serial, "container", t->shown_container, "blob", t->shown_blob,
			    "message", ferr.msg));
		}
		free(src);
	}
	if (bad > 0)
		ofs_err_set(&err, r, "job %s: %zu of %zu files could not be repaired%s", job, bad,
		    ntg, unusable > 0 ? ", and some error-log entries could not be used" : "");
	else if (unusable > 0)
		r = ofs_err_set(&err, OFS_ERR_CORRUPT, "job %s: %zu files repaired, but %zu "
		    "error-log entries could not be used", job, ok, unusable);
	else if (whole > 0)
		r = ofs_err_set(&err, OFS_ERR_CORRUPT, "job %s: %zu files repaired, but %zu "
		    "disk(s) were not imported at all", job, ok, whole);
summary:
	ofs_emit(json_pack("{s:s, s:s, s:s, s:s?, s:I, s:I, s:I, s:I, s:O, s:O}", "type",
	    "summary", "command", "import repair", "job", job, "storage", loc, "repaired",
	    (json_int_t)ok, "failed", (json_int_t)bad, "disks_not_imported", (json_int_t)whole,
	    "entries_unusable", (json_int_t)unusable, "files", done, "failed_files", failed));
	if (r != 0 && g->json) {
		/* The summary is the one object on stdout; the message goes to stderr only. */
		ofs_error("%s", err.msg);
		r = ofs_exit_code(r);
		goto done;
	}
out:
	r = ofs_cli_fail(r, &err);
done:
	for (size_t i = 0; i < ntg; i++)
		target_release(&tg[i]);
	free(tg);
	store_close(&st);
	json_decref(done);
	json_decref(failed);
	ofs_job_release(&j);
	ofs_jobclient_free(jc);
	ofs_manifest_free(m);
	ofs_repo_close(repo);
	ofs_credentials_release(&cred);
	free(loc);
	free(mpath);
	free(dir);
	return r;
}
