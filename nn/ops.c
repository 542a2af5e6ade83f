#include "ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "../util/err.h"
#include "../util/pool.h"

static pool *g_pool;
static int g_threads = 1, g_det = 1, g_configured;

int ct_ops_set_threads(int threads, int deterministic)
{
	CT_ASSERT(threads >= 1);
	pool_free(g_pool);
	g_pool = NULL;
	g_threads = threads;
	g_det = deterministic;
	g_configured = 1;
	openblas_set_num_threads(deterministic ? 1 : threads);
	if (deterministic && threads > 1 && !(g_pool = pool_new(threads)))
		return CT_ENOMEM;
	return 0;
}

int ct_ops_threads(void) { return g_threads; }
int ct_ops_deterministic(void) { return g_det; }

/* C[M,N] = (bias rows |) beta*C + op(A)·op(B), cut into blocks of C: row
 * blocks when there are rows enough for two, else column blocks (a small
 * batch through a wide layer), so that 2 threads have work at batch 32 too.
 * The cut depends only on the shape. */
typedef struct gemm_job {
	CBLAS_TRANSPOSE ta, tb;
	int M, N, K, lda, ldb, ldc, blocks, by_cols;
	const float *A, *B, *bias;
	float beta, *C;
} gemm_job;

static void gemm_block(void *ctx, int i)
{
	const gemm_job *j = ctx;
	int total = j->by_cols ? j->N : j->M;
	int b0 = (int)((long)i * total / j->blocks), b1 = (int)((long)(i + 1) * total / j->blocks);
	int m0 = j->by_cols ? 0 : b0, m1 = j->by_cols ? j->M : b1;
	int n0 = j->by_cols ? b0 : 0, n1 = j->by_cols ? b1 : j->N;
	const float *A = j->ta == CblasNoTrans ? j->A + (size_t)m0 * (size_t)j->lda : j->A + m0;
	const float *B = j->tb == CblasNoTrans ? j->B + n0 : j->B + (size_t)n0 * (size_t)j->ldb;
	float *C = j->C + (size_t)m0 * (size_t)j->ldc + n0;
	if (j->bias)
		for (int r = 0; r < m1 - m0; r++)
			memcpy(C + (size_t)r * (size_t)j->ldc, j->bias + n0,
			       (size_t)(n1 - n0) * sizeof(float));
	cblas_sgemm(CblasRowMajor, j->ta, j->tb, m1 - m0, n1 - n0, j->K, 1.0f, A, j->lda, B, j->ldb,
		    j->bias ? 1.0f : j->beta, C, j->ldc);
}

static void gemm(gemm_job *j)
{
	if (!g_configured) /* library use without ct_ops_set_threads: deterministic, 1 thread */
		ct_ops_set_threads(1, 1);
	int rows = j->M / CT_OPS_BLOCK_MIN, cols = j->N / CT_OPS_BLOCK_MIN;
	/* Column blocks only when each has work enough to be worth a pool
	 * round trip (at batch 32 through 784-256-10 it is not). */
	long work = (long)j->M * j->N * j->K / CT_OPS_BLOCK_WORK;
	if (cols > work)
		cols = (int)work;
	j->by_cols = rows < 2 && cols >= 2;
	int b = j->by_cols ? cols : rows;
	j->blocks = !g_det || b < 1 ? 1 : b > CT_OPS_MAX_BLOCKS ? CT_OPS_MAX_BLOCKS : b;
	pool_run(g_pool, j->blocks, gemm_block, j);
}

static const char *g_act_names[] = {"none", "relu", "tanh", "sigmoid", "gelu"};

int ct_act_from_name(const char *s)
{
	for (int i = CT_ACT_RELU; i <= CT_ACT_GELU; i++)
		if (strcmp(s, g_act_names[i]) == 0)
			return i;
	return -1;
}

const char *ct_act_name(int kind)
{
	CT_ASSERT(kind >= CT_ACT_NONE && kind <= CT_ACT_GELU);
	return g_act_names[kind];
}

