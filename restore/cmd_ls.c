/* offseed ls: list a snapshot's tree (or the part below PATH), one line per entry. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "render.h"
#include "util.h"

static const char usage[] =
    "usage: offseed ls SNAP [PATH]\n"
    "\n"
    "List the entries of snapshot SNAP (an id prefix or 'latest'), recursively, below PATH\n"
    "(default: everything): mode, user, group, size, mtime (UTC), path. With --json, one\n"
    "summary object whose \"entries\" array holds one object per entry.\n";

struct ls {
	struct ofs_repo *repo;
	struct ofs_buf path;
	uint64_t n;
	int depth;
	json_t *entries;	/* --json: collected into the one summary object (SPEC 4.3) */
};

static void
mode_string(const struct ofs_node *n, char out[11])
{
	static const char types[] = "?-dlpcbs";
	uint32_t m = n->mode;

	out[0] = n->type >= OFS_NODE_FILE && n->type <= OFS_NODE_SOCK ? types[n->type] : '?';
	out[1] = m & 0400 ? 'r' : '-';
	out[2] = m & 0200 ? 'w' : '-';
	out[3] = m & 04000 ? (m & 0100 ? 's' : 'S') : (m & 0100 ? 'x' : '-');
	out[4] = m & 040 ? 'r' : '-';
	out[5] = m & 020 ? 'w' : '-';
	out[6] = m & 02000 ? (m & 010 ? 's' : 'S') : (m & 010 ? 'x' : '-');
	out[7] = m & 04 ? 'r' : '-';
	out[8] = m & 02 ? 'w' : '-';
	out[9] = m & 01000 ? (m & 01 ? 't' : 'T') : (m & 01 ? 'x' : '-');
	out[10] = '\0';
}

/* Bytes for a human line: UTF-8 as is, other bytes and controls as \xNN. */
static void
add_display(struct ofs_buf *b, const uint8_t *p, size_t n)
{
	int utf8 = ofs_text_utf8_ok(p, n);

	for (size_t i = 0; i < n; i++) {
		if (ofs_text_is_control(p[i]) || (!utf8 && p[i] >= 0x80))
			ofs_buf_putf(b, "\\x%02x", p[i]);
		else
			ofs_buf_putc(b, p[i]);
	}
}

static void
set_bytes(json_t *o, const char *key, const char *key64, const uint8_t *p, size_t n)
{
	char *s;

	if (ofs_text_utf8_ok(p, n)) {
		json_object_set_new(o, key, json_stringn((const char *)p, n));
	} else {
		s = ofs_b64_encode(p, n);
		json_object_set_new(o, key64, json_string(s));
		free(s);
	}
}

/* Returns 0, or OFS_ERR_LIMIT (line and path are unbounded: only past SIZE_MAX). */
static int
print_entry(struct ls *L, const struct ofs_node *n, struct ofs_error *err)
{
	struct ofs_buf line = OFS_BUF_INIT(0);
	int r;
	char mode[11], when[32], uid[16], gid[16];
	json_t *o;

	L->n++;
	if (ofs_out_is_json()) {
		o = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I}",
		    "node_type", ofs_node_type_name(n->type), "mode", (int)n->mode, "uid",
		    (json_int_t)n->uid, "gid", (json_int_t)n->gid, "size", (json_int_t)n->size,
		    "mtime", (json_int_t)n->mtime_ns, "links", (json_int_t)n->nlink);
		set_bytes(o, "path", "path_b64", L->path.data, L->path.len);
		if (n->user != NULL)
			json_object_set_new(o, "user", json_string(n->user));
		if (n->group != NULL)
			json_object_set_new(o, "group", json_string(n->group));
		if (n->type == OFS_NODE_SYMLINK)
			set_bytes(o, "target", "target_b64", n->target, n->targetlen);
		if (L->entries == NULL)
			L->entries = json_array();
		json_array_append_new(L->entries, o);
		return ofs_buf_check(&L->path) != 0 ? ofs_err_set(err, OFS_ERR_LIMIT, "a path in "
		    "the snapshot is too long") : 0;
	}
	mode_string(n, mode);
	ofs_fmt_time(n->mtime_ns >= 0 ? n->mtime_ns / 1000000000LL :
	    (n->mtime_ns - 999999999LL) / 1000000000LL, when, sizeof(when));
	snprintf(uid, sizeof(uid), "%u", n->uid);
	snprintf(gid, sizeof(gid), "%u", n->gid);
	ofs_buf_putf(&line, "%s %-8s %-8s %12llu %s ", mode, n->user ? n->user : uid,
	    n->group ? n->group : gid, (unsigned long long)n->size, when);
	add_display(&line, L->path.data, L->path.len);
	if (n->type == OFS_NODE_SYMLINK) {
		ofs_buf_puts(&line, " -> ");
		add_display(&line, n->target, n->targetlen);
	}
	if ((r = ofs_buf_check(&L->path)) != 0 || (r = ofs_buf_cstr(&line)) != 0)
		r = ofs_err_set(err, r, "a path in the snapshot is too long");
	else
		ofs_result("%s\n", (char *)line.data);
	ofs_buf_release(&line);
	return r;
}

