/* metrics.h — DIR/metrics.csv: one row per logged step.
 *
 * Header: step,epoch,loss,lr,val_loss,val_accuracy,samples_per_sec,elapsed_sec,
 *         grad_norm,ckpt_sec
 * The timing columns samples_per_sec, elapsed_sec and ckpt_sec are the only
 * ones that differ between an interrupted and an uninterrupted run.  val_*
 * cells are empty when the row had no evaluation.  grad_norm is the global L2
 * norm of the gradient of the row's step (before clipping); ckpt_sec the
 * wall-clock seconds the loop spent saving checkpoints since the previous row
 * (the whole write when synchronous, the copy when async), empty when
 * it saved none.  A file of the 8-column version is upgraded on resume: new
 * header, its rows padded with two empty cells.
 *
 * Crash safety: metrics_sync() (fflush + fsync) runs before every checkpoint
 * write, so every row up to a checkpoint's step is durable before the
 * checkpoint that refers to it.  On resume, metrics_open(..., resume_step)
 * keeps the header and the rows with step <= resume_step (dropping rows a
 * killed process wrote after its last checkpoint, including a torn last line)
 * and rewrites the file atomically before appending.
 *
 * Write errors lose nothing: the file's whole text is also kept in memory (it
 * was read whole at open anyway), because a failed fflush makes glibc drop
 * the buffered rows and a failed fsync may have dropped written pages.  After
 * any failure the object is marked broken; the next metrics_flush/sync
 * rewrites the file atomically from memory and reports only if that fails.
 */
#ifndef CT_METRICS_H
#define CT_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "../util/err.h"

typedef struct metrics {
	FILE *f; /* NULL after a failed repair */
	char path[4096];
	char *text; /* what the file must hold: header and every row */
	size_t len, cap;
	int broken; /* a write or fsync failed: rewrite before use */
} metrics;

typedef struct metrics_row {
	int64_t step, epoch;
	double loss, lr;
	int has_val;
	double val_loss, val_accuracy;
	double samples_per_sec, elapsed_sec;
	double grad_norm;
	int has_ckpt;
	double ckpt_sec;
} metrics_row;

#define METRICS_HEADER \
	"step,epoch,loss,lr,val_loss,val_accuracy,samples_per_sec,elapsed_sec,grad_norm,ckpt_sec"
/* The header of files written before grad_norm and ckpt_sec. */
#define METRICS_HEADER_V1 "step,epoch,loss,lr,val_loss,val_accuracy,samples_per_sec,elapsed_sec"

/* resume_step < 0: start a new file.  Otherwise keep rows with step <= resume_step. */
int metrics_open(metrics *m, const char *path, int64_t resume_step, ct_err *e);
/* Appends a row; an I/O failure only marks the file broken (fails on ENOMEM). */
int metrics_write(metrics *m, const metrics_row *r, ct_err *e);
/* Makes every row written so far durable. */
int metrics_sync(metrics *m, ct_err *e);
/* Hands the rows to the kernel (repairing a broken file first). */
int metrics_flush(metrics *m, ct_err *e);
/* Called when an fsync of fileno(m->f) made elsewhere failed: its pages may be
 * lost, so the next flush rewrites the file.  Safe from another thread. */
void metrics_mark_broken(metrics *m);
int metrics_close(metrics *m, ct_err *e);

#endif
