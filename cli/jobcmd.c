/* Front-end code the job commands share (import/cmd_import.c, import/cmd_export.c): one
 * place for what both say about a job, so the two cannot drift apart. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "jobcmd.h"
#include "render.h"
#include "util.h"

#define OUTAGE_MAX 1800.0	/* --wait gives up after this long without an answer */

int
ofs_jobcmd_open(const struct ofs_cli *g, int want_repo, int record_vault,
    struct ofs_jobcmd *c, struct ofs_error *err)
{
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = ofs_import_credentials_load(g->credentials, &c->cred, err)) != 0)
		return r;
	if (want_repo && g->repo == NULL && record_vault)
		return ofs_err_set(err, OFS_ERR_USAGE, "no staging repository given: use --repo "
		    "STAGING or OFFSEED_REPO");
	if (want_repo && g->repo != NULL) {
		if ((r = ofs_repo_open(g->repo, g->state, &c->repo, err)) != 0)
			return r;
		if ((r = ofs_import_vault_check(c->repo->state_dir, g->repo, g->credentials,
		    &c->cred, record_vault, err)) != 0)
			return r;
	}
	return ofs_jobclient_new(&c->cred, &c->jc, err);
}

void
ofs_jobcmd_close(struct ofs_jobcmd *c)
{
	ofs_jobclient_free(c->jc);
	ofs_repo_close(c->repo);
	ofs_credentials_release(&c->cred);
}

int
ofs_jobcmd_job_arg(const char *job, struct ofs_error *err)
{
	if (job == NULL)
		return ofs_err_set(err, OFS_ERR_USAGE, "no job given: use --job NAME");
	if (!ofs_job_name_ok(job))
		return ofs_err_set(err, OFS_ERR_USAGE, "invalid job name '%s': 3 to %d characters "
		    "of letters, digits, '-', '_' and '.'", job, OFS_JOB_NAME_MAX);
	return 0;
}

int
ofs_jobcmd_no_operands(int argc, char **argv, const char *usage)
{
	if (optind == argc)
		return 0;
	ofs_error("unexpected argument '%s'", argv[optind]);
	return ofs_cli_usage(usage, 0);
}

void
ofs_jobcmd_summary(const char *cmd, json_t *o)
{
	json_t *s = json_pack("{s:s, s:s}", "type", "summary", "command", cmd);

	json_object_update(s, o);
	json_decref(o);
	ofs_emit(s);
}

json_t *
ofs_jobcmd_count_json(int64_t v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

void
ofs_jobcmd_fmt_count(int64_t v, char *buf, size_t n)
{
	if (v < 0)
		snprintf(buf, n, "?");
	else
		snprintf(buf, n, "%lld", (long long)v);
}

void
ofs_jobcmd_fmt_bytes(int64_t v, char *buf, size_t n)
{
	if (v < 0)
		snprintf(buf, n, "?");
	else
		ofs_fmt_size((uint64_t)v, buf, n);
}

void
ofs_jobcmd_json_fields(json_t *o, const struct ofs_job *j)
{
	if (j->start_time != NULL)
		json_object_set_new(o, "start_time", json_string(j->start_time));
	if (j->cancellation_reason != NULL)
		json_object_set_new(o, "cancellation_reason", json_string(j->cancellation_reason));
	if (j->error_code != NULL)
		json_object_set_new(o, "error_code", json_string(j->error_code));
	if (j->error_message != NULL)
		json_object_set_new(o, "error_message", json_string(j->error_message));
}

json_t *
ofs_jobcmd_disk_json(const struct ofs_job_disk *d)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "serial", d->serial,
	    "copy_status", d->copy_status, "bytes_processed",
	    ofs_jobcmd_count_json(d->bytes_processed), "total_bytes",
	    ofs_jobcmd_count_json(d->total_bytes), "files_processed",
	    ofs_jobcmd_count_json(d->files_processed), "total_files",
	    ofs_jobcmd_count_json(d->total_files), "files_errored",
	    ofs_jobcmd_count_json(d->files_errored));
}

json_t *
ofs_jobcmd_logs_json(const struct ofs_job *j)
{
	json_t *logs = json_array();

	for (size_t i = 0; i < j->nlogs; i++) {
		const struct ofs_job_log *l = &j->logs[i];
		json_t *e = json_pack("{s:s}", "serial", l->serial);

		if (l->error_link != NULL)
			json_object_set_new(e, "error_log", json_string(l->error_link));
		if (l->verbose_link != NULL)
			json_object_set_new(e, "verbose_log", json_string(l->verbose_link));
		json_array_append_new(logs, e);
	}
	return logs;
}