static int
list_tree(struct ls *L, const uint8_t id[OFS_ID_LEN], struct ofs_error *err)
{
	struct ofs_tree_reader *rd = NULL;
	struct ofs_node n;
	size_t base = L->path.len;
	int r, k;

	if (++L->depth > 4096)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "snapshot tree is nested too deeply");
	/* one node at a time: a directory of millions of entries is never held whole */
	if ((r = ofs_repo_open_tree(L->repo, NULL, id, &rd, err)) != 0)
		return r;
	while (r == 0 && (k = ofs_tree_reader_next(rd, &n, err)) != 0) {
		if (k < 0) {
			r = k;
			break;
		}
		ofs_buf_truncate(&L->path, base);
		ofs_buf_putc(&L->path, '/');	/* checked in print_entry */
		ofs_buf_put(&L->path, n.name, n.namelen);
		r = print_entry(L, &n, err);
		if (r == 0 && n.type == OFS_NODE_DIR)
			r = list_tree(L, n.subtree, err);
		ofs_node_release(&n);
	}
	ofs_buf_truncate(&L->path, base);
	L->depth--;
	ofs_tree_reader_free(rd);
	return r;
}

int
cmd_ls(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ofs_error err = { 0 };
	struct ofs_snapshot snap;
	struct ls L;
	uint8_t cur[OFS_ID_LEN];
	char idhex[2 * OFS_ID_LEN + 1], *copy = NULL, *comp, *save = NULL;
	const char *sub = "";
	int c, rc = 0, have = 0, isdir = 1;
	struct ofs_node found;

	memset(&L, 0, sizeof(L));
	memset(&found, 0, sizeof(found));
	ofs_buf_init(&L.path, 0);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return ofs_cli_usage(usage, 1);
		default: return ofs_cli_usage(usage, 0);
		}
	}
	if (optind >= argc || argc - optind > 2) {
		ofs_error(optind >= argc ? "no snapshot given" : "too many arguments");
		return ofs_cli_usage(usage, 0);
	}
	if (argc - optind == 2)
		sub = argv[optind + 1];
	if ((rc = ofs_cli_open_repo(g, 1, 1, &L.repo, &err)) != 0)
		goto out;
	if ((rc = ofs_repo_find_snapshot(L.repo, argv[optind], &snap, &err)) != 0)
		goto out;
	have = 1;
	ofs_hex(snap.id, OFS_ID_LEN, idhex);
	memcpy(cur, snap.tree, OFS_ID_LEN);
	copy = ofs_xstrdup(sub);
	for (comp = strtok_r(copy, "/", &save); comp != NULL; comp = strtok_r(NULL, "/", &save)) {
		struct ofs_tree_reader *rd = NULL;

		if (!isdir) {
			rc = ofs_err_set(&err, OFS_ERR_NOTFOUND, "'%s' is not in snapshot %.8s", sub,
			    idhex);
			goto out;
		}
		if ((rc = ofs_repo_open_tree(L.repo, NULL, cur, &rd, &err)) != 0)
			goto out;
		ofs_node_release(&found);
		rc = ofs_tree_reader_find(rd, (const uint8_t *)comp, strlen(comp), &found, &err);
		ofs_tree_reader_free(rd);
		if (rc < 0)
			goto out;
		if (rc == 0) {
			rc = ofs_err_set(&err, OFS_ERR_NOTFOUND, "'%s' is not in snapshot %.8s", sub,
			    idhex);
			goto out;
		}
		rc = 0;
		ofs_buf_putc(&L.path, '/');	/* checked in print_entry */
		ofs_buf_puts(&L.path, comp);
		isdir = found.type == OFS_NODE_DIR;
		if (isdir)
			memcpy(cur, found.subtree, OFS_ID_LEN);
	}
	if (found.type != 0 && (rc = print_entry(&L, &found, &err)) != 0)
		goto out;
	if (isdir && (rc = list_tree(&L, cur, &err)) != 0)
		goto out;
	ofs_emit(json_pack("{s:s, s:s, s:s, s:I, s:o}", "type", "summary", "command", "ls",
	    "snapshot", idhex, "count", (json_int_t)L.n, "entries",
	    L.entries ? L.entries : json_array()));
	L.entries = NULL;	/* transferred */
out:
	ofs_node_release(&found);
	if (have)
		ofs_snapshot_release(&snap);
	ofs_repo_close(L.repo);
	ofs_buf_release(&L.path);
	json_decref(L.entries);
	free(copy);
	return ofs_cli_fail(rc, &err);
}
