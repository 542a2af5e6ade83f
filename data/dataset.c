#include "dataset.h"

#include <stdlib.h>
#include <string.h>

void ct_dataset_release(ct_dataset *ds)
{
	if (!ds->view) {
		free(ds->x);
		free(ds->y);
	}
	memset(ds, 0, sizeof *ds);
}

int ct_dataset_alloc(ct_dataset *ds, int64_t n, int d, int labelled, const char *what, ct_err *e)
{
	CT_ASSERT(n >= 0 && d >= 1);
	memset(ds, 0, sizeof *ds);
	/* Sizes come from file headers, so overflow is an input problem. */
	if ((uint64_t)n > SIZE_MAX / sizeof(float) / (uint64_t)d)
		return ct_errf(e, CT_ENOMEM, "%s: %lld rows of %d features do not fit in memory",
			       what, (long long)n, d);
	ds->x = ct_aligned_alloc(CT_DATASET_ALIGN, (size_t)n * (size_t)d * sizeof(float));
	if (labelled)
		ds->y = malloc(n > 0 ? (size_t)n * sizeof(int32_t) : 1);
	if (!ds->x || (labelled && !ds->y)) {
		ct_dataset_release(ds);
		return ct_errf(e, CT_ENOMEM, "%s: out of memory for %lld rows of %d features", what,
			       (long long)n, d);
	}
	ds->n = n;
	ds->d = d;
	return 0;
}

void ct_data_permutation(int64_t *perm, int64_t n, ct_rng *r)
{
	for (int64_t i = 0; i < n; i++)
		perm[i] = i;
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)ct_rng_below(r, (uint64_t)i + 1);
		int64_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
}
