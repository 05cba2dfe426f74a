/* offseed import: the Data Box–style job client (SPEC §9) — create, ship, status [--wait],
 * list, cancel, logs; repair lives in import/cmd_repair.c over engine/repair.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli.h"
#include "import.h"
#include "jobcmd.h"
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

/* The final-stage exit code for --wait, or -1 while the job is still on its way; import
 * says no more than the stage (why stays NULL). */
static int
final_code(const struct ofs_job *j, const char **why)
{
	const char *s = j->status;

	*why = NULL;
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

/* The --json fields of an import job: job, stage, start_time, cancellation_reason,
 * error_code, error_message (each only when the service says), disks[] and copy_logs[]. */
static json_t *
job_json(const struct ofs_job *j)
{
	json_t *o = json_pack("{s:s, s:s}", "job", j->name, "stage", j->status);
	json_t *disks = json_array();

	ofs_jobcmd_json_fields(o, j);
	for (size_t i = 0; i < j->ndisks; i++)
		json_array_append_new(disks, ofs_jobcmd_disk_json(&j->disks[i]));
	json_object_set_new(o, "disks", disks);
	json_object_set_new(o, "copy_logs", ofs_jobcmd_logs_json(j));
	return o;
}

static void
print_job(const struct ofs_job *j)
{
	ofs_result("job %s: %s\n", j->name, j->status[0] ? j->status : "(no stage)");
	ofs_jobcmd_print_problems(j);
	ofs_jobcmd_print_disks(j);
	ofs_jobcmd_print_links(j);	/* 'import logs' fetches them */
}

static void
failed(const struct ofs_job *j, const char *job, const char *why)
{
	ofs_error("job %s ended %s: see 'offseed import logs --job %s'", job, j->status, job);
}

/* Import: a given --repo's vault is checked; the progress of the copy; every job. */
static const struct ofs_jobcmd_kind import_kind = {
	.want_repo = 1,
	.exports_only = 0,
	.final = final_code,
	.job_json = job_json,
	.print_job = print_job,
	.failed = failed,
	.moved = "copied",
	.progress_error = 0,
};

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
	json_t *cd, *rp;
	int r;

	if ((r = ofs_job_contact_load(path, &cd, &rp, err)) != 0)
		return r;
	json_object_set_new(details, "contactDetails", cd);
	json_object_set_new(details, "returnToCustomerPackageDetails", rp);
	return 0;
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
	full = ofs_jobcmd_account_id(cr, id, "the job draft imports into");
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
		OFS_JOBCMD_OPTS_END,
	};
	const char *job = NULL, *draft = NULL, *contact = NULL;
	struct ofs_error err = { 0 };
	struct ofs_jobcmd c = { 0 };
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
	if ((r = ofs_jobcmd_no_operands(argc, argv, usage_create)) != 0)
		return r;
	if ((r = ofs_jobcmd_job_arg(job, &err)) != 0)
		goto out;
	if ((r = ofs_jobcmd_open(g, 1, 1, &c, &err)) != 0)
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
	if ((r = ofs_job_file_load(draft, "job draft", OFS_JOBJSON_MAX, &body, &err)) != 0)
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
		ofs_jobcmd_summary("import create", o);
	}
out:
	ofs_job_release(&j);
	json_decref(body);
	free(dpath);
	free(dir);
	ofs_jobcmd_close(&c);
	return ofs_cli_fail(r, &err);
}

static int
ship(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "carrier", required_argument, NULL, 'c' },
		{ "tracking", required_argument, NULL, 't' },
		OFS_JOBCMD_OPTS_END,
	};
	const char *job = NULL, *carrier = NULL, *tracking = NULL;
	struct ofs_error err = { 0 };
	struct ofs_jobcmd c = { 0 };
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
	if ((r = ofs_jobcmd_no_operands(argc, argv, usage_ship)) != 0)
		return r;
	if ((r = ofs_jobcmd_job_arg(job, &err)) != 0)
		goto out;
	if (carrier == NULL || *carrier == '\0' || tracking == NULL || *tracking == '\0') {
		r = ofs_err_set(&err, OFS_ERR_USAGE, "give the shipment with --carrier NAME "
		    "--tracking ID");
		goto out;
	}
	if ((r = ofs_jobcmd_open(g, 1, 0, &c, &err)) != 0 ||
	    (r = ofs_jobclient_ship(c.jc, job, carrier, tracking, &err)) != 0 ||
	    (r = ofs_jobclient_get(c.jc, job, &j, NULL, &err)) != 0)
		goto out;
	ofs_result("job %s: disks shipped with %s, tracking %s (stage %s)\n", job, carrier,
	    tracking, j.status);
	{
		json_t *o = job_json(&j);

		json_object_set_new(o, "carrier", json_string(carrier));
		json_object_set_new(o, "tracking_id", json_string(tracking));
		ofs_jobcmd_summary("import ship", o);
	}
out:
	ofs_job_release(&j);
	ofs_jobcmd_close(&c);
	return ofs_cli_fail(r, &err);
}

static int
status(int argc, char **argv, struct ofs_cli *g)
{
	return ofs_jobcmd_status(argc, argv, g, usage_status, &import_kind);
}

static int
list(int argc, char **argv, struct ofs_cli *g)
{
	return ofs_jobcmd_list(argc, argv, g, usage_list, &import_kind);
}

static int
cancel(int argc, char **argv, struct ofs_cli *g)
{
	return ofs_jobcmd_cancel(argc, argv, g, usage_cancel, &import_kind);
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
		OFS_JOBCMD_OPTS_END,
	};
	const char *job = NULL, *dir = ".";
	struct ofs_error err = { 0 };
	struct ofs_jobcmd c = { 0 };
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
	if ((r = ofs_jobcmd_no_operands(argc, argv, usage_logs)) != 0)
		return r;
	files = json_array();
	failed = json_array();
	if ((r = ofs_jobcmd_job_arg(job, &err)) != 0 ||
	    (r = ofs_jobcmd_open(g, 1, 0, &c, &err)) != 0 ||
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

		ofs_jobcmd_summary("import logs", o);
	}
out:
	json_decref(files);
	json_decref(failed);
	ofs_job_release(&j);
	ofs_jobcmd_close(&c);
	return ofs_cli_fail(r, &err);
}

int
cmd_import(int argc, char **argv, struct ofs_cli *g)
{
	static const struct ofs_jobcmd_sub subs[] = {
		{ "create", create }, { "ship", ship }, { "status", status }, { "list", list },
		{ "cancel", cancel }, { "logs", logs }, { "repair", ofs_import_repair },
	};

	return ofs_jobcmd_dispatch(argc, argv, g, "import", usage_import, subs,
	    OFS_ARRAY_LEN(subs));
}
