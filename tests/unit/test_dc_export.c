/* Unit tests of offseed-dc's export job logic (tools/dc/jobs_export.c and jobs.c): the
 * strict check of an ExportFromAzure body with known-bad bodies, the split of blob paths,
 * the export state of a job document, its outcome and the rendered JobResource. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dc.h"
#include "util.h"

#define H32 "0123456789abcdef0123456789abcdef"
#define H64 H32 H32

static const char *good_body =
    "{\"location\":\"westeurope\",\"sku\":{\"name\":\"DataBoxCustomerDisk\"},"
    "\"properties\":{\"transferType\":\"ExportFromAzure\",\"details\":{"
    "\"jobDetailsType\":\"DataBoxCustomerDisk\","
    "\"contactDetails\":{\"contactName\":\"Ops\",\"phone\":\"1\",\"emailList\":[\"a@b.c\"]},"
    "\"returnToCustomerPackageDetails\":{\"carrierName\":\"UPS\",\"carrierAccountNumber\":\"42\"},"
    "\"dataExportDetails\":[{\"accountDetails\":{\"dataAccountType\":\"StorageAccount\","
    "\"storageAccountId\":\"/s/x/providers/Microsoft.Storage/storageAccounts/acct\"},"
    "\"transferConfiguration\":{\"transferConfigurationType\":\"TransferUsingFilter\","
    "\"transferFilterDetails\":{\"include\":{\"dataAccountType\":\"StorageAccount\","
    "\"blobFilterDetails\":{\"blobPathList\":["
    "\"/seed/srv01/config\","
    "\"/seed/srv01/keys/" H32 "\","
    "\"/seed/srv01/index/" H64 "\","
    "\"/seed/srv01/snapshots/" H64 "\","
    "\"/seed/srv01/containers/" H32 "-000001.vhd\","
    "\"/seed/srv01/containers/" H32 "-000002.vhd\","
    "\"/seed/srv01/data/01/" H64 "\""
    "]}}}},\"logCollectionLevel\":\"Verbose\"}]}}}";

static json_t *
body(void)
{
	json_t *b = json_loads(good_body, 0, NULL);

	assert_non_null(b);
	return b;
}

static json_t *
xdetails(json_t *b)
{
	return json_array_get(json_object_get(json_object_get(json_object_get(b, "properties"),
	    "details"), "dataExportDetails"), 0);
}

static json_t *
plist(json_t *b)
{
	return json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(
	    xdetails(b), "transferConfiguration"), "transferFilterDetails"), "include"),
	    "blobFilterDetails"), "blobPathList");
}

static void
test_good(void **state)
{
	char msg[512];
	json_t *b = body();

	assert_int_equal(dc_job_validate(b, msg, sizeof(msg)), 0);
	/* returnToCustomerPackageDetails is optional for an export, the log level too */
	json_object_del(json_object_get(json_object_get(b, "properties"), "details"),
	    "returnToCustomerPackageDetails");
	json_object_del(xdetails(b), "logCollectionLevel");
	assert_int_equal(dc_job_validate(b, msg, sizeof(msg)), 0);
	/* an empty prefix: /C/NAME */
	json_array_clear(plist(b));
	json_array_append_new(plist(b), json_string("/seed/config"));
	json_array_append_new(plist(b), json_string("/seed/keys/" H32));
	assert_int_equal(dc_job_validate(b, msg, sizeof(msg)), 0);
	json_decref(b);
}

/* Replace the blobPathList with entries (NULL-terminated) and expect a refusal naming want. */
static void
bad_list(const char *const *entries, const char *want)
{
	char msg[512];
	json_t *b = body();

	json_array_clear(plist(b));
	for (; *entries != NULL; entries++)
		json_array_append_new(plist(b), json_string(*entries));
	msg[0] = '\0';
	assert_int_equal(dc_job_validate(b, msg, sizeof(msg)), -1);
	if (strstr(msg, want) == NULL)
		fail_msg("'%s' does not name '%s'", msg, want);
	json_decref(b);
}

