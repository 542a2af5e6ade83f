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

#include "../util/api.h"
#include "../util/rng.h"

/* Threading of the kernels: process-global, set once before training.
 * deterministic = 1 (the default): OpenBLAS runs single-threaded and every
 *   matrix product is cut into a fixed partition that depends only on its
 *   shape (blocks of at least CT_OPS_BLOCK_MIN rows, or, when there are not
 *   rows enough for two blocks, of that many columns and CT_OPS_BLOCK_WORK
 *   multiply-adds; at most CT_OPS_MAX_BLOCKS);
 *   a pool of `threads` threads computes the blocks.  Each output element is
 *   computed by the same single-threaded kernel call whatever the thread
 *   count, so the bytes are the same for threads = 1, 2, 3, ...
 * deterministic = 0: OpenBLAS's own threading with `threads` threads; the
 *   bits then depend on the thread count.
 * Returns CT_ENOMEM if the pool cannot be started. */
#define CT_OPS_BLOCK_MIN 256
#define CT_OPS_MAX_BLOCKS 4
#define CT_OPS_BLOCK_WORK (1L << 23)
CT_API int ct_ops_set_threads(int threads, int deterministic);
CT_API int ct_ops_threads(void);
CT_API int ct_ops_deterministic(void);

typedef enum { CT_ACT_NONE = 0, CT_ACT_RELU, CT_ACT_TANH, CT_ACT_SIGMOID, CT_ACT_GELU } ct_act_kind;

/* Parses "relu"/"tanh"/"sigmoid"/"gelu"; returns -1 if unknown. */
CT_API int ct_act_from_name(const char *s);
CT_API const char *ct_act_name(int kind);

CT_API void ct_linear_forward(float *y, const float *x, const float *w, const float *b, int rows,
			      int in, int out);
/* dx may be NULL (input needs no gradient); db may be NULL (no bias). */
CT_API void ct_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
			       const float *w, int rows, int in, int out, int accum_dx,
			       int accum_dw, int accum_db);

CT_API void ct_act_forward(int kind, float *y, const float *x, size_t n);
/* x is the op's input and y its output; each activation uses whichever is cheaper. */
CT_API void ct_act_backward(int kind, float *dx, const float *dy, const float *x, const float *y,
			    size_t n, int accum);

/* Inverted dropout: kept elements are scaled by 1/(1-p); mask holds 0 or 1/(1-p). */
CT_API void ct_dropout_forward(float *y, float *mask, const float *x, size_t n, float p, ct_rng *r);
CT_API void ct_dropout_backward(float *dx, const float *dy, const float *mask, size_t n, int accum);

/* Fused, numerically stable softmax + cross-entropy, mean over rows.  probs
 * receives the softmax; returns the mean loss (summed in double, in row order). */
CT_API double ct_softmax_xent_forward(float *probs, const float *logits, const int32_t *labels,
				      int rows, int classes);
/* dlogits = (probs - onehot(labels)) * scale / rows. */
CT_API void ct_softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels,
				     int rows, int classes, float scale, int accum);

/* Mean squared error over all n elements. */
CT_API double ct_mse_forward(const float *pred, const float *target, size_t n);
CT_API void ct_mse_backward(float *dpred, const float *pred, const float *target, size_t n,
			    float scale, int accum);

CT_API void ct_add_forward(float *y, const float *a, const float *b, size_t n);
/* Copies (or accumulates) dy into dx: the backward of add for each input. */
CT_API void ct_copy_grad(float *dx, const float *dy, size_t n, int accum);

/* y[r] = [a[r], b[r]] */
CT_API void ct_concat_forward(float *y, const float *a, const float *b, int rows, int ca, int cb);
CT_API void ct_concat_backward(float *da, float *db, const float *dy, int rows, int ca, int cb,
			       int accum_a, int accum_b);

#endif
