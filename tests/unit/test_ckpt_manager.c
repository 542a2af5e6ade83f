/* train/ckpt_manager + best: a hand-written loop (custom residual model,
 * Adam, shuffling loader, dropout stream, user counters and blob) saved and
 * restored bit-exactly, cadence, retention with keep_best protection, restore
 * fallback past a damaged file, failures that leave the state unchanged, an
 * async write failure reported later, and the best tracker's bookkeeping. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "../../util/atomic.h"
#include "../../ckpt/discover.h"
#include "../../nn/graph.h"
#include "../../nn/module.h"
#include "../../ckpt/manager.h"
#include "../../util/log.h"

static char g_root[256], g_dir[300];
static char g_warn[4096];
static int g_case;

static void hook(int level, const char *line, void *ctx)
{
	(void)ctx;
	if (level >= CT_LOG_WARN)
		snprintf(g_warn + strlen(g_warn), sizeof g_warn - strlen(g_warn), "%s\n", line);
}

static int setup(void **s)
{
	(void)s;
	ct_log_set_hook(hook, NULL);
	ct_log_set_level(CT_LOG_WARN);
	return tmpdir_make(g_root, sizeof g_root, "mgr");
}

static int teardown(void **s)
{
	(void)s;
	ct_log_set_hook(NULL, NULL);
	return tmpdir_remove(g_root);
}

/* Each test gets a fresh checkpoint directory. */
static int per_test(void **s)
{
	(void)s;
	snprintf(g_dir, sizeof g_dir, "%s/c%d/checkpoints", g_root, g_case++);
	g_warn[0] = '\0';
	return 0;
}

/* ---- a user's loop: x -> lin0 -> relu -> (+ lin1(h)) -> dropout -> head -- */
typedef struct run {
	ct_dataset ds;
	ct_params ps;
	ct_linear_layer l0, l1, head;
	ct_graph *g;
	int in, loss;
	ct_optim opt;
	ct_loader ld;
	ct_rng drop;
	int64_t step;
	double loss_sum;
	struct {
		int32_t seen[3];
		float ema;
	} extra;
	int32_t labels[8];
} run;

static void run_init(run *r, ct_optim_kind kind)
{
	memset(r, 0, sizeof *r);
	ct_err e = {0};
	assert_int_equal(ct_synthetic_make(3, 60, 4, 3, &r->ds, &e), 0);
	ct_params_init(&r->ps);
	ct_module root = ct_module_root(&r->ps), body = ct_module_child(&root, "body");
	r->l0 = ct_module_linear(&body, "0", 4, 8, 1);
	r->l1 = ct_module_linear(&body, "1", 8, 8, 1);
	r->head = ct_module_linear(&root, "head", 8, 3, 1);
	assert_int_equal(ct_params_alloc(&r->ps, &e), 0);
	ct_rng init;
	ct_rng_seed(&init, 3, CT_RNG_STREAM_INIT);
	ct_linear_init(&r->ps, &r->l0, &init);
	ct_linear_init(&r->ps, &r->l1, &init);
	ct_linear_init(&r->ps, &r->head, &init);
	r->g = ct_graph_new(&r->ps, 8);
	ct_graph *g = r->g;
	r->in = ct_graph_input(g, 4);
	int h = ct_graph_act(g, ct_graph_linear(g, r->in, r->l0.weight, r->l0.bias), CT_ACT_RELU);
	h = ct_graph_add(g, h, ct_graph_linear(g, h, r->l1.weight, r->l1.bias));
	h = ct_graph_dropout(g, h, 0.2f);
	r->loss = ct_graph_softmax_xent(g, ct_graph_linear(g, h, r->head.weight, r->head.bias));
	assert_int_equal(ct_graph_finalize(g, &e), 0);
	ct_rng_seed(&r->drop, 3, CT_RNG_STREAM_DROPOUT);
	ct_graph_set_dropout_rng(g, &r->drop);
	ct_graph_set_labels(g, r->loss, r->labels);
	ct_optim_hparams hp = {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01};
	assert_int_equal(ct_optim_init(&r->opt, kind, r->ps.n, &hp, &e), 0);
	assert_int_equal(ct_loader_init(&r->ld, &r->ds, 8, 1, 3, &e), 0);
}

