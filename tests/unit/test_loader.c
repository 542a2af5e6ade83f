/* Tests for data/loader: coverage, determinism, and exact resumption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../data/loader.h"

#define N 10
#define D 3

/* Row i holds features 10i, 10i+1, 10i+2 and label i, so a batch shows which
 * rows it came from. */
static void make_rows(ct_dataset *ds, int64_t n, int labelled)
{
	ct_err e = {0};
	assert_int_equal(ct_dataset_alloc(ds, n, D, labelled, "test", &e), 0);
	for (int64_t i = 0; i < n; i++) {
		for (int j = 0; j < D; j++)
			ds->x[i * D + j] = (float)(10 * i + j);
		if (labelled)
			ds->y[i] = (int32_t)i;
	}
	ds->n_classes = labelled ? (int)n : 0;
}

/* Reads one epoch (up to and including the 0 return); returns the row order. */
static void read_epoch(ct_loader *l, int64_t *order, const int *sizes, int nsizes)
{
	float xb[N * D]; /* room for any batch: ct_loader_next writes up to n rows */
	int32_t yb[N];
	int64_t k = 0;
	for (int b = 0; b < nsizes; b++) {
		int rows = ct_loader_next(l, xb, yb);
		assert_int_equal(rows, sizes[b]);
		for (int i = 0; i < rows; i++) {
			order[k] = yb[i];
			for (int j = 0; j < D; j++)
				assert_true(xb[i * D + j] == (float)(10 * yb[i] + j));
			k++;
		}
	}
	assert_int_equal(k, N);
	uint64_t epoch = l->st.epoch;
	assert_int_equal(l->st.cursor, N);
	assert_int_equal(ct_loader_next(l, xb, yb), 0);
	assert_int_equal(l->st.epoch, epoch + 1);
	assert_int_equal(l->st.cursor, 0);
}

