/* train/: a train_state's checkpoint round trip through the manager (every
 * field restored exactly, check_restore before apply),
 * integrity failures surfaced, metrics.csv truncation on resume, and strict /
 * non-strict state-dict loading. */
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
#include "../../train/metrics.h"
#include "../../train/state_ckpt.h"
#include "../../util/log.h"

TESTUTIL_TMPDIR(g_dir, "train", setup, teardown)

static void make_state(ct_train_state *s, const char *opt_name)
{
	ct_config c;
	ct_config_defaults(&c);
	ct_err e = {0};
	char set[64];
	snprintf(set, sizeof set, "optim.name=%s", opt_name);
	assert_int_equal(ct_config_set(&c, set, &e), 0);
	assert_int_equal(ct_config_set(&c, "model.layers=20,16,4", &e), 0);
	assert_int_equal(ct_config_set(&c, "model.dropout=0.2", &e), 0);
	assert_int_equal(ct_config_set(&c, "data.n_samples=300", &e), 0);
	assert_int_equal(ct_config_set(&c, "checkpoint.keep_best=3", &e), 0);
	assert_int_equal(ct_train_state_init(s, &c, "test", &e), 0);
}

/* Mutates every restorable field so a field that is saved but not restored
 * (or the reverse) shows up as a difference. */
static void scramble(ct_train_state *s, int k)
{
	for (int v = 0; v < s->model.ps.nv; v++) { /* real elements only: padding stays 0 */
		const ct_param_view *pv = &s->model.ps.v[v];
		for (size_t i = pv->offset; i < pv->offset + pv->numel; i++) {
			s->model.ps.data[i] = (float)(i % 97) * 0.01f + (float)k;
			if (s->opt.m)
				s->opt.m[i] = (float)(i % 13) * 0.5f - (float)k;
			if (s->opt.v)
				s->opt.v[i] = (float)(i % 7) * 0.25f + (float)k;
		}
	}
	s->opt.step = 11 + k;
	s->step = 123 + k;
	for (int i = 0; i < k + 3; i++) {
		ct_rng_u64(&s->dropout_rng);
		ct_rng_u64(&s->init_rng);
	}
	float xb[20 * 64];
	int32_t yb[64];
	for (int i = 0; i < k + 2; i++)
		ct_loader_next(&s->ld, xb, yb);
	s->loss_sum = 1.25 + k;
	s->loss_count = 3 + k;
	s->elapsed = 9.5 + k;
	s->samples_seen = 777 + k;
	for (int i = 0; i < k + 2; i++) /* fills best_metric, evals_since_best and the kept list */
		ct_best_update(&s->best, 10 + i, 0.5 - (i % 2) - k);
}

static void assert_same_state(const ct_train_state *a, const ct_train_state *b)
{
	size_t bytes = a->model.ps.n * sizeof(float);
	assert_memory_equal(a->model.ps.data, b->model.ps.data, bytes);
	if (a->opt.m)
		assert_memory_equal(a->opt.m, b->opt.m, bytes);
	if (a->opt.v)
		assert_memory_equal(a->opt.v, b->opt.v, bytes);
	assert_int_equal(a->opt.step, b->opt.step);
	assert_int_equal(a->step, b->step);
	assert_memory_equal(&a->dropout_rng, &b->dropout_rng, sizeof(ct_rng));
	assert_memory_equal(&a->init_rng, &b->init_rng, sizeof(ct_rng));
	assert_memory_equal(&a->ld.st, &b->ld.st, sizeof(ct_loader_state));
	assert_memory_equal(a->ld.perm, b->ld.perm, (size_t)a->train.n * sizeof(int64_t));
	assert_true(a->loss_sum == b->loss_sum && a->loss_count == b->loss_count);
	assert_true(a->elapsed == b->elapsed && a->samples_seen == b->samples_seen);
	assert_memory_equal(&a->best, &b->best, sizeof a->best);
}

/* A fresh directory under g_dir for one test's checkpoints. */
static void ckpt_dir(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", g_dir, name);
	assert_true(n > 0 && (size_t)n < len);
}