static void
test_bad_lists(void **state)
{
	char longp[1200];

	{ const char *e[] = { "/seed/srv01/keys/" H32, NULL }; bad_list(e, "config"); }
	{ const char *e[] = { "/seed/srv01/config", "/seed/srv02/keys/" H32, NULL };
	  bad_list(e, "[1]"); }
	{ const char *e[] = { "/seed/srv01/config", "/seed/srv01/keys/" H32,
	  "/seed/srv01/keys/" H32, NULL }; bad_list(e, "duplicate"); }
	{ const char *e[] = { "/seed/srv01/config", "/seed/srv01/index/" H64,
	  "/seed/srv01/keys/" H32, NULL }; bad_list(e, "out of order"); }
	{ const char *e[] = { "/seed/srv01/config", "/seed/srv01/keys/" H32 "0", NULL };
	  bad_list(e, "[1]"); }
	{ const char *e[] = { "/seed/srv01/config", "/seed/srv01/keys/0123456789ABCDEF0123456789abcdef",
	  NULL }; bad_list(e, "[1]"); }
	{ const char *e[] = { "/seed/srv01/config", "/seed/srv01/data/02/" H64, NULL };
	  bad_list(e, "[1]"); }
	{ const char *e[] = { "/seed/srv01/config", "/seed/srv01/containers/" H32 "-1.vhd",
	  NULL }; bad_list(e, "[1]"); }
	{ const char *e[] = { "/seed/srv01/config", "/seed/srv01/locks/lock", NULL };
	  bad_list(e, "[1]"); }
	{ const char *e[] = { "/seed/srv01/config", "/seed/srv01/offseed-manifest.json", NULL };
	  bad_list(e, "[1]"); }
	{ const char *e[] = { "/offseed-copylogs/config", NULL }; bad_list(e, "offseed-copylogs"); }
	{ const char *e[] = { "/Seed/config", NULL }; bad_list(e, "config"); }
	{ const char *e[] = { "/seed/../config", NULL }; bad_list(e, "config"); }
	{ const char *e[] = { "/seed/./config", NULL }; bad_list(e, "config"); }
	{ const char *e[] = { "/seed//config", NULL }; bad_list(e, "config"); }
	{ const char *e[] = { "/seed/a\\b/config", NULL }; bad_list(e, "config"); }
	{ const char *e[] = { "/seed/a\x01/config", NULL }; bad_list(e, "config"); }
	{ const char *e[] = { "seed/config", NULL }; bad_list(e, "config"); }
	{ const char *e[] = { NULL }; bad_list(e, "1 to 1048576"); }
	/* a blob name over 1024 bytes */
	memset(longp, 'p', sizeof(longp));
	memcpy(longp, "/seed/", 6);
	for (size_t i = 7; i < 1100; i += 2)
		longp[i] = '/';
	snprintf(longp + 1100, sizeof(longp) - 1100, "/config");
	{ const char *e[] = { longp, NULL }; bad_list(e, "config"); }
}

/* Each mutation of the good body is refused naming want. */
static void
test_bad_shapes(void **state)
{
	static const struct { const char *path, *key, *value, *want; } cases[] = {
		{ "", "importDiskDetailsCollection", "{}", "transferType" },
		{ "", "dataImportDetails", "[]", "transferType" },
		{ "", "shippingAddress", "{}", "shippingAddress" },
		{ "", "dataExportDetails", "[]", "dataExportDetails" },
		{ "", "contactDetails", NULL, "contactDetails" },
		{ "x", "sharePassword", "\"x\"", "sharePassword" },
		{ "x", "logCollectionLevel", "\"Chatty\"", "logCollectionLevel" },
		{ "x", "transferConfiguration", NULL, "transferConfiguration" },
		{ "x.accountDetails", "dataAccountType", "\"ManagedDisk\"", "dataAccountType" },
		{ "x.accountDetails", "storageAccountId", "7", "storageAccountId" },
		{ "x.accountDetails", "extra", "1", "accountDetails" },
		{ "x.transferConfiguration", "transferConfigurationType", "\"TransferAll\"",
		  "transferConfigurationType" },
		{ "x.transferConfiguration", "transferAllDetails", "{}", "transferAllDetails" },
		{ "x.transferConfiguration.transferFilterDetails", "exclude", "{}", "exclude" },
		{ "x.transferConfiguration.transferFilterDetails.include", "dataAccountType",
		  "\"ManagedDisk\"", "dataAccountType" },
		{ "x.transferConfiguration.transferFilterDetails.include", "azureFileFilterDetails",
		  "{}", "azureFileFilterDetails" },
		{ "x.transferConfiguration.transferFilterDetails.include.blobFilterDetails",
		  "blobPrefixList", "[\"/seed\"]", "blobPrefixList" },
		{ "x.transferConfiguration.transferFilterDetails.include.blobFilterDetails",
		  "blobPathList", "\"/seed/config\"", "blobPathList" },
		{ "x.transferConfiguration.transferFilterDetails.include.blobFilterDetails",
		  "blobPathList", "[7]", "[0]" },
	};
	char msg[512], path[256];

	for (size_t i = 0; i < OFS_ARRAY_LEN(cases); i++) {
		json_t *b = body(), *o = json_object_get(json_object_get(b, "properties"),
		    "details");
		char *p, *dot;

		if (cases[i].path[0] != '\0') {
			o = xdetails(b);
			snprintf(path, sizeof(path), "%s", cases[i].path + 1);
			for (p = path; *p != '\0'; p = dot + 1) {
				if (*p == '.')
					p++;
				dot = strchr(p, '.');
				if (dot != NULL)
					*dot = '\0';
				o = json_object_get(o, p);
				assert_non_null(o);
				if (dot == NULL)
					break;
			}
		}
		if (cases[i].value == NULL)
			json_object_del(o, cases[i].key);
		else
			json_object_set_new(o, cases[i].key, json_loads(cases[i].value,
			    JSON_DECODE_ANY, NULL));
		msg[0] = '\0';
		assert_int_equal(dc_job_validate(b, msg, sizeof(msg)), -1);
		if (strstr(msg, cases[i].want) == NULL)
			fail_msg("case %zu: '%s' does not name '%s'", i, msg, cases[i].want);
		json_decref(b);
	}
	/* two accounts */
	{
		json_t *b = body(), *arr = json_object_get(json_object_get(json_object_get(b,
		    "properties"), "details"), "dataExportDetails");

		json_array_append(arr, json_array_get(arr, 0));
		assert_int_equal(dc_job_validate(b, msg, sizeof(msg)), -1);
		assert_non_null(strstr(msg, "dataExportDetails"));
		json_decref(b);
	}
}

