/* checkpointer.h — writes full checkpoints of a train_state, synchronously or
 * from a background thread, with at most one write in flight.
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
 * then retention.  A background write's failure is returned by the next
 * checkpointer_save or checkpointer_wait, never lost; a failed write never
 * leaves a partial file (the atomic writer removes its temporary file).
 */
#ifndef CT_CHECKPOINTER_H
#define CT_CHECKPOINTER_H

#include <pthread.h>

#include "metrics.h"
#include "snapshot.h"

typedef struct checkpointer {
	char dir[4096];
	int async, keep_last, keep_every;
	metrics *metrics;
	snapshot sn;
	void *image;        /* checkpoint image buffer, reused across writes */
	size_t image_cap;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int have_thread, busy, quit;
	int last_rc;        /* result of the last background write */
	ct_err last_err;
	int64_t last_step;  /* step of the last successful write, -1 if none */
	double last_write_sec; /* wall time of the last write (image + I/O + retention) */
	double last_stall_sec; /* time the training loop was blocked by the last save */
} checkpointer;

int checkpointer_init(checkpointer *cp, const char *dir, const train_state *s, metrics *m,
		      int async, int keep_last, int keep_every, ct_err *e);
int checkpointer_save(checkpointer *cp, const train_state *s, ct_err *e);
int checkpointer_wait(checkpointer *cp, ct_err *e);
void checkpointer_release(checkpointer *cp);

#endif
