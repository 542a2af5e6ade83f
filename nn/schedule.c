#include "schedule.h"

#include <math.h>
#include <string.h>

int ct_sched_from_name(const char *s)
{
	static const char *names[] = {"constant", "step", "cosine"};
	for (int i = 0; i < 3; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

double ct_sched_lr(const ct_schedule *s, int64_t step)
{
	if (step < s->warmup)
		return s->lr * (double)(step + 1) / (double)s->warmup;
	int64_t t = step - s->warmup;
	switch (s->kind) {
	case CT_SCHED_STEP: {
		int64_t decays = t / (s->step_size > 0 ? s->step_size : 1); /* floor: whole steps */
		return s->lr * pow(s->gamma, (double)decays);
	}
	case CT_SCHED_COSINE: {
		int64_t T = s->total_steps - s->warmup;
		if (T <= 0)
			return s->min_lr;
		if (t > T)
			t = T;
		return s->min_lr +
		       (s->lr - s->min_lr) * 0.5 * (1.0 + cos(M_PI * (double)t / (double)T));
	}
	default: return s->lr;
	}
}
