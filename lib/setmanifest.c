/* The set manifest offseed-set.json: strict parser, deterministic encoder, and the
 * "azure://ACCOUNT/CONTAINER[/PREFIX]" destination parser with Azure's naming rules.
 * Format: docs/FORMAT.md §21. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "setmanifest.h"
#include "util.h"

#define SERIAL_MAX 256
#define NAME_MAX_LEN 255
#define TEXT_MAX 4096
#define CONTAINERS_MAX (1u << 20)

/* ---- destination ----------------------------------------------------------------------- */

int
ofs_azure_container_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '-') {
			if (i == 0 || i == n - 1 || s[i - 1] == '-')
				return 0;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
			return 0;
		}
	}
	return 1;
}

static int
account_ok(const char *s, size_t n)
{
	if (n < 3 || n > 24)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

/* Prefix segments: non-empty, not "." or "..", printable, no backslash (the name must mean
 * the same as a Windows path on the Data Box side and as a blob name). */
static int
prefix_ok(const char *p)
{
	size_t n = strlen(p), comp = 0;

	if (n == 0)
		return 1;
	if (n > 1024)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '/' || c == '\0') {
			if (i == comp)
				return 0;
			if ((i - comp == 1 && p[comp] == '.') ||
			    (i - comp == 2 && p[comp] == '.' && p[comp + 1] == '.'))
				return 0;
			comp = i + 1;
			continue;
		}
		if (c < 0x20 || c == 0x7f || c == '\\')
			return 0;
	}
	return 1;
}

int
ofs_dest_parse(const char *dest, char **account, char **container, char **prefix,
    struct ofs_error *err)
{
	const char *p, *sl, *c, *end;
	char *cont = NULL, *pre = NULL;
	size_t n;
	int r = 0;

	if (account != NULL)
		*account = NULL;
	if (container != NULL)
		*container = NULL;
	if (prefix != NULL)
		*prefix = NULL;
	if (dest == NULL || strncmp(dest, "azure://", 8) != 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "destination '%s' is not of the form "
		    "azure://ACCOUNT/CONTAINER[/PREFIX]", dest ? dest : "");
	p = dest + 8;
	if ((sl = strchr(p, '/')) == NULL || !account_ok(p, (size_t)(sl - p)))
		return ofs_err_set(err, OFS_ERR_USAGE, "destination '%s': the storage account "
		    "must be 3-24 lower-case letters and digits followed by /CONTAINER", dest);
	c = sl + 1;
	end = strchr(c, '/');
	n = end ? (size_t)(end - c) : strlen(c);
	cont = ofs_xstrndup(c, n);
	if (!ofs_azure_container_name_ok(cont)) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "destination '%s': '%s' is not a valid blob "
		    "container name (3-63 lower-case letters, digits and single '-', starting and "
		    "ending with a letter or digit)", dest, cont);
		goto out;
	}
	pre = ofs_xstrdup(end ? end + 1 : "");
	n = strlen(pre);
	while (n > 0 && pre[n - 1] == '/')
		pre[--n] = '\0';
	if (!prefix_ok(pre)) {
		r = ofs_err_set(err, OFS_ERR_USAGE, "destination '%s': the prefix '%s' has an "
		    "empty, '.' or '..' part or a control character", dest, pre);
		goto out;
	}
	if (account != NULL)
		*account = ofs_xstrndup(p, (size_t)(sl - p));
	if (container != NULL) {
		*container = cont;
		cont = NULL;	/* transferred */
	}
	if (prefix != NULL) {
		*prefix = pre;
		pre = NULL;	/* transferred */
	}
out:
	free(cont);
	free(pre);
	return r;
}

/* ---- manifest -------------------------------------------------------------------------- */

void
ofs_set_manifest_release(struct ofs_set_manifest *m)
{
	for (size_t i = 0; i < m->ndisks; i++) {
		struct ofs_set_disk *d = &m->disks[i];

		free(d->serial);
		for (size_t j = 0; j < d->ncontainers; j++)
			free(d->containers[j]);
		free(d->containers);
	}
	free(m->disks);
	free(m->tool);
	free(m->created);
	free(m->repository);
	free(m->seed_set);
	free(m->job);
	free(m->destination);
	memset(m, 0, sizeof(*m));
}

void
ofs_set_manifest_free(struct ofs_set_manifest *m)
{
	if (m == NULL)
		return;
	ofs_set_manifest_release(m);
	free(m);
}

