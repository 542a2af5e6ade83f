/* schedule.h — learning-rate schedules with linear warm-up.
 *
 * The schedule is a pure function of the step index (0-based, the number of
 * optimizer updates done before this one), so its whole position is the step
 * the checkpoint already stores.
 *   warm-up:  step < warmup:  lr · (step + 1) / warmup
 *   constant: lr
 *   step:     lr · gamma^floor((step - warmup) / step_size)
 *   cosine:   min_lr + (lr - min_lr) · (1 + cos(π · t / T)) / 2,
 *             t = step - warmup, T = total_steps - warmup (t clamped to T)
 */
#ifndef CT_SCHEDULE_H
#define CT_SCHEDULE_H

#include "../util/api.h"

#include <stdint.h>

typedef enum { CT_SCHED_CONSTANT = 0, CT_SCHED_STEP, CT_SCHED_COSINE } ct_sched_kind;

typedef struct ct_schedule {
	ct_sched_kind kind;
	double lr, gamma, min_lr;
	int64_t warmup, step_size, total_steps;
} ct_schedule;

CT_API int ct_sched_from_name(const char *s); /* -1 if unknown */
CT_API double ct_sched_lr(const ct_schedule *s, int64_t step);

#endif
