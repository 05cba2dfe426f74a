/* offseed key: list, add, remove and change the key slots (keys/<id>) that open the
 * repository. Only key slots are written or removed; the data is never rewritten. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "config.h"
#include "lock.h"
#include "render.h"
#include "stage.h"
#include "util.h"

static const char usage[] =
    "usage: offseed key list\n"
    "       offseed key add [--new-passphrase-file F]\n"
    "       offseed key remove ID\n"
    "       offseed key passwd [--new-passphrase-file F]\n"
    "\n"
    "Manage the key slots that open the repository (each seals the same master secret\n"
    "under its own passphrase). The current passphrase (--passphrase-file, ...) opens the\n"
    "repository; the slot it opened is the one 'in use'.\n"
    "\n"
    "  list      id, creation time, scrypt parameters, and which slot is in use\n"
    "  add       add a slot for a new passphrase: --new-passphrase-file F or\n"
    "            OFFSEED_NEW_PASSPHRASE (at least 16 characters)\n"
    "  remove    remove slot ID (a unique prefix); refuses the last slot and the slot in use\n"
    "  passwd    add a slot for the new passphrase, then remove the slot in use\n"
    "\n"
    "No data is rewritten.\n";

struct slots {
	char **names;
	size_t n;
	int used;	/* index of the slot the passphrase opened, -1 if none */
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List the key slots in name order and find the first one the passphrase opens. */
static int
find_slots(struct ofs_repo *repo, const struct ofs_buf *pass, struct slots *s,
    struct ofs_error *err)
{
	struct ofs_buf slot = OFS_BUF_INIT(OFS_KEYSLOT_MAX);
	uint8_t master[OFS_MASTER_LEN];
	int rc;

	s->used = -1;
	if ((rc = repo->be->ops->list(repo->be, "keys", &s->names, &s->n, err)) != 0)
		return rc;
	qsort(s->names, s->n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < s->n && s->used < 0; i++) {
		char *name = ofs_path_join("keys", s->names[i]);
		struct ofs_error e2 = { 0 };

		ofs_buf_reset(&slot);
		if (repo->be->ops->get(repo->be, name, 0, 0, &slot, &e2) == 0 &&
		    ofs_keyslot_open(slot.data, slot.len, name, (const char *)pass->data, pass->len,
		    master, &e2) == 0)
			s->used = (int)i;
		free(name);
	}
	ofs_wipe(master, sizeof(master));
	ofs_buf_release_secret(&slot);
	return 0;
}

static int
new_passphrase(struct ofs_buf *out, const char *file, struct ofs_error *err)
{
	const char *env;

	ofs_buf_reset(out);
	if (file != NULL) {
		if (ofs_buf_read_file(out, file, err) != 0)
			return ofs_err_wrap(err, "cannot read the new passphrase file");
		while (out->len > 0 && (out->data[out->len - 1] == '\n' ||
		    out->data[out->len - 1] == '\r'))
			out->len--;
	} else if ((env = getenv("OFFSEED_NEW_PASSPHRASE")) != NULL) {
		ofs_buf_puts(out, env);	/* too long: cstr below fails */
	} else {
		return ofs_err_set(err, OFS_ERR_USAGE,
		    "no new passphrase given: use --new-passphrase-file F or OFFSEED_NEW_PASSPHRASE");
	}
	if (ofs_buf_cstr(out) != 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "the new passphrase is too long (at most "
		    "%zu bytes)", out->max - 1);
	if (out->len < OFS_PASSPHRASE_MIN)
		return ofs_err_set(err, OFS_ERR_USAGE,
		    "the new passphrase is too short (at least %u characters)", OFS_PASSPHRASE_MIN);
	return 0;
}

