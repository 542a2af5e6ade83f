#include "optim.h"

#include <math.h>
#include <string.h>

static const char *g_names[] = {"sgd", "adam", "adamw"};

int ct_optim_from_name(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, g_names[i]) == 0)
			return i;
	return -1;
}

const char *ct_optim_name(int kind)
{
	CT_ASSERT(kind >= 0 && kind < 3);
	return g_names[kind];
}

int ct_optim_init(ct_optim *o, ct_optim_kind kind, size_t n, const ct_optim_hparams *hp, ct_err *e)
{
	memset(o, 0, sizeof *o);
	o->kind = kind;
	o->hp = *hp;
	o->n = n;
	int need_m = kind != CT_OPT_SGD || hp->momentum != 0.0;
	int need_v = kind != CT_OPT_SGD;
	if (need_m && !(o->m = ct_aligned_alloc(64, n * sizeof(float))))
		return ct_errf(e, CT_ENOMEM, "out of memory for optimizer state");
	if (need_v && !(o->v = ct_aligned_alloc(64, n * sizeof(float)))) {
		free(o->m);
		o->m = NULL;
		return ct_errf(e, CT_ENOMEM, "out of memory for optimizer state");
	}
	if (o->m)
		memset(o->m, 0, n * sizeof(float));
	if (o->v)
		memset(o->v, 0, n * sizeof(float));
	return 0;
}

void ct_optim_release(ct_optim *o)
{
	free(o->m);
	free(o->v);
	memset(o, 0, sizeof *o);
}

static void sgd_step(ct_optim *o, float *restrict p, const float *restrict g, float lr)
{
	const float wd = (float)o->hp.weight_decay, mu = (float)o->hp.momentum;
	const size_t n = o->n;
	float *restrict buf = o->m;
	if (!buf) {
		for (size_t i = 0; i < n; i++)
			p[i] -= lr * (g[i] + wd * p[i]);
		return;
	}
	/* torch: on the first step the buffer is a copy of the gradient. */
	const float keep = o->step == 0 ? 0.0f : mu;
	if (o->hp.nesterov) {
		for (size_t i = 0; i < n; i++) {
			float d = g[i] + wd * p[i];
			buf[i] = keep * buf[i] + d;
			p[i] -= lr * (d + mu * buf[i]);
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			float d = g[i] + wd * p[i];
			buf[i] = keep * buf[i] + d;
			p[i] -= lr * buf[i];
		}
	}
}

/* The element update, specialised by the compiler for coupled (Adam) and
 * decoupled (AdamW) weight decay so the loop has no branch and vectorises. */
static inline __attribute__((always_inline)) void
adam_sweep(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
	   size_t n, const float h[8], const int decoupled)
{
	const float fb1 = h[0], ob1 = h[1], fb2 = h[2], ob2 = h[3], bc2_sqrt = h[4], eps = h[5],
		    step_size = h[6], wd_or_decay = h[7];
	for (size_t i = 0; i < n; i++) {
		float gi = g[i];
		if (decoupled)
			p[i] *= wd_or_decay;
		else
			gi += wd_or_decay * p[i];
		m[i] = m[i] * fb1 + gi * ob1;
		v[i] = v[i] * fb2 + ob2 * gi * gi;
		float denom = sqrtf(v[i]) / bc2_sqrt + eps;
		p[i] -= step_size * (m[i] / denom);
	}
}

/* AVX2 doubles the width of the divides and square roots that bound this
 * sweep; the results are the same bytes as the SSE2 clone (each operation is
 * correctly rounded, and -std=c11 keeps the compiler from contracting to FMA). */
__attribute__((target_clones("avx2", "default"))) static void
adam_step(ct_optim *o, float *restrict p, const float *restrict g, double lr)
{
	const double b1 = o->hp.beta1, b2 = o->hp.beta2;
	const double t = (double)(o->step + 1);
	const int decoupled = o->kind == CT_OPT_ADAMW;
	const float h[8] = {
		(float)b1,
		(float)(1.0 - b1),
		(float)b2,
		(float)(1.0 - b2),
		(float)sqrt(1.0 - pow(b2, t)),
		(float)o->hp.eps,
		(float)(lr / (1.0 - pow(b1, t))),
		decoupled ? (float)(1.0 - lr * o->hp.weight_decay) : (float)o->hp.weight_decay,
	};
	if (decoupled)
		adam_sweep(p, g, o->m, o->v, o->n, h, 1);
	else
		adam_sweep(p, g, o->m, o->v, o->n, h, 0);
}

void ct_optim_step(ct_optim *o, float *p, const float *g, double lr)
{
	if (o->kind == CT_OPT_SGD)
		sgd_step(o, p, g, (float)lr);
	else
		adam_step(o, p, g, lr);
	o->step++;
}

double ct_grad_global_norm(const float *g, size_t n)
{
	double s = 0.0;
	for (size_t i = 0; i < n; i++)
		s += (double)g[i] * (double)g[i];
	return sqrt(s);
}

double ct_grad_clip_norm(float *g, size_t n, double max_norm)
{
	double norm = ct_grad_global_norm(g, n);
	double coef = max_norm / (norm + 1e-6);
	if (coef < 1.0) {
		float c = (float)coef;
		for (size_t i = 0; i < n; i++)
			g[i] *= c;
	}
	return norm;
}
