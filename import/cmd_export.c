/* offseed export: offline restore through the Data Box–style jobs API (SPEC §16) —
 * create (what a snapshot needs, as hex object names only), status [--wait], list, cancel. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "credentials.h"
#include "exportplan.h"
#include "jobclient.h"
#include "jobcmd.h"
#include "jobjson.h"
#include "render.h"
#include "setmanifest.h"
#include "util.h"

static const char usage_export[] =
    "usage: offseed export COMMAND [options]\n"
    "\n"
    "Offline restore: ask the service to write a snapshot's repository objects onto disks\n"
    "at the datacenter and ship them (a Data Box-style export job). Every command needs the\n"
    "service's credentials file (--credentials FILE or OFFSEED_CREDENTIALS) and accepts\n"
    "--json.\n"
    "\n"
    "commands:\n"
    "  create   compute what a snapshot (or some of its paths) needs and submit the job\n"
    "  status   stage, per-disk copy status, progress and manifest hash; --wait until done\n"
    "  list     the export jobs of the resource group\n"
    "  cancel   cancel a job whose disks have not reached the datacenter\n"
    "\n"
    "When the disks arrive: 'offseed verify MNT...' (compare each disk's manifest hash with\n"
    "the one 'export status' shows), then 'offseed restore --repo disks:MNT,... SNAPSHOT\n"
    "--target DIR'.\n"
    "\n"
    "Run 'offseed export COMMAND --help' for a command's options.\n";

static const char usage_create[] =
    "usage: offseed export create --job NAME --repo LOC --contact FILE [--credentials FILE]\n"
    "                             [--dry-run] [--json] SNAPSHOT[:PATH] [PATH...]\n"
    "\n"
    "Open the repository with its key (the passphrase is needed), compute exactly the\n"
    "objects SNAPSHOT (an id prefix or 'latest') needs - config, every key slot and index\n"
    "file, the snapshot, and the containers and loose packs holding its data - or, with\n"
    "PATHs (paths in the snapshot, as 'offseed restore' takes them), what those paths and\n"
    "the folders on the way to them need. Submit an export job listing them as blobs\n"
    "/CONTAINER/PREFIX/NAME of the storage account: CONTAINER/PREFIX from LOC when it is\n"
    "azure://ACCOUNT/CONTAINER[/PREFIX], else from the repository's destination (init\n"
    "--dest). Only object names (hex ids) are sent, never a file name. --contact FILE holds\n"
    "{\"contactName\", \"phone\", \"emailList\": [...], \"carrierName\",\n"
    "\"carrierAccountNumber\"} (the return shipment). Running it again with the same\n"
    "selection is safe: the service keeps one job per name. --dry-run lists the objects\n"
    "and submits nothing (no credentials needed).\n"
    "\n"
    "Exit: 0 created or already there, 1 refused (the name is taken by another job) or a\n"
    "path not in the snapshot, 2 usage (no destination, no contact), 4 the repository is\n"
    "damaged, 5 wrong passphrase or invalid/expired/foreign credentials, 7 offseed too old\n"
    "for the service, 8 service unavailable after retries.\n";

static const char usage_status[] =
    "usage: offseed export status --job NAME [--wait [--timeout S] [--interval S]] [--json]\n"
    "\n"
    "Print the export job's stage, the number of blobs it lists and, per disk, its copy\n"
    "status, progress, files in error and the SHA-256 of the offseed-manifest.json the\n"
    "service wrote on it (compare with 'offseed verify MNT'). With --wait, poll every\n"
    "--interval seconds (default 30) until a final stage, at most --timeout seconds.\n"
    "\n"
    "Exit with --wait: 0 ShippedToCustomer with every disk Completed and no file in error,\n"
    "4 CompletedWithErrors, Failed_* or shipped with errors, 1 Cancelled or Aborted, 8 when\n"
    "--timeout passes first. Without --wait: 0 whatever the stage. An import job: exit 2.\n";

static const char usage_list[] =
    "usage: offseed export list [--json]\n"
    "\n"
    "List the export jobs of the resource group: name, stage, start time ('offseed import\n"
    "list' shows every job).\n";

static const char usage_cancel[] =
    "usage: offseed export cancel --job NAME --reason TEXT [--json]\n"
    "\n"
    "Cancel the export job. The service refuses once the disks are at the datacenter\n"
    "(exit 1). An import job: exit 2.\n";

static const struct ofs_job_export_disk *
export_disk(const struct ofs_job *j, const char *serial)
{
	for (size_t i = 0; i < j->nexport_disks; i++)
		if (strcmp(j->export_disks[i].serial, serial) == 0)
			return &j->export_disks[i];
	return NULL;
}

static int
in_progress(const struct ofs_job *j, const char *serial)
{
	for (size_t i = 0; i < j->ndisks; i++)
		if (strcmp(j->disks[i].serial, serial) == 0)
			return 1;
	return 0;
}

/* The --json fields of a job: job, stage, blob_count (entries of the job's blob path list,
 * null when the answer has none), transfer_type, start_time, cancellation_reason,
 * error_code, error_message (each only when the service says), disks[] and copy_logs[]
 * {serial, error_log, verbose_log}. A disk merges copyProgress and
 * exportDiskDetailsCollection: {serial, copy_status, bytes_processed, total_bytes,
 * files_processed, total_files, files_errored (null when unknown), manifest_file,
 * manifest_hash (null until the service wrote the disk's manifest)}; a disk only the
 * collection names has copy_status and the counters null. */
