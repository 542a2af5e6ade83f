/* normalize.h — data.normalize = standard: each feature minus its training
 * mean, divided by its training standard deviation (population, as
 * sklearn's StandardScaler; a constant feature is divided by 1).
 *
 * The statistics come from one pass over the training rows in their order,
 * accumulated in double around the first row (shifted sums), then rounded to
 * float32; the transform is float32 x = (x - mean) / std, which PyTorch or
 * NumPy reproduce bit for bit from the float32 statistics:
 *
 *     ct_norm_stats ns = {0};
 *     ct_norm_compute(&train, &ns, &e);            // mean, std: d floats each
 *     ct_norm_apply(&ns, train.x, train.n);        // in place
 *     ct_norm_apply(&ns, val.x, val.n);
 *     ...
 *     ct_norm_release(&ns);
 *
 * A checkpoint keeps them in /data/norm_mean and /data/norm_std, an exported
 * model in __metadata__ normalize_mean / normalize_std ("%.9g" text, comma
 * separated), so eval and predict apply the transform of training.
 */
#ifndef CT_NORMALIZE_H
#define CT_NORMALIZE_H

#include <stdint.h>

#include "../util/api.h"
#include "../util/err.h"
#include "dataset.h"

typedef struct ct_norm_stats {
	int d; /* 0 = no normalization */
	float *mean, *std;
} ct_norm_stats;

CT_API int ct_norm_alloc(ct_norm_stats *ns, int d, ct_err *e);
CT_API void ct_norm_release(ct_norm_stats *ns);
CT_API int ct_norm_compute(const ct_dataset *train, ct_norm_stats *ns, ct_err *e);
/* x: n rows of ns->d features; nothing when ns->d == 0. */
CT_API void ct_norm_apply(const ct_norm_stats *ns, float *x, int64_t n);

/* "m0,m1,..." into buf (cap >= 17 * d) */
CT_API void ct_norm_format(const float *v, int d, char *buf, size_t cap);
/* Parses exactly d comma-separated finite floats (std: > 0); what names the
 * text in messages. */
CT_API int ct_norm_parse(const char *text, int d, int positive, float *out, const char *what,
			 ct_err *e);

#endif
