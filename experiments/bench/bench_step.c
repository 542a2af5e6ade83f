/* bench_step.c — times ctrain training steps exactly as train/trainer.c runs
 * them: ct_loader_next copies a shuffled batch into the graph's input,
 * ct_graph_forward, ct_graph_loss, ct_graph_backward, ct_optim_step.  See bench.h for
 * the subcommands and their output. */
#include "bench.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "../../data/dataset.h"
#include "../../data/loader.h"
#include "../../nn/mlp.h"
#include "../../nn/ops.h"
#include "../../nn/optim.h"
#include "../../util/log.h"

typedef struct step_ctx {
	ct_dataset ds;
	ct_loader ld;
	ct_mlp m;
	ct_optim opt;
	int32_t *labels;
	float *xin;
	double lr, loss, first_loss;
	int64_t steps;
} step_ctx;

static void step_release(step_ctx *c)
{
	ct_optim_release(&c->opt);
	ct_mlp_release(&c->m);
	ct_loader_release(&c->ld);
	ct_dataset_release(&c->ds);
	free(c->labels);
}

/* Uniform random features and labels of the benchmark's shape (the values do
 * not change the speed), rows a multiple of the batch. */
static int make_data(step_ctx *c, const bench_opts *o, ct_err *e)
{
	int d = o->sizes[0], k = o->sizes[o->n_sizes - 1];
	int rc = ct_dataset_alloc(&c->ds, o->rows, d, 1, "bench data", e);
	if (rc < 0)
		return rc;
	ct_rng r;
	ct_rng_seed(&r, 1, CT_RNG_STREAM_DATA);
	for (int64_t i = 0; i < o->rows * d; i++)
		c->ds.x[i] = 2.0f * ct_rng_float(&r) - 1.0f;
	for (int64_t i = 0; i < o->rows; i++)
		c->ds.y[i] = (int32_t)ct_rng_below(&r, (uint64_t)k);
	c->ds.n_classes = k;
	return 0;
}

/* The model with nn.Linear's initialisation, torch.optim's hyper-parameters
 * (SGD lr 0.01 momentum 0.9; Adam lr 1e-3, betas 0.9/0.999, eps 1e-8). */
