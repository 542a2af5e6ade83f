/* progress.h — what a person watching a run sees on stderr: a redrawn bar with
 * rate and ETA when stderr is a terminal, plain "INFO step ..." lines every
 * log_every steps otherwise (logs, CI, nohup).
 */
#ifndef CT_PROGRESS_H
#define CT_PROGRESS_H

#include <stdint.h>

typedef struct progress {
	int tty;
	int64_t start_step, total;
	double t_start, last_draw;
	int drawn;
} progress;

void progress_init(progress *p, int64_t start_step, int64_t total);
/* Called every step; redraws at most 10 times a second (TTY only). */
void progress_tick(progress *p, int64_t step, int64_t epoch, int64_t epochs, double loss);
/* Called at each metrics row: a log line when not a TTY. */
void progress_row(progress *p, int64_t step, int64_t epoch, int64_t epochs, double loss, double lr,
		  double sps, int has_val, double val_loss, double val_acc);
/* Ends the bar's line so following log lines start clean. */
void progress_clear(progress *p);
double progress_now(void);
/* "1h02m", "3m05s", "12s" */
void format_duration(char *buf, unsigned len, double seconds);

#endif
