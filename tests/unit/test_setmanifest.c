/* Unit tests for lib/setmanifest.c (set manifest round trip against golden bytes, every
 * rejection path, destination parsing with Azure's naming rules) and lib/disk.c (serial
 * detection through a fake /proc, /sys and /run tree; id files; free space). */
#include <fcntl.h>
#include <limits.h>
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

#include "disk.h"
#include "setmanifest.h"
#include "util.h"

static char tmpdir[] = "/tmp/ofs-test-setmanifest.XXXXXX";

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

static void
put(const char *rel, const char *text)
{
	char *p = ofs_path_join(tmpdir, rel), *dir = ofs_xstrdup(p);

	*strrchr(dir, '/') = '\0';
	assert_int_equal(ofs_mkdir_p(dir, 0755, NULL), 0);
	assert_int_equal(ofs_write_file_atomic(p, text, strlen(text), 0644, NULL), 0);
	free(dir);
	free(p);
}

/* ---- set manifest ---------------------------------------------------------------------- */

static void
test_golden_roundtrip(void **state)
{
	char path[PATH_MAX];
	struct ofs_buf raw = OFS_BUF_INIT(0), enc = OFS_BUF_INIT(0);
	struct ofs_set_manifest *m = NULL, *m2 = NULL;
	struct ofs_error err = { 0 };
	char *out;

	(void)state;
	top_path("tests/golden/set-manifest-v1.json", path, sizeof(path));
	assert_int_equal(ofs_set_manifest_load(path, &m, &err), 0);
	assert_int_equal(m->version, 1);
	assert_string_equal(m->job, "seed-srv01");
	assert_string_equal(m->destination, "azure://acct01/backups/srv01/daily");
	assert_int_equal(m->ndisks, 2);
	assert_int_equal(m->disks[0].index, 1);
	assert_string_equal(m->disks[0].serial, "WD-WCC4E1234567");
	assert_int_equal(m->disks[0].bytes, 33562683);
	assert_int_equal(m->disks[0].files, 13);
	assert_int_equal(m->disks[0].ncontainers, 2);
	assert_string_equal(m->disks[0].containers[1], "101112131415161718191a1b1c1d1e1f-000003.vhd");
	assert_string_equal(m->disks[1].manifest_sha256,
	    "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752");
	assert_int_equal(m->disks[1].ncontainers, 0);
	/* the encoder reproduces the golden bytes */
	assert_int_equal(ofs_buf_read_file(&raw, path, NULL), 0);
	assert_int_equal(ofs_set_manifest_encode(m, &enc, &err), 0);
	assert_int_equal(enc.len, raw.len);
	assert_memory_equal(enc.data, raw.data, raw.len);
	/* write + load gives the same manifest again */
	out = ofs_path_join(tmpdir, "set.json");
	assert_int_equal(ofs_set_manifest_write(m, out, &err), 0);
	assert_int_equal(ofs_set_manifest_load(out, &m2, &err), 0);
	assert_string_equal(m2->disks[0].serial, m->disks[0].serial);
	assert_int_equal(m2->disks[0].ncontainers, 2);
	free(out);
	/* a missing file is NOTFOUND */
	out = ofs_path_join(tmpdir, "absent.json");
	ofs_set_manifest_free(m2);
	assert_int_equal(ofs_set_manifest_load(out, &m2, &err), OFS_ERR_NOTFOUND);
	assert_null(m2);
	free(out);
	ofs_set_manifest_free(m);
	ofs_buf_release(&raw);
	ofs_buf_release(&enc);
}

