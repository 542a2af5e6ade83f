/* hdf5in.h — HDF5 files as training input, as h5py users write them:
 *
 *     with h5py.File("train.h5", "w") as f:
 *         f["features"] = X    # [rows, features] float32, float64 or uint8
 *         f["labels"] = y      # [rows] integers (8 to 64 bits, signed or not)
 *
 * Before any data is read, each dataset's description must pass an
 * allow-list: type (above; values are taken as they are, uint8 is not
 * scaled), rank (2 and 1), dimensions (>= 1 row, same rows in both),
 * layout (contiguous, compact or chunked; chunks of at most 64 MiB),
 * filters (only deflate/gzip and shuffle), no external storage, and a
 * storage size the file can hold (a contiguous dataset must lie inside the
 * file).  Rows are then read in blocks; a non-finite feature or a label
 * outside [0, H5IN_MAX_CLASSES) is an error naming the file, the dataset and
 * the 0-based row.
 *
 *     ct_dataset ds;
 *     if (hdf5_load("train.h5", "features", "labels", &ds, &e) < 0) ...
 *
 * or, a block of rows at a time (data convert, streaming):
 *
 *     h5in h;
 *     if (h5in_open(&h, path, "features", "labels", &e) < 0) ...   // h.n rows, h.d features
 *     h5in_read(&h, row0, rows, x, y, lab_scratch, &e);              // lab_scratch: rows int64
 *     h5in_close(&h);
 *
 * HDF5 is not thread-safe in Debian's build: call these from one thread, and
 * not while a checkpoint is being written by another (at start-up).
 */
#ifndef CT_HDF5IN_H
#define CT_HDF5IN_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"
#include "dataset.h"

#define H5IN_MAX_CLASSES 1000000

typedef struct h5in {
	int64_t file, x, y; /* hid_t; y < 0 when unlabelled */
	int64_t n;          /* rows */
	int d;              /* features per row */
	const char *xtype;  /* "float32", "float64" or "uint8" */
	int64_t chunk_rows; /* rows per chunk of the features; 0 when not chunked */
	uint64_t file_size;
	char path[1024], xname[256], yname[256];
} h5in;

/* Opens path and checks x (and y unless yname is NULL or ""). */
int h5in_open(h5in *h, const char *path, const char *xname, const char *yname, ct_err *e);
/* Rows [row0, row0 + rows) into x (rows * d floats; NULL: labels only) and, when the file has
 * labels and y is not NULL, y (rows labels; lab_buf: rows int64 of scratch). */
int h5in_read(h5in *h, int64_t row0, int64_t rows, float *x, int32_t *y, int64_t *lab_buf,
	      ct_err *e);
void h5in_close(h5in *h);

/* The whole file into ds; yname NULL or "" for features only (y = NULL,
 * n_classes = 0); n_classes = max label + 1. */
int hdf5_load(const char *path, const char *xname, const char *yname, ct_dataset *ds, ct_err *e);

/* ds (labelled) as an HDF5 file with datasets features (float32 [n, d]) and
 * labels (int32 [n]), in chunks of about 1 MiB with shuffle + deflate,
 * written a block of rows at a time, in constant memory (ctrain data
 * convert): n and d known up front, rows appended in order.  The caller
 * makes it atomic (writes a temporary name, fsyncs and renames it after
 * h5out_close).
 *
 *     h5out w;
 *     if (h5out_create(&w, tmp, n, d, &e) < 0) ...      // fails if tmp exists
 *     h5out_write(&w, x, y, rows, &e);                  // ... until n rows
 *     if (h5out_close(&w, &e) < 0) ...                  // always call it once
 */
typedef struct h5out {
	int64_t file, x, y; /* hid_t, < 0 when closed */
	int64_t n, done;
	int d;
	char path[4200];
} h5out;
int h5out_create(h5out *w, const char *path, int64_t n, int d, ct_err *e);
int h5out_write(h5out *w, const float *x, const int32_t *y, int64_t rows, ct_err *e);
int h5out_close(h5out *w, ct_err *e);
/* Rows per chunk of the features: about 1 MiB, at most n. */
int64_t h5out_chunk_rows(int64_t n, int d);

/* ct_errf with the innermost HDF5 error description of this thread appended
 * ("CONTEXT: DESCRIPTION", or "CONTEXT: HDF5 error"), and HDF5's error stack
 * cleared: for every HDF5 failure in data/ and ckpt/. */
__attribute__((format(printf, 3, 4))) int hdf5_fail(ct_err *e, int code, const char *fmt, ...);

#endif
