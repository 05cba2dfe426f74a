/* offseed import: the Data Box–style job client (SPEC §9) — create, ship, status [--wait],
 * list, cancel, logs; repair lives in import/cmd_repair.c over engine/repair.c. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "import.h"
#include "render.h"
#include "util.h"

static const char usage_import[] =
    "usage: offseed import COMMAND [options]\n"
    "\n"
    "Talk to the import service (a Data Box-style jobs API) about the job that carries the\n"
    "prepared disks to the datacenter. Every command needs the service's credentials file\n"
    "(--credentials FILE or OFFSEED_CREDENTIALS) and accepts --json.\n"
    "\n"
    "commands:\n"
    "  create   submit the job from the draft offseed prep wrote\n"
    "  ship     record the inbound shipment (carrier and tracking id)\n"
    "  status   stage, per-disk copy status and progress; --wait until a final stage\n"
    "  list     every job of the resource group\n"
    "  cancel   cancel a job that has not reached the datacenter\n"
    "  logs     download the per-disk copy logs\n"
    "  repair   upload the files the error logs name from the staging repository\n"
    "\n"
    "Run 'offseed import COMMAND --help' for a command's options.\n";

static const char usage_create[] =
    "usage: offseed import create --job NAME --repo STAGING [--draft FILE] [--contact FILE]\n"
    "                             [--credentials FILE] [--json]\n"
    "\n"
    "Submit the import job. The body is the draft (default STAGING/jobs/NAME.json, written\n"
    "by 'offseed prep') with the contact and return-shipping details of --contact FILE\n"
    "({\"contactName\", \"phone\", \"emailList\": [...], \"carrierName\",\n"
    "\"carrierAccountNumber\"}) added. Running it again is safe: the service keeps one job\n"
    "per name, and a retried request never creates a second one. The first create records\n"
    "the credentials' vault for the repository; credentials of another vault are refused.\n"
    "\n"
    "Exit: 0 created or already there, 1 refused (e.g. the name is taken by another job),\n"
    "2 usage, 5 invalid/expired/foreign credentials, 7 offseed too old for the service,\n"
    "8 service unavailable after retries.\n";

static const char usage_ship[] =
    "usage: offseed import ship --job NAME --carrier CARRIER --tracking ID [--json]\n"
    "\n"
    "Tell the service the disks are on their way (markDevicesShipped).\n";

static const char usage_status[] =
    "usage: offseed import status --job NAME [--wait [--timeout S] [--interval S]] [--json]\n"
    "\n"
    "Print the job's stage and, per disk, its copy status and progress (bytes and files\n"
    "processed, files in error). With --wait, poll every --interval seconds (default 30)\n"
    "until the job reaches a final stage, at most --timeout seconds (default: no limit).\n"
    "\n"
    "Exit with --wait: 0 Completed or CompletedWithWarnings, 4 CompletedWithErrors or\n"
    "Failed_*, 1 Cancelled or Aborted, 8 when --timeout passes first (the job is still\n"
    "running; the message names its stage). Without --wait: 0 whatever the stage.\n";

static const char usage_list[] =
    "usage: offseed import list [--json]\n"
    "\n"
    "List the jobs of the resource group: name, stage, start time.\n";

static const char usage_cancel[] =
    "usage: offseed import cancel --job NAME --reason TEXT [--json]\n"
    "\n"
    "Cancel the job. The service refuses once the disks are at the datacenter (exit 1).\n";

static const char usage_logs[] =
    "usage: offseed import logs --job NAME [--out DIR] [--json]\n"
    "\n"
    "Download the copy logs the job links (per disk: error log and verbose log) into DIR\n"
    "(default: the current folder) as SERIAL-error.json and SERIAL-verbose.json (mode\n"
    "0600), and list the files the error logs name (a name that is not plain UTF-8 text is\n"
    "shown percent-escaped, as the log writes it).\n"
    "\n"
    "Links are followed only to the service's own origin or the storage account the\n"
    "credentials name; file: links only for a service on this machine and only inside the\n"
    "storage folder the credentials name. Any other link is refused (exit 4).\n"
    "\n"
    "Exit: 0 downloaded, 1 the job has no logs yet, 4 a link refused.\n";

/* What every subcommand sets up: credentials, the client and (optionally) the staging
 * repository whose vault the credentials must match. */
