/* Snapshot records (JSON, FORMAT.md): encoder, strict decoder naming the offending field,
 * and the RFC 3339 nanosecond times they carry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "snapshot.h"
#include "tree_int.h"
#include "util.h"

#define SNAPSHOT_VERSION 1
#define SNAPSHOT_MAX (16u << 20)

void
ofs_snapshot_release(struct ofs_snapshot *s)
{
	if (s == NULL)
		return;
	free(s->host);
	free(s->user);
	free(s->version);
	for (size_t i = 0; i < s->npaths; i++)
		free(s->paths[i]);
	free(s->paths);
	for (size_t i = 0; i < s->ntags; i++)
		free(s->tags[i]);
	free(s->tags);
	memset(s, 0, sizeof(*s));
}

void
ofs_fmt_time_ns(int64_t ns, char *buf, size_t bufsz)
{
	int64_t sec = ns / 1000000000LL, frac = ns % 1000000000LL;
	time_t t;
	struct tm tm;
	char base[48];

	if (frac < 0) {
		frac += 1000000000LL;
		sec--;
	}
	t = (time_t)sec;
	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, bufsz, "%s.%09lldZ", base, (long long)frac);
}

int
ofs_parse_time_ns(const char *s, int64_t *ns)
{
	int64_t sec;
	int32_t frac;

	if (ofs_time_parse(s, OFS_TIME_UTC, &sec, &frac) != 0)
		return -1;
	/* RFC 3339 allows 't' and 'z'; snapshots have always been read with the upper-case
	 * ones only (FORMAT.md: "UTC RFC 3339 with Z"), so that stays. */
	if (s[10] != 'T' || s[strlen(s) - 1] != 'Z')
		return -1;
	if (sec < -9223372035LL || sec > 9223372035LL)	/* int64 nanoseconds: 1677..2262 */
		return -1;
	*ns = sec * 1000000000LL + frac;
	return 0;
}

static json_t *
str_array(char **v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

int
ofs_snapshot_encode(const struct ofs_snapshot *s, struct ofs_buf *out, struct ofs_error *err)
{
	char tbuf[64], *txt = NULL;
	json_t *o;
	int r = 0;

	ofs_fmt_time_ns(s->time_ns, tbuf, sizeof(tbuf));
	o = json_object();
	json_object_set_new(o, "version", json_integer(SNAPSHOT_VERSION));
	json_object_set_new(o, "time", json_string(tbuf));
	json_object_set_new(o, "host", json_string(s->host ? s->host : ""));
	json_object_set_new(o, "user", json_string(s->user ? s->user : ""));
	json_object_set_new(o, "program_version", json_string(s->version ? s->version :
	    OFS_VERSION));
	json_object_set_new(o, "paths", str_array(s->paths, s->npaths));
	json_object_set_new(o, "tags", str_array(s->tags, s->ntags));
	json_object_set_new(o, "tree", ofs_tree_hex_id(s->tree, OFS_ID_LEN));
	if (s->has_parent)
		json_object_set_new(o, "parent", ofs_tree_hex_id(s->parent, OFS_ID_LEN));
	if (s->has_seed_set)
		json_object_set_new(o, "seed_set", ofs_tree_hex_id(s->seed_set,
		    sizeof(s->seed_set)));
	json_object_set_new(o, "stats", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
	    "files", (json_int_t)s->files, "dirs", (json_int_t)s->dirs, "bytes",
	    (json_int_t)s->bytes, "bytes_new", (json_int_t)s->bytes_new, "bytes_stored",
	    (json_int_t)s->bytes_stored, "skipped", (json_int_t)s->skipped));
	/* json_string() returns NULL for invalid UTF-8, which then leaves the key out. */
	if (json_object_size(o) != 9u + (s->has_parent ? 1 : 0) + (s->has_seed_set ? 1 : 0) ||
	    json_array_size(json_object_get(o, "paths")) != s->npaths ||
	    json_array_size(json_object_get(o, "tags")) != s->ntags ||
	    (txt = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		r = ofs_err_set(err, OFS_ERR_IO, "cannot encode snapshot (strings must be UTF-8)");
		goto out;
	}
	if ((r = ofs_buf_add(out, txt, strlen(txt))) != 0)
		r = ofs_err_set(err, OFS_ERR_IO, "snapshot record is too large");
out:
	free(txt);
	json_decref(o);
	return r;
}

static int
get_str_array(struct ofs_tree_dctx *d, json_t *o, const char *key, int required,
    char ***out, size_t *n)
{
	json_t *a = json_object_get(o, key), *e;
	size_t i;

	*out = NULL;
	*n = 0;
	if (a == NULL)
		return required ? ofs_tree_bad(d, key, "missing") : 0;
	if (!json_is_array(a))
		return ofs_tree_bad(d, key, "not an array");
	*out = ofs_xcalloc(json_array_size(a) + 1, sizeof(char *));
	json_array_foreach(a, i, e) {
		if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e))
			return ofs_tree_bad(d, key, "item %zu is not a string", i);
		(*out)[i] = ofs_xstrdup(json_string_value(e));
		*n = i + 1;
	}
	return 0;
}

