/* Unit tests for lib/check.c: a synthetic staging folder and its manifest; clean, flipped
 * byte (region and byte range named), truncated, missing, unlisted, damaged VHD footer,
 * whole-file mismatch, sampling, thread counts, read errors and early ends (injected). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "check.h"
#include "container.h"
#include "util.h"

#define RS 65536ULL
/* above SHARE_MIN (8 MiB): with 2 or more threads the workers share it piece by piece */
#define BIG (9 * 1024 * 1024 + 5)
#define BIG_REGIONS 145

static char root[] = "/tmp/ofs-test-check.XXXXXX";
static const char *files[] = { "config", "containers/a.vhd", "data/big.bin" };

struct rec {
	enum ofs_finding_kind kind;
	char name[32];
	char path[256];
	int64_t region;
	uint64_t start, end, esize, fsize;
	uint8_t expected[OFS_XXH_LEN], found[OFS_XXH_LEN];
	char detail[512];
};

struct recs {
	struct rec v[64];
	int n;
};

/* Fault injection (a disk cannot be made to fail on demand): this pread replaces libc's for
 * the whole test binary. A read of the file whose path ends in fault_path that covers
 * fault_off fails with EIO (fault_eof 0) or finds the end of the file (fault_eof 1). */
static const char *fault_path;
static uint64_t fault_off;
static int fault_eof;

ssize_t
pread(int fd, void *buf, size_t n, off_t off)
{
	if (fault_path != NULL && (uint64_t)off <= fault_off && fault_off < (uint64_t)off + n) {
		char link[64], target[4096];
		ssize_t k;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		k = readlink(link, target, sizeof(target) - 1);
		if (k > 0) {
			size_t lp = strlen(fault_path);

			target[k] = '\0';
			if ((size_t)k >= lp && strcmp(target + k - lp, fault_path) == 0) {
				if (fault_eof)
					return 0;
				errno = EIO;
				return -1;
			}
		}
	}
	return syscall(SYS_pread64, fd, buf, n, off);
}

static void
on_finding(const struct ofs_finding *f, void *arg)
{
	struct recs *r = arg;
	struct rec *x;

	assert_true(r->n < 64);
	x = &r->v[r->n++];
	memset(x, 0, sizeof(*x));
	x->kind = f->kind;
	snprintf(x->name, sizeof(x->name), "%s", ofs_finding_name(f));
	snprintf(x->path, sizeof(x->path), "%s", f->path ? f->path : "");
	x->region = f->region;
	if (f->has_range) {
		x->start = f->start;
		x->end = f->end;
	}
	if (f->has_sizes) {
		x->esize = f->expected_size;
		x->fsize = f->found_size;
	}
	if (f->has_hashes) {
		memcpy(x->expected, f->expected, OFS_XXH_LEN);
		memcpy(x->found, f->found, OFS_XXH_LEN);
	}
	snprintf(x->detail, sizeof(x->detail), "%s", f->detail ? f->detail : "");
}

static char *
rp(const char *rel)
{
	return ofs_path_join(root, rel);
}

static void
put(const char *rel, const void *p, size_t n)
{
	char *a = rp(rel), *d = ofs_xstrdup(a);

	*strrchr(d, '/') = '\0';
	assert_int_equal(ofs_mkdir_p(d, 0755, NULL), 0);
	assert_int_equal(ofs_write_file_atomic(a, p, n, 0644, NULL), 0);
	free(a);
	free(d);
}

static void
make_container(const char *rel)
{
	struct ofs_superblock sb;
	struct ofs_cwriter *w;
	struct ofs_error err;
	char *fin = rp(rel), *tmp = ofs_xasprintf("%s.tmp", fin);
	uint8_t pack[10000], idx[500];

	memset(&sb, 0, sizeof(sb));
	sb.seq = 1;
	sb.created = 1700000000;
	ofs_random(pack, sizeof(pack));
	ofs_random(idx, sizeof(idx));
	assert_int_equal(ofs_cwriter_create(tmp, &sb, RS, &w, &err), 0);
	assert_int_equal(ofs_cwriter_append(w, pack, sizeof(pack), NULL, &err), 0);
	assert_int_equal(ofs_cwriter_seal(w, idx, sizeof(idx), 1, fin, NULL, &err), 0);
	free(fin);
	free(tmp);
}

