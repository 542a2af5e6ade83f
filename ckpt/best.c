#include "best.h"

#include <math.h>
#include <string.h>

#include "../util/err.h"

static void clear_from(ct_best_tracker *b, int64_t i)
{
	for (; i < CT_BEST_MAX; i++) {
		b->kept_step[i] = -1;
		b->kept_value[i] = (double)NAN;
	}
}

void ct_best_init(ct_best_tracker *b, int keep, int patience, int higher)
{
	CT_ASSERT(keep >= 0 && keep <= CT_BEST_MAX && patience >= 0);
	memset(b, 0, sizeof *b);
	b->keep = keep;
	b->patience = patience;
	b->higher = higher;
	b->best_metric = (double)NAN;
	clear_from(b, 0);
}

static int better(const ct_best_tracker *b, double v, double than)
{
	return b->higher ? v > than : v < than;
}

/* Inserts (step, value) in rank order if it belongs to the K best. */
static int keep_if_top(ct_best_tracker *b, int64_t step, double value)
{
	int64_t n = b->n_kept, at = n;
	while (at > 0 && better(b, value, b->kept_value[at - 1]))
		at--;
	if (at >= b->keep)
		return 0;
	if (n == b->keep)
		n--; /* the worst one leaves */
	memmove(&b->kept_step[at + 1], &b->kept_step[at], (size_t)(n - at) * sizeof *b->kept_step);
	memmove(&b->kept_value[at + 1], &b->kept_value[at],
		(size_t)(n - at) * sizeof *b->kept_value);
	b->kept_step[at] = step;
	b->kept_value[at] = value;
	b->n_kept = n + 1;
	return 1;
}

int ct_best_update(ct_best_tracker *b, int64_t step, double value)
{
	int flags = 0;
	if (!isnan(value) && (isnan(b->best_metric) || better(b, value, b->best_metric))) {
		b->best_metric = value;
		b->evals_since_best = 0;
		flags |= CT_BEST_IMPROVED;
	} else { /* a NaN is never an improvement */
		b->evals_since_best++;
	}
	if (!isnan(value) && keep_if_top(b, step, value))
		flags |= CT_BEST_KEPT;
	if (ct_best_should_stop(b))
		flags |= CT_BEST_STOP;
	return flags;
}

int ct_best_should_stop(const ct_best_tracker *b)
{
	return b->patience > 0 && b->evals_since_best >= b->patience;
}

int ct_best_is_kept(const ct_best_tracker *b, int64_t step)
{
	for (int64_t i = 0; i < b->n_kept; i++)
		if (b->kept_step[i] == step)
			return 1;
	return 0;
}

void ct_best_set_keep(ct_best_tracker *b, int keep)
{
	CT_ASSERT(keep >= 0 && keep <= CT_BEST_MAX);
	b->keep = keep;
	if (b->n_kept > keep) {
		b->n_kept = keep;
		clear_from(b, keep);
	}
}
