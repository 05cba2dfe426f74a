/* offseed-dc copy worker: per received disk, the manifest's SHA-256 against the job, every
 * file checked with the same core code as `offseed verify` (ofs_check_root), then every
 * PageBlob/X/… and BlockBlob/X/… file imported as a blob of the job's own storage account,
 * with progress and copy logs. A disk is hostile: every path on it is resolved beneath its
 * root without following links (lib/beneath.h), only regular files are opened, and no hash,
 * size or byte of what was found goes into a log the customer reads. Progress is saved in
 * the job document at checkpoints (each second), so a restart resumes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "buf.h"
#include "check.h"
#include "crypto.h"
#include "dc.h"
#include "manifest.h"
#include "util.h"

/* Unlisted files named in a disk's logs; beyond this they are counted only. */
#define UNLISTED_MAX 1000
/* Progress is saved at most this often while importing (a checkpoint). */
#define SAVE_EVERY_NS 1000000000LL

struct disk_run {
	struct dc_ctx *ctx;
	struct dc_job *job;
	char *serial, *dock, *manifest_file, *manifest_hash;
	char *account;		/* the job's storage account */
	int rootfd;		/* the disk's folder, or -1 */
	struct ofs_manifest *m;
	json_t *findings;	/* check results: log key → {error, detail} */
	json_t *unlisted;	/* array of {path, error} (the first UNLISTED_MAX) */
	int64_t nunlisted;	/* all unlisted files */
	int64_t last_save;	/* ofs_now_ns of the last checkpoint */
};

/* A name as logs carry it: the text layer's ofs_name_shown, so the writer and the readers
 * (offseed import logs / repair, lib/jobjson.c) agree on which names are escaped: itself
 * when it is UTF-8 without control characters (C0, DEL, C1), else percent-escaped
 * (ofs_percent_encode) with *escaped set. Owned. */
static char *
log_name(const char *p, int *escaped)
{
	char *s = ofs_name_shown(p);

	*escaped = strcmp(s, p) != 0;	/* escaping changes the byte that needed it */
	return s;
}

/* Set "path" (and "pathEncoding": "percent" when escaped) of a log entry. */
static void
set_log_path(json_t *e, const char *p)
{
	int esc;
	char *s = log_name(p, &esc);

	json_object_set_new(e, "path", json_string(s));
	if (esc)
		json_object_set_new(e, "pathEncoding", json_string("percent"));
	free(s);
}

/* The member of a manifest path in the job document's "errors" object. */
static json_t *
error_of(json_t *errors, const char *p)
{
	int esc;
	char *k = log_name(p, &esc);
	json_t *v = json_object_get(errors, k);

	free(k);
	return v;
}

static void
set_error_of(json_t *errors, const char *p, json_t *v)
{
	int esc;
	char *k = log_name(p, &esc);

	json_object_set_new(errors, k, v);
	free(k);
}

