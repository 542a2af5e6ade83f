#include "philox.h"

#include "err.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
	uint64_t p = (uint64_t)a * b;
	*hi = (uint32_t)(p >> 32);
	*lo = (uint32_t)p;
}

void philox4x32_10(const uint32_t ctr[4], const philox_key *key, uint32_t out[4])
{
	uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
	uint32_t k0 = key->k[0], k1 = key->k[1];
	for (int round = 0; round < 10; round++) {
		if (round > 0) { /* the key schedule: bumped before rounds 2..10 */
			k0 += PHILOX_W0;
			k1 += PHILOX_W1;
		}
		uint32_t hi0, lo0, hi1, lo1;
		mulhilo(PHILOX_M0, c0, &hi0, &lo0);
		mulhilo(PHILOX_M1, c2, &hi1, &lo1);
		uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
		c0 = n0;
		c1 = lo1;
		c2 = n2;
		c3 = lo0;
	}
	out[0] = c0;
	out[1] = c1;
	out[2] = c2;
	out[3] = c3;
}

philox_key philox_key_from_seed(uint64_t seed, uint64_t stream)
{
	uint64_t z = seed ^ (stream * 0xd1b54a32d192ed03ull);
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	philox_key k = {{(uint32_t)z, (uint32_t)(z >> 32)}};
	return k;
}

/* Uniform in [0, 1) with 24 bits, from one 32-bit output word. */
static float philox_unit(uint32_t u) { return (float)(u >> 8) * 0x1.0p-24f; }

void philox_dropout_row(float *mask, int64_t cols, const philox_key *key, uint64_t step,
			uint32_t layer, uint64_t row, float p)
{
	CT_ASSERT(p >= 0.0f && p < 1.0f && cols >= 0);
	CT_ASSERT(step < (1ull << 48) && layer < (1u << 16) && row <= UINT32_MAX);
	CT_ASSERT(cols / 4 <= (int64_t)UINT32_MAX);
	float scale = 1.0f / (1.0f - p);
	uint32_t ctr[4] = {0, (uint32_t)row, (uint32_t)step, (uint32_t)(step >> 32) | layer << 16};
	for (int64_t c = 0; c < cols; c += 4) {
		uint32_t out[4];
		ctr[0] = (uint32_t)(c / 4);
		philox4x32_10(ctr, key, out);
		for (int j = 0; j < 4 && c + j < cols; j++)
			mask[c + j] = philox_unit(out[j]) >= p ? scale : 0.0f;
	}
}