static void
test_split(void **state)
{
	char *cont;
	const char *blob;
	int g;

	assert_int_equal(dc_export_split("/seed/srv01/containers/" H32 "-000001.vhd", 11, &cont,
	    &blob, &g), 0);
	assert_string_equal(cont, "seed");
	assert_string_equal(blob, "srv01/containers/" H32 "-000001.vhd");
	assert_int_equal(g, DC_EXPORT_CONTAINERS);
	free(cont);
	assert_int_equal(dc_export_split("/seed/config", 5, &cont, &blob, &g), 0);
	assert_string_equal(cont, "seed");
	assert_string_equal(blob, "config");
	assert_int_equal(g, DC_EXPORT_CONFIG);
	free(cont);
	assert_int_equal(dc_export_split("/seed/srv01/config", 5, &cont, &blob, &g), -1);
	assert_null(cont);
	assert_int_equal(dc_export_split("/seed/srv01/nothing", 11, &cont, &blob, &g), -1);
}

static void
test_doc(void **state)
{
	char msg[512];
	json_t *b = body(), *doc = dc_job_new("exp1", b, 1000), *ex, *out, *coll;

	assert_true(dc_job_is_export(doc));
	assert_int_equal(dc_job_doc_check(doc, msg, sizeof(msg)), 0);
	assert_int_equal(dc_job_needs_worker(doc), 0);
	assert_null(dc_job_outcome(doc));
	assert_int_equal(json_object_size(json_object_get(doc, "disks")), 0);
	assert_int_equal((int)dc_export_base_len(doc), 11);
	assert_int_equal((int)json_array_size(dc_export_paths(doc)), 7);
	/* a planned export without its plan is damaged */
	ex = json_object_get(doc, "export");
	json_object_set_new(ex, "state", json_string("planned"));
	assert_int_equal(dc_job_doc_check(doc, msg, sizeof(msg)), -1);
	json_object_set_new(ex, "state", json_string("bogus"));
	assert_int_equal(dc_job_doc_check(doc, msg, sizeof(msg)), -1);
	json_object_set_new(ex, "state", json_string("done"));
	json_object_set_new(ex, "seedSet", json_string("xyz"));
	assert_int_equal(dc_job_doc_check(doc, msg, sizeof(msg)), -1);
	json_object_set_new(ex, "seedSet", json_string(H32));
	assert_int_equal(dc_job_doc_check(doc, msg, sizeof(msg)), 0);
	/* done: the outcome and the render */
	assert_string_equal(dc_job_outcome(doc), "ShippedToCustomer");
	json_object_set_new(ex, "errored", json_integer(2));
	assert_string_equal(dc_job_outcome(doc), "CompletedWithErrors");
	json_object_set_new(json_object_get(doc, "disks"), "D1", json_pack("{s:s, s:s, s:s, "
	    "s:s, s:{}, s:{}}", "copyStatus", "Completed", "phase", "done", "dock", "/x",
	    "manifestHash", H64, "errors", "imported"));
	json_object_set_new(doc, "error", json_pack("{s:s, s:s}", "code", "ExportDiskFailed",
	    "message", "disk D1"));
	out = dc_job_render_in(doc, "sub", "rg", 1);
	coll = json_object_get(json_object_get(json_object_get(out, "properties"), "details"),
	    "exportDiskDetailsCollection");
	assert_string_equal(dc_jstr(json_object_get(coll, "D1"), "manifestHash"), H64);
	assert_string_equal(dc_jstr(json_object_get(coll, "D1"), "manifestFile"),
	    "offseed-manifest.json");
	assert_string_equal(dc_jstr(json_array_get(json_object_get(json_object_get(
	    json_object_get(out, "properties"), "details"), "copyProgress"), 0), "transferType"),
	    "ExportFromAzure");
	assert_string_equal(dc_jstr(json_object_get(json_object_get(out, "properties"),
	    "error"), "code"), "ExportDiskFailed");
	json_decref(out);
	json_decref(doc);
	json_decref(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad_lists),
		cmocka_unit_test(test_bad_shapes),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_doc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
