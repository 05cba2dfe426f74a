/* FastCDC content-defined chunking: gear rolling hash, sub-minimum skipping, normalized
 * chunking (level 2) with spread masks; gear table keyed by the repository's chunker seed. */
#include <string.h>

#include <openssl/evp.h>

#include "chunker.h"

#define NC_LEVEL 2

/* n one-bits spread over the high 48 bits: the high bits of a gear hash depend on the widest
 * window (bit k sees the last k + 1 bytes). */
static uint64_t
spread_mask(unsigned n)
{
	uint64_t m = 0;

	for (unsigned j = 0; j < n; j++)
		m |= 1ull << (63 - (j * 48) / n);
	return m;
}

static int
derive_gear(uint64_t gear[256], const uint8_t seed[32])
{
	static const uint8_t zeros[2048];
	uint8_t iv[16] = { 0 }, ks[2048];
	EVP_CIPHER *ctr = NULL;
	EVP_CIPHER_CTX *cx = NULL;
	int outl, r = -1;

	if ((ctr = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL)) == NULL ||
	    (cx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex2(cx, ctr, seed, iv, NULL) != 1 ||
	    EVP_EncryptUpdate(cx, ks, &outl, zeros, sizeof(zeros)) != 1 || outl != sizeof(ks))
		goto out;
	for (int i = 0; i < 256; i++) {
		uint64_t v = 0;

		for (int b = 7; b >= 0; b--)
			v = (v << 8) | ks[8 * i + b];
		gear[i] = v;
	}
	r = 0;
out:
	EVP_CIPHER_CTX_free(cx);
	EVP_CIPHER_free(ctr);
	return r;
}

int
ofs_chunker_init(struct ofs_chunker *c, const uint8_t seed[32], uint32_t min, uint32_t avg,
    uint32_t max)
{
	unsigned bits = 0;

	memset(c, 0, sizeof(*c));
	if (avg == 0 || (avg & (avg - 1)) != 0 || min < 64 || min >= avg || avg >= max ||
	    max > (1u << 30))
		return -1;
	while ((1u << bits) < avg)
		bits++;
	if (bits <= NC_LEVEL || bits + NC_LEVEL > 48)
		return -1;
	if (derive_gear(c->gear, seed) != 0)
		return -1;
	c->mask_s = spread_mask(bits + NC_LEVEL);
	c->mask_l = spread_mask(bits - NC_LEVEL);
	c->min = min;
	c->avg = avg;
	c->max = max;
	return 0;
}

/* The gear hash at byte i depends only on bytes (i-63)…i (older ones are shifted out), so
 * hashing may restart anywhere: warm() rebuilds the exact hash a sequential pass from
 * origin would hold just before byte s. That lets find() run LANES independent hash
 * chains over consecutive blocks in lockstep; the hash step is latency-bound, so the
 * chains overlap in the CPU. The first hit in any lane is resolved by a sequential rescan,
 * so cut points are exactly those of the one-byte-at-a-time definition in chunker.h. */
#define LANES 4
#define BLOCK 8192

static inline uint64_t
warm(const uint64_t *gear, const uint8_t *d, size_t origin, size_t s)
{
	uint64_t h = 0;

	for (size_t i = s - origin > 64 ? s - 64 : origin; i < s; i++)
		h = (h << 1) + gear[d[i]];
	return h;
}

/* Sequential: first i in [s, to) whose hash passes mask, or to. */
static size_t
seq(const uint64_t *gear, const uint8_t *d, size_t origin, size_t s, size_t to, uint64_t mask)
{
	uint64_t h = warm(gear, d, origin, s);

	for (size_t i = s; i < to; i++) {
		h = (h << 1) + gear[d[i]];
		if ((h & mask) == 0)
			return i;
	}
	return to;
}

static size_t
find(const uint64_t *gear, const uint8_t *d, size_t origin, size_t from, size_t to,
    uint64_t mask)
{
	size_t p = from;

	while (to - p >= LANES * BLOCK) {
		const uint8_t *d0 = d + p, *d1 = d0 + BLOCK, *d2 = d1 + BLOCK, *d3 = d2 + BLOCK;
		uint64_t h0 = warm(gear, d, origin, p), h1 = warm(gear, d, origin, p + BLOCK),
		    h2 = warm(gear, d, origin, p + 2 * BLOCK), h3 = warm(gear, d, origin,
		    p + 3 * BLOCK);

		for (size_t k = 0; k < BLOCK; k++) {
			h0 = (h0 << 1) + gear[d0[k]];
			h1 = (h1 << 1) + gear[d1[k]];
			h2 = (h2 << 1) + gear[d2[k]];
			h3 = (h3 << 1) + gear[d3[k]];
			if (__builtin_expect(((h0 & mask) == 0) | ((h1 & mask) == 0) |
			    ((h2 & mask) == 0) | ((h3 & mask) == 0), 0))
				return seq(gear, d, origin, p + k, to, mask);
		}
		p += LANES * BLOCK;
	}
	return seq(gear, d, origin, p, to, mask);
}

size_t
ofs_chunker_next(const struct ofs_chunker *c, const uint8_t *data, size_t len, int eof)
{
	size_t n, normal, i;

	if (len <= c->min)
		return eof ? len : 0;
	n = len < c->max ? len : c->max;
	normal = n < c->avg ? n : c->avg;
	/* Sub-minimum skipping: the hash starts at zero at min. */
	i = find(c->gear, data, c->min, c->min, normal, c->mask_s);
	if (i < normal)
		return i + 1;
	i = find(c->gear, data, c->min, normal, n, c->mask_l);
	if (i < n)
		return i + 1;
	if (n == c->max)
		return n;
	return eof ? len : 0;
}