static struct ofs_manifest *
manifest_of_tree(void)
{
	struct ofs_manifest *m = ofs_manifest_new();
	struct ofs_file_hashes h;
	struct ofs_error err;

	m->repository = ofs_xstrdup("000102030405060708090a0b0c0d0e0f");
	m->region_size = RS;
	for (size_t i = 0; i < OFS_ARRAY_LEN(files); i++) {
		char *a = rp(files[i]);

		assert_int_equal(ofs_hash_file(a, RS, &h, &err), 0);
		ofs_manifest_add(m, files[i], &h);
		free(a);
	}
	return m;
}

/* Populate root: config, data/big.bin, a container, bookkeeping, and the manifest. */
static struct ofs_manifest *
build_tree(void)
{
	uint8_t *big = ofs_xmalloc(BIG), cfg[412];
	struct ofs_manifest *m;
	char *mp, *d;

	ofs_random(big, BIG);
	ofs_random(cfg, sizeof(cfg));
	put("config", cfg, sizeof(cfg));
	put("data/big.bin", big, BIG);
	put("jobs/seed.json", "{}", 2);
	put("locks/x", "l", 1);
	d = rp("containers");
	assert_int_equal(ofs_mkdir_p(d, 0755, NULL), 0);
	free(d);
	make_container("containers/a.vhd");
	m = manifest_of_tree();
	mp = rp(OFS_MANIFEST_NAME);
	assert_int_equal(ofs_manifest_write(m, mp, NULL), 0);
	put(OFS_SET_MANIFEST_NAME, "{}", 2);
	free(mp);
	free(big);
	return m;
}

static struct ofs_manifest *gm;	/* the tree's manifest (test_damaged_footer rebuilds) */

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(root) == NULL)
		return -1;
	gm = build_tree();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	ofs_manifest_free(gm);
	ofs_rm_rf(root);
	return 0;
}

static int
run_check(const struct ofs_manifest *m, int threads, double sample, struct recs *r,
    struct ofs_check_stats *st)
{
	struct ofs_check_opts o;
	struct ofs_error err;

	memset(&o, 0, sizeof(o));
	o.threads = threads;
	o.sample_pct = sample;
	o.on_finding = on_finding;
	o.arg = r;
	r->n = 0;
	return ofs_check_root(root, m, &o, st, &err);
}

static void
flip(const char *rel, uint64_t off)
{
	char *a = rp(rel);
	int fd = open(a, O_RDWR);
	uint8_t c;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
	free(a);
}

static void
test_clean(void **state)
{
	const struct ofs_manifest *m = gm;

	(void)state;
	struct ofs_check_stats st;
	struct recs r;
	int threads[] = { 1, 2, 4 };

	for (size_t i = 0; i < OFS_ARRAY_LEN(threads); i++) {
		assert_int_equal(run_check(m, threads[i], 0, &r, &st), 0);
		if (r.n != 0)
			fail_msg("unexpected finding %s %s %s", r.v[0].name, r.v[0].path,
			    r.v[0].detail);
		assert_int_equal(st.findings, 0);
		assert_int_equal(st.files_listed, 3);
		assert_int_equal(st.files_checked, 3);
		assert_int_equal(st.containers_checked, 1);
		assert_int_equal(st.bytes_hashed, st.bytes_listed);
		assert_int_equal(st.regions_checked, BIG_REGIONS + 17);	/* big.bin + container */
	}
	/* sampling checks some regions only, and still finds nothing */
	assert_int_equal(run_check(m, 2, 30, &r, &st), 0);
	assert_int_equal(r.n, 0);
	assert_true(st.regions_checked >= 2 && st.regions_checked < BIG_REGIONS + 17);
	assert_true(st.bytes_hashed < st.bytes_listed);
}