typedef struct seen {
	char optim[16], blas[64];
	int calls, refuse;
} seen;

/* check_restore: what the file holds is visible before anything is applied. */
static int check_hook(void *ctx, const ct_ckpt_fields *f, const char *path, ct_err *e)
{
	seen *sn = ctx;
	sn->calls++;
	snprintf(sn->optim, sizeof sn->optim, "%s",
		 (const char *)ct_ckpt_fields_find(f, "/optim@name")->copy);
	snprintf(sn->blas, sizeof sn->blas, "%s", f->blas_core);
	return sn->refuse ? ct_errf(e, CT_ECONFIG, "%s: refused by the hook", path) : 0;
}

/* One save through the manager as the trainer makes it, one restore as
 * `ctrain resume` makes it (ckpt/write.c, ckpt/resume.c). */
static void roundtrip(const char *opt_name, int async)
{
	ct_train_state a, b;
	make_state(&a, opt_name);
	make_state(&b, opt_name);
	scramble(&a, 1);
	scramble(&b, 2);
	char dir[300];
	ckpt_dir(dir, sizeof dir, async ? "rt-async" : "rt-sync");
	snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "-%s", opt_name);
	ct_err e = {0};
	ct_ckpt_manager_opts o = {.async = async};
	ct_ckpt_manager *ma = state_ckpt_manager(dir, &a, &o, &e);
	assert_non_null(ma);
	assert_int_equal(ct_ckpt_manager_save(ma, a.step, &e), 0);
	assert_int_equal(ct_ckpt_manager_wait(ma, &e), 0);
	seen sn = {0};
	ct_ckpt_manager_opts ob = {.check_restore = check_hook, .hook_ctx = &sn};
	ct_ckpt_manager *mb = state_ckpt_manager(dir, &b, &ob, &e);
	assert_non_null(mb);
	int64_t at;
	assert_int_equal(ct_ckpt_manager_restore_latest(mb, &at, &e), 1);
	assert_int_equal(at, a.step);
	assert_int_equal(sn.calls, 1);
	assert_string_equal(sn.blas, ct_blas_core_name());
	assert_string_equal(sn.optim, opt_name);
	assert_same_state(&a, &b);
	ct_ckpt_manager_free(ma);
	ct_ckpt_manager_free(mb);
	ct_train_state_release(&a);
	ct_train_state_release(&b);
}

static void test_state_roundtrip_adam(void **s)
{
	(void)s;
	roundtrip("adam", 0);
	roundtrip("adam", 1);
}
static void test_state_roundtrip_sgd(void **s)
{
	(void)s;
	roundtrip("sgd", 0);
	roundtrip("sgd", 1);
}

/* A refusing check_restore (the CLI's frozen config) leaves the state as it
 * was: nothing is applied before every check passed. */
static void test_state_check_refuses(void **s)
{
	(void)s;
	ct_train_state a, b, b0;
	make_state(&a, "adam");
	make_state(&b, "adam");
	make_state(&b0, "adam");
	scramble(&a, 1);
	scramble(&b, 2);
	scramble(&b0, 2);
	char dir[300];
	ckpt_dir(dir, sizeof dir, "refuse");
	ct_err e = {0};
	ct_ckpt_manager *ma = state_ckpt_manager(dir, &a, NULL, &e);
	assert_int_equal(ct_ckpt_manager_save(ma, a.step, &e), 0);
	assert_int_equal(ct_ckpt_manager_wait(ma, &e), 0);
	seen sn = {.refuse = 1};
	ct_ckpt_manager_opts ob = {.check_restore = check_hook, .hook_ctx = &sn};
	ct_ckpt_manager *mb = state_ckpt_manager(dir, &b, &ob, &e);
	int64_t at;
	assert_int_equal(ct_ckpt_manager_restore_latest(mb, &at, &e), CT_ECONFIG);
	assert_non_null(strstr(e.msg, "refused by the hook"));
	assert_int_equal(at, -1);
	assert_same_state(&b0, &b);
	ct_ckpt_manager_free(ma);
	ct_ckpt_manager_free(mb);
	ct_train_state_release(&a);
	ct_train_state_release(&b);
	ct_train_state_release(&b0);
}

