/* Unit tests for engine/placement.c: largest first to the disk with the most room, a
 * container listed in a disk's old manifest stays there, and when the set does not fit,
 * how many bytes and disks of the smallest size are missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "placement.h"
#include "util.h"

#define MIB (1u << 20)
#define MAXF 8

struct fixture {
	char mnt[2][64];
	struct ofs_manifest_file mf[MAXF];
	struct ofs_place_file pf[MAXF];
	struct ofs_place_file *files[MAXF];
	struct ofs_place_disk disks[2];
	size_t nfiles;
};

static void
add_file(struct fixture *fx, const char *path, uint64_t size, int container)
{
	size_t i = fx->nfiles++;

	fx->mf[i].path = (char *)path;
	fx->mf[i].h.size = size;
	fx->pf[i].mf = &fx->mf[i];
	fx->pf[i].dst = (char *)path;
	fx->pf[i].name = strrchr(path, '/') + 1;
	fx->pf[i].is_container = container;
	fx->pf[i].disk = -1;
	fx->files[i] = &fx->pf[i];
}

/* Two empty disks on filesystems of their own, avail bytes free of total each. */
static void
setup(struct fixture *fx, uint64_t avail, uint64_t total)
{
	memset(fx, 0, sizeof(*fx));
	for (size_t k = 0; k < 2; k++) {
		snprintf(fx->mnt[k], sizeof(fx->mnt[k]), "/tmp/ofs-place-XXXXXX");
		assert_non_null(mkdtemp(fx->mnt[k]));
		fx->disks[k].mnt = fx->mnt[k];
		fx->disks[k].sp.avail = avail;
		fx->disks[k].sp.total = total;
		fx->disks[k].sp.block = 4096;
		fx->disks[k].sp.dev = k + 1;
		fx->disks[k].pool = k;
	}
	add_file(fx, "BlockBlob/c/p/config", 1000, 0);
}

static void
teardown(struct fixture *fx)
{
	for (size_t k = 0; k < 2; k++)
		rmdir(fx->mnt[k]);
}

static int
run(struct fixture *fx, int direct, struct ofs_place_need *need, struct ofs_error *err)
{
	struct ofs_place_opts o = { "0123456789abcdef0123456789abcdef", direct, 0 };

	return ofs_place_plan(fx->files, fx->nfiles, fx->disks, 2, &o, need, err);
}

static void
test_spread(void **state)
{
	struct fixture fx;
	struct ofs_place_need need;
	struct ofs_error err = { 0 };

	(void)state;
	setup(&fx, 10 * MIB, 10 * MIB);
	add_file(&fx, "PageBlob/c/p/containers/a.vhd", 3 * MIB, 1);
	add_file(&fx, "PageBlob/c/p/containers/b.vhd", 3 * MIB, 1);
	add_file(&fx, "PageBlob/c/p/containers/c.vhd", 2 * MIB, 1);
	add_file(&fx, "PageBlob/c/p/containers/d.vhd", 2 * MIB, 1);
	assert_int_equal(run(&fx, 0, &need, &err), 0);
	assert_int_equal(fx.pf[1].disk, 0);	/* largest first, to the most room */
	assert_int_equal(fx.pf[2].disk, 1);
	assert_int_equal(fx.pf[3].disk, 0);
	assert_int_equal(fx.pf[4].disk, 1);
	assert_int_equal(fx.pf[0].disk, -1);	/* not a container: on every disk */
	assert_int_equal(need.bytes, 0);
	teardown(&fx);
}

static void
test_old_manifest_pins(void **state)
{
	struct fixture fx;
	struct ofs_manifest_file listed = { 0 };
	struct ofs_manifest old;
	struct ofs_error err = { 0 };

	(void)state;
	setup(&fx, 10 * MIB, 10 * MIB);
	add_file(&fx, "PageBlob/c/p/containers/a.vhd", 3 * MIB, 1);
	add_file(&fx, "PageBlob/c/p/containers/b.vhd", 1 * MIB, 1);
	memset(&old, 0, sizeof(old));
	listed.path = (char *)"PageBlob/c/p/containers/a.vhd";
	old.files = &listed;
	old.nfiles = 1;
	fx.disks[1].old = &old;
	assert_int_equal(run(&fx, 0, NULL, &err), 0);
	assert_int_equal(fx.pf[1].disk, 1);
	assert_true(fx.pf[1].pinned);
	assert_false(fx.pf[1].present);		/* listed, but not on the disk */
	assert_int_equal(fx.pf[2].disk, 0);	/* disk 1 has less room left */
	teardown(&fx);
}

static void
test_nospace_counts_disks(void **state)
{
	struct fixture fx;
	struct ofs_place_need need;
	struct ofs_error err = { 0 };

	(void)state;
	setup(&fx, 4 * MIB, 4 * MIB);
	add_file(&fx, "PageBlob/c/p/containers/a.vhd", 3 * MIB, 1);
	add_file(&fx, "PageBlob/c/p/containers/b.vhd", 3 * MIB, 1);
	add_file(&fx, "PageBlob/c/p/containers/c.vhd", 3 * MIB, 1);
	assert_int_equal(run(&fx, 0, &need, &err), OFS_ERR_NOSPACE);
	assert_int_equal(need.bytes, 3 * MIB);
	assert_int_equal(need.disks, 1);
	assert_non_null(strstr(err.msg, "add 1 more disk of"));
	teardown(&fx);
}

static void
test_too_large(void **state)
{
	struct fixture fx;
	struct ofs_place_need need;
	struct ofs_error err = { 0 };

	(void)state;
	setup(&fx, 4 * MIB, 4 * MIB);
	add_file(&fx, "PageBlob/c/p/containers/a.vhd", 5 * MIB, 1);
	assert_int_equal(run(&fx, 0, &need, &err), OFS_ERR_NOSPACE);
	assert_int_equal(need.disks, 0);
	assert_non_null(strstr(err.msg, "use larger disks"));
	teardown(&fx);
}

static void
test_direct_needs_every_disk(void **state)
{
	struct fixture fx;
	struct ofs_error err = { 0 };

	(void)state;
	setup(&fx, 10 * MIB, 10 * MIB);
	add_file(&fx, "PageBlob/c/p/containers/a.vhd", 1 * MIB, 1);
	assert_int_equal(run(&fx, 1, NULL, &err), OFS_ERR_USAGE);
	assert_non_null(strstr(err.msg, "is on none of the given disks"));
	teardown(&fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_old_manifest_pins),
		cmocka_unit_test(test_nospace_counts_disks),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_direct_needs_every_disk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
