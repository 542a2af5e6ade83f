/* mlp.h — the built-in multilayer perceptron: Linear → act → [dropout] → … →
 * Linear, with PyTorch's parameter names (`layers.<i>.weight` [out, in] and
 * `layers.<i>.bias` [out], i counting linear layers from 0) and PyTorch's
 * nn.Linear initialisation (weight and bias both U(±1/√fan_in), which is what
 * kaiming_uniform_(a=√5) works out to).  The names come from the module tree
 * of nn/module.h (child "layers", items 0, 1, ...), as a user model's do.
 *
 *     mlp m; mlp_init(&m, (int[]){784, 256, 10}, 3, ACT_RELU, 0.1f, 128, &e);
 *     mlp_init_weights(&m, &init_rng);
 *     // training: m.train graph (dropout on), m.in / m.logits / m.loss node ids
 *     // evaluation: mlp_eval(&m, x, y, n, &loss, &correct)
 *     mlp_release(&m);
 * Two tapes share the one parameter buffer: `train` sized for the batch and
 * `eval` (no dropout) sized for MLP_EVAL_ROWS.
 */
#ifndef CT_MLP_H
#define CT_MLP_H

#include "graph.h"
#include "module.h"
#include "params.h"
#include "rng.h"

#define MLP_MAX_LAYERS 32
#define MLP_EVAL_ROWS 512

typedef struct mlp_graph {
	graph *g;
	int in, logits, loss;
} mlp_graph;

typedef struct mlp {
	params ps;
	int sizes[MLP_MAX_LAYERS];
	int n_sizes;
	int act;
	float dropout;
	linear_layer lin[MLP_MAX_LAYERS - 1];
	mlp_graph train, eval;
} mlp;

int mlp_init(mlp *m, const int *sizes, int n_sizes, int act, float dropout, int batch, ct_err *e);
void mlp_release(mlp *m);
void mlp_init_weights(mlp *m, rng *r);

/* Forward pass in eval mode over n rows (in chunks of MLP_EVAL_ROWS).  y may be
 * NULL (no loss/accuracy).  logits_out (n x classes) may be NULL.  Returns the
 * mean cross-entropy in *loss and the count of correct argmax in *correct. */
void mlp_eval(mlp *m, const float *x, const int32_t *y, int64_t n, float *logits_out, double *loss,
	      int64_t *correct);

/* "784,256,10" into buf. */
void mlp_layers_string(const mlp *m, char *buf, size_t len);

#endif
