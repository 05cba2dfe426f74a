/* Unit tests for engine/exportplan.c over a real repository built here (stage, a backup
 * adding a large file, one deleting it): a file only an older snapshot holds is not
 * needed, a path leaves other folders' containers out, the order and sizes; the job body
 * (contract shape, caps); and lib/jobjson's reading of export jobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "exportplan.h"
#include "jobjson.h"
#include "log.h"
#include "manifest.h"
#include "stage.h"
#include "util.h"

static const char pass[] = "correct horse battery staple 42";

struct fixture {
	char root[64];
	char *repo, *src, *a, *b;
	char **huge;		/* loose packs the backup with the huge file stored */
	size_t nhuge;
	struct ofs_repo *r;
	struct ofs_snapshot *snaps;
	size_t nsnaps;
};

static void
write_random(const char *path, size_t n)
{
	FILE *f = fopen(path, "wb");
	uint8_t buf[65536];

	assert_non_null(f);
	while (n > 0) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);

		ofs_random(buf, k);
		assert_int_equal(fwrite(buf, 1, k, f), k);
		n -= k;
	}
	assert_int_equal(fclose(f), 0);
}

/* Names "data/xx/ID" of the loose packs now in the repository. */
static void
list_packs(const char *repo, char ***out, size_t *n)
{
	char *data = ofs_path_join(repo, "data");
	DIR *d = opendir(data), *sub;
	struct dirent *e, *f;

	*out = NULL;
	*n = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char *p;

		if (e->d_name[0] == '.')
			continue;
		p = ofs_path_join(data, e->d_name);
		sub = opendir(p);
		assert_non_null(sub);
		while ((f = readdir(sub)) != NULL) {
			if (f->d_name[0] == '.')
				continue;
			*out = ofs_xreallocarray(*out, *n + 1, sizeof(**out));
			(*out)[(*n)++] = ofs_xasprintf("data/%s/%s", e->d_name, f->d_name);
		}
		closedir(sub);
		free(p);
	}
	closedir(d);
	free(data);
}

