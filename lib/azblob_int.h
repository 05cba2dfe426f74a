/* Helpers shared by lib/azblob.c and lib/azblob_sign.c only (not a public contract). */
#ifndef OFS_AZBLOB_INT_H
#define OFS_AZBLOB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Strict base64 (standard alphabet, padding required, unused bits zero) into out (room for
 * 3*strlen(s)/4 bytes). Returns the decoded length or -1. */
int ofs_azb_b64_decode(const char *s, uint8_t *out, size_t outcap);
/* Percent-encode s (everything but A-Za-z0-9-._~, and '/' when keep_slash). */
int ofs_azb_pct_encode(struct ofs_buf *b, const char *s, int keep_slash);
/* Percent-decode n bytes of s; returns 0, or -1 for a malformed escape. */
int ofs_azb_pct_decode(struct ofs_buf *b, const char *s, size_t n);
/* Base64(HMAC-SHA256(key, msg)) into out[OFS_AZBLOB_SIG_LEN]. */
void ofs_azb_sign_raw(const uint8_t *key, size_t keylen, const void *msg, size_t len,
    char *out);

#endif
