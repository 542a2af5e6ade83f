/* bench_gemm.c — the sgemm-bound rate of a training step.
 *
 * Per linear layer a step issues y = x·Wᵀ (forward), dW = dYᵀ·X and, except
 * for the first layer (the input needs no gradient), dX = dY·W, with the
 * shapes and transposes of nn/ops.c.  Timing those calls alone, each as one
 * cblas_sgemm on OpenBLAS's own threads, gives the rate a step could reach if
 * everything else (bias, activation, loss, optimizer, batch copy, dispatch)
 * were free. */
#include "bench.h"

#include <cblas.h>
#include <string.h>

#include "../../util/rng.h"

typedef struct gemm_layer {
	int in, out;
	float *x, *w, *y, *dy, *dw, *dx;
} gemm_layer;

struct gemm_set {
	int n, batch;
	gemm_layer L[BENCH_MAX_LAYERS];
};

static void fill(float *p, size_t n, ct_rng *r)
{
	for (size_t i = 0; i < n; i++)
		p[i] = 0.1f * (2.0f * ct_rng_float(r) - 1.0f);
}

static int layer_alloc(gemm_layer *L, int batch, ct_rng *r, ct_err *e)
{
	size_t bi = (size_t)batch * (size_t)L->in, bo = (size_t)batch * (size_t)L->out;
	size_t oi = (size_t)L->out * (size_t)L->in;
	float **bufs[] = {&L->x, &L->w, &L->y, &L->dy, &L->dw, &L->dx};
	size_t lens[] = {bi, oi, bo, bo, oi, bi};
	for (int i = 0; i < 6; i++) {
		if (!(*bufs[i] = ct_aligned_alloc(64, lens[i] * sizeof(float))))
			return ct_errf(e, CT_ENOMEM, "out of memory for sgemm buffers");
		fill(*bufs[i], lens[i], r);
	}
	return 0;
}

void gemm_set_free(gemm_set *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->n; i++) {
		gemm_layer *L = &g->L[i];
		float *bufs[] = {L->x, L->w, L->y, L->dy, L->dw, L->dx};
		for (int k = 0; k < 6; k++)
			free(bufs[k]);
	}
	free(g);
}

gemm_set *gemm_set_new(const bench_opts *o, ct_err *e)
{
	gemm_set *g = calloc(1, sizeof *g);
	if (!g) {
		ct_errf(e, CT_ENOMEM, "out of memory for sgemm buffers");
		return NULL;
	}
	g->batch = o->batch;
	ct_rng r;
	ct_rng_seed(&r, 2, CT_RNG_STREAM_DATA);
	for (int i = 0; i + 1 < o->n_sizes; i++) {
		g->L[g->n].in = o->sizes[i];
		g->L[g->n].out = o->sizes[i + 1];
		g->n++; /* counted first, so that gemm_set_free frees a partial layer */
		if (layer_alloc(&g->L[i], o->batch, &r, e) < 0) {
			gemm_set_free(g);
			return NULL;
		}
	}
	return g;
}

/* One step's products, forward then backward; all_dx adds the first layer's dX. */
static int64_t pass(gemm_set *g, int all_dx)
{
	int b = g->batch;
	for (int i = 0; i < g->n; i++) {
		gemm_layer *L = &g->L[i];
		/* beta = 1: ops.c copies the bias rows into y first */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, L->out, L->in, 1.0f, L->x,
			    L->in, L->w, L->in, 1.0f, L->y, L->out);
	}
	for (int i = g->n - 1; i >= 0; i--) {
		gemm_layer *L = &g->L[i];
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L->out, L->in, b, 1.0f, L->dy,
			    L->out, L->x, L->in, 0.0f, L->dw, L->in);
		if (i > 0 || all_dx)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, L->in, L->out, 1.0f,
				    L->dy, L->out, L->w, L->in, 0.0f, L->dx, L->in);
	}
	return b;
}

int64_t gemm_set_unit(void *g) { return pass(g, 0); }
int64_t gemm_set_unit_all_dx(void *g) { return pass(g, 1); }

double bench_step_flops(const bench_opts *o, int all_dx)
{
	double f = 0.0;
	for (int i = 0; i + 1 < o->n_sizes; i++)
		f += 2.0 * o->batch * o->sizes[i] * o->sizes[i + 1] * (i > 0 || all_dx ? 3 : 2);
	return f;
}

/* Median samples/s over o->windows windows of fn. */
static double median_rate(bench_unit_fn fn, gemm_set *g, const bench_opts *o, double *rates)
{
	bench_warm(fn, g, o->warmup_sec);
	for (int i = 0; i < o->windows; i++) {
		bench_window w = bench_run_window(fn, g, o->window_sec, o->min_steps);
		rates[i] = (double)w.samples / w.wall;
	}
	double tmp[BENCH_MAX_WINDOWS];
	memcpy(tmp, rates, (size_t)o->windows * sizeof *tmp);
	return bench_median(tmp, o->windows);
}

int bench_cmd_sgemm(const bench_opts *o, ct_err *e)
{
	const char *core = bench_blas_setup(o->threads);
	gemm_set *g = gemm_set_new(o, e);
	if (!g)
		return e->code;
	double rates[BENCH_MAX_WINDOWS], all[BENCH_MAX_WINDOWS];
	double sps = median_rate(gemm_set_unit, g, o, rates);
	double sps_all = median_rate(gemm_set_unit_all_dx, g, o, all);
	printf("{\"kind\":\"sgemm\",\"impl\":\"ctrain\",\"layers\":\"%s\",\"batch\":%d,"
	       "\"threads\":%d,\"blas_core\":\"%s\",",
	       o->layers, o->batch, o->threads, core);
	bench_json_array(stdout, "rates", rates, o->windows);
	printf(",\"median_sps\":%.6g,\"gflops\":%.4g,\"median_sps_with_input_grad\":%.6g}\n", sps,
	       sps * bench_step_flops(o, 0) / o->batch * 1e-9, sps_all);
	gemm_set_free(g);
	return 0;
}
