/* optim.h — SGD (momentum, Nesterov, weight decay), Adam and AdamW with
 * torch.optim's update formulas, sweeping the flat parameter buffer.
 *
 *     optim o; optim_init(&o, OPT_ADAM, ps.n, &hp, &e);
 *     // each step, after backward:
 *     optim_step(&o, ps.data, ps.grad, lr);
 *     optim_release(&o);
 * The state (step count, momentum buffer / first and second moments) lives in
 * flat arrays of the same layout as the parameters, so a checkpoint saves and
 * restores it as a few plain arrays.  Scalars (bias corrections, step size) are
 * computed in double, as Python does in torch.optim, and then applied in float.
 */
#ifndef CT_OPTIM_H
#define CT_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

typedef enum { OPT_SGD = 0, OPT_ADAM, OPT_ADAMW } optim_kind;

typedef struct optim_hparams {
	double momentum, weight_decay, beta1, beta2, eps;
	int nesterov;
} optim_hparams;

typedef struct optim {
	optim_kind kind;
	optim_hparams hp;
	int64_t step; /* updates done so far */
	size_t n;
	float *m; /* SGD momentum buffer, or Adam's exp_avg (NULL if unused) */
	float *v; /* Adam's exp_avg_sq (NULL if unused) */
} optim;

int optim_from_name(const char *s); /* -1 if unknown */
const char *optim_name(int kind);
int optim_init(optim *o, optim_kind kind, size_t n, const optim_hparams *hp, ct_err *e);
void optim_release(optim *o);
void optim_step(optim *o, float *p, const float *g, double lr);

/* Global L2 norm of g (summed in double, in index order). */
double grad_global_norm(const float *g, size_t n);
/* torch.nn.utils.clip_grad_norm_: scales g by max_norm/(norm+1e-6) when that
 * is < 1.  Returns the norm before clipping. */
double grad_clip_norm(float *g, size_t n, double max_norm);

#endif
