/* Keys and primitives: the master secret and its HKDF sub-keys, AES-256-GCM, HMAC-SHA256
 * chunk ids, scrypt, SHA-256, XXH3-128. Contexts are per thread; keys are wiped on free. */
#ifndef OFS_CRYPTO_H
#define OFS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define OFS_MASTER_LEN 64
#define OFS_KEY_LEN 32
#define OFS_ID_LEN 32		/* chunk, tree, pack, index and snapshot ids */
#define OFS_NONCE_LEN 12
#define OFS_TAG_LEN 16
#define OFS_AEAD_OVERHEAD (OFS_NONCE_LEN + OFS_TAG_LEN)
#define OFS_XXH_LEN 16		/* canonical (big-endian) XXH3-128 */
#define OFS_BLOCK_SECRET_LEN 192	/* XXH3 secret of the block hashes (lib/patch.h) */

/* Sub-keys derived from the master secret with HKDF-SHA256 (labels in FORMAT.md). */
struct ofs_keys {
	uint8_t master[OFS_MASTER_LEN];
	uint8_t data_key[OFS_KEY_LEN];		/* AES-256-GCM for every encrypted object */
	uint8_t id_key[OFS_KEY_LEN];		/* HMAC-SHA256 chunk/tree ids */
	uint8_t chunker_seed[OFS_KEY_LEN];	/* gear table */
	uint8_t config_key[OFS_KEY_LEN];	/* HMAC-SHA256 over the config */
	uint8_t block_secret[OFS_BLOCK_SECRET_LEN];	/* XXH3-64 block hashes (catalog) */
};

/* HKDF-SHA256 (RFC 5869) with an empty salt and info = the bytes of the string. Returns 0 or
 * OFS_ERR_IO. */
int ofs_hkdf_sha256(const uint8_t *ikm, size_t ikmlen, const char *info, uint8_t *out,
    size_t outlen);
/* Fill the sub-keys of k from k->master. Returns 0 or OFS_ERR_IO. */
int ofs_keys_derive(struct ofs_keys *k, struct ofs_error *err);
void ofs_keys_wipe(struct ofs_keys *k);

/* AES-256-GCM with the key expanded once; one per thread. */
struct ofs_aead;
struct ofs_aead *ofs_aead_new(const uint8_t key[OFS_KEY_LEN]);
void ofs_aead_free(struct ofs_aead *a);
/* out receives nonce ‖ ciphertext ‖ tag: ptlen + OFS_AEAD_OVERHEAD bytes. A fresh random
 * nonce is drawn. pt and out must not overlap. Returns 0 or OFS_ERR_IO. */
int ofs_aead_seal(struct ofs_aead *a, const void *aad, size_t aadlen, const void *pt,
    size_t ptlen, uint8_t *out);
/* Inverse of seal: in holds inlen ≥ OFS_AEAD_OVERHEAD bytes; out receives
 * inlen - OFS_AEAD_OVERHEAD bytes. Returns 0, or OFS_ERR_CORRUPT when authentication fails
 * (no message; the caller names the object). */
int ofs_aead_open(struct ofs_aead *a, const void *aad, size_t aadlen, const uint8_t *in,
    size_t inlen, uint8_t *out);
/* Seal the concatenation pre ‖ pt without copying it together (blob mode byte ‖ payload).
 * out receives prelen + ptlen + OFS_AEAD_OVERHEAD bytes. */
int ofs_aead_seal2(struct ofs_aead *a, const void *aad, size_t aadlen, const void *pre,
    size_t prelen, const void *pt, size_t ptlen, uint8_t *out);
/* Open, writing the first n1 plaintext bytes to out1 and the rest to out2. OFS_ERR_CORRUPT
 * when authentication fails or inlen - OFS_AEAD_OVERHEAD < n1; the outputs then hold
 * garbage and must be ignored. */
int ofs_aead_open2(struct ofs_aead *a, const void *aad, size_t aadlen, const uint8_t *in,
    size_t inlen, uint8_t *out1, size_t n1, uint8_t *out2);

/* HMAC-SHA256 with a fixed key; one per thread. */
struct ofs_mac;
struct ofs_mac *ofs_mac_new(const uint8_t key[OFS_KEY_LEN]);
void ofs_mac_free(struct ofs_mac *m);
void ofs_mac_compute(struct ofs_mac *m, const void *p, size_t n, uint8_t out[32]);
/* The same piece by piece, for data never whole in memory: a copy of m with the same key
 * (its own state; free with ofs_mac_free), then start, update…, final (which ends it). */
struct ofs_mac *ofs_mac_dup(const struct ofs_mac *m);
void ofs_mac_start(struct ofs_mac *m);
void ofs_mac_update(struct ofs_mac *m, const void *p, size_t n);
void ofs_mac_final(struct ofs_mac *m, uint8_t out[32]);

/* One-shot AES-256-GCM with a caller key (key slots). Same layout as ofs_aead_seal. */
int ofs_seal_once(const uint8_t key[OFS_KEY_LEN], const void *aad, size_t aadlen,
    const void *pt, size_t ptlen, uint8_t *out);
int ofs_open_once(const uint8_t key[OFS_KEY_LEN], const void *aad, size_t aadlen,
    const uint8_t *in, size_t inlen, uint8_t *out);

/* scrypt(pass, salt, N, r, p) → outlen bytes. Returns 0, OFS_ERR_USAGE for bad
 * parameters (N not a power of two ≥ 2, r·p too large, memory > 2 GiB). */
int ofs_scrypt(const char *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
    uint64_t N, uint32_t r, uint32_t p, uint8_t *out, size_t outlen, struct ofs_error *err);

/* scrypt with the time-memory trade-off: keeps every k-th ROMix block (memory 128·r·N/k,
 * about 1 + (k-1)/4 times the work). Same output as standard scrypt for every k ≥ 1.
 * Parameters must already be valid (ofs_scrypt checks them). Returns 0 or -1. */
int ofs_scrypt_lowmem(const char *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
    uint64_t N, uint32_t r, uint32_t p, uint32_t k, uint8_t *out, size_t outlen);

void ofs_sha256(const void *p, size_t n, uint8_t out[32]);
/* SHA-256 in pieces: new, update…, final (which frees the context). */
struct ofs_sha256_ctx;
struct ofs_sha256_ctx *ofs_sha256_new(void);
void ofs_sha256_update(struct ofs_sha256_ctx *c, const void *p, size_t n);
void ofs_sha256_final(struct ofs_sha256_ctx *c, uint8_t out[32]);
/* XXH3-128 in canonical big-endian byte order (what xxhsum -H2 prints). */
void ofs_xxh128(const void *p, size_t n, uint8_t out[OFS_XXH_LEN]);
/* Streaming XXH3-128. */
struct ofs_xxh;
struct ofs_xxh *ofs_xxh_new(void);
void ofs_xxh_reset(struct ofs_xxh *h);
void ofs_xxh_update(struct ofs_xxh *h, const void *p, size_t n);
void ofs_xxh_digest(const struct ofs_xxh *h, uint8_t out[OFS_XXH_LEN]);
void ofs_xxh_free(struct ofs_xxh *h);
/* XXH3-64 of a header, for superblock/trailer checksums. */
uint64_t ofs_xxh64(const void *p, size_t n);

void ofs_wipe(void *p, size_t n);
/* Constant-time equality: 1 if equal. */
int ofs_ct_equal(const void *a, const void *b, size_t n);

#endif