/* A valid document with one substitution applied (or the whole text replaced). */
static const char valid[] =
    "{\"format\":\"offseed-set\",\"version\":1,\"tool\":\"offseed 0.1.0\","
    "\"created\":\"2026-11-22T06:00:00Z\",\"repository\":\"000102030405060708090a0b0c0d0e0f\","
    "\"seed_set\":\"101112131415161718191a1b1c1d1e1f\",\"job\":\"seed-srv01\","
    "\"destination\":\"azure://acct01/backups/p\",\"disks\":["
    "{\"index\":1,\"serial\":\"S1\",\"manifest_sha256\":"
    "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\",\"bytes\":10,"
    "\"files\":3,\"containers\":[\"a-000001.vhd\"]},"
    "{\"index\":2,\"serial\":\"S2\",\"manifest_sha256\":"
    "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\",\"bytes\":10,"
    "\"files\":3,\"containers\":[\"a-000002.vhd\"]}]}";

static int
parse_with(const char *from, const char *to, struct ofs_error *err)
{
	struct ofs_set_manifest *m = NULL;
	char *doc;
	const char *at;
	int r;

	if (from == NULL) {
		doc = ofs_xstrdup(to);
	} else {
		at = strstr(valid, from);
		assert_non_null(at);
		doc = ofs_xasprintf("%.*s%s%s", (int)(at - valid), valid, to, at + strlen(from));
	}
	r = ofs_set_manifest_parse((const uint8_t *)doc, strlen(doc), "t.json", &m, err);
	if (r == 0)
		assert_non_null(m);
	else
		assert_null(m);
	ofs_set_manifest_free(m);
	free(doc);
	return r;
}

static void
test_parse_rejects(void **state)
{
	static const struct {
		const char *from, *to, *msg;
	} bad[] = {
		{ NULL, "[]", "(top)" },
		{ NULL, "{\"format\":\"offseed-set\"", "invalid JSON" },
		{ "\"offseed-set\"", "\"offseed-manifest\"", "format" },
		{ "\"version\":1", "\"version\":0", "version" },
		{ "\"version\":1", "\"version\":\"1\"", "version" },
		{ "\"tool\":\"offseed 0.1.0\",", "", "tool" },
		{ "2026-11-22T06:00:00Z", "yesterday", "created" },
		{ "000102030405060708090a0b0c0d0e0f", "000102030405060708090A0B0C0D0E0F", "repository" },
		{ "101112131415161718191a1b1c1d1e1f", "1011", "seed_set" },
		{ "\"job\":\"seed-srv01\"", "\"job\":\"a\\u0001b\"", "job" },
		{ "\"job\":\"seed-srv01\"", "\"job\":\"\"", "job" },
		{ "azure://acct01/backups/p", "azure://acct01/Backups/p", "destination" },
		{ "azure://acct01/backups/p", "s3://x/y", "destination" },
		{ "azure://acct01/backups/p", "azure://acct01/backups/../p", "destination" },
		{ "\"disks\":[", "\"extra\":1,\"disks\":[", "extra" },
		{ "{\"index\":1,", "{\"index\":2,", "disks[0].index" },
		{ "{\"index\":2,", "{\"index\":1,", "disks[1].index" },
		{ "\"serial\":\"S2\"", "\"serial\":\"S1\"", "repeats" },
		{ "\"serial\":\"S2\"", "\"serial\":7", "disks[1].serial" },
		{ "\"serial\":\"S2\"", "\"serial\":\"a\\nb\"", "disks[1].serial" },
		{ "\"bytes\":10,", "\"bytes\":-1,", "bytes" },
		{ "\"bytes\":10,", "", "bytes" },
		{ "\"files\":3,\"containers\":[\"a-000001.vhd\"]", "\"files\":0,\"containers\":[\"a-000001.vhd\"]", "more containers" },
		{ "\"a-000001.vhd\"", "\"../x.vhd\"", "containers[0]" },
		{ "\"a-000001.vhd\"", "\"a-000001.txt\"", "containers[0]" },
		{ "\"a-000001.vhd\"", "\".hidden.vhd\"", "containers[0]" },
		{ "\"a-000001.vhd\"", "\"a-000002.vhd\"", "listed twice" },
		{ "\"a-000001.vhd\"]", "\"a-000001.vhd\"],\"x\":1", "x" },
		{ "\"containers\":[\"a-000001.vhd\"]", "\"containers\":\"a\"", "containers" },
		{ "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\",\"bytes\":10,\"files\":3,\"containers\":[\"a-000001", "9f86\",\"bytes\":10,\"files\":3,\"containers\":[\"a-000001", "manifest_sha256" },
		{ "\"disks\":[{", "\"disks\":[7,{", "disks[0]" },
	};
	struct ofs_error err;

	(void)state;
	memset(&err, 0, sizeof(err));
	assert_int_equal(parse_with(NULL, valid, &err), 0);
	for (size_t i = 0; i < OFS_ARRAY_LEN(bad); i++) {
		memset(&err, 0, sizeof(err));
		if (parse_with(bad[i].from, bad[i].to, &err) != OFS_ERR_CORRUPT)
			fail_msg("case %zu (%s) was not rejected as corrupt", i, bad[i].msg);
		if (strstr(err.msg, bad[i].msg) == NULL)
			fail_msg("case %zu: message '%s' lacks '%s'", i, err.msg, bad[i].msg);
		assert_non_null(strstr(err.msg, "t.json"));
	}
	/* no disks, and a newer version (exit 7 naming both) */
	assert_int_equal(parse_with("\"disks\":[{", "\"disks\":[],\"x\":[{", &err),
	    OFS_ERR_CORRUPT);
	assert_int_equal(parse_with("\"version\":1", "\"version\":2", &err), OFS_ERR_VERSION);
	assert_non_null(strstr(err.msg, "version 2"));
	assert_non_null(strstr(err.msg, "version 1"));
}

