/* optim.h — SGD (momentum, Nesterov, weight decay), Adam and AdamW with
 * torch.optim's update formulas, sweeping the flat parameter buffer.
 *
 *     ct_optim o; ct_optim_init(&o, CT_OPT_ADAM, ps.n, &hp, &e);
 *     // each step, after backward:
 *     ct_optim_step(&o, ps.data, ps.grad, lr);
 *     ct_optim_release(&o);
 * The state (step count, momentum buffer / first and second moments) lives in
 * flat arrays of the same layout as the parameters, so a checkpoint saves and
 * restores it as a few plain arrays.  Scalars (bias corrections, step size) are
 * computed in double, as Python does in torch.optim, and then applied in float.
 */
#ifndef CT_OPTIM_H
#define CT_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "../util/api.h"
#include "../util/err.h"

typedef enum { CT_OPT_SGD = 0, CT_OPT_ADAM, CT_OPT_ADAMW } ct_optim_kind;

typedef struct ct_optim_hparams {
	double momentum, weight_decay, beta1, beta2, eps;
	int nesterov;
} ct_optim_hparams;

typedef struct ct_optim {
	ct_optim_kind kind;
	ct_optim_hparams hp;
	int64_t step; /* updates done so far */
	size_t n;
	float *m; /* SGD momentum buffer, or Adam's exp_avg (NULL if unused) */
	float *v; /* Adam's exp_avg_sq (NULL if unused) */
} ct_optim;

CT_API int ct_optim_from_name(const char *s); /* -1 if unknown */
CT_API const char *ct_optim_name(int kind);
CT_API int ct_optim_init(ct_optim *o, ct_optim_kind kind, size_t n, const ct_optim_hparams *hp,
			 ct_err *e);
CT_API void ct_optim_release(ct_optim *o);
CT_API void ct_optim_step(ct_optim *o, float *p, const float *g, double lr);

/* Global L2 norm of g (summed in double, in index order). */
CT_API double ct_grad_global_norm(const float *g, size_t n);
/* torch.nn.utils.clip_grad_norm_: scales g by max_norm/(norm+1e-6) when that
 * is < 1.  Returns the norm before clipping. */
CT_API double ct_grad_clip_norm(float *g, size_t n, double max_norm);

#endif
