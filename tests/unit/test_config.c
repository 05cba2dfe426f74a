/* Unit tests for lib/config.c: config encode/parse/authenticate with golden bytes, version
 * refusal, malformed input; key slots: round trip, wrong passphrase, bounds, golden slot. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "util.h"

#define GOLDEN_PASS "golden passphrase 0123"

static struct ofs_keys keys;

static void
golden_path(const char *name, char *out, size_t outsz)
{
	char exe[1024], *s;
	ssize_t n;

	if ((s = getenv("OFFSEED_TOP")) != NULL) {
		snprintf(out, outsz, "%s/tests/golden/%s", s, name);
		return;
	}
	if (access("tests/golden", F_OK) == 0) {
		snprintf(out, outsz, "tests/golden/%s", name);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	while ((s = strrchr(exe, '/')) != NULL) {
		*s = '\0';
		snprintf(out, outsz, "%s/tests/golden", exe);
		if (access(out, F_OK) == 0) {
			snprintf(out, outsz, "%s/tests/golden/%s", exe, name);
			return;
		}
	}
	fail_msg("cannot find tests/golden (set OFFSEED_TOP)");
}

static int
setup(void **state)
{
	for (int i = 0; i < OFS_MASTER_LEN; i++)
		keys.master[i] = (uint8_t)i;
	unsetenv("OFFSEED_TEST_KDF_FAST");
	return ofs_keys_derive(&keys, NULL);
}

static void
fixed_config(struct ofs_config *c)
{
	memset(c, 0, sizeof(*c));
	c->version = 1;
	for (int i = 0; i < OFS_REPO_ID_LEN; i++)
		c->repo_id[i] = (uint8_t)(0xf0 + i);
	c->destination = (char *)"azure://acct/backups/srv01";
	c->chunk_min = 512 << 10;
	c->chunk_avg = 1 << 20;
	c->chunk_max = 8 << 20;
	c->zstd_level = 3;
	c->created = 1795327200;	/* 2026-11-22T06:00:00Z */
}

/* Replace the first occurrence of from by to (same length) in b. */
static void
patch(struct ofs_buf *b, const char *from, const char *to)
{
	size_t n = strlen(from);

	assert_int_equal(strlen(to), n);
	for (size_t i = 0; i + n <= b->len; i++)
		if (memcmp(b->data + i, from, n) == 0) {
			memcpy(b->data + i, to, n);
			return;
		}
	fail_msg("'%s' not in the text", from);
}

static void
t_config_roundtrip_golden(void **state)
{
	struct ofs_config c, d;
	struct ofs_buf b = OFS_BUF_INIT(OFS_CONFIG_MAX), want = OFS_BUF_INIT(OFS_CONFIG_MAX);
	struct ofs_error err;
	char path[PATH_MAX];

	fixed_config(&c);
	assert_int_equal(ofs_config_encode(&c, &keys, &b, &err), 0);
	assert_int_equal(ofs_config_parse(b.data, b.len, "config", &d, &err), 0);
	assert_int_equal(d.version, 1);
	assert_memory_equal(d.repo_id, c.repo_id, OFS_REPO_ID_LEN);
	assert_string_equal(d.destination, c.destination);
	assert_int_equal(d.chunk_min, c.chunk_min);
	assert_int_equal(d.chunk_avg, c.chunk_avg);
	assert_int_equal(d.chunk_max, c.chunk_max);
	assert_int_equal(d.zstd_level, 3);
	assert_int_equal(d.created, c.created);
	ofs_config_release(&d);
	ofs_config_release(&d);	/* idempotent */
	assert_int_equal(ofs_config_authenticate(b.data, b.len, "config", &keys, &err), 0);
	golden_path("config.json", path, sizeof(path));
	if (getenv("OFFSEED_REGEN_GOLDEN") != NULL)
		assert_int_equal(ofs_write_file_atomic(path, b.data, b.len, 0644, NULL), 0);
	assert_int_equal(ofs_buf_read_file(&want, path, NULL), 0);
	assert_int_equal(want.len, b.len);
	assert_memory_equal(want.data, b.data, b.len);
	ofs_buf_release(&b);
	ofs_buf_release(&want);
}