static void run_step(run *r)
{
	int rows;
	while ((rows = ct_loader_next(&r->ld, ct_graph_value(r->g, r->in), r->labels)) == 0)
		;
	ct_graph_set_rows(r->g, rows);
	ct_graph_forward(r->g);
	r->loss_sum += ct_graph_loss(r->g, r->loss);
	ct_graph_backward(r->g, r->loss);
	ct_optim_step(&r->opt, r->ps.data, r->ps.grad, 0.01);
	r->extra.seen[r->labels[0]]++;
	r->extra.ema = 0.9f * r->extra.ema + 0.1f * r->ps.data[0];
	r->step++;
}

static void run_release(run *r)
{
	ct_graph_free(r->g);
	ct_optim_release(&r->opt);
	ct_loader_release(&r->ld);
	ct_params_release(&r->ps);
	ct_dataset_release(&r->ds);
}

static ct_ckpt_manager *manager_for(run *r, const ct_ckpt_manager_opts *o, ct_best_tracker *b)
{
	ct_err e = {0};
	ct_ckpt_manager *m = ct_ckpt_manager_new(g_dir, o, &e);
	assert_non_null(m);
	assert_int_equal(ct_ckpt_manager_add_params(m, "model", &r->ps, &e), 0);
	assert_int_equal(ct_ckpt_manager_add_optim(m, "optim", &r->opt, &r->ps, &e), 0);
	assert_int_equal(ct_ckpt_manager_add_loader(m, "data", &r->ld, &e), 0);
	assert_int_equal(ct_ckpt_manager_add_rng(m, "rng/dropout", &r->drop, &e), 0);
	assert_int_equal(ct_ckpt_manager_add_i64(m, "user/step", &r->step, &e), 0);
	assert_int_equal(ct_ckpt_manager_add_f64(m, "user/loss_sum", &r->loss_sum, &e), 0);
	assert_int_equal(ct_ckpt_manager_add_blob(m, "user/extra", &r->extra, sizeof r->extra, &e),
			 0);
	if (b)
		assert_int_equal(ct_ckpt_manager_add_best(m, b, &e), 0);
	return m;
}

static void assert_same_run(const run *a, const run *b)
{
	assert_memory_equal(a->ps.data, b->ps.data, a->ps.n * sizeof(float));
	if (a->opt.m)
		assert_memory_equal(a->opt.m, b->opt.m, a->ps.n * sizeof(float));
	if (a->opt.v)
		assert_memory_equal(a->opt.v, b->opt.v, a->ps.n * sizeof(float));
	assert_int_equal(a->opt.step, b->opt.step);
	assert_memory_equal(&a->ld.st, &b->ld.st, sizeof a->ld.st);
	assert_memory_equal(&a->drop, &b->drop, sizeof a->drop);
	assert_int_equal(a->step, b->step);
	assert_true(a->loss_sum == b->loss_sum);
	assert_memory_equal(&a->extra, &b->extra, sizeof a->extra);
}

