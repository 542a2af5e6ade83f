/* Deterministic train/validation split (see dataset.h). */
#include "dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Copies rows perm[from..from+count) of src into a new dataset. */
static int gather(const dataset *src, const int64_t *perm, int64_t from, int64_t count,
		  dataset *dst, ct_err *e)
{
	int rc = dataset_alloc(dst, count, src->d, src->y != NULL, "dataset split", e);
	if (rc < 0)
		return rc;
	size_t row = (size_t)src->d * sizeof(float);
	for (int64_t i = 0; i < count; i++) {
		int64_t k = perm[from + i];
		memcpy(dst->x + i * src->d, src->x + k * src->d, row);
		if (src->y)
			dst->y[i] = src->y[k];
	}
	dst->n_classes = src->n_classes;
	return 0;
}

int dataset_split(const dataset *all, double val_fraction, uint64_t seed, dataset *train,
		  dataset *val, ct_err *e)
{
	memset(train, 0, sizeof *train);
	memset(val, 0, sizeof *val);
	if (!(val_fraction >= 0.0 && val_fraction < 1.0))
		return ct_errf(e, CT_ECONFIG, "val_fraction %g is outside [0, 1)", val_fraction);
	int64_t nval = (int64_t)llround((double)all->n * val_fraction);
	if (all->n - nval < 1)
		return ct_errf(e, CT_ECONFIG, "val_fraction %g leaves no training rows out of %lld",
			       val_fraction, (long long)all->n);
	int64_t *perm = malloc((size_t)(all->n > 0 ? all->n : 1) * sizeof *perm);
	if (!perm)
		return ct_errf(e, CT_ENOMEM, "dataset split: out of memory for %lld rows",
			       (long long)all->n);
	rng r;
	rng_seed(&r, seed, RNG_STREAM_SPLIT);
	data_permutation(perm, all->n, &r);
	int rc = gather(all, perm, 0, all->n - nval, train, e);
	if (rc == 0)
		rc = gather(all, perm, all->n - nval, nval, val, e);
	free(perm);
	if (rc < 0) {
		dataset_release(train);
		dataset_release(val);
	}
	return rc;
}