static void
t_config_tamper(void **state)
{
	struct ofs_config c, d;
	struct ofs_buf b = OFS_BUF_INIT(OFS_CONFIG_MAX);
	struct ofs_error err;
	struct ofs_keys other;

	fixed_config(&c);
	assert_int_equal(ofs_config_encode(&c, &keys, &b, &err), 0);
	/* another key */
	memcpy(&other, &keys, sizeof(other));
	other.master[63] ^= 0x80;
	ofs_keys_derive(&other, NULL);
	assert_int_equal(ofs_config_authenticate(b.data, b.len, "config", &other, &err),
	    OFS_ERR_CORRUPT);
	assert_memory_equal(err.msg, "config: ", 8);
	/* a field changed: still parses, fails authentication */
	patch(&b, "srv01", "srv02");
	assert_int_equal(ofs_config_parse(b.data, b.len, "config", &d, &err), 0);
	ofs_config_release(&d);
	assert_int_equal(ofs_config_authenticate(b.data, b.len, "config", &keys, &err),
	    OFS_ERR_CORRUPT);
	patch(&b, "srv02", "srv01");
	assert_int_equal(ofs_config_authenticate(b.data, b.len, "config", &keys, &err), 0);
	patch(&b, "\"level\": 3", "\"level\": 4");
	assert_int_equal(ofs_config_authenticate(b.data, b.len, "config", &keys, &err),
	    OFS_ERR_CORRUPT);
	patch(&b, "\"level\": 4", "\"level\": 3");
	/* the mac itself */
	patch(&b, "\"mac\": \"", "\"mac\": \"");
	{
		char *m = strstr((char *)b.data, "\"mac\": \"") + 8;

		*m = *m == '0' ? '1' : '0';
		assert_int_equal(ofs_config_authenticate(b.data, b.len, "config", &keys, &err),
		    OFS_ERR_CORRUPT);
		*m = 'x';	/* not hex */
		assert_int_equal(ofs_config_authenticate(b.data, b.len, "config", &keys, &err),
		    OFS_ERR_CORRUPT);
	}
	ofs_buf_release(&b);
}

static int
parse_str(const char *s, struct ofs_error *err)
{
	struct ofs_config d;
	int r = ofs_config_parse((const uint8_t *)s, strlen(s), "cfg", &d, err);

	if (r == 0)
		ofs_config_release(&d);
	return r;
}

#define GOOD_TAIL "\"repository\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\",\"destination\":\"\"," \
	"\"chunker\":{\"algorithm\":\"fastcdc\",\"min\":524288,\"avg\":1048576,\"max\":8388608}," \
	"\"compression\":{\"algorithm\":\"zstd\",\"level\":3},\"created\":\"2026-11-22T06:00:00Z\"," \
	"\"mac\":\"0000000000000000000000000000000000000000000000000000000000000000\"}"