struct ictx {
	struct ofs_credentials cred;
	struct ofs_jobclient *jc;
	struct ofs_repo *repo;
};

static int
ictx_open(struct ofs_cli *g, int want_repo, int record_vault, struct ictx *c,
    struct ofs_error *err)
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

static void
ictx_close(struct ictx *c)
{
	ofs_jobclient_free(c->jc);
	ofs_repo_close(c->repo);
	ofs_credentials_release(&c->cred);
}

static int
job_arg(const char *job, struct ofs_error *err)
{
	if (job == NULL)
		return ofs_err_set(err, OFS_ERR_USAGE, "no job given: use --job NAME");
	if (!ofs_job_name_ok(job))
		return ofs_err_set(err, OFS_ERR_USAGE, "invalid job name '%s': 3 to %d characters "
		    "of letters, digits, '-', '_' and '.'", job, OFS_JOB_NAME_MAX);
	return 0;
}

/* The final-stage exit code for --wait, or -1 while the job is still on its way. */
static int
final_code(const struct ofs_job *j)
{
	const char *s = j->status;

	if (strcmp(s, "Completed") == 0 || strcmp(s, "CompletedWithWarnings") == 0)
		return 0;
	if (strcmp(s, "CompletedWithErrors") == 0 || strncmp(s, "Failed", 6) == 0)
		return 4;
	if (strcmp(s, "Cancelled") == 0 || strcmp(s, "Aborted") == 0)
		return 1;
	if (strcmp(s, "ShippedToCustomer") == 0 || strcmp(s, "PreparingToShipFromAzureDC") == 0) {
		/* Past the copy: its outcome is in the disks' copy status. */
		for (size_t i = 0; i < j->ndisks; i++)
			if (strcmp(j->disks[i].copy_status, "Completed") != 0)
				return 4;
		return 0;
	}
	return -1;
}

static json_t *
count_or_null(int64_t v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

static json_t *
job_json(const struct ofs_job *j)
{
	json_t *o = json_pack("{s:s, s:s}", "job", j->name, "stage", j->status);
	json_t *disks = json_array(), *logs = json_array();

	if (j->start_time != NULL)
		json_object_set_new(o, "start_time", json_string(j->start_time));
	if (j->cancellation_reason != NULL)
		json_object_set_new(o, "cancellation_reason", json_string(j->cancellation_reason));
	if (j->error_code != NULL)
		json_object_set_new(o, "error_code", json_string(j->error_code));
	if (j->error_message != NULL)
		json_object_set_new(o, "error_message", json_string(j->error_message));
	for (size_t i = 0; i < j->ndisks; i++) {
		const struct ofs_job_disk *d = &j->disks[i];

		json_array_append_new(disks, json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}",
		    "serial", d->serial, "copy_status", d->copy_status, "bytes_processed",
		    count_or_null(d->bytes_processed), "total_bytes", count_or_null(d->total_bytes),
		    "files_processed", count_or_null(d->files_processed), "total_files",
		    count_or_null(d->total_files), "files_errored", count_or_null(d->files_errored)));
	}
	for (size_t i = 0; i < j->nlogs; i++) {
		const struct ofs_job_log *l = &j->logs[i];
		json_t *e = json_pack("{s:s}", "serial", l->serial);

		if (l->error_link != NULL)
			json_object_set_new(e, "error_log", json_string(l->error_link));
		if (l->verbose_link != NULL)
			json_object_set_new(e, "verbose_log", json_string(l->verbose_link));
		json_array_append_new(logs, e);
	}
	json_object_set_new(o, "disks", disks);
	json_object_set_new(o, "copy_logs", logs);
	return o;
}

static void
fmt_count(int64_t v, char *buf, size_t n)
{
	if (v < 0)
		snprintf(buf, n, "?");
	else
		snprintf(buf, n, "%lld", (long long)v);
}

