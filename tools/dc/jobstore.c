/* offseed-dc's job table: the jobs in memory (ctx->jobs) and their documents on disk,
 * STATE/jobs/CUSTOMER/NAME.json, written atomically; loading them at start (moving files from
 * before customers, removing interrupted writes); starting and finishing their copy workers.
 * jobs.c keeps the I/O-free logic on one document; this file owns the files. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "dc.h"
#include "jobjson.h"
#include "util.h"

struct dc_job *
dc_find_job(struct dc_ctx *ctx, const char *customer, const char *name)
{
	for (size_t i = 0; i < ctx->njobs; i++)
		if (strcmp(ctx->jobs[i]->name, name) == 0 &&
		    strcmp(ctx->jobs[i]->customer, customer) == 0)
			return ctx->jobs[i];
	return NULL;
}

/* STATE/jobs/CUSTOMER: one folder per customer, so job names never collide across them. */
static char *
customer_jobs_dir(struct dc_ctx *ctx, const char *customer)
{
	return ofs_path_join(ctx->jobs_dir, customer);
}

static char *
job_path(struct dc_ctx *ctx, const char *customer, const char *name)
{
	char *dir = customer_jobs_dir(ctx, customer), *file = ofs_xasprintf("%s.json", name);
	char *p = ofs_path_join(dir, file);

	free(dir);
	free(file);
	return p;
}

int
dc_save_job(struct dc_ctx *ctx, struct dc_job *job, struct ofs_error *err)
{
	char *dir = customer_jobs_dir(ctx, job->customer), *text = NULL, *path = NULL;
	int r;

	if ((r = ofs_mkdir_p(dir, 0700, err)) != 0)
		goto out;
	text = json_dumps(job->doc, JSON_COMPACT);
	path = job_path(ctx, job->customer, job->name);
	r = ofs_write_file_atomic(path, text, strlen(text), 0600, err);
out:
	free(text);
	free(path);
	free(dir);
	return r;
}

struct dc_job *
dc_add_job(struct dc_ctx *ctx, const char *customer, const char *name, json_t *doc)
{
	struct dc_job *job = ofs_xcalloc(1, sizeof(*job));

	job->customer = ofs_xstrdup(customer);
	job->name = ofs_xstrdup(name);
	job->doc = doc;
	ctx->jobs = ofs_xreallocarray(ctx->jobs, ctx->njobs + 1, sizeof(*ctx->jobs));
	ctx->jobs[ctx->njobs++] = job;
	return job;
}

void
dc_drop_job(struct dc_ctx *ctx, struct dc_job *job)
{
	for (size_t i = 0; i < ctx->njobs; i++)
		if (ctx->jobs[i] == job) {
			memmove(&ctx->jobs[i], &ctx->jobs[i + 1],
			    (ctx->njobs - i - 1) * sizeof(*ctx->jobs));
			ctx->njobs--;
			break;
		}
	if (job->joinable)
		pthread_join(job->thread, NULL);
	json_decref(job->doc);
	free(job->customer);
	free(job->name);
	free(job);
}

void
dc_drop_jobs(struct dc_ctx *ctx)
{
	while (ctx->njobs > 0)
		dc_drop_job(ctx, ctx->jobs[ctx->njobs - 1]);
	free(ctx->jobs);
	ctx->jobs = NULL;
}

int
dc_unlink_job(struct dc_ctx *ctx, struct dc_job *job)
{
	char *path = job_path(ctx, job->customer, job->name);
	int r = 0;

	if (unlink(path) == -1 && errno != ENOENT) {
		dc_log("cannot remove '%s': %s", path, strerror(errno));
		r = -1;
	}
	free(path);
	return r;
}

void
dc_kick_job(struct dc_ctx *ctx, struct dc_job *job)
{
	struct dc_worker_arg *a;

	if (job->worker || ctx->stopping || !dc_job_needs_worker(job->doc))
		return;
	if (job->joinable) {		/* the last worker has finished (worker == 0) */
		pthread_join(job->thread, NULL);
		job->joinable = 0;
	}
	a = ofs_xcalloc(1, sizeof(*a));
	a->ctx = ctx;
	a->job = job;
	if (pthread_create(&job->thread, NULL, dc_job_is_export(job->doc) ? dc_export_worker :
	    dc_copy_worker, a) != 0) {
		dc_log("cannot start the copy worker of job '%s'", job->name);
		free(a);
		return;
	}
	job->worker = 1;
	job->joinable = 1;
}

