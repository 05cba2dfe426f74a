/* Manifests: the streaming whole-file + per-region XXH3-128 hasher, file hashing with large
 * sequential reads, and the manifest JSON codec (strict parser, deterministic encoder).
 * Format: docs/FORMAT.md "Manifest". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "manifest.h"
#include "util.h"

/* 1 MiB reads measured fastest from the page cache (the buffer stays in L2 while it is
 * hashed twice); the kernel's sequential readahead keeps the disk streaming. */
#define HASH_READ (1u << 20)
#define REGION_MIN 4096ULL
#define REGION_MAX (1ULL << 40)
#define PATH_MAX_LEN 4096

void
ofs_file_hashes_release(struct ofs_file_hashes *h)
{
	if (h == NULL)
		return;
	free(h->regions);
	memset(h, 0, sizeof(*h));
}

/* ---- hasher ---------------------------------------------------------------------------- */

struct ofs_hasher {
	uint64_t region_size;
	uint64_t total;
	uint64_t in_region;
	struct ofs_xxh *whole, *region;
	uint8_t (*regions)[OFS_XXH_LEN];
	size_t nregions, cap;
};

struct ofs_hasher *
ofs_hasher_new(uint64_t region_size)
{
	struct ofs_hasher *h = ofs_xcalloc(1, sizeof(*h));

	h->region_size = region_size ? region_size : OFS_REGION_SIZE;
	h->whole = ofs_xxh_new();
	h->region = ofs_xxh_new();
	return h;
}

static void
close_region(struct ofs_hasher *h)
{
	if (h->nregions == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 16;
		h->regions = ofs_xreallocarray(h->regions, h->cap, OFS_XXH_LEN);
	}
	ofs_xxh_digest(h->region, h->regions[h->nregions++]);
	ofs_xxh_reset(h->region);
	h->in_region = 0;
}

void
ofs_hasher_update(struct ofs_hasher *h, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t k;

	ofs_xxh_update(h->whole, p, n);
	h->total += n;
	while (n > 0) {
		k = h->region_size - h->in_region < n ? (size_t)(h->region_size - h->in_region) : n;
		ofs_xxh_update(h->region, b, k);
		h->in_region += k;
		b += k;
		n -= k;
		if (h->in_region == h->region_size)
			close_region(h);
	}
}

void
ofs_hasher_finish(struct ofs_hasher *h, struct ofs_file_hashes *out)
{
	memset(out, 0, sizeof(*out));
	if (h->in_region > 0)
		close_region(h);
	out->size = h->total;
	ofs_xxh_digest(h->whole, out->xxh);
	/* A file within one region is fully described by its whole-file hash. */
	if (h->nregions > 1) {
		out->regions = h->regions;
		out->nregions = h->nregions;
	} else {
		free(h->regions);
	}
	h->regions = NULL;
	h->nregions = h->cap = 0;
	h->total = h->in_region = 0;
	ofs_xxh_reset(h->whole);
	ofs_xxh_reset(h->region);
}

void
ofs_hasher_free(struct ofs_hasher *h)
{
	if (h == NULL)
		return;
	ofs_xxh_free(h->whole);
	ofs_xxh_free(h->region);
	free(h->regions);
	free(h);
}

int
ofs_hash_file(const char *path, uint64_t region_size, struct ofs_file_hashes *out,
    struct ofs_error *err)
{
	struct ofs_hasher *h = NULL;
	struct stat st;
	uint8_t *buf = NULL;
	ssize_t n;
	int fd, r = 0;

