/* scrypt (RFC 7914) with a time-memory trade-off: ROMix keeps every k-th V block and
 * recomputes the others on demand. The output is bit-identical to standard scrypt (the unit
 * test checks it against OpenSSL); peak memory is 128·r·N/k instead of 128·r·N, so unlocking a
 * repository (N=2^16, r=8: 64 MiB) does not set the peak RSS of a whole stage. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "crypto.h"
#include "util.h"

#define ROTL(a, b) (((a) << (b)) | ((a) >> (32 - (b))))

static void
salsa20_8(uint32_t b[16])
{
	uint32_t x[16];

	memcpy(x, b, sizeof(x));
	for (int i = 0; i < 8; i += 2) {
		/* columns */
		x[4] ^= ROTL(x[0] + x[12], 7);   x[8] ^= ROTL(x[4] + x[0], 9);
		x[12] ^= ROTL(x[8] + x[4], 13);  x[0] ^= ROTL(x[12] + x[8], 18);
		x[9] ^= ROTL(x[5] + x[1], 7);    x[13] ^= ROTL(x[9] + x[5], 9);
		x[1] ^= ROTL(x[13] + x[9], 13);  x[5] ^= ROTL(x[1] + x[13], 18);
		x[14] ^= ROTL(x[10] + x[6], 7);  x[2] ^= ROTL(x[14] + x[10], 9);
		x[6] ^= ROTL(x[2] + x[14], 13);  x[10] ^= ROTL(x[6] + x[2], 18);
		x[3] ^= ROTL(x[15] + x[11], 7);  x[7] ^= ROTL(x[3] + x[15], 9);
		x[11] ^= ROTL(x[7] + x[3], 13);  x[15] ^= ROTL(x[11] + x[7], 18);
		/* rows */
		x[1] ^= ROTL(x[0] + x[3], 7);    x[2] ^= ROTL(x[1] + x[0], 9);
		x[3] ^= ROTL(x[2] + x[1], 13);   x[0] ^= ROTL(x[3] + x[2], 18);
		x[6] ^= ROTL(x[5] + x[4], 7);    x[7] ^= ROTL(x[6] + x[5], 9);
		x[4] ^= ROTL(x[7] + x[6], 13);   x[5] ^= ROTL(x[4] + x[7], 18);
		x[11] ^= ROTL(x[10] + x[9], 7);  x[8] ^= ROTL(x[11] + x[10], 9);
		x[9] ^= ROTL(x[8] + x[11], 13);  x[10] ^= ROTL(x[9] + x[8], 18);
		x[12] ^= ROTL(x[15] + x[14], 7); x[13] ^= ROTL(x[12] + x[15], 9);
		x[14] ^= ROTL(x[13] + x[12], 13); x[15] ^= ROTL(x[14] + x[13], 18);
	}
	for (int i = 0; i < 16; i++)
		b[i] += x[i];
}

/* BlockMix: in and out are 2r 64-byte blocks (32r words); they must not overlap. */
static void
blockmix(const uint32_t *in, uint32_t *out, uint32_t r)
{
	uint32_t x[16];

	memcpy(x, in + (2 * r - 1) * 16, 64);
	for (uint32_t i = 0; i < 2 * r; i++) {
		for (int w = 0; w < 16; w++)
			x[w] ^= in[i * 16 + w];
		salsa20_8(x);
		/* even blocks to the first half, odd ones to the second */
		memcpy(out + ((i & 1) * r + i / 2) * 16, x, 64);
	}
}

static uint64_t
integerify(const uint32_t *b, uint32_t r)
{
	const uint32_t *last = b + (2 * r - 1) * 16;

	return (uint64_t)last[0] | (uint64_t)last[1] << 32;
}

/* ROMix over one 128r-byte block (as words), keeping every k-th V entry. */
static void
romix(uint32_t *x, uint64_t N, uint32_t r, uint32_t k, uint32_t *v, uint32_t *t, uint32_t *u)
{
	size_t words = 32 * (size_t)r, bytes = words * 4;

	for (uint64_t i = 0; i < N; i++) {
		if (i % k == 0)
			memcpy(v + (i / k) * words, x, bytes);
		blockmix(x, t, r);
		memcpy(x, t, bytes);
	}
	for (uint64_t i = 0; i < N; i++) {
		uint64_t j = integerify(x, r) & (N - 1);

		/* rebuild V[j] from the stored V[j - j % k] */
		memcpy(t, v + (j / k) * words, bytes);
		for (uint64_t s = 0; s < j % k; s++) {
			blockmix(t, u, r);
			memcpy(t, u, bytes);
		}
		for (size_t w = 0; w < words; w++)
			t[w] ^= x[w];
		blockmix(t, x, r);
	}
}

int
ofs_scrypt_lowmem(const char *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
    uint64_t N, uint32_t r, uint32_t p, uint32_t k, uint8_t *out, size_t outlen)
{
	size_t words = 32 * (size_t)r, blen = 128 * (size_t)r * p;
	uint8_t *b = ofs_xmalloc(blen);
	uint32_t *x = ofs_xmalloc(words * 4), *t = ofs_xmalloc(words * 4), *u = ofs_xmalloc(words * 4);
	uint32_t *v;
	int rc = -1;

	if (k == 0 || k > N)
		k = 1;
	v = ofs_xmalloc(((N + k - 1) / k) * words * 4);
	if (PKCS5_PBKDF2_HMAC(pass, (int)passlen, salt, (int)saltlen, 1, EVP_sha256(), (int)blen,
	    b) != 1)
		goto out;
	for (uint32_t i = 0; i < p; i++) {
		uint8_t *bi = b + (size_t)i * 128 * r;

		for (size_t w = 0; w < words; w++)
			x[w] = ofs_get_u32le(bi + 4 * w);
		romix(x, N, r, k, v, t, u);
		for (size_t w = 0; w < words; w++)
			ofs_put_u32le(bi + 4 * w, x[w]);
	}
	if (PKCS5_PBKDF2_HMAC(pass, (int)passlen, b, (int)blen, 1, EVP_sha256(), (int)outlen,
	    out) != 1)
		goto out;
	rc = 0;
out:
	ofs_wipe(b, blen);
	ofs_wipe(x, words * 4);
	ofs_wipe(t, words * 4);
	ofs_wipe(u, words * 4);
	ofs_wipe(v, ((N + k - 1) / k) * words * 4);
	free(b);
	free(x);
	free(t);
	free(u);
	free(v);
	return rc;
}