static json_t *
job_json(const struct ofs_job *j)
{
	json_t *o = json_pack("{s:s, s:s, s:o}", "job", j->name, "stage", j->status,
	    "blob_count", ofs_jobcmd_count_json(j->export_blobs));
	json_t *disks = json_array();

	if (j->transfer_type != NULL)
		json_object_set_new(o, "transfer_type", json_string(j->transfer_type));
	ofs_jobcmd_json_fields(o, j);
	for (size_t i = 0; i < j->ndisks; i++) {
		const struct ofs_job_disk *d = &j->disks[i];
		const struct ofs_job_export_disk *x = export_disk(j, d->serial);
		json_t *e = ofs_jobcmd_disk_json(d);

		if (x != NULL && x->manifest_file != NULL)
			json_object_set_new(e, "manifest_file", json_string(x->manifest_file));
		if (x != NULL && x->manifest_hash != NULL)
			json_object_set_new(e, "manifest_hash", json_string(x->manifest_hash));
		json_array_append_new(disks, e);
	}
	for (size_t i = 0; i < j->nexport_disks; i++) {
		const struct ofs_job_export_disk *x = &j->export_disks[i];

		if (in_progress(j, x->serial))
			continue;
		json_array_append_new(disks, json_pack("{s:s, s:n, s:n, s:n, s:n, s:n, s:n, s:s?, "
		    "s:s?}", "serial", x->serial, "copy_status", "bytes_processed", "total_bytes",
		    "files_processed", "total_files", "files_errored", "manifest_file",
		    x->manifest_file, "manifest_hash", x->manifest_hash));
	}
	json_object_set_new(o, "disks", disks);
	json_object_set_new(o, "copy_logs", ofs_jobcmd_logs_json(j));
	return o;
}

static void
print_job(const struct ofs_job *j)
{
	char nb[32];

	ofs_jobcmd_fmt_count(j->export_blobs, nb, sizeof(nb));
	ofs_result("job %s: %s (export of %s blobs)\n", j->name,
	    j->status[0] ? j->status : "(no stage)", nb);
	ofs_jobcmd_print_problems(j);
	ofs_jobcmd_print_disks(j);
	for (size_t i = 0; i < j->nexport_disks; i++) {
		const struct ofs_job_export_disk *x = &j->export_disks[i];

		ofs_result("  disk %s manifest %s: sha256 %s\n", x->serial,
		    x->manifest_file ? x->manifest_file : "(none yet)",
		    x->manifest_hash ? x->manifest_hash : "(not yet known)");
	}
	ofs_jobcmd_print_links(j);
}

