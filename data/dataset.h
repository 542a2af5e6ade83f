/* dataset.h — the in-memory data set every reader produces and the trainer
 * consumes: n rows of d float features (row-major, 64-byte aligned so that
 * BLAS and SIMD loops see aligned rows when d is a multiple of 16) plus one
 * int32 class label per row, or no labels at all (prediction input).
 *
 * Readers fill a zeroed `dataset` and return 0, or return a negative code from
 * util/err.h with the dataset left empty (nothing to release):
 *
 *     ct_dataset all = {0}, tr = {0}, va = {0};
 *     if (ct_mnist_load(dir, 1, &all, &e) < 0) return e.code;  // or ct_csv_load, ct_synthetic_make
 *     if (ct_dataset_split_by(&all, 0.1, CT_SPLIT_TAIL, seed, &tr, &va, &e) < 0) ...
 *     ct_dataset_release(&all);   // tr and va are independent copies
 *     ...
 *     ct_dataset_release(&tr); ct_dataset_release(&va);
 *
 * Everything random (synthetic data, the split) is drawn from its own stream
 * of util/rng.h, so the same seed always gives the same bytes.
 */
#ifndef CT_DATASET_H
#define CT_DATASET_H

#include <limits.h>
#include <stdint.h>

#include "../util/api.h"
#include "../util/rng.h"
#include "../util/err.h"

#define CT_DATASET_ALIGN 64

typedef struct ct_dataset {
	float *x;   /* n rows x d features, row-major, ct_aligned_alloc'ed */
	int32_t *y; /* n labels in [0, n_classes), or NULL when unlabelled */
	int64_t n;
	int d;
	int n_classes; /* 1 + max label (or given); 0 when unlabelled */
	int view;      /* x and y belong to another dataset (ct_dataset_split_move's val) */
} ct_dataset;

/* Frees x and y (unless a view) and zeroes the struct; safe on a zeroed or
 * released dataset.  A view must be released before or with its owner. */
CT_API void ct_dataset_release(ct_dataset *ds);

/* Allocates x (n*d floats, aligned) and, if labelled, y (n labels), sets n and
 * d.  `what` names the data in the out-of-memory message (usually the file). */
CT_API int ct_dataset_alloc(ct_dataset *ds, int64_t n, int d, int labelled, const char *what,
			    ct_err *e);

/* Fisher-Yates shuffle of perm[0..n) = 0..n-1, drawing j = ct_rng_below(r, i + 1)
 * for i = n-1 down to 1.  The loader and the split share it so that both
 * orders are defined by one piece of code. */
CT_API void ct_data_permutation(int64_t *perm, int64_t n, ct_rng *r);

/* IDX files (LeCun's MNIST format), raw or gzip-compressed (detected from the
 * gzip magic by zlib).  Only unsigned-byte IDX files are supported.
 * Images become floats x/255 in [0, 1]; d = rows * cols. */
CT_API int ct_idx_read_images(const char *path, ct_dataset *ds, ct_err *e);
CT_API int ct_idx_read_labels(const char *path, int32_t **y, int64_t *n, ct_err *e);

/* MNIST or Fashion-MNIST from a directory.  train=1 reads
 * train-images-idx3-ubyte and train-labels-idx1-ubyte, train=0 the t10k-*
 * files; each name is tried as is, then with ".gz".  Checks that the counts
 * match and that every label is < 10; n_classes = 10.  A missing file gives
 * CT_ENOTFOUND naming the directory and the names tried, and saying to run
 * `make data` (experiments/get_data.sh). */
CT_API int ct_mnist_load(const char *dir, int train, ct_dataset *ds, ct_err *e);

/* The same files a block of rows at a time, in constant memory (ctrain data
 * convert): the same checks and messages as ct_mnist_load, each where its rows
 * are read (the end-of-file checks with the last block).
 *
 *     ct_mnist_stream s;
 *     if (ct_mnist_stream_open(&s, dir, 1, &e) < 0) ...        // s.n rows of s.d pixels
 *     ct_mnist_stream_read(&s, rows, x, y, &e);                // in order, until s.n
 *     ct_mnist_stream_close(&s, &e);                           // always, once
 */
struct gzFile_s; /* zlib's gzFile */
typedef struct ct_mnist_stream {
	struct gzFile_s *xf, *yf;
	char xpath[4096], ypath[4096];
	int64_t n, done;
	int d, open; /* open: how many of xf, yf are open */
} ct_mnist_stream;
CT_API int ct_mnist_stream_open(ct_mnist_stream *s, const char *dir, int train, ct_err *e);
CT_API int ct_mnist_stream_read(ct_mnist_stream *s, int64_t rows, float *x, int32_t *y, ct_err *e);
CT_API int ct_mnist_stream_close(ct_mnist_stream *s, ct_err *e);

/* Numeric CSV, optionally gzip-compressed (detected from the magic).
 * The header row is optional and auto-detected: the first non-blank row is a
 * header (logged at INFO) if none of its cells is a number; a first row with
 * both numbers and other cells is an error naming its line and column.
 * ct_csv_load_header chooses instead: CT_CSV_HEADER_TRUE skips the first row,
 * CT_CSV_HEADER_FALSE parses it as data.  Cells are separated by commas, may
 * be surrounded by blanks and double quotes; blank lines are skipped; \r\n
 * and a missing final newline are accepted.  label_column is the label's
 * column index, negative counting from the end (-1 = last), or CT_CSV_NO_LABEL
 * for feature-only files (y = NULL, n_classes = 0).  Labels must be
 * non-negative integers (written as 3 or 3.0e0); n_classes = max label + 1.
 * Errors name the file, the 1-based line and column, and the problem.
 * The file is parsed while it is read, in blocks (data/csvparse.h): memory
 * is the rows as floats plus about 6 MiB, whatever the size of the text. */