static void
print_job(const struct ofs_job *j)
{
	ofs_result("job %s: %s\n", j->name, j->status[0] ? j->status : "(no stage)");
	if (j->cancellation_reason != NULL)
		ofs_result("  cancelled: %s\n", j->cancellation_reason);
	if (j->error_code != NULL || j->error_message != NULL)
		ofs_result("  error: %s%s%s\n", j->error_code ? j->error_code : "",
		    j->error_code && j->error_message ? ": " : "",
		    j->error_message ? j->error_message : "");
	for (size_t i = 0; i < j->ndisks; i++) {
		const struct ofs_job_disk *d = &j->disks[i];
		char done[32], total[32], fd[32], ft[32], fe[32];

		if (d->bytes_processed >= 0)
			ofs_fmt_size((uint64_t)d->bytes_processed, done, sizeof(done));
		else
			snprintf(done, sizeof(done), "?");
		if (d->total_bytes >= 0)
			ofs_fmt_size((uint64_t)d->total_bytes, total, sizeof(total));
		else
			snprintf(total, sizeof(total), "?");
		fmt_count(d->files_processed, fd, sizeof(fd));
		fmt_count(d->total_files, ft, sizeof(ft));
		fmt_count(d->files_errored, fe, sizeof(fe));
		ofs_result("  disk %s: %s, %s of %s, %s of %s files, %s in error\n", d->serial,
		    d->copy_status[0] ? d->copy_status : "(no status)", done, total, fd, ft, fe);
	}
	/* Links without their query: it may hold a SAS signature ('import logs' fetches). */
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

/* {"type":"summary","command":CMD, …o}; steals o. */
static void
emit_summary(const char *cmd, json_t *o)
{
	json_t *s = json_pack("{s:s, s:s}", "type", "summary", "command", cmd);

	json_object_update(s, o);
	json_decref(o);
	ofs_emit(s);
}

/* getopt_long over a subcommand's own options; --help handled by the caller. */
#define SUB_OPTS_END { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }

static int
load_json_file(const char *path, const char *what, size_t max, json_t **out,
    struct ofs_error *err)
{
	struct ofs_buf raw = OFS_BUF_INIT(max);
	json_error_t je;
	int r;

	*out = NULL;
	if ((r = ofs_buf_read_file(&raw, path, err)) != 0) {
		if (r == OFS_ERR_NOTFOUND)
			r = ofs_err_set(err, OFS_ERR_USAGE, "cannot open %s '%s': No such file or "
			    "directory", what, path);
		goto out;
	}
	if ((*out = json_loadb((const char *)raw.data, raw.len, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL || !json_is_object(*out)) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "%s '%s' is not a JSON object%s%s", what, path,
		    *out == NULL ? ": " : "", *out == NULL ? je.text : "");
		json_decref(*out);
		*out = NULL;
	}
out:
	ofs_buf_release(&raw);
	return r;
}

/* Local folder of a repository location (path or file:PATH), owned; NULL for others. */
static char *
repo_dir(const char *loc)
{
	if (strncmp(loc, "file:", 5) == 0)
		return ofs_xstrdup(loc + 5);
	if (strstr(loc, "://") != NULL || strncmp(loc, "disks:", 6) == 0)
		return NULL;
	return ofs_xstrdup(loc);
}

/* Merge --contact into the body: contactDetails and returnToCustomerPackageDetails. */
static int
add_contact(json_t *details, const char *path, struct ofs_error *err)
{
	json_t *c = NULL, *cd, *rp, *emails;
	const char *name, *phone, *carrier, *account;
	size_t i;
	json_t *v;
	int r;

	if ((r = load_json_file(path, "contact file", 1u << 20, &c, err)) != 0)
		return r;
	name = json_string_value(json_object_get(c, "contactName"));
	phone = json_string_value(json_object_get(c, "phone"));
	carrier = json_string_value(json_object_get(c, "carrierName"));
	account = json_string_value(json_object_get(c, "carrierAccountNumber"));
	emails = json_object_get(c, "emailList");
	if (name == NULL || *name == '\0' || phone == NULL || *phone == '\0' ||
	    !json_is_array(emails) || json_array_size(emails) == 0) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "contact file '%s' needs \"contactName\", "
		    "\"phone\" and a non-empty \"emailList\"", path);
		goto out;
	}
	json_array_foreach(emails, i, v) {
		if (!json_is_string(v) || strchr(json_string_value(v), '@') == NULL) {
			r = ofs_err_set(err, OFS_ERR_USAGE, "contact file '%s': emailList[%zu] is not "
			    "an e-mail address", path, i);
			goto out;
		}
	}
	if (carrier == NULL || *carrier == '\0' || account == NULL || *account == '\0') {
		r = ofs_err_set(err, OFS_ERR_USAGE, "contact file '%s' needs \"carrierName\" and "
		    "\"carrierAccountNumber\" for the return shipment", path);
		goto out;
	}
	cd = json_pack("{s:s, s:s, s:O}", "contactName", name, "phone", phone, "emailList",
	    emails);
	rp = json_pack("{s:s, s:s}", "carrierName", carrier, "carrierAccountNumber", account);
	json_object_set_new(details, "contactDetails", cd);
	json_object_set_new(details, "returnToCustomerPackageDetails", rp);