static int
has(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

static void
open_repo(struct fixture *fx)
{
	struct ofs_error err = { 0 };

	ofs_repo_close(fx->r);
	fx->r = NULL;
	assert_int_equal(ofs_repo_open(fx->repo, NULL, &fx->r, &err), 0);
	assert_int_equal(ofs_repo_unlock(fx->r, pass, strlen(pass), &err), 0);
	assert_int_equal(ofs_repo_load_index(fx->r, &err), 0);
}

static void
run_stage(struct fixture *fx, int loose)
{
	struct ofs_stage_opts o;
	struct ofs_stage_result res;
	struct ofs_progress pr;
	struct ofs_error err = { 0 };
	const char *srcs[1] = { fx->src };
	int rc;

	open_repo(fx);
	memset(&o, 0, sizeof(o));
	memset(&res, 0, sizeof(res));
	o.srcs = srcs;
	o.nsrcs = 1;
	o.container_size = 1u << 20;	/* small: alpha's data fills containers of its own */
	o.checkpoint_bytes = 1ULL << 30;
	o.checkpoint_seconds = 60;
	o.threads = 1;
	o.loose = loose;
	res.sealed = ofs_manifest_new();
	ofs_progress_start(&pr, loose ? "backup" : "stage", 0, 0);
	rc = ofs_stage_run(fx->r, &o, &pr, &res, &err);
	ofs_progress_end(&pr);
	ofs_manifest_free(res.sealed);
	if (rc != 0)
		fail_msg("stage: %s", err.msg);
}

static int
setup(void **state)
{
	struct fixture *fx = ofs_xcalloc(1, sizeof(*fx));
	struct ofs_kdf_params kdf = { 1 << 10, 8, 1 };
	struct ofs_error err = { 0 };
	char **before, **after, *p;
	size_t nb, na;

	snprintf(fx->root, sizeof(fx->root), "/tmp/ofs-exportplan-XXXXXX");
	assert_non_null(mkdtemp(fx->root));
	p = ofs_path_join(fx->root, "state");
	setenv("XDG_STATE_HOME", p, 1);
	free(p);
	fx->repo = ofs_path_join(fx->root, "repo");
	fx->src = ofs_path_join(fx->root, "src");
	fx->a = ofs_path_join(fx->src, "alpha");
	fx->b = ofs_path_join(fx->src, "beta");
	assert_int_equal(mkdir(fx->src, 0755), 0);
	assert_int_equal(mkdir(fx->a, 0755), 0);
	assert_int_equal(mkdir(fx->b, 0755), 0);
	p = ofs_path_join(fx->a, "bulk");
	write_random(p, 3u << 20);	/* alpha's data: more than two 1 MiB containers */
	free(p);
	p = ofs_path_join(fx->b, "small");
	write_random(p, 100000);
	free(p);
	assert_int_equal(ofs_repo_init(fx->repo, "azure://acct/backups/srv01", pass, strlen(pass),
	    kdf, &fx->r, &err), 0);
	run_stage(fx, 0);
	list_packs(fx->repo, &before, &nb);
	p = ofs_path_join(fx->a, "huge");
	write_random(p, 2u << 20);
	run_stage(fx, 1);
	list_packs(fx->repo, &after, &na);
	for (size_t i = 0; i < na; i++) {
		if (has(before, nb, after[i])) {
			free(after[i]);
			continue;
		}
		fx->huge = ofs_xreallocarray(fx->huge, fx->nhuge + 1, sizeof(*fx->huge));
		fx->huge[fx->nhuge++] = after[i];
	}
	free(after);
	ofs_names_free(before, nb);
	assert_true(fx->nhuge > 0);
	assert_int_equal(unlink(p), 0);
	free(p);
	run_stage(fx, 1);
	open_repo(fx);
	assert_int_equal(ofs_repo_list_snapshots(fx->r, &fx->snaps, &fx->nsnaps, &err), 0);
	assert_int_equal(fx->nsnaps, 3);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char *cmd = ofs_xasprintf("rm -rf '%s'", fx->root);

	for (size_t i = 0; i < fx->nsnaps; i++)
		ofs_snapshot_release(&fx->snaps[i]);
	free(fx->snaps);
	ofs_repo_close(fx->r);
	ofs_names_free(fx->huge, fx->nhuge);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(fx->repo);
	free(fx->src);
	free(fx->a);
	free(fx->b);
	free(fx);
	return 0;
}

static size_t
count_prefix(const struct ofs_export_plan *p, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		n += strncmp(p->names[i], prefix, strlen(prefix)) == 0;
	return n;
}

static void
test_latest_leaves_old_file_out(void **state)
{
	struct fixture *fx = *state;
	struct ofs_export_plan p, mid;
	struct ofs_error err = { 0 };
	const struct ofs_snapshot *latest = &fx->snaps[2];
	char hex[2 * OFS_ID_LEN + 1], *snapname;
	uint64_t total = 0;
	static const char *const order[] = { "config", "keys/", "index/", "snapshots/",
		"containers/", "data/" };
	size_t g = 0;

	assert_int_equal(ofs_exportplan_build(fx->r, latest, NULL, 0, &p, &err), 0);
	for (size_t i = 0; i < fx->nhuge; i++)
		assert_false(has(p.names, p.n, fx->huge[i]));
	/* the older snapshot with the huge file needs its data */
	assert_int_equal(ofs_exportplan_build(fx->r, &fx->snaps[1], NULL, 0, &mid, &err), 0);
	{
		size_t found = 0;

		for (size_t i = 0; i < fx->nhuge; i++)
			found += has(mid.names, mid.n, fx->huge[i]);
		assert_true(found > 0);
	}
	ofs_exportplan_release(&mid);
	/* exactly one snapshot, the one asked for */
	ofs_hex(latest->id, OFS_ID_LEN, hex);
	snapname = ofs_xasprintf("snapshots/%s", hex);
	assert_true(has(p.names, p.n, snapname));
	assert_int_equal(count_prefix(&p, "snapshots/"), 1);
	free(snapname);
	assert_string_equal(p.names[0], "config");
	assert_int_equal(count_prefix(&p, "keys/"), 1);
	assert_int_equal(p.nkeys, 1);
	assert_int_equal(count_prefix(&p, "index/"), p.nindex);
	assert_true(p.nindex >= 3);	/* stage and both backups wrote one */
	assert_int_equal(count_prefix(&p, "containers/"), p.ncontainers);
	assert_true(p.ncontainers >= 3);
	assert_int_equal(count_prefix(&p, "data/"), p.nloose);
	assert_int_equal(p.n, 2 + p.nkeys + p.nindex + p.ncontainers + p.nloose);
	/* order: groups in the contract's order, each sorted, no duplicates */
	for (size_t i = 0; i < p.n; i++) {
		while (g < OFS_ARRAY_LEN(order) &&
		    strncmp(p.names[i], order[g], strlen(order[g])) != 0)
			g++;
		assert_true(g < OFS_ARRAY_LEN(order));
		if (i > 0 && strncmp(p.names[i - 1], order[g], strlen(order[g])) == 0)
			assert_true(strcmp(p.names[i - 1], p.names[i]) < 0);
	}
	/* sizes: the files' own */
	assert_int_equal(p.nsize_unknown, 0);
	assert_null(p.first_unknown);
	for (size_t i = 0; i < p.n; i++) {
		char *path = ofs_path_join(fx->repo, p.names[i]);
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		total += (uint64_t)st.st_size;
		free(path);
	}
	assert_int_equal(p.bytes, total);
	assert_true(p.blobs > 0);
	ofs_exportplan_release(&p);
	ofs_exportplan_release(&p);	/* twice is harmless */
}

static void
test_path_limits_containers(void **state)
{
	struct fixture *fx = *state;
	struct ofs_export_plan all, beta, both, root;
	struct ofs_error err = { 0 };
	const struct ofs_snapshot *latest = &fx->snaps[2];
	const char *pb[1] = { fx->b }, *pab[2], *pr[1] = { "/" };
	char *rel;

	assert_int_equal(ofs_exportplan_build(fx->r, latest, NULL, 0, &all, &err), 0);
	assert_int_equal(ofs_exportplan_build(fx->r, latest, pb, 1, &beta, &err), 0);
	assert_true(beta.ncontainers >= 1);
	assert_true(beta.ncontainers < all.ncontainers);
	assert_true(beta.n < all.n);
	for (size_t i = 0; i < beta.n; i++)
		assert_true(has(all.names, all.n, beta.names[i]));
	/* the first container holds alpha's bulk only */
	assert_true(strncmp(all.names[2 + all.nkeys + all.nindex], "containers/", 11) == 0);
	assert_false(has(beta.names, beta.n, all.names[2 + all.nkeys + all.nindex]));
	assert_true(beta.bytes < all.bytes);
	/* a path and a path below it, a relative spelling: the union, the same as all */
	pab[0] = fx->a + 1;	/* "tmp/…/alpha": without the leading '/' */
	pab[1] = fx->b;
	assert_int_equal(ofs_exportplan_build(fx->r, latest, pab, 2, &both, &err), 0);
	assert_int_equal(both.ncontainers, all.ncontainers);
	/* the root is everything */
	assert_int_equal(ofs_exportplan_build(fx->r, latest, pr, 1, &root, &err), 0);
	assert_int_equal(root.n, all.n);
	for (size_t i = 0; i < root.n; i++)
		assert_string_equal(root.names[i], all.names[i]);
	ofs_exportplan_release(&root);
	/* a file path: its chunks, and a path below it and deeper paths the union */
	rel = ofs_path_join(fx->b, "small");
	pab[0] = rel;
	pab[1] = fx->b;
	ofs_exportplan_release(&both);
	assert_int_equal(ofs_exportplan_build(fx->r, latest, pab, 2, &both, &err), 0);
	assert_int_equal(both.n, beta.n);
	free(rel);
	ofs_exportplan_release(&both);
	ofs_exportplan_release(&beta);
	ofs_exportplan_release(&all);
}

static void
test_path_errors(void **state)
{
	struct fixture *fx = *state;
	struct ofs_export_plan p;
	struct ofs_error err = { 0 };
	const struct ofs_snapshot *latest = &fx->snaps[2];
	char *missing = ofs_path_join(fx->src, "gamma"), *below;
	const char *pp[1];

	pp[0] = missing;
	assert_int_equal(ofs_exportplan_build(fx->r, latest, pp, 1, &p, &err), OFS_ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, "is not in snapshot"));
	assert_null(p.names);
	below = ofs_path_join(fx->b, "small/x");
	pp[0] = below;
	assert_int_equal(ofs_exportplan_build(fx->r, latest, pp, 1, &p, &err), OFS_ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, "is not a directory"));
	/* the huge file is gone from latest */
	free(below);
	below = ofs_path_join(fx->a, "huge");
	pp[0] = below;
	assert_int_equal(ofs_exportplan_build(fx->r, latest, pp, 1, &p, &err), OFS_ERR_NOTFOUND);
	assert_int_equal(ofs_exportplan_build(fx->r, &fx->snaps[1], pp, 1, &p, &err), 0);
	for (size_t i = 0, found = 0; i <= fx->nhuge; i++) {
		if (i == fx->nhuge) {
			assert_true(found > 0);
			break;
		}
		found += has(p.names, p.n, fx->huge[i]);
	}
	ofs_exportplan_release(&p);
	free(below);
	free(missing);
}