static void
save_locked(struct dc_ctx *ctx, struct dc_job *job)
{
	struct ofs_error err;

	if (dc_save_job(ctx, job, &err) != 0)
		dc_log("cannot save job '%s': %s", job->name, err.msg);
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Set a member of the disk object (under the lock). */
static void
disk_set(struct disk_run *dr, const char *key, json_t *v)
{
	json_object_set_new(dc_job_disk(dr->job->doc, dr->serial), key, v);
}

static json_t *
disk_obj(struct disk_run *dr)
{
	return dc_job_disk(dr->job->doc, dr->serial);
}

/* A finding as the copy logs tell it: what the manifest expected, never what was found
 * (a disk must not learn the size, hash or bytes of anything through the logs). */
static void
on_finding(const struct ofs_finding *f, void *arg)
{
	struct disk_run *dr = arg;
	char detail[512], eh[2 * OFS_XXH_LEN + 1];
	json_t *e;

	detail[0] = '\0';
	if (f->has_hashes)
		ofs_hex(f->expected, OFS_XXH_LEN, eh);
	if (f->kind == OFS_FINDING_REGION && f->has_range)
		snprintf(detail, sizeof(detail), "region %lld (bytes %llu-%llu) differs from the "
		    "manifest (expected XXH3-128 %s)", (long long)f->region,
		    (unsigned long long)f->start, (unsigned long long)f->end,
		    f->has_hashes ? eh : "?");
	else if (f->kind == OFS_FINDING_MISSING)
		snprintf(detail, sizeof(detail), "not on the disk (expected %llu bytes)",
		    (unsigned long long)f->expected_size);
	else if (f->kind == OFS_FINDING_SIZE)
		snprintf(detail, sizeof(detail), "its size differs from the manifest (expected "
		    "%llu bytes)", (unsigned long long)f->expected_size);
	else if (f->has_hashes)
		snprintf(detail, sizeof(detail), "its content differs from the manifest "
		    "(expected XXH3-128 %s)", eh);
	else if (f->kind == OFS_FINDING_STRUCTURE || f->kind == OFS_FINDING_VERSION)
		snprintf(detail, sizeof(detail), "the container's structure (VHD footer, "
		    "superblock or trailer) is not valid");
	else if (f->kind == OFS_FINDING_UNLISTED)
		snprintf(detail, sizeof(detail), "not listed in the manifest (not imported)");
	else if (f->detail != NULL)
		snprintf(detail, sizeof(detail), "%s", f->detail);
	e = json_pack("{s:s, s:s}", "error", ofs_finding_name(f), "detail", detail);
	if (f->kind == OFS_FINDING_UNLISTED || f->unlisted_scan || f->path == NULL) {
		dr->nunlisted++;
		if (json_array_size(dr->unlisted) >= UNLISTED_MAX) {
			json_decref(e);
			return;
		}
		set_log_path(e, f->path ? f->path : ".");
		json_array_append_new(dr->unlisted, e);
		return;
	}
	if (error_of(dr->findings, f->path) == NULL)	/* first finding names it */
		set_error_of(dr->findings, f->path, e);
	else
		json_decref(e);
}

/* Where a disk file goes: PageBlob/C/B → page blob B in container C; BlockBlob/C/B → block
 * blob. NULL with *why set when it cannot be imported. */
static int
blob_target(const char *path, uint64_t size, char **container, const char **blob,
    int *page, const char **why)
{
	const char *rest, *slash;

	*container = NULL;
	if (strncmp(path, "PageBlob/", 9) == 0) {
		*page = 1;
		rest = path + 9;
	} else if (strncmp(path, "BlockBlob/", 10) == 0) {
		*page = 0;
		rest = path + 10;
	} else {
		*why = "NotInBlobTypeFolder";
		return -1;
	}
	if ((slash = strchr(rest, '/')) == NULL || slash[1] == '\0') {
		*why = "NoContainerFolder";
		return -1;
	}
	*container = ofs_xstrndup(rest, (size_t)(slash - rest));
	*blob = slash + 1;
	if (!dc_container_name_ok(*container)) {
		*why = "InvalidContainerName";
		goto bad;
	}
	if (strcmp(*container, DC_LOG_CONTAINER) == 0) {
		*why = "ReservedContainer";
		goto bad;
	}
	if (strlen(*blob) > 1024) {
		*why = "InvalidBlobName";
		goto bad;
	}
	if (*page && size % 512 != 0) {
		*why = "InvalidPageBlobSize";
		goto bad;
	}
	return 0;
bad:
	free(*container);
	*container = NULL;
	return -1;
}

static int
progress_cb(void *arg, uint64_t bytes)
{
	struct disk_run *dr = arg;
	json_t *d;
	int stop;

	pthread_mutex_lock(&dr->ctx->mu);
	d = disk_obj(dr);
	json_object_set_new(d, "bytesProcessed",
	    json_integer(dc_jint(d, "bytesProcessed") + (int64_t)bytes));
	stop = dr->ctx->stopping;
	pthread_mutex_unlock(&dr->ctx->mu);
	return stop;
}

/* Load the manifest (a regular file beneath the disk root, at most OFS_MANIFEST_MAX bytes)
 * and compare its SHA-256 with the job's. 0, or -1 after recording why in *code / *detail
 * (owned); the detail never tells what was found. */
static int
load_manifest(struct disk_run *dr, const char **code, char **detail)
{
	struct ofs_buf raw = OFS_BUF_INIT(OFS_MANIFEST_MAX);
	struct ofs_error err;
	struct stat st;
	uint8_t sha[32];
	char hex[65];
	int fd = -1, r = -1;

	if ((fd = ofs_beneath_open(dr->rootfd, dr->manifest_file, &st)) < 0) {
		*code = "ManifestMissing";
		*detail = ofs_xasprintf("the manifest '%s' %s", dr->manifest_file,
		    fd == -ENOENT || fd == -ENOTDIR ? "is not on the disk" :
		    ofs_beneath_strerror(fd, &st));
		goto out;
	}
	if (ofs_buf_read_fd(&raw, fd, dr->manifest_file, &err) != 0) {
		*code = "ManifestMissing";
		*detail = err.code == OFS_ERR_CORRUPT ? ofs_xasprintf("the manifest '%s' is larger "
		    "than %u bytes", dr->manifest_file, OFS_MANIFEST_MAX) : ofs_xstrdup(err.msg);
		goto out;
	}
	ofs_sha256(raw.data, raw.len, sha);
	ofs_hex(sha, sizeof(sha), hex);
	if (strcasecmp(hex, dr->manifest_hash) != 0) {
		*code = "ManifestHashMismatch";
		*detail = ofs_xasprintf("the manifest's SHA-256 differs from the one the job "
		    "registered (%s)", dr->manifest_hash);
		goto out;
	}
	if (ofs_manifest_parse(raw.data, raw.len, dr->manifest_file, &dr->m, &err) != 0) {
		*code = "ManifestInvalid";
		*detail = ofs_xstrdup(err.msg);
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	ofs_buf_release(&raw);
	return r;
}

void
dc_logtext_open(struct dc_logtext *l, json_t *hdr)
{
	char *h = json_dumps(hdr, JSON_INDENT(2));
	size_t n = strlen(h);

	while (n > 0 && (h[n - 1] == '}' || h[n - 1] == '\n'))	/* reopen the object */
		n--;
	ofs_buf_init(&l->b, 0);	/* unbounded: puts, checked once by dc_logtext_close */
	ofs_buf_put(&l->b, h, n);
	ofs_buf_puts(&l->b, ",\n  \"files\": [");
	l->n = 0;
	free(h);
	json_decref(hdr);
}

void
dc_logtext_add(struct dc_logtext *l, json_t *e)
{
	char *s = json_dumps(e, JSON_COMPACT);

	ofs_buf_puts(&l->b, l->n++ ? ",\n    " : "\n    ");
	ofs_buf_puts(&l->b, s);
	free(s);
}

int
dc_logtext_close(struct dc_logtext *l)
{
	ofs_buf_puts(&l->b, l->n ? "\n  ]\n}\n" : "]\n}\n");
	return ofs_buf_check(&l->b);
}

/* Write the error and verbose logs of a finished disk, link them, set its final status. */
static void
finish_disk(struct disk_run *dr, const char *status, const char *code, const char *detail)
{
	struct dc_ctx *ctx = dr->ctx;
	struct dc_logtext el, vl;
	json_t *hdr, *d, *e;
	struct ofs_error err;
	char *name, *elink = NULL, *vlink = NULL, t[32];
	size_t i;

	ofs_fmt_time(dc_now_s(), t, sizeof(t));
	pthread_mutex_lock(&ctx->mu);
	d = disk_obj(dr);
	hdr = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}",
	    "format", "offseed-dc-copylog", "version", 1, "kind", "error", "job", dr->job->name,
	    "serialNumber", dr->serial, "copyStatus", status, "finished", t,
	    "filesProcessed", (json_int_t)dc_jint(d, "filesProcessed"),
	    "filesErroredOut", (json_int_t)dc_jint(d, "filesErroredOut"),
	    "totalFilesToProcess", (json_int_t)dc_jint(d, "totalFilesToProcess"),
	    "unlistedFiles", (json_int_t)dc_jint(d, "warnings"));
	dc_logtext_open(&el, json_deep_copy(hdr));
	json_object_set_new(hdr, "kind", json_string("verbose"));
	json_object_set_new(hdr, "bytesProcessed", json_integer(dc_jint(d, "bytesProcessed")));
	dc_logtext_open(&vl, hdr);
	if (code != NULL) {
		e = json_pack("{s:s, s:s}", "error", code, "detail", detail ? detail : "");
		set_log_path(e, dr->manifest_file);
		dc_logtext_add(&el, e);
		dc_logtext_add(&vl, e);
		json_decref(e);
	}
	if (dr->m != NULL) {
		int64_t next = dc_jint(d, "next");

		for (i = 0; i < dr->m->nfiles; i++) {
			const char *p = dr->m->files[i].path;
			json_t *fe = error_of(json_object_get(d, "errors"), p);
			char *cont = NULL;
			const char *blob = NULL, *why;
			int page = 0;

			e = json_pack("{s:I}", "size", (json_int_t)dr->m->files[i].h.size);
			set_log_path(e, p);
			if (blob_target(p, dr->m->files[i].h.size, &cont, &blob, &page, &why) == 0) {
				json_object_set_new(e, "container", json_string(cont));
				json_object_set_new(e, "blob", json_string(blob));
				json_object_set_new(e, "blobType", json_string(page ? "PageBlob" :
				    "BlockBlob"));
			}
			free(cont);
			if (fe != NULL) {
				json_object_set(e, "error", json_object_get(fe, "error"));
				json_object_set(e, "detail", json_object_get(fe, "detail"));
				dc_logtext_add(&el, e);
			} else if ((int64_t)i < next) {
				json_object_set_new(e, "result", json_string("imported"));
			}
			dc_logtext_add(&vl, e);
			json_decref(e);
		}
	}
	json_array_foreach(json_object_get(d, "unlisted"), i, e) {
		dc_logtext_add(&el, e);
		dc_logtext_add(&vl, e);
	}
	pthread_mutex_unlock(&ctx->mu);
	name = ofs_xasprintf("%s/%s/error.json", dr->job->name, dr->serial);
	if (dc_logtext_close(&el) != 0)
		dc_log("job '%s' disk %s: cannot write the error log: it is too large",
		    dr->job->name, dr->serial);
	else if (dc_store_put_bytes(ctx->store, dr->account, DC_LOG_CONTAINER, name, el.b.data,
	    el.b.len, &elink, &err) != 0)
		dc_log("job '%s' disk %s: cannot write the error log: %s", dr->job->name,
		    dr->serial, err.msg);
	free(name);
	ofs_buf_release(&el.b);
	name = ofs_xasprintf("%s/%s/verbose.json", dr->job->name, dr->serial);
	if (dc_logtext_close(&vl) != 0)
		dc_log("job '%s' disk %s: cannot write the verbose log: it is too large",
		    dr->job->name, dr->serial);
	else if (dc_store_put_bytes(ctx->store, dr->account, DC_LOG_CONTAINER, name, vl.b.data,
	    vl.b.len, &vlink, &err) != 0)
		dc_log("job '%s' disk %s: cannot write the verbose log: %s", dr->job->name,
		    dr->serial, err.msg);
	free(name);
	ofs_buf_release(&vl.b);

	pthread_mutex_lock(&ctx->mu);
	if (elink != NULL && vlink != NULL) {
		disk_set(dr, "errorLogLink", json_string(elink));
		disk_set(dr, "verboseLogLink", json_string(vlink));
	}
	disk_set(dr, "copyStatus", json_string(status));
	disk_set(dr, "phase", json_string("done"));
	disk_set(dr, "finished", json_string(t));
	save_locked(ctx, dr->job);
	pthread_mutex_unlock(&ctx->mu);
	dc_log("job '%s' disk %s: %s", dr->job->name, dr->serial, status);
	free(elink);
	free(vlink);
}

