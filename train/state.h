/* state.h — train_state: the one value that holds everything a training run
 * needs to continue, and nothing it can recompute.
 *
 * The loop (trainer.c) reads and writes only this; the checkpoint module
 * copies it out (ckpt/write.c) and back (ckpt/resume.c) through one table of
 * fields (state_ckpt.c, ckpt/fields.h), so a field cannot be saved and
 * forgotten on load.
 *
 *     ct_train_state s;
 *     ct_train_state_init(&s, &cfg, "run.ini", &e);   // data, model, optimizer, loader, rngs
 *     ... train ...              // or ct_ckpt_manager_restore_latest to resume (state_ckpt.h)
 *     ct_train_state_release(&s);
 */
#ifndef CT_STATE_H
#define CT_STATE_H

#include <stdint.h>

#include "../util/api.h"
#include "../data/dataset.h"
#include "../data/loader.h"
#include "../data/normalize.h"
#include "../nn/mlp.h"
#include "../nn/optim.h"
#include "../util/rng.h"
#include "../nn/schedule.h"
#include "../ckpt/best.h"
#include "config.h"

typedef struct ct_train_state {
	ct_config cfg;
	ct_dataset train, val;
	ct_norm_stats norm; /* data.normalize = standard: applied to train and val; d = 0 if none */
	struct h5stream *stream; /* the training rows when streamed (train.x is then NULL) */
	ct_mlp model;
	ct_optim opt;
	ct_schedule sched;
	ct_loader ld;
	ct_rng init_rng, dropout_rng;
	int64_t step;            /* optimizer updates done */
	int64_t steps_per_epoch; /* derived from data and batch size */
	double loss_sum;         /* training loss summed since the last metrics row */
	int64_t loss_count;
	double elapsed; /* training seconds spent by earlier processes */
	int64_t samples_seen;
	ct_best_tracker best; /* keep_best and early stopping on cfg.monitor */
} ct_train_state;

/* Loads the data named by cfg (train and validation split), builds the model
 * and optimizer, initialises weights from the init stream.  name is used in
 * messages about the config ("run.ini"). */
CT_API int ct_train_state_init(ct_train_state *s, const ct_config *cfg, const char *name,
			       ct_err *e);
CT_API void ct_train_state_release(ct_train_state *s);

/* Loads the data set of cfg: train/val split of the training data (test=0) or,
 * for mnist/fashion-mnist, the t10k test files (test=1; val is left empty). */
CT_API int ct_data_load(const ct_config *cfg, int test, ct_dataset *train, ct_dataset *val,
			ct_err *e);

CT_API int64_t ct_train_total_steps(const ct_train_state *s);
/* data.memory_mb in bytes, or half the physical memory when it is 0. */
CT_API uint64_t ct_data_memory_budget(const ct_config *cfg);

#endif