static void
test_flipped_byte(void **state)
{
	const struct ofs_manifest *m = gm;

	(void)state;
	const struct ofs_manifest_file *f = NULL;
	struct ofs_check_stats st;
	struct recs r;

	for (size_t i = 0; i < m->nfiles; i++)
		if (strcmp(m->files[i].path, "data/big.bin") == 0)
			f = &m->files[i];
	assert_non_null(f);
	flip("data/big.bin", 200000);
	for (int threads = 1; threads <= 2; threads++) {	/* 2: the file is split */
		assert_int_equal(run_check(m, threads, 0, &r, &st), 0);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.v[0].kind, OFS_FINDING_REGION);
		assert_string_equal(r.v[0].name, "region_mismatch");
		assert_string_equal(r.v[0].path, "data/big.bin");
		assert_int_equal(r.v[0].region, 3);
		assert_int_equal(r.v[0].start, 3 * RS);
		assert_int_equal(r.v[0].end, 4 * RS);
		assert_memory_equal(r.v[0].expected, f->h.regions[3], OFS_XXH_LEN);
		assert_memory_not_equal(r.v[0].found, f->h.regions[3], OFS_XXH_LEN);
		assert_int_equal(st.by_kind[OFS_FINDING_REGION], 1);
	}
	/* last, shorter region */
	flip("data/big.bin", BIG - 1);
	assert_int_equal(run_check(m, 2, 0, &r, &st), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.v[1].region, BIG_REGIONS - 1);
	assert_int_equal(r.v[1].start, (BIG_REGIONS - 1) * RS);
	assert_int_equal(r.v[1].end, BIG);
	flip("data/big.bin", BIG - 1);
	flip("data/big.bin", 200000);
	assert_int_equal(run_check(m, 2, 0, &r, &st), 0);
	assert_int_equal(r.n, 0);
	/* the last byte of one 256 KiB piece and the first of the next: both regions named */
	flip("data/big.bin", 20 * 262144 - 1);
	flip("data/big.bin", 20 * 262144);
	for (int threads = 1; threads <= 3; threads++) {
		assert_int_equal(run_check(m, threads, 0, &r, &st), 0);
		assert_int_equal(r.n, 2);
		assert_int_equal(r.v[0].region, 20 * 4 - 1);
		assert_int_equal(r.v[1].region, 20 * 4);
	}
	flip("data/big.bin", 20 * 262144 - 1);
	flip("data/big.bin", 20 * 262144);
}

/* A read error or an early end in the middle of a file is named with the piece's offset,
 * on one thread and with the file shared; the other files are still checked. */
static void
test_read_fault(void **state)
{
	const struct ofs_manifest *m = gm;

	(void)state;
	struct ofs_check_stats st;
	struct recs r;

	fault_path = "/data/big.bin";
	fault_off = 3 * 1024 * 1024 + 5;	/* inside the 256 KiB piece at 3 MiB */
	for (fault_eof = 0; fault_eof <= 1; fault_eof++) {
		for (int threads = 1; threads <= 3; threads++) {
			assert_int_equal(run_check(m, threads, 0, &r, &st), 0);
			assert_int_equal(r.n, 1);
			assert_string_equal(r.v[0].path, "data/big.bin");
			if (fault_eof) {
				assert_int_equal(r.v[0].kind, OFS_FINDING_SIZE);
				assert_string_equal(r.v[0].detail, "the file shrank while being read");
			} else {
				assert_int_equal(r.v[0].kind, OFS_FINDING_UNREADABLE);
				assert_string_equal(r.v[0].detail, "cannot read at offset 3145728: "
				    "Input/output error");
			}
			assert_int_equal(st.files_checked, 2);
			assert_int_equal(st.containers_checked, 1);
		}
	}
	fault_path = NULL;
	assert_int_equal(run_check(m, 2, 0, &r, &st), 0);
	assert_int_equal(r.n, 0);
}

static void
test_whole_hash_mismatch(void **state)
{
	struct ofs_manifest *m = gm;

	(void)state;
	struct ofs_check_stats st;
	struct recs r;

	/* config has no regions: damage shows as a whole-file mismatch over [0, size) */
	flip("config", 10);
	assert_int_equal(run_check(m, 2, 0, &r, &st), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].kind, OFS_FINDING_HASH);
	assert_string_equal(r.v[0].path, "config");
	assert_int_equal(r.v[0].region, -1);
	assert_int_equal(r.v[0].start, 0);
	assert_int_equal(r.v[0].end, 412);
	flip("config", 10);
	/* regions intact but the recorded whole-file hash differs */
	m->files[2].h.xxh[0] ^= 1;
	assert_int_equal(run_check(m, 1, 0, &r, &st), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].kind, OFS_FINDING_HASH);
	assert_string_equal(r.v[0].path, "data/big.bin");
	m->files[2].h.xxh[0] ^= 1;
}