static void
t_config_versions_and_malformed(void **state)
{
	struct ofs_error err;
	struct ofs_buf big = OFS_BUF_INIT(0);

	assert_int_equal(parse_str("{\"format\":\"offseed-config\",\"version\":1," GOOD_TAIL, &err),
	    0);
	/* newer: refused before anything else is looked at */
	assert_int_equal(parse_str("{\"format\":\"offseed-config\",\"version\":2}", &err),
	    OFS_ERR_VERSION);
	assert_string_equal(err.msg,
	    "repository format version 2 is newer than this offseed supports (1)");
	assert_int_equal(parse_str("{\"format\":\"offseed-config\",\"version\":2," GOOD_TAIL, &err),
	    OFS_ERR_VERSION);
	/* malformed */
	assert_int_equal(parse_str("", &err), OFS_ERR_CORRUPT);
	assert_memory_equal(err.msg, "cfg: ", 5);
	assert_int_equal(parse_str("[1,2]", &err), OFS_ERR_CORRUPT);
	assert_int_equal(parse_str("{\"format\":\"offseed-config\",\"version\":1,", &err),
	    OFS_ERR_CORRUPT);
	assert_int_equal(parse_str("{\"format\":\"offseed-key\",\"version\":1," GOOD_TAIL, &err),
	    OFS_ERR_CORRUPT);
	assert_int_equal(parse_str("{\"format\":\"offseed-config\",\"version\":0," GOOD_TAIL, &err),
	    OFS_ERR_CORRUPT);
	assert_int_equal(parse_str("{\"format\":\"offseed-config\",\"version\":\"1\"," GOOD_TAIL,
	    &err), OFS_ERR_CORRUPT);
	assert_int_equal(parse_str("{\"format\":\"offseed-config\",\"version\":1,\"version\":1,"
	    GOOD_TAIL, &err), OFS_ERR_CORRUPT);	/* duplicate key */
	assert_int_equal(parse_str("{\"format\":\"offseed-config\",\"version\":1}", &err),
	    OFS_ERR_CORRUPT);
	{
		/* each field broken in turn */
		static const char *bad[][2] = {
			{ "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeZZ" },
			{ "\"destination\":\"\"", "\"destination\":777" },
			{ "fastcdc", "rabin22" },
			{ "1048576", "1000000" },
			{ "\"min\":524288", "\"min\":2097152" },
			{ "8388608", "1048576" },
			{ "zstd", "lz4!" },
			{ "\"level\":3", "\"level\":99" },
			{ "2026-11-22T06:00:00Z", "yesterday at noon!!" },
			{ "\"mac\":\"00", "\"mac\":7," },
		};
		char text[1024];

		for (size_t i = 0; i < OFS_ARRAY_LEN(bad); i++) {
			char *at;

			snprintf(text, sizeof(text), "{\"format\":\"offseed-config\",\"version\":1,%s",
			    GOOD_TAIL);
			at = strstr(text, bad[i][0]);
			assert_non_null(at);
			memmove(at + strlen(bad[i][1]), at + strlen(bad[i][0]),
			    strlen(at + strlen(bad[i][0])) + 1);
			memcpy(at, bad[i][1], strlen(bad[i][1]));
			assert_int_equal(parse_str(text, &err), OFS_ERR_CORRUPT);
		}
	}
	/* larger than the limit */
	assert_int_equal(ofs_buf_adds(&big, "{\"format\":\"offseed-config\",\"version\":1,\"pad\":\""), 0);
	for (int i = 0; i < 70000; i++)
		assert_int_equal(ofs_buf_addc(&big, 'x'), 0);
	assert_int_equal(ofs_buf_adds(&big, "\"}"), 0);
	assert_int_equal(ofs_config_parse(big.data, big.len, "cfg", &(struct ofs_config){ 0 },
	    &err), OFS_ERR_CORRUPT);
	ofs_buf_release(&big);
}

static void
t_keyslot_roundtrip(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(OFS_KEYSLOT_MAX);
	struct ofs_error err;
	struct ofs_kdf_params kdf = { 1 << 10, 8, 1 };
	uint8_t master[OFS_MASTER_LEN];
	const char *pass = "correct horse battery staple";

	assert_int_equal(ofs_keyslot_create(pass, strlen(pass), keys.master, kdf, &b, &err), 0);
	assert_non_null(strstr((char *)b.data, "\"n\": 1024"));
	assert_int_equal(ofs_keyslot_open(b.data, b.len, "key x", pass, strlen(pass), master, &err),
	    0);
	assert_memory_equal(master, keys.master, OFS_MASTER_LEN);
	memset(master, 0, sizeof(master));
	assert_int_equal(ofs_keyslot_open(b.data, b.len, "key x", "correct horse battery stapl",
	    strlen(pass) - 1, master, &err), OFS_ERR_AUTH);
	assert_string_equal(err.msg, "wrong passphrase");
	assert_int_equal(ofs_keyslot_open(b.data, b.len, "key x", "", 0, master, &err),
	    OFS_ERR_AUTH);
	/* two slots for the same master differ (salt, nonce) */
	{
		struct ofs_buf b2 = OFS_BUF_INIT(OFS_KEYSLOT_MAX);

		assert_int_equal(ofs_keyslot_create(pass, strlen(pass), keys.master, kdf, &b2, &err),
		    0);
		assert_true(b.len != b2.len || memcmp(b.data, b2.data, b.len) != 0);
		ofs_buf_release(&b2);
	}
	/* parameter bounds on create */
	kdf.N = 1ull << 23;
	assert_int_equal(ofs_keyslot_create(pass, strlen(pass), keys.master, kdf, &b, &err),
	    OFS_ERR_USAGE);
	ofs_buf_release(&b);
}