/* Printable text without control characters: safe in messages and job bodies. */
static int
text_ok(const char *s, size_t max)
{
	return ofs_text_check(s, strlen(s), max, OFS_TEXT_NONEMPTY) == OFS_TEXT_OK;
}

/* A container file name: [A-Za-z0-9._-], not starting with '.', ending ".vhd". */
static int
container_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 5 || n > NAME_MAX_LEN || s[0] == '.' || strcmp(s + n - 4, ".vhd") != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

struct pctx {
	const char *what;
	struct ofs_error *err;
};

static int
bad(struct pctx *c, const char *field, const char *why)
{
	return ofs_err_set(c->err, OFS_ERR_CORRUPT, "set manifest '%s': field '%s' %s", c->what,
	    field, why);
}

/* Only the listed keys; absent ones are reported field by field, in a fixed order. An
 * unknown key is named with control characters replaced, as the disk manifest does. */
static int
only_keys(struct pctx *c, json_t *obj, const char *where, const struct ofs_key *keys)
{
	const char *k;
	char shown[201], f[320];

	if (ofs_json_keys_check(obj, keys, &k, NULL) != 0) {
		ofs_text_clean(shown, sizeof(shown), k, SIZE_MAX);
		snprintf(f, sizeof(f), "%s%s%s", where, *where ? "." : "", shown);
		return bad(c, f, "is not part of set manifest version 1");
	}
	return 0;
}

static int
get_str(struct pctx *c, json_t *obj, const char *key, const char *field, size_t max,
    char **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL)
		return bad(c, field, "is missing");
	if (!json_is_string(v) || json_string_length(v) == 0)
		return bad(c, field, "must be a non-empty string");
	if (ofs_text_check(json_string_value(v), json_string_length(v), max,
	    OFS_TEXT_NONEMPTY) != OFS_TEXT_OK)
		return bad(c, field, "must be printable text without control characters");
	*out = ofs_xstrdup(json_string_value(v));
	return 0;
}

