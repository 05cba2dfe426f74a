/* Test helper for tests/cli/79-cloud-malicious.sh: adds a malicious snapshot to a repository
 * (tree JSON written by hand, bypassing the encoder's checks: "../" names, absolute names,
 * symlinks followed by entries through them), sealed with the repository's keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "blob.h"
#include "index.h"
#include "log.h"
#include "pack.h"
#include "repo.h"
#include "util.h"

static struct ofs_repo *R;
static struct ofs_pack_writer PW;
static json_t *file_tpl, *dir_tpl;
static json_int_t tree_version;

static void
die(const char *what, const struct ofs_error *err)
{
	fprintf(stderr, "79-craft: %s: %s\n", what, err ? err->msg : "failed");
	exit(1);
}

/* Raw JSON of tree id. */
static json_t *
load_tree(const uint8_t id[OFS_ID_LEN])
{
	struct ofs_buf raw = OFS_BUF_INIT(OFS_TREE_MAX);
	struct ofs_error err;
	json_error_t je;
	json_t *t;

	if (ofs_repo_read_blob(R, R->ctx, id, &raw, &err) != 0)
		die("read tree", &err);
	if ((t = json_loadb((const char *)raw.data, raw.len, 0, &je)) == NULL)
		die("parse tree", NULL);
	ofs_buf_release(&raw);
	return t;
}

/* Find a file node with content and a directory node to copy from. */
static void
find_templates(const uint8_t id[OFS_ID_LEN])
{
	json_t *t = load_tree(id), *n;
	size_t i;

	tree_version = json_integer_value(json_object_get(t, "version"));
	json_array_foreach(json_object_get(t, "nodes"), i, n) {
		const char *type = json_string_value(json_object_get(n, "type"));

		if (file_tpl == NULL && strcmp(type, "file") == 0 &&
		    json_array_size(json_object_get(n, "content")) > 0)
			file_tpl = json_deep_copy(n);
		if (strcmp(type, "dir") == 0) {
			uint8_t sub[OFS_ID_LEN];

			if (dir_tpl == NULL)
				dir_tpl = json_deep_copy(n);
			if (file_tpl == NULL && ofs_unhex(json_string_value(json_object_get(n,
			    "subtree")), sub, OFS_ID_LEN) == 0)
				find_templates(sub);
		}
	}
	json_decref(t);
}

static json_t *
file_node(const char *name)
{
	json_t *n = json_deep_copy(file_tpl);

	json_object_set_new(n, "name", json_string(name));
	return n;
}

static json_t *
symlink_node(const char *name, const char *target)
{
	json_t *n = json_deep_copy(file_tpl);

	json_object_del(n, "content");
	json_object_del(n, "sparse");
	json_object_set_new(n, "name", json_string(name));
	json_object_set_new(n, "type", json_string("symlink"));
	json_object_set_new(n, "mode", json_integer(0777));
	json_object_set_new(n, "size", json_integer(0));
	json_object_set_new(n, "target", json_string(target));
	return n;
}

static int
by_name(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;

	return strcmp(json_string_value(json_object_get(x, "name")),
	    json_string_value(json_object_get(y, "name")));
}

/* Seal a tree of the given nodes (stolen) into the pack; its id goes to id. */
static void
add_tree(json_t **nodes, size_t n, uint8_t id[OFS_ID_LEN])
{
	struct ofs_buf stored = OFS_BUF_INIT(0);
	struct ofs_error err;
	json_t *arr = json_array(), *t;
	char *s;

	qsort(nodes, n, sizeof(*nodes), by_name);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, nodes[i]);
	t = json_pack("{s:I, s:o}", "version", tree_version, "nodes", arr);
	s = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
	ofs_blob_id(R->ctx, s, strlen(s), id);
	for (size_t i = 0; i < PW.n; i++)
		if (memcmp(PW.entries[i].id, id, OFS_ID_LEN) == 0)
			goto out;	/* the same tree twice */
	if (ofs_blob_seal(R->ctx, OFS_BLOB_TREE, id, s, strlen(s), 1, &stored, &err) != 0)
		die("seal tree", &err);
	ofs_pack_writer_add(&PW, OFS_BLOB_TREE, id, stored.data, stored.len, (uint32_t)strlen(s));
out:
	free(s);
	json_decref(t);
	ofs_buf_release(&stored);
}

static json_t *
dir_node(const char *name, json_t **nodes, size_t n)
{
	json_t *d = json_deep_copy(dir_tpl);
	uint8_t id[OFS_ID_LEN];
	char hex[2 * OFS_ID_LEN + 1];

	add_tree(nodes, n, id);
	ofs_hex(id, OFS_ID_LEN, hex);
	json_object_set_new(d, "name", json_string(name));
	json_object_set_new(d, "subtree", json_string(hex));
	return d;
}

