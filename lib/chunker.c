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

/* First i in [from, to) whose hash passes mask, continuing hash *hp; to if none.
 * The hash step (h << 1) + g compiles to one LEA, so the loop is bound by loads; four
 * bytes per iteration keep the branch and loop overhead down. */
static inline size_t
scan(const uint64_t *gear, const uint8_t *d, size_t from, size_t to, uint64_t mask, uint64_t *hp)
{
	uint64_t h = *hp;
	size_t i = from;

	for (; i + 4 <= to; i += 4) {
		h = (h << 1) + gear[d[i]];
		if (__builtin_expect((h & mask) == 0, 0))
			goto hit0;
		h = (h << 1) + gear[d[i + 1]];
		if (__builtin_expect((h & mask) == 0, 0))
			goto hit1;
		h = (h << 1) + gear[d[i + 2]];
		if (__builtin_expect((h & mask) == 0, 0))
			goto hit2;
		h = (h << 1) + gear[d[i + 3]];
		if (__builtin_expect((h & mask) == 0, 0))
			goto hit3;
	}
	for (; i < to; i++) {
		h = (h << 1) + gear[d[i]];
		if ((h & mask) == 0)
			goto hit0;
	}
	*hp = h;
	return to;
hit3:
	i++;
hit2:
	i++;
hit1:
	i++;
hit0:
	*hp = h;
	return i;
}

size_t
ofs_chunker_next(const struct ofs_chunker *c, const uint8_t *data, size_t len, int eof)
{
	size_t n, normal, i;
	uint64_t h = 0;

	if (len <= c->min)
		return eof ? len : 0;
	n = len < c->max ? len : c->max;
	normal = n < c->avg ? n : c->avg;
	/* Sub-minimum skipping: the hash starts at zero at min. */
	i = scan(c->gear, data, c->min, normal, c->mask_s, &h);
	if (i < normal)
		return i + 1;
	i = scan(c->gear, data, normal, n, c->mask_l, &h);
	if (i < n)
		return i + 1;
	if (n == c->max)
		return n;
	return eof ? len : 0;
}
