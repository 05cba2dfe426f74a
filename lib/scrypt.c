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

#ifdef __SSE2__
#include <emmintrin.h>

/* Salsa20/8 on four lanes. Each 64-byte block is kept with its words in diagonal order
 * (PERM below): the column quarter-rounds are then lane-wise on the four rows a, b, c, d,
 * and the row quarter-rounds too once b, c, d are rotated by one, two and three lanes.
 * ROMix only XORs, copies and reads words of the blocks, so the whole computation runs in
 * that order; it is undone on the way out. Unlocking with the repository default (on the
 * critical path of every command): offseed snapshots 0.22-0.24 s before, 0.11-0.13 s now. */
static const uint8_t PERM[16] = { 0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11 };
#define WORD1 13	/* where word 1 of a block lies (integerify) */

#define VROTL(v, n) _mm_or_si128(_mm_slli_epi32((v), (n)), _mm_srli_epi32((v), 32 - (n)))

/* Four quarter-rounds at once: y1 ^= (y0 + y3) <<< 7, y2 ^= (y1 + y0) <<< 9, … */
static inline void
quarter(__m128i *y0, __m128i *y1, __m128i *y2, __m128i *y3)
{
	*y1 = _mm_xor_si128(*y1, VROTL(_mm_add_epi32(*y0, *y3), 7));
	*y2 = _mm_xor_si128(*y2, VROTL(_mm_add_epi32(*y1, *y0), 9));
	*y3 = _mm_xor_si128(*y3, VROTL(_mm_add_epi32(*y2, *y1), 13));
	*y0 = _mm_xor_si128(*y0, VROTL(_mm_add_epi32(*y3, *y2), 18));
}

static inline void
salsa20_8(__m128i *pa, __m128i *pb, __m128i *pc, __m128i *pd)
{
	__m128i a = *pa, b = *pb, c = *pc, d = *pd;

	for (int i = 0; i < 8; i += 2) {
		/* columns: lanes are the quarter-rounds (0,4,8,12) (5,9,13,1) (10,14,2,6) (15,3,7,11) */
		quarter(&a, &b, &c, &d);
		/* rows: (0,1,2,3) (5,6,7,4) (10,11,8,9) (15,12,13,14) after rotating the lanes */
		d = _mm_shuffle_epi32(d, 0x39);
		c = _mm_shuffle_epi32(c, 0x4e);
		b = _mm_shuffle_epi32(b, 0x93);
		quarter(&a, &d, &c, &b);
		d = _mm_shuffle_epi32(d, 0x93);
		c = _mm_shuffle_epi32(c, 0x4e);
		b = _mm_shuffle_epi32(b, 0x39);
	}
	*pa = _mm_add_epi32(*pa, a);
	*pb = _mm_add_epi32(*pb, b);
	*pc = _mm_add_epi32(*pc, c);
	*pd = _mm_add_epi32(*pd, d);
}

#define LD(p) _mm_loadu_si128((const __m128i *)(p))
#define ST(p, v) _mm_storeu_si128((__m128i *)(p), (v))

/* BlockMix: in and out are 2r 64-byte blocks (32r words); they must not overlap. The
 * running block stays in registers. */
static void
blockmix(const uint32_t *in, uint32_t *out, uint32_t r)
{
	const uint32_t *last = in + (2 * r - 1) * 16;
	__m128i a = LD(last), b = LD(last + 4), c = LD(last + 8), d = LD(last + 12);

	for (uint32_t i = 0; i < 2 * r; i++) {
		const uint32_t *p = in + i * 16;
		uint32_t *o = out + ((i & 1) * r + i / 2) * 16;	/* even blocks first, then odd */

		a = _mm_xor_si128(a, LD(p));
		b = _mm_xor_si128(b, LD(p + 4));
		c = _mm_xor_si128(c, LD(p + 8));
		d = _mm_xor_si128(d, LD(p + 12));
		salsa20_8(&a, &b, &c, &d);
		ST(o, a);
		ST(o + 4, b);
		ST(o + 8, c);
		ST(o + 12, d);
	}
}
#else
static const uint8_t PERM[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
#define WORD1 1

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
#endif

static uint64_t
integerify(const uint32_t *b, uint32_t r)
{
	const uint32_t *last = b + (2 * r - 1) * 16;

	return (uint64_t)last[0] | (uint64_t)last[WORD1] << 32;
}

/* ROMix over one 128r-byte block (as words), keeping every k-th V entry. */
static void
romix(uint32_t *x, uint64_t N, uint32_t r, uint32_t k, uint32_t *v, uint32_t *t, uint32_t *u)
{
	size_t words = 32 * (size_t)r, bytes = words * 4;
	uint32_t *cur = v, *next, *sw;

	/* X(i+1) = BlockMix(X(i)), written straight into V[(i+1)/k] when that is kept and into
	 * a spare buffer (x or t, whichever cur is not) otherwise: no copy per step */
	memcpy(v, x, bytes);
	for (uint64_t i = 0; i < N; i++) {
		if ((i + 1) % k == 0 && i + 1 < N)
			next = v + ((i + 1) / k) * words;
		else
			next = cur == x ? t : x;
		blockmix(cur, next, r);
		cur = next;
	}
	if (cur != x)
		memcpy(x, cur, bytes);
	for (uint64_t i = 0; i < N; i++) {
		uint64_t j = integerify(x, r) & (N - 1);
		uint32_t *a = t, *b = u;

		/* rebuild V[j] from the stored V[j - j % k] */
		memcpy(a, v + (j / k) * words, bytes);
		for (uint64_t s = 0; s < j % k; s++) {
			blockmix(a, b, r);
			sw = a, a = b, b = sw;
		}
		for (size_t w = 0; w < words; w++)
			a[w] ^= x[w];
		blockmix(a, x, r);
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
			x[w] = ofs_get_u32le(bi + 4 * (w - w % 16 + PERM[w % 16]));
		romix(x, N, r, k, v, t, u);
		for (size_t w = 0; w < words; w++)
			ofs_put_u32le(bi + 4 * (w - w % 16 + PERM[w % 16]), x[w]);
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