/* ---- create ---- */

/* Container and prefix of the blobs: an azure:// LOC names them itself; any other
 * location takes the repository's destination. Owned strings. */
static int
blob_home(const char *loc, const struct ofs_repo *repo, char **account, char **container,
    char **prefix, struct ofs_error *err)
{
	const char *dest = loc;
	int r;

	if (strncmp(loc, "azure://", 8) != 0) {
		dest = repo->cfg.destination;
		if (dest == NULL || *dest == '\0')
			return ofs_err_set(err, OFS_ERR_USAGE, "repository '%s' has no destination "
			    "(init --dest azure://ACCOUNT/CONTAINER[/PREFIX]): export cannot name its "
			    "blobs in the storage account; give the cloud repository with --repo "
			    "azure://ACCOUNT/CONTAINER[/PREFIX]", loc);
	}
	if ((r = ofs_dest_parse(dest, account, container, prefix, err)) != 0)
		ofs_err_wrap(err, "the export needs azure://ACCOUNT/CONTAINER[/PREFIX]");
	return r;
}

struct create_args {
	const char *job, *contact, *spec;
	const char **paths;
	size_t npaths;
	int dry_run;
	char *snap_spec;	/* owned: spec without ":PATH" */
};

static int
create_args(int argc, char **argv, struct create_args *a, struct ofs_error *err)
{
	static const struct option opts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "contact", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		OFS_JOBCMD_OPTS_END,
	};
	char *colon;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': a->job = optarg; break;
		case 'c': a->contact = optarg; break;
		case 'n': a->dry_run = 1; break;
		case 'h': return 1;
		default: return 2;	/* getopt said why */
		}
	}
	if ((!a->dry_run || a->job != NULL) && ofs_jobcmd_job_arg(a->job, err) != 0)
		return OFS_ERR_USAGE;
	if (optind >= argc)
		return ofs_err_set(err, OFS_ERR_USAGE, "no snapshot given: SNAPSHOT (an id prefix "
		    "or 'latest') [PATH...]");
	if (!a->dry_run && (a->contact == NULL || *a->contact == '\0'))
		return ofs_err_set(err, OFS_ERR_USAGE, "the job needs contact and return-shipping "
		    "details: use --contact FILE");
	a->spec = argv[optind++];
	a->snap_spec = ofs_xstrdup(a->spec);
	a->paths = ofs_xcalloc((size_t)(argc - optind) + 2, sizeof(*a->paths));
	if ((colon = strchr(a->snap_spec, ':')) != NULL) {
		*colon = '\0';
		a->paths[a->npaths++] = colon + 1;
	}
	while (optind < argc)
		a->paths[a->npaths++] = argv[optind++];
	return 0;
}

static void
plan_summary(const struct ofs_export_plan *p, char *buf, size_t n)
{
	char size[32];

	ofs_fmt_size(p->bytes, size, sizeof(size));
	snprintf(buf, n, "%zu objects (%zu containers, %zu loose packs, %zu index files, %zu key "
	    "slots), %s%s", p->n, p->ncontainers, p->nloose, p->nindex, p->nkeys, size,
	    p->nsize_unknown ? " and objects of unknown size" : "");
}