	memset(out, 0, sizeof(*out));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return ofs_err_sys(err, errno == ENOENT ? OFS_ERR_NOTFOUND : OFS_ERR_IO, errno,
		    "cannot open '%s'", path);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		r = ofs_err_sys(err, OFS_ERR_IO, S_ISREG(st.st_mode) ? errno : EINVAL,
		    "cannot hash '%s'", path);
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	buf = ofs_xmalloc(HASH_READ);
	h = ofs_hasher_new(region_size);
	for (;;) {
		n = read(fd, buf, HASH_READ);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = ofs_err_sys(err, OFS_ERR_IO, errno, "cannot read '%s' at offset %llu",
			    path, (unsigned long long)h->total);
			goto out;
		}
		if (n == 0)
			break;
		ofs_hasher_update(h, buf, (size_t)n);
	}
	ofs_hasher_finish(h, out);
out:
	ofs_hasher_free(h);
	free(buf);
	close(fd);
	return r;
}

/* ---- manifest object ------------------------------------------------------------------- */

struct ofs_manifest *
ofs_manifest_new(void)
{
	struct ofs_manifest *m = ofs_xcalloc(1, sizeof(*m));

	m->version = OFS_MANIFEST_VERSION;
	m->region_size = OFS_REGION_SIZE;
	return m;
}

void
ofs_manifest_free(struct ofs_manifest *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nfiles; i++) {
		free(m->files[i].path);
		ofs_file_hashes_release(&m->files[i].h);
	}
	free(m->files);
	free(m->tool);
	free(m->created);
	free(m->repository);
	free(m->seed_set);
	free(m->job);
	free(m->serial);
	free(m);
}

void
ofs_manifest_add(struct ofs_manifest *m, const char *path, struct ofs_file_hashes *h)
{
	struct ofs_manifest_file *f;

	if (m->nfiles == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->files = ofs_xreallocarray(m->files, m->cap, sizeof(*m->files));
	}
	f = &m->files[m->nfiles++];
	f->path = ofs_xstrdup(path);
	f->h = *h;
	memset(h, 0, sizeof(*h));	/* transferred */
}

/* Relative, '/'-separated, no empty, "." or ".." component, no control characters or
 * backslashes (the path must mean the same on the datacenter's Windows side). */
static int
path_ok(const char *p)
{
	size_t n = strlen(p), comp = 0;

	if (n == 0 || n > PATH_MAX_LEN || p[0] == '/' || p[n - 1] == '/')
		return 0;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '/' || c == '\0') {
			if (i == comp)
				return 0;	/* "//" */
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

static uint64_t
regions_for(uint64_t size, uint64_t region_size)
{
	return size / region_size + (size % region_size != 0);
}

static int
cmp_file(const void *a, const void *b)
{
	const struct ofs_manifest_file *x = a, *y = b;

	return strcmp(x->path, y->path);
}

static int
cmp_file_ptr(const void *a, const void *b)
{
	return cmp_file(*(const struct ofs_manifest_file *const *)a,
	    *(const struct ofs_manifest_file *const *)b);
}

/* ---- parser ---------------------------------------------------------------------------- */

struct pctx {
	const char *what;
	struct ofs_error *err;
};

static int
bad(struct pctx *c, const char *field, const char *why)
{
	return ofs_err_set(c->err, OFS_ERR_CORRUPT, "manifest '%s': field '%s' %s", c->what,
	    field, why);
}

static int
only_keys(struct pctx *c, json_t *obj, const char *where, const char *const *keys)
{
	const char *k;
	json_t *v;
	char f[320];

	json_object_foreach(obj, k, v) {
		size_t i;

		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(k, keys[i]) == 0)
				break;
		if (keys[i] == NULL) {
			snprintf(f, sizeof(f), "%s%s%.200s", where, *where ? "." : "", k);
			return bad(c, f, "is not part of manifest version 1");
		}
	}
	return 0;
}

