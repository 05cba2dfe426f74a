/* Manifests: the streaming whole-file + per-region XXH3-128 hasher, file hashing with large
 * sequential reads, and the manifest JSON codec (strict parser, deterministic encoder).
 * Format: docs/FORMAT.md "Manifest". */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest.h"
#include "util.h"

/* 1 MiB reads measured fastest from the page cache (the buffer stays in L2 while it is
 * hashed twice); the kernel's sequential readahead keeps the disk streaming. */
#define HASH_READ (1u << 20)
#define REGION_MIN 4096ULL
#define REGION_MAX (1ULL << 40)
#define PATH_MAX_LEN 4096
/* Free text takes the set manifest's limits (FORMAT.md §21), which name the same things;
 * created, repository and seed_set have their own exact forms checked after. */
#define TEXT_MAX 4096		/* tool, job */
#define SERIAL_MAX 256
#define FORM_MAX OFS_MANIFEST_MAX

void
ofs_file_hashes_release(struct ofs_file_hashes *h)
{
	if (h == NULL)
		return;
	free(h->regions);
	memset(h, 0, sizeof(*h));
}

void
ofs_file_hashes_copy(const struct ofs_file_hashes *src, struct ofs_file_hashes *dst)
{
	*dst = *src;
	dst->regions = NULL;
	if (src->nregions > 0) {
		dst->regions = ofs_xreallocarray(NULL, src->nregions, OFS_XXH_LEN);
		memcpy(dst->regions, src->regions, src->nregions * OFS_XXH_LEN);
	}
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

/* ---- JSON text ------------------------------------------------------------------------- *
 * A manifest is up to 256 MiB of JSON from a customer's disk, so it is never turned into a
 * document (jansson's took 5 to 80 bytes per byte of input, by the form the sender chose).
 * json_check() reads the whole text once and accepts exactly what jansson's json_loadb(…,
 * JSON_REJECT_DUPLICATES) accepts — any whitespace, key order and escape; valid UTF-8; no
 * NUL; nesting depth ≤ 2048; integers within int64_t; no key twice in an object — holding
 * only the offsets of the keys of the objects still open (one exception: jansson drops a NUL
 * byte right after a number or literal; here a NUL is never JSON). The fields are then read
 * from the checked text by seeking (jobj_index, jarr_after, jstr, jint), so that code may
 * rely on the grammar; it still never reads past the end. fuzz_manifest keeps the former
 * jansson parser as the reference and checks that both give the same answer on every
 * input. */

#define JSON_MAX_DEPTH 2048	/* jansson's JSON_PARSER_MAX_DEPTH */
#define KEY_SORT_MIN 9		/* objects with more keys are sorted to find a repeated key */

static int
is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static const uint8_t *
skip_ws(const uint8_t *p, const uint8_t *end)
{
	while (p < end && is_ws(*p))
		p++;
	return p;
}

static int
hex4(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
	*v = 0;
	if (end - p < 4)
		return 0;
	for (int i = 0; i < 4; i++) {
		int d = ofs_hexval(p[i]);

		if (d < 0)
			return 0;
		*v = *v << 4 | (uint32_t)d;
	}
	return 1;
}

/* The escape at p (a backslash) as a code point: its length in bytes, or 0 when jansson
 * refuses it (unknown letter, bad hex, a surrogate that is not a high-low pair). */
static size_t
escape_at(const uint8_t *p, const uint8_t *end, uint32_t *cp)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *k;
	uint32_t lo;

	if (end - p < 2)
		return 0;
	if (p[1] != 'u') {
		if (p[1] == '\0' || (k = strchr(from, p[1])) == NULL)
			return 0;
		*cp = (uint8_t)to[k - from];
		return 2;
	}
	if (!hex4(p + 2, end, cp) || (*cp >= 0xdc00 && *cp <= 0xdfff))
		return 0;
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 6;
	if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || !hex4(p + 8, end, &lo) ||
	    lo < 0xdc00 || lo > 0xdfff)
		return 0;
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 12;
}

