/* Optimizer steps against torch.optim (1.13) values for the same parameters and
 * gradients (3 steps; reference printed by torch, see the comment on each case),
 * schedules against hand-computed values, RNG streams and clipping. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../nn/optim.h"
#include "../../util/rng.h"
#include "../../nn/schedule.h"

static const float P0[3] = {0.5f, -1.25f, 2.0f};
static const float G[3][3] = {{0.1f, -0.2f, 0.3f}, {-0.05f, 0.4f, 0.25f}, {0.2f, 0.1f, -0.3f}};

static void run(ct_optim_kind kind, ct_optim_hparams hp, double lr, const double expect[3])
{
	ct_optim o;
	ct_err e = {0};
	assert_int_equal(ct_optim_init(&o, kind, 3, &hp, &e), 0);
	float p[3];
	memcpy(p, P0, sizeof p);
	for (int s = 0; s < 3; s++)
		ct_optim_step(&o, p, G[s], lr);
	assert_int_equal(o.step, 3);
	for (int i = 0; i < 3; i++)
		if (fabs((double)p[i] - expect[i]) > 2e-7 * (1 + fabs(expect[i])))
			fail_msg("p[%d] = %.9g, torch gives %.9g", i, (double)p[i], expect[i]);
	ct_optim_release(&o);
}

static void test_sgd(void **s)
{
	(void)s;
	run(CT_OPT_SGD, (ct_optim_hparams){0}, 0.1,
	    (double[]){0.4749999940395355, -1.2799999713897705, 1.975000023841858});
	run(CT_OPT_SGD, (ct_optim_hparams){.weight_decay = 0.01}, 0.1,
	    (double[]){0.47351646423339844, -1.2762537002563477, 1.9690910577774048});
}

static void test_sgd_momentum_nesterov(void **s)
{
	(void)s;
	run(CT_OPT_SGD, (ct_optim_hparams){.momentum = 0.9}, 0.1,
	    (double[]){0.46239998936653137, -1.2818000316619873, 1.9011999368667603});
	run(CT_OPT_SGD, (ct_optim_hparams){.momentum = 0.9, .nesterov = 1, .weight_decay = 0.01},
	    0.1, (double[]){0.4372273087501526, -1.2986376285552979, 1.8704088926315308});
}

static void test_adam(void **s)
{
	(void)s;
	run(CT_OPT_ADAM, (ct_optim_hparams){.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8}, 0.01,
	    (double[]){0.4807555079460144, -1.2478175163269043, 1.9779077768325806});
	run(CT_OPT_ADAM,
	    (ct_optim_hparams){.beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1}, 0.01,
	    (double[]){0.4753658175468445, -1.240107774734497, 1.9740275144577026});
}

static void test_adamw(void **s)
{
	(void)s;
	run(CT_OPT_ADAMW,
	    (ct_optim_hparams){.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1},
	    0.01, (double[]){0.47927966713905334, -1.24408757686615, 1.971943736076355});
}

static void test_schedules(void **s)
{
	(void)s;
	ct_schedule c = {CT_SCHED_CONSTANT, 0.1, 0.5, 0.0, 0, 10, 100};
	assert_true(ct_sched_lr(&c, 0) == 0.1 && ct_sched_lr(&c, 99) == 0.1);
	ct_schedule w = c;
	w.warmup = 4;
	assert_true(fabs(ct_sched_lr(&w, 0) - 0.025) < 1e-15);
	assert_true(fabs(ct_sched_lr(&w, 3) - 0.1) < 1e-15);
	ct_schedule st = {CT_SCHED_STEP, 0.1, 0.5, 0.0, 0, 10, 100};
	assert_true(fabs(ct_sched_lr(&st, 9) - 0.1) < 1e-15);
	assert_true(fabs(ct_sched_lr(&st, 10) - 0.05) < 1e-15);
	assert_true(fabs(ct_sched_lr(&st, 25) - 0.025) < 1e-15);
	ct_schedule cs = {CT_SCHED_COSINE, 0.1, 0.0, 0.01, 10, 0, 110};
	assert_true(fabs(ct_sched_lr(&cs, 10) - 0.1) < 1e-15);
	assert_true(fabs(ct_sched_lr(&cs, 60) - 0.055) < 1e-12);
	assert_true(fabs(ct_sched_lr(&cs, 110) - 0.01) < 1e-15);
	assert_true(fabs(ct_sched_lr(&cs, 500) - 0.01) < 1e-15);
	assert_int_equal(ct_sched_from_name("cosine"), CT_SCHED_COSINE);
	assert_int_equal(ct_sched_from_name("linear"), -1);
}

static void test_clip(void **s)
{
	(void)s;
	float g[2] = {3.0f, 4.0f};
	double n = ct_grad_clip_norm(g, 2, 1.0);
	assert_true(fabs(n - 5.0) < 1e-12);
	assert_true(fabs((double)(g[0] - 0.6f)) < 1e-6 && fabs((double)(g[1] - 0.8f)) < 1e-6);
	float h[2] = {0.3f, 0.4f};
	ct_grad_clip_norm(h, 2, 1.0);
	assert_true(h[0] == 0.3f && h[1] == 0.4f); /* below the limit: untouched */
}

static void test_rng_streams(void **s)
{
	(void)s;
	ct_rng a, b, c;
	ct_rng_seed(&a, 42, CT_RNG_STREAM_SHUFFLE);
	ct_rng_seed(&b, 42, CT_RNG_STREAM_SHUFFLE);
	ct_rng_seed(&c, 42, CT_RNG_STREAM_DROPOUT);
	uint64_t first = ct_rng_u64(&a);
	assert_true(first == ct_rng_u64(&b));
	assert_true(first != ct_rng_u64(&c));
	/* Saving is copying the struct: the copy continues identically. */
	ct_rng saved = a;
	uint64_t x1 = ct_rng_u64(&a), x2 = ct_rng_u64(&saved);
	assert_true(x1 == x2);
	/* Drawing from one stream never shifts another. */
	ct_rng d1, d2;
	ct_rng_seed(&d1, 7, CT_RNG_STREAM_SHUFFLE);
	ct_rng_seed(&d2, 7, CT_RNG_STREAM_SHUFFLE);
	ct_rng other;
	ct_rng_seed(&other, 7, CT_RNG_STREAM_DROPOUT);
	for (int i = 0; i < 1000; i++)
		ct_rng_u64(&other);
	assert_true(ct_rng_u64(&d1) == ct_rng_u64(&d2));
	/* Known-answer: xoshiro256** with state {1,2,3,4} gives 11520 first. */
	ct_rng k = {{1, 2, 3, 4}};
	assert_true(ct_rng_u64(&k) == 11520u);
	/* ct_rng_below stays in range and hits every value; floats in [0,1). */
	int hits[7] = {0};
	for (int i = 0; i < 7000; i++)
		hits[ct_rng_below(&a, 7)]++;
	for (int i = 0; i < 7; i++)
		assert_true(hits[i] > 800 && hits[i] < 1200);
	for (int i = 0; i < 10000; i++) {
		float f = ct_rng_float(&a);
		assert_true(f >= 0.0f && f < 1.0f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sgd),         cmocka_unit_test(test_sgd_momentum_nesterov),
		cmocka_unit_test(test_adam),        cmocka_unit_test(test_adamw),
		cmocka_unit_test(test_schedules),   cmocka_unit_test(test_clip),
		cmocka_unit_test(test_rng_streams),
	};
	return cmocka_run_group_tests_name("optim", tests, NULL, NULL);
}
