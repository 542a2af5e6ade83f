/* manager.h — full checkpoints from your own training loop, with the
 * guarantees of `ctrain train`: each checkpoint is written atomically
 * (temporary file, fsync, rename, fsync of the directory) with a CRC-32C
 * trailer, optionally from a background thread while training goes on;
 * restore takes the newest *valid* one, skipping damaged files with a WARN
 * (they are renamed *.corrupt, never deleted); retention keeps the newest
 * keep_last, every keep_every-th and the keep_best best, and never deletes
 * the newest valid one.
 *
 * Register everything the loop needs to continue bit-exactly, restore, then
 * call maybe_save after each step:
 *
 *     ct_ckpt_manager_opts o = CT_CKPT_MANAGER_OPTS_DEFAULT;
 *     o.every_steps = 100; o.keep_last = 3; o.async = 1;
 *     ct_ckpt_manager *cm = ct_ckpt_manager_new("runs/x/checkpoints", &o, &e);
 *     ct_ckpt_manager_add_params(cm, "model", &ps, &e);        // /model/<param name>
 *     ct_ckpt_manager_add_optim(cm, "optim", &opt, &ps, &e);   // moments, step, name
 *     ct_ckpt_manager_add_loader(cm, "data", &ld, &e);         // epoch, cursor, shuffle
 *     ct_ckpt_manager_add_rng(cm, "rng/dropout", &drop_rng, &e);
 *     ct_ckpt_manager_add_i64(cm, "user/step", &step, &e);     // your counters...
 *     ct_ckpt_manager_add_blob(cm, "user/ema", &ema, sizeof ema, &e);  // ...and bytes
 *     int64_t at;
 *     if (ct_ckpt_manager_restore_latest(cm, &at, &e) < 0) fail;   // 1 restored, 0 none
 *     while (step < total) {
 *             ...one training step...; step++;
 *             if (ct_ckpt_manager_maybe_save(cm, step, &e) < 0) fail;
 *     }
 *     ct_ckpt_manager_finish(cm, step, &e);   // final checkpoint, durable on return
 *     ct_ckpt_manager_free(cm);
 *
 * Keeping the best and stopping early (ckpt/best.h): register a tracker and
 * report each validation result; a result among the K best is saved at once
 * and protected from retention until K better ones push it out:
 *     ct_best_tracker b; ct_best_init(&b, 2, 5, CT_BEST_LOWER);
 *     ct_ckpt_manager_add_best(cm, &b, &e);
 *     int f = ct_ckpt_manager_observe(cm, step, val_loss, &e);   // < 0: error
 *     if (f & CT_BEST_STOP) break;
 *
 * Names are slash-separated paths of [A-Za-z0-9_.-] ("model", "user/ema");
 * each becomes the HDF5 group or dataset of that name, readable with h5py.
 * All registrations come before the first restore or save, and the
 * registered objects must stay where they are.  A background write reads
 * only the manager's copies, so the loop may change its state at once; its
 * failure is returned by the next save, wait or finish, never lost.  A
 * synchronous save copies nothing: it writes the large fields (parameters,
 * moments) straight from your state before it returns, and leaves deleting
 * old checkpoints to a background thread (the next save, wait, finish or
 * free waits for it).
 *
 * The module (one line each): fields.c the table of what a checkpoint holds,
 * adapters.c the fields of params/optim/loader/rng/best, write.c saving
 * (fields -> image -> atomic file -> retention), resume.c restoring (newest
 * valid file -> verify -> check -> apply), manager.c creation, registration
 * and cadence.  `ctrain train/resume` use the same manager (train/trainer.c,
 * cli/cli_train.c) with the fields of train/state_ckpt.c.
 */
#ifndef CT_CKPT_MANAGER_H
#define CT_CKPT_MANAGER_H

#include <stddef.h>
#include <stdint.h>

#include "../util/api.h"
#include "best.h"
#include "fields.h"

typedef struct ct_ckpt_manager ct_ckpt_manager;

typedef struct ct_ckpt_manager_opts {
	int64_t every_steps;  /* maybe_save saves when step % every_steps == 0 (0: off) */
	double every_seconds; /* ... or when this long passed since the last save (0: off) */
	int keep_last;        /* retention: the N newest valid checkpoints (0: keep all) */
	int keep_every;       /* ... and every one whose step is a multiple of N (0: none) */
	int async;            /* write from a background thread, one write in flight */
	/* Optional, e.g. to make a log durable before the checkpoint that refers
	 * to it: before_take runs on the caller's thread before the copy,
	 * before_write on the writing thread before the file is written. */
	int (*before_take)(void *ctx, ct_err *e);
	int (*before_write)(void *ctx, ct_err *e);
	/* Optional: runs in ct_ckpt_manager_restore_latest after the newest valid
	 * file was read into the fields' copies (f: the file's values, e.g.
	 * ct_ckpt_fields_find(f, "/meta@config")->copy) and before anything is
	 * applied; < 0 refuses the restore with the state unchanged. */
	int (*check_restore)(void *ctx, const ct_ckpt_fields *f, const char *path, ct_err *e);
	void *hook_ctx;
} ct_ckpt_manager_opts;

