/* Unit tests of offseed-dc's job logic (tools/dc/jobs.c, compiled in): request validation,
 * stage history, copy outcome, closing a job, and the rendered JobResource. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
    "\"0000000000000000000000000000000000000000000000000000000000000001\"},"
    "\"S2\":{\"manifestFile\":\"offseed-manifest.json\",\"manifestHash\":"
    "\"0000000000000000000000000000000000000000000000000000000000000002\"}}}}}";

static json_t *
body(void)
{
	json_t *b = json_loads(good_body, 0, NULL);

	assert_non_null(b);
	return b;
}

static json_t *
details(json_t *b)
{
	return json_object_get(json_object_get(b, "properties"), "details");
}

static void
test_validate_good(void **state)
{
	char msg[256];
	json_t *b = body();

	assert_int_equal(dc_job_validate(b, msg, sizeof(msg)), 0);
	json_decref(b);
}

/* Each mutation must be refused with a message naming the field. */
static void
test_validate_bad(void **state)
{
	static const struct { const char *path, *value, *want; } cases[] = {
		{ "location", NULL, "location" },
		{ "sku.name", "\"DataBox\"", "sku.name" },
		{ "properties.transferType", "\"ExportFromAzure\"", "transferType" },
		{ "properties.details.jobDetailsType", "\"DataBoxDisk\"", "jobDetailsType" },
		{ "properties.details.contactDetails", NULL, "contactDetails" },
		{ "properties.details.contactDetails.emailList", "[]", "emailList" },
		{ "properties.details.contactDetails.emailList", "[\"nobody\"]", "emailList" },
		{ "properties.details.returnToCustomerPackageDetails.carrierAccountNumber", NULL,
		  "carrierAccountNumber" },
		{ "properties.details.dataImportDetails", "[]", "dataImportDetails" },
		{ "properties.details.importDiskDetailsCollection", "{}", "1 to 64 disks" },
		{ "properties.details.importDiskDetailsCollection.S1.manifestHash", "\"abc\"",
		  "manifestHash" },
		{ "properties.details.importDiskDetailsCollection.S1.manifestFile", "\"/etc/x\"",
		  "manifestFile" },
		{ "properties.details.importDiskDetailsCollection.S1.manifestFile", "\"a/../b\"",
		  "manifestFile" },
		{ "location", "\"a\\u0001b\"", "location" },
		{ "location", "7", "location" },
	};
	char msg[256], path[256];

	for (size_t i = 0; i < OFS_ARRAY_LEN(cases); i++) {
		json_t *b = body(), *o = b;
		char *p, *dot;

		snprintf(path, sizeof(path), "%s", cases[i].path);
		for (p = path; (dot = strchr(p, '.')) != NULL; p = dot + 1) {
			*dot = '\0';
			o = json_object_get(o, p);
			assert_non_null(o);
		}
		if (cases[i].value == NULL)
			json_object_del(o, p);
		else
			json_object_set_new(o, p, json_loads(cases[i].value, JSON_DECODE_ANY, NULL));
		msg[0] = '\0';
		assert_int_equal(dc_job_validate(b, msg, sizeof(msg)), -1);
		if (strstr(msg, cases[i].want) == NULL)
			fail_msg("case %zu: '%s' does not name '%s'", i, msg, cases[i].want);
		json_decref(b);
	}
	/* a bad serial */
	{
		json_t *b = body(), *coll = json_object_get(details(b),
		    "importDiskDetailsCollection");

		json_object_set(coll, "../x", json_object_get(coll, "S1"));
		assert_int_equal(dc_job_validate(b, msg, sizeof(msg)), -1);
		assert_non_null(strstr(msg, "serial"));
		json_decref(b);
	}
	{
		json_t *a = json_array();

		assert_int_equal(dc_job_validate(a, msg, sizeof(msg)), -1);
		json_decref(a);
	}
}