out:
	json_decref(c);
	return r;
}

/* What prep cannot know and the credentials say: the location, and the storage account as
 * an ARM resource id (prep writes the bare account name of the repository's destination). */
static void
fill_defaults(json_t *body, json_t *details, const struct ofs_credentials *cr)
{
	const char *loc = json_string_value(json_object_get(body, "location"));
	json_t *acct = json_object_get(json_array_get(json_object_get(details,
	    "dataImportDetails"), 0), "accountDetails");
	const char *id = json_string_value(json_object_get(acct, "storageAccountId"));
	char *full;

	if (loc == NULL || *loc == '\0')
		json_object_set_new(body, "location", json_string(cr->location));
	if (!json_is_object(acct))
		return;
	if (id == NULL || *id == '\0') {
		json_object_set_new(acct, "storageAccountId", json_string(cr->storage_account_id));
		return;
	}
	if (strchr(id, '/') != NULL)
		full = ofs_xstrdup(id);
	else
		full = ofs_xasprintf("/subscriptions/%s/resourceGroups/%s/providers/"
		    "Microsoft.Storage/storageAccounts/%s", cr->subscription, cr->resource_group, id);
	if (strcmp(full, cr->storage_account_id) != 0)
		ofs_warn("the job draft imports into storage account '%s', the credentials are for "
		    "'%s'", full, cr->storage_account_id);
	json_object_set_new(acct, "storageAccountId", json_string(full));
	free(full);
}

static int
create(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "draft", required_argument, NULL, 'd' },
		{ "contact", required_argument, NULL, 'c' },
		SUB_OPTS_END,
	};
	const char *job = NULL, *draft = NULL, *contact = NULL;
	struct ofs_error err = { 0 };
	struct ictx c = { 0 };
	struct ofs_job j = { 0 };
	char *dpath = NULL, *dir = NULL;
	json_t *body = NULL, *props, *details;
	int ch, r, created = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': job = optarg; break;
		case 'd': draft = optarg; break;
		case 'c': contact = optarg; break;
		case 'h': return ofs_cli_usage(usage_create, 1);
		default: return ofs_cli_usage(usage_create, 0);
		}
	}
	if (optind != argc) {
		ofs_error("unexpected argument '%s'", argv[optind]);
		return ofs_cli_usage(usage_create, 0);
	}
	if ((r = job_arg(job, &err)) != 0)
		goto out;
	if ((r = ictx_open(g, 1, 1, &c, &err)) != 0)
		goto out;
	if (draft == NULL) {
		if ((dir = repo_dir(g->repo)) == NULL) {
			r = ofs_err_set(&err, OFS_ERR_USAGE, "the staging repository '%s' is not a "
			    "local folder: give the draft with --draft FILE", g->repo);
			goto out;
		}
		dpath = ofs_xasprintf("%s/jobs/%s.json", dir, job);
		draft = dpath;
	}
	if ((r = load_json_file(draft, "job draft", OFS_JOBJSON_MAX, &body, &err)) != 0)
		goto out;
	props = json_object_get(body, "properties");
	details = json_object_get(props, "details");
	if (!json_is_object(details) ||
	    !json_is_object(json_object_get(details, "importDiskDetailsCollection")) ||
	    json_object_size(json_object_get(details, "importDiskDetailsCollection")) == 0) {
		r = ofs_err_set(&err, OFS_ERR_USAGE, "job draft '%s' has no disks "
		    "(properties.details.importDiskDetailsCollection); run offseed prep first", draft);
		goto out;
	}
	if (contact != NULL && (r = add_contact(details, contact, &err)) != 0)
		goto out;
	if (!json_is_object(json_object_get(details, "contactDetails")) ||
	    !json_is_object(json_object_get(details, "returnToCustomerPackageDetails"))) {
		r = ofs_err_set(&err, OFS_ERR_USAGE, "the job needs contact and return-shipping "
		    "details: use --contact FILE");
		goto out;
	}
	fill_defaults(body, details, &c.cred);
	if ((r = ofs_jobclient_create(c.jc, job, body, &j, &created, &err)) != 0)
		goto out;
	if (created)
		ofs_result("job %s created (stage %s)\n", job, j.status);
	else
		ofs_result("job %s already exists with these details (stage %s)\n", job, j.status);
	{
		json_t *o = job_json(&j);

		json_object_set_new(o, "created", json_boolean(created));
		emit_summary("import create", o);
	}
