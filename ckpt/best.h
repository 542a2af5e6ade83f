/* best.h — tracking a monitored validation metric: which checkpoints are the
 * K best so far (keep_best) and when to stop for lack of progress (early
 * stopping with patience).  The whole state is plain numbers so that a
 * checkpoint carries it (ckpt_fields_add_best) and a resumed run keeps, and
 * stops at, exactly what an uninterrupted run would.
 *
 *     best_tracker b;
 *     best_init(&b, 2, 5, BEST_LOWER);          // keep 2 best, patience 5, val_loss
 *     ...after each evaluation of the model at `step`:
 *     int f = best_update(&b, step, val_loss);
 *     if (f & BEST_KEPT) save a checkpoint of this step (it is now protected);
 *     if (f & BEST_STOP) stop training;
 *     ...retention keeps b.kept_step[0 .. b.n_kept) besides its own choice.
 *
 * Improvement is strict (an equal value does not reset patience, and enters
 * the K best only when there is room), comparisons are exact on doubles, and
 * NaN never improves anything.
 */
#ifndef CT_BEST_H
#define CT_BEST_H

#include <stdint.h>

#define BEST_MAX 32 /* most checkpoints keep_best can protect */

enum { BEST_LOWER = 0, BEST_HIGHER = 1 };                 /* val_loss, val_accuracy */
enum { BEST_IMPROVED = 1, BEST_KEPT = 2, BEST_STOP = 4 }; /* best_update flags */

typedef struct best_tracker {
	/* settings, from the config or the program (not saved) */
	int keep;     /* K: 0..BEST_MAX */
	int patience; /* evaluations without improvement before stopping; 0 = never */
	int higher;   /* BEST_HIGHER when larger is better */
	/* state, saved in checkpoints */
	double best_metric; /* NaN before the first evaluation */
	int64_t evals_since_best;
	int64_t n_kept;              /* entries below, best first */
	int64_t kept_step[BEST_MAX]; /* -1 past n_kept */
	double kept_value[BEST_MAX]; /* NaN past n_kept */
} best_tracker;

void best_init(best_tracker *b, int keep, int patience, int higher);
/* Records the metric of the model at step; returns BEST_* flags. */
int best_update(best_tracker *b, int64_t step, double value);
/* 1 when patience is exhausted (also right after a resume of a run that had
 * stopped, so it does not train on). */
int best_should_stop(const best_tracker *b);
/* 1 if step is one of the kept best. */
int best_is_kept(const best_tracker *b, int64_t step);
/* After a resume with a smaller keep: forgets the entries past it. */
void best_set_keep(best_tracker *b, int keep);

#endif