static void
test_stages_and_outcome(void **state)
{
	json_t *b = body(), *doc = dc_job_new("job-1", b, 1000), *s1, *s2, *stages;
	char msg[256];

	assert_int_equal(dc_job_doc_check(doc, msg, sizeof(msg)), 0);
	assert_string_equal(dc_jstr(doc, "status"), "Created");
	assert_true(dc_stage_cancellable("Created"));
	assert_false(dc_stage_final("Created"));
	dc_job_set_stage(doc, "ShippedToAzureDC", 1001);
	dc_job_set_stage(doc, "AtAzureDC", 1002);
	stages = json_object_get(doc, "stages");
	assert_int_equal(json_array_size(stages), 3);
	assert_string_equal(dc_jstr(json_array_get(stages, 0), "stageStatus"), "Succeeded");
	assert_string_equal(dc_jstr(json_array_get(stages, 2), "stageStatus"), "InProgress");
	assert_false(dc_stage_cancellable("AtAzureDC"));

	s1 = dc_job_disk(doc, "S1");
	s2 = dc_job_disk(doc, "S2");
	assert_null(dc_job_disk(doc, "S3"));
	assert_false(dc_job_needs_worker(doc));
	json_object_set_new(s1, "phase", json_string("received"));
	assert_true(dc_job_needs_worker(doc));
	assert_null(dc_job_outcome(doc));
	json_object_set_new(s1, "phase", json_string("done"));
	json_object_set_new(s1, "copyStatus", json_string("Completed"));
	assert_null(dc_job_outcome(doc));		/* S2 not received, job open */
	json_object_set_new(s2, "phase", json_string("done"));
	json_object_set_new(s2, "copyStatus", json_string("Completed"));
	assert_string_equal(dc_job_outcome(doc), "Completed");
	json_object_set_new(s2, "warnings", json_integer(1));
	assert_string_equal(dc_job_outcome(doc), "CompletedWithWarnings");
	json_object_set_new(s2, "copyStatus", json_string("CompletedWithErrors"));
	assert_string_equal(dc_job_outcome(doc), "CompletedWithErrors");
	json_object_set_new(s1, "copyStatus", json_string("MetadataFilesModifiedOrRemoved"));
	json_object_set_new(s2, "copyStatus", json_string("Failed"));
	assert_string_equal(dc_job_outcome(doc), "Failed_IssueDetectedAtAzureDC");

	/* closing marks only disks never received */
	json_object_set_new(s1, "copyStatus", json_string("Completed"));
	json_object_set_new(s2, "phase", json_string("waiting"));
	json_object_set_new(s2, "copyStatus", json_string("NotStarted"));
	dc_job_close(doc);
	assert_string_equal(dc_jstr(s1, "copyStatus"), "Completed");
	assert_string_equal(dc_jstr(s2, "copyStatus"), "DriveNotReceived");
	assert_string_equal(dc_job_outcome(doc), "CompletedWithErrors");
	dc_job_set_stage(doc, "CompletedWithErrors", 1003);
	assert_true(dc_stage_final("CompletedWithErrors"));
	assert_string_equal(dc_jstr(json_array_get(stages, 3), "stageStatus"),
	    "SucceededWithErrors");
	json_decref(doc);
	json_decref(b);
}

static void
test_render(void **state)
{
	struct dc_service s;
	json_t *b = body(), *doc = dc_job_new("job-1", b, 1000), *r, *props;
	char *text;

	memset(&s, 0, sizeof(s));
	s.subscription = (char *)"sub";
	s.resource_group = (char *)"rg";
	r = dc_job_render(doc, &s, 0);
	props = json_object_get(r, "properties");
	assert_string_equal(dc_jstr(r, "id"),
	    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.DataBox/jobs/job-1");
	assert_string_equal(dc_jstr(props, "status"), "Created");
	assert_null(json_object_get(props, "details"));
	assert_true(json_is_true(json_object_get(props, "isCancellable")));
	json_decref(r);

	r = dc_job_render(doc, &s, 1);
	props = json_object_get(r, "properties");
	assert_int_equal(json_array_size(json_object_get(json_object_get(props, "details"),
	    "copyProgress")), 2);
	text = json_dumps(r, 0);
	assert_null(strstr(text, "carrierAccountNumber"));	/* write-only */
	assert_non_null(strstr(text, "\"UPS\""));
	free(text);
	/* the stored request is not changed by rendering */
	assert_true(json_equal(json_object_get(doc, "request"), b));
	json_decref(r);
	json_decref(doc);
	json_decref(b);
}

static void
test_doc_check_bad(void **state)
{
	json_t *b = body(), *doc = dc_job_new("job-1", b, 1000);
	char msg[256];

	json_object_set_new(doc, "version", json_integer(2));
	assert_int_equal(dc_job_doc_check(doc, msg, sizeof(msg)), -1);
	json_object_set_new(doc, "version", json_integer(1));
	json_object_set_new(dc_job_disk(doc, "S1"), "phase", json_string("checked"));
	assert_int_equal(dc_job_doc_check(doc, msg, sizeof(msg)), -1);	/* no dock path */
	json_object_set_new(dc_job_disk(doc, "S1"), "dock", json_string("/mnt/d1"));
	assert_int_equal(dc_job_doc_check(doc, msg, sizeof(msg)), 0);
	json_object_set_new(dc_job_disk(doc, "S1"), "phase", json_string("bogus"));
	assert_int_equal(dc_job_doc_check(doc, msg, sizeof(msg)), -1);
	json_object_set_new(dc_job_disk(doc, "S1"), "phase", json_string("waiting"));
	json_object_del(dc_job_disk(doc, "S1"), "imported");
	assert_int_equal(dc_job_doc_check(doc, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "S1"));
	json_decref(doc);
	doc = json_string("x");
	assert_int_equal(dc_job_doc_check(doc, msg, sizeof(msg)), -1);
	json_decref(doc);
	json_decref(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_good),
		cmocka_unit_test(test_validate_bad),
		cmocka_unit_test(test_stages_and_outcome),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_doc_check_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