static int
get_uint(struct pctx *c, json_t *obj, const char *key, const char *field, uint64_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return bad(c, field, "is missing");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(c, field, "must be a non-negative integer");
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static const struct ofs_key top_keys[] = { { "format", OFS_KEY_REQUIRED },
	{ "version", OFS_KEY_REQUIRED }, { "tool", OFS_KEY_REQUIRED },
	{ "created", OFS_KEY_REQUIRED }, { "repository", OFS_KEY_REQUIRED },
	{ "seed_set", OFS_KEY_REQUIRED }, { "job", OFS_KEY_REQUIRED },
	{ "destination", OFS_KEY_REQUIRED }, { "disks", OFS_KEY_REQUIRED }, { NULL, 0 } };
static const struct ofs_key disk_keys[] = { { "index", OFS_KEY_REQUIRED },
	{ "serial", OFS_KEY_REQUIRED }, { "manifest_sha256", OFS_KEY_REQUIRED },
	{ "bytes", OFS_KEY_REQUIRED }, { "files", OFS_KEY_REQUIRED },
	{ "containers", OFS_KEY_REQUIRED }, { NULL, 0 } };

static int
parse_disk(struct pctx *c, struct ofs_set_manifest *m, json_t *o, size_t i)
{
	struct ofs_set_disk *d = &m->disks[i];
	char field[64], *sha = NULL;
	json_t *arr;
	uint64_t u;
	int r;

	snprintf(field, sizeof(field), "disks[%zu]", i);
	if (!json_is_object(o))
		return bad(c, field, "must be an object");
	if ((r = only_keys(c, o, field, disk_keys)) != 0)
		return r;
	snprintf(field, sizeof(field), "disks[%zu].index", i);
	if ((r = get_uint(c, o, "index", field, &u)) != 0)
		return r;
	if (u != i + 1)
		return bad(c, field, "must number the disks 1, 2, … in order");
	d->index = (uint32_t)u;
	snprintf(field, sizeof(field), "disks[%zu].serial", i);
	if ((r = get_str(c, o, "serial", field, SERIAL_MAX, &d->serial)) != 0)
		return r;
	for (size_t j = 0; j < i; j++)
		if (strcmp(m->disks[j].serial, d->serial) == 0)
			return bad(c, field, "repeats the serial of another disk");
	snprintf(field, sizeof(field), "disks[%zu].manifest_sha256", i);
	if ((r = get_str(c, o, "manifest_sha256", field, 64, &sha)) != 0)
		return r;
	if (!ofs_is_hex_lower(sha, 64)) {
		free(sha);
		return bad(c, field, "must be 64 lower-case hex digits");
	}
	memcpy(d->manifest_sha256, sha, 65);
	free(sha);
	snprintf(field, sizeof(field), "disks[%zu].bytes", i);
	if ((r = get_uint(c, o, "bytes", field, &d->bytes)) != 0)
		return r;
	snprintf(field, sizeof(field), "disks[%zu].files", i);
	if ((r = get_uint(c, o, "files", field, &d->files)) != 0)
		return r;
	snprintf(field, sizeof(field), "disks[%zu].containers", i);
	arr = json_object_get(o, "containers");
	if (arr == NULL)
		return bad(c, field, "is missing");
	if (!json_is_array(arr))
		return bad(c, field, "must be an array");
	if (json_array_size(arr) > CONTAINERS_MAX)
		return bad(c, field, "lists too many containers");
	if (json_array_size(arr) > d->files)
		return bad(c, field, "lists more containers than the disk has files");
	d->containers = ofs_xcalloc(json_array_size(arr) + 1, sizeof(char *));
	for (size_t j = 0; j < json_array_size(arr); j++) {
		json_t *v = json_array_get(arr, j);

		snprintf(field, sizeof(field), "disks[%zu].containers[%zu]", i, j);
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
		    !container_name_ok(json_string_value(v)))
			return bad(c, field, "must be a container file name ending in .vhd");
		d->containers[d->ncontainers++] = ofs_xstrdup(json_string_value(v));
	}
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Each container lives on exactly one disk. */
static int
check_unique_containers(struct pctx *c, const struct ofs_set_manifest *m)
{
	size_t n = 0, k = 0;
	char **all;
	int r = 0;

	for (size_t i = 0; i < m->ndisks; i++)
		n += m->disks[i].ncontainers;
	if (n < 2)
		return 0;
	all = ofs_xreallocarray(NULL, n, sizeof(char *));
	for (size_t i = 0; i < m->ndisks; i++)
		for (size_t j = 0; j < m->disks[i].ncontainers; j++)
			all[k++] = m->disks[i].containers[j];
	qsort(all, n, sizeof(char *), cmp_str);
	for (size_t i = 1; i < n && r == 0; i++)
		if (strcmp(all[i - 1], all[i]) == 0)
			r = ofs_err_set(c->err, OFS_ERR_CORRUPT, "set manifest '%s': container "
			    "'%s' is listed twice", c->what, all[i]);
	free(all);
	return r;
}

int
ofs_set_manifest_parse(const uint8_t *p, size_t len, const char *what,
    struct ofs_set_manifest **out, struct ofs_error *err)
{
	struct pctx c = { what, err };
	struct ofs_set_manifest *m = NULL;
	json_error_t je;
	json_t *root = NULL, *v, *disks;
	int64_t t;
	uint64_t u;
	int r = 0;

	*out = NULL;
	if ((root = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "set manifest '%s': invalid JSON at line %d "
		    "column %d: %s", what, je.line, je.column, je.text);
		goto out;
	}
	if (!json_is_object(root)) {
		r = bad(&c, "(top)", "must be a JSON object");
		goto out;
	}
	v = json_object_get(root, "format");
	if (!json_is_string(v) || strcmp(json_string_value(v), "offseed-set") != 0) {
		r = bad(&c, "format", "must be \"offseed-set\"");
		goto out;
	}
	if ((r = get_uint(&c, root, "version", "version", &u)) != 0)
		goto out;
	if (u == 0) {
		r = bad(&c, "version", "must be at least 1");
		goto out;
	}
	if (u > OFS_SET_MANIFEST_VERSION) {
		r = ofs_err_set(err, OFS_ERR_VERSION, "set manifest '%s' has format version %llu, "
		    "newer than this offseed supports (version %u); upgrade offseed", what,
		    (unsigned long long)u, OFS_SET_MANIFEST_VERSION);
		goto out;
	}
	if ((r = only_keys(&c, root, "", top_keys)) != 0)
		goto out;
	m = ofs_xcalloc(1, sizeof(*m));
	m->version = (uint32_t)u;
	if ((r = get_str(&c, root, "tool", "tool", TEXT_MAX, &m->tool)) != 0 ||
	    (r = get_str(&c, root, "created", "created", 64, &m->created)) != 0 ||
	    (r = get_str(&c, root, "repository", "repository", 32, &m->repository)) != 0 ||
	    (r = get_str(&c, root, "seed_set", "seed_set", 32, &m->seed_set)) != 0 ||
	    (r = get_str(&c, root, "job", "job", TEXT_MAX, &m->job)) != 0 ||
	    (r = get_str(&c, root, "destination", "destination", TEXT_MAX,
	    &m->destination)) != 0)
		goto out;
	if (ofs_parse_time(m->created, &t) != 0) {
		r = bad(&c, "created", "must be an RFC 3339 time");
		goto out;
	}
	if (!ofs_is_hex_lower(m->repository, 32)) {
		r = bad(&c, "repository", "must be 32 lower-case hex digits");
		goto out;
	}
	if (!ofs_is_hex_lower(m->seed_set, 32)) {
		r = bad(&c, "seed_set", "must be 32 lower-case hex digits");
		goto out;
	}
	{
		struct ofs_error derr = { 0 };

		if (ofs_dest_parse(m->destination, NULL, NULL, NULL, &derr) != 0) {
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "set manifest '%s': field "
			    "'destination' is invalid: %s", what, derr.msg);
			goto out;
		}
	}
	disks = json_object_get(root, "disks");
	if (disks == NULL || !json_is_array(disks)) {
		r = bad(&c, "disks", disks == NULL ? "is missing" : "must be an array");
		goto out;
	}
	if (json_array_size(disks) == 0 || json_array_size(disks) > OFS_SET_MAX_DISKS) {
		r = bad(&c, "disks", "must list between 1 and 4096 disks");
		goto out;
	}
	m->disks = ofs_xcalloc(json_array_size(disks), sizeof(*m->disks));
	for (size_t i = 0; i < json_array_size(disks); i++) {
		m->ndisks = i + 1;	/* so free() sees what was filled */
		if ((r = parse_disk(&c, m, json_array_get(disks, i), i)) != 0)
			goto out;
	}
	if ((r = check_unique_containers(&c, m)) != 0)
		goto out;
	*out = m;
	m = NULL;	/* transferred */
out:
	json_decref(root);
	ofs_set_manifest_free(m);
	return r;
}