/* ---- the job body ---- */

static json_t *
body_list(json_t *body)
{
	json_t *e = json_array_get(json_object_get(json_object_get(json_object_get(body,
	    "properties"), "details"), "dataExportDetails"), 0);

	return json_object_get(json_object_get(json_object_get(json_object_get(json_object_get(
	    e, "transferConfiguration"), "transferFilterDetails"), "include"),
	    "blobFilterDetails"), "blobPathList");
}

static void
test_body(void **state)
{
	char *names[3] = { "config", "keys/00112233445566778899aabbccddeeff",
		"containers/00112233445566778899aabbccddeeff-000001.vhd" };
	struct ofs_export_plan p = { .names = names, .n = 3 };
	json_t *contact = json_pack("{s:s}", "contactName", "x"), *body = NULL, *l;
	struct ofs_export_target t = { "backups", "srv01/a", "westeurope", "/subscriptions/s",
		contact, NULL };
	struct ofs_error err = { 0 };

	(void)state;
	assert_int_equal(ofs_exportplan_job_body(&p, &t, &body, &err), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(body,
	    "properties"), "transferType")), "ExportFromAzure");
	l = body_list(body);
	assert_int_equal(json_array_size(l), 3);
	assert_string_equal(json_string_value(json_array_get(l, 0)), "/backups/srv01/a/config");
	assert_string_equal(json_string_value(json_array_get(l, 2)),
	    "/backups/srv01/a/containers/00112233445566778899aabbccddeeff-000001.vhd");
	assert_null(json_object_get(json_object_get(json_object_get(body, "properties"),
	    "details"), "returnToCustomerPackageDetails"));
	json_decref(body);
	t.prefix = "";
	assert_int_equal(ofs_exportplan_job_body(&p, &t, &body, &err), 0);
	assert_string_equal(json_string_value(json_array_get(body_list(body), 0)),
	    "/backups/config");
	json_decref(body);
	t.contact = NULL;
	assert_int_equal(ofs_exportplan_job_body(&p, &t, &body, &err), OFS_ERR_USAGE);
	assert_null(body);
	json_decref(contact);
}

