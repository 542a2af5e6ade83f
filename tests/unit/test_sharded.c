/* train.shards (issue 17): the trainer's sharded step is exactly "each
 * shard's gradient on its own rows, seeded n_i / B, summed by the fixed
 * balanced tree, then one optimizer step", recomputed here by hand; that
 * tree's bytes differ from a plain left-to-right sum of the same gradients
 * (so the test can tell the two apart); and dropout masks are keyed by the
 * row's position in the batch, not by how the rows are grouped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "../../dist/shards.h"
#include "../../train/trainer.h"
#include "../../util/atomic.h"
#include "../../util/log.h"

TESTUTIL_TMPDIR(g_dir, "sharded", setup, teardown)

/* 80 rows, 16 of them validation: one step of 64 rows per epoch. */
static void make_state(ct_train_state *s, int shards)
{
	ct_config c;
	ct_config_defaults(&c);
	ct_err e = {0};
	char set[64];
	snprintf(set, sizeof set, "train.shards=%d", shards);
	const char *sets[] = {"model.layers=20,64,4",  "model.dropout=0.2",  "data.n_samples=80",
			      "data.val_fraction=0.2", "data.batch_size=64", "train.epochs=1",
			      "optim.name=sgd",        "optim.lr=0.5",       set};
	for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
		assert_int_equal(ct_config_set(&c, sets[i], &e), 0);
	assert_int_equal(ct_config_validate(&c, "test", &e), 0);
	assert_int_equal(ct_train_state_init(s, &c, "test", &e), 0);
	assert_int_equal(s->steps_per_epoch, 1);
}

static void shard_grad(ct_train_state *s, const float *x, const int32_t *y, int64_t start,
		       int64_t n, int rows, float *grad)
{
	ct_mlp_graph *mg = &s->model.train;
	size_t d = (size_t)s->train.d;
	float *saved = s->model.ps.grad;
	s->model.ps.grad = grad;
	memcpy(ct_graph_value(mg->g, mg->in), x + (size_t)start * d, (size_t)n * d * sizeof *x);
	ct_graph_set_labels(mg->g, mg->loss, y + start);
	ct_graph_set_rows(mg->g, (int)n);
	ct_graph_set_dropout_counter(mg->g, s->cfg.seed, 0, (uint64_t)start);
	ct_graph_forward(mg->g);
	ct_graph_backward_seed(mg->g, mg->loss, (float)((double)n / (double)rows));
	s->model.ps.grad = saved;
}

static void test_step_is_the_tree(int shards)
{
	ct_train_state a, b;
	make_state(&a, shards);
	make_state(&b, shards);
	size_t np = b.model.ps.n, d = (size_t)b.train.d;
	/* the trainer's step */
	char dir[256];
	snprintf(dir, sizeof dir, "%s/s%d", g_dir, shards);
	ct_err e = {0};
	assert_int_equal(ct_atomic_mkdir_p(dir, &e), 0);
	ct_trainer_result r;
	assert_int_equal(ct_trainer_run(&a, dir, -1, NULL, &r, &e), 0);
	assert_int_equal(a.step, 1);
	/* by hand: the same batch, each shard's gradient, the tree */
	float *x = malloc(64 * d * sizeof *x);
	int32_t *y = malloc(64 * sizeof *y);
	float *g = calloc((size_t)shards * np, sizeof *g);
	assert_true(x && y && g);
	int rows = ct_loader_next(&b.ld, x, y);
	assert_int_equal(rows, 64);
	for (int i = 0; i < shards; i++) {
		int64_t start, n;
		ct_shard_rows(rows, shards, i, &start, &n);
		shard_grad(&b, x, y, start, n, rows, g + (size_t)i * np);
	}
	float *fold = malloc(np * sizeof *fold);
	assert_non_null(fold);
	memcpy(fold, g, np * sizeof *fold);
	for (int i = 1; i < shards; i++)
		for (size_t k = 0; k < np; k++)
			fold[k] += g[(size_t)i * np + k];
	for (int width = 1; width < shards; width *= 2) /* the balanced tree, in place */
		for (int i = 0; i < shards; i += 2 * width)
			for (size_t k = 0; k < np; k++)
				g[(size_t)i * np + k] += g[(size_t)(i + width) * np + k];
	size_t differ = 0;
	for (size_t k = 0; k < np; k++) { /* bits, not values */
		uint32_t u, v;
		memcpy(&u, &fold[k], sizeof u);
		memcpy(&v, &g[k], sizeof v);
		differ += u != v;
	}
	print_message("S=%d: the left fold differs from the tree in %zu of %zu gradient floats\n",
		      shards, differ, np);
	if (shards > 2) /* for two leaves both orders are the same addition */
		assert_true(differ > 0);
	ct_optim_step(&b.opt, b.model.ps.data, g, ct_sched_lr(&b.sched, 0));
	assert_memory_equal(a.model.ps.data, b.model.ps.data, np * sizeof(float));
	/* the left fold's update is other bytes: the comparison can fail */
	if (shards > 2) {
		ct_train_state c;
		make_state(&c, shards);
		ct_optim_step(&c.opt, c.model.ps.data, fold, ct_sched_lr(&c.sched, 0));
		assert_true(memcmp(a.model.ps.data, c.model.ps.data, np * sizeof(float)) != 0);
		ct_train_state_release(&c);
	}
	free(fold);
	free(g);
	free(x);
	free(y);
	ct_train_state_release(&a);
	ct_train_state_release(&b);
}

