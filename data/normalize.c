/* Per-feature standardization (see normalize.h). */
#include "normalize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ct_norm_alloc(ct_norm_stats *ns, int d, ct_err *e)
{
	memset(ns, 0, sizeof *ns);
	CT_ASSERT(d >= 1);
	ns->mean = malloc((size_t)d * sizeof(float));
	ns->std = malloc((size_t)d * sizeof(float));
	if (!ns->mean || !ns->std) {
		ct_norm_release(ns);
		return ct_errf(e, CT_ENOMEM, "out of memory for %d normalization statistics", d);
	}
	ns->d = d;
	return 0;
}

void ct_norm_release(ct_norm_stats *ns)
{
	free(ns->mean);
	free(ns->std);
	memset(ns, 0, sizeof *ns);
}

int ct_norm_compute(const ct_dataset *train, ct_norm_stats *ns, ct_err *e)
{
	CT_ASSERT(train->n >= 1);
	int d = train->d;
	double *acc = calloc(2 * (size_t)d, sizeof *acc);
	if (!acc)
		return ct_errf(e, CT_ENOMEM, "out of memory for %d normalization statistics", d);
	int rc = ct_norm_alloc(ns, d, e);
	if (rc < 0) {
		free(acc);
		return rc;
	}
	const float *k = train->x; /* the shift: the first row */
	for (int64_t i = 0; i < train->n; i++) {
		const float *x = train->x + (size_t)i * (size_t)d;
		for (int j = 0; j < d; j++) {
			double v = (double)x[j] - (double)k[j];
			acc[j] += v;
			acc[d + j] += v * v;
		}
	}
	double n = (double)train->n;
	for (int j = 0; j < d; j++) {
		double m = acc[j] / n;
		double var = acc[d + j] / n - m * m;
		double sd = var > 0 ? sqrt(var) : 0.0;
		ns->mean[j] = (float)((double)k[j] + m);
		ns->std[j] = sd > 1e-12 && (float)sd > 0.0f ? (float)sd : 1.0f;
	}
	free(acc);
	return 0;
}

void ct_norm_apply(const ct_norm_stats *ns, float *x, int64_t n)
{
	size_t d = (size_t)ns->d;
	for (int64_t i = 0; ns->d > 0 && i < n; i++) {
		float *r = x + (size_t)i * d;
		for (size_t j = 0; j < d; j++)
			r[j] = (r[j] - ns->mean[j]) / ns->std[j];
	}
}

void ct_norm_format(const float *v, int d, char *buf, size_t cap)
{
	size_t at = 0;
	buf[0] = '\0';
	for (int j = 0; j < d && at < cap; j++) {
		int w = snprintf(buf + at, cap - at, "%s%.9g", j ? "," : "", (double)v[j]);
		if (w < 0)
			break;
		at += (size_t)w;
	}
}

int ct_norm_parse(const char *text, int d, int positive, float *out, const char *what, ct_err *e)
{
	const char *p = text;
	for (int j = 0; j < d; j++) {
		char *end;
		float v = strtof(p, &end);
		if (end == p || !isfinite(v) || (positive && !(v > 0.0f)))
			return ct_errf(e, CT_ECORRUPT, "%s: value %d is not a %s number", what, j,
				       positive ? "positive" : "finite");
		out[j] = v;
		p = end;
		if (j + 1 < d && *p++ != ',')
			return ct_errf(e, CT_ECORRUPT, "%s: %d values, expected %d", what, j + 1,
				       d);
	}
	if (*p != '\0')
		return ct_errf(e, CT_ECORRUPT, "%s: more than the %d values expected", what, d);
	return 0;
}
