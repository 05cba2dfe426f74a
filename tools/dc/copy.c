/* offseed-dc copy worker: per received disk, the manifest's SHA-256 against the job, every
 * file checked with the same core code as `offseed verify` (ofs_check_root), then every
 * PageBlob/X/… and BlockBlob/X/… file imported as a blob, with progress and copy logs.
 * Progress is kept in the job document after each file, so a restart resumes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "check.h"
#include "crypto.h"
#include "dc.h"
#include "manifest.h"
#include "util.h"

struct disk_run {
	struct dc_ctx *ctx;
	struct dc_job *job;
	char *serial, *dock, *manifest_file, *manifest_hash;
	struct ofs_manifest *m;
	json_t *findings;	/* check results: path → {error, detail} */
	json_t *unlisted;	/* array of {path, error} */
};

static int64_t
now_s(void)
{
	return ofs_now_ns() / 1000000000;
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

static void
on_finding(const struct ofs_finding *f, void *arg)
{
	struct disk_run *dr = arg;
	char detail[512], eh[2 * OFS_XXH_LEN + 1], fh[2 * OFS_XXH_LEN + 1];
	json_t *e;

	detail[0] = '\0';
	if (f->has_hashes) {
		ofs_hex(f->expected, OFS_XXH_LEN, eh);
		ofs_hex(f->found, OFS_XXH_LEN, fh);
	}
	if (f->kind == OFS_FINDING_REGION && f->has_range)
		snprintf(detail, sizeof(detail), "region %lld (bytes %llu-%llu): expected "
		    "XXH3-128 %s, found %s", (long long)f->region, (unsigned long long)f->start,
		    (unsigned long long)f->end, f->has_hashes ? eh : "?", f->has_hashes ? fh : "?");
	else if (f->has_sizes)
		snprintf(detail, sizeof(detail), "expected %llu bytes, found %llu",
		    (unsigned long long)f->expected_size, (unsigned long long)f->found_size);
	else if (f->has_hashes)
		snprintf(detail, sizeof(detail), "expected XXH3-128 %s, found %s", eh, fh);
	else if (f->detail != NULL)
		snprintf(detail, sizeof(detail), "%s", f->detail);
	e = json_pack("{s:s, s:s}", "error", ofs_finding_name(f), "detail", detail);
	if (f->kind == OFS_FINDING_UNLISTED || f->path == NULL) {
		json_object_set_new(e, "path", json_string(f->path ? f->path : ""));
		json_array_append_new(dr->unlisted, e);
		return;
	}
	if (json_object_get(dr->findings, f->path) == NULL)	/* first finding names it */
		json_object_set_new(dr->findings, f->path, e);
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

/* Load the manifest and compare its SHA-256 with the job's. 0, or -1 after recording why
 * in *code / *detail (owned). */
static int
load_manifest(struct disk_run *dr, const char **code, char **detail)
{
	struct ofs_buf raw = OFS_BUF_INIT(OFS_MANIFEST_MAX);
	struct ofs_error err;
	uint8_t sha[32];
	char hex[65], *path = ofs_path_join(dr->dock, dr->manifest_file);
	int r = -1;

	if (ofs_buf_read_file(&raw, path, &err) != 0) {
		*code = "ManifestMissing";
		*detail = ofs_xstrdup(err.msg);
		goto out;
	}
	ofs_sha256(raw.data, raw.len, sha);
	ofs_hex(sha, sizeof(sha), hex);
	if (strcasecmp(hex, dr->manifest_hash) != 0) {
		*code = "ManifestHashMismatch";
		*detail = ofs_xasprintf("the manifest's SHA-256 is %s; the job registered %s", hex,
		    dr->manifest_hash);
		goto out;
	}
	if (ofs_manifest_parse(raw.data, raw.len, dr->manifest_file, &dr->m, &err) != 0) {
		*code = "ManifestInvalid";
		*detail = ofs_xstrdup(err.msg);
		goto out;
	}
	r = 0;
out:
	ofs_buf_release(&raw);
	free(path);
	return r;
}

/* Write the error and verbose logs of a finished disk, link them, set its final status. */
static void
finish_disk(struct disk_run *dr, const char *status, const char *code, const char *detail)
{
	struct dc_ctx *ctx = dr->ctx;
	json_t *errlog, *verbose, *efiles, *vfiles, *d, *e;
	struct ofs_error err;
	char *name, *text, *elink = NULL, *vlink = NULL, t[32];
	size_t i;

	ofs_fmt_time(now_s(), t, sizeof(t));
	efiles = json_array();
	vfiles = json_array();
	pthread_mutex_lock(&ctx->mu);
	d = disk_obj(dr);
	if (code != NULL) {
		e = json_pack("{s:s, s:s, s:s}", "path", dr->manifest_file, "error", code, "detail",
		    detail ? detail : "");
		json_array_append(efiles, e);
		json_array_append_new(vfiles, e);
	}
	if (dr->m != NULL) {
		for (i = 0; i < dr->m->nfiles; i++) {
			const char *p = dr->m->files[i].path;
			json_t *fe = json_object_get(json_object_get(d, "errors"), p);
			char *cont = NULL;
			const char *blob = NULL, *why;
			int page = 0;

			e = json_pack("{s:s, s:I}", "path", p, "size",
			    (json_int_t)dr->m->files[i].h.size);
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
				json_array_append(efiles, e);
			} else if (json_object_get(json_object_get(d, "imported"), p) != NULL) {
				json_object_set_new(e, "result", json_string("imported"));
			}
			json_array_append_new(vfiles, e);
		}
	}
	json_array_foreach(json_object_get(d, "unlisted"), i, e) {
		json_array_append(efiles, e);
		json_array_append(vfiles, e);
	}
	errlog = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o}",
	    "format", "offseed-dc-copylog", "version", 1, "kind", "error", "job", dr->job->name,
	    "serialNumber", dr->serial, "copyStatus", status, "finished", t,
	    "filesProcessed", (json_int_t)dc_jint(d, "filesProcessed"),
	    "filesErroredOut", (json_int_t)dc_jint(d, "filesErroredOut"),
	    "totalFilesToProcess", (json_int_t)dc_jint(d, "totalFilesToProcess"), "files", efiles);
	verbose = json_deep_copy(errlog);
	json_object_set_new(verbose, "kind", json_string("verbose"));
	json_object_set_new(verbose, "files", vfiles);
	json_object_set_new(verbose, "bytesProcessed", json_integer(dc_jint(d, "bytesProcessed")));
	pthread_mutex_unlock(&ctx->mu);

	text = json_dumps(errlog, JSON_INDENT(2));
	name = ofs_xasprintf("%s/%s/error.json", dr->job->name, dr->serial);
	if (dc_store_put_bytes(ctx->store, DC_LOG_CONTAINER, name, text, strlen(text), &elink,
	    &err) != 0)
		dc_log("job '%s' disk %s: cannot write the error log: %s", dr->job->name,
		    dr->serial, err.msg);
	free(name);
	free(text);
	text = json_dumps(verbose, JSON_INDENT(2));
	name = ofs_xasprintf("%s/%s/verbose.json", dr->job->name, dr->serial);
	if (dc_store_put_bytes(ctx->store, DC_LOG_CONTAINER, name, text, strlen(text), &vlink,
	    &err) != 0)
		dc_log("job '%s' disk %s: cannot write the verbose log: %s", dr->job->name,
		    dr->serial, err.msg);
	free(name);
	free(text);
	json_decref(errlog);
	json_decref(verbose);

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
	json_object_set_new(d, "warnings", json_integer((json_int_t)json_array_size(dr->unlisted)));
	json_object_set_new(d, "phase", json_string("checked"));
	save_locked(ctx, dr->job);
	pthread_mutex_unlock(&ctx->mu);
	return 0;
}

