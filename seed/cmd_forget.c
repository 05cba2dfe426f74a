/* offseed forget: remove the snapshots no --keep-* rule keeps (restic semantics), then with
 * --prune drop the data only they needed. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
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
    "usage: offseed forget [--keep-last N] [--keep-daily N] [--keep-weekly N]\n"
    "                      [--keep-monthly N] [--keep-yearly N] [--prune] [--dry-run]\n"
    "\n"
    "Remove the snapshots that no rule keeps (at least one rule is required). Going from\n"
    "the newest snapshot, --keep-last keeps the N newest; --keep-daily, -weekly, -monthly,\n"
    "-yearly keep the newest snapshot of each of the N most recent days, ISO weeks, months\n"
    "or years (UTC) that have one. A snapshot is kept if any rule keeps it.\n"
    "\n"
    "  --prune     then run 'offseed prune' (remove the data no snapshot needs)\n"
    "  --dry-run   show what would be removed; change nothing\n"
    "\n"
    "With --json, one summary listing the kept and removed snapshot ids.\n";

static int
count_arg(const char *opt, const char *v, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 0 || n > INT_MAX) {
		ofs_error("invalid --%s '%s' (a count ≥ 0)", opt, v);
		return -1;
	}
	*out = (int)n;
	return 0;
}

int
cmd_forget(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "keep-last", required_argument, NULL, 'l' },
		{ "keep-daily", required_argument, NULL, 'd' },
		{ "keep-weekly", required_argument, NULL, 'w' },
		{ "keep-monthly", required_argument, NULL, 'm' },
		{ "keep-yearly", required_argument, NULL, 'y' },
		{ "prune", no_argument, NULL, 'p' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ofs_keep_policy pol = { 0, 0, 0, 0, 0 };
	struct ofs_prune_stats pst;
	struct ofs_error err = { 0 };
	struct ofs_repo *repo = NULL;
	struct ofs_lock *lock = NULL;
	struct ofs_snapshot *s = NULL;
	size_t n = 0, nkept;
	int c, li = 0, rc = 0, prune = 0, dry = 0, *keep = NULL;
	json_t *kept, *removed, *sum, *dc = NULL;

	memset(&pst, 0, sizeof(pst));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		int *dst = NULL;

		switch (c) {
		case 'l': dst = &pol.last; break;
		case 'd': dst = &pol.daily; break;
		case 'w': dst = &pol.weekly; break;
		case 'm': dst = &pol.monthly; break;
		case 'y': dst = &pol.yearly; break;
		case 'p': prune = 1; break;
		case 'n': dry = 1; break;
		case 'h': return ofs_cli_usage(usage, 1);
		default: return ofs_cli_usage(usage, 0);
		}
		if (dst != NULL && count_arg(opts[li].name, optarg, dst) != 0)
			return ofs_cli_usage(usage, 0);
	}
	if (optind != argc) {
		ofs_error("too many arguments");
		return ofs_cli_usage(usage, 0);
	}
	if (pol.last + pol.daily + pol.weekly + pol.monthly + pol.yearly == 0) {
		ofs_error("no --keep-* rule given (at least one, with N > 0)");
		return ofs_cli_usage(usage, 0);
	}
	if ((rc = ofs_cli_open_repo(g, 1, prune, &repo, &err)) != 0)
		goto out;
	if (!dry && (rc = ofs_lock_acquire(repo, "forget", &lock, &err)) != 0)
		goto out;
	if ((rc = ofs_repo_list_snapshots(repo, &s, &n, &err)) != 0)
		goto out;
	keep = ofs_xcalloc(n + 1, sizeof(int));
	nkept = ofs_forget_select(s, n, &pol, keep);
	kept = json_array();
	removed = json_array();
	for (size_t i = 0; i < n; i++) {
		char hex[2 * OFS_ID_LEN + 1], when[64], *name;

		ofs_hex(s[i].id, OFS_ID_LEN, hex);
		ofs_fmt_time(s[i].time_ns / 1000000000LL, when, sizeof(when));
		json_array_append_new(keep[i] ? kept : removed, json_string(hex));
		ofs_result("%-6s %.8s  %s\n", keep[i] ? "keep" : (dry ? "would remove" : "remove"),
		    hex, when);
		if (keep[i] || dry)
			continue;
		name = ofs_xasprintf("snapshots/%s", hex);
		rc = repo->be->ops->remove(repo->be, name, &err);
		free(name);
		if (rc != 0) {
			json_decref(kept);
			json_decref(removed);
			goto out;
		}
	}
	ofs_info("%s %zu of %zu snapshots, kept %zu", dry ? "would remove" : "removed",
	    n - nkept, n, nkept);
	sum = json_pack("{s:s, s:s, s:b, s:o, s:o}", "type", "summary", "command", "forget",
	    "dry_run", dry, "kept", kept, "removed", removed);
	if (prune) {
		dc = json_array();
		if (dry) {
			ofs_info("--dry-run: prune not run");
		} else if ((rc = ofs_prune_run(repo, 0, &pst, dc, &err)) != 0) {
			json_decref(sum);
			goto out;
		} else {
			json_t *p = ofs_prune_stats_json(&pst);

			json_object_set(p, "containers_deleted_names", dc);
			json_object_set_new(sum, "prune", p);
			ofs_result("prune: %llu packs deleted, %llu repacked, %llu containers deleted, "
			    "%llu bytes freed\n", (unsigned long long)pst.packs_deleted,
			    (unsigned long long)pst.packs_repacked,
			    (unsigned long long)pst.containers_deleted,
			    (unsigned long long)pst.bytes_deleted);
		}
	}
	if (!dry && nkept < n && (rc = ofs_staging_manifest_refresh(repo, &err)) != 0) {
		json_decref(sum);
		goto out;
	}
	ofs_emit(sum);
out:
	json_decref(dc);
	ofs_lock_release(lock);
	for (size_t i = 0; i < n; i++)
		ofs_snapshot_release(&s[i]);
	free(s);
	free(keep);
	ofs_repo_close(repo);
	return ofs_cli_fail(rc, &err);
}