void
dc_job_finish(struct dc_ctx *ctx, struct dc_job *job)
{
	const char *status = dc_jstr(job->doc, "status"), *outcome;
	struct ofs_error err;

	if (job->worker || dc_stage_final(status) || strcmp(status, "Created") == 0)
		return;
	if ((outcome = dc_job_outcome(job->doc)) == NULL)
		return;
	dc_job_set_stage(job->doc, outcome, dc_now_s());
	if (dc_save_job(ctx, job, &err) != 0)
		dc_log("cannot save job '%s': %s", job->name, err.msg);
	dc_log("job '%s': %s", job->name, outcome);
}

int
dc_job_cmp(const void *a, const void *b)
{
	const struct dc_job *x = *(struct dc_job *const *)a, *y = *(struct dc_job *const *)b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->customer, y->customer);
}

/* ofs_write_file_atomic's temporary files: NAME.tmp-XXXXXX, six letters or digits from
 * mkstemp. A job file ends in ".json", so it never matches. */
static int
temp_name(const char *n)
{
	size_t len = strlen(n);

	if (len <= 11 || strncmp(n + len - 11, ".tmp-", 5) != 0)
		return 0;
	for (const char *p = n + len - 6; *p; p++)
		if (!isalnum((unsigned char)*p))
			return 0;
	return 1;
}

/* Load one job file of customer. legacy: a file from before customers (STATE/jobs/NAME.json),
 * the default customer's, moved to its folder. */
static void
load_job_file(struct dc_ctx *ctx, const char *path, const char *file, const char *customer,
    int legacy)
{
	struct ofs_buf raw = OFS_BUF_INIT(DC_JOB_FILE_MAX);
	size_t n = strlen(file);
	struct ofs_error err;
	struct dc_job *job;
	json_t *doc = NULL;
	char msg[512], *name;

	if (n < 6 || strcmp(file + n - 5, ".json") != 0)
		return;
	name = ofs_xstrndup(file, n - 5);
	if (ofs_buf_read_file(&raw, path, &err) != 0) {
		dc_log("skipping job file: %s", err.msg);
		goto out;
	}
	if ((doc = json_loadb((const char *)raw.data, raw.len, 0, NULL)) == NULL ||
	    dc_job_doc_check(doc, msg, sizeof(msg)) != 0 ||
	    strcmp(dc_jstr(doc, "name"), name) != 0 || !ofs_job_name_ok(name) ||
	    strcmp(dc_job_customer(doc), customer) != 0) {
		dc_log("skipping damaged job file '%s'", path);
		goto out;
	}
	if (dc_find_job(ctx, customer, name) != NULL) {
		dc_log("skipping '%s': customer '%s' has a job '%s' already", path, customer, name);
		goto out;
	}
	json_object_set_new(doc, "customer", json_string(customer));
	job = dc_add_job(ctx, customer, name, doc);
	doc = NULL;			/* transferred */
	if (legacy) {
		if (dc_save_job(ctx, job, &err) != 0)
			dc_log("cannot move job '%s' to its customer's folder: %s", name, err.msg);
		else if (unlink(path) == -1)
			dc_log("cannot remove '%s': %s", path, strerror(errno));
	}
out:
	json_decref(doc);
	ofs_buf_release(&raw);
	free(name);
}

/* Load the job files of dir (a customer's folder, or STATE/jobs itself: customer NULL) and
 * remove interrupted writes. */
static int
load_job_dir(struct dc_ctx *ctx, const char *dir, const char *customer, struct ofs_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat sb;
	char *path;

	if (d == NULL)
		return ofs_err_sys(err, OFS_ERR_IO, errno, "cannot open '%s'", dir);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		path = ofs_path_join(dir, de->d_name);
		if (temp_name(de->d_name)) {		/* an interrupted write */
			unlink(path);
		} else if (lstat(path, &sb) == -1) {
			dc_log("skipping '%s': %s", path, strerror(errno));
		} else if (S_ISREG(sb.st_mode)) {
			load_job_file(ctx, path, de->d_name, customer ? customer :
			    DC_DEFAULT_CUSTOMER, customer == NULL);
		} else if (customer == NULL && S_ISDIR(sb.st_mode) &&
		    dc_customer_name_ok(de->d_name)) {
			if (load_job_dir(ctx, path, de->d_name, err) != 0)
				dc_log("skipping %s", err->msg);
		}
		free(path);
	}
	closedir(d);
	return 0;
}

int
dc_load_jobs(struct dc_ctx *ctx, struct ofs_error *err)
{
	int r;

	if ((r = load_job_dir(ctx, ctx->jobs_dir, NULL, err)) != 0)
		return r;
	ofs_err_clear(err);
	if (ctx->njobs > 1)
		qsort(ctx->jobs, ctx->njobs, sizeof(*ctx->jobs), dc_job_cmp);
	return 0;
}
