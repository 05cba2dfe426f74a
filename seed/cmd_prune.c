/* offseed prune: remove the data no snapshot needs (retention.c does the work). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lock.h"
#include "render.h"
#include "retention.h"
#include "stage.h"
#include "util.h"

static const char usage[] =
    "usage: offseed prune [--dry-run]\n"
    "\n"
    "Mark every blob the snapshots reach; delete loose packs that hold none of them and\n"
    "repack loose packs less than half used (new packs and a new index are written before\n"
    "anything is deleted). Sealed containers are never rewritten: a container none of whose\n"
    "blobs is used is deleted; otherwise its unused bytes are reported as reclaimable.\n"
    "\n"
    "  --dry-run   report what would happen; change nothing\n";

int
cmd_prune(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ofs_prune_stats st;
	struct ofs_error err = { 0 };
	struct ofs_repo *repo = NULL;
	struct ofs_lock *lock = NULL;
	int c, rc = 0, dry = 0;
	json_t *dc = json_array(), *o;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': dry = 1; break;
		case 'h': rc = ofs_cli_usage(usage, 1); goto done;
		default: rc = ofs_cli_usage(usage, 0); goto done;
		}
	}
	if (optind != argc) {
		ofs_error("too many arguments");
		rc = ofs_cli_usage(usage, 0);
		goto done;
	}
	if ((rc = ofs_cli_open_repo(g, 1, 1, &repo, &err)) != 0)
		goto out;
	if (!dry && (rc = ofs_lock_acquire(repo, "prune", &lock, &err)) != 0)
		goto out;
	if ((rc = ofs_prune_run(repo, dry, &st, dc, &err)) != 0 ||
	    (!dry && (rc = ofs_staging_manifest_refresh(repo, &err)) != 0))
		goto out;
	for (size_t i = 0; i < json_array_size(dc); i++)
		ofs_result("%s container %s (no used blob)\n", dry ? "would delete" : "deleted",
		    json_string_value(json_array_get(dc, i)));
	ofs_result("%s%llu blobs used, %llu unused; %llu loose packs deleted, %llu repacked into "
	    "%llu; %llu containers deleted, %llu kept with %llu bytes reclaimable; %llu bytes "
	    "freed\n", dry ? "dry run: " : "", (unsigned long long)st.blobs_used,
	    (unsigned long long)st.blobs_unused, (unsigned long long)st.packs_deleted,
	    (unsigned long long)st.packs_repacked, (unsigned long long)st.packs_written,
	    (unsigned long long)st.containers_deleted, (unsigned long long)st.containers_kept,
	    (unsigned long long)st.container_bytes_reclaimable,
	    (unsigned long long)st.bytes_deleted);
	o = ofs_prune_stats_json(&st);
	json_object_set_new(o, "type", json_string("summary"));
	json_object_set_new(o, "command", json_string("prune"));
	json_object_set_new(o, "dry_run", json_boolean(dry));
	json_object_set(o, "containers_deleted_names", dc);
	ofs_emit(o);
out:
	rc = ofs_cli_fail(rc, &err);
done:
	json_decref(dc);
	ofs_lock_release(lock);
	ofs_repo_close(repo);
	return rc;
}
