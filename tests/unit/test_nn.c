/* Gradient checks: every op and whole models (MLP with each activation and
 * loss, residual, concatenated inputs, shared weights, dropout) against
 * central finite differences of a double-precision reference evaluator that
 * mirrors the graph node by node. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../nn/graph.h"
#include "../../nn/ops.h"
#include "../../nn/params.h"
#include "../../util/rng.h"

/* ---- a tiny double-precision interpreter of the same node list ---------- */
enum { R_IN, R_LIN, R_ACT, R_DROP, R_ADD, R_CAT, R_XENT, R_MSE };
typedef struct rnode {
	int op, a, b, w, bias, act, cols;
	float p;
} rnode;

typedef struct model {
	ct_params ps;
	ct_graph *g;
	rnode r[32];
	int id[32]; /* graph node id for each rnode */
	int n, rows, loss;
	int32_t labels[8];
	float drop_mask[8][256]; /* per dropout node: the mask the graph used */
} model;

static double ref_act(int k, double x)
{
	switch (k) {
	case CT_ACT_RELU: return x > 0 ? x : 0;
	case CT_ACT_TANH: return tanh(x);
	case CT_ACT_SIGMOID: return 1 / (1 + exp(-x));
	default: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
	}
}

/* Evaluates the loss in double with parameters theta (same layout as ps.data)
 * and inputs xin[node] (double copies). */
static double ref_loss(model *m, const double *theta, double *const *xin)
{
	double *val[32];
	int rows = m->rows;
	double loss = 0;
	int ndrop = 0;
	for (int i = 0; i < m->n; i++) {
		rnode *nd = &m->r[i];
		val[i] = calloc((size_t)rows * (size_t)nd->cols + 1, sizeof(double));
		double *y = val[i];
		double *a = nd->a >= 0 ? val[nd->a] : NULL, *b = nd->b >= 0 ? val[nd->b] : NULL;
		int ca = nd->a >= 0 ? m->r[nd->a].cols : 0;
		size_t n = (size_t)rows * (size_t)nd->cols;
		switch (nd->op) {
		case R_IN: memcpy(y, xin[i], n * sizeof(double)); break;
		case R_LIN: {
			const double *W = theta + m->ps.v[nd->w].offset;
			const double *B = nd->bias >= 0 ? theta + m->ps.v[nd->bias].offset : NULL;
			for (int r = 0; r < rows; r++)
				for (int o = 0; o < nd->cols; o++) {
					double s = B ? B[o] : 0;
					for (int k = 0; k < ca; k++)
						s += a[r * ca + k] * W[o * ca + k];
					y[r * nd->cols + o] = s;
				}
			break;
		}
		case R_ACT:
			for (size_t k = 0; k < n; k++)
				y[k] = ref_act(nd->act, a[k]);
			break;
		case R_DROP:
			for (size_t k = 0; k < n; k++)
				y[k] = a[k] * (double)m->drop_mask[ndrop][k];
			ndrop++;
			break;
		case R_ADD:
			for (size_t k = 0; k < n; k++)
				y[k] = a[k] + b[k];
			break;
		case R_CAT: {
			int cb = m->r[nd->b].cols;
			for (int r = 0; r < rows; r++) {
				for (int k = 0; k < ca; k++)
					y[r * (ca + cb) + k] = a[r * ca + k];
				for (int k = 0; k < cb; k++)
					y[r * (ca + cb) + ca + k] = b[r * cb + k];
			}
			break;
		}
		case R_XENT:
			for (int r = 0; r < rows; r++) {
				double mx = a[r * ca], s = 0;
				for (int k = 1; k < ca; k++)
					mx = fmax(mx, a[r * ca + k]);
				for (int k = 0; k < ca; k++)
					s += exp(a[r * ca + k] - mx);
				/* cppcheck-suppress invalidFunctionArg ; s >= 1: the max's own term is exp(0) */
				loss += (mx + log(s) - a[r * ca + m->labels[r]]) / rows;
			}
			break;
		case R_MSE:
			for (size_t k = 0; k < (size_t)rows * (size_t)ca; k++)
				loss += (a[k] - b[k]) * (a[k] - b[k]) / ((double)rows * ca);
			break;
		}
	}
	for (int i = 0; i < m->n; i++)
		free(val[i]);
	return loss;
}

static int add_node(model *m, rnode r, int gid)
{
	m->r[m->n] = r;
	m->id[m->n] = gid;
	return m->n++;
}