#define CT_CKPT_MANAGER_OPTS_DEFAULT \
	{                            \
		.keep_last = 3       \
	}

/* Creates dir (and its parents) if needed. */
CT_API ct_ckpt_manager *ct_ckpt_manager_new(const char *dir, const ct_ckpt_manager_opts *opts,
					    ct_err *e);
/* Waits for a write in flight (call ct_ckpt_manager_wait first to see its result). */
CT_API void ct_ckpt_manager_free(ct_ckpt_manager *m);

CT_API int ct_ckpt_manager_add_params(ct_ckpt_manager *m, const char *name, ct_params *ps,
				      ct_err *e);
CT_API int ct_ckpt_manager_add_optim(ct_ckpt_manager *m, const char *name, ct_optim *o,
				     const ct_params *ps, ct_err *e);
CT_API int ct_ckpt_manager_add_loader(ct_ckpt_manager *m, const char *name, ct_loader *ld,
				      ct_err *e);
CT_API int ct_ckpt_manager_add_rng(ct_ckpt_manager *m, const char *name, ct_rng *r, ct_err *e);
CT_API int ct_ckpt_manager_add_i64(ct_ckpt_manager *m, const char *name, int64_t *v, ct_err *e);
CT_API int ct_ckpt_manager_add_f64(ct_ckpt_manager *m, const char *name, double *v, ct_err *e);
/* len bytes at data, restored to the same place (a struct, an array). */
CT_API int ct_ckpt_manager_add_blob(ct_ckpt_manager *m, const char *name, void *data, size_t len,
				    ct_err *e);
/* The tracker's state goes in /meta; its kept steps are protected. */
CT_API int ct_ckpt_manager_add_best(ct_ckpt_manager *m, ct_best_tracker *b, ct_err *e);
/* The table itself, for other registrations (train/state_ckpt.c). */
CT_API ct_ckpt_fields *ct_ckpt_manager_fields(ct_ckpt_manager *m);

/* Restores the newest valid checkpoint (resume.c): removes the temporary
 * files of interrupted writes, returns 1 and *step, or 0 and *step = -1 when
 * the directory holds no checkpoint file at all (a fresh start).  Damaged
 * files are skipped with a WARN and moved aside; CT_ENOTFOUND when
 * checkpoint files exist (or were moved aside) but none is valid, other
 * errors as read, check_restore or apply.  On error the registered state is
 * unchanged.  Logs the file used, and a WARN when it was written with
 * another OpenBLAS core. */
CT_API int ct_ckpt_manager_restore_latest(ct_ckpt_manager *m, int64_t *step, ct_err *e);
/* Tells the manager that a checkpoint of step exists already (restored by
 * other means), so that finish does not write it again. */
CT_API void ct_ckpt_manager_mark_saved(ct_ckpt_manager *m, int64_t step);

/* Saves when the cadence says so: 1 saved (or queued), 0 not due, < 0 error. */
CT_API int ct_ckpt_manager_maybe_save(ct_ckpt_manager *m, int64_t step, ct_err *e);
/* Saves now (waits for the previous write first).  0 or < 0. */
CT_API int ct_ckpt_manager_save(ct_ckpt_manager *m, int64_t step, ct_err *e);
/* ct_best_update on the registered tracker, then a save if the step is kept;
 * returns the BEST_* flags or < 0. */
CT_API int ct_ckpt_manager_observe(ct_ckpt_manager *m, int64_t step, double value, ct_err *e);
/* Waits for the write in flight; returns its error, if any. */
CT_API int ct_ckpt_manager_wait(ct_ckpt_manager *m, ct_err *e);
/* Makes sure a checkpoint of step is durable (saves it unless it was the
 * last one written), then waits. */
CT_API int ct_ckpt_manager_finish(ct_ckpt_manager *m, int64_t step, ct_err *e);

/* 1 if dir holds any ckpt-* file (valid, damaged or moved aside *.corrupt),
 * or cannot be read; 0 if it holds none or does not exist. */
CT_API int ct_ckpt_dir_has_any(const char *dir);

/* Step of the last checkpoint known durable, -1 if none. */
CT_API int64_t ct_ckpt_manager_last_step(ct_ckpt_manager *m);
typedef struct ct_ckpt_manager_stats {
	double last_write_sec; /* wall time of the last write (image + I/O + retention) */
	double last_stall_sec; /* time the caller was blocked by the last save */
} ct_ckpt_manager_stats;
CT_API ct_ckpt_manager_stats ct_ckpt_manager_get_stats(ct_ckpt_manager *m);

#endif