#define CT_CSV_NO_LABEL INT_MIN
CT_API int ct_csv_load(const char *path, int label_column, ct_dataset *ds, ct_err *e);
enum { CT_CSV_HEADER_AUTO = 0, CT_CSV_HEADER_TRUE, CT_CSV_HEADER_FALSE };
CT_API int ct_csv_load_header(const char *path, int label_column, int header_mode, ct_dataset *ds,
			      ct_err *e);

/* A learnable labelled data set made only from `seed`: n_classes
 * well-separated Gaussian centroids in d dims (stream CT_RNG_STREAM_DATA), rows =
 * centroid + isotropic noise sized so the closest pair of classes is 6 noise
 * standard deviations apart (Bayes accuracy about 99%), features scaled to
 * unit variance.  Row i has label i % n_classes.  d >= 1, n_classes >= 2,
 * n >= 1.  `version` picks the noise generator (config data.generator):
 *   1  (sequential) ctrain 0.1.0's (one stream for all rows), kept so that
 *      runs frozen by older versions resume to the same bytes;
 *   2  (counter; CT_SYNTHETIC_VERSION, the default) row i drawn from a counter-based
 *      sequence keyed by (seed, i) with a float ziggurat: about 10x faster on
 *      one thread, parallel over `threads`, the same bytes for any count.
 * ct_synthetic_make is ct_synthetic_generate(..., CT_SYNTHETIC_VERSION, 1 thread). */
#define CT_SYNTHETIC_VERSION 2
CT_API int ct_synthetic_generate(uint64_t seed, int64_t n, int d, int n_classes, int version,
				 int threads, ct_dataset *ds, ct_err *e);
CT_API int ct_synthetic_make(uint64_t seed, int64_t n, int d, int n_classes, ct_dataset *ds,
			     ct_err *e);

/* The same rows a block at a time (ctrain data convert streams them):
 *     ct_synthetic *g; ct_synthetic_new(&g, seed, n, d, k, version, &e);
 *     ct_synthetic_rows(g, first, rows, x, y, pool_or_NULL);  // rows*d floats, rows labels
 *     ct_synthetic_free(g);
 * Version 2 takes any block in any order; version 1 only consecutive blocks
 * from row 0 (its one stream).  y may be NULL. */
typedef struct ct_synthetic ct_synthetic;
struct pool;
CT_API int ct_synthetic_new(ct_synthetic **g, uint64_t seed, int64_t n, int d, int n_classes,
			    int version, ct_err *e);
CT_API void ct_synthetic_rows(ct_synthetic *g, int64_t first, int64_t rows, float *x, int32_t *y,
			      struct pool *p);
CT_API void ct_synthetic_free(ct_synthetic *g);

/* Which rows become validation rows (config key data.val_split):
 *   CT_SPLIT_TAIL      the last round(n * val_fraction) rows of the file, as
 *                   Keras' validation_split; train = the rows before them.
 *   CT_SPLIT_RANDOM    round(n * val_fraction) rows drawn with the split stream
 *                   (the same rows CT_SPLIT_PERMUTED holds out).
 *   CT_SPLIT_PERMUTED  ctrain 0.1.0's split: all rows permuted, then cut; train
 *                   and val keep that permuted order.  Kept so that runs
 *                   frozen by 0.1.0 resume bit-exactly.
 * With CT_SPLIT_TAIL and CT_SPLIT_RANDOM train and val keep the file's order, so a
 * loader with shuffle=0 takes the training rows as they are in the file. */
typedef enum ct_split_kind {
	CT_SPLIT_TAIL = 0,
	CT_SPLIT_RANDOM = 1,
	CT_SPLIT_PERMUTED = 2
} ct_split_kind;

/* Deterministic train/validation split as `kind` says; the random kinds draw
 * ct_data_permutation on ct_rng_seed(seed, CT_RNG_STREAM_SPLIT) and hold out the rows
 * at its last round(n * val_fraction) positions.  val_fraction must be in
 * [0, 1) and leave >= 1 training row; 0 gives an empty val.  train and val
 * are new copies; `all` is unchanged. */
CT_API int ct_dataset_split_by(const ct_dataset *all, double val_fraction, ct_split_kind kind,
			       uint64_t seed, ct_dataset *train, ct_dataset *val, ct_err *e);
/* The same split without a copy: the rows of `all` are rearranged in place
 * (nothing moves for CT_SPLIT_TAIL; the random kinds follow the permutation's
 * cycles with one row of scratch and n int64 of order), then train takes
 * over all's memory (all is left empty) and val is a view of its last rows:
 * release val before or with train.  Rows, order and bytes are exactly those
 * of ct_dataset_split_by. */
CT_API int ct_dataset_split_move(ct_dataset *all, double val_fraction, ct_split_kind kind,
				 uint64_t seed, ct_dataset *train, ct_dataset *val, ct_err *e);
/* ct_dataset_split_by(all, val_fraction, CT_SPLIT_PERMUTED, seed, ...): the split of
 * ctrain 0.1.0, kept for programs written against it. */
CT_API int ct_dataset_split(const ct_dataset *all, double val_fraction, uint64_t seed,
			    ct_dataset *train, ct_dataset *val, ct_err *e);

#endif
