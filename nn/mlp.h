/* mlp.h — the built-in multilayer perceptron: Linear → act → [dropout] → … →
 * Linear, with PyTorch's parameter names (`layers.<i>.weight` [out, in] and
 * `layers.<i>.bias` [out], i counting linear layers from 0) and PyTorch's
 * nn.Linear initialisation (weight and bias both U(±1/√fan_in), which is what
 * kaiming_uniform_(a=√5) works out to).  The names come from the module tree
 * of nn/module.h (child "layers", items 0, 1, ...), as a user model's do.
 *
 *     ct_mlp m; ct_mlp_init(&m, (int[]){784, 256, 10}, 3, CT_ACT_RELU, 0.1f, 128, &e);
 *     ct_mlp_init_weights(&m, &init_rng);
 *     // training: m.train graph (dropout on), m.in / m.logits / m.loss node ids
 *     // evaluation: ct_mlp_eval(&m, x, y, n, &loss, &correct)
 *     ct_mlp_release(&m);
 * Two tapes share the one parameter buffer: `train` sized for the batch and
 * `eval` (no dropout) sized for CT_MLP_EVAL_ROWS.
 */
#ifndef CT_MLP_H
#define CT_MLP_H

#include "../util/api.h"
#include "graph.h"
#include "module.h"
#include "params.h"
#include "../util/rng.h"

#define CT_MLP_MAX_LAYERS 32
#define CT_MLP_EVAL_ROWS 512

typedef struct ct_mlp_graph {
	ct_graph *g;
	int in, logits, loss;
} ct_mlp_graph;

typedef struct ct_mlp {
	ct_params ps;
	int sizes[CT_MLP_MAX_LAYERS];
	int n_sizes;
	int act;
	float dropout;
	ct_linear_layer lin[CT_MLP_MAX_LAYERS - 1];
	ct_mlp_graph train, eval;
} ct_mlp;

CT_API int ct_mlp_init(ct_mlp *m, const int *sizes, int n_sizes, int act, float dropout, int batch,
		       ct_err *e);
CT_API void ct_mlp_release(ct_mlp *m);
CT_API void ct_mlp_init_weights(ct_mlp *m, ct_rng *r);

/* Forward pass in eval mode over n rows (in chunks of CT_MLP_EVAL_ROWS).  y may be
 * NULL (no loss/accuracy).  logits_out (n x classes) may be NULL.  Returns the
 * mean cross-entropy in *loss and the count of correct argmax in *correct. */
CT_API void ct_mlp_eval(ct_mlp *m, const float *x, const int32_t *y, int64_t n, float *logits_out,
			double *loss, int64_t *correct);

/* "784,256,10" into buf. */
CT_API void ct_mlp_layers_string(const ct_mlp *m, char *buf, size_t len);

#endif