static int
get_str(struct pctx *c, json_t *obj, const char *key, const char *field, int required,
    char **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL)
		return required ? bad(c, field, "is missing") : 0;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return bad(c, field, "must be a non-empty string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return bad(c, field, "contains a NUL character");
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

static int
is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static int
get_hash(struct pctx *c, json_t *v, const char *field, uint8_t out[OFS_XXH_LEN])
{
	if (v == NULL)
		return bad(c, field, "is missing");
	if (!json_is_string(v) || !is_hex(json_string_value(v), 2 * OFS_XXH_LEN))
		return bad(c, field, "must be 32 lower-case hex digits");
	ofs_unhex(json_string_value(v), out, OFS_XXH_LEN);
	return 0;
}

static const char *const top_keys[] = { "format", "version", "tool", "created", "repository",
	"seed_set", "job", "disk", "region_size", "files", NULL };
static const char *const disk_keys[] = { "index", "count", "serial", NULL };
static const char *const file_keys[] = { "path", "size", "xxh128", "regions", NULL };

static int
parse_file(struct pctx *c, struct ofs_manifest *m, json_t *o, size_t i)
{
	struct ofs_file_hashes h;
	char field[96], *path = NULL;
	json_t *regs;
	uint64_t n;
	int r;

	memset(&h, 0, sizeof(h));
	snprintf(field, sizeof(field), "files[%zu]", i);
	if (!json_is_object(o))
		return bad(c, field, "must be an object");
	if ((r = only_keys(c, o, field, file_keys)) != 0)
		return r;
	snprintf(field, sizeof(field), "files[%zu].path", i);
	if ((r = get_str(c, o, "path", field, 1, &path)) != 0)
		return r;
	if (!path_ok(path)) {
		free(path);
		return bad(c, field, "must be a relative path without '.', '..', '//' or "
		    "control characters");
	}
	snprintf(field, sizeof(field), "files[%zu].size", i);
	if ((r = get_uint(c, o, "size", field, &h.size)) != 0)
		goto out;
	snprintf(field, sizeof(field), "files[%zu].xxh128", i);
	if ((r = get_hash(c, json_object_get(o, "xxh128"), field, h.xxh)) != 0)
		goto out;
	if ((regs = json_object_get(o, "regions")) != NULL) {
		snprintf(field, sizeof(field), "files[%zu].regions", i);
		n = regions_for(h.size, m->region_size);
		if (!json_is_array(regs)) {
			r = bad(c, field, "must be an array");
			goto out;
		}
		if (json_array_size(regs) != n || n == 0) {
			char why[128];

			snprintf(why, sizeof(why), "has %zu entries, the size needs %llu",
			    json_array_size(regs), (unsigned long long)n);
			r = bad(c, field, why);
			goto out;
		}
		h.regions = ofs_xreallocarray(NULL, (size_t)n, OFS_XXH_LEN);
		h.nregions = (size_t)n;
		for (size_t j = 0; j < n; j++) {
			snprintf(field, sizeof(field), "files[%zu].regions[%zu]", i, j);
			if ((r = get_hash(c, json_array_get(regs, j), field, h.regions[j])) != 0)
				goto out;
		}
	}
	ofs_manifest_add(m, path, &h);
out:
	free(path);
	ofs_file_hashes_release(&h);
	return r;
}

int
ofs_manifest_parse(const uint8_t *p, size_t len, const char *what, struct ofs_manifest **out,
    struct ofs_error *err)
{
	struct pctx c = { what, err };
	struct ofs_manifest *m = NULL;
	json_error_t je;
	json_t *root = NULL, *v, *files;
	uint64_t u, dcount;
	int r = 0;

	*out = NULL;
	if ((root = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "manifest '%s': invalid JSON at line %d "
		    "column %d: %s", what, je.line, je.column, je.text);
		goto out;
	}
	if (!json_is_object(root)) {
		r = bad(&c, "(top)", "must be a JSON object");
		goto out;
	}
	v = json_object_get(root, "format");
	if (!json_is_string(v) || strcmp(json_string_value(v), "offseed-manifest") != 0) {
		r = bad(&c, "format", "must be \"offseed-manifest\"");
		goto out;
	}
	if ((r = get_uint(&c, root, "version", "version", &u)) != 0)
		goto out;
	if (u == 0) {
		r = bad(&c, "version", "must be at least 1");
		goto out;
	}
	if (u > OFS_MANIFEST_VERSION) {
		r = ofs_err_set(err, OFS_ERR_VERSION, "manifest '%s' has format version %llu, "
		    "newer than this offseed supports (version %u); upgrade offseed", what,
		    (unsigned long long)u, OFS_MANIFEST_VERSION);
		goto out;
	}
	if ((r = only_keys(&c, root, "", top_keys)) != 0)
		goto out;
	m = ofs_manifest_new();
	m->version = (uint32_t)u;
	if ((r = get_str(&c, root, "tool", "tool", 1, &m->tool)) != 0 ||
	    (r = get_str(&c, root, "created", "created", 1, &m->created)) != 0 ||
	    (r = get_str(&c, root, "repository", "repository", 1, &m->repository)) != 0 ||
	    (r = get_str(&c, root, "seed_set", "seed_set", 0, &m->seed_set)) != 0 ||
	    (r = get_str(&c, root, "job", "job", 0, &m->job)) != 0)
		goto out;
	{
		int64_t t;

		if (ofs_parse_time(m->created, &t) != 0) {
			r = bad(&c, "created", "must be an RFC 3339 time");
			goto out;
		}
	}
	if (!is_hex(m->repository, 32)) {
		r = bad(&c, "repository", "must be 32 lower-case hex digits");
		goto out;
	}
	if (m->seed_set != NULL && !is_hex(m->seed_set, 32)) {
		r = bad(&c, "seed_set", "must be 32 lower-case hex digits");
		goto out;
	}
	if ((v = json_object_get(root, "disk")) != NULL) {
		if (!json_is_object(v)) {
			r = bad(&c, "disk", "must be an object");
			goto out;
		}
		if ((r = only_keys(&c, v, "disk", disk_keys)) != 0 ||
		    (r = get_uint(&c, v, "index", "disk.index", &u)) != 0 ||
		    (r = get_uint(&c, v, "count", "disk.count", &dcount)) != 0 ||
		    (r = get_str(&c, v, "serial", "disk.serial", 1, &m->serial)) != 0)
			goto out;
		if (dcount == 0 || dcount > 100000) {
			r = bad(&c, "disk.count", "must be between 1 and 100000");
			goto out;
		}
		if (u == 0 || u > dcount) {
			r = bad(&c, "disk.index", "must be between 1 and disk.count");
			goto out;
		}
		m->has_disk = 1;
		m->disk_index = (uint32_t)u;
		m->disk_count = (uint32_t)dcount;
	}
	if ((r = get_uint(&c, root, "region_size", "region_size", &m->region_size)) != 0)
		goto out;
	if (m->region_size < REGION_MIN || m->region_size > REGION_MAX ||
	    m->region_size % REGION_MIN != 0) {
		r = bad(&c, "region_size", "must be a multiple of 4096 between 4096 and 2^40");
		goto out;
	}
	files = json_object_get(root, "files");
	if (files == NULL || !json_is_array(files)) {
		r = bad(&c, "files", files == NULL ? "is missing" : "must be an array");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(files); i++)
		if ((r = parse_file(&c, m, json_array_get(files, i), i)) != 0)
			goto out;
	if (m->nfiles > 1)
		qsort(m->files, m->nfiles, sizeof(*m->files), cmp_file);
	for (size_t i = 1; i < m->nfiles; i++) {
		if (strcmp(m->files[i - 1].path, m->files[i].path) == 0) {
			r = ofs_err_set(err, OFS_ERR_CORRUPT, "manifest '%s': path '%s' is listed "
			    "twice", what, m->files[i].path);
			goto out;
		}
	}
	*out = m;
	m = NULL;	/* transferred */
out:
	json_decref(root);
	ofs_manifest_free(m);
	return r;
}

int
ofs_manifest_load(const char *path, struct ofs_manifest **out, struct ofs_error *err)
{
	struct ofs_buf raw = OFS_BUF_INIT(OFS_MANIFEST_MAX);
	int r;

	*out = NULL;
	if ((r = ofs_buf_read_file(&raw, path, err)) != 0)
		goto out;
	r = ofs_manifest_parse(raw.data, raw.len, path, out, err);
out:
	ofs_buf_release(&raw);
	return r;
}

/* ---- encoder --------------------------------------------------------------------------- */

/* Append s as a JSON string; fails (-1) on invalid UTF-8. */
static int
add_jstr(struct ofs_buf *b, const char *s)
{
	json_t *t = json_string(s);

	if (t == NULL)
		return -1;
	json_decref(t);
	ofs_buf_addc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			ofs_buf_addc(b, '\\');
			ofs_buf_addc(b, *p);
		} else if (*p < 0x20 || *p == 0x7f) {
			ofs_buf_addf(b, "\\u%04x", *p);
		} else {
			ofs_buf_addc(b, *p);
		}
	}
	return ofs_buf_addc(b, '"');
}

