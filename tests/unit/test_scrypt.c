/* The memory-saving scrypt must equal standard scrypt (OpenSSL) for every trade-off factor,
 * and the RFC 7914 test vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "crypto.h"
#include "util.h"

static void
reference(const char *pass, const char *salt, uint64_t N, uint32_t r, uint32_t p, uint8_t *out,
    size_t outlen)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	EVP_KDF_CTX *kc = EVP_KDF_CTX_new(kdf);
	uint64_t maxmem = 1ULL << 30;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)pass, strlen(pass)),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, strlen(salt)),
		OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &N),
		OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
		OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
		OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
		OSSL_PARAM_construct_end(),
	};

	assert_int_equal(EVP_KDF_derive(kc, out, outlen, params), 1);
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
}

static void
t_matches_openssl_every_k(void **state)
{
	static const struct { uint64_t N; uint32_t r, p; } cases[] = {
		{ 16, 1, 1 }, { 1024, 8, 1 }, { 256, 4, 3 }, { 2048, 2, 2 },
	};
	uint8_t want[64], got[64];

	(void)state;
	for (size_t c = 0; c < OFS_ARRAY_LEN(cases); c++) {
		reference("pass phrase", "NaClNaClNaCl", cases[c].N, cases[c].r, cases[c].p, want,
		    sizeof(want));
		for (uint32_t k = 1; k <= 9; k++) {
			memset(got, 0, sizeof(got));
			assert_int_equal(ofs_scrypt_lowmem("pass phrase", 11,
			    (const uint8_t *)"NaClNaClNaCl", 12, cases[c].N, cases[c].r, cases[c].p, k,
			    got, sizeof(got)), 0);
			assert_memory_equal(got, want, sizeof(want));
		}
	}
}

static void
t_rfc7914_vector(void **state)
{
	/* RFC 7914 section 12, second vector: P="password", S="NaCl", N=1024, r=8, p=16 */
	static const char want[] =
	    "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
	    "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640";
	uint8_t got[64];
	char hex[129];

	(void)state;
	assert_int_equal(ofs_scrypt_lowmem("password", 8, (const uint8_t *)"NaCl", 4, 1024, 8, 16,
	    4, got, sizeof(got)), 0);
	ofs_hex(got, sizeof(got), hex);
	assert_string_equal(hex, want);
}

static void
t_default_params_use_lowmem_path(void **state)
{
	/* ofs_scrypt with the repository default (N=2^16, r=8: 64 MiB) takes the trade-off path
	 * and still equals OpenSSL. */
	uint8_t want[32], got[32];

	(void)state;
	reference("a passphrase of 16+", "0123456789abcdef", 1u << 16, 8, 1, want, sizeof(want));
	assert_int_equal(ofs_scrypt("a passphrase of 16+", 19, (const uint8_t *)"0123456789abcdef",
	    16, 1u << 16, 8, 1, got, sizeof(got), NULL), 0);
	assert_memory_equal(got, want, sizeof(want));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_matches_openssl_every_k),
		cmocka_unit_test(t_rfc7914_vector),
		cmocka_unit_test(t_default_params_use_lowmem_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
