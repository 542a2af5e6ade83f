/* ctrain.h — ctrain as a C library: one include for programs that build and
 * train their own models, checkpoint them from their own loop and exchange
 * weights with PyTorch through safetensors.
 *
 * Build against an installed ctrain (make install PREFIX=...):
 *     cc $(pkg-config --cflags ctrain) prog.c $(pkg-config --libs ctrain)
 *     (static: $(pkg-config --cflags --libs --static ctrain) with -l:libctrain.a)
 *
 * A program in a few calls (complete versions: experiments/examples/):
 *
 *     #include <ctrain.h>
 *     ct_err e = {0};
 *     params ps; params_init(&ps);                          // 1. name the parameters
 *     module root = module_root(&ps);
 *     linear_layer l0 = module_linear(&root, "fc1", 2, 8, 1);   // "fc1.weight", "fc1.bias"
 *     linear_layer l1 = module_linear(&root, "fc2", 8, 2, 1);
 *     params_alloc(&ps, &e);
 *     rng r; rng_seed(&r, 42, RNG_STREAM_INIT);
 *     linear_init(&ps, &l0, &r); linear_init(&ps, &l1, &r);
 *     graph *g = graph_new(&ps, batch);                       // 2. compose ops (any DAG)
 *     int x = graph_input(g, 2);
 *     int h = graph_act(g, graph_linear(g, x, l0.weight, l0.bias), ACT_TANH);
 *     int L = graph_softmax_xent(g, graph_linear(g, h, l1.weight, l1.bias));
 *     graph_finalize(g, &e);
 *     optim o; optim_init(&o, OPT_ADAM, ps.n, &(optim_hparams){.beta1 = 0.9,
 *                         .beta2 = 0.999, .eps = 1e-8}, &e);
 *     ckpt_manager *cm = ckpt_manager_new("run/checkpoints", NULL, &e);   // 3. checkpoints
 *     ckpt_manager_add_params(cm, "model", &ps, &e);
 *     ckpt_manager_add_optim(cm, "optim", &o, &ps, &e);
 *     for (...) {                                             // 4. your loop
 *             memcpy(graph_value(g, x), batch_x, ...); graph_set_labels(g, L, batch_y);
 *             graph_forward(g); graph_backward(g, L);
 *             grad_clip_norm(ps.grad, ps.n, 1.0);
 *             optim_step(&o, ps.data, ps.grad, lr);
 *             ckpt_manager_maybe_save(cm, step, &e);
 *     }
 *     state_dict_save("model.safetensors", &ps, NULL, &e);   // 5. PyTorch loads it
 *
 * Every function that can fail returns a negative code from ctrain/util/err.h
 * and fills a ct_err with a one-line message naming the file and the problem;
 * nothing in the library exits.  Each header below starts with what it is for
 * and its calling sequence.
 */
#ifndef CTRAIN_H
#define CTRAIN_H

#include "ctrain/util/err.h" /* ct_err, error codes */
#include "ctrain/util/log.h" /* log level, capture hook */

#include "ctrain/nn/rng.h"      /* saveable random streams */
#include "ctrain/nn/params.h"   /* flat parameter buffer, load reports */
#include "ctrain/nn/module.h"   /* module tree names, linear layers, state_dict_save/load */
#include "ctrain/nn/ops.h"      /* kernels, activations */
#include "ctrain/nn/graph.h"    /* autograd tape: residual, concat, shared weights */
#include "ctrain/nn/optim.h"    /* SGD, Adam, AdamW, gradient clipping */
#include "ctrain/nn/schedule.h" /* learning-rate schedules */
#include "ctrain/nn/mlp.h"      /* the built-in MLP */

#include "ctrain/data/dataset.h" /* IDX/MNIST, CSV, synthetic data, split */
#include "ctrain/data/loader.h"  /* resumable shuffling mini-batch loader */

#include "ctrain/ckpt/tdict.h"       /* named tensors */
#include "ctrain/ckpt/safetensors.h" /* .safetensors read/write */
#include "ctrain/ckpt/discover.h"    /* checkpoint discovery and retention */

#include "ctrain/ckpt/best.h"     /* keep_best and early stopping */
#include "ctrain/ckpt/fields.h"   /* what a checkpoint holds */
#include "ctrain/ckpt/manager.h"  /* checkpoints from a custom loop */
#include "ctrain/train/config.h"  /* the INI config of ctrain train */
#include "ctrain/train/state.h"   /* the CLI's training state */
#include "ctrain/train/trainer.h" /* the CLI's training loop, as a call */
#include "ctrain/train/export.h"  /* MLP <-> safetensors with metadata */

#endif
