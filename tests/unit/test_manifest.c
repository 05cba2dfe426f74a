/* Unit tests for lib/manifest.c: the region hasher against xxhsum -H2 and one-shot XXH3-128,
 * manifest encode/parse round trips with golden bytes, rejection of every malformed field,
 * control character and limit, the JSON grammar against jansson's, and the parser's peak
 * memory. */
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "manifest.h"
#include "util.h"

static char tmpdir[] = "/tmp/ofs-test-manifest.XXXXXX";

static void
top_path(const char *rel, char *out, size_t outsz)
{
	char exe[PATH_MAX], *s, *t;
	ssize_t n;

	if ((s = getenv("OFFSEED_TOP")) != NULL) {
		snprintf(out, outsz, "%s/%s", s, rel);
		return;
	}
	if (access("tests/golden", F_OK) == 0) {
		snprintf(out, outsz, "%s", rel);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	while ((s = strrchr(exe, '/')) != NULL) {
		*s = '\0';
		t = ofs_xasprintf("%s/tests/golden", exe);
		if (access(t, F_OK) == 0) {
			free(t);
			t = ofs_xasprintf("%s/%s", exe, rel);
			assert_true(strlen(t) < outsz);
			memcpy(out, t, strlen(t) + 1);
			free(t);
			return;
		}
		free(t);
	}
	fail_msg("cannot find tests/golden (set OFFSEED_TOP)");
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	ofs_rm_rf(tmpdir);
	return 0;
}

/* ---- hasher ---------------------------------------------------------------------------- */

static void
xxhsum_of(const char *path, char out[33])
{
	char *cmd = ofs_xasprintf("xxhsum -H2 '%s' 2>/dev/null", path), line[512];
	FILE *f = popen(cmd, "r");

	assert_non_null(f);
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	if (pclose(f) != 0)
		fail_msg("xxhsum -H2 failed (package xxhash is required): %s", line);
	assert_true(strlen(line) > 32);
	memcpy(out, line, 32);
	out[32] = '\0';
	free(cmd);
}

static void
test_hash_file_vs_xxhsum(void **state)
{
	size_t n = 3 * 1024 * 1024 + 123, rs = 1024 * 1024;
	uint8_t *data = ofs_xmalloc(n), one[OFS_XXH_LEN];
	char *path = ofs_xasprintf("%s/data.bin", tmpdir), want[33], got[33];
	struct ofs_file_hashes h, h2;
	struct ofs_hasher *hs;
	struct ofs_error err;

	(void)state;
	ofs_random(data, n);
	assert_int_equal(ofs_write_file_atomic(path, data, n, 0644, NULL), 0);
	assert_int_equal(ofs_hash_file(path, rs, &h, &err), 0);
	assert_int_equal(h.size, n);
	xxhsum_of(path, want);
	ofs_hex(h.xxh, OFS_XXH_LEN, got);
	assert_string_equal(got, want);
	/* regions are one-shot XXH3-128 of the slices; the last one is shorter */
	assert_int_equal(h.nregions, 4);
	for (size_t i = 0; i < 4; i++) {
		size_t len = i < 3 ? rs : 123;

		ofs_xxh128(data + i * rs, len, one);
		assert_memory_equal(h.regions[i], one, OFS_XXH_LEN);
	}
	/* streaming in odd pieces gives the same result, and the hasher is reusable */
	hs = ofs_hasher_new(rs);
	for (int round = 0; round < 2; round++) {
		for (size_t off = 0, k = 1; off < n; off += k, k = k * 3 + 7)
			ofs_hasher_update(hs, data + off, off + k > n ? n - off : k);
		ofs_hasher_finish(hs, &h2);
		assert_int_equal(h2.size, n);
		assert_memory_equal(h2.xxh, h.xxh, OFS_XXH_LEN);
		assert_int_equal(h2.nregions, 4);
		assert_memory_equal(h2.regions, h.regions, 4 * OFS_XXH_LEN);
		ofs_file_hashes_release(&h2);
	}
	/* within one region: no region list; empty: the empty hash */
	ofs_hasher_update(hs, data, rs);
	ofs_hasher_finish(hs, &h2);
	assert_int_equal(h2.nregions, 0);
	assert_null(h2.regions);
	ofs_xxh128(data, rs, one);
	assert_memory_equal(h2.xxh, one, OFS_XXH_LEN);
	ofs_hasher_finish(hs, &h2);
	assert_int_equal(h2.size, 0);
	ofs_xxh128("", 0, one);
	assert_memory_equal(h2.xxh, one, OFS_XXH_LEN);
	ofs_hasher_free(hs);
	ofs_file_hashes_release(&h);
	/* errors */
	free(path);
	path = ofs_xasprintf("%s/absent", tmpdir);
	assert_int_equal(ofs_hash_file(path, rs, &h, &err), OFS_ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(ofs_hash_file(tmpdir, rs, &h, &err), OFS_ERR_IO);
	free(path);
	free(data);
}

/* ---- codec ----------------------------------------------------------------------------- */

static void
fill_hash(uint8_t h[OFS_XXH_LEN], uint8_t seed)
{
	for (int i = 0; i < OFS_XXH_LEN; i++)
		h[i] = (uint8_t)(seed * 17 + i);
}

static struct ofs_manifest *
sample_manifest(void)
{
	struct ofs_manifest *m = ofs_manifest_new();
	struct ofs_file_hashes h;

	m->tool = ofs_xstrdup("offseed 0.1.0");
	m->created = ofs_xstrdup("2026-11-22T06:00:00Z");
	m->repository = ofs_xstrdup("000102030405060708090a0b0c0d0e0f");
	m->seed_set = ofs_xstrdup("101112131415161718191a1b1c1d1e1f");
	m->job = ofs_xstrdup("seed-srv01");
	m->has_disk = 1;
	m->disk_index = 1;
	m->disk_count = 2;
	m->serial = ofs_xstrdup("WD-WCC4E1234567 \"x\"");
	m->region_size = 4096;
	/* added out of order: the encoder sorts */
	memset(&h, 0, sizeof(h));
	h.size = 412;
	fill_hash(h.xxh, 1);
	ofs_manifest_add(m, "BlockBlob/backups/srv01/config", &h);
	h.size = 9000;
	fill_hash(h.xxh, 2);
	h.nregions = 3;
	h.regions = ofs_xreallocarray(NULL, 3, OFS_XXH_LEN);
	for (int i = 0; i < 3; i++)
		fill_hash(h.regions[i], (uint8_t)(10 + i));
	ofs_manifest_add(m, "PageBlob/backups/srv01/containers/1f-000001.vhd", &h);
	assert_null(h.regions);	/* taken */
	h.size = 0;
	fill_hash(h.xxh, 3);
	ofs_manifest_add(m, "BlockBlob/backups/srv01/keys/ab", &h);
	return m;
}

static void
test_roundtrip_golden(void **state)
{
	struct ofs_manifest *m = sample_manifest(), *p = NULL;
	struct ofs_buf a = OFS_BUF_INIT(0), b = OFS_BUF_INIT(0), g = OFS_BUF_INIT(0);
	struct ofs_error err;
	char golden[PATH_MAX], *path;

	(void)state;
	assert_int_equal(ofs_manifest_encode(m, &a, &err), 0);
	top_path("tests/golden/manifest-v1.json", golden, sizeof(golden));
	if (getenv("OFFSEED_REGEN_GOLDEN") != NULL)
		assert_int_equal(ofs_write_file_atomic(golden, a.data, a.len, 0644, NULL), 0);
	assert_int_equal(ofs_buf_read_file(&g, golden, NULL), 0);
	assert_int_equal(g.len, a.len);
	assert_memory_equal(g.data, a.data, a.len);

	assert_int_equal(ofs_manifest_parse(a.data, a.len, "m.json", &p, &err), 0);
	assert_int_equal(p->version, 1);
	assert_string_equal(p->tool, "offseed 0.1.0");
	assert_string_equal(p->created, "2026-11-22T06:00:00Z");
	assert_string_equal(p->repository, m->repository);
	assert_string_equal(p->seed_set, m->seed_set);
	assert_string_equal(p->job, "seed-srv01");
	assert_int_equal(p->has_disk, 1);
	assert_int_equal(p->disk_index, 1);
	assert_int_equal(p->disk_count, 2);
	assert_string_equal(p->serial, m->serial);
	assert_int_equal(p->region_size, 4096);
	assert_int_equal(p->nfiles, 3);
	assert_string_equal(p->files[0].path, "BlockBlob/backups/srv01/config");
	assert_string_equal(p->files[1].path, "BlockBlob/backups/srv01/keys/ab");
	assert_string_equal(p->files[2].path, "PageBlob/backups/srv01/containers/1f-000001.vhd");
	assert_int_equal(p->files[0].h.size, 412);
	assert_int_equal(p->files[0].h.nregions, 0);
	assert_memory_equal(p->files[0].h.xxh, m->files[0].h.xxh, OFS_XXH_LEN);
	assert_int_equal(p->files[2].h.size, 9000);
	assert_int_equal(p->files[2].h.nregions, 3);
	assert_memory_equal(p->files[2].h.regions, m->files[1].h.regions, 3 * OFS_XXH_LEN);
	/* same manifest → same bytes */
	assert_int_equal(ofs_manifest_encode(p, &b, &err), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, a.len);
	ofs_manifest_free(p);

	/* write / load */
	path = ofs_xasprintf("%s/%s", tmpdir, OFS_MANIFEST_NAME);
	assert_int_equal(ofs_manifest_write(m, path, &err), 0);
	assert_int_equal(ofs_manifest_load(path, &p, &err), 0);
	assert_int_equal(p->nfiles, 3);
	ofs_manifest_free(p);
	free(path);
	path = ofs_xasprintf("%s/absent.json", tmpdir);
	assert_int_equal(ofs_manifest_load(path, &p, &err), OFS_ERR_NOTFOUND);
	assert_null(p);
	free(path);

	/* staging form: no disk, job or seed set */
	free(m->job);
	free(m->seed_set);
	free(m->serial);
	m->job = m->seed_set = m->serial = NULL;
	m->has_disk = 0;
	ofs_buf_reset(&b);
	assert_int_equal(ofs_manifest_encode(m, &b, &err), 0);
	assert_int_equal(ofs_buf_cstr(&b), 0);
	assert_null(strstr((char *)b.data, "\"disk\""));
	assert_null(strstr((char *)b.data, "\"job\""));
	assert_int_equal(ofs_manifest_parse(b.data, b.len, "m.json", &p, &err), 0);
	assert_int_equal(p->has_disk, 0);
	assert_null(p->job);
	assert_null(p->seed_set);
	ofs_manifest_free(p);

	/* a bounded output buffer that is too small is left untouched */
	{
		struct ofs_buf small = OFS_BUF_INIT(100);

		assert_int_equal(ofs_manifest_encode(m, &small, &err), OFS_ERR_USAGE);
		assert_int_equal(small.len, 0);
		ofs_buf_release(&small);
	}
	ofs_manifest_free(m);
	ofs_buf_release(&a);
	ofs_buf_release(&b);
	ofs_buf_release(&g);
}

static void
test_encode_rejects(void **state)
{
	struct ofs_manifest *m = sample_manifest();
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct ofs_error err;
	char *saved;

	(void)state;
	saved = m->files[0].path;
	m->files[0].path = ofs_xstrdup("../etc/passwd");
	assert_int_equal(ofs_manifest_encode(m, &b, &err), OFS_ERR_USAGE);
	free(m->files[0].path);
	m->files[0].path = ofs_xstrdup(m->files[2].path);
	assert_int_equal(ofs_manifest_encode(m, &b, &err), OFS_ERR_USAGE);
	assert_non_null(strstr(err.msg, "twice"));
	free(m->files[0].path);
	m->files[0].path = saved;
	m->files[1].h.nregions = 2;
	assert_int_equal(ofs_manifest_encode(m, &b, &err), OFS_ERR_USAGE);
	m->files[1].h.nregions = 3;
	m->region_size = 1000;
	assert_int_equal(ofs_manifest_encode(m, &b, &err), OFS_ERR_USAGE);
	m->region_size = 4096;
	free(m->repository);
	m->repository = NULL;
	assert_int_equal(ofs_manifest_encode(m, &b, &err), OFS_ERR_USAGE);
	assert_int_equal(b.len, 0);
	ofs_manifest_free(m);
}

/* Parse the golden sample after applying one JSON edit; expect code and a field name. */
static void
expect_reject(const char *edit_path, json_t *val, int code, const char *needle)
{
	struct ofs_manifest *m = sample_manifest(), *p = NULL;
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct ofs_error err;
	json_t *root, *obj;
	char *s, *key, *dot;

	assert_int_equal(ofs_manifest_encode(m, &b, NULL), 0);
	root = json_loadb((const char *)b.data, b.len, 0, NULL);
	assert_non_null(root);
	/* edit_path: "key", "disk.key", "files.N.key" ("-" as value deletes) */
	s = ofs_xstrdup(edit_path);
	obj = root;
	key = s;
	while ((dot = strchr(key, '.')) != NULL) {
		*dot = '\0';
		obj = json_is_array(obj) ? json_array_get(obj, (size_t)atoi(key)) :
		    json_object_get(obj, key);
		assert_non_null(obj);
		key = dot + 1;
	}
	if (val == NULL)
		json_object_del(obj, key);
	else if (json_is_array(obj))
		json_array_set_new(obj, (size_t)atoi(key), val);
	else
		json_object_set_new(obj, key, val);
	free(s);
	free(b.data);
	b.data = (uint8_t *)json_dumps(root, 0);
	b.len = strlen((char *)b.data);
	json_decref(root);
	ofs_err_clear(&err);
	if (ofs_manifest_parse(b.data, b.len, "bad.json", &p, &err) != code)
		fail_msg("edit %s: expected %d, got '%s'", edit_path, code, err.msg);
	assert_null(p);
	assert_non_null(strstr(err.msg, "bad.json"));
	if (needle != NULL && strstr(err.msg, needle) == NULL)
		fail_msg("edit %s: message '%s' lacks '%s'", edit_path, err.msg, needle);
	free(b.data);
	ofs_manifest_free(m);
}

static void
test_parse_rejects(void **state)
{
	static const char *bad_paths[] = { "../x", "/abs", "a//b", "a/./b", "a/../b", "a\\b",
		"a/", ".", "x\ty" };
	static const char *raw[] = { "", "[]", "{", "{\"format\":\"offseed-manifest\"",
		"{\"a\":1,\"a\":2}", "null", "\"str\"" };
	struct ofs_manifest *p = NULL;
	struct ofs_error err;
	char hx[40];

	(void)state;
	for (size_t i = 0; i < OFS_ARRAY_LEN(raw); i++) {
		assert_int_equal(ofs_manifest_parse((const uint8_t *)raw[i], strlen(raw[i]),
		    "raw.json", &p, &err), OFS_ERR_CORRUPT);
		assert_non_null(strstr(err.msg, "raw.json"));
	}
	expect_reject("format", json_string("other"), OFS_ERR_CORRUPT, "'format'");
	expect_reject("format", NULL, OFS_ERR_CORRUPT, "'format'");
	expect_reject("version", json_integer(0), OFS_ERR_CORRUPT, "'version'");
	expect_reject("version", json_string("1"), OFS_ERR_CORRUPT, "'version'");
	expect_reject("version", json_real(1.0), OFS_ERR_CORRUPT, "'version'");
	expect_reject("version", json_integer(2), OFS_ERR_VERSION, "version 2");
	expect_reject("tool", NULL, OFS_ERR_CORRUPT, "'tool'");
	expect_reject("tool", json_string(""), OFS_ERR_CORRUPT, "'tool'");
	expect_reject("tool", json_integer(3), OFS_ERR_CORRUPT, "'tool'");
	expect_reject("created", json_string("yesterday"), OFS_ERR_CORRUPT, "'created'");
	expect_reject("repository", json_string("000102030405060708090A0B0C0D0E0F"),
	    OFS_ERR_CORRUPT, "'repository'");
	expect_reject("repository", json_string("0001"), OFS_ERR_CORRUPT, "'repository'");
	expect_reject("seed_set", json_string("zz"), OFS_ERR_CORRUPT, "'seed_set'");
	expect_reject("job", json_null(), OFS_ERR_CORRUPT, "'job'");
	expect_reject("disk", json_string("x"), OFS_ERR_CORRUPT, "'disk'");
	expect_reject("disk.index", json_integer(0), OFS_ERR_CORRUPT, "'disk.index'");
	expect_reject("disk.index", json_integer(3), OFS_ERR_CORRUPT, "'disk.index'");
	expect_reject("disk.count", json_integer(-1), OFS_ERR_CORRUPT, "'disk.count'");
	expect_reject("disk.serial", NULL, OFS_ERR_CORRUPT, "'disk.serial'");
	expect_reject("disk.extra", json_true(), OFS_ERR_CORRUPT, "'disk.extra'");
	expect_reject("extra", json_true(), OFS_ERR_CORRUPT, "'extra'");
	expect_reject("region_size", json_integer(1000), OFS_ERR_CORRUPT, "'region_size'");
	expect_reject("region_size", json_integer(0), OFS_ERR_CORRUPT, "'region_size'");
	expect_reject("region_size", NULL, OFS_ERR_CORRUPT, "'region_size'");
	expect_reject("files", json_object(), OFS_ERR_CORRUPT, "'files'");
	expect_reject("files", NULL, OFS_ERR_CORRUPT, "'files'");
	expect_reject("files.1", json_integer(1), OFS_ERR_CORRUPT, "'files[1]'");
	expect_reject("files.0.path", NULL, OFS_ERR_CORRUPT, "'files[0].path'");
	for (size_t i = 0; i < OFS_ARRAY_LEN(bad_paths); i++)
		expect_reject("files.0.path", json_string(bad_paths[i]), OFS_ERR_CORRUPT,
		    "'files[0].path'");
	expect_reject("files.0.path", json_string("BlockBlob/backups/srv01/keys/ab"),
	    OFS_ERR_CORRUPT, "twice");
	expect_reject("files.0.size", json_integer(-1), OFS_ERR_CORRUPT, "'files[0].size'");
	expect_reject("files.0.size", json_string("1"), OFS_ERR_CORRUPT, "'files[0].size'");
	expect_reject("files.0.size", NULL, OFS_ERR_CORRUPT, "'files[0].size'");
	expect_reject("files.0.xxh128", json_string("00"), OFS_ERR_CORRUPT,
	    "'files[0].xxh128'");
	memset(hx, 'A', 32);
	hx[32] = '\0';
	expect_reject("files.0.xxh128", json_string(hx), OFS_ERR_CORRUPT, "'files[0].xxh128'");
	expect_reject("files.0.extra", json_integer(1), OFS_ERR_CORRUPT, "'files[0].extra'");
	/* regions: wrong count for the size, wrong type, bad entry */
	expect_reject("files.2.size", json_integer(20000), OFS_ERR_CORRUPT,
	    "'files[2].regions'");
	expect_reject("files.2.regions", json_string("x"), OFS_ERR_CORRUPT,
	    "'files[2].regions'");
	expect_reject("files.2.regions.1", json_integer(5), OFS_ERR_CORRUPT,
	    "'files[2].regions[1]'");
	expect_reject("files.1.regions", json_array(), OFS_ERR_CORRUPT, "'files[1].regions'");
}

/* ---- control characters, limits ------------------------------------------------------ */

/* The golden sample's encoding with the first `from` replaced by `to`. */
static struct ofs_buf
edited(const char *from, const char *to)
{
	struct ofs_manifest *m = sample_manifest();
	struct ofs_buf a = OFS_BUF_INIT(0), b = OFS_BUF_INIT(0);
	char *at;

	assert_int_equal(ofs_manifest_encode(m, &a, NULL), 0);
	assert_int_equal(ofs_buf_cstr(&a), 0);
	at = strstr((char *)a.data, from);
	if (at == NULL)
		fail_msg("'%s' is not in the sample", from);
	assert_int_equal(ofs_buf_add(&b, a.data, (size_t)(at - (char *)a.data)), 0);
	assert_int_equal(ofs_buf_adds(&b, to), 0);
	assert_int_equal(ofs_buf_adds(&b, at + strlen(from)), 0);
	ofs_buf_release(&a);
	ofs_manifest_free(m);
	return b;
}

static void
expect_text(const char *from, const char *to, int code, const char *needle)
{
	struct ofs_buf b = edited(from, to);
	struct ofs_manifest *p = NULL;
	struct ofs_error err;
	int r;

	ofs_err_clear(&err);
	r = ofs_manifest_parse(b.data, b.len, "bad.json", &p, &err);
	if (r != code)
		fail_msg("'%s' → '%s': expected %d, got %d '%s'", from, to, code, r, err.msg);
	if (code != 0) {
		assert_null(p);
		if (needle != NULL && strstr(err.msg, needle) == NULL)
			fail_msg("'%s' → '%s': message '%s' lacks '%s'", from, to, err.msg, needle);
		for (const char *q = err.msg; *q; q++)
			if ((unsigned char)*q < 0x20 || *q == 0x7f)
				fail_msg("message '%s' holds a control character", err.msg);
	}
	ofs_manifest_free(p);
	ofs_buf_release(&b);
}

static void
test_parse_control_chars(void **state)
{
	static const char *const fields[] = { "tool", "created", "repository", "seed_set", "job",
		"disk.serial" };
	static const char *const bad[] = { "\\u001b]0;pwned\\u0007", "\\u001b[2J", "a\\nb",
		"\\t", "\\u007f", "\\r", "\\u0001" };
	char *from, *to;

	(void)state;
	/* the report that started this: an OSC title sequence in the serial */
	expect_text("\"serial\": \"WD-WCC4E1234567 ", "\"serial\": \"\\u001b]0;owned\\u0007 ",
	    OFS_ERR_CORRUPT, "'disk.serial' must be printable text without control characters");
	for (size_t f = 0; f < OFS_ARRAY_LEN(fields); f++) {
		const char *key = strchr(fields[f], '.') ? strchr(fields[f], '.') + 1 : fields[f];
		char *needle = ofs_xasprintf("'%s' must be printable text", fields[f]);

		for (size_t i = 0; i < OFS_ARRAY_LEN(bad); i++) {
			from = ofs_xasprintf("\"%s\": \"", key);
			to = ofs_xasprintf("\"%s\": \"%s", key, bad[i]);
			expect_text(from, to, OFS_ERR_CORRUPT, needle);
			free(from);
			free(to);
		}
		/* a raw DEL is valid JSON (jansson took it) but no longer a valid field */
		from = ofs_xasprintf("\"%s\": \"", key);
		to = ofs_xasprintf("\"%s\": \"\x7f", key);
		expect_text(from, to, OFS_ERR_CORRUPT, needle);
		free(from);
		free(to);
		free(needle);
	}
	/* paths: escaped or raw */
	expect_text("\"path\": \"BlockBlob/backups/srv01/config", "\"path\": \"BlockBlob/\\u001b[0m",
	    OFS_ERR_CORRUPT, "'files[0].path'");
	expect_text("\"path\": \"BlockBlob/backups/srv01/config", "\"path\": \"Block\x7f",
	    OFS_ERR_CORRUPT, "'files[0].path'");
	/* raw control bytes are not JSON at all */
	expect_text("\"tool\": \"offseed", "\"tool\": \"\x1b", OFS_ERR_CORRUPT, "invalid JSON");
	/* an unknown key is named with its control characters replaced */
	expect_text("\"job\":", "\"x\\u001b]0;t\\u0007\": 1, \"job\":", OFS_ERR_CORRUPT,
	    "'x?]0;t?' is not part of");
	/* printable non-ASCII text stays accepted, escaped or not */
	expect_text("\"tool\": \"offseed", "\"tool\": \"\\u00e9 \\ud83d\\ude00 \xc3\xa9 offseed", 0,
	    NULL);
}

/* The encoder refuses what the parser would: it never writes a manifest that cannot be read. */
static void
test_encode_rejects_control_chars(void **state)
{
	struct ofs_manifest *m;
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct ofs_error err;
	char **fields[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		m = sample_manifest();
		fields[0] = &m->tool;
		fields[1] = &m->created;
		fields[2] = &m->job;
		fields[3] = &m->serial;
		free(*fields[i]);
		*fields[i] = ofs_xstrdup("x\x1b]0;t\x07");
		assert_int_equal(ofs_manifest_encode(m, &b, &err), OFS_ERR_USAGE);
		assert_int_equal(b.len, 0);
		ofs_manifest_free(m);
	}
	m = sample_manifest();
	free(m->files[0].path);
	m->files[0].path = ofs_xstrdup("BlockBlob/\xff\xfe");	/* not UTF-8 */
	assert_int_equal(ofs_manifest_encode(m, &b, &err), OFS_ERR_USAGE);
	ofs_manifest_free(m);
	/* sizes past the limit */
	m = sample_manifest();
	m->files[0].h.size = OFS_MANIFEST_MAX_BYTES;
	assert_int_equal(ofs_manifest_encode(m, &b, &err), OFS_ERR_USAGE);
	assert_non_null(strstr(err.msg, "2^62"));
	ofs_manifest_free(m);
	ofs_buf_release(&b);
}

static void
test_parse_limits(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct ofs_manifest *p = NULL;
	struct ofs_error err;
	size_t len = (size_t)OFS_MANIFEST_MAX + 1;
	void *big;

	(void)state;
	/* entry count: the sample has 3 */
	b = edited("\"files\"", "\"files\"");
	assert_int_equal(ofs_manifest_parse_limits(b.data, b.len, "m.json", 3, &p, &err), 0);
	assert_int_equal(p->nfiles, 3);
	ofs_manifest_free(p);
	assert_int_equal(ofs_manifest_parse_limits(b.data, b.len, "m.json", 2, &p, &err),
	    OFS_ERR_CORRUPT);
	assert_null(p);
	assert_non_null(strstr(err.msg, "field 'files' has more than 2 entries"));
	assert_int_equal(ofs_manifest_parse(b.data, b.len, "m.json", &p, &err), 0);
	ofs_manifest_free(p);
	ofs_buf_release(&b);
	assert_true(OFS_MANIFEST_MAX_FILES >= 1000000);

	/* sizes: > INT64_MAX is no JSON integer; the sum of sizes stops at 2^62 */
	expect_text("\"size\": 412", "\"size\": 9223372036854775808", OFS_ERR_CORRUPT,
	    "too big integer");
	expect_text("\"size\": 412", "\"size\": 18446744073709551615", OFS_ERR_CORRUPT,
	    "too big integer");
	expect_text("\"size\": 412", "\"size\": 9223372036854775807", OFS_ERR_CORRUPT,
	    "'files[0].size' brings the declared sizes past 2^62 bytes");
	/* 2^62 less the other two files' 9000 + 0 + (412 replaced) */
	expect_text("\"size\": 412", "\"size\": 4611686018427378904", 0, NULL);
	expect_text("\"size\": 412", "\"size\": 4611686018427378905", OFS_ERR_CORRUPT,
	    "'files[2].size' brings the declared sizes past 2^62");
	expect_text("\"size\": 412", "\"size\": -1", OFS_ERR_CORRUPT, "'files[0].size'");
	expect_text("\"size\": 412", "\"size\": -0", 0, NULL);	/* jansson read 0 */
	/* a size asking for 2^44 regions allocates nothing before the list is counted */
	expect_text("\"size\": 9000", "\"size\": 72057594037927936", OFS_ERR_CORRUPT,
	    "has 3 entries, the size needs 17592186044416");

	/* the byte limit is checked before a byte is read (address space only) */
	big = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(big != MAP_FAILED);
	assert_int_equal(ofs_manifest_parse(big, len, "huge.json", &p, &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "more than the limit"));
	munmap(big, len);
}

/* Any form of the same manifest jansson read, the parser reads the same. */
static void
test_parse_any_form(void **state)
{
	struct ofs_manifest *m = sample_manifest(), *p = NULL;
	struct ofs_buf a = OFS_BUF_INIT(0), b = OFS_BUF_INIT(0);
	struct ofs_error err;
	json_t *root;
	char *forms[4];
	size_t flags[] = { JSON_COMPACT, JSON_INDENT(1) | JSON_SORT_KEYS,
		JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH, JSON_INDENT(7) };

	(void)state;
	assert_int_equal(ofs_manifest_encode(m, &a, &err), 0);
	root = json_loadb((const char *)a.data, a.len, 0, NULL);
	assert_non_null(root);
	for (size_t i = 0; i < OFS_ARRAY_LEN(flags); i++) {
		forms[i] = json_dumps(root, flags[i]);
		assert_non_null(forms[i]);
		assert_int_equal(ofs_manifest_parse((uint8_t *)forms[i], strlen(forms[i]), "f.json",
		    &p, &err), 0);
		ofs_buf_reset(&b);
		assert_int_equal(ofs_manifest_encode(p, &b, &err), 0);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		ofs_manifest_free(p);
		free(forms[i]);
	}
	json_decref(root);
	ofs_buf_release(&b);
	/* escapes where offseed writes none */
	b = edited("\"format\": \"offseed-manifest\"", "\"format\": \"offseed\\u002dmanifest\"");
	assert_int_equal(ofs_manifest_parse(b.data, b.len, "e.json", &p, &err), 0);
	ofs_manifest_free(p);
	ofs_buf_release(&b);
	expect_text("\"xxh128\": \"1", "\"xxh128\": \"\\u0031", 0, NULL);
	expect_text("\"path\": \"BlockBlob/", "\"path\": \"BlockBlob\\/", 0, NULL);
	expect_text("\"xxh128\": \"1", "\"xxh128\": \"\\u0041", OFS_ERR_CORRUPT, "'files[0].xxh128'");
	ofs_buf_release(&a);
	ofs_manifest_free(m);
}

/* The JSON grammar is jansson's (json_loadb with JSON_REJECT_DUPLICATES): a value under an
 * unknown key of a version 2 manifest gives OFS_ERR_VERSION exactly when jansson reads the
 * document, OFS_ERR_CORRUPT otherwise. */
static void
test_json_grammar_vs_jansson(void **state)
{
	static const char *const vals[] = { "1", "-0", "0.5", "-1.5e-3", "1E+2", "1e400", "-1e400",
		"1e-400", "01", "-", "1.", ".5", "1e", "+1", "0x1", "9223372036854775807",
		"9223372036854775808", "-9223372036854775808", "-9223372036854775809", "true",
		"false", "null", "truex", "nul", "True", "\"\"", "\"\\u0000\"", "\"\\ud800\"",
		"\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud83d\\ude00\"", "\"\\uD83D\\uDE00\"",
		"\"\\u12\"", "\"\\x\"", "\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"", "\"\t\"", "\"\x7f\"",
		"\"\xc3\xa9\"", "\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
		"\"\xef\xbb\xbf\"", "[]", "[ ]", "[1,]", "[,1]", "[1 2]", "{}", "{ }", "{\"a\":1,}",
		"{\"a\" 1}", "{1:1}", "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}",
		"{\"a\":{\"b\":1},\"b\":{\"b\":2}}", "{\"\\u0000\":1}", "{\"\":1,\"\":2}",
		"[{\"a\":1},{\"a\":1}]", "[\"a\",\"a\"]", "\x01", "\xef\xbb\xbf" "1", "[1]x",
		"{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,"
		"\"k8\":8,\"k9\":9,\"k\\u0035\":5}",
		"{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,"
		"\"k8\":8,\"k9\":9,\"K5\":5}" };
	struct ofs_manifest *p = NULL;
	struct ofs_error err;
	json_t *j;
	int want, got;

	(void)state;
	for (size_t i = 0; i < OFS_ARRAY_LEN(vals) + 4; i++) {
		char *doc;

		if (i < OFS_ARRAY_LEN(vals)) {
			doc = ofs_xasprintf("{\"format\": \"offseed-manifest\", \"version\": 2,\n"
			    "\"x\": %s}\r\n\t ", vals[i]);
		} else {	/* nesting depth around jansson's limit of 2048 */
			size_t n = 2045 + (i - OFS_ARRAY_LEN(vals)), k = 0;

			doc = ofs_xmalloc(2 * n + 128);
			k = (size_t)sprintf(doc, "{\"format\":\"offseed-manifest\",\"version\":2,"
			    "\"x\":");
			memset(doc + k, '[', n);
			k += n;
			doc[k++] = '1';
			memset(doc + k, ']', n);
			k += n;
			strcpy(doc + k, "}");
		}
		j = json_loadb(doc, strlen(doc), JSON_REJECT_DUPLICATES, NULL);
		want = j != NULL ? OFS_ERR_VERSION : OFS_ERR_CORRUPT;
		json_decref(j);
		got = ofs_manifest_parse((uint8_t *)doc, strlen(doc), "g.json", &p, &err);
		if (got != want)
			fail_msg("value #%zu '%.60s': expected %d, got %d (%s)", i,
			    i < OFS_ARRAY_LEN(vals) ? vals[i] : "(nesting)", want, got, err.msg);
		assert_null(p);
		free(doc);
	}
	/* stricter than jansson in one place: it drops a NUL byte right after a number or a
	 * literal (its push-back buffer takes NUL for empty); a NUL is never JSON */
	{
		static const char doc[] = "{\"format\":\"offseed-manifest\",\"version\":2,"
		    "\"x\":[1\0,true\0]}";

		j = json_loadb(doc, sizeof(doc) - 1, JSON_REJECT_DUPLICATES, NULL);
		assert_non_null(j);
		json_decref(j);
		assert_int_equal(ofs_manifest_parse((const uint8_t *)doc, sizeof(doc) - 1, "n.json",
		    &p, &err), OFS_ERR_CORRUPT);
		assert_non_null(strstr(err.msg, "invalid JSON"));
	}
}

/* ---- memory ----------------------------------------------------------------------------- */

/* ASan's redzones and quarantine inflate every allocation: there the figures are printed,
 * and the limits hold in the plain build. */
#if defined(__SANITIZE_ADDRESS__)
#define PEAK_OK(kib, lim) ((void)(kib), (void)(lim), 1)
#else
#define PEAK_OK(kib, lim) ((kib) <= (lim))
#endif

/* A "Vm…:" line of /proc/self/status in KiB, or -1. */
static long
status_kib(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, strlen(key)) == 0)
			v = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

/* How far the peak RSS (KiB) rose above the RSS while parsing b, in a child whose peak is
 * first reset to its current RSS (clear_refs 5). */
static long
parse_peak_kib(const struct ofs_buf *b, int want)
{
	pid_t pid;
	int st, pfd[2];
	long delta = -1;

	assert_int_equal(pipe(pfd), 0);
	if ((pid = fork()) == 0) {
		struct ofs_manifest *p = NULL;
		long before;
		int fd;

		close(pfd[0]);
		malloc_trim(0);	/* no freed heap to reuse, so new memory shows */
		if ((fd = open("/proc/self/clear_refs", O_WRONLY)) < 0 || write(fd, "5", 1) != 1)
			_exit(4);
		close(fd);
		before = status_kib("VmRSS:");
		if (ofs_manifest_parse(b->data, b->len, "big.json", &p, NULL) != want)
			_exit(2);
		delta = status_kib("VmHWM:") - before;
		if (before < 0 || delta < 0)
			_exit(5);
		if (write(pfd[1], &delta, sizeof(delta)) != sizeof(delta))
			_exit(3);
		_exit(0);
	}
	close(pfd[1]);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(read(pfd[0], &delta, sizeof(delta)), sizeof(delta));
	close(pfd[0]);
	return delta;
}

static void
test_parse_memory(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(0);
	long kib, lim;
	size_t i;

	(void)state;
	/* region-heavy, as a disk of big containers: ~5 MB */
	assert_int_equal(ofs_buf_adds(&b, "{\"format\":\"offseed-manifest\",\"version\":1,"
	    "\"tool\":\"t\",\"created\":\"2026-11-22T06:00:00Z\",\"repository\":"
	    "\"000102030405060708090a0b0c0d0e0f\",\"region_size\":4096,\"files\":["), 0);
	for (i = 0; b.len < (5u << 20); i++) {
		assert_int_equal(ofs_buf_addf(&b, "%s{\"path\":\"containers/%08zx.vhd\",\"size\":%u,\"xxh128\":"
		    "\"%032x\",\"regions\":[", i ? "," : "", i, 256u * 4096, 0), 0);
		for (int j = 0; j < 256; j++)
			assert_int_equal(ofs_buf_addf(&b, "%s\"%032x\"", j ? "," : "", j), 0);
		assert_int_equal(ofs_buf_adds(&b, "]}"), 0);
	}
	assert_int_equal(ofs_buf_adds(&b, "]}"), 0);
	kib = parse_peak_kib(&b, 0);
	lim = (long)(b.len / 1024);	/* output: 16 of every ~35 bytes; jansson took ~3.3x */
	print_message("region-heavy manifest of %zu bytes: peak grew %ld KiB (limit %ld)\n", b.len,
	    kib, lim);
	assert_true(PEAK_OK(kib, lim));
	ofs_buf_release(&b);

	/* many small files: ~5 MB */
	assert_int_equal(ofs_buf_adds(&b, "{\"format\":\"offseed-manifest\",\"version\":1,"
	    "\"tool\":\"t\",\"created\":\"2026-11-22T06:00:00Z\",\"repository\":"
	    "\"000102030405060708090a0b0c0d0e0f\",\"region_size\":4096,\"files\":["), 0);
	for (i = 0; b.len < (5u << 20); i++)
		assert_int_equal(ofs_buf_addf(&b, "%s\n  {\"path\": \"index/%064zx\", \"size\": 4000, \"xxh128\": "
		    "\"%032zx\"}", i ? "," : "", i, i), 0);
	assert_int_equal(ofs_buf_adds(&b, "]}"), 0);
	kib = parse_peak_kib(&b, 0);
	lim = (long)(2 * b.len / 1024);	/* entries 56 bytes + path per ~140; jansson took ~6x */
	print_message("small-file manifest of %zu bytes: peak grew %ld KiB (limit %ld)\n", b.len,
	    kib, lim);
	assert_true(PEAK_OK(kib, lim));
	ofs_buf_release(&b);

	/* hostile: millions of empty objects under an unknown key (jansson: ~77x) */
	assert_int_equal(ofs_buf_adds(&b, "{\"format\":\"offseed-manifest\",\"version\":1,"
	    "\"x\":[{}"), 0);
	while (b.len < (5u << 20))
		assert_int_equal(ofs_buf_adds(&b, ",{},[],{\"a\":[{\"b\":{}}]}"), 0);
	assert_int_equal(ofs_buf_adds(&b, "]}"), 0);
	kib = parse_peak_kib(&b, OFS_ERR_CORRUPT);
	lim = (long)(b.len / 1024 / 4);
	print_message("hostile manifest of %zu bytes: peak grew %ld KiB (limit %ld)\n", b.len, kib,
	    lim);
	assert_true(PEAK_OK(kib, lim));
	ofs_buf_release(&b);

	/* hostile: one object of ~530,000 short keys, all held to find a repeated one */
	assert_int_equal(ofs_buf_adds(&b, "{\"format\":\"offseed-manifest\",\"version\":1,"
	    "\"x\":{\"\":0"), 0);
	for (i = 0; b.len < (5u << 20); i++)
		assert_int_equal(ofs_buf_addf(&b, ",\"%zx\":0", i), 0);
	assert_int_equal(ofs_buf_adds(&b, "}}"), 0);
	kib = parse_peak_kib(&b, OFS_ERR_CORRUPT);
	lim = (long)(b.len / 1024);
	print_message("object of %zu keys, %zu bytes: peak grew %ld KiB (limit %ld)\n", i, b.len,
	    kib, lim);
	assert_true(PEAK_OK(kib, lim));
	ofs_buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_file_vs_xxhsum),
		cmocka_unit_test(test_roundtrip_golden),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_control_chars),
		cmocka_unit_test(test_encode_rejects_control_chars),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_parse_any_form),
		cmocka_unit_test(test_json_grammar_vs_jansson),
		cmocka_unit_test(test_parse_memory),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
