/* loader.h — deterministic shuffling mini-batch loader whose whole position
 * is a small struct, so a checkpoint can save it and a resumed run can carry
 * on with exactly the batches an uninterrupted run would have seen.
 *
 * Order: epoch e visits the rows in a permutation made by data_permutation
 * (Fisher-Yates with rng_below) from a copy of st.rng; when the epoch ends,
 * st.rng becomes that copy's state, so the shuffle stream simply continues.
 * With shuffle=0 the order is 0..n-1 every epoch and st.rng never changes.
 * Every row is handed out exactly once per epoch; the last batch may be short.
 *
 *     loader l;
 *     if (loader_init(&l, &train, 64, 1, seed, &e) < 0) ...
 *     for (;;) {
 *             int rows = loader_next(&l, xb, yb);  // xb: batch*d floats, yb: batch
 *             if (rows == 0) { ...end of epoch l.st.epoch - 1... continue; }
 *             ...train on rows...
 *     }
 *     saved = l.st;                                // into the checkpoint
 *     ...
 *     loader_init(&l2, &train, 64, 1, seed, &e);   // in the resumed process
 *     loader_set_state(&l2, &saved, &e);           // same batches from here on
 *     loader_release(&l);
 *
 * The dataset must outlive the loader and must not change under it.
 */
#ifndef CT_LOADER_H
#define CT_LOADER_H

#include <stdint.h>

#include "../nn/rng.h"
#include "../util/err.h"
#include "dataset.h"

typedef struct loader_state {
	uint64_t epoch;  /* 0-based epoch currently being read */
	uint64_t cursor; /* rows of this epoch already handed out */
	uint64_t rng[4]; /* shuffle stream state at the START of `epoch` */
} loader_state;

struct h5stream;

typedef struct loader {
	const dataset *ds;
	struct h5stream *stream; /* rows come from it (loader_init_stream); ds holds n, d */
	ct_err err;              /* why loader_next returned < 0 */
	int batch;
	int shuffle;
	loader_state st;
	int64_t *perm; /* this epoch's order (n entries) */
	rng next;      /* the stream after drawing perm: st.rng of the next epoch */
} loader;

/* epoch 0, cursor 0, stream rng_seed(seed, RNG_STREAM_SHUFFLE).  batch >= 1 and
 * a non-empty dataset, else CT_ECONFIG. */
int loader_init(loader *l, const dataset *ds, int batch, int shuffle, uint64_t seed, ct_err *e);
/* The same over the first ds->n rows streamed by s (data/h5stream.h, which
 * says how the order differs from the in-memory one); ds->x is not used.
 * The loader does not own s. */
int loader_init_stream(loader *l, const dataset *ds, struct h5stream *s, int batch, int shuffle,
		       uint64_t seed, ct_err *e);
void loader_release(loader *l);
/* Copies the next min(batch, remaining) rows into xb (rows x d) and their
 * labels into yb (if the dataset has labels and yb is not NULL) and returns
 * the row count.  At the end of an epoch returns 0 and moves to the next one
 * (epoch + 1, cursor 0, next permutation).  Never allocates.  Streaming only:
 * < 0 when a read fails or finds a bad row, with l->err filled. */
int loader_next(loader *l, float *xb, int32_t *yb);
/* Restores a position saved from l->st (by this or another process);
 * CT_ECORRUPT if cursor > n or the stream state is invalid. */
int loader_set_state(loader *l, const loader_state *st, ct_err *e);
/* ceil(n / batch): loader_next calls returning rows in one epoch. */
int64_t loader_batches_per_epoch(const loader *l);

#endif
