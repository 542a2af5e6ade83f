/* state_ckpt.h — what a checkpoint of a train_state (the CLI's run) holds:
 * the caller's table for the checkpoint manager (ckpt/manager.h), which
 * writes it (ckpt/write.c) and restores it (ckpt/resume.c).
 *
 *     ct_ckpt_manager *m = state_ckpt_manager("DIR/checkpoints", &state, &opts, &e);
 *     ct_ckpt_manager_restore_latest(m, &step, &e);   // resume
 *     ct_ckpt_manager_save(m, state.step, &e);        // between two steps
 *     ct_ckpt_manager_free(m);
 * Every saved field is also restored (one table).  Layout (for h5py; see
 * also ckpt/README.md):
 *   /@format = "ctrain-checkpoint", /@format_version = 2
 *   /model/<name>       float32, the parameters (same names/shapes as the export)
 *   /optim/m/<name>, /optim/v/<name>   float32 moments (momentum buffer in m)
 *   /optim/step, /optim/lr, attribute /optim@name
 *   /rng/init, /rng/dropout            uint64[4] xoshiro256** states
 *   /data/epoch, /data/cursor, /data/shuffle_rng   loader position
 *   /meta/step, /meta/epoch, /meta/threads, /meta/loss_sum, /meta/loss_count,
 *   /meta/elapsed, /meta/samples_seen, /meta/best_metric, /meta/evals_since_best,
 *   /meta/best_count, /meta/best_steps int64[32], /meta/best_values float64[32]
 *   (keep_best: the steps of the kept best checkpoints, best first, -1 padded;
 *   absent in checkpoints of earlier versions, which still resume)
 *   attributes /meta@config (the frozen config.ini text), /meta@version,
 *   /meta@blas_core (strings are attributes: HDF5 1.10 cannot store a
 *   variable-length string dataset without a fill value)
 */
#ifndef CT_STATE_CKPT_H
#define CT_STATE_CKPT_H

#include "../ckpt/manager.h"
#include "state.h"

/* Registers every field of s in f (the layout above, after f's header).
 * s must stay where it is while f is used. */
int state_ckpt_register(ct_ckpt_fields *f, ct_train_state *s, ct_err *e);
/* ct_ckpt_manager_new(dir, o) with the fields of s registered; NULL on error. */
ct_ckpt_manager *state_ckpt_manager(const char *dir, ct_train_state *s,
				    const ct_ckpt_manager_opts *o, ct_err *e);

#endif