/* Verify the disk against its manifest; record the findings. 0 when the import may go on
 * (findings or not), -1 when the disk is finished (failed). */
static int
check_disk(struct dc_ctx *ctx, struct disk_run *dr)
{
	struct ofs_check_opts o;
	struct ofs_check_stats st;
	struct ofs_error err;
	json_t *d;
	int r;

	memset(&o, 0, sizeof(o));
	o.refuse_hardlinks = 1;
	o.on_finding = on_finding;
	o.arg = dr;
	r = ofs_check_root(dr->dock, dr->m, &o, &st, &err);
	if (r != 0) {
		finish_disk(dr, "DriveCorrupted", "DriveUnreadable", err.msg);
		return -1;
	}
	pthread_mutex_lock(&ctx->mu);
	d = disk_obj(dr);
	json_object_set(d, "errors", dr->findings);
	json_object_set(d, "unlisted", dr->unlisted);
	json_object_set_new(d, "warnings", json_integer(dr->nunlisted));
	json_object_set_new(d, "phase", json_string("checked"));
	save_locked(ctx, dr->job);
	pthread_mutex_unlock(&ctx->mu);
	return 0;
}

/* Save the job when the last checkpoint is a second old (force: now). ctx->mu held. */
static void
checkpoint(struct disk_run *dr, int force)
{
	int64_t now = ofs_now_ns();

	if (!force && now - dr->last_save < SAVE_EVERY_NS)
		return;
	save_locked(dr->ctx, dr->job);
	dr->last_save = now;
}