static void
add_hash(struct ofs_buf *b, const uint8_t h[OFS_XXH_LEN])
{
	char hex[2 * OFS_XXH_LEN + 1];

	ofs_hex(h, OFS_XXH_LEN, hex);
	ofs_buf_addf(b, "\"%s\"", hex);
}

static int
add_field(struct ofs_buf *b, const char *key, const char *val, const char *what,
    struct ofs_error *err)
{
	ofs_buf_addf(b, "  \"%s\": ", key);
	if (add_jstr(b, val) != 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "manifest field '%s' is not valid UTF-8",
		    what);
	return ofs_buf_adds(b, ",\n");
}

int
ofs_manifest_encode(const struct ofs_manifest *m, struct ofs_buf *dst, struct ofs_error *err)
{
	const struct ofs_manifest_file **sorted = NULL;
	struct ofs_buf tmp = OFS_BUF_INIT(0), *out = &tmp;
	char tool[64], created[64];
	int r = 0;

	if (m->repository == NULL || !is_hex(m->repository, 32))
		return ofs_err_set(err, OFS_ERR_USAGE, "manifest repository id is missing or not "
		    "32 hex digits");
	if (m->seed_set != NULL && !is_hex(m->seed_set, 32))
		return ofs_err_set(err, OFS_ERR_USAGE, "manifest seed set id is not 32 hex digits");
	if (m->region_size < REGION_MIN || m->region_size > REGION_MAX ||
	    m->region_size % REGION_MIN != 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "manifest region size %llu is invalid",
		    (unsigned long long)m->region_size);
	if (m->has_disk && (m->disk_count == 0 || m->disk_index == 0 ||
	    m->disk_index > m->disk_count || m->serial == NULL || m->serial[0] == '\0'))
		return ofs_err_set(err, OFS_ERR_USAGE, "manifest disk %u of %u (serial '%s') is "
		    "invalid", m->disk_index, m->disk_count, m->serial ? m->serial : "");
	snprintf(tool, sizeof(tool), "offseed %s", OFS_VERSION);
	if (m->created == NULL)
		ofs_fmt_time(ofs_now_ns() / 1000000000, created, sizeof(created));

	sorted = ofs_xreallocarray(NULL, m->nfiles ? m->nfiles : 1, sizeof(*sorted));
	for (size_t i = 0; i < m->nfiles; i++)
		sorted[i] = &m->files[i];
	if (m->nfiles > 1)
		qsort(sorted, m->nfiles, sizeof(*sorted), cmp_file_ptr);
	for (size_t i = 0; i < m->nfiles; i++) {
		const struct ofs_manifest_file *f = sorted[i];

		if (f->path == NULL || !path_ok(f->path)) {
			r = ofs_err_set(err, OFS_ERR_USAGE, "manifest path '%s' is not a clean "
			    "relative path", f->path ? f->path : "(null)");
			goto out;
		}
		if (i > 0 && strcmp(sorted[i - 1]->path, f->path) == 0) {
			r = ofs_err_set(err, OFS_ERR_USAGE, "manifest path '%s' is listed twice",
			    f->path);
			goto out;
		}
		if (f->h.nregions > 0 &&
		    f->h.nregions != regions_for(f->h.size, m->region_size)) {
			r = ofs_err_set(err, OFS_ERR_USAGE, "manifest entry '%s' has %zu regions, "
			    "its size needs %llu", f->path, f->h.nregions,
			    (unsigned long long)regions_for(f->h.size, m->region_size));
			goto out;
		}
	}

	ofs_buf_adds(out, "{\n  \"format\": \"offseed-manifest\",\n");
	ofs_buf_addf(out, "  \"version\": %u,\n", OFS_MANIFEST_VERSION);
	if ((r = add_field(out, "tool", m->tool ? m->tool : tool, "tool", err)) != 0 ||
	    (r = add_field(out, "created", m->created ? m->created : created, "created",
	    err)) != 0 ||
	    (r = add_field(out, "repository", m->repository, "repository", err)) != 0)
		goto out;
	if (m->seed_set != NULL &&
	    (r = add_field(out, "seed_set", m->seed_set, "seed_set", err)) != 0)
		goto out;
	if (m->job != NULL && (r = add_field(out, "job", m->job, "job", err)) != 0)
		goto out;
	if (m->has_disk) {
		ofs_buf_addf(out, "  \"disk\": { \"index\": %u, \"count\": %u, \"serial\": ",
		    m->disk_index, m->disk_count);
		if (add_jstr(out, m->serial) != 0) {
			r = ofs_err_set(err, OFS_ERR_USAGE, "manifest disk serial is not valid "
			    "UTF-8");
			goto out;
		}
		ofs_buf_adds(out, " },\n");
	}
	ofs_buf_addf(out, "  \"region_size\": %llu,\n", (unsigned long long)m->region_size);
	ofs_buf_adds(out, "  \"files\": [");
	for (size_t i = 0; i < m->nfiles; i++) {
		const struct ofs_manifest_file *f = sorted[i];

		ofs_buf_adds(out, i ? ",\n    { \"path\": " : "\n    { \"path\": ");
		if (add_jstr(out, f->path) != 0) {
			r = ofs_err_set(err, OFS_ERR_USAGE, "manifest path '%s' is not valid UTF-8",
			    f->path);
			goto out;
		}
		ofs_buf_addf(out, ", \"size\": %llu, \"xxh128\": ", (unsigned long long)f->h.size);
		add_hash(out, f->h.xxh);
		if (f->h.nregions > 0) {
			ofs_buf_adds(out, ", \"regions\": [");
			for (size_t j = 0; j < f->h.nregions; j++) {
				if (j)
					ofs_buf_adds(out, ", ");
				add_hash(out, f->h.regions[j]);
			}
			ofs_buf_adds(out, "]");
		}
		ofs_buf_adds(out, " }");
	}
	ofs_buf_adds(out, m->nfiles ? "\n  ]\n}\n" : "]\n}\n");
	if (ofs_buf_add(dst, tmp.data, tmp.len) != 0)
		r = ofs_err_set(err, OFS_ERR_USAGE, "manifest of %zu bytes is larger than %zu "
		    "bytes", tmp.len, dst->max);
out:
	ofs_buf_release(&tmp);
	free(sorted);
	return r;
}

int
ofs_manifest_write(const struct ofs_manifest *m, const char *path, struct ofs_error *err)
{
	struct ofs_buf b = OFS_BUF_INIT(OFS_MANIFEST_MAX);
	int r;

	if ((r = ofs_manifest_encode(m, &b, err)) == 0)
		r = ofs_write_file_atomic(path, b.data, b.len, 0644, err);
	ofs_buf_release(&b);
	return r;
}