static void
t_keyslot_test_kdf_env(void **state)
{
	struct ofs_buf b = OFS_BUF_INIT(OFS_KEYSLOT_MAX);
	struct ofs_error err;
	uint8_t master[OFS_MASTER_LEN];

	setenv("OFFSEED_TEST_KDF_FAST", "1", 1);
	assert_int_equal(ofs_keyslot_create("pw", 2, keys.master, OFS_KDF_DEFAULT, &b, &err), 0);
	unsetenv("OFFSEED_TEST_KDF_FAST");
	assert_non_null(strstr((char *)b.data, "\"n\": 1024"));
	assert_int_equal(ofs_keyslot_open(b.data, b.len, "k", "pw", 2, master, &err), 0);
	assert_memory_equal(master, keys.master, OFS_MASTER_LEN);
	ofs_buf_release(&b);
}

static int
open_str(const char *s, struct ofs_error *err)
{
	uint8_t master[OFS_MASTER_LEN];

	return ofs_keyslot_open((const uint8_t *)s, strlen(s), "key t", "pw", 2, master, err);
}

#define SLOT_HEAD "{\"format\":\"offseed-key\",\"version\":1,\"kdf\":{\"algorithm\":\"scrypt\","
#define SLOT_SEALED "\"sealed\":\"" \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}"