static void
test_body_caps(void **state)
{
	static char longname[200];
	struct ofs_export_plan p = { 0 };
	json_t *contact = json_object(), *body = NULL;
	struct ofs_export_target t = { "backups", "p", "l", "/s", contact, NULL };
	struct ofs_error err = { 0 };

	(void)state;
	p.n = OFS_EXPORT_BLOBS_MAX + 1;
	p.names = ofs_xcalloc(p.n, sizeof(*p.names));
	for (size_t i = 0; i < p.n; i++)
		p.names[i] = "config";
	assert_int_equal(ofs_exportplan_job_body(&p, &t, &body, &err), OFS_ERR_LIMIT);
	assert_null(body);
	assert_non_null(strstr(err.msg, "1048576"));
	/* fewer entries, but too many bytes */
	memset(longname, 'a', sizeof(longname) - 1);
	p.n = OFS_EXPORT_BLOBS_MAX;
	for (size_t i = 0; i < p.n; i++)
		p.names[i] = longname;
	assert_int_equal(ofs_exportplan_job_body(&p, &t, &body, &err), OFS_ERR_LIMIT);
	assert_null(body);
	free(p.names);
	json_decref(contact);
}

/* ---- jobjson: export answers ---- */

static int
parse(const char *s, struct ofs_job *j, struct ofs_error *err)
{
	return ofs_jobjson_parse_job((const uint8_t *)s, strlen(s), "answer", j, err);
}

