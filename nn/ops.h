/* ops.h — the forward and backward kernels of every op, as plain functions on
 * row-major float arrays (rows = samples in the batch).  The autograd tape in
 * graph.h calls these; a hand-written training loop may call them directly.
 *
 * Backward kernels take an `accum` flag: 0 overwrites the destination gradient
 * (the first consumer to write it), 1 adds to it (later consumers, e.g. both
 * branches of a residual connection).  Overwriting saves zeroing buffers every
 * step.  No kernel allocates.
 *
 * Linear layers use PyTorch's layout: weight [out, in], y = x·Wᵀ + b, computed
 * by cblas_sgemm with transposes and no copies.
 * GELU is the exact erf form, 0.5·x·(1 + erf(x/√2)), PyTorch's nn.GELU() default.
 */
#ifndef CT_OPS_H
#define CT_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/* Threading of the kernels: process-global, set once before training.
 * deterministic = 1 (the default): OpenBLAS runs single-threaded and every
 *   matrix product is cut into a fixed partition that depends only on its
 *   shape (blocks of at least OPS_BLOCK_MIN rows, or, when there are not
 *   rows enough for two blocks, of that many columns and OPS_BLOCK_WORK
 *   multiply-adds; at most OPS_MAX_BLOCKS);
 *   a pool of `threads` threads computes the blocks.  Each output element is
 *   computed by the same single-threaded kernel call whatever the thread
 *   count, so the bytes are the same for threads = 1, 2, 3, ...
 * deterministic = 0: OpenBLAS's own threading with `threads` threads; the
 *   bits then depend on the thread count.
 * Returns CT_ENOMEM if the pool cannot be started. */
#define OPS_BLOCK_MIN 256
#define OPS_MAX_BLOCKS 4
#define OPS_BLOCK_WORK (1L << 23)
int ops_set_threads(int threads, int deterministic);
int ops_threads(void);
int ops_deterministic(void);

typedef enum { ACT_NONE = 0, ACT_RELU, ACT_TANH, ACT_SIGMOID, ACT_GELU } act_kind;

/* Parses "relu"/"tanh"/"sigmoid"/"gelu"; returns -1 if unknown. */
int act_from_name(const char *s);
const char *act_name(int kind);

void linear_forward(float *y, const float *x, const float *w, const float *b, int rows, int in,
		    int out);
/* dx may be NULL (input needs no gradient); db may be NULL (no bias). */
void linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
		     const float *w, int rows, int in, int out, int accum_dx, int accum_dw,
		     int accum_db);

void act_forward(int kind, float *y, const float *x, size_t n);
/* x is the op's input and y its output; each activation uses whichever is cheaper. */
void act_backward(int kind, float *dx, const float *dy, const float *x, const float *y, size_t n,
		  int accum);

/* Inverted dropout: kept elements are scaled by 1/(1-p); mask holds 0 or 1/(1-p). */
void dropout_forward(float *y, float *mask, const float *x, size_t n, float p, rng *r);
void dropout_backward(float *dx, const float *dy, const float *mask, size_t n, int accum);

/* Fused, numerically stable softmax + cross-entropy, mean over rows.  probs
 * receives the softmax; returns the mean loss (summed in double, in row order). */
double softmax_xent_forward(float *probs, const float *logits, const int32_t *labels, int rows,
			    int classes);
/* dlogits = (probs - onehot(labels)) * scale / rows. */
void softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels, int rows,
			   int classes, float scale, int accum);

/* Mean squared error over all n elements. */
double mse_forward(const float *pred, const float *target, size_t n);
void mse_backward(float *dpred, const float *pred, const float *target, size_t n, float scale,
		  int accum);

void add_forward(float *y, const float *a, const float *b, size_t n);
/* Copies (or accumulates) dy into dx: the backward of add for each input. */
void copy_grad(float *dx, const float *dy, size_t n, int accum);

/* y[r] = [a[r], b[r]] */
void concat_forward(float *y, const float *a, const float *b, int rows, int ca, int cb);
void concat_backward(float *da, float *db, const float *dy, int rows, int ca, int cb, int accum_a,
		     int accum_b);

#endif