void ct_linear_forward(float *y, const float *x, const float *w, const float *b, int rows, int in,
		       int out)
{
	/* y = broadcast(b) + x·Wᵀ, as torch.addmm does */
	gemm_job j = {.ta = CblasNoTrans,
		      .tb = CblasTrans,
		      .M = rows,
		      .N = out,
		      .K = in,
		      .lda = in,
		      .ldb = in,
		      .ldc = out,
		      .A = x,
		      .B = w,
		      .bias = b,
		      .C = y};
	gemm(&j);
}

void ct_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
			const float *w, int rows, int in, int out, int accum_dx, int accum_dw,
			int accum_db)
{
	/* dW[out,in] (+)= dYᵀ·X, blocks of output features */
	gemm_job jw = {.ta = CblasTrans,
		       .tb = CblasNoTrans,
		       .M = out,
		       .N = in,
		       .K = rows,
		       .lda = out,
		       .ldb = in,
		       .ldc = in,
		       .A = dy,
		       .B = x,
		       .beta = accum_dw ? 1.0f : 0.0f,
		       .C = dw};
	gemm(&jw);
	if (db) {
		if (!accum_db)
			memset(db, 0, (size_t)out * sizeof *db);
		for (int r = 0; r < rows; r++) {
			const float *d = dy + (size_t)r * (size_t)out;
			for (int j = 0; j < out; j++)
				db[j] += d[j];
		}
	}
	if (dx) { /* dX[rows,in] (+)= dY·W */
		gemm_job jx = {.ta = CblasNoTrans,
			       .tb = CblasNoTrans,
			       .M = rows,
			       .N = in,
			       .K = out,
			       .lda = out,
			       .ldb = in,
			       .ldc = in,
			       .A = dy,
			       .B = w,
			       .beta = accum_dx ? 1.0f : 0.0f,
			       .C = dx};
		gemm(&jx);
	}
}

static float gelu(float x) { return 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2)); }

static float gelu_grad(float x)
{
	float cdf = 0.5f * (1.0f + erff(x * (float)M_SQRT1_2));
	float pdf = expf(-0.5f * x * x) * (float)(0.5 * M_2_SQRTPI * M_SQRT1_2);
	return cdf + x * pdf;
}

void ct_act_forward(int kind, float *y, const float *x, size_t n)
{
	CT_ASSERT(kind >= CT_ACT_RELU && kind <= CT_ACT_GELU);
	switch (kind) {
	case CT_ACT_RELU:
		for (size_t i = 0; i < n; i++)
			y[i] = x[i] > 0.0f ? x[i] : 0.0f;
		break;
	case CT_ACT_TANH:
		for (size_t i = 0; i < n; i++)
			y[i] = tanhf(x[i]);
		break;
	case CT_ACT_SIGMOID:
		for (size_t i = 0; i < n; i++)
			y[i] = 1.0f / (1.0f + expf(-x[i]));
		break;
	default: /* CT_ACT_GELU */
		for (size_t i = 0; i < n; i++)
			y[i] = gelu(x[i]);
		break;
	}
}

static float act_local_grad(int kind, float x, float y)
{
	switch (kind) {
	case CT_ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
	case CT_ACT_TANH: return 1.0f - y * y;
	case CT_ACT_SIGMOID: return y * (1.0f - y);
	default: return gelu_grad(x);
	}
}

void ct_act_backward(int kind, float *dx, const float *dy, const float *x, const float *y, size_t n,
		     int accum)
{
	CT_ASSERT(kind >= CT_ACT_RELU && kind <= CT_ACT_GELU);
	if (accum) {
		for (size_t i = 0; i < n; i++)
			dx[i] += dy[i] * act_local_grad(kind, x[i], y[i]);
	} else if (kind == CT_ACT_RELU) {
		/* The hot case.  As a bit mask rather than `x > 0 ? dy : 0` so the
		 * compiler emits no per-element branch (half of them mispredicted on
		 * real activations) and vectorises; the bytes are the same: dy where
		 * x > 0, +0 elsewhere (NaN included).  The bits move by memcpy, not
		 * through a uint32_t * (that would break strict aliasing); compilers
		 * turn it into the same vector code. */
		const float *restrict g = dy;
		float *restrict o = dx;
		for (size_t i = 0; i < n; i++) {
			uint32_t b;
			memcpy(&b, &g[i], sizeof b);
			b &= 0u - (uint32_t)(x[i] > 0.0f);
			memcpy(&o[i], &b, sizeof b);
		}
	} else {
		for (size_t i = 0; i < n; i++)
			dx[i] = dy[i] * act_local_grad(kind, x[i], y[i]);
	}
}

