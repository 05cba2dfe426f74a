/* Fuzz target: the manifest parser. It must give the same answer (code, and the same
 * manifest) as the reference below — the jansson DOM parser it replaced, plus the rules
 * added since (control characters, entry and size limits, text lengths) — and whatever parses must
 * encode, and the encoding must parse back to the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "manifest.h"
#include "util.h"

/* Small, so that inputs the fuzzer can grow reach it. */
#define FUZZ_MAX_FILES 16
#define REGION_MIN 4096ULL
#define REGION_MAX (1ULL << 40)
#define PATH_MAX_LEN 4096
#define TEXT_MAX 4096		/* tool, job (the set manifest's limits, FORMAT.md §21) */
#define SERIAL_MAX 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the reference parser ------------------------------------------------------------- */

static int
ref_path_ok(const char *p)
{
	size_t n = strlen(p), comp = 0;

	if (n == 0 || n > PATH_MAX_LEN || p[0] == '/' || p[n - 1] == '/')
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

static int
ref_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int
ref_keys(json_t *obj, const char *const *keys)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		size_t i;

		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(k, keys[i]) == 0)
				break;
		if (keys[i] == NULL)
			return -1;
	}
	return 0;
}

static int
ref_str(json_t *obj, const char *key, int required, size_t max, char **out)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	*out = NULL;
	if (v == NULL)
		return required ? -1 : 0;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return -1;
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v) || strlen(s) > max)
		return -1;
	for (const char *q = s; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			return -1;
	*out = ofs_xstrdup(s);
	return 0;
}

static int
ref_uint(json_t *obj, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || !json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int
ref_hash(json_t *v, uint8_t out[OFS_XXH_LEN])
{
	if (v == NULL || !json_is_string(v) || !ref_hex(json_string_value(v), 2 * OFS_XXH_LEN))
		return -1;
	return ofs_unhex(json_string_value(v), out, OFS_XXH_LEN);
}

static int
ref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ofs_manifest_file *)a)->path,
	    ((const struct ofs_manifest_file *)b)->path);
}

static int
ref_file(struct ofs_manifest *m, json_t *o, uint64_t *total)
{
	static const char *const keys[] = { "path", "size", "xxh128", "regions", NULL };
	struct ofs_file_hashes h;
	char *path = NULL;
	json_t *regs;
	uint64_t n;
	int r = -1;

	memset(&h, 0, sizeof(h));
	if (!json_is_object(o) || ref_keys(o, keys) != 0 ||
	    ref_str(o, "path", 1, SIZE_MAX, &path) != 0)
		goto out;
	if (!ref_path_ok(path) || ref_uint(o, "size", &h.size) != 0 ||
	    h.size > OFS_MANIFEST_MAX_BYTES - *total)
		goto out;
	*total += h.size;
	if (ref_hash(json_object_get(o, "xxh128"), h.xxh) != 0)
		goto out;
	if ((regs = json_object_get(o, "regions")) != NULL) {
		n = h.size / m->region_size + (h.size % m->region_size != 0);
		if (!json_is_array(regs) || json_array_size(regs) != n || n == 0)
			goto out;
		h.regions = ofs_xreallocarray(NULL, (size_t)n, OFS_XXH_LEN);
		h.nregions = (size_t)n;
		for (size_t j = 0; j < n; j++)
			if (ref_hash(json_array_get(regs, j), h.regions[j]) != 0)
				goto out;
	}
	ofs_manifest_add(m, path, &h);
	r = 0;
out:
	free(path);
	ofs_file_hashes_release(&h);
	return r;
}