out:
	ofs_job_release(&j);
	json_decref(body);
	free(dpath);
	free(dir);
	ictx_close(&c);
	return ofs_cli_fail(r, &err);
}

static int
ship(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "carrier", required_argument, NULL, 'c' },
		{ "tracking", required_argument, NULL, 't' },
		SUB_OPTS_END,
	};
	const char *job = NULL, *carrier = NULL, *tracking = NULL;
	struct ofs_error err = { 0 };
	struct ictx c = { 0 };
	struct ofs_job j = { 0 };
	int ch, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': job = optarg; break;
		case 'c': carrier = optarg; break;
		case 't': tracking = optarg; break;
		case 'h': return ofs_cli_usage(usage_ship, 1);
		default: return ofs_cli_usage(usage_ship, 0);
		}
	}
	if (optind != argc) {
		ofs_error("unexpected argument '%s'", argv[optind]);
		return ofs_cli_usage(usage_ship, 0);
	}
	if ((r = job_arg(job, &err)) != 0)
		goto out;
	if (carrier == NULL || *carrier == '\0' || tracking == NULL || *tracking == '\0') {
		r = ofs_err_set(&err, OFS_ERR_USAGE, "give the shipment with --carrier NAME "
		    "--tracking ID");
		goto out;
	}
	if ((r = ictx_open(g, 1, 0, &c, &err)) != 0 ||
	    (r = ofs_jobclient_ship(c.jc, job, carrier, tracking, &err)) != 0 ||
	    (r = ofs_jobclient_get(c.jc, job, &j, NULL, &err)) != 0)
		goto out;
	ofs_result("job %s: disks shipped with %s, tracking %s (stage %s)\n", job, carrier,
	    tracking, j.status);
	{
		json_t *o = job_json(&j);

		json_object_set_new(o, "carrier", json_string(carrier));
		json_object_set_new(o, "tracking_id", json_string(tracking));
		emit_summary("import ship", o);
	}
out:
	ofs_job_release(&j);
	ictx_close(&c);
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

#define OUTAGE_MAX 1800.0	/* --wait gives up after this long without an answer */