static int
add_slot(struct ofs_repo *repo, const struct ofs_buf *np, char hex[33], struct ofs_error *err)
{
	struct ofs_buf slot = OFS_BUF_INIT(4096);
	uint8_t id[16];
	char *name;
	int rc;

	if ((rc = ofs_keyslot_create((const char *)np->data, np->len, repo->keys.master,
	    OFS_KDF_DEFAULT, &slot, err)) != 0)
		goto out;
	ofs_random(id, sizeof(id));
	ofs_hex(id, sizeof(id), hex);
	name = ofs_path_join("keys", hex);
	rc = repo->be->ops->put(repo->be, name, slot.data, slot.len, err);
	free(name);
out:
	ofs_buf_release(&slot);
	return rc;
}

static json_t *
slot_info(struct ofs_repo *repo, const char *id, int used)
{
	struct ofs_buf b = OFS_BUF_INIT(OFS_KEYSLOT_MAX);
	struct ofs_error e = { 0 };
	char *name = ofs_path_join("keys", id);
	json_t *o = json_pack("{s:s, s:b}", "id", id, "in_use", used), *j = NULL, *kdf;

	if (repo->be->ops->get(repo->be, name, 0, 0, &b, &e) == 0 &&
	    (j = json_loadb((const char *)b.data, b.len, 0, NULL)) != NULL) {
		json_t *c = json_object_get(j, "created");

		if (json_is_string(c))
			json_object_set(o, "created", c);
		if ((kdf = json_object_get(j, "kdf")) != NULL) {
			json_object_set(o, "n", json_object_get(kdf, "n"));
			json_object_set(o, "r", json_object_get(kdf, "r"));
			json_object_set(o, "p", json_object_get(kdf, "p"));
		}
	}
	json_decref(j);
	ofs_buf_release(&b);
	free(name);
	return o;
}

