/* rng.h — xoshiro256** random streams with fully saveable state.
 *
 * Every source of randomness in ctrain is its own stream, seeded from the run's
 * seed and a fixed stream id, so that consuming more numbers from one stream
 * (say, more dropout) never shifts another (say, the shuffle order).  A stream's
 * whole state is four uint64 words: copy the struct to save it, copy it back to
 * resume.
 *
 *     rng r; rng_seed(&r, seed, RNG_STREAM_SHUFFLE);
 *     uint64_t k = rng_below(&r, n);       // uniform in [0, n)
 */
#ifndef CT_RNG_H
#define CT_RNG_H

#include <stdint.h>

enum {
	RNG_STREAM_INIT = 1,    /* parameter initialisation */
	RNG_STREAM_SHUFFLE = 2, /* loader permutation per epoch */
	RNG_STREAM_DROPOUT = 3, /* dropout masks */
	RNG_STREAM_DATA = 4,    /* synthetic data generation */
	RNG_STREAM_SPLIT = 5    /* train/validation split */
};

typedef struct rng {
	uint64_t s[4];
} rng;

/* Seeds stream `stream` of `seed` with splitmix64, as the xoshiro authors advise. */
void rng_seed(rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_u64(rng *r);
/* Uniform in [0, 1) with 24 (float) or 53 (double) random bits. */
float rng_float(rng *r);
double rng_double(rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias (Lemire's method). */
uint64_t rng_below(rng *r, uint64_t n);
/* Standard normal (Box-Muller, uses two draws per call). */
double rng_normal(rng *r);

#endif
