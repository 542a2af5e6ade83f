/* philox.h — counter-based random numbers (Philox4x32-10, Salmon et al.,
 * "Parallel random numbers: as easy as 1, 2, 3", SC 2011; the Random123
 * reference), for randomness that must not depend on who computes it.
 *
 * A sequential stream (rng.h) gives row r's dropout mask only after rows
 * 0..r-1 have drawn theirs, so the masks depend on how a batch is split over
 * shards, ranks or threads.  Philox is a keyed bijection of a 128-bit counter:
 * the mask of (seed, step, layer, global row, column) is a pure function of
 * those numbers, and any partition of the rows gives the same bytes.
 *
 *     philox_key k = philox_key_from_seed(seed, CT_RNG_STREAM_DROPOUT);
 *     // row `row` of the global batch (0 .. B-1) of step `step`, layer `layer`:
 *     philox_dropout_row(mask, cols, &k, step, layer, row, p);   // 0 or 1/(1-p)
 *
 * Counter layout of one block of 4 columns: ctr = {col/4, row, step mod 2^32,
 * (step >> 32) | layer << 16}; so step < 2^48, layer < 2^16, row < 2^32.
 */
#ifndef CT_PHILOX_H
#define CT_PHILOX_H

#include <stdint.h>

typedef struct philox_key {
	uint32_t k[2];
} philox_key;

/* The 10-round Philox4x32 block function: out = philox(ctr, key). */
void philox4x32_10(const uint32_t ctr[4], const philox_key *key, uint32_t out[4]);
/* A key derived (splitmix64) from the run's seed and a stream id. */
philox_key philox_key_from_seed(uint64_t seed, uint64_t stream);
/* The dropout mask of one row: mask[c] = 0 with probability p, else
 * 1/(1-p), for c in [0, cols). */
void philox_dropout_row(float *mask, int64_t cols, const philox_key *key, uint64_t step,
			uint32_t layer, uint64_t row, float p);

#endif
