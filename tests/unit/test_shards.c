/* Tests of dist/ (issue 17) in one process: the shard tree against a
 * recursive reference, the cut of a batch into shards, the owned ranges, the
 * digest, and comm without a launcher.  The same reduction under mpirun with
 * 1, 2, 4 and 8 ranks is tests/e2e/e2e_mpi.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../dist/comm.h"
#include "../../dist/replica.h"
#include "../../dist/shards.h"

enum { NF = 1001, MAXS = 64 };

static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Values over 2^-12 .. 2^12 so that the order of the additions shows. */
static float leaf_value(int leaf, size_t j)
{
	uint64_t h = mix((uint64_t)leaf << 32 ^ j);
	float u = (float)(h >> 40) * 0x1.0p-24f - 0.5f;
	return ldexpf(u, (int)(h % 25) - 12);
}

/* The reference: the tree written as a recursion, one element at a time. */
static float ref_sum(int lo, int hi, size_t j)
{
	if (hi - lo == 1)
		return leaf_value(lo, j);
	int mid = lo + (hi - lo) / 2;
	return ref_sum(lo, mid, j) + ref_sum(mid, hi, j);
}

static double ref_dsum(int lo, int hi)
{
	if (hi - lo == 1)
		return (double)leaf_value(lo, 7) * 1e-3;
	int mid = lo + (hi - lo) / 2;
	return ref_dsum(lo, mid) + ref_dsum(mid, hi);
}

static void fill(const ct_shard_layout *l, void *node, int leaf)
{
	float *f = ct_shard_floats(l, node);
	for (size_t j = 0; j < l->nf; j++)
		f[j] = leaf_value(leaf, j);
	ct_shard_doubles(l, node)[0] = (double)leaf_value(leaf, 7) * 1e-3;
	ct_shard_ints(l, node)[0] = leaf + 1;
}

static void test_tree_matches_reference(void **state)
{
	(void)state;
	ct_shard_layout l;
	ct_shard_layout_init(&l, NF, 1, 1);
	assert_int_equal(l.bytes % 64, 0);
	for (int s = 1; s <= MAXS; s *= 2) {
		ct_shard_tree t;
		assert_int_equal(ct_shard_tree_init(&t, &l, s, NULL), 0);
		for (int rep = 0; rep < 2; rep++) { /* a second step reuses the slots */
			ct_shard_tree_reset(&t);
			for (int i = 0; i < s; i++) {
				fill(&l, ct_shard_tree_leaf(&t), i);
				ct_shard_tree_push(&t);
			}
			void *root = ct_shard_tree_root(&t);
			const float *f = ct_shard_floats(&l, root);
			for (size_t j = 0; j < NF; j++) {
				float want = ref_sum(0, s, j);
				assert_memory_equal(&f[j], &want, sizeof want);
			}
			double dw = ref_dsum(0, s);
			assert_memory_equal(&ct_shard_doubles(&l, root)[0], &dw, sizeof dw);
			assert_int_equal(ct_shard_ints(&l, root)[0], (int64_t)s * (s + 1) / 2);
			assert_int_equal(ct_shard_stop(&l, root), 0);
		}
		ct_shard_tree_release(&t);
	}
}

/* The order matters for these values: a left-to-right sum gives other bits,
 * so the equalities above and in e2e_mpi.sh are not trivially true. */
static void test_order_matters(void **state)
{
	(void)state;
	int differ = 0;
	for (size_t j = 0; j < NF; j++) {
		float seq = 0.0f;
		for (int i = 0; i < 8; i++)
			seq += leaf_value(i, j);
		float tree = ref_sum(0, 8, j);
		differ += memcmp(&seq, &tree, sizeof seq) != 0;
	}
	assert_true(differ > NF / 20);
}

/* P ranks each reducing their own leaves, then the upper levels over the P
 * results (what ct_dist_step_exchange does after the Allgather): the same bytes
 * as one tree, for every P dividing S. */
static void test_partitioned_levels(void **state)
{
	(void)state;
	ct_shard_layout l;
	ct_shard_layout_init(&l, NF, 1, 1);
	enum { S = 16 };
	unsigned char *one = NULL;
	for (int p = 1; p <= S; p *= 2) {
		unsigned char *gathered = ct_aligned_alloc(64, (size_t)p * l.bytes);
		assert_non_null(gathered);
		for (int r = 0; r < p; r++) {
			int first, count;
			ct_shard_owned(S, p, r, &first, &count);
			assert_int_equal(first, r * (S / p));
			ct_shard_tree t;
			assert_int_equal(ct_shard_tree_init(&t, &l, count, NULL), 0);
			for (int i = first; i < first + count; i++) {
				fill(&l, ct_shard_tree_leaf(&t), i);
				ct_shard_tree_push(&t);
			}
			memcpy(gathered + (size_t)r * l.bytes, ct_shard_tree_root(&t), l.bytes);
			ct_shard_tree_release(&t);
		}
		ct_shard_reduce_levels(&l, gathered, p);
		if (!one) {
			one = gathered;
			continue;
		}
		assert_memory_equal(gathered, one, l.bytes);
		free(gathered);
	}
	free(one);
}