static void test_step_s2(void **st)
{
	(void)st;
	test_step_is_the_tree(2);
}

static void test_step_s4(void **st)
{
	(void)st;
	test_step_is_the_tree(4);
}

/* Dropout by position: rows 16..47 get the same masks computed as part of
 * one group of 64 rows or as a group of their own; another step, others.
 * (The products themselves are not row-invariant with OpenBLAS: a row's
 * bytes depend on how many rows the product has, which is why every shard
 * runs its own products rather than slicing one product of the batch.) */
static void test_dropout_by_position(void **st)
{
	(void)st;
	ct_train_state s;
	make_state(&s, 4);
	ct_err e = {0};
	ct_graph *g = ct_graph_new(&s.model.ps, 64);
	assert_non_null(g);
	int in = ct_graph_input(g, 37), target = ct_graph_input(g, 37);
	int dr = ct_graph_dropout(g, in, 0.3f);
	ct_graph_mse(g, dr, target);
	assert_int_equal(ct_graph_finalize(g, &e), 0);
	float *x = ct_graph_value(g, in), all[64 * 37];
	for (int i = 0; i < 64 * 37; i++)
		x[i] = 1.0f + (float)i;
	ct_graph_set_dropout_counter(g, 7, 3, 0);
	ct_graph_forward(g);
	memcpy(all, ct_graph_value(g, dr), sizeof all);
	size_t zeros = 0;
	for (int i = 0; i < 64 * 37; i++)
		zeros += all[i] == 0.0f;
	assert_true(zeros > 64 * 37 / 5 && zeros < 64 * 37 * 2 / 5); /* p = 0.3 */
	const size_t row16 = (size_t)16 * 37;
	memmove(x, x + row16, (size_t)32 * 37 * sizeof *x);
	ct_graph_set_rows(g, 32);
	ct_graph_set_dropout_counter(g, 7, 3, 16);
	ct_graph_forward(g);
	assert_memory_equal(all + row16, ct_graph_value(g, dr), (size_t)32 * 37 * sizeof *all);
	ct_graph_set_dropout_counter(g, 7, 4, 16);
	ct_graph_forward(g);
	const float *other = ct_graph_value(g, dr);
	size_t moved = 0;
	for (size_t i = 0; i < (size_t)32 * 37; i++)
		moved += all[row16 + i] != other[i];
	assert_true(moved > 0);
	ct_graph_free(g);
	ct_train_state_release(&s);
}

int main(void)
{
	ct_log_set_level(CT_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_step_s2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_s4, setup, teardown),
		cmocka_unit_test(test_dropout_by_position),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