/* Which fields are required the decoder checks itself, so its messages name them. */
static const struct ofs_key snap_keys[] = {
	{ "version", 0 }, { "time", 0 }, { "host", 0 }, { "user", 0 }, { "program_version", 0 },
	{ "paths", 0 }, { "tags", 0 }, { "tree", 0 }, { "parent", 0 }, { "seed_set", 0 },
	{ "stats", 0 }, { NULL, 0 }
};

/* In the order of the counters in struct ofs_snapshot (the decoder reads them so). */
static const struct ofs_key stat_keys[] = {
	{ "files", 0 }, { "dirs", 0 }, { "bytes", 0 }, { "bytes_new", 0 }, { "bytes_stored", 0 },
	{ "skipped", 0 }, { NULL, 0 }
};

int
ofs_snapshot_decode(const uint8_t *p, size_t len, const char *what, struct ofs_snapshot *s,
    struct ofs_error *err)
{
	struct ofs_tree_dctx d = { what ? what : "snapshot", (size_t)-1, "", err };
	json_error_t jerr;
	json_t *root = NULL, *j;
	int64_t v;
	int r = 0;

	memset(s, 0, sizeof(*s));
	if (len > SNAPSHOT_MAX)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "malformed %s: too large", d.what);
	if ((root = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "malformed %s: byte %d: %s", d.what,
		    jerr.position, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		r = ofs_tree_bad(&d, "(top)", "not an object");
		goto out;
	}
	if ((r = ofs_tree_get_int(&d, root, "version", 1, 0, INT64_MAX, &v)) != 0)
		goto out;
	if (v != SNAPSHOT_VERSION) {
		r = ofs_err_set(err, OFS_ERR_VERSION, "%s has snapshot format version %lld, this "
		    "offseed reads version %d", d.what, (long long)v, SNAPSHOT_VERSION);
		goto out;
	}
	if ((r = ofs_tree_known_keys(&d, root, snap_keys)) != 0)
		goto out;
	j = json_object_get(root, "time");
	if (!json_is_string(j) || ofs_parse_time_ns(json_string_value(j), &s->time_ns) != 0) {
		r = ofs_tree_bad(&d, "time", "missing or not RFC 3339 UTC");
		goto out;
	}
	if ((r = ofs_tree_get_str(&d, root, "host", &s->host)) != 0 ||
	    (r = ofs_tree_get_str(&d, root, "user", &s->user)) != 0 ||
	    (r = ofs_tree_get_str(&d, root, "program_version", &s->version)) != 0 ||
	    (r = get_str_array(&d, root, "paths", 1, &s->paths, &s->npaths)) != 0 ||
	    (r = get_str_array(&d, root, "tags", 0, &s->tags, &s->ntags)) != 0)
		goto out;
	if ((j = json_object_get(root, "tree")) == NULL) {
		r = ofs_tree_bad(&d, "tree", "missing");
		goto out;
	}
	if ((r = ofs_tree_get_id(&d, j, "tree", s->tree, OFS_ID_LEN)) != 0)
		goto out;
	if ((j = json_object_get(root, "parent")) != NULL) {
		if ((r = ofs_tree_get_id(&d, j, "parent", s->parent, OFS_ID_LEN)) != 0)
			goto out;
		s->has_parent = 1;
	}
	if ((j = json_object_get(root, "seed_set")) != NULL) {
		if ((r = ofs_tree_get_id(&d, j, "seed_set", s->seed_set, sizeof(s->seed_set))) != 0)
			goto out;
		s->has_seed_set = 1;
	}
	if ((j = json_object_get(root, "stats")) != NULL) {
		int64_t st[6];

		if (!json_is_object(j)) {
			r = ofs_tree_bad(&d, "stats", "not an object");
			goto out;
		}
		if ((r = ofs_tree_known_keys(&d, j, stat_keys)) != 0)
			goto out;
		for (int i = 0; i < 6; i++)
			if ((r = ofs_tree_get_int(&d, j, stat_keys[i].name, 0, 0, INT64_MAX,
			    &st[i])) != 0)
				goto out;
		s->files = (uint64_t)st[0];
		s->dirs = (uint64_t)st[1];
		s->bytes = (uint64_t)st[2];
		s->bytes_new = (uint64_t)st[3];
		s->bytes_stored = (uint64_t)st[4];
		s->skipped = (uint64_t)st[5];
	}
out:
	json_decref(root);
	if (r != 0)
		ofs_snapshot_release(s);
	return r;
}