static int
status(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "interval", required_argument, NULL, 'i' },
		SUB_OPTS_END,
	};
	const char *job = NULL;
	struct ofs_error err = { 0 };
	struct ictx c = { 0 };
	struct ofs_job j = { 0 };
	double timeout = -1, interval = 30, start, down_since = -1;
	int ch, r, wait = 0, code = 0;
	char last[80] = "", stage[72] = "";

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': job = optarg; break;
		case 'w': wait = 1; break;
		case 't':
			if (parse_seconds(optarg, &timeout) != 0) {
				ofs_error("invalid --timeout '%s' (seconds)", optarg);
				return 2;
			}
			break;
		case 'i':
			if (parse_seconds(optarg, &interval) != 0 || interval < 0.1) {
				ofs_error("invalid --interval '%s' (seconds, at least 0.1)", optarg);
				return 2;
			}
			break;
		case 'h': return ofs_cli_usage(usage_status, 1);
		default: return ofs_cli_usage(usage_status, 0);
		}
	}
	if (optind != argc) {
		ofs_error("unexpected argument '%s'", argv[optind]);
		return ofs_cli_usage(usage_status, 0);
	}
	if ((!wait && timeout >= 0)) {
		ofs_error("--timeout needs --wait");
		return ofs_cli_usage(usage_status, 0);
	}
	if ((r = job_arg(job, &err)) != 0 || (r = ictx_open(g, 1, 0, &c, &err)) != 0)
		goto out;
	start = ofs_mono();
	for (;;) {
		char now[80];
		double left;

		ofs_job_release(&j);
		r = ofs_jobclient_get(c.jc, job, &j, NULL, &err);
		if (r == OFS_ERR_NETWORK && wait && stage[0] != '\0') {
			/* A wait of days outlives a short outage: keep polling for a while. */
			if (down_since < 0)
				down_since = ofs_mono();
			if (ofs_mono() - down_since > OUTAGE_MAX)
				goto out;
			ofs_warn("%s; still waiting", err.msg);
			r = 0;
		} else if (r != 0) {
			goto out;
		} else {
			down_since = -1;
			snprintf(stage, sizeof(stage), "%s", j.status);
			if (!wait || (code = final_code(&j)) >= 0)
				break;
			snprintf(now, sizeof(now), "%s %llu", j.status,
			    (unsigned long long)sum_bytes(&j, 0));
			if (strcmp(now, last) != 0) {	/* say something only when something moved */
				char done[32], total[32];

				ofs_fmt_size(sum_bytes(&j, 0), done, sizeof(done));
				ofs_fmt_size(sum_bytes(&j, 1), total, sizeof(total));
				ofs_info("job %s: %s (%s of %s copied)", job, j.status, done, total);
				ofs_emit(json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "type", "progress",
				    "command", "import status", "job", job, "stage", j.status,
				    "bytes_done", (json_int_t)sum_bytes(&j, 0), "bytes_total",
				    (json_int_t)sum_bytes(&j, 1)));
				snprintf(last, sizeof(last), "%s", now);
			}
		}
		left = timeout >= 0 ? timeout - (ofs_mono() - start) : interval;
		if (left <= 0) {
			r = ofs_err_set(&err, OFS_ERR_NETWORK, "job %s is still in stage %s after %g "
			    "seconds", job, stage, timeout);
			goto out;
		}
		/* The last sleep ends at the deadline, so a job finishing just then counts. */
		sleep_for(left < interval ? left : interval);
	}
	print_job(&j);
	{
		json_t *o = job_json(&j);

		if (wait)
			json_object_set_new(o, "exit_code", json_integer(code));
		emit_summary("import status", o);
	}
	if (code == 4)
		ofs_error("job %s ended %s: see 'offseed import logs --job %s'", job, j.status, job);
	else if (code == 1)
		ofs_error("job %s ended %s", job, j.status);
out:
	ofs_job_release(&j);
	ictx_close(&c);
	if (r != 0)
		return ofs_cli_fail(r, &err);
	return code;
}

static int
list(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = { SUB_OPTS_END };
	struct ofs_error err = { 0 };
	struct ictx c = { 0 };
	struct ofs_job *jobs = NULL;
	size_t n = 0;
	json_t *arr;
	int ch, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'h': return ofs_cli_usage(usage_list, 1);
		default: return ofs_cli_usage(usage_list, 0);
		}
	}
	if (optind != argc) {
		ofs_error("unexpected argument '%s'", argv[optind]);
		return ofs_cli_usage(usage_list, 0);
	}
	if ((r = ictx_open(g, 1, 0, &c, &err)) != 0 ||
	    (r = ofs_jobclient_list(c.jc, &jobs, &n, &err)) != 0)
		goto out;
	arr = json_array();
	if (n > 0)
		ofs_result("%-24s  %-28s  %s\n", "JOB", "STAGE", "STARTED");
	for (size_t i = 0; i < n; i++) {
		ofs_result("%-24s  %-28s  %s\n", jobs[i].name, jobs[i].status,
		    jobs[i].start_time ? jobs[i].start_time : "");
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s?}", "job", jobs[i].name,
		    "stage", jobs[i].status, "start_time", jobs[i].start_time));
	}
	if (n == 0)
		ofs_info("no jobs");
	emit_summary("import list", json_pack("{s:I, s:o}", "count", (json_int_t)n, "jobs", arr));