void
ofs_jobcmd_print_problems(const struct ofs_job *j)
{
	if (j->cancellation_reason != NULL)
		ofs_result("  cancelled: %s\n", j->cancellation_reason);
	if (j->error_code != NULL || j->error_message != NULL)
		ofs_result("  error: %s%s%s\n", j->error_code ? j->error_code : "",
		    j->error_code && j->error_message ? ": " : "",
		    j->error_message ? j->error_message : "");
}

void
ofs_jobcmd_print_disks(const struct ofs_job *j)
{
	for (size_t i = 0; i < j->ndisks; i++) {
		const struct ofs_job_disk *d = &j->disks[i];
		char done[32], total[32], fd[32], ft[32], fe[32];

		ofs_jobcmd_fmt_bytes(d->bytes_processed, done, sizeof(done));
		ofs_jobcmd_fmt_bytes(d->total_bytes, total, sizeof(total));
		ofs_jobcmd_fmt_count(d->files_processed, fd, sizeof(fd));
		ofs_jobcmd_fmt_count(d->total_files, ft, sizeof(ft));
		ofs_jobcmd_fmt_count(d->files_errored, fe, sizeof(fe));
		ofs_result("  disk %s: %s, %s of %s, %s of %s files, %s in error\n", d->serial,
		    d->copy_status[0] ? d->copy_status : "(no status)", done, total, fd, ft, fe);
	}
}

void
ofs_jobcmd_print_links(const struct ofs_job *j)
{
	for (size_t i = 0; i < j->nlogs; i++) {
		const char *e = j->logs[i].error_link, *v = j->logs[i].verbose_link;

		if (e != NULL)
			ofs_result("  error log %s: %.*s\n", j->logs[i].serial,
			    (int)strcspn(e, "?"), e);
		if (v != NULL)
			ofs_result("  verbose log %s: %.*s\n", j->logs[i].serial,
			    (int)strcspn(v, "?"), v);
	}
}

char *
ofs_jobcmd_account_id(const struct ofs_credentials *cr, const char *account,
    const char *where)
{
	char *full;

	if (strchr(account, '/') != NULL)
		full = ofs_xstrdup(account);
	else
		full = ofs_xasprintf("/subscriptions/%s/resourceGroups/%s/providers/"
		    "Microsoft.Storage/storageAccounts/%s", cr->subscription, cr->resource_group,
		    account);
	if (strcmp(full, cr->storage_account_id) != 0)
		ofs_warn("%s storage account '%s', the credentials are for '%s'", where, full,
		    cr->storage_account_id);
	return full;
}

/* An export command meets a job that says it is an import (the list answer may leave
 * transferType out: only a job that says so is another kind). */
static int
is_import(const struct ofs_job *j)
{
	return j->transfer_type != NULL && strcmp(j->transfer_type, "ExportFromAzure") != 0;
}

static int
not_export(const struct ofs_job *j, const char *job, struct ofs_error *err)
{
	return ofs_err_set(err, OFS_ERR_USAGE, "job %s is an import job (%s): use 'offseed "
	    "import'", job, j->transfer_type);
}

int
ofs_jobcmd_list(int argc, char **argv, struct ofs_cli *g, const char *usage,
    const struct ofs_jobcmd_kind *k)
{
	static const struct option opts[] = { OFS_JOBCMD_OPTS_END };
	struct ofs_error err = { 0 };
	struct ofs_jobcmd c = { 0 };
	struct ofs_job *jobs = NULL;
	size_t n = 0, shown = 0;
	json_t *arr;
	int ch, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'h': return ofs_cli_usage(usage, 1);
		default: return ofs_cli_usage(usage, 0);
		}
	}
	if ((r = ofs_jobcmd_no_operands(argc, argv, usage)) != 0)
		return r;
	if ((r = ofs_jobcmd_open(g, k->want_repo, 0, &c, &err)) != 0 ||
	    (r = ofs_jobclient_list(c.jc, &jobs, &n, &err)) != 0)
		goto out;
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		if (k->exports_only && is_import(&jobs[i]))
			continue;
		if (shown++ == 0)
			ofs_result("%-24s  %-28s  %s\n", "JOB", "STAGE", "STARTED");
		ofs_result("%-24s  %-28s  %s\n", jobs[i].name, jobs[i].status,
		    jobs[i].start_time ? jobs[i].start_time : "");
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s?}", "job", jobs[i].name,
		    "stage", jobs[i].status, "start_time", jobs[i].start_time));
	}
	if (shown == 0)
		ofs_info(k->exports_only ? "no export jobs" : "no jobs");
	ofs_jobcmd_summary(g->cmd, json_pack("{s:I, s:o}", "count", (json_int_t)shown, "jobs",
	    arr));
out:
	for (size_t i = 0; i < n; i++)
		ofs_job_release(&jobs[i]);
	free(jobs);
	ofs_jobcmd_close(&c);
	return ofs_cli_fail(r, &err);
}