static void resume_is_bit_exact(int async)
{
	run ref, a, b;
	run_init(&ref, CT_OPT_ADAMW);
	for (int i = 0; i < 23; i++) /* 60 rows / 8 = 8 batches: crosses 2 epochs */
		run_step(&ref);
	ct_ckpt_manager_opts o = CT_CKPT_MANAGER_OPTS_DEFAULT;
	o.every_steps = 5;
	o.async = async;
	run_init(&a, CT_OPT_ADAMW);
	ct_ckpt_manager *m = manager_for(&a, &o, NULL);
	ct_err e = {0};
	int64_t at;
	assert_int_equal(ct_ckpt_manager_restore_latest(m, &at, &e), 0);
	assert_int_equal(at, -1);
	int saved = 0;
	while (a.step < 12) {
		run_step(&a);
		int rc = ct_ckpt_manager_maybe_save(m, a.step, &e);
		assert_true(rc == 0 || rc == 1);
		saved += rc;
	}
	assert_int_equal(saved, 2); /* steps 5 and 10 */
	assert_int_equal(ct_ckpt_manager_wait(m, &e), 0);
	assert_int_equal(ct_ckpt_manager_last_step(m), 10);
	ct_ckpt_manager_free(m); /* "killed" at step 12: steps 11-12 are lost */
	run_release(&a);

	run_init(&b, CT_OPT_ADAMW);
	m = manager_for(&b, &o, NULL);
	assert_int_equal(ct_ckpt_manager_restore_latest(m, &at, &e), 1);
	assert_int_equal(at, 10);
	assert_int_equal(b.step, 10);
	while (b.step < 23) {
		run_step(&b);
		assert_true(ct_ckpt_manager_maybe_save(m, b.step, &e) >= 0);
	}
	assert_int_equal(ct_ckpt_manager_finish(m, b.step, &e), 0);
	assert_int_equal(ct_ckpt_manager_last_step(m), 23);
	ct_ckpt_manager_free(m);
	assert_same_run(&ref, &b);
	/* keep_last = 3 (default): 15, 20, 23 */
	ct_ckpt_entry *v;
	size_t n;
	assert_int_equal(ct_ckpt_list(g_dir, &v, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].step, 23);
	assert_int_equal(v[2].step, 15);
	ct_ckpt_list_free(v, n);
	run_release(&b);
	run_release(&ref);
}

static void test_resume_bit_exact_sync(void **s)
{
	(void)s;
	resume_is_bit_exact(0);
}
static void test_resume_bit_exact_async(void **s)
{
	(void)s;
	resume_is_bit_exact(1);
}

/* Writes checkpoints of run r at the given steps (state changes in between). */
static void save_steps(run *r, ct_ckpt_manager *m, const int64_t *steps, int n)
{
	ct_err e = {0};
	for (int i = 0; i < n; i++) {
		while (r->step < steps[i])
			run_step(r);
		assert_int_equal(ct_ckpt_manager_save(m, r->step, &e), 0);
	}
	assert_int_equal(ct_ckpt_manager_wait(m, &e), 0);
}

static void test_fallback_past_damaged_file(void **s)
{
	(void)s;
	run a, b, c;
	run_init(&a, CT_OPT_ADAM);
	ct_ckpt_manager_opts o = {.keep_last = 0};
	ct_ckpt_manager *m = manager_for(&a, &o, NULL);
	save_steps(&a, m, (int64_t[]){4, 7}, 2);
	ct_ckpt_manager_free(m);
	char *p7 = ct_ckpt_path_for_step(g_dir, 7);
	ct_err e = {0};
	assert_int_equal(ct_atomic_write_file(p7, "torn", 4, &e), 0);
	run_init(&b, CT_OPT_ADAM);
	for (int i = 0; i < 4; i++)
		run_step(&b);
	run_init(&c, CT_OPT_ADAM);
	m = manager_for(&c, &o, NULL);
	int64_t at;
	assert_int_equal(ct_ckpt_manager_restore_latest(m, &at, &e), 1);
	assert_int_equal(at, 4);
	assert_non_null(strstr(g_warn, "skipping invalid checkpoint"));
	assert_non_null(strstr(g_warn, "ckpt-0000000007.h5"));
	char moved[400];
	snprintf(moved, sizeof moved, "%s.corrupt", p7);
	assert_int_equal(access(moved, F_OK), 0);
	assert_same_run(&b, &c);
	ct_ckpt_manager_free(m);
	/* Only damaged files: an error that lists them, not a fresh start. */
	char *p4 = ct_ckpt_path_for_step(g_dir, 4);
	assert_int_equal(ct_atomic_write_file(p4, "junk", 4, &e), 0);
	m = manager_for(&c, &o, NULL);
	assert_int_equal(ct_ckpt_manager_restore_latest(m, &at, &e), CT_ENOTFOUND);
	assert_non_null(strstr(e.msg, "no valid checkpoint in"));
	assert_non_null(strstr(e.msg, "ckpt-0000000004.h5"));
	ct_ckpt_manager_free(m);
	free(p4);
	free(p7);
	run_release(&a);
	run_release(&b);
	run_release(&c);
}

