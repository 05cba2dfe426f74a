/* Unit tests for lib/manifest.c: the region hasher against xxhsum -H2 and one-shot XXH3-128,
 * manifest encode/parse round trips with golden bytes, and rejection of every malformed
 * field. */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	ofs_buf_cstr(&b);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_file_vs_xxhsum),
		cmocka_unit_test(test_roundtrip_golden),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_parse_rejects),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