out:
	for (size_t i = 0; i < n; i++)
		ofs_job_release(&jobs[i]);
	free(jobs);
	ictx_close(&c);
	return ofs_cli_fail(r, &err);
}

static int
cancel(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "reason", required_argument, NULL, 'r' },
		SUB_OPTS_END,
	};
	const char *job = NULL, *reason = NULL;
	struct ofs_error err = { 0 };
	struct ictx c = { 0 };
	struct ofs_job j = { 0 };
	int ch, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': job = optarg; break;
		case 'r': reason = optarg; break;
		case 'h': return ofs_cli_usage(usage_cancel, 1);
		default: return ofs_cli_usage(usage_cancel, 0);
		}
	}
	if (optind != argc) {
		ofs_error("unexpected argument '%s'", argv[optind]);
		return ofs_cli_usage(usage_cancel, 0);
	}
	if ((r = job_arg(job, &err)) != 0)
		goto out;
	if (reason == NULL || *reason == '\0') {
		r = ofs_err_set(&err, OFS_ERR_USAGE, "give a reason with --reason TEXT");
		goto out;
	}
	if ((r = ictx_open(g, 1, 0, &c, &err)) != 0 ||
	    (r = ofs_jobclient_cancel(c.jc, job, reason, &err)) != 0 ||
	    (r = ofs_jobclient_get(c.jc, job, &j, NULL, &err)) != 0)
		goto out;
	ofs_result("job %s: %s\n", job, j.status);
	emit_summary("import cancel", job_json(&j));
out:
	ofs_job_release(&j);
	ictx_close(&c);
	return ofs_cli_fail(r, &err);
}

#define LOG_MAX (256u << 20)	/* a verbose log lists every file of a disk */

/* A file name for a downloaded log: SERIAL-KIND.json with anything odd in the serial
 * replaced, so a hostile serial cannot climb out of DIR. */
static char *
log_name(const char *dir, const char *serial, const char *kind)
{
	char *s = ofs_xstrdup(serial[0] ? serial : "disk"), *p;

	for (p = s; *p != '\0'; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '-' && *p != '_')
			*p = '_';
	p = ofs_xasprintf("%s/%s-%s.json", dir, s, kind);
	free(s);
	return p;
}