static void
test_encode_rejects(void **state)
{
	struct ofs_set_manifest *m = NULL;
	struct ofs_buf b = OFS_BUF_INIT(0);
	struct ofs_error err;
	char *keep;

	(void)state;
	assert_int_equal(ofs_set_manifest_parse((const uint8_t *)valid, strlen(valid), "v", &m,
	    &err), 0);
	assert_int_equal(ofs_set_manifest_encode(m, &b, &err), 0);
	ofs_buf_reset(&b);
	keep = m->disks[1].serial;
	m->disks[1].serial = "S1";
	assert_int_equal(ofs_set_manifest_encode(m, &b, &err), OFS_ERR_USAGE);
	assert_non_null(strstr(err.msg, "same serial"));
	m->disks[1].serial = keep;
	m->disks[1].index = 3;
	assert_int_equal(ofs_set_manifest_encode(m, &b, &err), OFS_ERR_USAGE);
	m->disks[1].index = 2;
	keep = m->disks[1].containers[0];
	m->disks[1].containers[0] = "a-000001.vhd";
	assert_int_equal(ofs_set_manifest_encode(m, &b, &err), OFS_ERR_USAGE);
	m->disks[1].containers[0] = keep;
	keep = m->destination;
	m->destination = "azure://acct01/a--b";
	assert_int_equal(ofs_set_manifest_encode(m, &b, &err), OFS_ERR_USAGE);
	m->destination = keep;
	m->disks[0].manifest_sha256[3] = 'X';
	assert_int_equal(ofs_set_manifest_encode(m, &b, &err), OFS_ERR_USAGE);
	m->disks[0].manifest_sha256[3] = '8';
	/* a too-small output buffer is refused, not truncated */
	{
		struct ofs_buf small = OFS_BUF_INIT(64);

		assert_int_equal(ofs_set_manifest_encode(m, &small, &err), OFS_ERR_USAGE);
		assert_int_equal(small.len, 0);
		ofs_buf_release(&small);
	}
	ofs_buf_reset(&b);
	assert_int_equal(ofs_set_manifest_encode(m, &b, &err), 0);
	ofs_set_manifest_free(m);
	ofs_buf_release(&b);
}