/* Import one listed file: 0, or OFS_ERR_* with err and *why set (*aborted: the service is
 * stopping, the file is to be imported again after the restart). */
static int
import_file(struct disk_run *dr, const struct ofs_manifest_file *f, const char **why,
    int *aborted, struct ofs_error *err)
{
	const char *blob = NULL;
	struct stat st;
	char *cont = NULL;
	int page = 0, fd, r;

	*aborted = 0;
	if (blob_target(f->path, f->h.size, &cont, &blob, &page, why) != 0)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "not imported: %s", *why);
	if ((fd = ofs_beneath_open(dr->rootfd, f->path, &st)) < 0) {
		*why = "Unreadable";
		r = ofs_err_set(err, OFS_ERR_IO, "not imported: it %s", fd == -ENOENT ?
		    "is no longer on the disk" : ofs_beneath_strerror(fd, &st));
		goto out;
	}
	if (st.st_nlink > 1) {
		*why = "Unreadable";
		r = ofs_err_set(err, OFS_ERR_IO, "not imported: it has more than one hard link");
		goto out;
	}
	r = dc_store_put_fd(dr->ctx->store, dr->account, cont, blob, page, fd, f->path, f->h.size,
	    f->h.xxh, progress_cb, dr, aborted, err);
	*why = r == OFS_ERR_CORRUPT ? "ChecksumMismatch" : "ImportFailed";
	if (r == OFS_ERR_CORRUPT)	/* the store's words may hold what was found */
		ofs_err_set(err, OFS_ERR_CORRUPT, "not imported: it changed after it was checked");