static int
logs(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "out", required_argument, NULL, 'o' },
		SUB_OPTS_END,
	};
	const char *job = NULL, *dir = ".";
	struct ofs_error err = { 0 };
	struct ictx c = { 0 };
	struct ofs_job j = { 0 };
	json_t *files = NULL, *failed = NULL;
	int ch, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': job = optarg; break;
		case 'o': dir = optarg; break;
		case 'h': return ofs_cli_usage(usage_logs, 1);
		default: return ofs_cli_usage(usage_logs, 0);
		}
	}
	if (optind != argc) {
		ofs_error("unexpected argument '%s'", argv[optind]);
		return ofs_cli_usage(usage_logs, 0);
	}
	files = json_array();
	failed = json_array();
	if ((r = job_arg(job, &err)) != 0 || (r = ictx_open(g, 1, 0, &c, &err)) != 0 ||
	    (r = ofs_jobclient_get(c.jc, job, &j, NULL, &err)) != 0)
		goto out;
	if (j.nlogs == 0) {
		r = ofs_err_set(&err, OFS_ERR_IO, "job %s has no copy logs yet (stage %s)", job,
		    j.status);
		goto out;
	}
	if ((r = ofs_mkdir_p(dir, 0755, &err)) != 0)
		goto out;
	for (size_t i = 0; i < j.nlogs; i++) {
		for (int k = 0; k < 2; k++) {
			const char *link = k == 0 ? j.logs[i].error_link : j.logs[i].verbose_link;
			struct ofs_buf b = OFS_BUF_INIT(LOG_MAX);
			struct ofs_copylog cl = { 0 };
			char *path;

			if (link == NULL)
				continue;
			path = log_name(dir, j.logs[i].serial, k == 0 ? "error" : "verbose");
			if ((r = ofs_jobclient_download(c.jc, link, &b, &err)) != 0 ||
			    (r = ofs_write_file_atomic(path, b.data, b.len, 0600, &err)) != 0) {
				ofs_err_wrap(&err, "fetching the %s log of disk %s",
				    k == 0 ? "error" : "verbose", j.logs[i].serial);
				free(path);
				ofs_buf_release(&b);
				goto out;
			}
			ofs_result("%s\n", path);
			json_array_append_new(files, json_pack("{s:s, s:s, s:s}", "serial",
			    j.logs[i].serial, "kind", k == 0 ? "error" : "verbose", "path", path));
			if (k == 0) {
				struct ofs_error perr = { 0 };

				if (ofs_jobjson_parse_copylog(b.data, b.len, path, &cl, &perr) != 0) {
					ofs_warn("%s", perr.msg);
				} else {
					for (size_t e = 0; e < cl.n; e++) {
						const struct ofs_copylog_entry *en = &cl.entries[e];
						/* as the log writes it: escaped when not plain text */
						const char *what = en->path_shown ? en->path_shown : en->blob;

						ofs_result("  disk %s: %s%s%s%s%s%s\n", j.logs[i].serial, what,
						    en->error ? ": " : "", en->error ? en->error : "",
						    en->detail && *en->detail ? " (" : "",
						    en->detail && *en->detail ? en->detail : "",
						    en->detail && *en->detail ? ")" : "");
						json_array_append_new(failed, json_pack("{s:s, s:s, s:s?, s:s?}",
						    "serial", j.logs[i].serial, "path", what, "error",
						    en->error, "detail", en->detail));
					}
					for (size_t e = 0; e < cl.nunusable; e++) {
						const struct ofs_copylog_unusable *u = &cl.unusable[e];

						ofs_warn("disk %s: an entry of the error log cannot be used: %s",
						    j.logs[i].serial, u->reason);
						json_array_append_new(failed, json_pack("{s:s, s:s?, s:s?, "
						    "s:s}", "serial", j.logs[i].serial, "path", u->shown,
						    "error", u->error, "unusable", u->reason));
					}
				}
				ofs_copylog_release(&cl);
			}
			free(path);
			ofs_buf_release(&b);
		}
	}
	{
		json_t *o = json_pack("{s:s, s:s, s:O, s:O}", "job", job, "stage", j.status,
		    "files", files, "failed_files", failed);

		emit_summary("import logs", o);
	}
out:
	json_decref(files);
	json_decref(failed);
	ofs_job_release(&j);
	ictx_close(&c);
	return ofs_cli_fail(r, &err);
}

int
cmd_import(int argc, char **argv, struct ofs_cli *g)
{
	static const struct {
		const char *name;
		ofs_cmd_fn fn;
	} subs[] = {
		{ "create", create }, { "ship", ship }, { "status", status }, { "list", list },
		{ "cancel", cancel }, { "logs", logs }, { "repair", ofs_import_repair },
	};
	char *cmd;

	if (argc < 2) {
		ofs_error("which import command? (see 'offseed import --help')");
		return ofs_cli_usage(usage_import, 0);
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return ofs_cli_usage(usage_import, 1);
	for (size_t i = 0; i < OFS_ARRAY_LEN(subs); i++) {
		if (strcmp(argv[1], subs[i].name) == 0) {
			int rc;

			cmd = ofs_xasprintf("import %s", subs[i].name);
			g->cmd = cmd;
			rc = subs[i].fn(argc - 1, argv + 1, g);
			g->cmd = NULL;
			free(cmd);
			return rc;
		}
	}
	ofs_error("unknown import command '%s' (see 'offseed import --help')", argv[1]);
	return 2;
}