static int in(model *m, int cols)
{
	return add_node(m, (rnode){R_IN, -1, -1, -1, -1, 0, cols, 0}, ct_graph_input(m->g, cols));
}
static int lin(model *m, int x, int w, int b)
{
	int cols = (int)m->ps.v[w].shape[0];
	return add_node(m, (rnode){R_LIN, x, -1, w, b, 0, cols, 0},
			ct_graph_linear(m->g, m->id[x], w, b));
}
static int act(model *m, int x, int k)
{
	return add_node(m, (rnode){R_ACT, x, -1, -1, -1, k, m->r[x].cols, 0},
			ct_graph_act(m->g, m->id[x], k));
}
static int drop(model *m, int x, float p)
{
	return add_node(m, (rnode){R_DROP, x, -1, -1, -1, 0, m->r[x].cols, p},
			ct_graph_dropout(m->g, m->id[x], p));
}
static int add2(model *m, int a, int b)
{
	return add_node(m, (rnode){R_ADD, a, b, -1, -1, 0, m->r[a].cols, 0},
			ct_graph_add(m->g, m->id[a], m->id[b]));
}
static int cat(model *m, int a, int b)
{
	return add_node(m, (rnode){R_CAT, a, b, -1, -1, 0, m->r[a].cols + m->r[b].cols, 0},
			ct_graph_concat(m->g, m->id[a], m->id[b]));
}
static int xent(model *m, int z)
{
	return m->loss = add_node(m, (rnode){R_XENT, z, -1, -1, -1, 0, 1, 0},
				  ct_graph_softmax_xent(m->g, m->id[z]));
}
static int mse(model *m, int p, int t)
{
	return m->loss = add_node(m, (rnode){R_MSE, p, t, -1, -1, 0, 1, 0},
				  ct_graph_mse(m->g, m->id[p], m->id[t]));
}

static void model_begin(model *m, int rows)
{
	memset(m, 0, sizeof *m);
	ct_params_init(&m->ps);
	m->rows = rows;
}

static int pw(model *m, const char *name, int out, int inn)
{
	return ct_params_add(&m->ps, name, 2, (int64_t[]){out, inn});
}
static int pb(model *m, const char *name, int out)
{
	return ct_params_add(&m->ps, name, 1, (int64_t[]){out});
}

/* After params are registered: allocate, create the graph. */
static void model_alloc(model *m)
{
	ct_err e = {0};
	assert_int_equal(ct_params_alloc(&m->ps, &e), 0);
	m->g = ct_graph_new(&m->ps, m->rows);
	assert_non_null(m->g);
}

/* Fills parameters and inputs, runs forward/backward, and compares every
 * parameter gradient (and input gradients where requested) with central
 * differences of the double reference. */