out:
	if (fd >= 0)
		close(fd);
	free(cont);
	return r;
}

/* Import every listed file from the job document's "next" (files before it are done) that
 * the check did not refuse. 0 done, 1 stopped (service stopping). */
static int
import_disk(struct dc_ctx *ctx, struct disk_run *dr)
{
	struct ofs_error err;
	json_t *d, *errors;
	int64_t files_ok = 0, files_bad = 0, bytes_ok = 0, next;
	size_t i;
	int r, stop;

	/* Counters from what is recorded: a resumed import starts where it stopped. */
	pthread_mutex_lock(&ctx->mu);
	d = disk_obj(dr);
	errors = json_object_get(d, "errors");
	next = dc_jint(d, "next");
	if (next < 0 || (uint64_t)next > dr->m->nfiles)
		next = 0;
	files_bad = (int64_t)json_object_size(errors);
	for (i = 0; i < (size_t)next; i++) {
		if (error_of(errors, dr->m->files[i].path) == NULL) {
			files_ok++;
			bytes_ok += (int64_t)dr->m->files[i].h.size;
		}
	}
	json_object_set_new(d, "filesProcessed", json_integer(files_ok));
	json_object_set_new(d, "filesErroredOut", json_integer(files_bad));
	json_object_set_new(d, "bytesProcessed", json_integer(bytes_ok));
	pthread_mutex_unlock(&ctx->mu);

	for (i = (size_t)next; i < dr->m->nfiles; i++) {
		const struct ofs_manifest_file *f = &dr->m->files[i];
		const char *why = NULL;
		int done, aborted = 0;

		r = 0;
		pthread_mutex_lock(&ctx->mu);
		d = disk_obj(dr);
		done = error_of(json_object_get(d, "errors"), f->path) != NULL;
		stop = ctx->stopping;
		if (stop)
			checkpoint(dr, 1);
		pthread_mutex_unlock(&ctx->mu);
		if (stop)
			return 1;
		if (!done && (r = import_file(dr, f, &why, &aborted, &err)) != 0 && aborted) {
			pthread_mutex_lock(&ctx->mu);
			checkpoint(dr, 1);
			pthread_mutex_unlock(&ctx->mu);
			return 1;
		}

		pthread_mutex_lock(&ctx->mu);
		d = disk_obj(dr);
		if (!done && r == 0) {
			json_object_set_new(d, "filesProcessed",
			    json_integer(dc_jint(d, "filesProcessed") + 1));
		} else if (!done) {
			set_error_of(json_object_get(d, "errors"), f->path,
			    json_pack("{s:s, s:s}", "error", why, "detail", err.msg));
			json_object_set_new(d, "filesErroredOut",
			    json_integer(dc_jint(d, "filesErroredOut") + 1));
			dc_log("job '%s' disk %s: file %zu: %s", dr->job->name, dr->serial, i,
			    err.msg);
		}
		json_object_set_new(d, "next", json_integer((json_int_t)i + 1));
		checkpoint(dr, ctx->copy_delay_ms > 0);
		pthread_mutex_unlock(&ctx->mu);
		if (ctx->copy_delay_ms > 0)
			sleep_ms(ctx->copy_delay_ms);
	}
	pthread_mutex_lock(&ctx->mu);
	checkpoint(dr, 1);
	pthread_mutex_unlock(&ctx->mu);
	return 0;
}

