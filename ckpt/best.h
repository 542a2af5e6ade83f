/* best.h — tracking a monitored validation metric: which checkpoints are the
 * K best so far (keep_best) and when to stop for lack of progress (early
 * stopping with patience).  The whole state is plain numbers so that a
 * checkpoint carries it (ct_ckpt_fields_add_best) and a resumed run keeps, and
 * stops at, exactly what an uninterrupted run would.
 *
 *     ct_best_tracker b;
 *     ct_best_init(&b, 2, 5, CT_BEST_LOWER);          // keep 2 best, patience 5, val_loss
 *     ...after each evaluation of the model at `step`:
 *     int f = ct_best_update(&b, step, val_loss);
 *     if (f & CT_BEST_KEPT) save a checkpoint of this step (it is now protected);
 *     if (f & CT_BEST_STOP) stop training;
 *     ...retention keeps b.kept_step[0 .. b.n_kept) besides its own choice.
 *
 * Improvement is strict (an equal value does not reset patience, and enters
 * the K best only when there is room), comparisons are exact on doubles, and
 * NaN never improves anything.
 */
#ifndef CT_BEST_H
#define CT_BEST_H

#include "../util/api.h"

#include <stdint.h>

#define CT_BEST_MAX 32 /* most checkpoints keep_best can protect */

enum { CT_BEST_LOWER = 0, CT_BEST_HIGHER = 1 };                    /* val_loss, val_accuracy */
enum { CT_BEST_IMPROVED = 1, CT_BEST_KEPT = 2, CT_BEST_STOP = 4 }; /* ct_best_update flags */

typedef struct ct_best_tracker {
	/* settings, from the config or the program (not saved) */
	int keep;     /* K: 0..CT_BEST_MAX */
	int patience; /* evaluations without improvement before stopping; 0 = never */
	int higher;   /* CT_BEST_HIGHER when larger is better */
	/* state, saved in checkpoints */
	double best_metric; /* NaN before the first evaluation */
	int64_t evals_since_best;
	int64_t n_kept;                 /* entries below, best first */
	int64_t kept_step[CT_BEST_MAX]; /* -1 past n_kept */
	double kept_value[CT_BEST_MAX]; /* NaN past n_kept */
} ct_best_tracker;

CT_API void ct_best_init(ct_best_tracker *b, int keep, int patience, int higher);
/* Records the metric of the model at step; returns BEST_* flags. */
CT_API int ct_best_update(ct_best_tracker *b, int64_t step, double value);
/* 1 when patience is exhausted (also right after a resume of a run that had
 * stopped, so it does not train on). */
CT_API int ct_best_should_stop(const ct_best_tracker *b);
/* 1 if step is one of the kept best. */
CT_API int ct_best_is_kept(const ct_best_tracker *b, int64_t step);
/* After a resume with a smaller keep: forgets the entries past it. */
CT_API void ct_best_set_keep(ct_best_tracker *b, int keep);

#endif