static void test_state_detects_damage(void **s)
{
	(void)s;
	ct_train_state a;
	make_state(&a, "adamw");
	char dir[300], path[400];
	ckpt_dir(dir, sizeof dir, "damage");
	ct_err e = {0};
	ct_ckpt_manager *m = state_ckpt_manager(dir, &a, NULL, &e);
	assert_int_equal(ct_ckpt_manager_save(m, 5, &e), 0);
	ct_ckpt_manager_free(m);
	snprintf(path, sizeof path, "%s/ckpt-0000000005.h5", dir);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, 2000, SEEK_SET), 0);
	int c = fgetc(f);
	assert_int_equal(fseek(f, 2000, SEEK_SET), 0);
	fputc(c ^ 0x10, f);
	assert_int_equal(fclose(f), 0);
	m = state_ckpt_manager(dir, &a, NULL, &e);
	int64_t at;
	/* moved aside as *.corrupt, and no valid one is left: not a fresh start */
	assert_int_equal(ct_ckpt_manager_restore_latest(m, &at, &e), CT_ENOTFOUND);
	assert_int_equal(access(path, F_OK), -1);
	strcat(path, ".corrupt");
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(ct_ckpt_manager_restore_latest(m, &at, &e), CT_ENOTFOUND);
	ct_ckpt_manager_free(m);
	/* A checkpoint of another optimizer does not apply. */
	ct_train_state b;
	make_state(&b, "sgd");
	ckpt_dir(dir, sizeof dir, "other-optim");
	m = state_ckpt_manager(dir, &b, NULL, &e);
	assert_int_equal(ct_ckpt_manager_save(m, 3, &e), 0);
	ct_ckpt_manager_free(m);
	m = state_ckpt_manager(dir, &a, NULL, &e);
	assert_true(ct_ckpt_manager_restore_latest(m, &at, &e) < 0); /* no /optim/m/... for adamw */
	ct_ckpt_manager_free(m);
	ct_train_state_release(&a);
	ct_train_state_release(&b);
}

static void write_file(const char *path, const char *text)
{
	ct_err e = {0};
	assert_int_equal(ct_atomic_write_file(path, text, strlen(text), &e), 0);
}

static void test_metrics_truncate_on_resume(void **s)
{
	(void)s;
	char path[300];
	snprintf(path, sizeof path, "%s/metrics.csv", g_dir);
	write_file(path,
		   METRICS_HEADER "\n5,0,1.5,0.1,,,10.0,1.000,2,\n10,0,1.2,0.1,,,10.0,2.000,3,\n"
				  "15,1,1.1,0.1,,,10.0,3.000,4,0.1\n20,1,1.0,0.1");
	metrics m;
	ct_err e = {0};
	assert_int_equal(metrics_open(&m, path, 10, &e), 0);
	metrics_row r = {.step = 11,
			 .epoch = 0,
			 .loss = 0.5,
			 .lr = 0.25,
			 .has_val = 1,
			 .val_loss = 0.75,
			 .val_accuracy = 0.5,
			 .samples_per_sec = 1,
			 .elapsed_sec = 2,
			 .grad_norm = 0.125,
			 .has_ckpt = 1,
			 .ckpt_sec = 0.5};
	assert_int_equal(metrics_write(&m, &r, &e), 0);
	r.step = 12;
	r.has_val = 0;
	r.has_ckpt = 0;
	assert_int_equal(metrics_write(&m, &r, &e), 0);
	assert_int_equal(metrics_close(&m, &e), 0);
	char *text;
	size_t len;
	assert_int_equal(ct_file_read_all(path, 1 << 20, &text, &len, &e), 0);
	assert_string_equal(text, METRICS_HEADER
			    "\n5,0,1.5,0.1,,,10.0,1.000,2,\n10,0,1.2,0.1,,,10.0,2.000,3,\n"
			    "11,0,0.5,0.25,0.75,0.5,1.0,2.000,0.125,0.500000\n"
			    "12,0,0.5,0.25,,,1.0,2.000,0.125,\n");
	free(text);
	/* A new run starts the file over with only the header. */
	assert_int_equal(metrics_open(&m, path, -1, &e), 0);
	assert_int_equal(metrics_close(&m, &e), 0);
	assert_int_equal(ct_file_read_all(path, 1 << 20, &text, &len, &e), 0);
	assert_string_equal(text, METRICS_HEADER "\n");
	free(text);
}