static void
t_keyslot_malformed(void **state)
{
	struct ofs_error err;
	struct timespec a, b;
	double secs;

	/* sanity: a well-formed slot with a garbage seal is a wrong passphrase, not corrupt */
	assert_int_equal(open_str(SLOT_HEAD "\"n\":1024,\"r\":8,\"p\":1,"
	    "\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}," SLOT_SEALED, &err), OFS_ERR_AUTH);
	/* newer version */
	assert_int_equal(open_str("{\"format\":\"offseed-key\",\"version\":3}", &err),
	    OFS_ERR_VERSION);
	assert_non_null(strstr(err.msg, "version 3 is newer than this offseed supports (1)"));
	/* scrypt bounds are enforced before deriving: this must not take long */
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(open_str(SLOT_HEAD "\"n\":8388608,\"r\":8,\"p\":1,"
	    "\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}," SLOT_SEALED, &err), OFS_ERR_CORRUPT);
	assert_int_equal(open_str(SLOT_HEAD "\"n\":4194304,\"r\":32,\"p\":1,"
	    "\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}," SLOT_SEALED, &err), OFS_ERR_CORRUPT);
	assert_int_equal(open_str(SLOT_HEAD "\"n\":1024,\"r\":33,\"p\":1,"
	    "\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}," SLOT_SEALED, &err), OFS_ERR_CORRUPT);
	assert_int_equal(open_str(SLOT_HEAD "\"n\":1024,\"r\":8,\"p\":17,"
	    "\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}," SLOT_SEALED, &err), OFS_ERR_CORRUPT);
	assert_int_equal(open_str(SLOT_HEAD "\"n\":1000,\"r\":8,\"p\":1,"
	    "\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}," SLOT_SEALED, &err), OFS_ERR_CORRUPT);
	assert_int_equal(open_str(SLOT_HEAD "\"n\":-1024,\"r\":8,\"p\":1,"
	    "\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}," SLOT_SEALED, &err), OFS_ERR_CORRUPT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
	assert_true(secs < 0.5);
	/* salt and seal encodings */
	assert_int_equal(open_str(SLOT_HEAD "\"n\":1024,\"r\":8,\"p\":1,"
	    "\"salt\":\"AAAAAAAAAAAAAAAAAAAA\"}," SLOT_SEALED, &err), OFS_ERR_CORRUPT);
	assert_int_equal(open_str(SLOT_HEAD "\"n\":1024,\"r\":8,\"p\":1,"
	    "\"salt\":\"AAAAAAAAAAAAAAAAAAAAA*==\"}," SLOT_SEALED, &err), OFS_ERR_CORRUPT);
	assert_int_equal(open_str(SLOT_HEAD "\"n\":1024,\"r\":8,\"p\":1,"
	    "\"salt\":\"AAAAAAAAAAAAAAAAAAAA=A==\"}," SLOT_SEALED, &err), OFS_ERR_CORRUPT);
	assert_int_equal(open_str(SLOT_HEAD "\"n\":1024,\"r\":8,\"p\":1,"
	    "\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\"},\"sealed\":\"AAAA\"}", &err), OFS_ERR_CORRUPT);
	assert_int_equal(open_str(SLOT_HEAD "\"n\":1024,\"r\":8,\"p\":1}," SLOT_SEALED, &err),
	    OFS_ERR_CORRUPT);
	/* other KDF, other format, not JSON */
	assert_int_equal(open_str("{\"format\":\"offseed-key\",\"version\":1,\"kdf\":{\"algorithm\":"
	    "\"argon2id\",\"n\":1024,\"r\":8,\"p\":1,\"salt\":\"AAAAAAAAAAAAAAAAAAAAAA==\"},"
	    SLOT_SEALED, &err), OFS_ERR_CORRUPT);
	assert_int_equal(open_str("{\"format\":\"offseed-config\",\"version\":1}", &err),
	    OFS_ERR_CORRUPT);
	assert_int_equal(open_str("\x01\x02", &err), OFS_ERR_CORRUPT);
	assert_memory_equal(err.msg, "key t: ", 7);
}

/* A slot created once with GOLDEN_PASS (N = 2^10) must keep opening to the recorded master. */
static void
t_keyslot_golden(void **state)
{
	struct ofs_buf slot = OFS_BUF_INIT(OFS_KEYSLOT_MAX), hex = OFS_BUF_INIT(4096);
	struct ofs_error err;
	uint8_t master[OFS_MASTER_LEN], want[OFS_MASTER_LEN];
	char spath[PATH_MAX], mpath[PATH_MAX], mhex[2 * OFS_MASTER_LEN + 2];

	golden_path("keyslot.json", spath, sizeof(spath));
	golden_path("keyslot-master.txt", mpath, sizeof(mpath));
	if (getenv("OFFSEED_REGEN_GOLDEN") != NULL) {
		struct ofs_kdf_params kdf = { 1 << 10, 8, 1 };

		for (int i = 0; i < OFS_MASTER_LEN; i++)
			want[i] = (uint8_t)(0x5a ^ (i * 37));
		assert_int_equal(ofs_keyslot_create(GOLDEN_PASS, strlen(GOLDEN_PASS), want, kdf,
		    &slot, &err), 0);
		assert_int_equal(ofs_write_file_atomic(spath, slot.data, slot.len, 0644, NULL), 0);
		ofs_hex(want, OFS_MASTER_LEN, mhex);
		strcat(mhex, "\n");
		assert_int_equal(ofs_write_file_atomic(mpath, mhex, strlen(mhex), 0644, NULL), 0);
		slot.len = 0;
	}
	assert_int_equal(ofs_buf_read_file(&slot, spath, NULL), 0);
	assert_int_equal(ofs_buf_read_file(&hex, mpath, NULL), 0);
	assert_true(hex.len >= 2 * OFS_MASTER_LEN);
	assert_int_equal(ofs_buf_cstr(&hex), 0);
	hex.data[2 * OFS_MASTER_LEN] = '\0';
	assert_int_equal(ofs_unhex((char *)hex.data, want, OFS_MASTER_LEN), 0);
	assert_int_equal(ofs_keyslot_open(slot.data, slot.len, "golden", GOLDEN_PASS,
	    strlen(GOLDEN_PASS), master, &err), 0);
	assert_memory_equal(master, want, OFS_MASTER_LEN);
	assert_int_equal(ofs_keyslot_open(slot.data, slot.len, "golden", "golden passphrase 0124",
	    strlen(GOLDEN_PASS), master, &err), OFS_ERR_AUTH);
	ofs_buf_release(&slot);
	ofs_buf_release(&hex);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_config_roundtrip_golden),
		cmocka_unit_test(t_config_tamper),
		cmocka_unit_test(t_config_versions_and_malformed),
		cmocka_unit_test(t_keyslot_roundtrip),
		cmocka_unit_test(t_keyslot_test_kdf_env),
		cmocka_unit_test(t_keyslot_malformed),
		cmocka_unit_test(t_keyslot_golden),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