static unsigned
utf8_put(uint32_t cp, uint8_t u[4])
{
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	u[0] = (uint8_t)(0xf0 | cp >> 18);
	u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	u[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* The decoded bytes of a checked string, one at a time (comparing keys without copies). */
struct jiter {
	const uint8_t *p, *end;
	uint8_t u[4];
	unsigned nu, iu;
};

static int
jiter_next(struct jiter *it)
{
	uint32_t cp;
	size_t n;

	if (it->iu < it->nu)
		return it->u[it->iu++];
	if (it->p >= it->end || *it->p == '"')
		return -1;
	if (*it->p != '\\')
		return *it->p++;
	if ((n = escape_at(it->p, it->end, &cp)) == 0)
		return -1;
	it->p += n;
	it->nu = utf8_put(cp, it->u);
	it->iu = 1;
	return it->u[0];
}

/* The decoded string at p (checked) into out (the first max bytes, NUL-terminated; out may
 * be NULL when max is 0); returns the whole decoded length. */
static size_t
jstr(const uint8_t *p, const uint8_t *end, char *out, size_t max)
{
	struct jiter it = { p + 1, end, { 0 }, 0, 0 };
	size_t n = 0;
	int c;

	while ((c = jiter_next(&it)) != -1) {
		if (n < max)
			out[n] = (char)c;
		n++;
	}
	if (out != NULL)
		out[n < max ? n : max] = '\0';
	return n;
}

enum { T_FORMAT, T_VERSION, T_TOOL, T_CREATED, T_REPOSITORY, T_SEED_SET, T_JOB, T_DISK,
	T_REGION_SIZE, T_FILES, T_COUNT };
enum { D_INDEX, D_COUNT, D_SERIAL, D_NKEYS };
enum { F_PATH, F_SIZE, F_XXH, F_REGIONS, F_NKEYS };

/* In the order of the enums above. Which are required is checked field by field, in a
 * fixed order, so that one manifest always gets the same message. */
static const struct ofs_key top_keys[] = { { "format", OFS_KEY_REQUIRED },
	{ "version", OFS_KEY_REQUIRED }, { "tool", OFS_KEY_REQUIRED },
	{ "created", OFS_KEY_REQUIRED }, { "repository", OFS_KEY_REQUIRED }, { "seed_set", 0 },
	{ "job", 0 }, { "disk", 0 }, { "region_size", OFS_KEY_REQUIRED },
	{ "files", OFS_KEY_REQUIRED }, { NULL, 0 } };
static const struct ofs_key disk_keys[] = { { "index", OFS_KEY_REQUIRED },
	{ "count", OFS_KEY_REQUIRED }, { "serial", OFS_KEY_REQUIRED }, { NULL, 0 } };
static const struct ofs_key file_keys[] = { { "path", OFS_KEY_REQUIRED },
	{ "size", OFS_KEY_REQUIRED }, { "xxh128", OFS_KEY_REQUIRED }, { "regions", 0 },
	{ NULL, 0 } };

/* Which of keys[] the key at p is, or -1 (names are shorter than 16 bytes). */
static int
key_index(const uint8_t *p, const uint8_t *end, const struct ofs_key *keys)
{
	char k[16];
	size_t n = jstr(p, end, k, sizeof(k) - 1);

	return n < sizeof(k) - 1 ? ofs_key_find(keys, k, n) : -1;
}

/* ---- pass 1: the grammar ---- */

/* Where the top-level members are, noted by pass 1 so that the files array, nearly all of
 * a manifest, is not skimmed again to find them. */
struct jtop {
	const uint8_t *v[T_COUNT];	/* values, NULL when absent */
	const uint8_t *unknown;		/* first key not in top_keys, or NULL */
	size_t nfiles;			/* elements of "files" when it is an array */
};

struct jcheck {
	const uint8_t *base, *p, *end;
	const char *why;
	uint32_t *keys;			/* offsets of the open objects' keys (len ≤ 256 MiB) */
	size_t nkeys, capkeys;
	uint32_t keybase[JSON_MAX_DEPTH];	/* per open container: its first key in keys */
	char type[JSON_MAX_DEPTH];		/* '{' or '[' */
	size_t depth;			/* containers open */
	struct jtop top;
	int cur_top;			/* top_keys index of the member being read, or -1 */
	int in_files;			/* the container open at depth 2 is the files array */
};

static int
jfail(struct jcheck *s, const uint8_t *at, const char *why)
{
	s->p = at;
	s->why = why;
	return -1;
}

/* The string at s->p (its opening quote); s->p moves past it. */
static int
jc_string(struct jcheck *s, int is_key)
{
	const uint8_t *start = s->p + 1, *q = start;
	uint8_t high = 0;
	uint32_t cp;
	size_t n;

	for (;;) {
		if (q == s->end)
			return jfail(s, q, "premature end of input");
		if (*q == '"')
			break;
		if (*q < 0x20)
			return jfail(s, q, "control character in a string");
		if (*q == '\\') {
			if ((n = escape_at(q, s->end, &cp)) == 0)
				return jfail(s, q, "invalid escape");
			if (cp == 0)
				return jfail(s, q, is_key ? "NUL byte in object key not supported" :
				    "\\u0000 is not allowed");
			q += n;
			continue;
		}
		high |= *q++;
	}
	if ((high & 0x80) && !ofs_text_utf8_ok(start, (size_t)(q - start)))
		return jfail(s, start, "invalid UTF-8");
	s->p = q + 1;
	return 0;
}

/* Whether the decimal digits d[0..n) (no leading zero) fit int64_t, negated or not. */
static int
int_fits(const uint8_t *d, size_t n, int neg)
{
	const char *lim = neg ? "9223372036854775808" : "9223372036854775807";

	return n < 19 || (n == 19 && memcmp(d, lim, 19) <= 0);
}

/* jansson refuses a real only when strtod overflows to ±HUGE_VAL. */
static int
real_overflows(const uint8_t *p, size_t n)
{
	char small[64], *s = n < sizeof(small) ? small : ofs_xmalloc(n + 1);
	double v;
	int over;

	memcpy(s, p, n);
	s[n] = '\0';
	errno = 0;
	v = strtod(s, NULL);	/* JSON's '.' is the C locale's, and offseed never sets one */
	over = (v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE;
	if (s != small)
		free(s);
	return over;
}

static int
jc_number(struct jcheck *s)
{
	const uint8_t *q = s->p, *d, *end = s->end;
	int neg = 0;

	if (*q == '-') {
		neg = 1;
		q++;
	}
	d = q;
	if (q == end || !is_digit(*q))
		return jfail(s, s->p, "invalid token");
	if (*q == '0') {
		if (++q < end && is_digit(*q))
			return jfail(s, s->p, "invalid token");
	} else {
		while (q < end && is_digit(*q))
			q++;
	}
	if (!(q < end && (*q == '.' || *q == 'e' || *q == 'E'))) {
		if (!int_fits(d, (size_t)(q - d), neg))
			return jfail(s, s->p, neg ? "too big negative integer" : "too big integer");
		s->p = q;
		return 0;
	}
	if (*q == '.') {
		if (++q == end || !is_digit(*q))
			return jfail(s, s->p, "invalid token");
		while (q < end && is_digit(*q))
			q++;
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if (q == end || !is_digit(*q))
			return jfail(s, s->p, "invalid token");
		while (q < end && is_digit(*q))
			q++;
	}
	if (real_overflows(s->p, (size_t)(q - s->p)))
		return jfail(s, s->p, "real number overflow");
	s->p = q;
	return 0;
}

/* true, false or null: jansson reads a whole run of letters as one word. */
static int
jc_word(struct jcheck *s)
{
	const uint8_t *q = s->p;
	size_t n;

	while (q < s->end && ((*q | 0x20) >= 'a' && (*q | 0x20) <= 'z'))
		q++;
	n = (size_t)(q - s->p);
	if (!((n == 4 && memcmp(s->p, "true", 4) == 0) ||
	    (n == 5 && memcmp(s->p, "false", 5) == 0) || (n == 4 && memcmp(s->p, "null", 4) == 0)))
		return jfail(s, s->p, "invalid token");
	s->p = q;
	return 0;
}

static int
key_cmp(const struct jcheck *s, uint32_t a, uint32_t b)
{
	struct jiter x = { s->base + a + 1, s->end, { 0 }, 0, 0 };
	struct jiter y = { s->base + b + 1, s->end, { 0 }, 0, 0 };
	int c, d;

	do {
		c = jiter_next(&x);
		d = jiter_next(&y);
	} while (c == d && c != -1);
	return c - d;
}

static void
key_sift(const struct jcheck *s, uint32_t *k, size_t i, size_t n)
{
	uint32_t t;

	for (size_t c; (c = 2 * i + 1) < n; i = c) {
		if (c + 1 < n && key_cmp(s, k[c + 1], k[c]) > 0)
			c++;
		if (key_cmp(s, k[i], k[c]) >= 0)
			return;
		t = k[i];
		k[i] = k[c];
		k[c] = t;
	}
}

/* The object closing at depth s->depth has no key twice (compared decoded, as jansson
 * does). Large objects are heap-sorted in place: no memory beyond the key offsets. */
static int
jc_close_object(struct jcheck *s)
{
	uint32_t *k = s->keys + s->keybase[s->depth - 1];
	size_t n = s->nkeys - s->keybase[s->depth - 1];

	if (n < KEY_SORT_MIN) {
		for (size_t i = 1; i < n; i++)
			for (size_t j = 0; j < i; j++)
				if (key_cmp(s, k[i], k[j]) == 0)
					return jfail(s, s->base + k[i], "duplicate object key");
	} else {
		for (size_t i = n / 2; i-- > 0;)
			key_sift(s, k, i, n);
		for (size_t m = n; m-- > 1;) {
			uint32_t t = k[0];

			k[0] = k[m];
			k[m] = t;
			key_sift(s, k, 0, m);
		}
		for (size_t i = 1; i < n; i++)
			if (key_cmp(s, k[i - 1], k[i]) == 0)
				return jfail(s, s->base + k[i], "duplicate object key");
	}
	s->nkeys = s->keybase[s->depth - 1];
	return 0;
}

static int
jc_run(struct jcheck *s)
{
	const uint8_t *end = s->end;
	char t;
	int r;

	s->p = skip_ws(s->p, end);
	if (s->p == end || (*s->p != '{' && *s->p != '['))
		return jfail(s, s->p, "'[' or '{' expected");
	for (;;) {
		/* a value; s->p is past any whitespace */
		if (s->depth >= JSON_MAX_DEPTH)
			return jfail(s, s->p, "maximum parsing depth reached");
		if (s->p == end)
			return jfail(s, s->p, "premature end of input");
		if (s->depth == 2 && s->in_files)
			s->top.nfiles++;
		switch (*s->p) {
		case '{':
		case '[':
			t = (char)*s->p;
			if (s->depth == 1)
				s->in_files = s->cur_top == T_FILES && t == '[';
			s->type[s->depth] = t;
			s->keybase[s->depth] = (uint32_t)s->nkeys;
			s->depth++;
			s->p = skip_ws(s->p + 1, end);
			if (s->p < end && *s->p == (t == '{' ? '}' : ']')) {
				s->p++;
				s->depth--;
				goto after;
			}
			if (t == '{')
				goto key;
			continue;
		case '"':
			r = jc_string(s, 0);
			break;
		default:
			if (*s->p == '-' || is_digit(*s->p))
				r = jc_number(s);
			else if ((*s->p | 0x20) >= 'a' && (*s->p | 0x20) <= 'z')
				r = jc_word(s);
			else
				r = jfail(s, s->p, "invalid token");
		}
		if (r != 0)
			return r;
after:
		s->p = skip_ws(s->p, end);
		if (s->depth == 0)
			return s->p == end ? 0 : jfail(s, s->p, "end of file expected");
		t = s->type[s->depth - 1];
		if (s->p < end && *s->p == ',') {
			s->p = skip_ws(s->p + 1, end);
			if (t == '[')
				continue;
			goto key;
		}
		if (s->p == end || *s->p != (t == '{' ? '}' : ']'))
			return jfail(s, s->p, t == '{' ? "'}' expected" : "']' expected");
		s->p++;
		if (t == '{' && (r = jc_close_object(s)) != 0)
			return r;
		s->depth--;
		goto after;
key:
		if (s->p == end || *s->p != '"')
			return jfail(s, s->p, "string or '}' expected");
		if (s->nkeys == s->capkeys) {
			/* a key takes at least 4 bytes ("":0): never more than len/4 slots */
			s->capkeys = s->capkeys ? 2 * s->capkeys : 64;
			if (s->capkeys > (size_t)(end - s->base) / 4 + 1)
				s->capkeys = (size_t)(end - s->base) / 4 + 1;
			s->keys = ofs_xreallocarray(s->keys, s->capkeys, sizeof(*s->keys));
		}
		s->keys[s->nkeys++] = (uint32_t)(s->p - s->base);
		if ((r = jc_string(s, 1)) != 0)
			return r;
		s->p = skip_ws(s->p, end);
		if (s->p == end || *s->p != ':')
			return jfail(s, s->p, "':' expected");
		s->p = skip_ws(s->p + 1, end);
		if (s->depth == 1) {
			const uint8_t *k = s->base + s->keys[s->nkeys - 1];

			s->cur_top = key_index(k, end, top_keys);
			if (s->cur_top >= 0)
				s->top.v[s->cur_top] = s->p;
			else if (s->top.unknown == NULL)
				s->top.unknown = k;
		}
	}
}

/* Check p[0..len) as JSON (len ≤ OFS_MANIFEST_MAX) and note where the top-level members
 * are; OFS_ERR_CORRUPT with line and column. */
static int
json_check(const uint8_t *p, size_t len, const char *what, struct jtop *top,
    struct ofs_error *err)
{
	struct jcheck *s = ofs_xcalloc(1, sizeof(*s));
	int line = 1, col = 1, r = 0;

	s->base = s->p = p;
	s->end = p + len;
	s->cur_top = -1;
	if (jc_run(s) != 0) {
		for (const uint8_t *q = p; q < s->p; q++) {
			if (*q == '\n') {
				line++;
				col = 1;
			} else if ((*q & 0xc0) != 0x80) {
				col++;
			}
		}
		r = ofs_err_set(err, OFS_ERR_CORRUPT, "manifest '%s': invalid JSON at line %d "
		    "column %d: %s", what, line, col, s->why);
	}
	*top = s->top;
	free(s->keys);
	free(s);
	return r;
}

/* ---- pass 2: reading checked text ---- */

/* Past the string at p: the first quote not escaped (an even run of backslashes). */
static const uint8_t *
jskip_string(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *start = ++p, *q, *b;

	while ((q = memchr(p, '"', (size_t)(end - p))) != NULL) {
		for (b = q; b > start && b[-1] == '\\'; b--)
			;
		if ((q - b) % 2 == 0)
			return q + 1;
		p = q + 1;
	}
	return end;
}

/* Past the value at p; *n (when n is not NULL) is its number of elements if it is an
 * array. */
static const uint8_t *
jskip(const uint8_t *p, const uint8_t *end, size_t *n)
{
	size_t depth = 0, commas = 0;
	int empty = 0;

	if (n != NULL)
		*n = 0;
	if (p < end && *p == '"')
		return jskip_string(p, end);
	if (p < end && *p != '{' && *p != '[') {
		while (p < end && !is_ws(*p) && *p != ',' && *p != ']' && *p != '}')
			p++;
		return p;
	}
	if (p < end && *p == '[') {
		const uint8_t *q = skip_ws(p + 1, end);

		empty = q < end && *q == ']';
	}
	while (p < end) {
		switch (*p) {
		case '"':
			p = jskip_string(p, end);
			continue;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (--depth == 0) {
				if (n != NULL && *p == ']' && !empty)
					*n = commas + 1;
				return p + 1;
			}
			break;
		case ',':
			commas += depth == 1;
			break;
		}
		p++;
	}
	return end;
}

/* The integer at p: 1 and *v, or 0 when the value is no integer (a real included). */
static int
jint(const uint8_t *p, const uint8_t *end, int64_t *v)
{
	const uint8_t *q = p;
	uint64_t u = 0;
	int neg = 0;

	if (q < end && *q == '-') {
		neg = 1;
		q++;
	}
	if (q == end || !is_digit(*q))
		return 0;
	for (; q < end && is_digit(*q); q++)
		u = u * 10 + (uint64_t)(*q - '0');	/* fits: checked by json_check */
	if (q < end && (*q == '.' || *q == 'e' || *q == 'E'))
		return 0;
	*v = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 1;
}

/* The first element of the array at p, or NULL when it is empty. */
static const uint8_t *
jarr_first(const uint8_t *p, const uint8_t *end)
{
	p = skip_ws(p + 1, end);
	return p < end && *p != ']' ? p : NULL;
}

/* The element after the one that ends at p, or NULL. */
static const uint8_t *
jarr_after(const uint8_t *p, const uint8_t *end)
{
	p = skip_ws(p, end);
	return p < end && *p == ',' ? skip_ws(p + 1, end) : NULL;
}

/* The object at p: the values of its members named in names[] (vals[i], NULL when absent)
 * and, for arrays, their element counts (counts[i]); its first other key (*unknown, or
 * NULL), in document order. Returns the end of the object. */
static const uint8_t *
jobj_index(const uint8_t *p, const uint8_t *end, const struct ofs_key *names,
    const uint8_t **vals, size_t *counts, const uint8_t **unknown)
{
	int i;

	*unknown = NULL;
	for (i = 0; names[i].name != NULL; i++) {
		vals[i] = NULL;
		counts[i] = 0;
	}
	p = skip_ws(p + 1, end);
	while (p < end && *p == '"') {
		const uint8_t *key = p;
		size_t n;

		p = skip_ws(jskip_string(p, end), end);
		p = skip_ws(p + 1, end);	/* ':' */
		if ((i = key_index(key, end, names)) >= 0)
			vals[i] = p;
		else if (*unknown == NULL)
			*unknown = key;
		p = skip_ws(jskip(p, end, &n), end);
		if (i >= 0)
			counts[i] = n;
		if (p < end && *p == ',')
			p = skip_ws(p + 1, end);
	}
	return p < end ? p + 1 : end;	/* '}' */
}

/* ---- parser ---------------------------------------------------------------------------- */

struct pctx {
	const char *what;
	const uint8_t *end;
	struct ofs_error *err;
};

static int
bad(struct pctx *c, const char *field, const char *why)
{
	return ofs_err_set(c->err, OFS_ERR_CORRUPT, "manifest '%s': field '%s' %s", c->what,
	    field, why);
}

/* An unknown key, named in the message with control characters replaced. */
static int
bad_key(struct pctx *c, const char *where, const uint8_t *key)
{
	char k[201], f[320];
	size_t n = jstr(key, c->end, k, sizeof(k) - 1);

	ofs_text_clean(k, sizeof(k), k, n);	/* in place: keys hold no NUL */
	snprintf(f, sizeof(f), "%s%s%s", where, *where ? "." : "", k);
	return bad(c, f, "is not part of manifest version 1");
}

/* A text field: non-empty, at most max bytes, no control characters (strings are printed:
 * verify's findings, the dc service). The length is known before anything is allocated. */
static int
get_str(struct pctx *c, const uint8_t *v, const char *field, int required, size_t max,
    char **out)
{
	size_t n;
	char *s;

	*out = NULL;
	if (v == NULL)
		return required ? bad(c, field, "is missing") : 0;
	if (*v != '"' || (n = jstr(v, c->end, NULL, 0)) == 0)
		return bad(c, field, "must be a non-empty string");
	if (n > max)
		return bad(c, field, "must be printable text without control characters");
	s = ofs_xmalloc(n + 1);
	jstr(v, c->end, s, n);
	if (ofs_text_check(s, n, max, OFS_TEXT_NONEMPTY) != OFS_TEXT_OK) {
		free(s);
		return bad(c, field, "must be printable text without control characters");
	}
	*out = s;
	return 0;
}

static int
get_uint(struct pctx *c, const uint8_t *v, const char *field, uint64_t *out)
{
	int64_t i;

	if (v == NULL)
		return bad(c, field, "is missing");
	if (!jint(v, c->end, &i) || i < 0)
		return bad(c, field, "must be a non-negative integer");
	*out = (uint64_t)i;
	return 0;
}

/* The hash at v (32 lower-case hex digits in a string, escapes allowed): 0 or -1. */
static int
read_hash(struct pctx *c, const uint8_t *v, uint8_t out[OFS_XXH_LEN])
{
	char hex[2 * OFS_XXH_LEN + 1];

	if (c->end - v >= 2 * OFS_XXH_LEN + 2 && v[0] == '"' && v[2 * OFS_XXH_LEN + 1] == '"' &&
	    ofs_unhex_lower((const char *)v + 1, 2 * OFS_XXH_LEN, out, OFS_XXH_LEN) == 0)
		return 0;	/* the form offseed writes */
	if (*v != '"' || jstr(v, c->end, hex, sizeof(hex) - 1) != 2 * OFS_XXH_LEN ||
	    ofs_unhex_lower(hex, 2 * OFS_XXH_LEN, out, OFS_XXH_LEN) != 0)
		return -1;
	return 0;
}

static int
get_hash(struct pctx *c, const uint8_t *v, const char *field, uint8_t out[OFS_XXH_LEN])
{
	if (v == NULL)
		return bad(c, field, "is missing");
	if (read_hash(c, v, out) != 0)
		return bad(c, field, "must be 32 lower-case hex digits");
	return 0;
}

/* files[i], the object at o; *next is the end of its value. */
static int
parse_file(struct pctx *c, struct ofs_manifest *m, const uint8_t *o, size_t i, uint64_t *total,
    const uint8_t **next)
{
	const uint8_t *v[F_NKEYS], *unknown, *e;
	struct ofs_file_hashes h;
	char field[96], path[PATH_MAX_LEN + 1];
	size_t plen, cnt[F_NKEYS];
	uint64_t n;
	int r = 0;

	memset(&h, 0, sizeof(h));
	snprintf(field, sizeof(field), "files[%zu]", i);
	if (*o != '{')
		return bad(c, field, "must be an object");
	*next = jobj_index(o, c->end, file_keys, v, cnt, &unknown);
	if (unknown != NULL)
		return bad_key(c, field, unknown);
	snprintf(field, sizeof(field), "files[%zu].path", i);
	if (v[F_PATH] == NULL)
		return bad(c, field, "is missing");
	if (*v[F_PATH] != '"' || (plen = jstr(v[F_PATH], c->end, path, PATH_MAX_LEN)) == 0)
		return bad(c, field, "must be a non-empty string");
	if (plen > PATH_MAX_LEN || !path_ok(path))
		return bad(c, field, "must be a relative path without '.', '..', '//' or "
		    "control characters");
	snprintf(field, sizeof(field), "files[%zu].size", i);
	if ((r = get_uint(c, v[F_SIZE], field, &h.size)) != 0)
		return r;
	if (h.size > OFS_MANIFEST_MAX_BYTES - *total)
		return bad(c, field, "brings the declared sizes past 2^62 bytes");
	*total += h.size;
	snprintf(field, sizeof(field), "files[%zu].xxh128", i);
	if ((r = get_hash(c, v[F_XXH], field, h.xxh)) != 0)
		return r;
	if (v[F_REGIONS] != NULL) {
		size_t have;

		snprintf(field, sizeof(field), "files[%zu].regions", i);
		n = regions_for(h.size, m->region_size);
		if (*v[F_REGIONS] != '[')
			return bad(c, field, "must be an array");
		/* counted before anything is allocated: a size cannot make us reserve memory */
		if ((have = cnt[F_REGIONS]) != n || n == 0) {
			char why[128];

			snprintf(why, sizeof(why), "has %zu entries, the size needs %llu", have,
			    (unsigned long long)n);
			return bad(c, field, why);
		}
		h.regions = ofs_xreallocarray(NULL, (size_t)n, OFS_XXH_LEN);
		h.nregions = (size_t)n;
		e = jarr_first(v[F_REGIONS], c->end);
		for (size_t j = 0; j < n; j++, e = jarr_after(jskip(e, c->end, NULL), c->end)) {
			if (e == NULL || read_hash(c, e, h.regions[j]) != 0) {
				snprintf(field, sizeof(field), "files[%zu].regions[%zu]", i, j);
				r = bad(c, field, "must be 32 lower-case hex digits");
				goto out;
			}
		}
	}
	ofs_manifest_add(m, path, &h);
out:
	ofs_file_hashes_release(&h);
	return r;
}

/* Field checks in a fixed order whatever the key order, so one manifest always gets the
 * same message: format, version, unknown keys, then the rest. */
static int
parse_fields(struct pctx *c, const uint8_t *root, const struct jtop *top, size_t max_files,
    struct ofs_manifest **out)
{
	const uint8_t *const *v = top->v, *dv[D_NKEYS], *unknown = top->unknown, *e, *next;
	struct ofs_manifest *m = NULL;
	char buf[32];
	uint64_t u, dcount, total = 0;
	size_t nfiles = top->nfiles, dcnt[D_NKEYS], i;
	int r = 0;

	if (*root != '{')
		return bad(c, "(top)", "must be a JSON object");
	if (v[T_FORMAT] == NULL || *v[T_FORMAT] != '"' ||
	    jstr(v[T_FORMAT], c->end, buf, sizeof(buf) - 1) != strlen("offseed-manifest") ||
	    strcmp(buf, "offseed-manifest") != 0)
		return bad(c, "format", "must be \"offseed-manifest\"");
	if ((r = get_uint(c, v[T_VERSION], "version", &u)) != 0)
		return r;
	if (u == 0)
		return bad(c, "version", "must be at least 1");
	if (u > OFS_MANIFEST_VERSION)
		return ofs_err_set(c->err, OFS_ERR_VERSION, "manifest '%s' has format version "
		    "%llu, newer than this offseed supports (version %u); upgrade offseed", c->what,
		    (unsigned long long)u, OFS_MANIFEST_VERSION);
	if (unknown != NULL)
		return bad_key(c, "", unknown);
	m = ofs_manifest_new();
	m->version = (uint32_t)u;
	if ((r = get_str(c, v[T_TOOL], "tool", 1, TEXT_MAX, &m->tool)) != 0 ||
	    (r = get_str(c, v[T_CREATED], "created", 1, FORM_MAX, &m->created)) != 0 ||
	    (r = get_str(c, v[T_REPOSITORY], "repository", 1, FORM_MAX, &m->repository)) != 0 ||
	    (r = get_str(c, v[T_SEED_SET], "seed_set", 0, FORM_MAX, &m->seed_set)) != 0 ||
	    (r = get_str(c, v[T_JOB], "job", 0, TEXT_MAX, &m->job)) != 0)
		goto out;
	{
		int64_t t;

		if (ofs_parse_time(m->created, &t) != 0) {
			r = bad(c, "created", "must be an RFC 3339 time");
			goto out;
		}
	}
	if (!ofs_is_hex_lower(m->repository, 32)) {
		r = bad(c, "repository", "must be 32 lower-case hex digits");
		goto out;
	}
	if (m->seed_set != NULL && !ofs_is_hex_lower(m->seed_set, 32)) {
		r = bad(c, "seed_set", "must be 32 lower-case hex digits");
		goto out;
	}
	if (v[T_DISK] != NULL) {
		if (*v[T_DISK] != '{') {
			r = bad(c, "disk", "must be an object");
			goto out;
		}
		jobj_index(v[T_DISK], c->end, disk_keys, dv, dcnt, &unknown);
		if (unknown != NULL) {
			r = bad_key(c, "disk", unknown);
			goto out;
		}
		if ((r = get_uint(c, dv[D_INDEX], "disk.index", &u)) != 0 ||
		    (r = get_uint(c, dv[D_COUNT], "disk.count", &dcount)) != 0 ||
		    (r = get_str(c, dv[D_SERIAL], "disk.serial", 1, SERIAL_MAX, &m->serial)) != 0)
			goto out;
		if (dcount == 0 || dcount > 100000) {
			r = bad(c, "disk.count", "must be between 1 and 100000");
			goto out;
		}
		if (u == 0 || u > dcount) {
			r = bad(c, "disk.index", "must be between 1 and disk.count");
			goto out;
		}
		m->has_disk = 1;
		m->disk_index = (uint32_t)u;
		m->disk_count = (uint32_t)dcount;
	}
	if ((r = get_uint(c, v[T_REGION_SIZE], "region_size", &m->region_size)) != 0)
		goto out;
	if (m->region_size < REGION_MIN || m->region_size > REGION_MAX ||
	    m->region_size % REGION_MIN != 0) {
		r = bad(c, "region_size", "must be a multiple of 4096 between 4096 and 2^40");
		goto out;
	}
	if (v[T_FILES] == NULL || *v[T_FILES] != '[') {
		r = bad(c, "files", v[T_FILES] == NULL ? "is missing" : "must be an array");
		goto out;
	}
	if (nfiles > max_files) {
		char why[96];

		snprintf(why, sizeof(why), "has more than %zu entries", max_files);
		r = bad(c, "files", why);
		goto out;
	}
	for (i = 0, e = jarr_first(v[T_FILES], c->end); e != NULL;
	    i++, e = jarr_after(next, c->end)) {
		/* the table grows with the entries read (so a list of 2 million "{}" costs
		 * nothing) and ends at their count, without doubling slack */
		if (m->nfiles == m->cap) {
			m->cap = m->cap ? 2 * m->cap : 64;
			if (m->cap > nfiles)
				m->cap = nfiles;
			m->files = ofs_xreallocarray(m->files, m->cap, sizeof(*m->files));
		}
		if ((r = parse_file(c, m, e, i, &total, &next)) != 0)
			goto out;
	}
	/* offseed writes files sorted; only other input pays qsort's scratch (16 bytes/entry) */
	for (i = 1; i < m->nfiles; i++)
		if (strcmp(m->files[i - 1].path, m->files[i].path) >= 0)
			break;
	if (i < m->nfiles)
		qsort(m->files, m->nfiles, sizeof(*m->files), cmp_file);
	for (i = 1; i < m->nfiles; i++) {
		if (strcmp(m->files[i - 1].path, m->files[i].path) == 0) {
			r = ofs_err_set(c->err, OFS_ERR_CORRUPT, "manifest '%s': path '%s' is listed "
			    "twice", c->what, m->files[i].path);
			goto out;
		}
	}
	*out = m;
	m = NULL;	/* transferred */
out:
	ofs_manifest_free(m);
	return r;
}

int
ofs_manifest_parse_limits(const uint8_t *p, size_t len, const char *what, size_t max_files,
    struct ofs_manifest **out, struct ofs_error *err)
{
	struct pctx c = { what, p + len, err };
	struct jtop top;
	int r;

	*out = NULL;
	if (len > OFS_MANIFEST_MAX)
		return ofs_err_set(err, OFS_ERR_CORRUPT, "manifest '%s': %zu bytes is more than "
		    "the limit of %u", what, len, OFS_MANIFEST_MAX);
	if ((r = json_check(p, len, what, &top, err)) != 0)
		return r;
	return parse_fields(&c, skip_ws(p, c.end), &top, max_files, out);
}

int
ofs_manifest_parse(const uint8_t *p, size_t len, const char *what, struct ofs_manifest **out,
    struct ofs_error *err)
{
	return ofs_manifest_parse_limits(p, len, what, OFS_MANIFEST_MAX_FILES, out, err);
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

/* Append s as a JSON string: 0, or the OFS_TEXT_* reason for invalid UTF-8, a control
 * character or more than max bytes (the parser refuses all three; paths have none after
 * path_ok), or the buffer's error at its limit. */
static int
add_jstr(struct ofs_buf *b, const char *s, size_t max)
{
	enum ofs_text_why why = ofs_text_check(s, strlen(s), max, 0);

	if (why != OFS_TEXT_OK)
		return (int)why;
	return ofs_json_quote(b, s);	/* or the buffer's limit */
}

static void
add_hash(struct ofs_buf *b, const uint8_t h[OFS_XXH_LEN])
{
	char hex[2 * OFS_XXH_LEN + 1];

	ofs_hex(h, OFS_XXH_LEN, hex);
	ofs_buf_putf(b, "\"%s\"", hex);
}

static int
add_field(struct ofs_buf *b, const char *key, const char *val, size_t max, const char *what,
    struct ofs_error *err)
{
	int r;

	ofs_buf_putf(b, "  \"%s\": ", key);
	if ((r = add_jstr(b, val, max)) == OFS_TEXT_TOO_LONG)
		return ofs_err_set(err, OFS_ERR_USAGE, "manifest field '%s' is longer than %zu "
		    "bytes", what, max);
	if (r != 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "manifest field '%s' is not valid UTF-8 "
		    "or holds control characters", what);
	ofs_buf_puts(b, ",\n");
	return 0;	/* b's limit: checked once by the caller */
}

int
ofs_manifest_encode(const struct ofs_manifest *m, struct ofs_buf *dst, struct ofs_error *err)
{
	const struct ofs_manifest_file **sorted = NULL;
	struct ofs_buf tmp = OFS_BUF_INIT(0), *out = &tmp;	/* unbounded: puts, one check */
	char tool[64], created[64];
	uint64_t total = 0;
	int r = 0;

	if (m->repository == NULL || !ofs_is_hex_lower(m->repository, 32))
		return ofs_err_set(err, OFS_ERR_USAGE, "manifest repository id is missing or not "
		    "32 hex digits");
	if (m->seed_set != NULL && !ofs_is_hex_lower(m->seed_set, 32))
		return ofs_err_set(err, OFS_ERR_USAGE, "manifest seed set id is not 32 hex digits");
	if (m->region_size < REGION_MIN || m->region_size > REGION_MAX ||
	    m->region_size % REGION_MIN != 0)
		return ofs_err_set(err, OFS_ERR_USAGE, "manifest region size %llu is invalid",
		    (unsigned long long)m->region_size);
	if (m->has_disk && (m->disk_count == 0 || m->disk_index == 0 ||
	    m->disk_index > m->disk_count || m->serial == NULL || m->serial[0] == '\0'))
		return ofs_err_set(err, OFS_ERR_USAGE, "manifest disk %u of %u (serial '%s') is "
		    "invalid", m->disk_index, m->disk_count, m->serial ? m->serial : "");
	if (m->nfiles > OFS_MANIFEST_MAX_FILES)
		return ofs_err_set(err, OFS_ERR_USAGE, "manifest of %zu files is more than the "
		    "limit of %zu", m->nfiles, OFS_MANIFEST_MAX_FILES);
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
		if (f->h.size > OFS_MANIFEST_MAX_BYTES - total) {
			r = ofs_err_set(err, OFS_ERR_USAGE, "manifest entry '%s' brings the sizes "
			    "past 2^62 bytes", f->path);
			goto out;
		}
		total += f->h.size;
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

	ofs_buf_puts(out, "{\n  \"format\": \"offseed-manifest\",\n");
	ofs_buf_putf(out, "  \"version\": %u,\n", OFS_MANIFEST_VERSION);
	if ((r = add_field(out, "tool", m->tool ? m->tool : tool, TEXT_MAX, "tool", err)) != 0 ||
	    (r = add_field(out, "created", m->created ? m->created : created, FORM_MAX,
	    "created", err)) != 0 ||
	    (r = add_field(out, "repository", m->repository, FORM_MAX, "repository", err)) != 0)
		goto out;
	if (m->seed_set != NULL &&
	    (r = add_field(out, "seed_set", m->seed_set, FORM_MAX, "seed_set", err)) != 0)
		goto out;
	if (m->job != NULL && (r = add_field(out, "job", m->job, TEXT_MAX, "job", err)) != 0)
		goto out;
	if (m->has_disk) {
		ofs_buf_putf(out, "  \"disk\": { \"index\": %u, \"count\": %u, \"serial\": ",
		    m->disk_index, m->disk_count);
		if (add_jstr(out, m->serial, SERIAL_MAX) != 0) {
			r = ofs_err_set(err, OFS_ERR_USAGE, "manifest disk serial is not valid "
			    "UTF-8 or holds control characters");
			goto out;
		}
		ofs_buf_puts(out, " },\n");
	}
	ofs_buf_putf(out, "  \"region_size\": %llu,\n", (unsigned long long)m->region_size);
	ofs_buf_puts(out, "  \"files\": [");
	for (size_t i = 0; i < m->nfiles; i++) {
		const struct ofs_manifest_file *f = sorted[i];

		ofs_buf_puts(out, i ? ",\n    { \"path\": " : "\n    { \"path\": ");
		if (add_jstr(out, f->path, PATH_MAX_LEN) != 0) {
			r = ofs_err_set(err, OFS_ERR_USAGE, "manifest path '%s' is not valid UTF-8",
			    f->path);
			goto out;
		}
		ofs_buf_putf(out, ", \"size\": %llu, \"xxh128\": ", (unsigned long long)f->h.size);
		add_hash(out, f->h.xxh);
		if (f->h.nregions > 0) {
			ofs_buf_puts(out, ", \"regions\": [");
			for (size_t j = 0; j < f->h.nregions; j++) {
				if (j)
					ofs_buf_puts(out, ", ");
				add_hash(out, f->h.regions[j]);
			}
			ofs_buf_puts(out, "]");
		}
		ofs_buf_puts(out, " }");
	}
	ofs_buf_puts(out, m->nfiles ? "\n  ]\n}\n" : "]\n}\n");
	if ((r = ofs_buf_check(&tmp)) != 0)
		r = ofs_err_set(err, r, "manifest is too large");
	else if (ofs_buf_add(dst, tmp.data, tmp.len) != 0)
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