int
ofs_set_manifest_load(const char *path, struct ofs_set_manifest **out, struct ofs_error *err)
{
	struct ofs_buf raw = OFS_BUF_INIT(OFS_SET_MANIFEST_MAX);
	int r;

	*out = NULL;
	if ((r = ofs_buf_read_file(&raw, path, err)) != 0)
		goto out;
	r = ofs_set_manifest_parse(raw.data, raw.len, path, out, err);
out:
	ofs_buf_release(&raw);
	return r;
}

/* ---- encoder --------------------------------------------------------------------------- */

/* Append s as a JSON string; -1 on invalid UTF-8. */
static int
add_jstr(struct ofs_buf *b, const char *s)
{
	if (!ofs_text_utf8_ok((const uint8_t *)s, strlen(s)))
		return -1;
	return ofs_json_quote(b, s);
}

static int
add_field(struct ofs_buf *b, const char *key, const char *val, struct ofs_error *err)
{
	if (val == NULL || !text_ok(val, TEXT_MAX))
		return ofs_err_set(err, OFS_ERR_USAGE, "set manifest field '%s' is missing or "
		    "not printable text", key);
	ofs_buf_putf(b, "  \"%s\": ", key);
	if (add_jstr(b, val) != 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "set manifest field '%s' is not valid "
		    "UTF-8", key);
	ofs_buf_puts(b, ",\n");
	return 0;	/* b's limit: checked once by the caller */
}

int
ofs_set_manifest_encode(const struct ofs_set_manifest *m, struct ofs_buf *dst,
    struct ofs_error *err)
{
	struct ofs_buf tmp = OFS_BUF_INIT(0), *out = &tmp;	/* unbounded: puts, one check */
	struct pctx c = { "(being written)", err };
	int r = 0;

