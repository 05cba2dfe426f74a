/* Unit tests for lib/crypto.c: RFC/NIST known-answer vectors, XXH3 against xxhsum, AEAD
 * round trips and forgeries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto.h"
#include "util.h"

static void
assert_hex(const uint8_t *p, size_t n, const char *want)
{
	char got[2 * 256 + 1];

	assert_true(n <= 256);
	ofs_hex(p, n, got);
	assert_string_equal(got, want);
}

static void
t_sha256(void **state)
{
	uint8_t d[32];

	ofs_sha256("abc", 3, d);
	assert_hex(d, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ofs_sha256("", 0, d);
	assert_hex(d, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* RFC 4231 cases 1 and 2: HMAC zero-pads short keys, so padding them to 32 bytes keeps the
 * published results. */
static void
t_hmac(void **state)
{
	uint8_t key[32] = { 0 }, d[32];
	struct ofs_mac *m;

	memset(key, 0x0b, 20);
	m = ofs_mac_new(key);
	ofs_mac_compute(m, "Hi There", 8, d);
	assert_hex(d, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	/* key reuse: the same context gives the same answer again */
	ofs_mac_compute(m, "Hi There", 8, d);
	assert_hex(d, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	ofs_mac_free(m);
	memset(key, 0, sizeof(key));
	memcpy(key, "Jefe", 4);
	m = ofs_mac_new(key);
	ofs_mac_compute(m, "what do ya want for nothing?", 28, d);
	assert_hex(d, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	ofs_mac_free(m);
}

/* RFC 5869 test case 3: empty salt, empty info. */
static void
t_hkdf(void **state)
{
	uint8_t ikm[22], okm[42];

	memset(ikm, 0x0b, sizeof(ikm));
	assert_int_equal(ofs_hkdf_sha256(ikm, sizeof(ikm), "", okm, sizeof(okm)), 0);
	assert_hex(okm, 42, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
	    "9d201395faa4b61a96c8");
}

static void
t_keys_derive(void **state)
{
	struct ofs_keys k, k2;
	uint8_t want[32];

	for (int i = 0; i < OFS_MASTER_LEN; i++)
		k.master[i] = (uint8_t)i;
	assert_int_equal(ofs_keys_derive(&k, NULL), 0);
	ofs_hkdf_sha256(k.master, 64, "offseed data key v1", want, 32);
	assert_memory_equal(k.data_key, want, 32);
	ofs_hkdf_sha256(k.master, 64, "offseed id key v1", want, 32);
	assert_memory_equal(k.id_key, want, 32);
	ofs_hkdf_sha256(k.master, 64, "offseed chunker seed v1", want, 32);
	assert_memory_equal(k.chunker_seed, want, 32);
	ofs_hkdf_sha256(k.master, 64, "offseed config key v1", want, 32);
	assert_memory_equal(k.config_key, want, 32);
	assert_memory_not_equal(k.data_key, k.id_key, 32);
	/* pinned (computed independently with Python hmac): a change of labels or KDF
	 * breaks every repository */
	assert_hex(k.data_key, 32, "46925d5345dfc6482ef86a4a3d4b1e9c8a68ec67512585b63e2d35bcb5a4ffa4");
	memcpy(&k2, &k, sizeof(k));
	k2.master[0] ^= 1;
	assert_int_equal(ofs_keys_derive(&k2, NULL), 0);
	assert_memory_not_equal(k.data_key, k2.data_key, 32);
	ofs_keys_wipe(&k);
	for (size_t i = 0; i < sizeof(k); i++)
		assert_int_equal(((uint8_t *)&k)[i], 0);
}

/* RFC 7914 section 12, third vector. */
static void
t_scrypt(void **state)
{
	uint8_t out[64];
	struct ofs_error err;

	assert_int_equal(ofs_scrypt("password", 8, (const uint8_t *)"NaCl", 4, 1024, 8, 16, out,
	    sizeof(out), &err), 0);
	assert_hex(out, 64, "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
	    "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
	assert_int_equal(ofs_scrypt("p", 1, out, 16, 1000, 8, 1, out, 32, &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_scrypt("p", 1, out, 16, 1, 8, 1, out, 32, &err), OFS_ERR_USAGE);
	assert_int_equal(ofs_scrypt("p", 1, out, 16, 1ull << 24, 8, 1, out, 32, &err),
	    OFS_ERR_USAGE);	/* 16 GiB */
	assert_int_equal(ofs_scrypt("p", 1, out, 16, 1024, 0, 1, out, 32, &err), OFS_ERR_USAGE);
}

static void
t_xxh(void **state)
{
	uint8_t d[16], d2[16];
	struct ofs_xxh *h;

	ofs_xxh128("abc", 3, d);
	assert_hex(d, 16, "06b05ab6733a618578af5f94892f3950");
	assert_int_equal(ofs_xxh64("", 0), 0x2d06800538d394c2ull);
	h = ofs_xxh_new();
	ofs_xxh_update(h, "a", 1);
	ofs_xxh_update(h, "bc", 2);
	ofs_xxh_digest(h, d2);
	assert_memory_equal(d, d2, 16);
	ofs_xxh_reset(h);
	ofs_xxh_digest(h, d2);
	ofs_xxh128("", 0, d);
	assert_memory_equal(d, d2, 16);
	ofs_xxh_free(h);
	ofs_xxh_free(NULL);
}

/* The canonical form must be exactly what `xxhsum -H2` prints, on a larger input too. */
static void
t_xxh_vs_xxhsum(void **state)
{
	char path[] = "/tmp/ofs-xxh-XXXXXX", cmd[256], line[256], hex[33];
	size_t n = 3u << 20;
	uint8_t *buf = malloc(n), d[16];
	struct ofs_xxh *h = ofs_xxh_new();
	FILE *f;
	int fd;

	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ofs_write_all(fd, buf, n), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "xxhsum -H2 %s 2>/dev/null", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_int_equal(pclose(f), 0);	/* fails loudly when xxhsum is missing */
	unlink(path);
	for (size_t off = 0; off < n; off += 100000)
		ofs_xxh_update(h, buf + off, n - off < 100000 ? n - off : 100000);
	ofs_xxh_digest(h, d);
	ofs_hex(d, 16, hex);
	assert_memory_equal(line, hex, 32);
	ofs_xxh128(buf, n, d);
	ofs_hex(d, 16, hex);
	assert_memory_equal(line, hex, 32);
	ofs_xxh_free(h);
	free(buf);
}

/* NIST GCM spec test case 14 (AES-256, zero key/IV, one zero block) through the open path. */
static void
t_gcm_kat(void **state)
{
	static const uint8_t ct[16] = { 0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e, 0x07, 0x4e,
		0xc5, 0xd3, 0xba, 0xf3, 0x9d, 0x18 };
	static const uint8_t tag[16] = { 0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99, 0x6b, 0xf0, 0x26, 0x5b,
		0x98, 0xb5, 0xd4, 0x8a, 0xb9, 0x19 };
	uint8_t key[32] = { 0 }, in[12 + 16 + 16] = { 0 }, out[16], zero[16] = { 0 };

	memcpy(in + 12, ct, 16);
	memcpy(in + 28, tag, 16);
	memset(out, 0xff, sizeof(out));
	assert_int_equal(ofs_open_once(key, NULL, 0, in, sizeof(in), out), 0);
	assert_memory_equal(out, zero, 16);
	in[20] ^= 0x01;
	assert_int_equal(ofs_open_once(key, NULL, 0, in, sizeof(in), out), OFS_ERR_CORRUPT);
}

static void
t_aead(void **state)
{
	uint8_t key[32], pt[1000], ct[1000 + OFS_AEAD_OVERHEAD], ct2[sizeof(ct)], back[1000];
	struct ofs_aead *a;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)i;
	a = ofs_aead_new(key);
	assert_int_equal(ofs_aead_seal(a, "aad", 3, pt, sizeof(pt), ct), 0);
	assert_int_equal(ofs_aead_seal(a, "aad", 3, pt, sizeof(pt), ct2), 0);
	assert_memory_not_equal(ct, ct2, OFS_NONCE_LEN);	/* fresh nonce each time */
	assert_int_equal(ofs_aead_open(a, "aad", 3, ct, sizeof(ct), back), 0);
	assert_memory_equal(back, pt, sizeof(pt));
	assert_int_equal(ofs_aead_open(a, "aad", 3, ct2, sizeof(ct2), back), 0);
	/* wrong AAD, flipped nonce / ciphertext / tag bit, truncation */
	assert_int_equal(ofs_aead_open(a, "aaD", 3, ct, sizeof(ct), back), OFS_ERR_CORRUPT);
	for (size_t pos = 0; pos < sizeof(ct); pos += 97) {
		ct[pos] ^= 0x20;
		assert_int_equal(ofs_aead_open(a, "aad", 3, ct, sizeof(ct), back), OFS_ERR_CORRUPT);
		ct[pos] ^= 0x20;
	}
	ct[sizeof(ct) - 1] ^= 1;
	assert_int_equal(ofs_aead_open(a, "aad", 3, ct, sizeof(ct), back), OFS_ERR_CORRUPT);
	ct[sizeof(ct) - 1] ^= 1;
	assert_int_equal(ofs_aead_open(a, "aad", 3, ct, sizeof(ct) - 1, back), OFS_ERR_CORRUPT);
	assert_int_equal(ofs_aead_open(a, "aad", 3, ct, OFS_AEAD_OVERHEAD - 1, back),
	    OFS_ERR_CORRUPT);
	/* still fine after failures (context state reset per message) */
	assert_int_equal(ofs_aead_open(a, "aad", 3, ct, sizeof(ct), back), 0);
	/* other key fails; one-shot helpers interoperate */
	assert_int_equal(ofs_open_once(key, "aad", 3, ct, sizeof(ct), back), 0);
	key[0] ^= 1;
	assert_int_equal(ofs_open_once(key, "aad", 3, ct, sizeof(ct), back), OFS_ERR_CORRUPT);
	/* empty plaintext */
	assert_int_equal(ofs_aead_seal(a, NULL, 0, NULL, 0, ct), 0);
	assert_int_equal(ofs_aead_open(a, NULL, 0, ct, OFS_AEAD_OVERHEAD, back), 0);
	ofs_aead_free(a);
	ofs_aead_free(NULL);
}

static void
t_aead_split(void **state)
{
	uint8_t key[32] = { 1 }, pre = 7, pt[300], ct[1 + 300 + OFS_AEAD_OVERHEAD], b1, b2[300],
	    whole[301];
	struct ofs_aead *a = ofs_aead_new(key);

	for (size_t i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(ofs_aead_seal2(a, "x", 1, &pre, 1, pt, sizeof(pt), ct), 0);
	assert_int_equal(ofs_aead_open2(a, "x", 1, ct, sizeof(ct), &b1, 1, b2), 0);
	assert_int_equal(b1, 7);
	assert_memory_equal(b2, pt, sizeof(pt));
	assert_int_equal(ofs_aead_open(a, "x", 1, ct, sizeof(ct), whole), 0);
	assert_int_equal(whole[0], 7);
	assert_memory_equal(whole + 1, pt, sizeof(pt));
	ofs_aead_free(a);
}

static void
t_misc(void **state)
{
	uint8_t a[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, b[8];

	memcpy(b, a, 8);
	assert_int_equal(ofs_ct_equal(a, b, 8), 1);
	b[7] = 0;
	assert_int_equal(ofs_ct_equal(a, b, 8), 0);
	ofs_wipe(a, sizeof(a));
	memset(b, 0, 8);
	assert_memory_equal(a, b, 8);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_sha256),
		cmocka_unit_test(t_hmac),
		cmocka_unit_test(t_hkdf),
		cmocka_unit_test(t_keys_derive),
		cmocka_unit_test(t_scrypt),
		cmocka_unit_test(t_xxh),
		cmocka_unit_test(t_xxh_vs_xxhsum),
		cmocka_unit_test(t_gcm_kat),
		cmocka_unit_test(t_aead),
		cmocka_unit_test(t_aead_split),
		cmocka_unit_test(t_misc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
