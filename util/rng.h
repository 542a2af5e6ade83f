/* rng.h — xoshiro256** random streams with fully saveable state.
 *
 * Every source of randomness in ctrain is its own stream, seeded from the run's
 * seed and a fixed stream id, so that consuming more numbers from one stream
 * (say, more dropout) never shifts another (say, the shuffle order).  A stream's
 * whole state is four uint64 words: copy the struct to save it, copy it back to
 * resume.
 *
 *     ct_rng r; ct_rng_seed(&r, seed, CT_RNG_STREAM_SHUFFLE);
 *     uint64_t k = ct_rng_below(&r, n);       // uniform in [0, n)
 */
#ifndef CT_RNG_H
#define CT_RNG_H

#include "api.h"

#include <stdint.h>

enum {
	CT_RNG_STREAM_INIT = 1,    /* parameter initialisation */
	CT_RNG_STREAM_SHUFFLE = 2, /* loader permutation per epoch */
	CT_RNG_STREAM_DROPOUT = 3, /* dropout masks */
	CT_RNG_STREAM_DATA = 4,    /* synthetic data generation */
	CT_RNG_STREAM_SPLIT = 5    /* train/validation split */
};

typedef struct ct_rng {
	uint64_t s[4];
} ct_rng;

/* Seeds stream `stream` of `seed` with splitmix64, as the xoshiro authors advise. */
CT_API void ct_rng_seed(ct_rng *r, uint64_t seed, uint64_t stream);
CT_API uint64_t ct_rng_u64(ct_rng *r);
/* Uniform in [0, 1) with 24 (float) or 53 (double) random bits. */
CT_API float ct_rng_float(ct_rng *r);
CT_API double ct_rng_double(ct_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias (Lemire's method). */
CT_API uint64_t ct_rng_below(ct_rng *r, uint64_t n);
/* Standard normal (Box-Muller, uses two draws per call). */
CT_API double ct_rng_normal(ct_rng *r);

#endif
