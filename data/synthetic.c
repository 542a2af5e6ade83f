/* Synthetic Gaussian-blob classification data (see dataset.h).
 *
 * Why this shape: a test or a quick start needs data that a small MLP learns
 * to >= 95% in a few epochs for any (d, n_classes), yet that is not separable
 * by chance at initialisation.  Random centroids alone fail in few dimensions
 * (two of ten points on a line can nearly coincide), so centroids are drawn
 * with a minimum distance that is relaxed until they fit, and the noise is
 * then sized from the closest pair: every pair of classes is at least
 * SYN_SEPARATION noise standard deviations apart, so the Bayes error per
 * neighbouring pair is at most Phi(-SYN_SEPARATION / 2) (0.13% for 6). */
#include "dataset.h"

#include <math.h>
#include <stdlib.h>

#define SYN_SEPARATION 6.0
#define SYN_TRIES 16 /* failed draws before the minimum distance shrinks */
#define SYN_SHRINK 0.9

static double dist(const double *a, const double *b, int d)
{
	double s = 0;
	for (int j = 0; j < d; j++)
		s += (a[j] - b[j]) * (a[j] - b[j]);
	return sqrt(s);
}

static double nearest(const double *c, int k, int d, const double *cand)
{
	double m = HUGE_VAL;
	for (int i = 0; i < k; i++) {
		double t = dist(c + (size_t)i * (size_t)d, cand, d);
		if (t < m)
			m = t;
	}
	return m;
}

/* Draws k centroids from N(0, I) keeping each at least r from the others,
 * shrinking r after every SYN_TRIES rejections; returns the final minimum
 * pairwise distance. */
static double place_centroids(double *c, int k, int d, rng *r)
{
	double rmin = 2.0 * sqrt((double)d) + 2.0, closest = HUGE_VAL;
	for (int i = 0; i < k; i++) {
		double *cand = c + (size_t)i * (size_t)d;
		for (int fails = 1;; fails++) {
			for (int j = 0; j < d; j++)
				cand[j] = rng_normal(r);
			double m = nearest(c, i, d, cand);
			if (m >= rmin) {
				closest = m < closest ? m : closest;
				break;
			}
			if (fails % SYN_TRIES == 0)
				rmin *= SYN_SHRINK;
		}
	}
	return closest;
}

int synthetic_make(uint64_t seed, int64_t n, int d, int n_classes, dataset *ds, ct_err *e)
{
	if (n < 1 || d < 1 || n_classes < 2)
		return ct_errf(e, CT_ECONFIG,
			       "synthetic data needs n_samples >= 1, n_features >= 1 and "
			       "n_classes >= 2 (got %lld, %d, %d)",
			       (long long)n, d, n_classes);
	double *c = malloc((size_t)n_classes * (size_t)d * sizeof *c);
	if (!c)
		return ct_errf(e, CT_ENOMEM, "synthetic data: out of memory for %d centroids of %d",
			       n_classes, d);
	int rc = dataset_alloc(ds, n, d, 1, "synthetic data", e);
	if (rc < 0) {
		free(c);
		return rc;
	}
	rng r;
	rng_seed(&r, seed, RNG_STREAM_DATA);
	double sigma = place_centroids(c, n_classes, d, &r) / SYN_SEPARATION;
	double scale = 1.0 / sqrt(1.0 + sigma * sigma); /* unit variance per feature */
	for (int64_t i = 0; i < n; i++) {
		int k = (int)(i % n_classes);
		const double *ck = c + (size_t)k * (size_t)d;
		float *x = ds->x + i * d;
		for (int j = 0; j < d; j++)
			x[j] = (float)((ck[j] + sigma * rng_normal(&r)) * scale);
		ds->y[i] = k;
	}
	ds->n_classes = n_classes;
	free(c);
	return 0;
}
