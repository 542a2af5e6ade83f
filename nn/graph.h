/* graph.h — reverse-mode autograd over a tape that is recorded once and
 * replayed every step.
 *
 * A model is built by appending nodes; each call returns the new node's id.
 * Nodes are kept in creation order, which is a topological order, so forward
 * runs the tape front to back and backward runs it back to front.  All
 * activation and gradient buffers are allocated once by ct_graph_finalize for
 * `max_rows` samples; a step allocates nothing and rebuilds nothing.
 *
 *     ct_graph *g = ct_graph_new(&ps, 128);
 *     int x  = ct_graph_input(g, 784);
 *     int h  = ct_graph_act(g, ct_graph_linear(g, x, w0, b0), CT_ACT_RELU);
 *     int h2 = ct_graph_add(g, h, ct_graph_linear(g, h, w1, b1));    // residual
 *     int z  = ct_graph_linear(g, h2, w2, b2);
 *     int L  = ct_graph_softmax_xent(g, z);
 *     ct_graph_finalize(g, &e);
 *     // each step:
 *     ct_graph_set_rows(g, n);  memcpy(ct_graph_value(g, x), batch, ...);
 *     ct_graph_set_labels(g, L, labels);
 *     ct_graph_forward(g);  float loss = ct_graph_loss(g, L);
 *     ct_graph_backward(g, L);   // writes dL/dθ into ps.grad (overwriting)
 *
 * Gradients: ct_graph_backward overwrites ps.grad for every parameter the graph
 * uses (a parameter used twice, e.g. shared weights, gets the sum), so no
 * zeroing is needed between steps.  Parameters the graph never touches keep
 * whatever grad they had.  Inputs get no gradient unless ct_graph_input_grad().
 */
#ifndef CT_GRAPH_H
#define CT_GRAPH_H

#include <stdint.h>

#include "../util/api.h"
#include "ops.h"
#include "params.h"
#include "../util/rng.h"

typedef struct ct_graph ct_graph;

CT_API ct_graph *ct_graph_new(ct_params *ps, int max_rows);
CT_API void ct_graph_free(ct_graph *g);

CT_API int ct_graph_input(ct_graph *g, int cols);
/* Makes an input node require (and receive) a gradient. */
CT_API void ct_graph_input_grad(ct_graph *g, int node);
/* y = x·Wᵀ + b; w_param is a [out, in] view, b_param a [out] view or -1. */
CT_API int ct_graph_linear(ct_graph *g, int x, int w_param, int b_param);
CT_API int ct_graph_act(ct_graph *g, int x, int kind);
/* Dropout with probability p, active only in training mode; masks come from
 * the rng given to ct_graph_set_dropout_rng. */
CT_API int ct_graph_dropout(ct_graph *g, int x, float p);
CT_API int ct_graph_add(ct_graph *g, int a, int b);
CT_API int ct_graph_concat(ct_graph *g, int a, int b);
/* Losses are scalar nodes; labels/targets are set per step. */
CT_API int ct_graph_softmax_xent(ct_graph *g, int logits);
CT_API int ct_graph_mse(ct_graph *g, int pred, int target);

CT_API int ct_graph_finalize(ct_graph *g, ct_err *e);

CT_API void ct_graph_set_rows(ct_graph *g, int rows);
CT_API int ct_graph_rows(const ct_graph *g);
CT_API int ct_graph_max_rows(const ct_graph *g);
CT_API int ct_graph_cols(const ct_graph *g, int node);
CT_API float *ct_graph_value(ct_graph *g, int node);
CT_API float *ct_graph_grad(ct_graph *g, int node); /* NULL if the node has no gradient */
CT_API void ct_graph_set_labels(ct_graph *g, int loss_node, const int32_t *labels);
CT_API void ct_graph_set_training(ct_graph *g, int training);
CT_API void ct_graph_set_dropout_rng(ct_graph *g, ct_rng *r);
/* Dropout masks by position instead of from the rng (issue 17): the mask of
 * the graph's row r is a function of (seed, step, dropout node, row0 + r)
 * alone (util/philox.h), so it does not depend on how a batch is cut into
 * shards or spread over processes.  Set before each forward. */
CT_API void ct_graph_set_dropout_counter(ct_graph *g, uint64_t seed, uint64_t step, uint64_t row0);

CT_API void ct_graph_forward(ct_graph *g);
CT_API double ct_graph_loss(const ct_graph *g, int loss_node);
CT_API void ct_graph_backward(ct_graph *g, int loss_node);
/* The same with dLoss/dLoss = seed instead of 1: a shard of n rows of a
 * batch of B seeds n/B, so that the shards' gradients add up to the batch
 * mean's. */
CT_API void ct_graph_backward_seed(ct_graph *g, int loss_node, float seed);

#endif