static void test_mismatch_leaves_state_unchanged(void **s)
{
	(void)s;
	run a, b;
	run_init(&a, CT_OPT_ADAM);
	ct_ckpt_manager *m = manager_for(&a, NULL, NULL);
	save_steps(&a, m, (int64_t[]){3}, 1);
	ct_ckpt_manager_free(m);
	ct_err e = {0};
	int64_t at;
	/* Same shapes, another optimizer: refused before anything is applied. */
	run_init(&b, CT_OPT_ADAMW);
	run before = b;
	float *data = malloc(b.ps.n * sizeof(float));
	memcpy(data, b.ps.data, b.ps.n * sizeof(float));
	m = manager_for(&b, NULL, NULL);
	assert_int_equal(ct_ckpt_manager_restore_latest(m, &at, &e), CT_EMISMATCH);
	assert_non_null(strstr(e.msg, "checkpoint /optim@name is 'adam' but this run has 'adamw'"));
	assert_memory_equal(data, b.ps.data, b.ps.n * sizeof(float));
	assert_memory_equal(&before.ld.st, &b.ld.st, sizeof b.ld.st);
	assert_int_equal(b.step, 0);
	ct_ckpt_manager_free(m);
	/* A blob of another size: a shape error naming the file and the field. */
	run_release(&b);
	run_init(&b, CT_OPT_ADAM);
	m = ct_ckpt_manager_new(g_dir, NULL, &e);
	char small[3];
	assert_int_equal(ct_ckpt_manager_add_params(m, "model", &b.ps, &e), 0);
	assert_int_equal(ct_ckpt_manager_add_blob(m, "user/extra", small, sizeof small, &e), 0);
	assert_int_equal(ct_ckpt_manager_restore_latest(m, &at, &e), CT_ECORRUPT);
	assert_non_null(strstr(e.msg, "ckpt-0000000003.h5"));
	assert_non_null(strstr(e.msg, "/user/extra"));
	assert_memory_equal(data, b.ps.data, b.ps.n * sizeof(float));
	ct_ckpt_manager_free(m);
	free(data);
	run_release(&a);
	run_release(&b);
}

static void test_async_failure_reported_later(void **s)
{
	(void)s;
	run a;
	run_init(&a, CT_OPT_SGD);
	ct_ckpt_manager_opts o = {.async = 1, .keep_last = 2};
	ct_ckpt_manager *m = manager_for(&a, &o, NULL);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
	assert_int_equal(system(cmd), 0);
	ct_err e = {0};
	assert_int_equal(ct_ckpt_manager_save(m, 1, &e), 0); /* queued */
	assert_int_equal(ct_ckpt_manager_wait(m, &e), CT_EIO);
	assert_non_null(strstr(e.msg, "ckpt-0000000001.h5"));
	assert_int_equal(ct_ckpt_manager_last_step(m), -1);
	assert_int_equal(ct_ckpt_manager_wait(m, &e), 0); /* reported once */
	ct_ckpt_manager_free(m);
	run_release(&a);
}