	if (m->repository == NULL || !ofs_is_hex_lower(m->repository, 32) || m->seed_set == NULL ||
	    !ofs_is_hex_lower(m->seed_set, 32))
		return ofs_err_set(err, OFS_ERR_USAGE, "set manifest repository or seed set id "
		    "is missing or not 32 hex digits");
	if (m->ndisks == 0 || m->ndisks > OFS_SET_MAX_DISKS)
		return ofs_err_set(err, OFS_ERR_USAGE, "a set manifest needs 1 to %d disks, not "
		    "%zu", OFS_SET_MAX_DISKS, m->ndisks);
	if ((r = ofs_dest_parse(m->destination, NULL, NULL, NULL, err)) != 0)
		return r;
	for (size_t i = 0; i < m->ndisks; i++) {
		const struct ofs_set_disk *d = &m->disks[i];

		if (d->index != i + 1 || d->serial == NULL || !text_ok(d->serial, SERIAL_MAX) ||
		    !ofs_is_hex_lower(d->manifest_sha256, 64) || d->ncontainers > d->files)
			return ofs_err_set(err, OFS_ERR_USAGE, "set manifest disk %zu (index %u, "
			    "serial '%s') is invalid", i + 1, d->index, d->serial ? d->serial : "");
		for (size_t j = 0; j < i; j++)
			if (strcmp(m->disks[j].serial, d->serial) == 0)
				return ofs_err_set(err, OFS_ERR_USAGE, "disks %zu and %zu have the "
				    "same serial '%s'", j + 1, i + 1, d->serial);
		for (size_t j = 0; j < d->ncontainers; j++)
			if (d->containers[j] == NULL || !container_name_ok(d->containers[j]))
				return ofs_err_set(err, OFS_ERR_USAGE, "set manifest container name "
				    "'%s' is invalid", d->containers[j] ? d->containers[j] : "");
	}
	if (check_unique_containers(&c, m) != 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "a container is placed on two disks");

	ofs_buf_puts(out, "{\n  \"format\": \"offseed-set\",\n");
	ofs_buf_putf(out, "  \"version\": %u,\n", OFS_SET_MANIFEST_VERSION);
	if ((r = add_field(out, "tool", m->tool ? m->tool : "offseed " OFS_VERSION, err)) != 0 ||
	    (r = add_field(out, "created", m->created, err)) != 0 ||
	    (r = add_field(out, "repository", m->repository, err)) != 0 ||
	    (r = add_field(out, "seed_set", m->seed_set, err)) != 0 ||
	    (r = add_field(out, "job", m->job, err)) != 0 ||
	    (r = add_field(out, "destination", m->destination, err)) != 0)
		goto out;
	ofs_buf_puts(out, "  \"disks\": [");
	for (size_t i = 0; i < m->ndisks; i++) {
		const struct ofs_set_disk *d = &m->disks[i];

		ofs_buf_putf(out, "%s\n    { \"index\": %u, \"serial\": ", i ? "," : "", d->index);
		if (add_jstr(out, d->serial) != 0) {
			r = ofs_err_set(err, OFS_ERR_USAGE, "disk serial is not valid UTF-8");
			goto out;
		}
		ofs_buf_putf(out, ", \"manifest_sha256\": \"%s\", \"bytes\": %llu, \"files\": %llu, "
		    "\"containers\": [", d->manifest_sha256, (unsigned long long)d->bytes,
		    (unsigned long long)d->files);
		for (size_t j = 0; j < d->ncontainers; j++)
			ofs_buf_putf(out, "%s\"%s\"", j ? ", " : "", d->containers[j]);
		ofs_buf_puts(out, "] }");
	}
	ofs_buf_puts(out, "\n  ]\n}\n");
	if ((r = ofs_buf_check(&tmp)) != 0)
		r = ofs_err_set(err, r, "set manifest is too large");
	else if (ofs_buf_add(dst, tmp.data, tmp.len) != 0)
		r = ofs_err_set(err, OFS_ERR_USAGE, "set manifest of %zu bytes is larger than %zu "
		    "bytes", tmp.len, dst->max);
out:
	ofs_buf_release(&tmp);
	return r;
}

int
ofs_set_manifest_write(const struct ofs_set_manifest *m, const char *path,
    struct ofs_error *err)
{
	struct ofs_buf b = OFS_BUF_INIT(OFS_SET_MANIFEST_MAX);
	int r;

	if ((r = ofs_set_manifest_encode(m, &b, err)) == 0)
		r = ofs_write_file_atomic(path, b.data, b.len, 0644, err);
	ofs_buf_release(&b);
	return r;
}