/* Import every file not yet imported or refused. 0 done, 1 stopped (service stopping). */
static int
import_disk(struct dc_ctx *ctx, struct disk_run *dr)
{
	struct ofs_error err;
	json_t *d, *errors, *imported;
	int64_t files_ok = 0, files_bad = 0, bytes_ok = 0;
	size_t i;
	int r, aborted, stop;

	/* Counters from what is recorded: a resumed import starts where it stopped. */
	pthread_mutex_lock(&ctx->mu);
	d = disk_obj(dr);
	errors = json_object_get(d, "errors");
	imported = json_object_get(d, "imported");
	for (i = 0; i < dr->m->nfiles; i++) {
		const char *p = dr->m->files[i].path;

		if (json_object_get(errors, p) != NULL) {
			files_bad++;
		} else if (json_object_get(imported, p) != NULL) {
			files_ok++;
			bytes_ok += (int64_t)dr->m->files[i].h.size;
		}
	}
	json_object_set_new(d, "filesProcessed", json_integer(files_ok));
	json_object_set_new(d, "filesErroredOut", json_integer(files_bad));
	json_object_set_new(d, "bytesProcessed", json_integer(bytes_ok));
	pthread_mutex_unlock(&ctx->mu);

	for (i = 0; i < dr->m->nfiles; i++) {
		const struct ofs_manifest_file *f = &dr->m->files[i];
		const char *blob = NULL, *why = NULL;
		char *cont = NULL, *src;
		int page = 0, done;

		pthread_mutex_lock(&ctx->mu);
		d = disk_obj(dr);
		done = json_object_get(json_object_get(d, "errors"), f->path) != NULL ||
		    json_object_get(json_object_get(d, "imported"), f->path) != NULL;
		stop = ctx->stopping;
		pthread_mutex_unlock(&ctx->mu);
		if (stop)
			return 1;
		if (done)
			continue;
		r = 0;
		if (blob_target(f->path, f->h.size, &cont, &blob, &page, &why) != 0) {
			ofs_err_set(&err, OFS_ERR_CORRUPT, "not imported: %s", why);
			r = OFS_ERR_CORRUPT;
		} else {
			src = ofs_path_join(dr->dock, f->path);
			r = dc_store_put_file(ctx->store, cont, blob, page, src, f->h.size, f->h.xxh,
			    progress_cb, dr, &aborted, &err);
			free(src);
			if (r != 0 && aborted) {
				free(cont);
				return 1;
			}
			why = r == OFS_ERR_CORRUPT ? "ChecksumMismatch" : "ImportFailed";
		}
		free(cont);

		pthread_mutex_lock(&ctx->mu);
		d = disk_obj(dr);
		if (r == 0) {
			json_object_set_new(json_object_get(d, "imported"), f->path, json_true());
			json_object_set_new(d, "filesProcessed",
			    json_integer(dc_jint(d, "filesProcessed") + 1));
		} else {
			json_object_set_new(json_object_get(d, "errors"), f->path,
			    json_pack("{s:s, s:s}", "error", why, "detail", err.msg));
			json_object_set_new(d, "filesErroredOut",
			    json_integer(dc_jint(d, "filesErroredOut") + 1));
			dc_log("job '%s' disk %s: %s", dr->job->name, dr->serial, err.msg);
		}
		save_locked(ctx, dr->job);
		pthread_mutex_unlock(&ctx->mu);
		if (ctx->copy_delay_ms > 0)
			sleep_ms(ctx->copy_delay_ms);
	}
	return 0;
}

