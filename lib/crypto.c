/* Cryptographic primitives over OpenSSL 3 EVP (algorithms fetched once per process) and
 * libxxhash: HKDF sub-keys, AES-256-GCM, HMAC-SHA256, scrypt, SHA-256, XXH3. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <xxhash.h>
#include <xxh_x86dispatch.h>	/* libxxhash's SSE2/AVX2/AVX-512 dispatch: 4x in cache here */
#include <xxh_x86dispatch.h>	/* AVX2/AVX-512 at run time: ~3x the default SSE2 path */

#include "crypto.h"
#include "log.h"
#include "util.h"

/* Fetched once, shared by every thread (they are reference counted and immutable). */
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *alg_gcm;
static EVP_MAC *alg_hmac;
static EVP_KDF *alg_hkdf;
static EVP_KDF *alg_scrypt;
static EVP_MD *alg_sha256;

static void
fetch_all(void)
{
	alg_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	alg_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	alg_hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	alg_scrypt = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	alg_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (alg_gcm == NULL || alg_hmac == NULL || alg_hkdf == NULL || alg_scrypt == NULL ||
	    alg_sha256 == NULL) {
		ofs_error("OpenSSL lacks AES-256-GCM, HMAC, HKDF, SCRYPT or SHA256");
		abort();
	}
}

static void
fetch(void)
{
	pthread_once(&fetch_once, fetch_all);
}

static int
hkdf(const uint8_t *ikm, size_t ikmlen, const char *info, uint8_t *out, size_t outlen)
{
	EVP_KDF_CTX *kc;
	OSSL_PARAM params[4];
	int r = 0;

	fetch();
	if ((kc = EVP_KDF_CTX_new(alg_hkdf)) == NULL)
		return OFS_ERR_IO;
	/* No salt parameter: RFC 5869 treats an absent salt as HashLen zero bytes, which is
	 * the same HMAC key as an empty salt. */
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
	    strlen(info));
	params[3] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kc, out, outlen, params) != 1)
		r = OFS_ERR_IO;
	EVP_KDF_CTX_free(kc);
	return r;
}

int
ofs_hkdf_sha256(const uint8_t *ikm, size_t ikmlen, const char *info, uint8_t *out, size_t outlen)
{
	return hkdf(ikm, ikmlen, info, out, outlen);
}

int
ofs_keys_derive(struct ofs_keys *k, struct ofs_error *err)
{
	static const struct {
		const char *label;
		size_t off;
	} sub[] = {
		{ "offseed data key v1", offsetof(struct ofs_keys, data_key) },
		{ "offseed id key v1", offsetof(struct ofs_keys, id_key) },
		{ "offseed chunker seed v1", offsetof(struct ofs_keys, chunker_seed) },
		{ "offseed config key v1", offsetof(struct ofs_keys, config_key) },
	};

	for (size_t i = 0; i < OFS_ARRAY_LEN(sub); i++)
		if (hkdf(k->master, OFS_MASTER_LEN, sub[i].label, (uint8_t *)k + sub[i].off,
		    OFS_KEY_LEN) != 0)
			return ofs_err_set(err, OFS_ERR_IO, "cannot derive keys: HKDF failed");
	if (hkdf(k->master, OFS_MASTER_LEN, "offseed block hash v1", k->block_secret,
	    OFS_BLOCK_SECRET_LEN) != 0)
		return ofs_err_set(err, OFS_ERR_IO, "cannot derive keys: HKDF failed");
	return 0;
}

