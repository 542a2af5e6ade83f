/* ctrain.h — ctrain as a C library: one include for programs that build and
 * train their own models, checkpoint them from their own loop and exchange
 * weights with PyTorch through safetensors.
 *
 * Build against an installed ctrain (make install PREFIX=...):
 *     cc $(pkg-config --cflags ctrain) prog.c $(pkg-config --libs ctrain)
 *     (static: $(pkg-config --cflags --libs --static ctrain) with -l:libctrain.a)
 *
 * A program in a few calls (complete versions: examples/):
 *
 *     #include <ctrain.h>
 *     ct_err e = {0};
 *     ct_params ps; ct_params_init(&ps);                        // 1. name the parameters
 *     ct_module root = ct_module_root(&ps);
 *     ct_linear_layer l0 = ct_module_linear(&root, "fc1", 2, 8, 1);  // "fc1.weight", "fc1.bias"
 *     ct_linear_layer l1 = ct_module_linear(&root, "fc2", 8, 2, 1);
 *     ct_params_alloc(&ps, &e);
 *     ct_rng r; ct_rng_seed(&r, 42, CT_RNG_STREAM_INIT);
 *     ct_linear_init(&ps, &l0, &r); ct_linear_init(&ps, &l1, &r);
 *     ct_graph *g = ct_graph_new(&ps, batch);                   // 2. compose ops (any DAG)
 *     int x = ct_graph_input(g, 2);
 *     int h = ct_graph_act(g, ct_graph_linear(g, x, l0.weight, l0.bias), CT_ACT_TANH);
 *     int L = ct_graph_softmax_xent(g, ct_graph_linear(g, h, l1.weight, l1.bias));
 *     ct_graph_finalize(g, &e);
 *     ct_optim o; ct_optim_init(&o, CT_OPT_ADAM, ps.n,
 *                  &(ct_optim_hparams){.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8}, &e);
 *     ct_ckpt_manager *cm = ct_ckpt_manager_new("run/checkpoints", NULL, &e);  // 3. checkpoints
 *     ct_ckpt_manager_add_params(cm, "model", &ps, &e);
 *     ct_ckpt_manager_add_optim(cm, "optim", &o, &ps, &e);
 *     for (...) {                                               // 4. your loop
 *             memcpy(ct_graph_value(g, x), batch_x, ...); ct_graph_set_labels(g, L, batch_y);
 *             ct_graph_forward(g); ct_graph_backward(g, L);
 *             ct_grad_clip_norm(ps.grad, ps.n, 1.0);
 *             ct_optim_step(&o, ps.data, ps.grad, lr);
 *             ct_ckpt_manager_maybe_save(cm, step, &e);
 *     }
 *     ct_state_dict_save("model.safetensors", &ps, NULL, &e);   // 5. PyTorch loads it
 * Data-parallel on P ranks (mpirun) with the same bytes for every P: the
 * shards, the tree and the exchange of dist/ (examples/dataparallel.c).
 *
 * Every function that can fail returns a negative code from ctrain/util/err.h
 * and fills a ct_err with a one-line message naming the file and the problem;
 * nothing in the library exits.  Each header below starts with what it is for
 * and its calling sequence.
 *
 * Names: every function and type of the API starts with ct_, every constant
 * and macro with CT_, and libctrain.so exports nothing else (each function
 * declaration carries CT_API, the library is built with -fvisibility=hidden).
 */
#ifndef CTRAIN_H
#define CTRAIN_H

#include "ctrain/util/err.h" /* ct_err, error codes */
#include "ctrain/util/log.h" /* log level, capture hook */

#include "ctrain/util/rng.h"    /* saveable random streams */
#include "ctrain/nn/params.h"   /* flat parameter buffer, load reports */
#include "ctrain/nn/module.h"   /* module tree names, linear layers, state_dict_save/load */
#include "ctrain/nn/ops.h"      /* kernels, activations */
#include "ctrain/nn/graph.h"    /* autograd tape: residual, concat, shared weights */
#include "ctrain/nn/optim.h"    /* SGD, Adam, AdamW, gradient clipping */
#include "ctrain/nn/schedule.h" /* learning-rate schedules */
#include "ctrain/nn/mlp.h"      /* the built-in MLP */

#include "ctrain/data/dataset.h" /* IDX/MNIST, CSV, synthetic data, split */
#include "ctrain/data/loader.h"  /* resumable shuffling mini-batch loader */

#include "ctrain/formats/tdict.h"       /* named tensors */
#include "ctrain/formats/safetensors.h" /* .safetensors read/write */
#include "ctrain/ckpt/discover.h"       /* checkpoint discovery and retention */

#include "ctrain/ckpt/best.h"     /* keep_best and early stopping */
#include "ctrain/ckpt/fields.h"   /* what a checkpoint holds */
#include "ctrain/ckpt/manager.h"  /* checkpoints from a custom loop */
#include "ctrain/train/config.h"  /* the INI config of ctrain train */
#include "ctrain/train/state.h"   /* the CLI's training state */
#include "ctrain/train/trainer.h" /* the CLI's training loop, as a call */
#include "ctrain/train/export.h"  /* MLP <-> safetensors with metadata */
#include "ctrain/dist/shards.h"   /* fixed micro-shards, one reduction tree */
#include "ctrain/dist/comm.h"     /* MPI when started by a launcher, else one rank */
#include "ctrain/dist/replica.h"  /* step exchange, stop vote, replica digest */

#endif