static json_t *
plan_json(const struct ofs_export_plan *p, const char *snaphex, const struct create_args *a)
{
	json_t *paths = json_array();

	for (size_t i = 0; i < a->npaths; i++) {
		char *shown = ofs_name_shown(a->paths[i]);	/* printable even when not UTF-8 */

		json_array_append_new(paths, json_string(shown));
		free(shown);
	}
	return json_pack("{s:s, s:o, s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:I}", "snapshot",
	    snaphex, "paths", paths, "objects", (json_int_t)p->n, "bytes", (json_int_t)p->bytes,
	    "bytes_exact", p->nsize_unknown == 0, "containers", (json_int_t)p->ncontainers,
	    "loose_packs", (json_int_t)p->nloose, "index_files", (json_int_t)p->nindex,
	    "key_slots", (json_int_t)p->nkeys, "blobs", (json_int_t)p->blobs);
}

static int
create(int argc, char **argv, struct ofs_cli *g)
{
	struct create_args a;
	struct ofs_error err = { 0 };
	struct ofs_export_target t;
	struct ofs_export_plan plan;
	struct ofs_snapshot snap;
	struct ofs_repo *repo = NULL;
	struct ofs_jobcmd c = { 0 };
	struct ofs_job j = { 0 };
	json_t *contact = NULL, *ret = NULL, *body = NULL, *o;
	char *account = NULL, *container = NULL, *prefix = NULL, *acct_id = NULL;
	char snaphex[2 * OFS_ID_LEN + 1], line[256];
	int r, created = 0, have_snap = 0;

	memset(&a, 0, sizeof(a));
	memset(&plan, 0, sizeof(plan));
	memset(&snap, 0, sizeof(snap));
	if ((r = create_args(argc, argv, &a, &err)) != 0) {
		free(a.snap_spec);
		free(a.paths);
		if (r == 1)
			return ofs_cli_usage(usage_create, 1);
		if (r == OFS_ERR_USAGE)
			ofs_error("%s", err.msg);
		return ofs_cli_usage(usage_create, 0);
	}
	if (!a.dry_run && ((r = ofs_job_contact_load(a.contact, &contact, &ret, &err)) != 0 ||
	    (r = ofs_jobcmd_open(g, 0, 0, &c, &err)) != 0))
		goto out;
	if ((r = ofs_cli_open_repo(g, 1, 1, &repo, &err)) != 0)
		goto out;
	if (!a.dry_run && (r = ofs_import_vault_check(repo->state_dir, g->repo, g->credentials,
	    &c.cred, 0, &err)) != 0)
		goto out;
	if ((r = blob_home(g->repo, repo, &account, &container, &prefix, &err)) != 0)
		goto out;
	if ((r = ofs_repo_find_snapshot(repo, a.snap_spec, &snap, &err)) != 0)
		goto out;
	have_snap = 1;
	ofs_hex(snap.id, OFS_ID_LEN, snaphex);
	if ((r = ofs_exportplan_build(repo, &snap, a.paths, a.npaths, &plan, &err)) != 0)
		goto out;
	if (plan.nsize_unknown > 0)
		ofs_warn("the size of %zu of the objects is unknown (first: '%s')",
		    plan.nsize_unknown, plan.first_unknown);
	plan_summary(&plan, line, sizeof(line));
	if (a.dry_run) {
		for (size_t i = 0; i < plan.n; i++)
			ofs_result("%s\n", plan.names[i]);
		ofs_info("snapshot %.8s needs %s", snaphex, line);
		o = plan_json(&plan, snaphex, &a);
		{
			json_t *names = json_array();

			for (size_t i = 0; i < plan.n; i++)
				json_array_append_new(names, json_string(plan.names[i]));
			json_object_set_new(o, "names", names);
		}
		json_object_set_new(o, "destination", prefix[0] ?
		    json_sprintf("azure://%s/%s/%s", account, container, prefix) :
		    json_sprintf("azure://%s/%s", account, container));
		ofs_jobcmd_summary("export create", o);
		goto out;
	}
	acct_id = ofs_jobcmd_account_id(&c.cred, account, "the repository's blobs are in");
	t.container = container;
	t.prefix = prefix;
	t.location = c.cred.location;
	t.storage_account_id = acct_id;
	t.contact = contact;
	t.return_package = ret;
	if ((r = ofs_exportplan_job_body(&plan, &t, &body, &err)) != 0 ||
	    (r = ofs_jobclient_create(c.jc, a.job, body, &j, &created, &err)) != 0)
		goto out;
	if (created)
		ofs_result("job %s created (stage %s): snapshot %.8s, %s\n", a.job, j.status,
		    snaphex, line);
	else
		ofs_result("job %s already exists with these details (stage %s): snapshot %.8s, "
		    "%s\n", a.job, j.status, snaphex, line);
	o = job_json(&j);
	{
		json_t *pj = plan_json(&plan, snaphex, &a);

		json_object_update(o, pj);
		json_decref(pj);
	}
	json_object_set_new(o, "created", json_boolean(created));
	ofs_jobcmd_summary("export create", o);
out:
	if (have_snap)
		ofs_snapshot_release(&snap);
	ofs_exportplan_release(&plan);
	ofs_job_release(&j);
	json_decref(body);
	json_decref(contact);
	json_decref(ret);
	free(account);
	free(container);
	free(prefix);
	free(acct_id);
	free(a.snap_spec);
	free(a.paths);
	ofs_repo_close(repo);
	ofs_jobcmd_close(&c);
	return ofs_cli_fail(r, &err);
}