static void
test_truncated_missing_unlisted(void **state)
{
	const struct ofs_manifest *m = gm;

	(void)state;
	struct ofs_check_stats st;
	struct recs r;
	char *cfg = rp("config"), *big = rp("data/big.bin"), *moved = rp("data/big.moved");
	char *extra = rp("extra/new.txt");

	assert_int_equal(truncate(cfg, 400), 0);
	assert_int_equal(rename(big, moved), 0);
	put("extra/new.txt", "hello", 5);
	put("jobs/other.json", "{}", 2);	/* ignored */
	assert_int_equal(run_check(m, 2, 0, &r, &st), 0);
	assert_int_equal(r.n, 4);
	/* listed files first, by path; then unlisted by path */
	assert_string_equal(r.v[0].name, "truncated");
	assert_string_equal(r.v[0].path, "config");
	assert_int_equal(r.v[0].esize, 412);
	assert_int_equal(r.v[0].fsize, 400);
	assert_string_equal(r.v[1].name, "missing");
	assert_string_equal(r.v[1].path, "data/big.bin");
	assert_string_equal(r.v[2].name, "unlisted");
	assert_string_equal(r.v[2].path, "data/big.moved");
	assert_string_equal(r.v[3].name, "unlisted");
	assert_string_equal(r.v[3].path, "extra/new.txt");
	assert_int_equal(st.by_kind[OFS_FINDING_UNLISTED], 2);
	assert_int_equal(st.by_kind[OFS_FINDING_MISSING], 1);
	assert_int_equal(st.by_kind[OFS_FINDING_SIZE], 1);

	/* grown file: size mismatch */
	assert_int_equal(truncate(cfg, 500), 0);
	assert_int_equal(rename(moved, big), 0);
	unlink(extra);
	assert_int_equal(run_check(m, 2, 0, &r, &st), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.v[0].name, "size_mismatch");
	assert_int_equal(r.v[0].fsize, 500);
	/* a folder where a file should be */
	unlink(cfg);
	assert_int_equal(mkdir(cfg, 0755), 0);
	assert_int_equal(run_check(m, 2, 0, &r, &st), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.v[0].name, "unreadable");
	assert_string_equal(r.v[0].path, "config");
	free(cfg);
	free(big);
	free(moved);
	free(extra);
}

static void
test_damaged_footer(void **state)
{
	struct ofs_manifest *m;
	struct ofs_check_stats st;
	struct recs r;
	char *a;

	/* rebuild a clean tree state for this test's files */
	(void)state;
	ofs_manifest_free(gm);
	ofs_rm_rf(root);
	assert_int_equal(mkdir(root, 0700), 0);
	gm = m = build_tree();
	a = rp("containers/a.vhd");
	flip("containers/a.vhd", 1024 * 1024 + 3);	/* cookie */
	assert_int_equal(run_check(m, 2, 0, &r, &st), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.v[0].name, "region_mismatch");
	assert_int_equal(r.v[0].region, 16);
	assert_string_equal(r.v[1].name, "bad_structure");
	assert_string_equal(r.v[1].path, "containers/a.vhd");
	assert_non_null(strstr(r.v[1].detail, "cookie"));
	assert_non_null(strstr(r.v[1].detail, a));
	/* the manifest hashing the damaged file: only the structure finding remains */
	for (size_t i = 0; i < m->nfiles; i++) {
		if (strcmp(m->files[i].path, "containers/a.vhd") == 0) {
			ofs_file_hashes_release(&m->files[i].h);
			assert_int_equal(ofs_hash_file(a, RS, &m->files[i].h, NULL), 0);
		}
	}
	assert_int_equal(run_check(m, 1, 0, &r, &st), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].kind, OFS_FINDING_STRUCTURE);
	assert_int_equal(st.containers_checked, 0);
	free(a);
}

static void
test_bad_root(void **state)
{
	struct ofs_check_opts o;
	struct ofs_check_stats st;
	struct ofs_error err;

	memset(&o, 0, sizeof(o));
	assert_int_equal(ofs_check_root("/nonexistent/ofs", gm, &o, &st, &err),
	    OFS_ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, "/nonexistent/ofs"));
	assert_int_equal(ofs_check_root("/etc/hostname", gm, &o, &st, &err), OFS_ERR_IO);
	assert_true(ofs_check_ignored("offseed-manifest.json"));
	assert_true(ofs_check_ignored("jobs/a.json"));
	assert_true(ofs_check_ignored("locks"));
	assert_false(ofs_check_ignored("data/offseed-manifest.json"));
	assert_false(ofs_check_ignored("jobsx"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_flipped_byte),
		cmocka_unit_test(test_read_fault),
		cmocka_unit_test(test_whole_hash_mismatch),
		cmocka_unit_test(test_truncated_missing_unlisted),
		cmocka_unit_test(test_damaged_footer),
		cmocka_unit_test(test_bad_root),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
