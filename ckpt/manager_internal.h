/* manager_internal.h — the ckpt_manager's state, shared by the three files
 * that make it up (not installed):
 *   manager.c  creation, registration, cadence (maybe_save, observe, finish)
 *   write.c    save a checkpoint: fields -> image -> atomic file -> retention,
 *              on the caller's thread or the writer thread
 *   resume.c   restore: clean-up, newest valid file, verify, check hooks, apply
 */
#ifndef CT_CKPT_MANAGER_INTERNAL_H
#define CT_CKPT_MANAGER_INTERNAL_H

#include <pthread.h>

#include "manager.h"

struct ct_ckpt_manager {
	char dir[4096];
	ct_ckpt_manager_opts o;
	ct_ckpt_fields f;
	ct_best_tracker *best;
	ct_h5c_image image; /* reused across writes */
	int64_t taken_step; /* step of the last copy taken, -1 */
	double last_save_time;
	/* shared with the writer thread, under mu */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int have_thread, busy, quit;
	int last_rc;
	ct_err last_err;
	int64_t last_step; /* last durable checkpoint, -1 */
	ct_ckpt_manager_stats st;
};

/* Monotonic seconds. */
double ckpt_now_sec(void);
/* write.c: starts the writer thread when the options need one (async, or
 * retention off the caller's thread); falls back to synchronous writes. */
void ckpt_writer_start(ct_ckpt_manager *m);
/* write.c: asks the writer thread to finish and joins it. */
void ckpt_writer_stop(ct_ckpt_manager *m);

#endif