void ct_dropout_forward(float *y, float *mask, const float *x, size_t n, float p, ct_rng *r)
{
	CT_ASSERT(p >= 0.0f && p < 1.0f);
	float scale = 1.0f / (1.0f - p);
	for (size_t i = 0; i < n; i++) {
		mask[i] = ct_rng_float(r) >= p ? scale : 0.0f;
		y[i] = x[i] * mask[i];
	}
}

void ct_dropout_backward(float *dx, const float *dy, const float *mask, size_t n, int accum)
{
	if (accum)
		for (size_t i = 0; i < n; i++)
			dx[i] += dy[i] * mask[i];
	else
		for (size_t i = 0; i < n; i++)
			dx[i] = dy[i] * mask[i];
}

double ct_softmax_xent_forward(float *probs, const float *logits, const int32_t *labels, int rows,
			       int classes)
{
	double total = 0.0;
	for (int r = 0; r < rows; r++) {
		const float *z = logits + (size_t)r * (size_t)classes;
		float *p = probs + (size_t)r * (size_t)classes;
		float max = z[0];
		for (int j = 1; j < classes; j++)
			max = z[j] > max ? z[j] : max;
		float sum = 0.0f;
		for (int j = 0; j < classes; j++) {
			p[j] = expf(z[j] - max);
			sum += p[j];
		}
		float inv = 1.0f / sum;
		for (int j = 0; j < classes; j++)
			p[j] *= inv;
		int32_t y = labels[r];
		CT_ASSERT(y >= 0 && y < classes);
		/* log-sum-exp form: exact even when p[y] underflows to 0 */
		total += (double)(max + logf(sum) - z[y]);
	}
	return rows ? total / rows : 0.0;
}

void ct_softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels, int rows,
			      int classes, float scale, int accum)
{
	float k = scale / (float)rows;
	for (int r = 0; r < rows; r++) {
		const float *p = probs + (size_t)r * (size_t)classes;
		float *d = dlogits + (size_t)r * (size_t)classes;
		for (int j = 0; j < classes; j++) {
			float g = (p[j] - (j == labels[r] ? 1.0f : 0.0f)) * k;
			d[j] = accum ? d[j] + g : g;
		}
	}
}

double ct_mse_forward(const float *pred, const float *target, size_t n)
{
	double total = 0.0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)pred[i] - (double)target[i];
		total += d * d;
	}
	return n ? total / (double)n : 0.0;
}

void ct_mse_backward(float *dpred, const float *pred, const float *target, size_t n, float scale,
		     int accum)
{
	float k = 2.0f * scale / (float)n;
	for (size_t i = 0; i < n; i++) {
		float g = (pred[i] - target[i]) * k;
		dpred[i] = accum ? dpred[i] + g : g;
	}
}

void ct_add_forward(float *y, const float *a, const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] = a[i] + b[i];
}

void ct_copy_grad(float *dx, const float *dy, size_t n, int accum)
{
	if (accum)
		for (size_t i = 0; i < n; i++)
			dx[i] += dy[i];
	else
		memcpy(dx, dy, n * sizeof *dx);
}

void ct_concat_forward(float *y, const float *a, const float *b, int rows, int ca, int cb)
{
	size_t na = (size_t)ca, nb = (size_t)cb;
	for (size_t r = 0; r < (size_t)rows; r++) {
		memcpy(y + r * (na + nb), a + r * na, na * sizeof *y);
		memcpy(y + r * (na + nb) + na, b + r * nb, nb * sizeof *y);
	}
}

void ct_concat_backward(float *da, float *db, const float *dy, int rows, int ca, int cb,
			int accum_a, int accum_b)
{
	for (int r = 0; r < rows; r++) {
		const float *d = dy + (size_t)r * (size_t)(ca + cb);
		if (da)
			ct_copy_grad(da + (size_t)r * (size_t)ca, d, (size_t)ca, accum_a);
		if (db)
			ct_copy_grad(db + (size_t)r * (size_t)cb, d + ca, (size_t)cb, accum_b);
	}
}
