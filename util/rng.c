#include "rng.h"

#include <math.h>

#include "err.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void ct_rng_seed(ct_rng *r, uint64_t seed, uint64_t stream)
{
	/* Mix the stream id in through a second splitmix pass so that nearby
	 * (seed, stream) pairs give unrelated states. */
	uint64_t x = seed;
	uint64_t a = splitmix64(&x);
	uint64_t y = a ^ (stream * 0xd1b54a32d192ed03ull);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&y);
	if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
		r->s[0] = 1; /* the all-zero state is a fixed point */
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ct_rng_u64(ct_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

float ct_rng_float(ct_rng *r) { return (float)(ct_rng_u64(r) >> 40) * 0x1.0p-24f; }

double ct_rng_double(ct_rng *r) { return (double)(ct_rng_u64(r) >> 11) * 0x1.0p-53; }

/* A GCC/Clang extension (x86-64 and arm64 have it); __extension__ keeps
 * -Wpedantic quiet about exactly this use. */
__extension__ typedef unsigned __int128 u128;

uint64_t ct_rng_below(ct_rng *r, uint64_t n)
{
	CT_ASSERT(n > 0);
	u128 m = (u128)ct_rng_u64(r) * n;
	uint64_t lo = (uint64_t)m;
	if (lo < n) {
		/* cppcheck-suppress oppositeExpression ; -n % n is 2^64 mod n (Lemire) */
		uint64_t threshold = -n % n;
		while (lo < threshold) {
			m = (u128)ct_rng_u64(r) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

double ct_rng_normal(ct_rng *r)
{
	double u1 = ct_rng_double(r), u2 = ct_rng_double(r);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