void
ofs_keys_wipe(struct ofs_keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

/* --- AES-256-GCM --- */

/* Nonces are random (RAND_bytes) but drawn NONCE_POOL at a time: one RAND_bytes call per
 * message cost a getpid and a DRBG round trip per small file's blob. */
#define NONCE_POOL 256

struct ofs_aead {
	EVP_CIPHER_CTX *enc;	/* key expanded once; each message only sets the IV */
	EVP_CIPHER_CTX *dec;
	uint8_t pool[NONCE_POOL * OFS_NONCE_LEN];
	size_t pool_left;	/* nonces not handed out yet, at the end of pool */
};

static void
next_nonce(struct ofs_aead *a, uint8_t nonce[OFS_NONCE_LEN])
{
	if (a->pool_left == 0) {
		ofs_random(a->pool, sizeof(a->pool));
		a->pool_left = NONCE_POOL;
	}
	memcpy(nonce, a->pool + (NONCE_POOL - a->pool_left--) * OFS_NONCE_LEN, OFS_NONCE_LEN);
}

struct ofs_aead *
ofs_aead_new(const uint8_t key[OFS_KEY_LEN])
{
	struct ofs_aead *a = ofs_xcalloc(1, sizeof(*a));

	fetch();
	a->enc = EVP_CIPHER_CTX_new();
	a->dec = EVP_CIPHER_CTX_new();
	if (a->enc == NULL || a->dec == NULL ||
	    EVP_EncryptInit_ex2(a->enc, alg_gcm, key, NULL, NULL) != 1 ||
	    EVP_DecryptInit_ex2(a->dec, alg_gcm, key, NULL, NULL) != 1) {
		ofs_error("cannot set up AES-256-GCM");
		abort();
	}
	return a;
}

void
ofs_aead_free(struct ofs_aead *a)
{
	if (a == NULL)
		return;
	EVP_CIPHER_CTX_free(a->enc);	/* clears the expanded key */
	EVP_CIPHER_CTX_free(a->dec);
	free(a);
}

/* EVP lengths are int: feed big buffers in pieces. */
#define EVP_STEP (1u << 30)

static int
gcm_update(EVP_CIPHER_CTX *c, int enc, uint8_t *out, const uint8_t *in, size_t n)
{
	int outl;

	while (n > 0) {
		size_t step = n < EVP_STEP ? n : EVP_STEP;

		if ((enc ? EVP_EncryptUpdate(c, out, &outl, in, (int)step) :
		    EVP_DecryptUpdate(c, out, &outl, in, (int)step)) != 1 || (size_t)outl != step)
			return -1;
		if (out != NULL)
			out += step;
		in += step;
		n -= step;
	}
	return 0;
}

int
ofs_aead_seal2(struct ofs_aead *a, const void *aad, size_t aadlen, const void *pre,
    size_t prelen, const void *pt, size_t ptlen, uint8_t *out)
{
	uint8_t *nonce = out, *ct = out + OFS_NONCE_LEN;
	int outl;

	next_nonce(a, nonce);
	if (EVP_EncryptInit_ex2(a->enc, NULL, NULL, nonce, NULL) != 1 ||
	    (aadlen > 0 && gcm_update(a->enc, 1, NULL, aad, aadlen) != 0) ||
	    (prelen > 0 && gcm_update(a->enc, 1, ct, pre, prelen) != 0) ||
	    (ptlen > 0 && gcm_update(a->enc, 1, ct + prelen, pt, ptlen) != 0) ||
	    EVP_EncryptFinal_ex(a->enc, ct + prelen + ptlen, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_AEAD_GET_TAG, OFS_TAG_LEN,
	    ct + prelen + ptlen) != 1)
		return OFS_ERR_IO;
	return 0;
}

int
ofs_aead_seal(struct ofs_aead *a, const void *aad, size_t aadlen, const void *pt, size_t ptlen,
    uint8_t *out)
{
	return ofs_aead_seal2(a, aad, aadlen, NULL, 0, pt, ptlen, out);
}

int
ofs_aead_open2(struct ofs_aead *a, const void *aad, size_t aadlen, const uint8_t *in,
    size_t inlen, uint8_t *out1, size_t n1, uint8_t *out2)
{
	const uint8_t *ct = in + OFS_NONCE_LEN;
	size_t ctlen;
	uint8_t tag[OFS_TAG_LEN];
	int outl;

	if (inlen < OFS_AEAD_OVERHEAD || inlen - OFS_AEAD_OVERHEAD < n1)
		return OFS_ERR_CORRUPT;
	ctlen = inlen - OFS_AEAD_OVERHEAD;
	memcpy(tag, in + inlen - OFS_TAG_LEN, OFS_TAG_LEN);
	if (EVP_DecryptInit_ex2(a->dec, NULL, NULL, in, NULL) != 1 ||
	    (aadlen > 0 && gcm_update(a->dec, 0, NULL, aad, aadlen) != 0) ||
	    (n1 > 0 && gcm_update(a->dec, 0, out1, ct, n1) != 0) ||
	    (ctlen > n1 && gcm_update(a->dec, 0, out2, ct + n1, ctlen - n1) != 0) ||
	    EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_AEAD_SET_TAG, OFS_TAG_LEN, tag) != 1 ||
	    EVP_DecryptFinal_ex(a->dec, out2 + (ctlen - n1), &outl) != 1)
		return OFS_ERR_CORRUPT;
	return 0;
}

