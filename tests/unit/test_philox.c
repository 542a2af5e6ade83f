/* Tests of nn/philox: the Random123 known-answer vectors of Philox4x32-10,
 * and dropout masks that depend only on (seed, step, layer, row, column),
 * not on how the rows of a batch are split (shards, ranks, threads). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../util/philox.h"
#include "../../util/rng.h"

/* Random123 (DEShawResearch/random123), tests/kat_vectors, its three
 * "philox4x32 10" lines:
 * counter (4 words), key (2 words), expected output (4 words). */
static void test_known_answers(void **state)
{
	(void)state;
	static const struct {
		uint32_t ctr[4], key[2], want[4];
	} kat[] = {
		{{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
		 {0xffffffff, 0xffffffff},
		 {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
		 {0xa4093822, 0x299f31d0},
		 {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	};
	for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
		philox_key k = {{kat[i].key[0], kat[i].key[1]}};
		uint32_t out[4];
		philox4x32_10(kat[i].ctr, &k, out);
		for (int j = 0; j < 4; j++)
			assert_int_equal(out[j], kat[i].want[j]);
	}
}

enum { ROWS = 96, COLS = 203 };

/* The whole batch's masks, computed by `parts` workers that each take a
 * contiguous block of rows, in reverse order of blocks. */
static void masks_by_parts(float *m, int parts, const philox_key *k, uint64_t step, uint32_t layer,
			   float p)
{
	for (int w = parts - 1; w >= 0; w--) {
		int lo = ROWS * w / parts, hi = ROWS * (w + 1) / parts;
		for (int r = lo; r < hi; r++)
			philox_dropout_row(m + (size_t)r * COLS, COLS, k, step, layer, (uint64_t)r,
					   p);
	}
}

static void test_partition_independent(void **state)
{
	(void)state;
	philox_key k = philox_key_from_seed(42, CT_RNG_STREAM_DROPOUT);
	float *one = malloc(sizeof(float) * ROWS * COLS),
	      *many = malloc(sizeof(float) * ROWS * COLS);
	assert_non_null(one);
	assert_non_null(many);
	masks_by_parts(one, 1, &k, 17, 2, 0.25f);
	static const int parts[] = {2, 3, 4, 8, 96};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		masks_by_parts(many, parts[i], &k, 17, 2, 0.25f);
		assert_memory_equal(one, many, sizeof(float) * ROWS * COLS);
	}
	/* Kept fraction near 1 - p, kept values exactly 1/(1-p). */
	int kept = 0;
	for (int i = 0; i < ROWS * COLS; i++) {
		assert_true(one[i] == 0.0f || one[i] == 1.0f / 0.75f);
		kept += one[i] != 0.0f;
	}
	double frac = (double)kept / (ROWS * COLS);
	assert_true(frac > 0.73 && frac < 0.77);
	free(one);
	free(many);
}

/* Each input of the key changes the masks: step, layer, row, seed. */
static void test_inputs_matter(void **state)
{
	(void)state;
	philox_key k = philox_key_from_seed(42, CT_RNG_STREAM_DROPOUT);
	philox_key k2 = philox_key_from_seed(43, CT_RNG_STREAM_DROPOUT);
	philox_key k3 = philox_key_from_seed(42, CT_RNG_STREAM_SHUFFLE);
	float a[COLS], b[COLS];
	philox_dropout_row(a, COLS, &k, 5, 1, 9, 0.5f);
	philox_dropout_row(b, COLS, &k, 6, 1, 9, 0.5f);
	assert_memory_not_equal(a, b, sizeof a);
	philox_dropout_row(b, COLS, &k, 5, 2, 9, 0.5f);
	assert_memory_not_equal(a, b, sizeof a);
	philox_dropout_row(b, COLS, &k, 5, 1, 10, 0.5f);
	assert_memory_not_equal(a, b, sizeof a);
	philox_dropout_row(b, COLS, &k2, 5, 1, 9, 0.5f);
	assert_memory_not_equal(a, b, sizeof a);
	philox_dropout_row(b, COLS, &k3, 5, 1, 9, 0.5f);
	assert_memory_not_equal(a, b, sizeof a);
	/* step above 2^32 is not aliased onto the low word */
	philox_dropout_row(b, COLS, &k, 5 + (1ull << 32), 1, 9, 0.5f);
	assert_memory_not_equal(a, b, sizeof a);
	/* p = 0 keeps everything at scale 1 */
	philox_dropout_row(b, COLS, &k, 5, 1, 9, 0.0f);
	for (int c = 0; c < COLS; c++)
		assert_true(b[c] == 1.0f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_partition_independent),
		cmocka_unit_test(test_inputs_matter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