int
ofs_jobcmd_cancel(int argc, char **argv, struct ofs_cli *g, const char *usage,
    const struct ofs_jobcmd_kind *k)
{
	static const struct option opts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "reason", required_argument, NULL, 'r' },
		OFS_JOBCMD_OPTS_END,
	};
	const char *job = NULL, *reason = NULL;
	struct ofs_error err = { 0 };
	struct ofs_jobcmd c = { 0 };
	struct ofs_job j = { 0 };
	int ch, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': job = optarg; break;
		case 'r': reason = optarg; break;
		case 'h': return ofs_cli_usage(usage, 1);
		default: return ofs_cli_usage(usage, 0);
		}
	}
	if ((r = ofs_jobcmd_no_operands(argc, argv, usage)) != 0)
		return r;
	if ((r = ofs_jobcmd_job_arg(job, &err)) != 0)
		goto out;
	if (reason == NULL || *reason == '\0') {
		r = ofs_err_set(&err, OFS_ERR_USAGE, "give a reason with --reason TEXT");
		goto out;
	}
	if ((r = ofs_jobcmd_open(g, k->want_repo, 0, &c, &err)) != 0)
		goto out;
	if (k->exports_only) {	/* look before cancelling: never cancel the other kind */
		if ((r = ofs_jobclient_get(c.jc, job, &j, NULL, &err)) != 0)
			goto out;
		if (is_import(&j)) {
			r = not_export(&j, job, &err);
			goto out;
		}
		ofs_job_release(&j);
	}
	if ((r = ofs_jobclient_cancel(c.jc, job, reason, &err)) != 0 ||
	    (r = ofs_jobclient_get(c.jc, job, &j, NULL, &err)) != 0)
		goto out;
	ofs_result("job %s: %s\n", job, j.status);
	ofs_jobcmd_summary(g->cmd, k->job_json(&j));
out:
	ofs_job_release(&j);
	ofs_jobcmd_close(&c);
	return ofs_cli_fail(r, &err);
}

static int
parse_seconds(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= 0) || v > 1e9)
		return -1;
	*out = v;
	return 0;
}

/* status's options */
struct wait_args {
	const char *job;
	int wait;
	double timeout, interval;	/* -1: no limit; default 30 */
};

/* 0, -1 after --help (exit 0), or an exit code after a message (2). */
static int
status_args(int argc, char **argv, const char *usage, struct wait_args *a)
{
	static const struct option opts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "interval", required_argument, NULL, 'i' },
		OFS_JOBCMD_OPTS_END,
	};
	int ch;

	memset(a, 0, sizeof(*a));
	a->timeout = -1;
	a->interval = 30;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': a->job = optarg; break;
		case 'w': a->wait = 1; break;
		case 't':
			if (parse_seconds(optarg, &a->timeout) != 0) {
				ofs_error("invalid --timeout '%s' (seconds)", optarg);
				return 2;
			}
			break;
		case 'i':
			if (parse_seconds(optarg, &a->interval) != 0 || a->interval < 0.1) {
				ofs_error("invalid --interval '%s' (seconds, at least 0.1)", optarg);
				return 2;
			}
			break;
		case 'h':
			ofs_cli_usage(usage, 1);
			return -1;
		default: return ofs_cli_usage(usage, 0);
		}
	}
	if (optind != argc) {
		ofs_error("unexpected argument '%s'", argv[optind]);
		return ofs_cli_usage(usage, 0);
	}
	if (!a->wait && a->timeout >= 0) {
		ofs_error("--timeout needs --wait");
		return ofs_cli_usage(usage, 0);
	}
	return 0;
}

static void
sleep_for(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - floor(s)) * 1e9) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static uint64_t
sum_bytes(const struct ofs_job *j, int total)
{
	uint64_t n = 0;

	for (size_t i = 0; i < j->ndisks; i++) {
		int64_t v = total ? j->disks[i].total_bytes : j->disks[i].bytes_processed;

		if (v > 0)
			n += (uint64_t)v;
	}
	return n;
}

/* One line on stderr (and a progress event) when the stage or the bytes (and with
 * k->progress_error, the error) moved. */