int
ofs_aead_open(struct ofs_aead *a, const void *aad, size_t aadlen, const uint8_t *in,
    size_t inlen, uint8_t *out)
{
	return ofs_aead_open2(a, aad, aadlen, in, inlen, NULL, 0, out);
}

int
ofs_seal_once(const uint8_t key[OFS_KEY_LEN], const void *aad, size_t aadlen, const void *pt,
    size_t ptlen, uint8_t *out)
{
	struct ofs_aead *a = ofs_aead_new(key);
	int r = ofs_aead_seal(a, aad, aadlen, pt, ptlen, out);

	ofs_aead_free(a);
	return r;
}

int
ofs_open_once(const uint8_t key[OFS_KEY_LEN], const void *aad, size_t aadlen, const uint8_t *in,
    size_t inlen, uint8_t *out)
{
	struct ofs_aead *a = ofs_aead_new(key);
	int r = ofs_aead_open(a, aad, aadlen, in, inlen, out);

	ofs_aead_free(a);
	return r;
}

/* --- HMAC-SHA256 --- */

struct ofs_mac {
	EVP_MAC_CTX *ctx;	/* keyed once; EVP_MAC_init(ctx, NULL, 0, NULL) restarts */
};

struct ofs_mac *
ofs_mac_new(const uint8_t key[OFS_KEY_LEN])
{
	struct ofs_mac *m = ofs_xcalloc(1, sizeof(*m));
	OSSL_PARAM params[2];

	fetch();
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((m->ctx = EVP_MAC_CTX_new(alg_hmac)) == NULL ||
	    EVP_MAC_init(m->ctx, key, OFS_KEY_LEN, params) != 1) {
		ofs_error("cannot set up HMAC-SHA256");
		abort();
	}
	return m;
}

void
ofs_mac_free(struct ofs_mac *m)
{
	if (m == NULL)
		return;
	EVP_MAC_CTX_free(m->ctx);
	free(m);
}

void
ofs_mac_compute(struct ofs_mac *m, const void *p, size_t n, uint8_t out[32])
{
	size_t outl;

	if (EVP_MAC_init(m->ctx, NULL, 0, NULL) != 1 || EVP_MAC_update(m->ctx, p, n) != 1 ||
	    EVP_MAC_final(m->ctx, out, &outl, 32) != 1 || outl != 32) {
		ofs_error("HMAC-SHA256 failed");
		abort();
	}
}

struct ofs_mac *
ofs_mac_dup(const struct ofs_mac *m)
{
	struct ofs_mac *d = ofs_xcalloc(1, sizeof(*d));

	if ((d->ctx = EVP_MAC_CTX_dup(m->ctx)) == NULL) {
		ofs_error("cannot copy an HMAC-SHA256 context");
		abort();
	}
	return d;
}

void
ofs_mac_start(struct ofs_mac *m)
{
	if (EVP_MAC_init(m->ctx, NULL, 0, NULL) != 1) {
		ofs_error("HMAC-SHA256 failed");
		abort();
	}
}

void
ofs_mac_update(struct ofs_mac *m, const void *p, size_t n)
{
	if (n > 0 && EVP_MAC_update(m->ctx, p, n) != 1) {
		ofs_error("HMAC-SHA256 failed");
		abort();
	}
}

void
ofs_mac_final(struct ofs_mac *m, uint8_t out[32])
{
	size_t outl;

	if (EVP_MAC_final(m->ctx, out, &outl, 32) != 1 || outl != 32) {
		ofs_error("HMAC-SHA256 failed");
		abort();
	}
}

/* --- scrypt, SHA-256 --- */

#define SCRYPT_LOWMEM (32ULL << 20)	/* ROMix memory kept at most (k=2 at the default) */
#define SCRYPT_MAXMEM (2ull << 30)