static void
run_disk(struct dc_ctx *ctx, struct disk_run *dr, const char *phase)
{
	const char *code = NULL;
	char *detail = NULL;
	uint64_t bytes = 0;
	json_t *d;

	if ((dr->rootfd = open(dr->dock, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		detail = ofs_xasprintf("the disk cannot be read: %s", strerror(errno));
		finish_disk(dr, "DriveCorrupted", "DriveUnreadable", detail);
		free(detail);
		return;
	}
	if (load_manifest(dr, &code, &detail) != 0) {
		finish_disk(dr, strcmp(code, "ManifestInvalid") == 0 ? "Failed" :
		    "MetadataFilesModifiedOrRemoved", code, detail);
		free(detail);
		return;
	}
	for (size_t i = 0; i < dr->m->nfiles; i++) {
		if (dr->m->files[i].h.size > (uint64_t)INT64_MAX - bytes) {
			finish_disk(dr, "Failed", "ManifestInvalid", "the sizes the manifest declares "
			    "add up to more than 2^63 bytes");
			return;
		}
		bytes += dr->m->files[i].h.size;
	}
	pthread_mutex_lock(&ctx->mu);
	d = disk_obj(dr);
	json_object_set_new(d, "copyStatus", json_string("InProgress"));
	json_object_set_new(d, "totalBytesToProcess", json_integer((json_int_t)bytes));
	json_object_set_new(d, "totalFilesToProcess", json_integer((json_int_t)dr->m->nfiles));
	save_locked(ctx, dr->job);
	pthread_mutex_unlock(&ctx->mu);

	if (strcmp(phase, "received") == 0 && check_disk(ctx, dr) != 0)
		return;
	if (import_disk(ctx, dr) != 0)
		return;		/* stopping: resumes after the restart */
	pthread_mutex_lock(&ctx->mu);
	d = disk_obj(dr);
	code = dc_jint(d, "filesErroredOut") > 0 ? "CompletedWithErrors" : "Completed";
	pthread_mutex_unlock(&ctx->mu);
	finish_disk(dr, code, NULL, NULL);
}

void *
dc_copy_worker(void *varg)
{
	struct dc_worker_arg *a = varg;
	struct dc_ctx *ctx = a->ctx;
	struct dc_job *job = a->job;
	const char *serial;
	json_t *d, *req;

	free(a);
	for (;;) {
		struct disk_run dr;
		char *phase = NULL;

		memset(&dr, 0, sizeof(dr));
		pthread_mutex_lock(&ctx->mu);
		if (ctx->stopping) {
			job->worker = 0;
			pthread_mutex_unlock(&ctx->mu);
			break;
		}
		json_object_foreach(json_object_get(job->doc, "disks"), serial, d) {
			const char *ph = dc_jstr(d, "phase");

			if (strcmp(ph, "received") == 0 || strcmp(ph, "checked") == 0) {
				dr.serial = ofs_xstrdup(serial);
				dr.dock = ofs_xstrdup(dc_jstr(d, "dock"));
				phase = ofs_xstrdup(ph);
				break;
			}
		}
		if (dr.serial == NULL) {
			job->worker = 0;
			dc_job_finish(ctx, job);
			pthread_mutex_unlock(&ctx->mu);
			break;
		}
		if (strcmp(dc_jstr(job->doc, "status"), "DataCopy") != 0) {
			dc_job_set_stage(job->doc, "DataCopy", dc_now_s());
			save_locked(ctx, job);
		}
		req = json_object_get(json_object_get(json_object_get(json_object_get(job->doc,
		    "request"), "properties"), "details"), "importDiskDetailsCollection");
		dr.manifest_file = ofs_xstrdup(dc_jstr(json_object_get(req, dr.serial),
		    "manifestFile"));
		dr.manifest_hash = ofs_xstrdup(dc_jstr(json_object_get(req, dr.serial),
		    "manifestHash"));
		dr.account = dc_account_of_id(dc_jstr(json_object_get(json_array_get(
		    json_object_get(json_object_get(json_object_get(json_object_get(job->doc,
		    "request"), "properties"), "details"), "dataImportDetails"), 0),
		    "accountDetails"), "storageAccountId"));
		pthread_mutex_unlock(&ctx->mu);

		dr.ctx = ctx;
		dr.job = job;
		dr.rootfd = -1;
		dr.last_save = ofs_now_ns();
		dr.findings = json_object();
		dr.unlisted = json_array();
		if (dr.account == NULL || !dc_store_serves(ctx->store, dr.account))
			finish_disk(&dr, "Failed", "StorageAccountNotServed", "the job's storage "
			    "account is not served here");
		else
			run_disk(ctx, &dr, phase);
		if (dr.rootfd != -1)
			close(dr.rootfd);
		free(dr.account);
		ofs_manifest_free(dr.m);
		json_decref(dr.findings);
		json_decref(dr.unlisted);
		free(dr.serial);
		free(dr.dock);
		free(dr.manifest_file);
		free(dr.manifest_hash);
		free(phase);
	}
	return NULL;
}
