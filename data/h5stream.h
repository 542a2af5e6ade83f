/* h5stream.h — training rows streamed from an HDF5 file that does not fit
 * the memory budget (data.memory_mb), for ct_loader_init_stream (loader.h).
 *
 * The training rows [0, n) are cut into blocks of `block` rows (whole HDF5
 * chunks for a chunked file, about 1 MiB otherwise) and handed out a window
 * of `window` blocks at a time.  Epoch e, from the loader's stream state
 * st.rng at its start:
 *   - the block order is ct_data_permutation(nblocks) drawn from st.rng (which
 *     then continues as the next epoch's st.rng, as in memory);
 *   - window w holds the blocks at positions [w*window, (w+1)*window) of that
 *     order, rows laid out block after block, and its rows are handed out in
 *     ct_data_permutation(rows of w) drawn from ct_rng_seed(mix(st.rng, w)), so any
 *     window's order is known without drawing the ones before it.
 * With shuffle = false the blocks and rows stay in file order.  Every row is
 * handed out once per epoch, as in memory, but in another order: the
 * in-memory loader permutes all rows at once.  The position is the loader's
 * (epoch, cursor, st.rng), so a checkpoint and a resume need nothing more.
 *
 * While a window is consumed the next one is read by a thread into a second
 * buffer (HDF5 is built thread-safe here), so memory is 2 windows of rows.
 * A feature that is not finite or a label out of range found on the way is
 * an error naming file, dataset and row, returned by ct_loader_next.
 */
#ifndef CT_H5STREAM_H
#define CT_H5STREAM_H

#include <stdint.h>

#include "../util/err.h"
#include "dataset.h"

typedef struct h5stream h5stream;

/* Opens path (datasets xname, yname) and streams its first n_train rows with
 * windows of at most window_bytes of features (>= one block).  Reads the
 * labels once to check them and to find n_classes (*n_classes).  Starts the
 * read-ahead thread. */
int h5stream_open(h5stream **out, const char *path, const char *xname, const char *yname,
		  int64_t n_train, size_t window_bytes, int *n_classes, ct_err *e);
void h5stream_close(h5stream *s);
int h5stream_features(const h5stream *s);
int64_t h5stream_rows(const h5stream *s);
int64_t h5stream_block_rows(const h5stream *s);
int h5stream_window_blocks(const h5stream *s);

/* Loader side (data/loader.c): positions the stream at (rng of the epoch's
 * start, cursor); the rows are read by the next h5stream_next. */
void h5stream_seek(h5stream *s, const uint64_t epoch_rng[4], int shuffle, uint64_t cursor);
/* The next min(batch, rows left in the window) rows of the epoch into xb/yb,
 * given that `cursor` rows were handed out; returns the count (> 0), or < 0
 * with e filled.  The caller stops at the end of the epoch (cursor == n). */
int h5stream_next(h5stream *s, uint64_t cursor, int batch, float *xb, int32_t *yb, ct_err *e);

#endif