int
cmd_key(int argc, char **argv, struct ofs_cli *g)
{
	static const struct option opts[] = {
		{ "new-passphrase-file", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ofs_buf pass = OFS_BUF_INIT(4096), np = OFS_BUF_INIT(4096);
	struct ofs_error err = { 0 };
	struct ofs_repo *repo = NULL;
	struct ofs_lock *lock = NULL;
	struct slots s = { NULL, 0, -1 };
	const char *newfile = NULL, *sub;
	char hex[33];
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': newfile = optarg; break;
		case 'h': return ofs_cli_usage(usage, 1);
		default: return ofs_cli_usage(usage, 0);
		}
	}
	if (optind >= argc) {
		ofs_error("no key subcommand given (list, add, remove or passwd)");
		return ofs_cli_usage(usage, 0);
	}
	sub = argv[optind++];
	if (strcmp(sub, "list") != 0 && strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0 &&
	    strcmp(sub, "passwd") != 0) {
		ofs_error("unknown key subcommand '%s' (list, add, remove or passwd)", sub);
		return ofs_cli_usage(usage, 0);
	}
	if (argc - optind != (strcmp(sub, "remove") == 0 ? 1 : 0)) {
		ofs_error(strcmp(sub, "remove") == 0 && optind >= argc ? "no key id given" :
		    "too many arguments");
		return ofs_cli_usage(usage, 0);
	}
	if ((strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0) &&
	    (rc = new_passphrase(&np, newfile, &err)) != 0)
		goto out;
	if ((rc = ofs_cli_open_repo(g, 0, 0, &repo, &err)) != 0)
		goto out;
	if ((rc = ofs_cli_passphrase(g, 0, &pass, &err)) != 0)
		goto out;
	if ((rc = ofs_repo_unlock(repo, (const char *)pass.data, pass.len, &err)) != 0)
		goto out;
	if ((rc = find_slots(repo, &pass, &s, &err)) != 0)
		goto out;

	if (strcmp(sub, "list") == 0) {
		json_t *list = json_array();

		ofs_result("%-2s %-32s  %-20s  %s\n", "", "ID", "CREATED", "KDF");
		for (size_t i = 0; i < s.n; i++) {
			json_t *o = slot_info(repo, s.names[i], (int)i == s.used);

			ofs_result("%-2s %-32s  %-20s  scrypt N=%lld r=%lld p=%lld\n",
			    (int)i == s.used ? "*" : "", s.names[i],
			    json_string_value(json_object_get(o, "created")) ?
			    json_string_value(json_object_get(o, "created")) : "?",
			    (long long)json_integer_value(json_object_get(o, "n")),
			    (long long)json_integer_value(json_object_get(o, "r")),
			    (long long)json_integer_value(json_object_get(o, "p")));
			json_array_append_new(list, o);
		}
		ofs_emit(json_pack("{s:s, s:s, s:s, s:I, s:o}", "type", "summary", "command", "key",
		    "action", "list", "count", (json_int_t)s.n, "keys", list));
		goto out;
	}

	if ((rc = ofs_lock_acquire(repo, "key", &lock, &err)) != 0)
		goto out;
	if (strcmp(sub, "add") == 0) {
		if ((rc = add_slot(repo, &np, hex, &err)) != 0)
			goto out;
		ofs_result("added key %s\n", hex);
		ofs_emit(json_pack("{s:s, s:s, s:s, s:s}", "type", "summary", "command", "key",
		    "action", "add", "added", hex));
	} else if (strcmp(sub, "remove") == 0) {
		const char *want = argv[optind];
		size_t len = strlen(want);
		int found = -1;
		char *name;

		for (size_t i = 0; i < s.n; i++) {
			if (len > 0 && strncmp(s.names[i], want, len) == 0) {
				if (found >= 0) {
					rc = ofs_err_set(&err, OFS_ERR_USAGE,
					    "key id '%s' is ambiguous", want);
					goto out;
				}
				found = (int)i;
			}
		}
		if (found < 0) {
			rc = ofs_err_set(&err, OFS_ERR_USAGE, "no key '%s'", want);
			goto out;
		}
		if (s.n <= 1) {
			rc = ofs_err_set(&err, OFS_ERR_IO,
			    "refusing to remove key %s: it is the last key of the repository",
			    s.names[found]);
			goto out;
		}
		if (found == s.used) {
			rc = ofs_err_set(&err, OFS_ERR_IO,
			    "refusing to remove key %s: it is the key in use (open the repository "
			    "with another passphrase, or use 'key passwd')", s.names[found]);
			goto out;
		}
		name = ofs_path_join("keys", s.names[found]);
		rc = repo->be->ops->remove(repo->be, name, &err);
		free(name);
		if (rc != 0)
			goto out;
		ofs_result("removed key %s\n", s.names[found]);
		ofs_emit(json_pack("{s:s, s:s, s:s, s:s}", "type", "summary", "command", "key",
		    "action", "remove", "removed", s.names[found]));
	} else {	/* passwd */
		char *name;

		if (s.used < 0) {
			rc = ofs_err_set(&err, OFS_ERR_AUTH, "wrong passphrase");
			goto out;
		}
		/* the new slot is durable before the old one goes */
		if ((rc = add_slot(repo, &np, hex, &err)) != 0)
			goto out;
		name = ofs_path_join("keys", s.names[s.used]);
		rc = repo->be->ops->remove(repo->be, name, &err);
		free(name);
		if (rc != 0)
			goto out;
		ofs_result("changed the passphrase: added key %s, removed key %s\n", hex,
		    s.names[s.used]);
		ofs_emit(json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "summary", "command", "key",
		    "action", "passwd", "added", hex, "removed", s.names[s.used]));
	}
	/* key slots are files of the staging repository: its manifest lists them */
	rc = ofs_staging_manifest_refresh(repo, &err);
out:
	ofs_lock_release(lock);
	ofs_names_free(s.names, s.n);
	ofs_buf_release_secret(&pass);
	ofs_buf_release_secret(&np);
	ofs_repo_close(repo);
	return ofs_cli_fail(rc, &err);
}