static void
run_disk(struct dc_ctx *ctx, struct disk_run *dr, const char *phase)
{
	const char *code = NULL;
	char *detail = NULL;
	int64_t bytes = 0;
	json_t *d;

	if (load_manifest(dr, &code, &detail) != 0) {
		finish_disk(dr, strcmp(code, "ManifestInvalid") == 0 ? "Failed" :
		    "MetadataFilesModifiedOrRemoved", code, detail);
		free(detail);
		return;
	}
	for (size_t i = 0; i < dr->m->nfiles; i++)
		bytes += (int64_t)dr->m->files[i].h.size;
	pthread_mutex_lock(&ctx->mu);
	d = disk_obj(dr);
	json_object_set_new(d, "copyStatus", json_string("InProgress"));
	json_object_set_new(d, "totalBytesToProcess", json_integer(bytes));
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
			dc_job_set_stage(job->doc, "DataCopy", now_s());
			save_locked(ctx, job);
		}
		req = json_object_get(json_object_get(json_object_get(json_object_get(job->doc,
		    "request"), "properties"), "details"), "importDiskDetailsCollection");
		dr.manifest_file = ofs_xstrdup(dc_jstr(json_object_get(req, dr.serial),
		    "manifestFile"));
		dr.manifest_hash = ofs_xstrdup(dc_jstr(json_object_get(req, dr.serial),
		    "manifestHash"));
		pthread_mutex_unlock(&ctx->mu);

		dr.ctx = ctx;
		dr.job = job;
		dr.findings = json_object();
		dr.unlisted = json_array();
		run_disk(ctx, &dr, phase);
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