/* ---- status ---- */

/* The final-stage exit code for --wait, or -1 while the job is on its way; *why says what
 * made a shipped job fail. */
static int
final_code(const struct ofs_job *j, const char **why)
{
	const char *s = j->status;

	*why = NULL;
	if (strcmp(s, "CompletedWithErrors") == 0 || strncmp(s, "Failed", 6) == 0)
		return 4;
	if (strcmp(s, "Cancelled") == 0 || strcmp(s, "Aborted") == 0)
		return 1;
	if (strcmp(s, "ShippedToCustomer") == 0 || strcmp(s, "Completed") == 0 ||
	    strcmp(s, "CompletedWithWarnings") == 0) {
		if (j->ndisks == 0) {
			*why = "the service reports no disk";
			return 4;
		}
		for (size_t i = 0; i < j->ndisks; i++) {
			if (j->disks[i].files_errored > 0) {
				*why = "some files are in error";
				return 4;
			}
			if (strcmp(j->disks[i].copy_status, "Completed") != 0) {
				*why = "a disk's copy did not complete";
				return 4;
			}
		}
		return 0;
	}
	return -1;
}

static void
failed(const struct ofs_job *j, const char *job, const char *why)
{
	ofs_error("job %s ended %s%s%s: see its copy logs ('offseed import logs --job %s')",
	    job, j->status, why ? ", but " : "", why ? why : "", job);
}

/* Export: no staging repository; only export jobs; a shipped job's outcome is in its
 * disks, and the progress line carries the service's error. */
static const struct ofs_jobcmd_kind export_kind = {
	.want_repo = 0,
	.exports_only = 1,
	.final = final_code,
	.job_json = job_json,
	.print_job = print_job,
	.failed = failed,
	.moved = "written",
	.progress_error = 1,
};

static int
status(int argc, char **argv, struct ofs_cli *g)
{
	return ofs_jobcmd_status(argc, argv, g, usage_status, &export_kind);
}

static int
list(int argc, char **argv, struct ofs_cli *g)
{
	return ofs_jobcmd_list(argc, argv, g, usage_list, &export_kind);
}

static int
cancel(int argc, char **argv, struct ofs_cli *g)
{
	return ofs_jobcmd_cancel(argc, argv, g, usage_cancel, &export_kind);
}

int
cmd_export(int argc, char **argv, struct ofs_cli *g)
{
	static const struct ofs_jobcmd_sub subs[] = {
		{ "create", create }, { "status", status }, { "list", list }, { "cancel", cancel },
	};

	return ofs_jobcmd_dispatch(argc, argv, g, "export", usage_export, subs,
	    OFS_ARRAY_LEN(subs));
}
