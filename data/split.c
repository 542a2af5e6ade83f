/* Deterministic train/validation split (see dataset.h). */
#include "dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Copies rows perm[from..from+count) of src into a new dataset. */
static int gather(const ct_dataset *src, const int64_t *perm, int64_t from, int64_t count,
		  ct_dataset *dst, ct_err *e)
{
	int rc = ct_dataset_alloc(dst, count, src->d, src->y != NULL, "dataset split", e);
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

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* The rows of `all` in the order train then val as `kind` says: perm[0..n-nval)
 * train, perm[n-nval..n) val. */
static void split_order(int64_t *perm, int64_t n, int64_t nval, ct_split_kind kind, uint64_t seed)
{
	if (kind == CT_SPLIT_TAIL) {
		for (int64_t i = 0; i < n; i++)
			perm[i] = i;
		return;
	}
	ct_rng r;
	ct_rng_seed(&r, seed, CT_RNG_STREAM_SPLIT);
	ct_data_permutation(perm, n, &r);
	if (kind == CT_SPLIT_PERMUTED)
		return;
	/* CT_SPLIT_RANDOM: the same rows, each part back in file order */
	qsort(perm, (size_t)(n - nval), sizeof *perm, cmp_i64);
	qsort(perm + (n - nval), (size_t)nval, sizeof *perm, cmp_i64);
}

/* The number of validation rows val_fraction takes from all (checked). */
static int count_val(const ct_dataset *all, double val_fraction, int64_t *nval, ct_err *e)
{
	if (!(val_fraction >= 0.0 && val_fraction < 1.0))
		return ct_errf(e, CT_ECONFIG, "val_fraction %g is outside [0, 1)", val_fraction);
	*nval = (int64_t)llround((double)all->n * val_fraction);
	if (all->n - *nval < 1)
		return ct_errf(e, CT_ECONFIG, "val_fraction %g leaves no training rows out of %lld",
			       val_fraction, (long long)all->n);
	return 0;
}

int ct_dataset_split_by(const ct_dataset *all, double val_fraction, ct_split_kind kind,
			uint64_t seed, ct_dataset *train, ct_dataset *val, ct_err *e)
{
	memset(train, 0, sizeof *train);
	memset(val, 0, sizeof *val);
	CT_ASSERT(kind == CT_SPLIT_TAIL || kind == CT_SPLIT_RANDOM || kind == CT_SPLIT_PERMUTED);
	int64_t nval;
	int rc = count_val(all, val_fraction, &nval, e);
	if (rc < 0)
		return rc;
	int64_t *perm = malloc((size_t)(all->n > 0 ? all->n : 1) * sizeof *perm);
	if (!perm)
		return ct_errf(e, CT_ENOMEM, "dataset split: out of memory for %lld rows",
			       (long long)all->n);
	split_order(perm, all->n, nval, kind, seed);
	rc = gather(all, perm, 0, all->n - nval, train, e);
	if (rc == 0)
		rc = gather(all, perm, all->n - nval, nval, val, e);
	free(perm);
	if (rc < 0) {
		ct_dataset_release(train);
		ct_dataset_release(val);
	}
	return rc;
}

int ct_dataset_split(const ct_dataset *all, double val_fraction, uint64_t seed, ct_dataset *train,
		     ct_dataset *val, ct_err *e)
{
	return ct_dataset_split_by(all, val_fraction, CT_SPLIT_PERMUTED, seed, train, val, e);
}

/* Moves row perm[i] of ds to position i for every i, following the
 * permutation's cycles with one row of scratch; perm is consumed (each entry
 * is complemented once its row is in place). */
static void permute_rows(ct_dataset *ds, int64_t *perm, float *tmp)
{
	size_t d = (size_t)ds->d, row = d * sizeof(float);
	for (int64_t i = 0; i < ds->n; i++) {
		if (perm[i] < 0)
			continue;
		if (perm[i] == i) {
			perm[i] = ~perm[i];
			continue;
		}
		memcpy(tmp, ds->x + (size_t)i * d, row);
		int32_t ty = ds->y ? ds->y[i] : 0;
		int64_t j = i;
		for (;;) {
			int64_t k = perm[j];
			perm[j] = ~k;
			if (k == i) {
				memcpy(ds->x + (size_t)j * d, tmp, row);
				if (ds->y)
					ds->y[j] = ty;
				break;
			}
			memcpy(ds->x + (size_t)j * d, ds->x + (size_t)k * d, row);
			if (ds->y)
				ds->y[j] = ds->y[k];
			j = k;
		}
	}
}

int ct_dataset_split_move(ct_dataset *all, double val_fraction, ct_split_kind kind, uint64_t seed,
			  ct_dataset *train, ct_dataset *val, ct_err *e)
{
	memset(train, 0, sizeof *train);
	memset(val, 0, sizeof *val);
	CT_ASSERT(kind == CT_SPLIT_TAIL || kind == CT_SPLIT_RANDOM || kind == CT_SPLIT_PERMUTED);
	CT_ASSERT(!all->view);
	int64_t nval;
	int rc = count_val(all, val_fraction, &nval, e);
	if (rc < 0)
		return rc;
	if (kind != CT_SPLIT_TAIL) { /* the tail split is the file's order: nothing moves */
		int64_t *perm = malloc((size_t)all->n * sizeof *perm);
		float *tmp = malloc((size_t)all->d * sizeof *tmp);
		if (!perm || !tmp) {
			free(perm);
			free(tmp);
			return ct_errf(e, CT_ENOMEM, "dataset split: out of memory for %lld rows",
				       (long long)all->n);
		}
		split_order(perm, all->n, nval, kind, seed);
		permute_rows(all, perm, tmp);
		free(perm);
		free(tmp);
	}
	*train = *all;
	memset(all, 0, sizeof *all);
	train->n -= nval;
	*val = *train;
	val->view = 1;
	val->n = nval;
	val->x = train->x + (size_t)train->n * (size_t)train->d;
	val->y = train->y ? train->y + train->n : NULL;
	return 0;
}
