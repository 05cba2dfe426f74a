/* offseed import repair: re-upload the files a job's error logs name, from the staging
 * repository straight to the storage account the job imports into (a file: folder or
 * Azure Blob), then read each one back and check it against the staging manifest. The
 * command parses, sets up and reports; the work is engine/repair.c. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "import.h"
#include "manifest.h"
#include "repair.h"
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

/* One run of the command: its options, what it opened, and the report being built. */
struct repair_cmd {
	const char *job, *storage_opt;
	char *dir, *mpath, *loc;	/* staging folder, its manifest, the storage location */
	struct ofs_credentials cred;
	struct ofs_jobclient *jc;
	struct ofs_repo *repo;
	struct ofs_manifest *m;
	struct ofs_job j;
	struct ofs_repair_list list;
	size_t ok, bad;
	json_t *done, *failed;		/* --json: the files repaired, and the problems */
};

/* Parse argv. Returns -1 to go on, else the exit code (already reported). */
static int
parse_args(int argc, char **argv, struct repair_cmd *c)
{
	static const struct option opts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "storage", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': c->job = optarg; break;
		case 's': c->storage_opt = optarg; break;
		case 'h': return ofs_cli_usage(usage, 1);
		default: return ofs_cli_usage(usage, 0);
		}
	}
	if (optind != argc) {
		ofs_error("unexpected argument '%s'", argv[optind]);
		return ofs_cli_usage(usage, 0);
	}
	return -1;
}

/* The staging repository (vault checked), its manifest, and the job. */
static int
set_up(struct repair_cmd *c, const struct ofs_cli *g, struct ofs_error *err)
{
	int r;

	if (c->job == NULL || !ofs_job_name_ok(c->job))
		return ofs_err_set(err, OFS_ERR_USAGE, c->job == NULL ? "no job given: use --job "
		    "NAME" : "invalid job name '%s'", c->job);
	if (g->repo == NULL)
		return ofs_err_set(err, OFS_ERR_USAGE, "no staging repository given: use --repo "
		    "STAGING");
	if ((c->dir = local_dir(g->repo)) == NULL)
		return ofs_err_set(err, OFS_ERR_USAGE, "the staging repository '%s' must be a "
		    "local folder", g->repo);
	if ((r = ofs_import_credentials_load(g->credentials, &c->cred, err)) != 0 ||
	    (r = ofs_repo_open(g->repo, g->state, &c->repo, err)) != 0 ||
	    (r = ofs_import_vault_check(c->repo->state_dir, g->repo, g->credentials, &c->cred, 0,
	    err)) != 0)
		return r;
	c->mpath = ofs_path_join(c->dir, OFS_MANIFEST_NAME);
	if ((r = ofs_manifest_load(c->mpath, &c->m, err)) != 0)
		return r;
	if ((r = ofs_jobclient_new(&c->cred, &c->jc, err)) != 0)
		return r;
	return ofs_jobclient_get(c->jc, c->job, &c->j, NULL, err);
}

static void
on_note(const struct ofs_repair_note *n, void *arg)
{
	struct repair_cmd *c = arg;
	const struct ofs_copylog_entry *e = n->entry;
	const struct ofs_copylog_unusable *u = n->unusable;

	switch (n->kind) {
	case OFS_REPAIR_IGNORED:
		ofs_verbose("disk %s: '%s' is not in the disk's manifest; ignored", n->serial,
		    e->path_shown ? e->path_shown : "?");
		break;
	case OFS_REPAIR_WHOLE_DISK:
		ofs_error("disk %s was not imported (%s%s%s): its files are not listed, so repair "
		    "cannot upload them; ship the disk again", n->serial, e->error ? e->error :
		    "error", e->detail ? ": " : "", e->detail ? e->detail : "");
		json_array_append_new(c->failed, json_pack("{s:s, s:s?, s:s?}", "serial",
		    n->serial, "path", e->path_shown, "message",
		    "the whole disk was not imported"));
		break;
	case OFS_REPAIR_IGNORED_UNREADABLE:
		ofs_verbose("disk %s: an unlisted file's entry cannot be read (%s); ignored",
		    n->serial, u->reason);
		break;
	case OFS_REPAIR_UNUSABLE:
		ofs_error("disk %s: an entry of the error log cannot be used (%s): its file is not "
		    "repaired", n->serial, u->reason);
		json_array_append_new(c->failed, json_pack("{s:s, s:s?, s:s?, s:s}", "serial",
		    n->serial, "path", u->shown, "error", u->error, "message", u->reason));
		break;
	}
}

