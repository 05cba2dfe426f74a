/* Unit tests for lib/backend_disks.c: a synthetic 3-disk set (set manifest, per-disk
 * manifests, files in the Data Box layout) opened with two or three of its disks: name
 * mapping, union listing, read-only refusal, no lock, missing-disk messages, refusals. */
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

#include "lock.h"
#include "manifest.h"
#include "repo.h"
#include "setmanifest.h"
#include "util.h"

#define SET "0123456789abcdef0123456789abcdef"
#define REPO "fedcba9876543210fedcba9876543210"
#define C1 SET "-000001.vhd"
#define C2 SET "-000002.vhd"
#define C3 SET "-000003.vhd"

static char top[] = "/tmp/ofs-test-disks.XXXXXX";
static char disk[4][300];

static void
put_file(const char *dir, const char *rel, const char *text)
{
	char *p = ofs_path_join(dir, rel), *d = ofs_xstrdup(p);

	*strrchr(d, '/') = '\0';
	assert_int_equal(ofs_mkdir_p(d, 0755, NULL), 0);
	assert_int_equal(ofs_write_file_atomic(p, text, strlen(text), 0644, NULL), 0);
	free(d);
	free(p);
}

/* Disk i (1..3) of the set, or of another set when seed_set differs. */
static void
make_disk(int i, const char *seed_set)
{
	static const char *ctrs[] = { C1, C2, C3 };
	struct ofs_set_manifest sm;
	struct ofs_set_disk sd[3];
	struct ofs_manifest *m = ofs_manifest_new();
	char rel[256], serial[3][16], *p;

	memset(&sm, 0, sizeof(sm));
	memset(sd, 0, sizeof(sd));
	for (int k = 0; k < 3; k++) {
		snprintf(serial[k], sizeof(serial[k]), "SER-%d", k + 1);
		sd[k].index = (uint32_t)k + 1;
		sd[k].serial = serial[k];
		memset(sd[k].manifest_sha256, 'a', 64);
		sd[k].containers = (char **)&ctrs[k];
		sd[k].ncontainers = 1;
		sd[k].files = 4;
		sd[k].bytes = 100;
	}
	sm.version = 1;
	sm.tool = "offseed test";
	sm.created = "2026-11-22T06:00:00Z";
	sm.repository = REPO;
	sm.seed_set = (char *)seed_set;
	sm.job = "job";
	sm.destination = "azure://acct/backups/srv01";
	sm.disks = sd;
	sm.ndisks = 3;
	snprintf(rel, sizeof(rel), "PageBlob/backups/srv01/containers/%s", ctrs[i - 1]);
	put_file(disk[i], rel, ctrs[i - 1]);	/* container content: its own name */
	put_file(disk[i], "BlockBlob/backups/srv01/config", "config bytes");
	snprintf(rel, sizeof(rel), "BlockBlob/backups/srv01/keys/k%d", i);
	put_file(disk[i], rel, "slot");
	put_file(disk[i], "BlockBlob/backups/srv01/keys/shared", "slot");
	p = ofs_path_join(disk[i], OFS_SET_MANIFEST_NAME);
	assert_int_equal(ofs_set_manifest_write(&sm, p, NULL), 0);
	free(p);
	m->version = 1;
	m->tool = ofs_xstrdup("offseed test");
	m->created = ofs_xstrdup("2026-11-22T06:00:00Z");
	m->repository = ofs_xstrdup(REPO);
	m->seed_set = ofs_xstrdup(seed_set);
	m->has_disk = 1;
	m->disk_index = (uint32_t)i;
	m->disk_count = 3;
	m->serial = ofs_xstrdup(serial[i - 1]);
	m->region_size = OFS_REGION_SIZE;
	p = ofs_path_join(disk[i], OFS_MANIFEST_NAME);
	assert_int_equal(ofs_manifest_write(m, p, NULL), 0);
	free(p);
	ofs_manifest_free(m);
}

static int
setup(void **state)
{
	assert_non_null(mkdtemp(top));
	for (int i = 1; i <= 3; i++) {
		snprintf(disk[i], sizeof(disk[i]), "%s/d%d", top, i);
		make_disk(i, SET);
	}
	return 0;
}

