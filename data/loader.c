#include "loader.h"

#include <stdlib.h>
#include <string.h>

#include "h5stream.h"

/* Makes this epoch's order from st.rng and remembers where the stream ends. */
static void make_order(ct_loader *l)
{
	int64_t n = l->ds->n;
	if (l->stream) { /* the stream draws its block order from st.rng */
		h5stream_seek(l->stream, l->st.rng, l->shuffle, l->st.cursor);
		ct_rng r;
		memcpy(r.s, l->st.rng, sizeof r.s);
		if (l->shuffle) { /* the state after the block order's draws */
			int64_t nb = (n + h5stream_block_rows(l->stream) - 1) /
				     h5stream_block_rows(l->stream);
			for (int64_t i = nb - 1; i > 0; i--)
				(void)ct_rng_below(&r, (uint64_t)i + 1);
		}
		memcpy(l->next.s, r.s, sizeof l->next.s);
		return;
	}
	memcpy(l->next.s, l->st.rng, sizeof l->next.s);
	if (l->shuffle) {
		ct_data_permutation(l->perm, n, &l->next);
	} else {
		for (int64_t i = 0; i < n; i++)
			l->perm[i] = i;
	}
}

/* What both initialisers set once their arguments are checked. */
static void start(ct_loader *l, const ct_dataset *ds, int batch, int shuffle, uint64_t seed)
{
	l->ds = ds;
	l->batch = batch;
	l->shuffle = shuffle != 0;
	ct_rng r;
	ct_rng_seed(&r, seed, CT_RNG_STREAM_SHUFFLE);
	memcpy(l->st.rng, r.s, sizeof l->st.rng);
	make_order(l);
}

int ct_loader_init(ct_loader *l, const ct_dataset *ds, int batch, int shuffle, uint64_t seed,
		   ct_err *e)
{
	memset(l, 0, sizeof *l);
	if (batch < 1)
		return ct_errf(e, CT_ECONFIG, "batch_size must be >= 1 (got %d)", batch);
	if (ds->n < 1)
		return ct_errf(e, CT_ECONFIG, "cannot load batches from an empty data set");
	l->perm = malloc((size_t)ds->n * sizeof *l->perm);
	if (!l->perm)
		return ct_errf(e, CT_ENOMEM, "loader: out of memory for %lld rows",
			       (long long)ds->n);
	start(l, ds, batch, shuffle, seed);
	return 0;
}

int ct_loader_init_stream(ct_loader *l, const ct_dataset *ds, h5stream *s, int batch, int shuffle,
			  uint64_t seed, ct_err *e)
{
	memset(l, 0, sizeof *l);
	if (batch < 1)
		return ct_errf(e, CT_ECONFIG, "batch_size must be >= 1 (got %d)", batch);
	CT_ASSERT(ds->n >= 1 && ds->n == h5stream_rows(s) && ds->d == h5stream_features(s));
	l->stream = s;
	start(l, ds, batch, shuffle, seed);
	return 0;
}

void ct_loader_release(ct_loader *l)
{
	free(l->perm);
	memset(l, 0, sizeof *l);
}

int ct_loader_next(ct_loader *l, float *xb, int32_t *yb)
{
	const ct_dataset *ds = l->ds;
	uint64_t n = (uint64_t)ds->n;
	if (l->st.cursor >= n) {
		l->st.epoch++;
		l->st.cursor = 0;
		memcpy(l->st.rng, l->next.s, sizeof l->st.rng);
		make_order(l);
		return 0;
	}
	if (l->stream) {
		int got = h5stream_next(l->stream, l->st.cursor, l->batch, xb, yb, &l->err);
		if (got > 0)
			l->st.cursor += (uint64_t)got;
		return got;
	}
	uint64_t left = n - l->st.cursor;
	int rows = left < (uint64_t)l->batch ? (int)left : l->batch;
	size_t row = (size_t)ds->d * sizeof(float);
	const int64_t *p = l->perm + l->st.cursor;
	for (int i = 0; i < rows; i++) {
		memcpy(xb + (size_t)i * (size_t)ds->d, ds->x + p[i] * ds->d, row);
		if (yb && ds->y)
			yb[i] = ds->y[p[i]];
	}
	l->st.cursor += (uint64_t)rows;
	return rows;
}

int ct_loader_set_state(ct_loader *l, const ct_loader_state *st, ct_err *e)
{
	if (st->cursor > (uint64_t)l->ds->n)
		return ct_errf(e, CT_ECORRUPT,
			       "loader state: cursor %llu is past the end of the %lld-row data set",
			       (unsigned long long)st->cursor, (long long)l->ds->n);
	if (l->shuffle && !(st->rng[0] | st->rng[1] | st->rng[2] | st->rng[3]))
		return ct_errf(e, CT_ECORRUPT, "loader state: shuffle stream state is all zero");
	l->st = *st;
	make_order(l);
	return 0;
}

int64_t ct_loader_batches_per_epoch(const ct_loader *l)
{
	return (l->ds->n + l->batch - 1) / l->batch;
}
