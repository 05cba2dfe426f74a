/* The repository config (format version, id, destination, chunker parameters; authenticated
 * with HMAC under the config key) and key slots (scrypt-sealed master secret). */
#ifndef OFS_CONFIG_H
#define OFS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"

#define OFS_REPO_VERSION 1	/* newest repository format this build reads and writes */
#define OFS_REPO_ID_LEN 16
#define OFS_CONFIG_MAX (64u << 10)
#define OFS_KEYSLOT_MAX (64u << 10)
#define OFS_PASSPHRASE_MIN 16

struct ofs_config {
	uint32_t version;
	uint8_t repo_id[OFS_REPO_ID_LEN];
	char *destination;	/* "" or azure://ACCOUNT/CONTAINER/PREFIX; owned */
	uint32_t chunk_min, chunk_avg, chunk_max;
	int zstd_level;
	int64_t created;	/* unix seconds */
};

void ofs_config_release(struct ofs_config *c);
/* JSON config with "mac" = HMAC-SHA256(config key, canonical JSON of the other fields). */
int ofs_config_encode(const struct ofs_config *c, const struct ofs_keys *k, struct ofs_buf *out,
    struct ofs_error *err);
/* Parse without the key (so a too-new version is reported before asking for a passphrase):
 * a version above OFS_REPO_VERSION → OFS_ERR_VERSION "repository format version N is newer
 * than this offseed supports (M)". Malformed → OFS_ERR_CORRUPT naming `what`. */
int ofs_config_parse(const uint8_t *p, size_t len, const char *what, struct ofs_config *c,
    struct ofs_error *err);
/* Check the MAC once the keys are known. Mismatch → OFS_ERR_CORRUPT. */
int ofs_config_authenticate(const uint8_t *p, size_t len, const char *what,
    const struct ofs_keys *k, struct ofs_error *err);

struct ofs_kdf_params {
	uint64_t N;
	uint32_t r, p;
};
#define OFS_KDF_DEFAULT ((struct ofs_kdf_params){ 1u << 16, 8, 1 })

/* Key slot JSON sealing master under scrypt(passphrase). Appended to out. */
int ofs_keyslot_create(const char *pass, size_t passlen, const uint8_t master[OFS_MASTER_LEN],
    struct ofs_kdf_params kdf, struct ofs_buf *out, struct ofs_error *err);
/* Open a key slot: 0 and master filled; OFS_ERR_AUTH "wrong passphrase" when the seal does
 * not open; OFS_ERR_CORRUPT naming `what` when malformed; OFS_ERR_VERSION when newer. */
int ofs_keyslot_open(const uint8_t *p, size_t len, const char *what, const char *pass,
    size_t passlen, uint8_t master[OFS_MASTER_LEN], struct ofs_error *err);

#endif