static int
teardown(void **state)
{
	ofs_rm_rf(top);
	return 0;
}

static struct ofs_backend *
open_set(const char *which, struct ofs_error *err, int *rc)
{
	struct ofs_backend *b = NULL;
	char loc[2048];
	size_t l = (size_t)snprintf(loc, sizeof(loc), "disks:");

	for (const char *w = which; *w; w++)
		l += (size_t)snprintf(loc + l, sizeof(loc) - l, "%s%s", w == which ? "" : ",",
		    *w == 'x' ? disk[0] : disk[*w - '0']);
	*rc = ofs_backend_open(loc, &b, err);
	return b;
}

static void
test_full_set(void **state)
{
	struct ofs_error err;
	struct ofs_backend *b;
	struct ofs_buf buf = OFS_BUF_INIT(0);
	char **names = NULL, *p, *want;
	size_t n = 0;
	uint64_t size;
	int rc;

	b = open_set("312", &err, &rc);
	assert_int_equal(rc, 0);
	/* containers from the disk that holds each */
	assert_int_equal(b->ops->get(b, "containers/" C2, 0, 0, &buf, &err), 0);
	assert_int_equal(buf.len, strlen(C2));
	assert_memory_equal(buf.data, C2, buf.len);
	ofs_buf_reset(&buf);
	assert_int_equal(b->ops->get(b, "containers/" C1, 3, 5, &buf, &err), 0);
	assert_memory_equal(buf.data, C1 + 3, 5);
	ofs_buf_reset(&buf);
	assert_int_equal(b->ops->get(b, "config", 0, 0, &buf, &err), 0);
	assert_memory_equal(buf.data, "config bytes", 12);
	assert_int_equal(b->ops->size(b, "containers/" C3, &size, &err), 0);
	assert_int_equal(size, strlen(C3));
	/* union listings, sorted, without duplicates */
	assert_int_equal(b->ops->list(b, "containers", &names, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], C1);
	assert_string_equal(names[2], C3);
	ofs_names_free(names, n);
	assert_int_equal(b->ops->list(b, "keys", &names, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(names[0], "k1");
	assert_string_equal(names[1], "k2");
	assert_string_equal(names[2], "k3");
	assert_string_equal(names[3], "shared");
	ofs_names_free(names, n);
	assert_int_equal(b->ops->list(b, "snapshots", &names, &n, &err), 0);
	assert_int_equal(n, 0);
	ofs_names_free(names, n);
	/* real paths for containers and metadata, none for the rest */
	p = b->ops->path(b, "containers/" C2);
	want = ofs_xasprintf("%s/PageBlob/backups/srv01/containers/%s", disk[2], C2);
	assert_non_null(p);
	assert_string_equal(p, want);
	free(p);
	free(want);
	assert_null(b->ops->path(b, "locks/lock"));
	assert_null(b->ops->path(b, "locks"));
	assert_null(b->ops->path(b, ""));
	assert_null(b->ops->path(b, "data/00/0000"));
	/* read-only */
	assert_int_equal(b->ops->put(b, "snapshots/x", "x", 1, &err), OFS_ERR_IO);
	assert_non_null(strstr(err.msg, "read-only disk set"));
	assert_int_equal(b->ops->remove(b, "config", &err), OFS_ERR_IO);
	assert_non_null(strstr(err.msg, "read-only disk set"));
	assert_int_equal(b->ops->get(b, "index/nothing", 0, 0, &buf, &err), OFS_ERR_NOTFOUND);
	ofs_backend_free(b);
	ofs_buf_release(&buf);
}

static void
test_no_lock(void **state)
{
	struct ofs_error err;
	struct ofs_repo r;
	struct ofs_lock *lk = NULL;
	char *locks = ofs_path_join(disk[1], "locks");
	int rc;

	memset(&r, 0, sizeof(r));
	r.state_dir = ofs_path_join(top, "state");
	assert_int_equal(ofs_mkdir_p(r.state_dir, 0700, NULL), 0);
	memcpy(r.id_hex, REPO, 33);
	r.be = open_set("12", &err, &rc);
	assert_int_equal(rc, 0);
	/* only the local lock in the state dir: nothing is written on the disks */
	assert_int_equal(ofs_lock_acquire(&r, "test", &lk, &err), 0);
	assert_int_equal(ofs_path_exists(locks), 0);
	ofs_lock_release(lk);
	ofs_backend_free(r.be);
	free(r.state_dir);
	free(locks);
}

static void
test_missing_disk(void **state)
{
	struct ofs_error err;
	struct ofs_backend *b;
	struct ofs_buf buf = OFS_BUF_INIT(0);
	char *p;
	int rc;

	b = open_set("12", &err, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(b->ops->get(b, "containers/" C3, 0, 0, &buf, &err),
	    OFS_ERR_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "missing disk 3 of 3 (serial SER-3)"));
	assert_non_null(strstr(err.msg, C3));
	assert_null(b->ops->path(b, "containers/" C3));
	assert_int_equal(b->ops->get(b, "config", 0, 0, &buf, &err), 0);
	/* a container gone from a disk that is present */
	p = ofs_xasprintf("%s/PageBlob/backups/srv01/containers/%s", disk[2], C2);
	assert_int_equal(rename(p, "/tmp/ofs-test-disks-moved.vhd"), 0);
	ofs_backend_free(b);
	b = open_set("12", &err, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(b->ops->get(b, "containers/" C2, 0, 0, &buf, &err), OFS_ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, "is missing from disk 2 of 3 (serial SER-2)"));
	assert_int_equal(rename("/tmp/ofs-test-disks-moved.vhd", p), 0);
	/* a container no disk lists */
	assert_int_equal(b->ops->get(b, "containers/ffffffffffffffffffffffffffffffff-000009.vhd",
	    0, 0, &buf, &err), OFS_ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, "on none of the 3 disks"));
	free(p);
	ofs_backend_free(b);
	ofs_buf_release(&buf);
}

static void
test_refusals(void **state)
{
	struct ofs_error err;
	struct ofs_backend *b = NULL;
	char loc[1024];
	int rc;

	/* a disk of another set */
	snprintf(disk[0], sizeof(disk[0]), "%s/other", top);
	make_disk(3, SET);	/* keep disk 3 */
	{
		char saved[300];

		memcpy(saved, disk[3], sizeof(saved));
		memcpy(disk[3], disk[0], sizeof(saved));
		make_disk(3, "00000000000000000000000000000000");
		memcpy(disk[3], saved, sizeof(saved));
	}
	b = open_set("12x", &err, &rc);
	assert_int_equal(rc, OFS_ERR_USAGE);
	assert_null(b);
	assert_non_null(strstr(err.msg, "belongs to another set"));
	/* a folder that is no disk */
	snprintf(loc, sizeof(loc), "disks:%s,%s", disk[1], top);
	assert_int_equal(ofs_backend_open(loc, &b, &err), OFS_ERR_USAGE);
	assert_non_null(strstr(err.msg, "is not a prepared disk"));
	/* malformed lists */
	snprintf(loc, sizeof(loc), "disks:%s,,%s", disk[1], disk[2]);
	assert_int_equal(ofs_backend_open(loc, &b, &err), OFS_ERR_USAGE);
	assert_non_null(strstr(err.msg, "empty mount point"));
	assert_int_equal(ofs_backend_open("disks:", &b, &err), OFS_ERR_USAGE);
	snprintf(loc, sizeof(loc), "disks:%s,%s", disk[1], disk[1]);
	assert_int_equal(ofs_backend_open(loc, &b, &err), OFS_ERR_USAGE);
	assert_non_null(strstr(err.msg, "given twice"));
	assert_int_equal(ofs_backend_open("disks:/nonexistent/ofs-disk", &b, &err),
	    OFS_ERR_USAGE);
	assert_non_null(strstr(err.msg, "cannot open disk '/nonexistent/ofs-disk'"));
	/* a damaged set manifest */
	put_file(disk[0], OFS_SET_MANIFEST_NAME, "{\"format\": \"offseed-set\"");
	snprintf(loc, sizeof(loc), "disks:%s", disk[0]);
	assert_int_equal(ofs_backend_open(loc, &b, &err), OFS_ERR_CORRUPT);
	assert_null(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_set),
		cmocka_unit_test(test_no_lock),
		cmocka_unit_test(test_missing_disk),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