static int step_init(step_ctx *c, const bench_opts *o, ct_err *e)
{
	memset(c, 0, sizeof *c);
	int adam = strcmp(o->optim, "adam") == 0;
	ct_optim_hparams hp = {.momentum = adam ? 0.0 : 0.9, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
	c->lr = adam ? 1e-3 : 0.01;
	int rc = make_data(c, o, e);
	if (rc == 0)
		rc = ct_loader_init(&c->ld, &c->ds, o->batch, 1, 1, e);
	if (rc == 0)
		rc = ct_mlp_init(&c->m, o->sizes, o->n_sizes, CT_ACT_RELU, 0.0f, o->batch, e);
	if (rc == 0)
		rc = ct_optim_init(&c->opt, adam ? CT_OPT_ADAM : CT_OPT_SGD, c->m.ps.n, &hp, e);
	if (rc == 0 && !(c->labels = calloc((size_t)o->batch, sizeof *c->labels)))
		rc = ct_errf(e, CT_ENOMEM, "out of memory for labels");
	if (rc < 0) {
		step_release(c);
		return rc;
	}
	ct_rng ir;
	ct_rng_seed(&ir, 1, CT_RNG_STREAM_INIT);
	ct_mlp_init_weights(&c->m, &ir);
	c->xin = ct_graph_value(c->m.train.g, c->m.train.in);
	ct_graph_set_labels(c->m.train.g, c->m.train.loss, c->labels);
	return 0;
}

/* One training step as trainer.c's train_step does it; returns the rows used. */
static int64_t one_step(void *ctx)
{
	step_ctx *c = ctx;
	int rows = ct_loader_next(&c->ld, c->xin, c->labels);
	if (rows == 0) /* end of epoch: the loader moved on to the next one */
		rows = ct_loader_next(&c->ld, c->xin, c->labels);
	ct_mlp_graph *mg = &c->m.train;
	ct_graph_set_rows(mg->g, rows);
	ct_graph_forward(mg->g);
	c->loss = ct_graph_loss(mg->g, mg->loss);
	ct_graph_backward(mg->g, mg->loss);
	ct_optim_step(&c->opt, c->m.ps.data, c->m.ps.grad, c->lr);
	if (c->steps++ == 0)
		c->first_loss = c->loss;
	return rows;
}

/* Kept out of line so that callgrind --toggle-collect=run_steps profiles
 * exactly the steps and nothing of the set-up. */
__attribute__((noinline)) static int64_t run_steps(step_ctx *c, int64_t n)
{
	int64_t samples = 0;
	for (int64_t i = 0; i < n; i++)
		samples += one_step(c);
	return samples;
}

/* A broken step would make every figure meaningless. */
static int check_loss(const step_ctx *c, ct_err *e)
{
	if (isfinite(c->loss))
		return 0;
	return ct_errf(e, CT_ECORRUPT, "step: loss is %g after %lld steps", c->loss,
		       (long long)c->steps);
}

static void print_step(const bench_opts *o, const step_ctx *c, double *rates, double *cpu, int n,
		       const char *core)
{
	printf("{\"kind\":\"step\",\"impl\":\"ctrain\",\"layers\":\"%s\",\"optim\":\"%s\","
	       "\"batch\":%d,\"threads\":%d,\"deterministic\":%d,\"blas_core\":\"%s\","
	       "\"steps\":%lld,\"loss_first\":%.6g,\"loss_last\":%.6g,",
	       o->layers, o->optim, o->batch, o->threads, o->deterministic, core,
	       (long long)c->steps, c->first_loss, c->loss);
	bench_json_array(stdout, "rates", rates, n);
	putchar(',');
	bench_json_array(stdout, "cpu_rates", cpu, n);
	printf(",\"median_sps\":%.6g}\n", bench_median(rates, n));
}

static const char *setup(const bench_opts *o, step_ctx *c, ct_err *e)
{
	const char *core = bench_threads_setup(o->threads, o->deterministic);
	if (!core) {
		ct_errf(e, CT_ENOMEM, "cannot start %d worker threads", o->threads);
		return NULL;
	}
	return step_init(c, o, e) < 0 ? NULL : core;
}

int bench_cmd_step(const bench_opts *o, ct_err *e)
{
	step_ctx c;
	const char *core = setup(o, &c, e);
	if (!core)
		return e->code;
	double rates[BENCH_MAX_WINDOWS], cpu[BENCH_MAX_WINDOWS];
	int n = 0;
	if (o->fixed_steps > 0) { /* profiling mode: a few warm-up steps, then exactly N */
		for (int i = 0; i < 10; i++)
			one_step(&c);
		double t0 = bench_now(), c0 = bench_cpu_now();
		int64_t samples = run_steps(&c, o->fixed_steps);
		rates[n] = (double)samples / (bench_now() - t0);
		cpu[n++] = (double)samples / (bench_cpu_now() - c0);
	} else {
		bench_warm(one_step, &c, o->warmup_sec);
		for (; n < o->windows; n++) {
			bench_window w = bench_run_window(one_step, &c, o->window_sec, o->min_steps);
			rates[n] = (double)w.samples / w.wall;
			cpu[n] = (double)w.samples / w.cpu;
		}
	}
	int rc = check_loss(&c, e);
	if (rc == 0)
		print_step(o, &c, rates, cpu, n, core);
	step_release(&c);
	return rc;
}

/* ---- serve: windows on demand, for duel.py ---------------------------------- */

static void print_window(const bench_window *w)
{
	printf("{\"wall\":%.9g,\"cpu\":%.9g,\"samples\":%lld,\"units\":%lld}\n", w->wall, w->cpu,
	       (long long)w->samples, (long long)w->units);
}

/* The sgemm-bound window runs the products as single OpenBLAS calls on
 * OpenBLAS's own threads, then restores the step's threading. */
static bench_window gemm_window(const bench_opts *o, gemm_set *g)
{
	openblas_set_num_threads(o->threads);
	bench_window w = bench_run_window(gemm_set_unit, g, o->window_sec, o->min_steps);
	openblas_set_num_threads(ct_ops_deterministic() ? 1 : o->threads);
	return w;
}

static void serve_loop(const bench_opts *o, step_ctx *c, gemm_set *g)
{
	char line[64];
	while (fgets(line, sizeof line, stdin) && line[0] != 'q') {
		if (line[0] == 'w') {
			bench_warm(one_step, c, o->warmup_sec);
			openblas_set_num_threads(o->threads);
			bench_warm(gemm_set_unit, g, o->warmup_sec / 2);
			openblas_set_num_threads(ct_ops_deterministic() ? 1 : o->threads);
			puts("{\"ok\":1}");
		} else if (line[0] == 's') {
			bench_window w = bench_run_window(one_step, c, o->window_sec, o->min_steps);
			print_window(&w);
		} else if (line[0] == 'g') {
			bench_window w = gemm_window(o, g);
			print_window(&w);
		} else {
			puts("{\"error\":\"unknown command\"}");
		}
		fflush(stdout);
	}
}

int bench_cmd_serve(const bench_opts *o, ct_err *e)
{
	step_ctx c;
	const char *core = setup(o, &c, e);
	if (!core)
		return e->code;
	gemm_set *g = gemm_set_new(o, e);
	int rc = g ? 0 : e->code;
	if (rc == 0) {
		serve_loop(o, &c, g);
		rc = check_loss(&c, e);
	}
	if (rc == 0)
		printf("{\"kind\":\"end\",\"blas_core\":\"%s\",\"steps\":%lld,\"loss_first\":%.6g,"
		       "\"loss_last\":%.6g}\n",
		       core, (long long)c.steps, c.first_loss, c.loss);
	gemm_set_free(g);
	step_release(&c);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(const bench_opts *, ct_err *);
	} cmds[] = {{"info", bench_cmd_info},   {"step", bench_cmd_step}, {"sgemm", bench_cmd_sgemm},
		    {"ckpt", bench_cmd_ckpt},   {"serve", bench_cmd_serve}};
	bench_opts o;
	ct_err e = {0};
	ct_log_set_level(CT_LOG_WARN);
	int rc = bench_parse(&o, argc, argv, &e);
	if (rc == 0) {
		int (*fn)(const bench_opts *, ct_err *) = NULL;
		for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
			if (strcmp(o.cmd, cmds[i].name) == 0)
				fn = cmds[i].fn;
		rc = fn ? fn(&o, &e)
			: ct_errf(&e, CT_EUSAGE, "unknown subcommand %s (info|step|sgemm|ckpt|serve)",
				  o.cmd);
	}
	if (rc < 0)
		fprintf(stderr, "bench_step: %s\n", e.msg);
	return rc == CT_EUSAGE ? 2 : rc < 0 ? 1 : 0;
}