int
ofs_scrypt(const char *pass, size_t passlen, const uint8_t *salt, size_t saltlen, uint64_t N,
    uint32_t r, uint32_t p, uint8_t *out, size_t outlen, struct ofs_error *err)
{
	EVP_KDF_CTX *kc;
	OSSL_PARAM params[7];
	uint64_t maxmem = SCRYPT_MAXMEM + (64u << 20);	/* V plus the small B and XY */
	int rc = 0;

	if (N < 2 || (N & (N - 1)) != 0 || r == 0 || p == 0 ||
	    (uint64_t)r * p >= (1u << 30) || N > SCRYPT_MAXMEM / 128 / r)
		return ofs_err_set(err, OFS_ERR_USAGE,
		    "bad scrypt parameters N=%llu r=%u p=%u (N a power of two, memory at most 2 GiB)",
		    (unsigned long long)N, r, p);
	/* Above 16 MiB, trade time for memory so unlocking does not dominate peak RSS. */
	if ((uint64_t)128 * r * N > SCRYPT_LOWMEM) {
		uint32_t k = (uint32_t)(((uint64_t)128 * r * N + SCRYPT_LOWMEM - 1) / SCRYPT_LOWMEM);

		if (ofs_scrypt_lowmem(pass, passlen, salt, saltlen, N, r, p, k, out, outlen) != 0)
			return ofs_err_set(err, OFS_ERR_IO, "scrypt failed (N=%llu r=%u p=%u)",
			    (unsigned long long)N, r, p);
		return 0;
	}
	fetch();
	if ((kc = EVP_KDF_CTX_new(alg_scrypt)) == NULL)
		return ofs_err_set(err, OFS_ERR_IO, "cannot set up scrypt");
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)pass, passlen);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
	params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &N);
	params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	params[5] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
	params[6] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kc, out, outlen, params) != 1)
		rc = ofs_err_set(err, OFS_ERR_IO, "scrypt failed (N=%llu r=%u p=%u; out of memory?)",
		    (unsigned long long)N, r, p);
	EVP_KDF_CTX_free(kc);
	return rc;
}

void
ofs_sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int outl;

	fetch();
	if (EVP_Digest(p, n, out, &outl, alg_sha256, NULL) != 1) {
		ofs_error("SHA-256 failed");
		abort();
	}
}

struct ofs_sha256_ctx {
	EVP_MD_CTX *md;
};

struct ofs_sha256_ctx *
ofs_sha256_new(void)
{
	struct ofs_sha256_ctx *c = ofs_xcalloc(1, sizeof(*c));

	fetch();
	if ((c->md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(c->md, alg_sha256, NULL) != 1) {
		ofs_error("SHA-256 failed");
		abort();
	}
	return c;
}

void
ofs_sha256_update(struct ofs_sha256_ctx *c, const void *p, size_t n)
{
	if (EVP_DigestUpdate(c->md, p, n) != 1) {
		ofs_error("SHA-256 failed");
		abort();
	}
}

void
ofs_sha256_final(struct ofs_sha256_ctx *c, uint8_t out[32])
{
	unsigned int outl;

	if (EVP_DigestFinal_ex(c->md, out, &outl) != 1) {
		ofs_error("SHA-256 failed");
		abort();
	}
	EVP_MD_CTX_free(c->md);
	free(c);
}

/* --- XXH3 --- */

void
ofs_xxh128(const void *p, size_t n, uint8_t out[OFS_XXH_LEN])
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits(p, n));
	memcpy(out, c.digest, OFS_XXH_LEN);
}

struct ofs_xxh {
	XXH3_state_t *st;
};

struct ofs_xxh *
ofs_xxh_new(void)
{
	struct ofs_xxh *h = ofs_xcalloc(1, sizeof(*h));

	if ((h->st = XXH3_createState()) == NULL) {
		ofs_error("out of memory");
		abort();
	}
	XXH3_128bits_reset(h->st);
	return h;
}

void
ofs_xxh_reset(struct ofs_xxh *h)
{
	XXH3_128bits_reset(h->st);
}

void
ofs_xxh_update(struct ofs_xxh *h, const void *p, size_t n)
{
	XXH3_128bits_update(h->st, p, n);
}

void
ofs_xxh_digest(const struct ofs_xxh *h, uint8_t out[OFS_XXH_LEN])
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(h->st));
	memcpy(out, c.digest, OFS_XXH_LEN);
}

void
ofs_xxh_free(struct ofs_xxh *h)
{
	if (h == NULL)
		return;
	XXH3_freeState(h->st);
	free(h);
}

uint64_t
ofs_xxh64(const void *p, size_t n)
{
	return XXH3_64bits(p, n);
}

void
ofs_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

int
ofs_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