/* The same codes as ofs_manifest_parse_limits; messages are not compared. */
static int
ref_parse(const uint8_t *p, size_t len, size_t max_files, struct ofs_manifest **out)
{
	static const char *const top[] = { "format", "version", "tool", "created", "repository",
		"seed_set", "job", "disk", "region_size", "files", NULL };
	static const char *const dkeys[] = { "index", "count", "serial", NULL };
	struct ofs_manifest *m = NULL;
	json_t *root, *v, *files;
	uint64_t u, dcount, total = 0;
	int64_t t;
	int r = OFS_ERR_CORRUPT;

	*out = NULL;
	if (len > OFS_MANIFEST_MAX)
		return OFS_ERR_CORRUPT;
	/* jansson drops one NUL byte right after a number or true/false/null (its one-byte
	 * push-back uses NUL as "empty"); a NUL is never JSON, and the parser refuses it. */
	if (memchr(p, '\0', len) != NULL)
		return OFS_ERR_CORRUPT;
	if ((root = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return OFS_ERR_CORRUPT;
	if (!json_is_object(root))
		goto out;
	v = json_object_get(root, "format");
	if (!json_is_string(v) || strcmp(json_string_value(v), "offseed-manifest") != 0)
		goto out;
	if (ref_uint(root, "version", &u) != 0 || u == 0)
		goto out;
	if (u > OFS_MANIFEST_VERSION) {
		r = OFS_ERR_VERSION;
		goto out;
	}
	if (ref_keys(root, top) != 0)
		goto out;
	m = ofs_manifest_new();
	m->version = (uint32_t)u;
	if (ref_str(root, "tool", 1, TEXT_MAX, &m->tool) != 0 ||
	    ref_str(root, "created", 1, SIZE_MAX, &m->created) != 0 ||
	    ref_str(root, "repository", 1, SIZE_MAX, &m->repository) != 0 ||
	    ref_str(root, "seed_set", 0, SIZE_MAX, &m->seed_set) != 0 ||
	    ref_str(root, "job", 0, TEXT_MAX, &m->job) != 0)
		goto out;
	if (ofs_parse_time(m->created, &t) != 0 || !ref_hex(m->repository, 32) ||
	    (m->seed_set != NULL && !ref_hex(m->seed_set, 32)))
		goto out;
	if ((v = json_object_get(root, "disk")) != NULL) {
		if (!json_is_object(v) || ref_keys(v, dkeys) != 0 ||
		    ref_uint(v, "index", &u) != 0 || ref_uint(v, "count", &dcount) != 0 ||
		    ref_str(v, "serial", 1, SERIAL_MAX, &m->serial) != 0)
			goto out;
		if (dcount == 0 || dcount > 100000 || u == 0 || u > dcount)
			goto out;
		m->has_disk = 1;
		m->disk_index = (uint32_t)u;
		m->disk_count = (uint32_t)dcount;
	}
	if (ref_uint(root, "region_size", &m->region_size) != 0 ||
	    m->region_size < REGION_MIN || m->region_size > REGION_MAX ||
	    m->region_size % REGION_MIN != 0)
		goto out;
	files = json_object_get(root, "files");
	if (!json_is_array(files) || json_array_size(files) > max_files)
		goto out;
	for (size_t i = 0; i < json_array_size(files); i++)
		if (ref_file(m, json_array_get(files, i), &total) != 0)
			goto out;
	if (m->nfiles > 1)
		qsort(m->files, m->nfiles, sizeof(*m->files), ref_cmp);
	for (size_t i = 1; i < m->nfiles; i++)
		if (strcmp(m->files[i - 1].path, m->files[i].path) == 0)
			goto out;
	*out = m;
	m = NULL;	/* transferred */
	r = 0;
out:
	json_decref(root);
	ofs_manifest_free(m);
	return r;
}

/* ---- the target ----------------------------------------------------------------------- */

static void
same_or_abort(const char *what, int a, int b, const char *msg)
{
	if (a != b) {
		fprintf(stderr, "fuzz_manifest: %s: parser %d, reference %d (%s)\n", what, a, b,
		    msg);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ofs_manifest *m = NULL, *m2 = NULL, *ref = NULL;
	struct ofs_buf a = OFS_BUF_INIT(0), b = OFS_BUF_INIT(0), c = OFS_BUF_INIT(0);
	struct ofs_error err;
	int r, rr;

	ofs_err_clear(&err);
	r = ofs_manifest_parse_limits(data, size, "fuzz", FUZZ_MAX_FILES, &m, &err);
	rr = ref_parse(data, size, FUZZ_MAX_FILES, &ref);
	same_or_abort("code", r, rr, err.msg);
	if (r != 0) {
		if (m != NULL || strstr(err.msg, "'fuzz'") == NULL)
			abort();
		return 0;
	}
	if (ofs_manifest_encode(m, &a, &err) != 0 || ofs_manifest_encode(ref, &c, &err) != 0)
		abort();
	if (a.len != c.len || memcmp(a.data, c.data, a.len) != 0)
		abort();	/* both accept, but read different manifests */
	if (ofs_manifest_parse_limits(a.data, a.len, "fuzz-again", FUZZ_MAX_FILES, &m2,
	    &err) != 0)
		abort();
	if (ofs_manifest_encode(m2, &b, &err) != 0 || a.len != b.len ||
	    memcmp(a.data, b.data, a.len) != 0)
		abort();
	ofs_manifest_free(m);
	ofs_manifest_free(m2);
	ofs_manifest_free(ref);
	ofs_buf_release(&a);
	ofs_buf_release(&b);
	ofs_buf_release(&c);
	return 0;
}
