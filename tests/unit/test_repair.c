/* Unit tests for engine/repair.c with a file: store: a file is uploaded and read back
 * against its manifest hashes, one the manifest does not list fails alone, a damaged
 * staging copy is caught after upload, and the storage location's fallbacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "repair.h"
#include "util.h"

struct seen {
	int ok, bad, last_r;
	uint64_t size;
};

static void
file_done(const struct ofs_repair_file *f, int r, uint64_t size,
    const uint8_t xxh[OFS_XXH_LEN], const struct ofs_error *ferr, void *arg)
{
	struct seen *s = arg;

	(void)f;
	(void)xxh;
	(void)ferr;
	if (r == 0) {
		s->ok++;
		s->size = size;
	} else {
		s->bad++;
	}
	s->last_r = r;
}

static void
put(const char *dir, const char *name, const char *text)
{
	char *p = ofs_path_join(dir, name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static void
test_upload_and_check(void **state)
{
	char stg[] = "/tmp/ofs-repair-stg-XXXXXX", acct[] = "/tmp/ofs-repair-acct-XXXXXX";
	struct ofs_manifest_file mf = { 0 };
	struct ofs_repair_file files[2];
	struct ofs_repair_list l = { files, 2, 0, 0 };
	struct ofs_repair_cb cb;
	struct ofs_repair_store *st = NULL;
	struct ofs_error err = { 0 };
	struct seen s = { 0 };
	size_t ok, bad;
	char *loc, *path, *out;

	(void)state;
	assert_non_null(mkdtemp(stg));
	assert_non_null(mkdtemp(acct));
	put(stg, "config", "the repository config\n");
	path = ofs_path_join(stg, "config");
	assert_int_equal(ofs_hash_file(path, 1u << 20, &mf.h, &err), 0);
	mf.path = (char *)"config";
	memset(files, 0, sizeof(files));
	files[0].container = (char *)"c";
	files[0].blob = (char *)"p/config";
	files[0].mf = &mf;
	files[0].shown = (char *)"c/p/config";
	files[1].container = (char *)"c";
	files[1].blob = (char *)"p/unknown";
	files[1].shown = (char *)"c/p/unknown";
	memset(&cb, 0, sizeof(cb));
	cb.file_done = file_done;
	cb.arg = &s;
	loc = ofs_xasprintf("file:%s", acct);
	assert_int_equal(ofs_repair_store_open(loc, &st, &err), 0);
	assert_int_equal(ofs_repair_run(st, stg, "STG/offseed-manifest.json", &l, &cb, &ok,
	    &bad), OFS_ERR_CORRUPT);
	assert_int_equal(ok, 1);
	assert_int_equal(bad, 1);
	assert_int_equal(s.ok, 1);
	assert_int_equal(s.size, mf.h.size);
	out = ofs_xasprintf("%s/c/p/config", acct);
	assert_true(ofs_path_exists(out));

	/* the staging copy damaged since the manifest: caught after the upload */
	put(stg, "config", "the repository config, changed\n");
	l.n = 1;
	memset(&s, 0, sizeof(s));
	assert_int_equal(ofs_repair_run(st, stg, "STG/offseed-manifest.json", &l, &cb, &ok,
	    &bad), OFS_ERR_CORRUPT);
	assert_int_equal(bad, 1);

	ofs_repair_store_free(st);
	ofs_file_hashes_release(&mf.h);
	unlink(out);
	unlink(path);
	free(out);
	free(path);
	free(loc);
	out = ofs_xasprintf("%s/c/p", acct);
	rmdir(out);
	free(out);
	out = ofs_xasprintf("%s/c", acct);
	rmdir(out);
	free(out);
	rmdir(acct);
	rmdir(stg);
}

static void
test_store_refuses_other_schemes(void **state)
{
	struct ofs_repair_store *st = NULL;
	struct ofs_error err = { 0 };

	(void)state;
	assert_int_equal(ofs_repair_store_open("s3://bucket", &st, &err), OFS_ERR_USAGE);
	ofs_repair_store_free(st);
	ofs_repair_store_free(NULL);
}

static void
test_storage_loc(void **state)
{
	struct ofs_credentials c;
	struct ofs_job j;
	char *s;

	(void)state;
	memset(&c, 0, sizeof(c));
	memset(&j, 0, sizeof(j));
	assert_null(ofs_repair_storage_loc(NULL, &c, &j));
	j.storage_account_id = (char *)"/subscriptions/x/resourceGroups/g/providers/"
	    "Microsoft.Storage/storageAccounts/acct";
	s = ofs_repair_storage_loc(NULL, &c, &j);
	assert_string_equal(s, "azure://acct");
	free(s);
	s = ofs_repair_storage_loc("file:/x", &c, &j);
	assert_string_equal(s, "file:/x");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upload_and_check),
		cmocka_unit_test(test_store_refuses_other_schemes),
		cmocka_unit_test(test_storage_loc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
