/* loader.h — deterministic shuffling mini-batch loader whose whole position
 * is a small struct, so a checkpoint can save it and a resumed run can carry
 * on with exactly the batches an uninterrupted run would have seen.
 *
 * Order: epoch e visits the rows in a permutation made by ct_data_permutation
 * (Fisher-Yates with ct_rng_below) from a copy of st.rng; when the epoch ends,
 * st.rng becomes that copy's state, so the shuffle stream simply continues.
 * With shuffle=0 the order is 0..n-1 every epoch and st.rng never changes.
 * Every row is handed out exactly once per epoch; the last batch may be short.
 *
 *     ct_loader l;
 *     if (ct_loader_init(&l, &train, 64, 1, seed, &e) < 0) ...
 *     for (;;) {
 *             int rows = ct_loader_next(&l, xb, yb);  // xb: batch*d floats, yb: batch
 *             if (rows == 0) { ...end of epoch l.st.epoch - 1... continue; }
 *             ...train on rows...
 *     }
 *     saved = l.st;                                // into the checkpoint
 *     ...
 *     ct_loader_init(&l2, &train, 64, 1, seed, &e);   // in the resumed process
 *     ct_loader_set_state(&l2, &saved, &e);           // same batches from here on
 *     ct_loader_release(&l);
 *
 * The dataset must outlive the loader and must not change under it.
 */
#ifndef CT_LOADER_H
#define CT_LOADER_H

#include <stdint.h>

#include "../util/api.h"
#include "../util/rng.h"
#include "../util/err.h"
#include "dataset.h"

typedef struct ct_loader_state {
	uint64_t epoch;  /* 0-based epoch currently being read */
	uint64_t cursor; /* rows of this epoch already handed out */
	uint64_t rng[4]; /* shuffle stream state at the START of `epoch` */
} ct_loader_state;

struct h5stream;

typedef struct ct_loader {
	const ct_dataset *ds;
	struct h5stream *stream; /* rows come from it (ct_loader_init_stream); ds holds n, d */
	ct_err err;              /* why ct_loader_next returned < 0 */
	int batch;
	int shuffle;
	ct_loader_state st;
	int64_t *perm; /* this epoch's order (n entries) */
	ct_rng next;   /* the stream after drawing perm: st.rng of the next epoch */
} ct_loader;

/* epoch 0, cursor 0, stream ct_rng_seed(seed, CT_RNG_STREAM_SHUFFLE).  batch >= 1 and
 * a non-empty dataset, else CT_ECONFIG. */
CT_API int ct_loader_init(ct_loader *l, const ct_dataset *ds, int batch, int shuffle, uint64_t seed,
			  ct_err *e);
/* The same over the first ds->n rows streamed by s (data/h5stream.h, which
 * says how the order differs from the in-memory one); ds->x is not used.
 * The loader does not own s. */
CT_API int ct_loader_init_stream(ct_loader *l, const ct_dataset *ds, struct h5stream *s, int batch,
				 int shuffle, uint64_t seed, ct_err *e);
CT_API void ct_loader_release(ct_loader *l);
/* Copies the next min(batch, remaining) rows into xb (rows x d) and their
 * labels into yb (if the dataset has labels and yb is not NULL) and returns
 * the row count.  At the end of an epoch returns 0 and moves to the next one
 * (epoch + 1, cursor 0, next permutation).  Never allocates.  Streaming only:
 * < 0 when a read fails or finds a bad row, with l->err filled. */
CT_API int ct_loader_next(ct_loader *l, float *xb, int32_t *yb);
/* Restores a position saved from l->st (by this or another process);
 * CT_ECORRUPT if cursor > n or the stream state is invalid. */
CT_API int ct_loader_set_state(ct_loader *l, const ct_loader_state *st, ct_err *e);
/* ceil(n / batch): ct_loader_next calls returning rows in one epoch. */
CT_API int64_t ct_loader_batches_per_epoch(const ct_loader *l);

#endif