static void test_rows_cut(void **state)
{
	(void)state;
	static const int64_t batches[] = {0, 1, 3, 7, 8, 100, 127, 128, 513};
	for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++)
		for (int s = 1; s <= 16; s *= 2) {
			int64_t next = 0, lo = INT64_MAX, hi = 0;
			for (int i = 0; i < s; i++) {
				int64_t start, n;
				ct_shard_rows(batches[b], s, i, &start, &n);
				assert_int_equal(start, next); /* contiguous, in order */
				next = start + n;
				lo = n < lo ? n : lo;
				hi = n > hi ? n : hi;
			}
			assert_int_equal(next, batches[b]);
			assert_true(hi - lo <= 1); /* balanced */
		}
	assert_true(ct_shard_count_valid(1) && ct_shard_count_valid(8) &&
		    ct_shard_count_valid(CT_SHARDS_MAX));
	assert_false(ct_shard_count_valid(0) || ct_shard_count_valid(6) ||
		     ct_shard_count_valid(2 * CT_SHARDS_MAX) || ct_shard_count_valid(-4));
}

static void test_stop_vote(void **state)
{
	(void)state;
	ct_shard_layout l;
	ct_shard_layout_init(&l, 5, 0, 0);
	unsigned char *nodes = ct_aligned_alloc(64, 4 * l.bytes);
	assert_non_null(nodes);
	for (int r = 0; r < 4; r++) {
		ct_shard_node_zero(&l, nodes + (size_t)r * l.bytes);
		ct_shard_set_stop(&l, nodes + (size_t)r * l.bytes, r == 3);
	}
	ct_shard_reduce_levels(&l, nodes, 4);
	assert_int_not_equal(ct_shard_stop(&l, nodes), 0);
	free(nodes);
}

static void test_digest(void **state)
{
	(void)state;
	enum { N = 4099 };
	unsigned char *buf = malloc(N);
	assert_non_null(buf);
	for (int i = 0; i < N; i++)
		buf[i] = (unsigned char)mix((uint64_t)i);
	uint64_t d = ct_dist_digest(buf, N);
	assert_int_equal(d, ct_dist_digest(buf, N));
	/* Any flipped bit, in the 32-byte body or the tail, and the length, show. */
	static const int at[] = {0, 31, 32, 2000, 4095, 4096, 4098};
	for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
		buf[at[k]] ^= 0x10;
		assert_int_not_equal(ct_dist_digest(buf, N), d);
		buf[at[k]] ^= 0x10;
	}
	assert_int_not_equal(ct_dist_digest(buf, N - 1), d);
	/* A tail of 29 bytes (3 words and 5 bytes after the last 32-byte block):
	 * every byte of it counts (it was once shifted by up to 224 bits). */
	enum { M = 4096 + 29 };
	unsigned char *big = malloc(M);
	assert_non_null(big);
	for (int i = 0; i < M; i++)
		big[i] = (unsigned char)mix((uint64_t)i);
	uint64_t dm = ct_dist_digest(big, M);
	for (int i = 4096; i < M; i++) {
		big[i] ^= 0x01;
		assert_int_not_equal(ct_dist_digest(big, M), dm);
		big[i] ^= 0x01;
	}
	free(big);
	free(buf);
}

/* No launcher in the environment: rank 0 of 1, nothing loaded, and the
 * collectives are local copies. */
static void test_comm_without_launcher(void **state)
{
	(void)state;
	unsetenv("OMPI_COMM_WORLD_SIZE");
	unsetenv("PMI_SIZE");
	unsetenv("PMIX_RANK");
	assert_int_equal(ct_comm_launched(NULL, 0), 0);
	ct_comm c;
	ct_err e = {0};
	assert_int_equal(ct_comm_init(&c, &e), 0);
	assert_int_equal(c.rank, 0);
	assert_int_equal(c.size, 1);
	assert_int_equal(c.mpi, 0);
	assert_null(c.dl);
	int a[3] = {1, 2, 3}, b[3] = {0};
	assert_int_equal(ct_comm_allgather(&c, a, b, sizeof a, &e), 0);
	assert_memory_equal(a, b, sizeof a);
	assert_int_equal(ct_dist_check_replicas(&c, 42, 1, &e), 0);
	assert_int_equal(ct_comm_finalize(&c, &e), 0);
}

/* A launcher in the environment and no plugin: a clear error naming both. */
static void test_comm_missing_plugin(void **state)
{
	(void)state;
	setenv("PMI_SIZE", "2", 1);
	setenv("CTRAIN_MPI_LIB", "/nonexistent/libctrain_mpi.so", 1);
	ct_comm c;
	ct_err e = {0};
	assert_int_equal(ct_comm_init(&c, &e), CT_EUNSUPPORTED);
	assert_non_null(strstr(e.msg, "PMI_SIZE"));
	assert_non_null(strstr(e.msg, "/nonexistent/libctrain_mpi.so"));
	unsetenv("PMI_SIZE");
	unsetenv("CTRAIN_MPI_LIB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_matches_reference),
		cmocka_unit_test(test_order_matters),
		cmocka_unit_test(test_partitioned_levels),
		cmocka_unit_test(test_rows_cut),
		cmocka_unit_test(test_stop_vote),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_comm_without_launcher),
		cmocka_unit_test(test_comm_missing_plugin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
