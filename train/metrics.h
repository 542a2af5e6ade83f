/* metrics.h — DIR/metrics.csv: one row per logged step.
 *
 * Header: step,epoch,loss,lr,val_loss,val_accuracy,samples_per_sec,elapsed_sec
 * (timing columns last: they are the only ones that differ between an
 * interrupted and an uninterrupted run).  val_* cells are empty when the row
 * had no evaluation.
 *
 * Crash safety: metrics_sync() (fflush + fsync) runs before every checkpoint
 * write, so every row up to a checkpoint's step is durable before the
 * checkpoint that refers to it.  On resume, metrics_open(..., resume_step)
 * keeps the header and the rows with step <= resume_step (dropping rows a
 * killed process wrote after its last checkpoint, including a torn last line)
 * and rewrites the file atomically before appending.
 */
#ifndef CT_METRICS_H
#define CT_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "../util/err.h"

typedef struct metrics {
	FILE *f;
	char path[4096];
} metrics;

typedef struct metrics_row {
	int64_t step, epoch;
	double loss, lr;
	int has_val;
	double val_loss, val_accuracy;
	double samples_per_sec, elapsed_sec;
} metrics_row;

#define METRICS_HEADER "step,epoch,loss,lr,val_loss,val_accuracy,samples_per_sec,elapsed_sec"

/* resume_step < 0: start a new file.  Otherwise keep rows with step <= resume_step. */
int metrics_open(metrics *m, const char *path, int64_t resume_step, ct_err *e);
int metrics_write(metrics *m, const metrics_row *r, ct_err *e);
/* Makes every row written so far durable. */
int metrics_sync(metrics *m, ct_err *e);
int metrics_flush(metrics *m, ct_err *e);
int metrics_close(metrics *m, ct_err *e);

#endif