static void
test_dest_parse(void **state)
{
	static const char *const badd[] = {
		"", "azure:/acct01/c1", "http://acct01/cont", "azure://acct01", "azure://acct01/",
		"azure://ACCT01/cont", "azure://ac/cont", "azure://acct-01/cont",
		"azure://acct01/co", "azure://acct01/-cont", "azure://acct01/cont-",
		"azure://acct01/con--t", "azure://acct01/Cont", "azure://acct01/con_t",
		"azure://acct01/cont/a//b", "azure://acct01/cont/./b", "azure://acct01/cont/../b",
		"azure://acct01/cont/a\\b",
		"azure://acct01/a234567890123456789012345678901234567890123456789012345678901234",
	};
	char *a, *c, *p;
	struct ofs_error err;

	(void)state;
	assert_int_equal(ofs_dest_parse("azure://acct01/seed-box/srv01/daily/", &a, &c, &p, &err), 0);
	assert_string_equal(a, "acct01");
	assert_string_equal(c, "seed-box");
	assert_string_equal(p, "srv01/daily");
	free(a);
	free(c);
	free(p);
	assert_int_equal(ofs_dest_parse("azure://devstoreaccount1/abc", &a, &c, &p, &err), 0);
	assert_string_equal(c, "abc");
	assert_string_equal(p, "");
	free(a);
	free(c);
	free(p);
	assert_int_equal(ofs_dest_parse("azure://acct01/a23456789012345678901234567890123456789012"
	    "345678901234567890123", NULL, NULL, NULL, &err), 0);
	for (size_t i = 0; i < OFS_ARRAY_LEN(badd); i++) {
		a = c = p = (char *)"x";
		if (ofs_dest_parse(badd[i], &a, &c, &p, &err) != OFS_ERR_USAGE)
			fail_msg("destination '%s' was accepted", badd[i]);
		assert_null(a);
		assert_null(c);
		assert_null(p);
	}
	assert_true(ofs_azure_container_name_ok("a-b-c"));
	assert_false(ofs_azure_container_name_ok("ab"));
}

/* ---- disks ----------------------------------------------------------------------------- */

static void
test_hw_serial_sysfs(void **state)
{
	char *mnt = ofs_path_join(tmpdir, "mnt"), *root = ofs_path_join(tmpdir, "root"), *mi;
	char real[PATH_MAX], *s;

	(void)state;
	assert_int_equal(ofs_mkdir_p(mnt, 0755, NULL), 0);
	assert_non_null(realpath(mnt, real));
	/* nothing mounted at mnt: no hardware serial */
	put("root/proc/self/mountinfo", "27 1 254:0 / / rw - ext4 /dev/vda rw\n");
	assert_null(ofs_disk_hw_serial(mnt, root));
	/* a partition 8:17 whose disk (the parent in sysfs) has device/serial; the mount
	 * point has an escaped space elsewhere in the table */
	mi = ofs_xasprintf("27 1 254:0 / / rw - ext4 /dev/vda rw\n"
	    "40 27 8:17 / %s rw,relatime shared:1 - ext4 /dev/sdb1 rw\n"
	    "41 27 8:18 / /media/my\\040disk rw - ext4 /dev/sdb2 rw\n", real);
	put("root/proc/self/mountinfo", mi);
	free(mi);
	put("root/sys/dev/block/8:17/partition", "1\n");
	put("root/sys/dev/block/8:17/../device/serial", "  WD-WCC4E1234567 \n");
	s = ofs_disk_hw_serial(mnt, root);
	assert_non_null(s);
	assert_string_equal(s, "WD-WCC4E1234567");
	free(s);
	/* the disk's own device/serial wins; odd characters become '_' */
	put("root/sys/dev/block/8:17/device/serial", "AB 12/\"x\"\n");
	s = ofs_disk_hw_serial(mnt, root);
	assert_string_equal(s, "AB_12__x_");
	free(s);
	free(mnt);
	free(root);
}