static void test_best_tracker(void **s)
{
	(void)s;
	ct_best_tracker b;
	ct_best_init(&b, 2, 2, CT_BEST_LOWER);
	assert_true(isnan(b.best_metric));
	assert_int_equal(ct_best_update(&b, 10, 0.5), CT_BEST_IMPROVED | CT_BEST_KEPT);
	assert_int_equal(ct_best_update(&b, 20, 0.4), CT_BEST_IMPROVED | CT_BEST_KEPT);
	assert_int_equal(ct_best_update(&b, 30, 0.45), CT_BEST_KEPT); /* pushes out 0.5 */
	assert_int_equal(b.n_kept, 2);
	assert_int_equal(b.kept_step[0], 20);
	assert_int_equal(b.kept_step[1], 30);
	assert_int_equal(b.kept_step[2], -1);
	assert_int_equal(ct_best_update(&b, 40, 0.45),
			 CT_BEST_STOP); /* equal: no room, no progress */
	assert_int_equal(b.evals_since_best, 2);
	assert_true(ct_best_should_stop(&b));
	assert_int_equal(ct_best_update(&b, 50, 0.3), CT_BEST_IMPROVED | CT_BEST_KEPT);
	assert_false(ct_best_should_stop(&b));
	assert_true(ct_best_is_kept(&b, 50) && ct_best_is_kept(&b, 20) && !ct_best_is_kept(&b, 30));
	assert_true(b.best_metric == 0.3);
	ct_best_set_keep(&b, 1);
	assert_int_equal(b.n_kept, 1);
	assert_int_equal(b.kept_step[1], -1);
	ct_best_tracker h;
	ct_best_init(&h, 0, 0, CT_BEST_HIGHER);
	assert_int_equal(ct_best_update(&h, 1, 0.9), CT_BEST_IMPROVED);
	assert_int_equal(ct_best_update(&h, 2, 0.8), 0);
	assert_int_equal(ct_best_update(&h, 3, (double)NAN), 0);
	assert_int_equal(h.evals_since_best, 2);
}

static void steps_on_disk(const int64_t *want, size_t n_want)
{
	ct_ckpt_entry *v;
	size_t n;
	ct_err e = {0};
	assert_int_equal(ct_ckpt_list(g_dir, &v, &n, &e), 0);
	assert_int_equal(n, n_want);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(v[i].step, want[i]);
	ct_ckpt_list_free(v, n);
}

static void test_keep_best_protected_and_resumed(void **s)
{
	(void)s;
	run a, b;
	run_init(&a, CT_OPT_ADAM);
	ct_best_tracker bt;
	ct_best_init(&bt, 2, 0, CT_BEST_LOWER);
	ct_ckpt_manager_opts o = {.every_steps = 2, .keep_last = 1};
	ct_ckpt_manager *m = manager_for(&a, &o, &bt);
	ct_err e = {0};
	/* metric by step: 3 -> 0.9, 5 -> 0.5, 7 -> 0.7, 9 -> 0.6, 11 -> 0.8 */
	const double metric[] = {0.9, 0.5, 0.7, 0.6, 0.8};
	for (int i = 0; i < 12; i++) {
		run_step(&a);
		assert_true(ct_ckpt_manager_maybe_save(m, a.step, &e) >= 0);
		if (a.step % 2 == 1 && a.step >= 3) {
			int f = ct_ckpt_manager_observe(m, a.step, metric[(a.step - 3) / 2], &e);
			assert_true(f >= 0);
			assert_int_equal((f & CT_BEST_KEPT) != 0, a.step != 11);
		}
	}
	assert_int_equal(ct_ckpt_manager_wait(m, &e), 0);
	/* newest (12) + the two best (5: 0.5, 9: 0.6); 3 and 7 were pushed out */
	steps_on_disk((int64_t[]){12, 9, 5}, 3);
	ct_ckpt_manager_free(m);
	/* The kept list comes back with the state and keeps protecting. */
	run_init(&b, CT_OPT_ADAM);
	ct_best_tracker bt2;
	ct_best_init(&bt2, 2, 0, CT_BEST_LOWER);
	m = manager_for(&b, &o, &bt2);
	int64_t at;
	assert_int_equal(ct_ckpt_manager_restore_latest(m, &at, &e), 1);
	assert_int_equal(at, 12);
	assert_memory_equal(&bt, &bt2, sizeof bt);
	while (b.step < 16) {
		run_step(&b);
		assert_true(ct_ckpt_manager_maybe_save(m, b.step, &e) >= 0);
	}
	assert_int_equal(ct_ckpt_manager_wait(m, &e), 0);
	steps_on_disk((int64_t[]){16, 9, 5}, 3);
	ct_ckpt_manager_free(m);
	run_release(&a);
	run_release(&b);
}