static void check_model(model *m, uint64_t seed)
{
	ct_err e = {0};
	assert_int_equal(ct_graph_finalize(m->g, &e), 0);
	ct_rng r;
	ct_rng_seed(&r, seed, 99);
	for (size_t k = 0; k < m->ps.n; k++)
		m->ps.data[k] = (float)(ct_rng_double(&r) * 1.6 - 0.8);
	double *xin[32] = {0};
	for (int i = 0; i < m->n; i++) {
		if (m->r[i].op != R_IN)
			continue;
		size_t n = (size_t)m->rows * (size_t)m->r[i].cols;
		xin[i] = malloc(n * sizeof(double));
		float *gx = ct_graph_value(m->g, m->id[i]);
		for (size_t k = 0; k < n; k++) {
			gx[k] = (float)(ct_rng_double(&r) * 2 - 1);
			xin[i][k] = (double)gx[k];
		}
	}
	if (m->r[m->loss].op == R_XENT) {
		int classes = m->r[m->r[m->loss].a].cols;
		for (int k = 0; k < m->rows; k++)
			m->labels[k] = (int32_t)ct_rng_below(&r, (uint64_t)classes);
		ct_graph_set_labels(m->g, m->id[m->loss], m->labels);
	}
	ct_rng drng;
	ct_rng_seed(&drng, seed, CT_RNG_STREAM_DROPOUT);
	ct_graph_set_dropout_rng(m->g, &drng);
	/* Record the dropout masks the graph will draw: same stream, same order. */
	ct_rng mrng = drng;
	int nd = 0;
	for (int i = 0; i < m->n; i++)
		if (m->r[i].op == R_DROP) {
			size_t n = (size_t)m->rows * (size_t)m->r[i].cols;
			for (size_t k = 0; k < n; k++)
				m->drop_mask[nd][k] = ct_rng_float(&mrng) >= m->r[i].p
							      ? 1.0f / (1.0f - m->r[i].p)
							      : 0.0f;
			nd++;
		}
	for (size_t k = 0; k < m->ps.n; k++)
		m->ps.grad[k] = 12345.0f; /* backward must overwrite, not add to, stale grads */
	ct_graph_forward(m->g);
	ct_graph_backward(m->g, m->id[m->loss]);

	double *theta = malloc(m->ps.n * sizeof(double));
	for (size_t k = 0; k < m->ps.n; k++)
		theta[k] = (double)m->ps.data[k];
	double l0 = ref_loss(m, theta, xin);
	assert_true(fabs(l0 - ct_graph_loss(m->g, m->id[m->loss])) < 1e-4 * (1 + fabs(l0)));
	const double h = 1e-6;
	for (int v = 0; v < m->ps.nv; v++) {
		const ct_param_view *pv = &m->ps.v[v];
		for (size_t k = 0; k < pv->numel; k++) {
			size_t idx = pv->offset + k;
			double save = theta[idx];
			theta[idx] = save + h;
			double lp = ref_loss(m, theta, xin);
			theta[idx] = save - h;
			double lm = ref_loss(m, theta, xin);
			theta[idx] = save;
			double num = (lp - lm) / (2 * h), ana = (double)m->ps.grad[idx];
			if (fabs(num - ana) > 1e-3 * fmax(1.0, fabs(num)))
				fail_msg("%s[%zu]: analytic %.7g, numeric %.7g", pv->name, k, ana,
					 num);
		}
	}
	for (int i = 0; i < m->n; i++) {
		float *gg = m->r[i].op == R_IN ? ct_graph_grad(m->g, m->id[i]) : NULL;
		if (!gg)
			continue;
		size_t n = (size_t)m->rows * (size_t)m->r[i].cols;
		for (size_t k = 0; k < n; k++) {
			double save = xin[i][k];
			xin[i][k] = save + h;
			double lp = ref_loss(m, theta, xin);
			xin[i][k] = save - h;
			double lm = ref_loss(m, theta, xin);
			xin[i][k] = save;
			double num = (lp - lm) / (2 * h);
			if (fabs(num - (double)gg[k]) > 1e-3 * fmax(1.0, fabs(num)))
				fail_msg("input %d[%zu]: analytic %.7g, numeric %.7g", i, k,
					 (double)gg[k], num);
		}
	}
	free(theta);
	for (int i = 0; i < m->n; i++)
		free(xin[i]);
	ct_graph_free(m->g);
	ct_params_release(&m->ps);
}

static void mlp_case(int activation, int use_mse, float p)
{
	model m;
	model_begin(&m, 5);
	int w0 = pw(&m, "layers.0.weight", 7, 4), b0 = pb(&m, "layers.0.bias", 7);
	int w1 = pw(&m, "layers.1.weight", 6, 7), b1 = pb(&m, "layers.1.bias", 6);
	int w2 = pw(&m, "layers.2.weight", 3, 6), b2 = pb(&m, "layers.2.bias", 3);
	model_alloc(&m);
	int x = in(&m, 4);
	int h = act(&m, lin(&m, x, w0, b0), activation);
	if (p > 0)
		h = drop(&m, h, p);
	h = act(&m, lin(&m, h, w1, b1), activation);
	int z = lin(&m, h, w2, b2);
	if (use_mse)
		mse(&m, z, in(&m, 3));
	else
		xent(&m, z);
	check_model(&m, 7 + (uint64_t)activation);
}

static void test_mlp_relu(void **s)
{
	(void)s;
	mlp_case(CT_ACT_RELU, 0, 0);
}
static void test_mlp_tanh(void **s)
{
	(void)s;
	mlp_case(CT_ACT_TANH, 0, 0);
}
static void test_mlp_sigmoid(void **s)
{
	(void)s;
	mlp_case(CT_ACT_SIGMOID, 0, 0);
}
static void test_mlp_gelu(void **s)
{
	(void)s;
	mlp_case(CT_ACT_GELU, 0, 0);
}
static void test_mlp_mse(void **s)
{
	(void)s;
	mlp_case(CT_ACT_TANH, 1, 0);
}
static void test_mlp_dropout(void **s)
{
	(void)s;
	mlp_case(CT_ACT_GELU, 0, 0.3f);
}

