/* offseed snapshots: list the recovery points (id, time, host, paths, tags). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "out.h"
#include "util.h"

static const char usage[] =
    "usage: offseed snapshots\n"
    "\n"
    "List the snapshots of the repository, oldest first: id (first 8 hex digits), time\n"
    "(UTC), host, paths and tags. With --json, one summary object holding every snapshot\n"
    "with its full id, parent, seed set and statistics.\n";

static json_t *
strings(char **v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

int
cmd_snapshots(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ofs_error err = { 0 };
	struct ofs_repo *repo = NULL;
	struct ofs_snapshot *s = NULL;
	size_t n = 0;
	int c, rc;
	json_t *list;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return ofs_cli_usage(usage, 1);
		default: return ofs_cli_usage(usage, 0);
		}
	}
	if (optind != argc) {
		ofs_error("too many arguments");
		return ofs_cli_usage(usage, 0);
	}
	if ((rc = ofs_cli_open_repo(g, 1, 0, &repo, &err)) != 0)
		goto out;
	if ((rc = ofs_repo_list_snapshots(repo, &s, &n, &err)) != 0)
		goto out;
	list = json_array();
	if (n > 0)
		ofs_result("%-8s  %-20s  %-16s  %-30s  %s\n", "ID", "TIME", "HOST", "PATHS", "TAGS");
	for (size_t i = 0; i < n; i++) {
		char id[2 * OFS_ID_LEN + 1], tree[2 * OFS_ID_LEN + 1], when[64], whenns[64];
		struct ofs_buf paths = OFS_BUF_INIT(0), tags = OFS_BUF_INIT(0);
		json_t *o;

		ofs_hex(s[i].id, OFS_ID_LEN, id);
		ofs_hex(s[i].tree, OFS_ID_LEN, tree);
		ofs_fmt_time(s[i].time_ns / 1000000000LL, when, sizeof(when));
		ofs_fmt_time_ns(s[i].time_ns, whenns, sizeof(whenns));
		for (size_t k = 0; k < s[i].npaths; k++)
			ofs_buf_addf(&paths, "%s%s", k ? "," : "", s[i].paths[k]);
		for (size_t k = 0; k < s[i].ntags; k++)
			ofs_buf_addf(&tags, "%s%s", k ? "," : "", s[i].tags[k]);
		ofs_buf_cstr(&paths);
		ofs_buf_cstr(&tags);
		ofs_result("%.8s  %-20s  %-16s  %-30s  %s\n", id, when, s[i].host ? s[i].host : "",
		    paths.data ? (char *)paths.data : "", tags.data ? (char *)tags.data : "");
		o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "id", id, "time", whenns, "host", s[i].host ? s[i].host : "", "user",
		    s[i].user ? s[i].user : "", "paths", strings(s[i].paths, s[i].npaths), "tags",
		    strings(s[i].tags, s[i].ntags), "tree", tree, "files", (json_int_t)s[i].files,
		    "dirs", (json_int_t)s[i].dirs, "bytes", (json_int_t)s[i].bytes, "bytes_new",
		    (json_int_t)s[i].bytes_new, "bytes_stored", (json_int_t)s[i].bytes_stored,
		    "skipped", (json_int_t)s[i].skipped);
		if (o != NULL) {
			if (s[i].has_parent) {
				ofs_hex(s[i].parent, OFS_ID_LEN, tree);
				json_object_set_new(o, "parent", json_string(tree));
			}
			if (s[i].has_seed_set) {
				ofs_hex(s[i].seed_set, sizeof(s[i].seed_set), tree);
				json_object_set_new(o, "seed_set", json_string(tree));
			}
			if (s[i].version != NULL)
				json_object_set_new(o, "program_version", json_string(s[i].version));
			json_array_append_new(list, o);
		}
		ofs_buf_release(&paths);
		ofs_buf_release(&tags);
	}
	if (n == 0)
		ofs_info("no snapshots");
	ofs_emit(json_pack("{s:s, s:s, s:I, s:o}", "type", "summary", "command", "snapshots",
	    "count", (json_int_t)n, "snapshots", list));
out:
	for (size_t i = 0; i < n; i++)
		ofs_snapshot_release(&s[i]);
	free(s);
	ofs_repo_close(repo);
	return ofs_cli_fail(rc, &err);
}