static void test_retain_protected(void **s)
{
	(void)s;
	run a;
	run_init(&a, CT_OPT_SGD);
	ct_ckpt_manager_opts o = {.keep_last = 0};
	ct_ckpt_manager *m = manager_for(&a, &o, NULL);
	save_steps(&a, m, (int64_t[]){1, 2, 3, 4, 5, 6}, 6);
	ct_ckpt_manager_free(m);
	char *p5 = ct_ckpt_path_for_step(g_dir, 5);
	ct_err e = {0};
	assert_int_equal(ct_atomic_write_file(p5, "bad", 3, &e), 0); /* invalid: never counted */
	assert_int_equal(ct_ckpt_retain_protected(g_dir, 2, 3, (int64_t[]){1, -1}, 2, &e), 1);
	/* 6 and 4 newest valid, 5 invalid, 3 by keep_every, 1 protected; 2 goes */
	steps_on_disk((int64_t[]){6, 5, 4, 3, 1}, 5);
	assert_int_equal(ct_ckpt_retain_protected(g_dir, 0, 0, NULL, 0, &e), 0);
	free(p5);
	run_release(&a);
}

/* A checkpoint written before keep_best existed (best_metric and
 * evals_since_best only) restores: the kept list stays empty. */
static void test_restores_checkpoint_without_best_list(void **s)
{
	(void)s;
	run a, b;
	run_init(&a, CT_OPT_SGD);
	double old_best = 0.25;
	int64_t old_since = 2;
	ct_err e = {0};
	ct_ckpt_manager *m = manager_for(&a, NULL, NULL);
	assert_int_equal(ct_ckpt_manager_add_f64(m, "meta/best_metric", &old_best, &e), 0);
	assert_int_equal(ct_ckpt_manager_add_i64(m, "meta/evals_since_best", &old_since, &e), 0);
	save_steps(&a, m, (int64_t[]){2}, 1);
	ct_ckpt_manager_free(m);
	run_init(&b, CT_OPT_SGD);
	ct_best_tracker bt;
	ct_best_init(&bt, 2, 3, CT_BEST_LOWER);
	m = manager_for(&b, NULL, &bt);
	int64_t at;
	assert_int_equal(ct_ckpt_manager_restore_latest(m, &at, &e), 1);
	assert_true(bt.best_metric == 0.25);
	assert_int_equal(bt.evals_since_best, 2);
	assert_int_equal(bt.n_kept, 0);
	assert_int_equal(bt.kept_step[0], -1);
	assert_same_run(&a, &b);
	ct_ckpt_manager_free(m);
	run_release(&a);
	run_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_resume_bit_exact_sync, per_test),
		cmocka_unit_test_setup(test_resume_bit_exact_async, per_test),
		cmocka_unit_test_setup(test_fallback_past_damaged_file, per_test),
		cmocka_unit_test_setup(test_mismatch_leaves_state_unchanged, per_test),
		cmocka_unit_test_setup(test_async_failure_reported_later, per_test),
		cmocka_unit_test(test_best_tracker),
		cmocka_unit_test_setup(test_keep_best_protected_and_resumed, per_test),
		cmocka_unit_test_setup(test_retain_protected, per_test),
		cmocka_unit_test_setup(test_restores_checkpoint_without_best_list, per_test),
	};
	return cmocka_run_group_tests_name("ckpt_manager", tests, setup, teardown);
}