static void
test_hw_serial_udev(void **state)
{
	char *mnt = ofs_path_join(tmpdir, "mnt2"), *root = ofs_path_join(tmpdir, "root2"), *mi;
	char real[PATH_MAX], *s;

	(void)state;
	assert_int_equal(ofs_mkdir_p(mnt, 0755, NULL), 0);
	assert_non_null(realpath(mnt, real));
	mi = ofs_xasprintf("40 27 259:3 / %s rw - xfs /dev/nvme0n1p3 rw\n", real);
	put("root2/proc/self/mountinfo", mi);
	free(mi);
	/* empty sysfs serial (virtio): fall through to udev; ID_SERIAL_SHORT preferred */
	put("root2/sys/dev/block/259:3/serial", "\n");
	put("root2/run/udev/data/b259:3", "S:disk/by-id/x\nE:ID_SERIAL=Samsung_SSD_970_S4EWNX0R123\n"
	    "E:ID_SERIAL_SHORT=S4EWNX0R123\n");
	s = ofs_disk_hw_serial(mnt, root);
	assert_string_equal(s, "S4EWNX0R123");
	free(s);
	put("root2/run/udev/data/b259:3", "E:ID_SERIAL=Samsung_SSD_970_S4EWNX0R123\n");
	s = ofs_disk_hw_serial(mnt, root);
	assert_string_equal(s, "Samsung_SSD_970_S4EWNX0R123");
	free(s);
	/* no serial anywhere */
	put("root2/run/udev/data/b259:3", "E:DEVTYPE=partition\n");
	assert_null(ofs_disk_hw_serial(mnt, root));
	free(mnt);
	free(root);
}

static void
test_serial_id_file(void **state)
{
	char *d = ofs_path_join(tmpdir, "plain"), *s = NULL, *s2 = NULL;
	enum ofs_serial_src src;
	struct ofs_error err;
	struct ofs_disk_space sp;

	(void)state;
	assert_int_equal(ofs_mkdir_p(d, 0755, NULL), 0);
	/* an override must be a usable serial */
	assert_int_equal(ofs_disk_serial(d, "SN-1", &s, &src, &err), 0);
	assert_string_equal(s, "SN-1");
	assert_int_equal(src, OFS_SERIAL_OPTION);
	free(s);
	assert_int_equal(ofs_disk_serial(d, "a b", &s, &src, &err), OFS_ERR_USAGE);
	assert_null(s);
	assert_int_equal(ofs_disk_serial(d, "a=b", &s, &src, &err), OFS_ERR_USAGE);
	/* no serial: a fresh id, which is stable once written */
	assert_int_equal(ofs_disk_serial(d, NULL, &s, &src, &err), 0);
	assert_int_equal(src, OFS_SERIAL_NEW);
	assert_true(strncmp(s, "OFS-", 4) == 0 && strlen(s) == 20);
	assert_true(ofs_disk_serial_ok(s));
	assert_int_equal(ofs_disk_write_id(d, s, &err), 0);
	assert_int_equal(ofs_disk_serial(d, NULL, &s2, &src, &err), 0);
	assert_int_equal(src, OFS_SERIAL_IDFILE);
	assert_string_equal(s, s2);
	free(s);
	free(s2);
	/* a damaged id file is refused */
	put("plain/.offseed-disk-id", "bad id\n");
	assert_int_equal(ofs_disk_serial(d, NULL, &s, &src, &err), OFS_ERR_USAGE);
	assert_non_null(strstr(err.msg, ".offseed-disk-id"));
	/* space */
	assert_int_equal(ofs_disk_space(d, &sp, &err), 0);
	assert_true(sp.total > 0 && sp.avail <= sp.total && sp.block >= 512);
	s = ofs_path_join(d, ".offseed-disk-id");
	assert_int_equal(ofs_disk_space(s, &sp, &err), OFS_ERR_USAGE);
	free(s);
	s = ofs_path_join(d, "absent");
	assert_int_equal(ofs_disk_space(s, &sp, &err), OFS_ERR_USAGE);
	free(s);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_roundtrip),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_encode_rejects),
		cmocka_unit_test(test_dest_parse),
		cmocka_unit_test(test_hw_serial_sysfs),
		cmocka_unit_test(test_hw_serial_udev),
		cmocka_unit_test(test_serial_id_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
