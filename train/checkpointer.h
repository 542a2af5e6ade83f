/* checkpointer.h — the CLI's checkpoints: a ckpt_manager (train/ckpt_manager.h)
 * holding the fields of a train_state (snapshot_register) and making
 * metrics.csv durable before each checkpoint that refers to it.
 *
 * Calling sequence:
 *     checkpointer cp;
 *     checkpointer_init(&cp, "DIR/checkpoints", &state, &metrics, async, keep_last, keep_every, &e);
 *     ... between two steps:
 *     checkpointer_save(&cp, &state, &e);   // waits for the previous write, copies
 *                                           // the state (memcpy), then writes it here
 *                                           // (sync) or hands it to the thread (async)
 *     ...
 *     checkpointer_wait(&cp, &e);           // before exit: the last write is durable
 *     checkpointer_release(&cp);
 * A write is: fsync metrics.csv (its rows up to this step become durable
 * first), build the HDF5 image, atomic write of DIR/checkpoints/ckpt-<step>.h5,
 * then retention (keep_last, keep_every, and the steps state.best keeps).
 * A background write's failure is returned by the next checkpointer_save or
 * checkpointer_wait, never lost; a failed write never leaves a partial file.
 */
#ifndef CT_CHECKPOINTER_H
#define CT_CHECKPOINTER_H

#include "ckpt_manager.h"
#include "metrics.h"
#include "snapshot.h"

typedef struct checkpointer {
	ckpt_manager *mgr;
	metrics *metrics;
	/* refreshed by save and wait: */
	int64_t last_step;     /* step of the last durable checkpoint, -1 if none */
	double last_write_sec; /* wall time of the last write (image + I/O + retention) */
	double last_stall_sec; /* time the training loop was blocked by the last save */
} checkpointer;

int checkpointer_init(checkpointer *cp, const char *dir, train_state *s, metrics *m, int async,
		      int keep_last, int keep_every, ct_err *e);
int checkpointer_save(checkpointer *cp, const train_state *s, ct_err *e);
int checkpointer_wait(checkpointer *cp, ct_err *e);
/* A checkpoint of step exists already (the one a resume started from). */
void checkpointer_mark_saved(checkpointer *cp, int64_t step);
void checkpointer_release(checkpointer *cp);

#endif
