/* Unit tests of offseed-dc's job table on disk (tools/dc/jobstore.c): saving a job to its
 * customer's folder, loading the folder back (sorted; interrupted writes removed; damaged
 * files skipped; files from before customers moved to the default customer), removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dc.h"
#include "util.h"

static const char *good_body =
    "{\"location\":\"westeurope\",\"sku\":{\"name\":\"DataBoxCustomerDisk\"},"
    "\"properties\":{\"transferType\":\"ImportToAzure\",\"details\":{"
    "\"jobDetailsType\":\"DataBoxCustomerDisk\","
    "\"contactDetails\":{\"contactName\":\"Ops\",\"phone\":\"1\",\"emailList\":[\"a@b.c\"]},"
    "\"returnToCustomerPackageDetails\":{\"carrierName\":\"UPS\",\"carrierAccountNumber\":\"42\"},"
    "\"dataImportDetails\":[{\"accountDetails\":{\"dataAccountType\":\"StorageAccount\","
    "\"storageAccountId\":\"/x/acct\"}}],"
    "\"importDiskDetailsCollection\":{"
    "\"S1\":{\"manifestFile\":\"offseed-manifest.json\",\"manifestHash\":"
    "\"0000000000000000000000000000000000000000000000000000000000000001\"}}}}}";

static char top[] = "/tmp/ofs-dcjobstore-XXXXXX";

/* A fresh, valid job document named name (owned). */
static json_t *
new_doc(const char *name)
{
	json_t *b = json_loads(good_body, 0, NULL), *doc;
	char msg[256];

	assert_non_null(b);
	assert_int_equal(dc_job_validate(b, msg, sizeof(msg)), 0);
	doc = dc_job_new(name, b, 1700000000);
	json_decref(b);
	return doc;
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int
exists(const char *rel)
{
	char path[512];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/jobs/%s", top, rel);
	return lstat(path, &sb) == 0;
}

static void
test_save_load_remove(void **state)
{
	struct dc_ctx ctx;
	struct ofs_error err;
	struct dc_job *job;
	char path[512], *text;
	json_t *doc;

	memset(&ctx, 0, sizeof(ctx));
	pthread_mutex_init(&ctx.mu, NULL);
	ctx.jobs_dir = ofs_path_join(top, "jobs");
	assert_int_equal(ofs_mkdir_p(ctx.jobs_dir, 0700, &err), 0);

	/* Saved into the customer's folder. */
	doc = new_doc("zeta");
	json_object_set_new(doc, "customer", json_string("acme"));
	job = dc_add_job(&ctx, "acme", "zeta", doc);
	assert_int_equal(dc_save_job(&ctx, job, &err), 0);
	doc = new_doc("alpha");
	json_object_set_new(doc, "customer", json_string("acme"));
	job = dc_add_job(&ctx, "acme", "alpha", doc);
	assert_int_equal(dc_save_job(&ctx, job, &err), 0);
	assert_true(exists("acme/zeta.json"));
	assert_true(exists("acme/alpha.json"));
	dc_drop_jobs(&ctx);
	assert_int_equal(ctx.njobs, 0);

	/* A file from before customers, an interrupted write, a damaged file, a file whose
	 * name is not its job's. */
	doc = new_doc("beta");
	text = json_dumps(doc, JSON_COMPACT);
	snprintf(path, sizeof(path), "%s/jobs/beta.json", top);
	write_text(path, text);
	free(text);
	json_decref(doc);
	snprintf(path, sizeof(path), "%s/jobs/acme/alpha.json.tmp-Ab12cD", top);
	write_text(path, "{");
	snprintf(path, sizeof(path), "%s/jobs/acme/broken.json", top);
	write_text(path, "{");
	doc = new_doc("other");
	json_object_set_new(doc, "customer", json_string("acme"));
	text = json_dumps(doc, JSON_COMPACT);
	snprintf(path, sizeof(path), "%s/jobs/acme/renamed.json", top);
	write_text(path, text);
	free(text);
	json_decref(doc);

	assert_int_equal(dc_load_jobs(&ctx, &err), 0);
	assert_int_equal(ctx.njobs, 3);
	assert_string_equal(ctx.jobs[0]->name, "alpha");
	assert_string_equal(ctx.jobs[0]->customer, "acme");
	assert_string_equal(ctx.jobs[1]->name, "beta");
	assert_string_equal(ctx.jobs[1]->customer, DC_DEFAULT_CUSTOMER);
	assert_string_equal(ctx.jobs[2]->name, "zeta");
	assert_false(exists("acme/alpha.json.tmp-Ab12cD"));	/* removed */
	assert_false(exists("beta.json"));			/* moved */
	assert_true(exists(DC_DEFAULT_CUSTOMER "/beta.json"));
	assert_true(exists("acme/broken.json"));		/* skipped, kept */
	assert_true(exists("acme/renamed.json"));
	assert_non_null(dc_find_job(&ctx, "acme", "zeta"));
	assert_null(dc_find_job(&ctx, DC_DEFAULT_CUSTOMER, "zeta"));
	assert_null(dc_find_job(&ctx, "acme", "other"));

	/* Removal: the file goes, a second time is fine; the table is the caller's. */
	job = dc_find_job(&ctx, "acme", "zeta");
	assert_int_equal(dc_unlink_job(&ctx, job), 0);
	assert_false(exists("acme/zeta.json"));
	assert_int_equal(dc_unlink_job(&ctx, job), 0);
	dc_drop_job(&ctx, job);
	assert_int_equal(ctx.njobs, 2);
	assert_null(dc_find_job(&ctx, "acme", "zeta"));

	dc_drop_jobs(&ctx);
	free(ctx.jobs_dir);
}

/* No STATE/jobs at all is an error naming it (serve creates the state folder first). */
static void
test_load_missing(void **state)
{
	struct dc_ctx ctx;
	struct ofs_error err;

	memset(&ctx, 0, sizeof(ctx));
	ctx.jobs_dir = ofs_path_join(top, "absent");
	assert_int_not_equal(dc_load_jobs(&ctx, &err), 0);
	assert_non_null(strstr(err.msg, "absent"));
	assert_int_equal(ctx.njobs, 0);
	free(ctx.jobs_dir);
}

static int
setup(void **state)
{
	assert_non_null(mkdtemp(top));
	return 0;
}

static int
teardown(void **state)
{
	ofs_rm_rf(top);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_save_load_remove),
		cmocka_unit_test(test_load_missing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