/* A file written before grad_norm and ckpt_sec gets the new header and two
 * empty cells per kept row; rows past the resume step are still dropped. */
static void test_metrics_upgrade_v1(void **s)
{
	(void)s;
	char path[300];
	snprintf(path, sizeof path, "%s/metrics.csv", g_dir);
	write_file(path,
		   METRICS_HEADER_V1 "\n5,0,1.5,0.1,,,10.0,1.000\n10,0,1.2,0.1,0.9,0.5,10.0,2.000\n"
				     "15,1,1.1,0.1,,,10.0,3.000\n");
	metrics m;
	ct_err e = {0};
	assert_int_equal(metrics_open(&m, path, 10, &e), 0);
	assert_int_equal(metrics_close(&m, &e), 0);
	char *text;
	size_t len;
	assert_int_equal(ct_file_read_all(path, 1 << 20, &text, &len, &e), 0);
	assert_string_equal(text, METRICS_HEADER
			    "\n5,0,1.5,0.1,,,10.0,1.000,,\n10,0,1.2,0.1,0.9,0.5,10.0,2.000,,\n");
	free(text);
}

static void test_params_load_strict_and_report(void **s)
{
	(void)s;
	ct_params ps;
	ct_params_init(&ps);
	ct_params_add(&ps, "a.weight", 2, (int64_t[]){2, 3});
	ct_params_add(&ps, "a.bias", 1, (int64_t[]){2});
	ct_err e = {0};
	assert_int_equal(ct_params_alloc(&ps, &e), 0);
	float w[6] = {1, 2, 3, 4, 5, 6}, bad[4] = {0};
	ct_tdict d;
	ct_tdict_init(&d);
	assert_int_equal(ct_tdict_add(&d, "a.weight", CT_DT_F32, 2, (int64_t[]){2, 3}, w, 0, &e),
			 0);
	assert_int_equal(ct_tdict_add(&d, "extra", CT_DT_F32, 1, (int64_t[]){4}, bad, 0, &e), 0);
	assert_int_equal(ct_params_load_tdict(&ps, &d, 1, NULL, 0, &e), CT_EMISMATCH);
	assert_non_null(strstr(e.msg, "missing keys: [a.bias]"));
	assert_non_null(strstr(e.msg, "unexpected keys: [extra]"));
	assert_true(ct_params_data(&ps, 0)[0] == 0.0f); /* strict failure loads nothing */
	char report[512];
	assert_int_equal(ct_params_load_tdict(&ps, &d, 0, report, sizeof report, &e), 0);
	assert_memory_equal(ct_params_data(&ps, 0), w, sizeof w);
	assert_non_null(strstr(report, "missing keys: [a.bias]"));
	ct_tdict_release(&d);
	ct_tdict_init(&d);
	assert_int_equal(ct_tdict_add(&d, "a.weight", CT_DT_F32, 2, (int64_t[]){3, 2}, w, 0, &e),
			 0);
	assert_int_equal(ct_params_load_tdict(&ps, &d, 1, NULL, 0, &e), CT_EMISMATCH);
	assert_non_null(strstr(e.msg, "a.weight (file [3,2], model [2,3])"));
	ct_tdict_release(&d);
	ct_params_release(&ps);
}

int main(void)
{
	ct_log_set_level(CT_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_roundtrip_adam),
		cmocka_unit_test(test_state_roundtrip_sgd),
		cmocka_unit_test(test_state_check_refuses),
		cmocka_unit_test(test_state_detects_damage),
		cmocka_unit_test(test_metrics_truncate_on_resume),
		cmocka_unit_test(test_metrics_upgrade_v1),
		cmocka_unit_test(test_params_load_strict_and_report),
	};
	return cmocka_run_group_tests_name("train", tests, setup, teardown);
}