static void test_residual_and_input_grad(void **s)
{
	(void)s;
	model m;
	model_begin(&m, 4);
	int w0 = pw(&m, "enc.weight", 5, 3), b0 = pb(&m, "enc.bias", 5);
	int w1 = pw(&m, "res.weight", 5, 5), b1 = pb(&m, "res.bias", 5);
	int w2 = pw(&m, "head.weight", 4, 5);
	model_alloc(&m);
	int x = in(&m, 3);
	ct_graph_input_grad(m.g, m.id[x]);
	int h = act(&m, lin(&m, x, w0, b0), CT_ACT_TANH);
	int r = add2(&m, h, act(&m, lin(&m, h, w1, b1), CT_ACT_RELU)); /* h used twice */
	xent(&m, lin(&m, r, w2, -1));
	check_model(&m, 3);
}

static void test_concat_two_inputs(void **s)
{
	(void)s;
	model m;
	model_begin(&m, 3);
	int wa = pw(&m, "a.weight", 4, 2), wb = pw(&m, "b.weight", 3, 5);
	int wh = pw(&m, "head.weight", 2, 7), bh = pb(&m, "head.bias", 2);
	model_alloc(&m);
	int xa = in(&m, 2), xb = in(&m, 5);
	ct_graph_input_grad(m.g, m.id[xb]);
	int c = cat(&m, act(&m, lin(&m, xa, wa, -1), CT_ACT_SIGMOID),
		    act(&m, lin(&m, xb, wb, -1), CT_ACT_GELU));
	mse(&m, lin(&m, c, wh, bh), in(&m, 2));
	check_model(&m, 4);
}

static void test_shared_weights(void **s)
{
	(void)s;
	model m;
	model_begin(&m, 4);
	int w = pw(&m, "shared.weight", 4, 4), b = pb(&m, "shared.bias", 4);
	int wh = pw(&m, "head.weight", 3, 4);
	model_alloc(&m);
	int x = in(&m, 4);
	int h1 = act(&m, lin(&m, x, w, b), CT_ACT_TANH);
	int h2 = act(&m, lin(&m, h1, w, b), CT_ACT_TANH); /* same W and b again */
	xent(&m, lin(&m, h2, wh, -1));
	check_model(&m, 5);
}

static void test_dead_branch_rejected(void **s)
{
	(void)s;
	ct_params ps;
	ct_params_init(&ps);
	int w = ct_params_add(&ps, "w", 2, (int64_t[]){2, 2});
	ct_err e = {0};
	assert_int_equal(ct_params_alloc(&ps, &e), 0);
	ct_graph *g = ct_graph_new(&ps, 2);
	int x = ct_graph_input(g, 2);
	ct_graph_linear(g, x, w, -1); /* never used */
	ct_graph_softmax_xent(g, ct_graph_linear(g, x, w, -1));
	assert_int_equal(ct_graph_finalize(g, &e), CT_EMISMATCH);
	assert_non_null(strstr(e.msg, "not used"));
	ct_graph_free(g);
	ct_params_release(&ps);
}

static void test_xent_stable_for_huge_logits(void **s)
{
	(void)s;
	float z[3] = {1000.0f, -1000.0f, 999.0f}, p[3];
	int32_t y = 1;
	double l = ct_softmax_xent_forward(p, z, &y, 1, 3);
	assert_true(isfinite(l));
	assert_true(fabs(l - (2000.0 + log1p(exp(-1.0)))) < 1e-2);
	assert_true(fabs((double)(p[0] + p[1] + p[2] - 1.0f)) < 1e-6);
}

/* The products' partition (row blocks, or column blocks for a small batch
 * through a wide layer): results equal a double-precision reference, and 1
 * and 3 threads give the same bytes, with and without accumulation. */
typedef struct lin_case {
	int rows, in, out;
} lin_case;

typedef struct lin_out {
	float *y, *dx, *dw, *db;
} lin_out;

static void lin_run(const lin_case *c, const float *x, const float *w, const float *b,
		    const float *dy, int threads, int accum, lin_out *o)
{
	assert_int_equal(ct_ops_set_threads(threads, 1), 0);
	size_t ny = (size_t)c->rows * (size_t)c->out, nx = (size_t)c->rows * (size_t)c->in;
	size_t nw = (size_t)c->out * (size_t)c->in;
	o->y = calloc(ny, sizeof *o->y);
	o->dx = calloc(nx, sizeof *o->dx);
	o->dw = calloc(nw, sizeof *o->dw);
	o->db = calloc((size_t)c->out, sizeof *o->db);
	assert_true(o->y && o->dx && o->dw && o->db);
	for (size_t i = 0; accum && i < nw; i++)
		o->dw[i] = 0.5f; /* accumulated onto */
	ct_linear_forward(o->y, x, w, b, c->rows, c->in, c->out);
	ct_linear_backward(o->dx, o->dw, o->db, dy, x, w, c->rows, c->in, c->out, 0, accum, 0);
}