static void
test_parse_export_job(void **state)
{
	static const char ok[] =
	    "{\"name\":\"exp-1\",\"properties\":{\"transferType\":\"ExportFromAzure\","
	    "\"status\":\"DataCopy\",\"details\":{"
	    "\"dataExportDetails\":[{\"accountDetails\":{\"dataAccountType\":\"StorageAccount\","
	    "\"storageAccountId\":\"/subscriptions/s/x\"},\"transferConfiguration\":{"
	    "\"transferFilterDetails\":{\"include\":{\"blobFilterDetails\":{\"blobPathList\":"
	    "[\"/c/config\",\"/c/keys/00\"]}}}}}],"
	    "\"copyProgress\":[{\"serialNumber\":\"SER-1\",\"copyStatus\":\"InProgress\"}],"
	    "\"exportDiskDetailsCollection\":{\"SER-1\":{\"manifestFile\":\"offseed-manifest.json\","
	    "\"manifestHash\":\"ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789\","
	    "\"backupManifestCloudPath\":\"\"},\"SER-2\":{\"manifestHash\":\"\"}}}}}";
	struct ofs_job j;
	struct ofs_error err = { 0 };

	(void)state;
	assert_int_equal(parse(ok, &j, &err), 0);
	assert_string_equal(j.transfer_type, "ExportFromAzure");
	assert_string_equal(j.storage_account_id, "/subscriptions/s/x");
	assert_int_equal(j.export_blobs, 2);
	assert_int_equal(j.nexport_disks, 2);
	assert_string_equal(j.export_disks[0].serial, "SER-1");
	assert_string_equal(j.export_disks[0].manifest_file, "offseed-manifest.json");
	assert_string_equal(j.export_disks[0].manifest_hash,
	    "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
	assert_string_equal(j.export_disks[0].backup_manifest_cloud_path, "");
	assert_null(j.export_disks[1].manifest_hash);	/* not known yet */
	assert_null(j.export_disks[1].manifest_file);
	ofs_job_release(&j);
	/* an import job: no export fields */
	assert_int_equal(parse("{\"name\":\"i\",\"properties\":{\"transferType\":\"ImportToAzure\","
	    "\"status\":\"Created\"}}", &j, &err), 0);
	assert_int_equal(j.export_blobs, -1);
	assert_int_equal(j.nexport_disks, 0);
	ofs_job_release(&j);
}

static void
test_parse_export_refusals(void **state)
{
	static const struct {
		const char *details, *want;
	} bad[] = {
		{ "\"exportDiskDetailsCollection\":{\"S\":{\"manifestHash\":\"abc\"}}",
		  "manifestHash" },
		{ "\"exportDiskDetailsCollection\":{\"S\":{\"manifestFile\":\"../m.json\"}}",
		  "manifestFile" },
		{ "\"exportDiskDetailsCollection\":{\"S\":{\"manifestFile\":\"/m.json\"}}",
		  "manifestFile" },
		{ "\"exportDiskDetailsCollection\":{\"S\":{\"manifestFile\":\"a\\u0007b\"}}",
		  "control characters" },
		{ "\"exportDiskDetailsCollection\":{\"S\":{\"other\":1}}", "is not known" },
		{ "\"exportDiskDetailsCollection\":{\"S\":7}", "not an object" },
		{ "\"exportDiskDetailsCollection\":{\"../S\":{}}", "invalid disk serial" },
		{ "\"exportDiskDetailsCollection\":[]", "not an object" },
		{ "\"dataExportDetails\":[{\"transferConfiguration\":{\"transferFilterDetails\":"
		  "{\"include\":{\"blobFilterDetails\":{\"blobPathList\":{}}}}}}]", "blobPathList" },
		{ "\"dataExportDetails\":[{\"accountDetails\":{\"storageAccountId\":5}}]",
		  "storageAccountId" },
	};
	struct ofs_job j;
	struct ofs_error err = { 0 };

	(void)state;
	for (size_t i = 0; i < OFS_ARRAY_LEN(bad); i++) {
		char *s = ofs_xasprintf("{\"name\":\"e\",\"properties\":{\"transferType\":"
		    "\"ExportFromAzure\",\"status\":\"DataCopy\",\"details\":{%s}}}", bad[i].details);

		memset(&err, 0, sizeof(err));
		assert_int_equal(parse(s, &j, &err), OFS_ERR_CORRUPT);
		if (strstr(err.msg, bad[i].want) == NULL)
			fail_msg("case %zu: '%s' does not name '%s'", i, err.msg, bad[i].want);
		free(s);
	}
	assert_int_equal(parse("{\"name\":\"e\",\"properties\":{\"transferType\":\"Sideways\"}}",
	    &j, &err), OFS_ERR_CORRUPT);
	assert_non_null(strstr(err.msg, "transferType"));
}

int
main(void)
{
	const struct CMUnitTest repo_tests[] = {
		cmocka_unit_test(test_latest_leaves_old_file_out),
		cmocka_unit_test(test_path_limits_containers),
		cmocka_unit_test(test_path_errors),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_body_caps),
		cmocka_unit_test(test_parse_export_job),
		cmocka_unit_test(test_parse_export_refusals),
	};
	int rc;

	setenv("OFFSEED_TEST_KDF_FAST", "1", 1);
	rc = cmocka_run_group_tests_name("exportplan (repository)", repo_tests, setup, teardown);
	return rc | cmocka_run_group_tests_name("exportplan (body, answers)", tests, NULL, NULL);
}