static void assert_permutation(const int64_t *order)
{
	int seen[N] = {0};
	for (int i = 0; i < N; i++) {
		assert_true(order[i] >= 0 && order[i] < N);
		seen[order[i]]++;
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
}

static const int sizes4[3] = {4, 4, 2};

static void test_epochs_cover_every_row(void **state)
{
	(void)state;
	ct_dataset ds;
	make_rows(&ds, N, 1);
	ct_loader l, m, o;
	ct_err e = {0};
	assert_int_equal(ct_loader_init(&l, &ds, 4, 1, 7, &e), 0);
	assert_int_equal(ct_loader_init(&m, &ds, 4, 1, 7, &e), 0);
	assert_int_equal(ct_loader_init(&o, &ds, 4, 1, 8, &e), 0);
	assert_int_equal(ct_loader_batches_per_epoch(&l), 3);
	int64_t a[3][N], b[3][N], c[N];
	for (int ep = 0; ep < 3; ep++) {
		assert_int_equal(l.st.epoch, ep);
		read_epoch(&l, a[ep], sizes4, 3);
		read_epoch(&m, b[ep], sizes4, 3);
		assert_permutation(a[ep]);
		assert_memory_equal(a[ep], b[ep], sizeof a[ep]); /* same seed, same order */
	}
	read_epoch(&o, c, sizes4, 3);
	assert_memory_not_equal(a[0], c, sizeof c);    /* other seed */
	assert_memory_not_equal(a[0], a[1], sizeof c); /* new order each epoch */
	assert_memory_not_equal(a[1], a[2], sizeof c);
	/* the order is the documented one: ct_data_permutation on the shuffle
	 * stream, continued from epoch to epoch */
	ct_rng r;
	ct_rng_seed(&r, 7, CT_RNG_STREAM_SHUFFLE);
	for (int ep = 0; ep < 3; ep++) {
		int64_t perm[N];
		ct_data_permutation(perm, N, &r);
		assert_memory_equal(perm, a[ep], sizeof perm);
	}
	assert_memory_equal(l.st.rng, r.s, sizeof r.s); /* st.rng is the start of epoch 3 */
	ct_loader_release(&l);
	ct_loader_release(&m);
	ct_loader_release(&o);
	assert_null(l.perm);
	ct_dataset_release(&ds);
}

static void test_no_shuffle_and_sizes(void **state)
{
	(void)state;
	ct_dataset ds;
	make_rows(&ds, N, 1);
	ct_loader l;
	ct_err e = {0};
	assert_int_equal(ct_loader_init(&l, &ds, 3, 0, 7, &e), 0);
	uint64_t rng0[4];
	memcpy(rng0, l.st.rng, sizeof rng0);
	static const int sizes3[4] = {3, 3, 3, 1};
	assert_int_equal(ct_loader_batches_per_epoch(&l), 4);
	for (int ep = 0; ep < 2; ep++) {
		int64_t order[N];
		read_epoch(&l, order, sizes3, 4);
		for (int i = 0; i < N; i++)
			assert_int_equal(order[i], i);
	}
	assert_memory_equal(l.st.rng, rng0, sizeof rng0); /* stream unused */
	ct_loader_release(&l);
	/* a batch larger than the data set: one batch of n rows */
	assert_int_equal(ct_loader_init(&l, &ds, 64, 1, 7, &e), 0);
	assert_int_equal(ct_loader_batches_per_epoch(&l), 1);
	static const int sizes_all[1] = {N};
	int64_t order[N];
	read_epoch(&l, order, sizes_all, 1);
	assert_permutation(order);
	ct_loader_release(&l);
	ct_dataset_release(&ds);
}

static void test_unlabelled_and_null_yb(void **state)
{
	(void)state;
	ct_dataset ds;
	make_rows(&ds, N, 0);
	ct_loader l;
	ct_err e = {0};
	assert_int_equal(ct_loader_init(&l, &ds, 4, 0, 1, &e), 0);
	float xb[4 * D];
	int32_t yb[4] = {-1, -1, -1, -1};
	assert_int_equal(ct_loader_next(&l, xb, yb), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(yb[i], -1); /* untouched: no labels to copy */
	assert_true(xb[3 * D + 2] == 32.0f);
	assert_int_equal(ct_loader_next(&l, xb, NULL), 4);
	assert_true(xb[0] == 40.0f);
	ct_loader_release(&l);
	ct_dataset_release(&ds);
}

/* Everything a loader emits over three epochs, zeros included, as bytes. */
#define CALLS (3 * 4)
typedef struct trace {
	int rows[CALLS];
	float x[CALLS][4 * D];
	int32_t y[CALLS][4];
} trace;

static void record(ct_loader *l, trace *t, int from)
{
	for (int c = from; c < CALLS; c++)
		t->rows[c] = ct_loader_next(l, t->x[c], t->y[c]);
}

/* The key property: stop anywhere (mid-epoch, after the last batch, after the
 * 0), restore the saved state into a fresh loader, and the rest is
 * byte-identical to a run that never stopped. */
static void test_resume_is_exact(void **state)
{
	(void)state;
	ct_dataset ds;
	make_rows(&ds, N, 1);
	ct_err e = {0};
	for (int shuffle = 0; shuffle < 2; shuffle++) {
		ct_loader ref;
		trace want;
		memset(&want, 0, sizeof want);
		assert_int_equal(ct_loader_init(&ref, &ds, 4, shuffle, 11, &e), 0);
		record(&ref, &want, 0);
		ct_loader_release(&ref);
		assert_int_equal(want.rows[3], 0); /* calls 0-2 are epoch 0, 3 is its end */
		for (int stop = 0; stop <= CALLS; stop++) {
			ct_loader a, b;
			trace got;
			memset(&got, 0, sizeof got);
			assert_int_equal(ct_loader_init(&a, &ds, 4, shuffle, 11, &e), 0);
			for (int c = 0; c < stop; c++)
				got.rows[c] = ct_loader_next(&a, got.x[c], got.y[c]);
			ct_loader_state saved = a.st;
			ct_loader_release(&a);
			/* a different seed: the state alone must define the future */
			assert_int_equal(ct_loader_init(&b, &ds, 4, shuffle, 999, &e), 0);
			assert_int_equal(ct_loader_set_state(&b, &saved, &e), 0);
			record(&b, &got, stop);
			ct_loader_release(&b);
			assert_memory_equal(&got, &want, sizeof got);
		}
	}
	ct_dataset_release(&ds);
}

static void test_errors(void **state)
{
	(void)state;
	ct_dataset ds, empty = {0};
	make_rows(&ds, N, 1);
	ct_loader l;
	ct_err e = {0};
	assert_int_equal(ct_loader_init(&l, &ds, 0, 1, 1, &e), CT_ECONFIG);
	assert_non_null(strstr(e.msg, "batch_size must be >= 1 (got 0)"));
	assert_null(l.perm);
	assert_int_equal(ct_loader_init(&l, &empty, 4, 1, 1, &e), CT_ECONFIG);
	assert_non_null(strstr(e.msg, "empty data set"));
	assert_int_equal(ct_loader_init(&l, &ds, 4, 1, 1, &e), 0);
	ct_loader_state st = l.st, before = l.st;
	st.cursor = N + 1;
	assert_int_equal(ct_loader_set_state(&l, &st, &e), CT_ECORRUPT);
	assert_non_null(strstr(e.msg, "cursor 11 is past the end of the 10-row data set"));
	assert_memory_equal(&l.st, &before, sizeof before); /* unchanged on error */
	st.cursor = 0;
	memset(st.rng, 0, sizeof st.rng);
	assert_int_equal(ct_loader_set_state(&l, &st, &e), CT_ECORRUPT);
	assert_non_null(strstr(e.msg, "all zero"));
	st.cursor = N; /* the end of an epoch is a valid place to stop */
	memcpy(st.rng, before.rng, sizeof st.rng);
	assert_int_equal(ct_loader_set_state(&l, &st, &e), 0);
	float xb[4 * D];
	assert_int_equal(ct_loader_next(&l, xb, NULL), 0);
	assert_int_equal(l.st.epoch, 1);
	ct_loader_release(&l);
	ct_dataset_release(&ds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_epochs_cover_every_row),
		cmocka_unit_test(test_no_shuffle_and_sizes),
		cmocka_unit_test(test_unlabelled_and_null_yb),
		cmocka_unit_test(test_resume_is_exact),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
