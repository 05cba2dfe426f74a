/* offseed snapshots: list the recovery points (id, time, host, paths, tags). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "render.h"
#include "util.h"

static const char usage[] =
    "usage: offseed snapshots\n"
    "\n"
    "List the snapshots of the repository, oldest first: id (first 8 hex digits), time\n"
    "(UTC), host, paths and tags. With --json, one summary object holding every snapshot\n"
    "with its full id, parent, seed set and statistics.\n"
    "\n"
    "In a cloud repository (azure://…), a snapshot that needs seed containers which are not\n"
    "in the storage yet (backup before the import completed) is marked \"pending seed SET\":\n"
    "restore it from the staging repo or the disks until the import is done.\n";

/* Containers the index references that the cloud storage does not hold (import pending). */
struct missing {
	char (*ctrs)[64];
	uint8_t (*sets)[OFS_SET_ID_LEN];
	size_t n, cap;
};

static int
missing_has(const struct missing *m, const struct ofs_pack_loc *loc)
{
	char cname[64];

	if (loc->kind != OFS_LOC_CONTAINER || m->n == 0)
		return 0;
	ofs_container_name(loc->set, loc->seq, cname, sizeof(cname));
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->ctrs[i], cname) == 0)
			return 1;
	return 0;
}

/* Check (Get Blob Properties) every container the index references; collect the missing. */
static int
missing_find(struct ofs_repo *repo, struct missing *m, struct ofs_error *err)
{
	char (*seen)[64] = NULL;
	size_t nseen = 0, np = ofs_blobtab_npacks(repo->idx);
	int rc = 0;

	for (size_t i = 0; i < np && rc == 0; i++) {
		const struct ofs_blobtab_pack *p = ofs_blobtab_pack(repo->idx, (uint32_t)i);
		char cname[64], *name;
		uint64_t size;
		int dup = 0;

		if (p == NULL || p->loc.kind != OFS_LOC_CONTAINER)
			continue;
		ofs_container_name(p->loc.set, p->loc.seq, cname, sizeof(cname));
		for (size_t k = 0; k < nseen && !dup; k++)
			dup = strcmp(seen[k], cname) == 0;
		if (dup)
			continue;
		seen = ofs_xreallocarray(seen, nseen + 1, sizeof(*seen));
		memcpy(seen[nseen++], cname, sizeof(cname));
		name = ofs_path_join("containers", cname);
		rc = repo->be->ops->size(repo->be, name, &size, err);
		free(name);
		if (rc != OFS_ERR_NOTFOUND)
			continue;
		rc = 0;
		if (m->n == m->cap) {
			m->cap = m->cap ? 2 * m->cap : 8;
			m->ctrs = ofs_xreallocarray(m->ctrs, m->cap, sizeof(*m->ctrs));
			m->sets = ofs_xreallocarray(m->sets, m->cap, sizeof(*m->sets));
		}
		memcpy(m->ctrs[m->n], cname, sizeof(cname));
		memcpy(m->sets[m->n++], p->loc.set, OFS_SET_ID_LEN);
	}
	free(seen);
	return rc;
}

/* Does the tree id (or anything below it) use a missing container? Sets *set to its seed set.
 * Returns 1 pending, 0 not, or an error code (a tree that cannot be read for another
 * reason). depth bounds the recursion like restore does. */
