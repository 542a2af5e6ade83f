/* graph.h — reverse-mode autograd over a tape that is recorded once and
 * replayed every step.
 *
 * A model is built by appending nodes; each call returns the new node's id.
 * Nodes are kept in creation order, which is a topological order, so forward
 * runs the tape front to back and backward runs it back to front.  All
 * activation and gradient buffers are allocated once by graph_finalize for
 * `max_rows` samples; a step allocates nothing and rebuilds nothing.
 *
 *     graph *g = graph_new(&ps, 128);
 *     int x  = graph_input(g, 784);
 *     int h  = graph_act(g, graph_linear(g, x, w0, b0), ACT_RELU);
 *     int h2 = graph_add(g, h, graph_linear(g, h, w1, b1));    // residual
 *     int z  = graph_linear(g, h2, w2, b2);
 *     int L  = graph_softmax_xent(g, z);
 *     graph_finalize(g, &e);
 *     // each step:
 *     graph_set_rows(g, n);  memcpy(graph_value(g, x), batch, ...);
 *     graph_set_labels(g, L, labels);
 *     graph_forward(g);  float loss = graph_loss(g, L);
 *     graph_backward(g, L);   // writes dL/dθ into ps.grad (overwriting)
 *
 * Gradients: graph_backward overwrites ps.grad for every parameter the graph
 * uses (a parameter used twice, e.g. shared weights, gets the sum), so no
 * zeroing is needed between steps.  Parameters the graph never touches keep
 * whatever grad they had.  Inputs get no gradient unless graph_input_grad().
 */
#ifndef CT_GRAPH_H
#define CT_GRAPH_H

#include <stdint.h>

#include "ops.h"
#include "params.h"
#include "rng.h"

typedef struct graph graph;

graph *graph_new(params *ps, int max_rows);
void graph_free(graph *g);

int graph_input(graph *g, int cols);
/* Makes an input node require (and receive) a gradient. */
void graph_input_grad(graph *g, int node);
/* y = x·Wᵀ + b; w_param is a [out, in] view, b_param a [out] view or -1. */
int graph_linear(graph *g, int x, int w_param, int b_param);
int graph_act(graph *g, int x, int kind);
/* Dropout with probability p, active only in training mode; masks come from
 * the rng given to graph_set_dropout_rng. */
int graph_dropout(graph *g, int x, float p);
int graph_add(graph *g, int a, int b);
int graph_concat(graph *g, int a, int b);
/* Losses are scalar nodes; labels/targets are set per step. */
int graph_softmax_xent(graph *g, int logits);
int graph_mse(graph *g, int pred, int target);

int graph_finalize(graph *g, ct_err *e);

void graph_set_rows(graph *g, int rows);
int graph_rows(const graph *g);
int graph_max_rows(const graph *g);
int graph_cols(const graph *g, int node);
float *graph_value(graph *g, int node);
float *graph_grad(graph *g, int node); /* NULL if the node has no gradient */
void graph_set_labels(graph *g, int loss_node, const int32_t *labels);
void graph_set_training(graph *g, int training);
void graph_set_dropout_rng(graph *g, rng *r);

void graph_forward(graph *g);
double graph_loss(const graph *g, int loss_node);
void graph_backward(graph *g, int loss_node);

#endif