int
main(int argc, char **argv)
{
	struct ofs_buf pass = OFS_BUF_INIT(4096), plain = OFS_BUF_INIT(0);
	struct ofs_snapshot snap;
	struct ofs_index_pack ip;
	struct ofs_error err;
	const char *sc, *canary;
	char *tags[1], name[128], abs[4096], hex[2 * OFS_ID_LEN + 1];
	json_t *root[4], *sub[2];
	size_t nroot = 0;
	uint8_t rootid[OFS_ID_LEN], idxid[OFS_ID_LEN];

	if (argc != 7) {
		fprintf(stderr, "usage: 79-craft REPO STATE PASSFILE TEMPLATE-SNAP SCENARIO "
		    "CANARY-DIR\n");
		return 2;
	}
	sc = argv[5];
	canary = argv[6];
	/* No log sink is installed: the library prints nothing (lib/log.h). */
	if (ofs_buf_read_file(&pass, argv[3], &err) != 0)
		die("passphrase", &err);
	while (pass.len > 0 && (pass.data[pass.len - 1] == '\n' || pass.data[pass.len - 1] == '\r'))
		pass.len--;
	if (ofs_repo_open(argv[1], argv[2], &R, &err) != 0 ||
	    ofs_repo_unlock(R, (const char *)pass.data, pass.len, &err) != 0 ||
	    ofs_repo_load_index(R, &err) != 0 ||
	    ofs_repo_find_snapshot(R, argv[4], &snap, &err) != 0)
		die(argv[1], &err);
	find_templates(snap.tree);
	if (file_tpl == NULL || dir_tpl == NULL)
		die("the template snapshot needs a file with content and a directory", NULL);
	ofs_pack_writer_init(&PW);

	root[nroot++] = file_node("good");
	if (strcmp(sc, "dotdot") == 0) {
		root[nroot++] = file_node("../escape");
	} else if (strcmp(sc, "abs") == 0) {
		snprintf(abs, sizeof(abs), "%s/abs", canary);
		root[nroot++] = file_node(abs);
	} else if (strcmp(sc, "updown") == 0) {
		root[nroot++] = file_node("a/../../b");
	} else if (strcmp(sc, "dotdotdir") == 0) {
		sub[0] = file_node("escape2");
		root[nroot++] = dir_node("..", sub, 1);
	} else if (strcmp(sc, "nested") == 0) {
		sub[0] = file_node("../../escape3");
		sub[1] = file_node("fine");
		root[nroot++] = dir_node("deep", sub, 2);
	} else if (strcmp(sc, "symdup") == 0) {
		/* a symlink to the canary, then a directory of the same name holding a file */
		root[nroot++] = symlink_node("link", canary);
		sub[0] = file_node("pwned");
		root[nroot++] = dir_node("link", sub, 1);
	} else if (strcmp(sc, "symslash") == 0) {
		root[nroot++] = symlink_node("link", canary);
		root[nroot++] = file_node("link/pwned");
	} else if (strcmp(sc, "linkonly") == 0) {
		/* legitimate on its own: a symlink pointing outside */
		root[nroot++] = symlink_node("d", canary);
	} else if (strcmp(sc, "dironly") == 0) {
		sub[0] = file_node("pwned");
		root[nroot++] = dir_node("d", sub, 1);
	} else {
		fprintf(stderr, "79-craft: unknown scenario '%s'\n", sc);
		return 2;
	}
	add_tree(root, nroot, rootid);

	/* the trees as a loose pack, an index file listing it, and the snapshot */
	memset(&ip, 0, sizeof(ip));
	if (ofs_pack_writer_finish(&PW, R->ctx, ip.id, &err) != 0)
		die("pack", &err);
	ofs_loose_name(ip.id, name, sizeof(name));
	if (R->be->ops->put(R->be, name, PW.data.data, PW.data.len, &err) != 0)
		die(name, &err);
	ip.loc.kind = OFS_LOC_LOOSE;
	ip.length = PW.data.len;
	ofs_xxh128(PW.data.data, PW.data.len, ip.xxh);
	ip.blobs = PW.entries;
	ip.nblobs = PW.n;
	ofs_random(idxid, sizeof(idxid));
	if (ofs_index_encode(&ip, 1, &plain) != 0 ||
	    ofs_repo_put_object(R, "index", OFS_OBJ_INDEX, idxid, plain.data, plain.len,
	    &err) != 0)
		die("index", &err);
	ofs_buf_reset(&plain);
	ofs_random(snap.id, sizeof(snap.id));
	memcpy(snap.tree, rootid, OFS_ID_LEN);
	snap.time_ns = ofs_now_ns();
	snap.has_parent = 0;
	tags[0] = (char *)sc;
	snap.tags = tags;
	snap.ntags = 1;
	if (ofs_snapshot_encode(&snap, &plain, &err) != 0 ||
	    ofs_repo_put_object(R, "snapshots", OFS_OBJ_SNAPSHOT, snap.id, plain.data, plain.len,
	    &err) != 0)
		die("snapshot", &err);
	ofs_hex(snap.id, OFS_ID_LEN, hex);
	printf("%s\n", hex);
	return 0;
}