static void lin_free(lin_out *o)
{
	free(o->y);
	free(o->dx);
	free(o->dw);
	free(o->db);
}

static void expect_close(double ref, float got)
{
	if (fabs(ref - (double)got) > 1e-4 * (1.0 + fabs(ref)))
		fail_msg("got %.9g, reference %.9g", (double)got, ref);
}

static void lin_check_reference(const lin_case *c, const float *x, const float *w, const float *b,
				const float *dy, int accum, const lin_out *o)
{
	for (int r = 0; r < c->rows; r += 7)
		for (int j = 0; j < c->out; j += 5) {
			double y = (double)b[j];
			for (int k = 0; k < c->in; k++)
				y += (double)x[r * c->in + k] * (double)w[j * c->in + k];
			expect_close(y, o->y[r * c->out + j]);
		}
	for (int j = 0; j < c->out; j += 5)
		for (int k = 0; k < c->in; k += 7) {
			double g = accum ? 0.5 : 0.0;
			for (int r = 0; r < c->rows; r++)
				g += (double)dy[r * c->out + j] * (double)x[r * c->in + k];
			expect_close(g, o->dw[j * c->in + k]);
		}
	for (int r = 0; r < c->rows; r += 7)
		for (int k = 0; k < c->in; k += 5) {
			double g = 0.0;
			for (int j = 0; j < c->out; j++)
				g += (double)dy[r * c->out + j] * (double)w[j * c->in + k];
			expect_close(g, o->dx[r * c->in + k]);
		}
}

static void test_linear_partition(void **s)
{
	(void)s;
	/* forward and dX by columns, dW by rows; everything by rows; one block */
	const lin_case cases[] = {{40, 700, 600}, {600, 50, 30}, {100, 60, 70}};
	ct_rng r;
	ct_rng_seed(&r, 9, 0);
	for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
		const lin_case *c = &cases[ci];
		size_t nx = (size_t)c->rows * (size_t)c->in, nw = (size_t)c->out * (size_t)c->in;
		size_t ny = (size_t)c->rows * (size_t)c->out;
		float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w);
		float *b = malloc((size_t)c->out * sizeof *b), *dy = malloc(ny * sizeof *dy);
		assert_true(x && w && b && dy);
		for (size_t i = 0; i < nx; i++)
			x[i] = 2.0f * ct_rng_float(&r) - 1.0f;
		for (size_t i = 0; i < nw; i++)
			w[i] = 0.1f * (2.0f * ct_rng_float(&r) - 1.0f);
		for (int i = 0; i < c->out; i++)
			b[i] = ct_rng_float(&r);
		for (size_t i = 0; i < ny; i++)
			dy[i] = 2.0f * ct_rng_float(&r) - 1.0f;
		for (int accum = 0; accum < 2; accum++) {
			lin_out one, three;
			lin_run(c, x, w, b, dy, 1, accum, &one);
			lin_run(c, x, w, b, dy, 3, accum, &three);
			lin_check_reference(c, x, w, b, dy, accum, &one);
			assert_memory_equal(one.y, three.y, ny * sizeof(float));
			assert_memory_equal(one.dx, three.dx, nx * sizeof(float));
			assert_memory_equal(one.dw, three.dw, nw * sizeof(float));
			assert_memory_equal(one.db, three.db, (size_t)c->out * sizeof(float));
			lin_free(&one);
			lin_free(&three);
		}
		free(x);
		free(w);
		free(b);
		free(dy);
	}
	assert_int_equal(ct_ops_set_threads(1, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mlp_relu),
		cmocka_unit_test(test_mlp_tanh),
		cmocka_unit_test(test_mlp_sigmoid),
		cmocka_unit_test(test_mlp_gelu),
		cmocka_unit_test(test_mlp_mse),
		cmocka_unit_test(test_mlp_dropout),
		cmocka_unit_test(test_residual_and_input_grad),
		cmocka_unit_test(test_concat_two_inputs),
		cmocka_unit_test(test_shared_weights),
		cmocka_unit_test(test_dead_branch_rejected),
		cmocka_unit_test(test_xent_stable_for_huge_logits),
		cmocka_unit_test(test_linear_partition),
	};
	return cmocka_run_group_tests_name("nn", tests, NULL, NULL);
}