static void
on_file(const struct ofs_repair_file *t, int r, uint64_t size, const uint8_t xxh[OFS_XXH_LEN],
    const struct ofs_error *ferr, void *arg)
{
	struct repair_cmd *c = arg;
	char fh[2 * OFS_XXH_LEN + 1];

	if (r != 0) {
		ofs_error("cannot repair %s: %s", t->shown, ferr->msg);
		json_array_append_new(c->failed, json_pack("{s:s, s:s, s:s, s:s}", "serial",
		    t->serial, "container", t->shown_container, "blob", t->shown_blob,
		    "message", ferr->msg));
		return;
	}
	ofs_hex(xxh, OFS_XXH_LEN, fh);
	ofs_result("repaired %s from %s (%llu bytes, XXH3-128 %s matches the manifest)\n",
	    t->shown, t->mf->path, (unsigned long long)size, fh);
	json_array_append_new(c->done, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}",
	    "serial", t->serial, "container", t->shown_container, "blob", t->shown_blob,
	    "blob_type", t->page ? "PageBlob" : "BlockBlob", "source", t->mf->path,
	    "size", (json_int_t)size, "xxh128", fh));
}

/* Collect the files the error logs name and repair them. Returns 0 or an OFS_ERR_* with
 * err; *report says whether the summary is due (the run got as far as the logs). */
static int
run(struct repair_cmd *c, struct ofs_error *err, int *report)
{
	struct ofs_repair_cb cb = { on_note, on_file, c };
	struct ofs_repair_store *st = NULL;
	const struct ofs_repair_list *l = &c->list;
	int r;

	*report = 0;
	if ((r = ofs_repair_collect(c->jc, &c->j, c->m, &cb, &c->list, err)) != 0)
		return r;
	*report = 1;
	if (l->n == 0) {
		if (l->unusable > 0)
			return ofs_err_set(err, OFS_ERR_CORRUPT, "job %s: %zu error-log entries "
			    "could not be used; nothing repaired", c->job, l->unusable);
		if (l->whole > 0)
			return ofs_err_set(err, OFS_ERR_CORRUPT, "job %s: %zu disk(s) were not "
			    "imported at all; nothing repaired", c->job, l->whole);
		ofs_info("job %s: the error logs name no files; nothing to repair (stage %s)",
		    c->job, c->j.status);
		return 0;
	}
	*report = 0;
	if ((c->loc = ofs_repair_storage_loc(c->storage_opt, &c->cred, &c->j)) == NULL)
		return ofs_err_set(err, OFS_ERR_USAGE, "cannot tell where job %s imports to: give "
		    "--storage file:DIR or azure://ACCOUNT", c->job);
	if ((r = ofs_repair_store_open(c->loc, &st, err)) != 0)
		goto out;
	*report = 1;
	r = ofs_repair_run(st, c->dir, c->mpath, l, &cb, &c->ok, &c->bad);
	if (c->bad > 0)
		ofs_err_set(err, r, "job %s: %zu of %zu files could not be repaired%s", c->job,
		    c->bad, l->n, l->unusable > 0 ? ", and some error-log entries could not be "
		    "used" : "");
	else if (l->unusable > 0)
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "job %s: %zu files repaired, but %zu "
		    "error-log entries could not be used", c->job, c->ok, l->unusable);
	else if (l->whole > 0)
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "job %s: %zu files repaired, but %zu "
		    "disk(s) were not imported at all", c->job, c->ok, l->whole);
out:
	ofs_repair_store_free(st);
	return r;
}

int
ofs_import_repair(int argc, char **argv, struct ofs_cli *g)
{
	struct repair_cmd c;
	struct ofs_error err = { 0 };
	int r, report = 0;

	memset(&c, 0, sizeof(c));
	c.done = json_array();
	c.failed = json_array();
	if ((r = parse_args(argc, argv, &c)) >= 0)
		goto done;
	if ((r = set_up(&c, g, &err)) == 0)
		r = run(&c, &err, &report);
	if (report) {
		ofs_emit(json_pack("{s:s, s:s, s:s, s:s?, s:I, s:I, s:I, s:I, s:O, s:O}", "type",
		    "summary", "command", "import repair", "job", c.job, "storage", c.loc,
		    "repaired", (json_int_t)c.ok, "failed", (json_int_t)c.bad,
		    "disks_not_imported", (json_int_t)c.list.whole,
		    "entries_unusable", (json_int_t)c.list.unusable, "files", c.done,
		    "failed_files", c.failed));
		if (r != 0 && g->json) {
			/* The summary is the one object on stdout; the message goes to stderr
			 * only. */
			ofs_error("%s", err.msg);
			r = ofs_exit_code(r);
			goto done;
		}
	}
	r = ofs_cli_fail(r, &err);
done:
	ofs_repair_list_release(&c.list);
	json_decref(c.done);
	json_decref(c.failed);
	ofs_job_release(&c.j);
	ofs_jobclient_free(c.jc);
	ofs_manifest_free(c.m);
	ofs_repo_close(c.repo);
	ofs_credentials_release(&c.cred);
	free(c.loc);
	free(c.mpath);
	free(c.dir);
	return r;
}