static void
say_progress(const struct ofs_jobcmd_kind *k, const char *cmd, const struct ofs_job *j,
    const char *job, char *last, size_t lastsz)
{
	const char *ec = k->progress_error ? j->error_code : NULL;
	const char *em = k->progress_error ? j->error_message : NULL;
	char now[256], done[32], total[32];
	json_t *ev;

	if (k->progress_error)
		snprintf(now, sizeof(now), "%s %llu %s", j->status,
		    (unsigned long long)sum_bytes(j, 0), ec ? ec : "");
	else
		snprintf(now, sizeof(now), "%s %llu", j->status,
		    (unsigned long long)sum_bytes(j, 0));
	if (strcmp(now, last) == 0)
		return;
	ofs_fmt_size(sum_bytes(j, 0), done, sizeof(done));
	ofs_fmt_size(sum_bytes(j, 1), total, sizeof(total));
	ofs_info("job %s: %s (%s of %s %s)%s%s", job, j->status, done, total, k->moved,
	    em ? ": " : "", em ? em : "");
	ev = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "type", "progress", "command", cmd,
	    "job", job, "stage", j->status, "bytes_done", (json_int_t)sum_bytes(j, 0),
	    "bytes_total", (json_int_t)sum_bytes(j, 1));
	if (ec != NULL)
		json_object_set_new(ev, "error_code", json_string(ec));
	ofs_emit(ev);
	snprintf(last, lastsz, "%s", now);
}

/* GET the job into *j; with a->wait until k->final says it is final (*code, *why). */
static int
poll(struct ofs_jobcmd *c, const struct ofs_jobcmd_kind *k, const char *cmd,
    const struct wait_args *a, struct ofs_job *j, int *code, const char **why,
    struct ofs_error *err)
{
	double start = ofs_mono(), down_since = -1, left;
	char last[256] = "", stage[72] = "";
	int r;

	*code = 0;
	*why = NULL;
	for (;;) {
		ofs_job_release(j);
		r = ofs_jobclient_get(c->jc, a->job, j, NULL, err);
		if (r == OFS_ERR_NETWORK && a->wait && stage[0] != '\0') {
			/* A wait of days outlives a short outage: keep polling for a while. */
			if (down_since < 0)
				down_since = ofs_mono();
			if (ofs_mono() - down_since > OUTAGE_MAX)
				return r;
			ofs_warn("%s; still waiting", err->msg);
		} else if (r != 0) {
			return r;
		} else {
			if (k->exports_only && is_import(j))
				return not_export(j, a->job, err);
			down_since = -1;
			snprintf(stage, sizeof(stage), "%s", j->status);
			if (!a->wait || (*code = k->final(j, why)) >= 0)
				return 0;
			say_progress(k, cmd, j, a->job, last, sizeof(last));
		}
		left = a->timeout >= 0 ? a->timeout - (ofs_mono() - start) : a->interval;
		if (left <= 0)
			return ofs_err_set(err, OFS_ERR_NETWORK, "job %s is still in stage %s after "
			    "%g seconds", a->job, stage, a->timeout);
		/* The last sleep ends at the deadline, so a job finishing just then counts. */
		sleep_for(left < a->interval ? left : a->interval);
	}
}

int
ofs_jobcmd_status(int argc, char **argv, struct ofs_cli *g, const char *usage,
    const struct ofs_jobcmd_kind *k)
{
	struct wait_args a;
	struct ofs_error err = { 0 };
	struct ofs_jobcmd c = { 0 };
	struct ofs_job j = { 0 };
	const char *why = NULL;
	int r, code = 0;

	if ((r = status_args(argc, argv, usage, &a)) != 0)
		return r < 0 ? 0 : r;
	if ((r = ofs_jobcmd_job_arg(a.job, &err)) != 0 ||
	    (r = ofs_jobcmd_open(g, k->want_repo, 0, &c, &err)) != 0 ||
	    (r = poll(&c, k, g->cmd, &a, &j, &code, &why, &err)) != 0)
		goto out;
	k->print_job(&j);
	{
		json_t *o = k->job_json(&j);

		if (a.wait)
			json_object_set_new(o, "exit_code", json_integer(code));
		ofs_jobcmd_summary(g->cmd, o);
	}
	if (code == 4)
		k->failed(&j, a.job, why);
	else if (code == 1)
		ofs_error("job %s ended %s", a.job, j.status);
out:
	ofs_job_release(&j);
	ofs_jobcmd_close(&c);
	if (r != 0)
		return ofs_cli_fail(r, &err);
	return code;
}

int
ofs_jobcmd_dispatch(int argc, char **argv, struct ofs_cli *g, const char *family,
    const char *usage, const struct ofs_jobcmd_sub *subs, size_t nsubs)
{
	if (argc < 2) {
		ofs_error("which %s command? (see 'offseed %s --help')", family, family);
		return ofs_cli_usage(usage, 0);
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return ofs_cli_usage(usage, 1);
	for (size_t i = 0; i < nsubs; i++) {
		if (strcmp(argv[1], subs[i].name) == 0) {
			char *cmd = ofs_xasprintf("%s %s", family, subs[i].name);
			int rc;

			g->cmd = cmd;
			rc = subs[i].fn(argc - 1, argv + 1, g);
			g->cmd = NULL;
			free(cmd);
			return rc;
		}
	}
	ofs_error("unknown %s command '%s' (see 'offseed %s --help')", family, argv[1], family);
	return 2;
}