static int
tree_pending(struct ofs_repo *repo, const struct missing *m, const uint8_t id[OFS_ID_LEN],
    int depth, uint8_t set[OFS_SET_ID_LEN], struct ofs_error *err)
{
	struct ofs_blob_ref ref;
	struct ofs_tree_reader *rd = NULL;
	struct ofs_node n;
	int rc, found = 0;

	memset(&n, 0, sizeof(n));
	if (depth > 4096)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "directory tree nested too deeply");
	if (ofs_blobtab_lookup(repo->idx, id, &ref) &&
	    missing_has(m, &ofs_blobtab_pack(repo->idx, ref.pack)->loc)) {
		memcpy(set, ofs_blobtab_pack(repo->idx, ref.pack)->loc.set, OFS_SET_ID_LEN);
		return 1;
	}
	if ((rc = ofs_repo_open_tree(repo, repo->ctx, id, &rd, err)) != 0)
		return rc;
	while (!found) {
		const struct ofs_node *nd = &n;

		ofs_node_release(&n);	/* the previous one */
		if ((rc = ofs_tree_reader_next(rd, &n, err)) <= 0)
			break;
		rc = 0;

		for (size_t c = 0; c < nd->nchunks && !found; c++) {
			const struct ofs_blobtab_pack *p;

			if (!ofs_blobtab_lookup(repo->idx, nd->chunks[c], &ref))
				continue;	/* damage is check's business */
			p = ofs_blobtab_pack(repo->idx, ref.pack);
			if (missing_has(m, &p->loc)) {
				memcpy(set, p->loc.set, OFS_SET_ID_LEN);
				found = 1;
			}
		}
		if (!found && nd->has_subtree) {
			if ((rc = tree_pending(repo, m, nd->subtree, depth + 1, set, err)) < 0)
				break;
			found = rc == 1;
			rc = 0;
		}
	}
	ofs_node_release(&n);
	ofs_tree_reader_free(rd);
	return rc < 0 ? rc : found;
}

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
	struct missing miss = { NULL, NULL, 0, 0 };
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
	if (n > 0 && strncmp(repo->be->loc, "azure://", 8) == 0 &&
	    ((rc = ofs_repo_load_index(repo, &err)) != 0 ||
	    (rc = missing_find(repo, &miss, &err)) != 0))
		goto out;
	list = json_array();
	if (n > 0)
		ofs_result("%-8s  %-20s  %-16s  %-30s  %s\n", "ID", "TIME", "HOST", "PATHS", "TAGS");
	for (size_t i = 0; i < n; i++) {
		char id[2 * OFS_ID_LEN + 1], tree[2 * OFS_ID_LEN + 1], when[64], whenns[64];
		struct ofs_buf paths = OFS_BUF_INIT(0), tags = OFS_BUF_INIT(0);
		uint8_t pset[OFS_SET_ID_LEN];
		char psethex[2 * OFS_SET_ID_LEN + 1] = "";
		int pending = 0;
		json_t *o;

		if (miss.n > 0 && s[i].has_seed_set) {
			for (size_t k = 0; k < miss.n && !pending; k++)
				pending = memcmp(miss.sets[k], s[i].seed_set, OFS_SET_ID_LEN) == 0;
			if (pending)
				memcpy(pset, s[i].seed_set, OFS_SET_ID_LEN);
		}
		if (miss.n > 0 && !pending) {
			pending = tree_pending(repo, &miss, s[i].tree, 0, pset, &err);
			if (pending == OFS_ERR_PENDING || pending == OFS_ERR_UNAVAILABLE) {
				/* a tree in a missing container: report its set from the error */
				memcpy(pset, miss.sets[0], OFS_SET_ID_LEN);
				pending = 1;
			} else if (pending < 0) {
				rc = pending;
				goto out;
			}
		}
		if (pending)
			ofs_hex(pset, OFS_SET_ID_LEN, psethex);

		ofs_hex(s[i].id, OFS_ID_LEN, id);
		ofs_hex(s[i].tree, OFS_ID_LEN, tree);
		ofs_fmt_time(s[i].time_ns / 1000000000LL, when, sizeof(when));
		ofs_fmt_time_ns(s[i].time_ns, whenns, sizeof(whenns));
		for (size_t k = 0; k < s[i].npaths; k++)
			ofs_buf_putf(&paths, "%s%s", k ? "," : "", s[i].paths[k]);
		for (size_t k = 0; k < s[i].ntags; k++)
			ofs_buf_putf(&tags, "%s%s", k ? "," : "", s[i].tags[k]);
		if (ofs_buf_cstr(&paths) != 0 || ofs_buf_cstr(&tags) != 0)
			abort();	/* unbounded: only past SIZE_MAX, like running out of memory */
		ofs_result("%.8s  %-20s  %-16s  %-30s  %s%s%s\n", id, when,
		    s[i].host ? s[i].host : "", paths.data ? (char *)paths.data : "",
		    tags.data ? (char *)tags.data : "", pending ? "  pending seed " : "", psethex);
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
			if (pending)
				json_object_set_new(o, "pending_seed", json_string(psethex));
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
	free(miss.ctrs);
	free(miss.sets);
	ofs_repo_close(repo);
	return ofs_cli_fail(rc, &err);
}
