/* trainer.h — the training loop over a train_state, with metrics, progress,
 * evaluation, checkpoint cadence, signals and the final export.
 *
 *     ct_train_state s;  ct_train_state_init(&s, &cfg, name, &e);   // or restored from a checkpoint
 *     ct_trainer_result r;
 *     rc = ct_trainer_run(&s, "runs/x", resume_step, NULL, &r, &e);   // resume_step -1: new run
 * Returns 0 when training completed (DIR/model.safetensors written),
 * CT_EINTERRUPTED after SIGINT/SIGTERM/SIGHUP once the checkpoint is durable
 * (r.signal says which), or an error.
 */
#ifndef CT_TRAINER_H
#define CT_TRAINER_H

#include "../util/api.h"
#include "../dist/comm.h"
#include "state.h"

typedef struct ct_trainer_result {
	int64_t steps;  /* total optimizer steps at the end */
	int64_t epochs; /* epochs completed */
	double loss;    /* mean training loss of the last logged window */
	int has_val;
	double val_loss, val_accuracy;
	double samples_per_sec, seconds; /* this process only */
	int signal;
	int early_stopped;
} ct_trainer_result;

/* Optional: after_step runs on the training thread after every step, before
 * pending signals are looked at (the CLI's test option, cli/cli_train.c). */
/* comm (dist/comm.h): the processes of a data-parallel job (train.shards
 * must be a multiple of comm->size); each computes its shards of every batch,
 * and only rank 0 writes the run's files (metrics, checkpoints, export);
 * NULL or one rank: a single process. */
typedef struct ct_trainer_opts {
	void (*after_step)(void *ctx, int64_t step);
	void *ctx;
	ct_comm *comm;
} ct_trainer_opts;

/* o may be NULL. */
CT_API int ct_trainer_run(ct_train_state *s, const char *run_dir, int64_t resume_step,
			  const ct_trainer_opts *o, ct_trainer_result *r, ct_err *e);

#endif
