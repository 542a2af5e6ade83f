/* dataset.h — the in-memory data set every reader produces and the trainer
 * consumes: n rows of d float features (row-major, 64-byte aligned so that
 * BLAS and SIMD loops see aligned rows when d is a multiple of 16) plus one
 * int32 class label per row, or no labels at all (prediction input).
 *
 * Readers fill a zeroed `dataset` and return 0, or return a negative code from
 * util/err.h with the dataset left empty (nothing to release):
 *
 *     dataset all = {0}, tr = {0}, va = {0};
 *     if (mnist_load(dir, 1, &all, &e) < 0) return e.code;  // or csv_load, synthetic_make
 *     if (dataset_split_by(&all, 0.1, SPLIT_TAIL, seed, &tr, &va, &e) < 0) ...
 *     dataset_release(&all);   // tr and va are independent copies
 *     ...
 *     dataset_release(&tr); dataset_release(&va);
 *
 * Everything random (synthetic data, the split) is drawn from its own stream
 * of nn/rng.h, so the same seed always gives the same bytes.
 */
#ifndef CT_DATASET_H
#define CT_DATASET_H

#include <limits.h>
#include <stdint.h>

#include "../nn/rng.h"
#include "../util/err.h"

#define DATASET_ALIGN 64

typedef struct dataset {
	float *x;   /* n rows x d features, row-major, ct_aligned_alloc'ed */
	int32_t *y; /* n labels in [0, n_classes), or NULL when unlabelled */
	int64_t n;
	int d;
	int n_classes; /* 1 + max label (or given); 0 when unlabelled */
	int view;      /* x and y belong to another dataset (dataset_split_move's val) */
} dataset;

/* Frees x and y (unless a view) and zeroes the struct; safe on a zeroed or
 * released dataset.  A view must be released before or with its owner. */
void dataset_release(dataset *ds);

/* Allocates x (n*d floats, aligned) and, if labelled, y (n labels), sets n and
 * d.  `what` names the data in the out-of-memory message (usually the file). */
int dataset_alloc(dataset *ds, int64_t n, int d, int labelled, const char *what, ct_err *e);

/* Fisher-Yates shuffle of perm[0..n) = 0..n-1, drawing j = rng_below(r, i + 1)
 * for i = n-1 down to 1.  The loader and the split share it so that both
 * orders are defined by one piece of code. */
void data_permutation(int64_t *perm, int64_t n, rng *r);

/* IDX files (LeCun's MNIST format), raw or gzip-compressed (detected from the
 * gzip magic by zlib).  Only unsigned-byte IDX files are supported.
 * Images become floats x/255 in [0, 1]; d = rows * cols. */
int idx_read_images(const char *path, dataset *ds, ct_err *e);
int idx_read_labels(const char *path, int32_t **y, int64_t *n, ct_err *e);

/* MNIST or Fashion-MNIST from a directory.  train=1 reads
 * train-images-idx3-ubyte and train-labels-idx1-ubyte, train=0 the t10k-*
 * files; each name is tried as is, then with ".gz".  Checks that the counts
 * match and that every label is < 10; n_classes = 10.  A missing file gives
 * CT_ENOTFOUND naming the directory and the names tried, and saying to run
 * `make data` (experiments/get_data.sh). */
int mnist_load(const char *dir, int train, dataset *ds, ct_err *e);

/* The same files a block of rows at a time, in constant memory (ctrain data
 * convert): the same checks and messages as mnist_load, each where its rows
 * are read (the end-of-file checks with the last block).
 *
 *     mnist_stream s;
 *     if (mnist_stream_open(&s, dir, 1, &e) < 0) ...        // s.n rows of s.d pixels
 *     mnist_stream_read(&s, rows, x, y, &e);                // in order, until s.n
 *     mnist_stream_close(&s, &e);                           // always, once
 */
struct gzFile_s; /* zlib's gzFile */
typedef struct mnist_stream {
	struct gzFile_s *xf, *yf;
	char xpath[4096], ypath[4096];
	int64_t n, done;
	int d, open; /* open: how many of xf, yf are open */
} mnist_stream;
int mnist_stream_open(mnist_stream *s, const char *dir, int train, ct_err *e);
int mnist_stream_read(mnist_stream *s, int64_t rows, float *x, int32_t *y, ct_err *e);
int mnist_stream_close(mnist_stream *s, ct_err *e);

/* Numeric CSV, optionally gzip-compressed (detected from the magic).
 * The header row is optional and auto-detected: the first non-blank row is a
 * header (logged at INFO) if none of its cells is a number; a first row with
 * both numbers and other cells is an error naming its line and column.
 * csv_load_header chooses instead: CSV_HEADER_TRUE skips the first row,
 * CSV_HEADER_FALSE parses it as data.  Cells are separated by commas, may
 * be surrounded by blanks and double quotes; blank lines are skipped; \r\n
 * and a missing final newline are accepted.  label_column is the label's
 * column index, negative counting from the end (-1 = last), or CSV_NO_LABEL
 * for feature-only files (y = NULL, n_classes = 0).  Labels must be
 * non-negative integers (written as 3 or 3.0e0); n_classes = max label + 1.
 * Errors name the file, the 1-based line and column, and the problem.
 * The file is parsed while it is read, in blocks (data/csvparse.h): memory
 * is the rows as floats plus about 6 MiB, whatever the size of the text. */
#define CSV_NO_LABEL INT_MIN
int csv_load(const char *path, int label_column, dataset *ds, ct_err *e);
enum { CSV_HEADER_AUTO = 0, CSV_HEADER_TRUE, CSV_HEADER_FALSE };
int csv_load_header(const char *path, int label_column, int header_mode, dataset *ds, ct_err *e);

/* A learnable labelled data set made only from `seed`: n_classes
 * well-separated Gaussian centroids in d dims (stream RNG_STREAM_DATA), rows =
 * centroid + isotropic noise sized so the closest pair of classes is 6 noise
 * standard deviations apart (Bayes accuracy about 99%), features scaled to
 * unit variance.  Row i has label i % n_classes.  d >= 1, n_classes >= 2,
 * n >= 1.  `version` picks the noise generator (config data.generator):
 *   1  (sequential) ctrain 0.1.0's (one stream for all rows), kept so that
 *      runs frozen by older versions resume to the same bytes;
 *   2  (counter; SYNTHETIC_VERSION, the default) row i drawn from a counter-based
 *      sequence keyed by (seed, i) with a float ziggurat: about 10x faster on
 *      one thread, parallel over `threads`, the same bytes for any count.
 * synthetic_make is synthetic_generate(..., SYNTHETIC_VERSION, 1 thread). */
#define SYNTHETIC_VERSION 2
int synthetic_generate(uint64_t seed, int64_t n, int d, int n_classes, int version, int threads,
		       dataset *ds, ct_err *e);
int synthetic_make(uint64_t seed, int64_t n, int d, int n_classes, dataset *ds, ct_err *e);

/* The same rows a block at a time (ctrain data convert streams them):
 *     synthetic *g; synthetic_new(&g, seed, n, d, k, version, &e);
 *     synthetic_rows(g, first, rows, x, y, pool_or_NULL);  // rows*d floats, rows labels
 *     synthetic_free(g);
 * Version 2 takes any block in any order; version 1 only consecutive blocks
 * from row 0 (its one stream).  y may be NULL. */
typedef struct synthetic synthetic;
struct pool;
int synthetic_new(synthetic **g, uint64_t seed, int64_t n, int d, int n_classes, int version,
		  ct_err *e);
void synthetic_rows(synthetic *g, int64_t first, int64_t rows, float *x, int32_t *y,
		    struct pool *p);
int synthetic_version(const synthetic *g);
void synthetic_free(synthetic *g);

/* Which rows become validation rows (config key data.val_split):
 *   SPLIT_TAIL      the last round(n * val_fraction) rows of the file, as
 *                   Keras' validation_split; train = the rows before them.
 *   SPLIT_RANDOM    round(n * val_fraction) rows drawn with the split stream
 *                   (the same rows SPLIT_PERMUTED holds out).
 *   SPLIT_PERMUTED  ctrain 0.1.0's split: all rows permuted, then cut; train
 *                   and val keep that permuted order.  Kept so that runs
 *                   frozen by 0.1.0 resume bit-exactly.
 * With SPLIT_TAIL and SPLIT_RANDOM train and val keep the file's order, so a
 * loader with shuffle=0 takes the training rows as they are in the file. */
typedef enum split_kind { SPLIT_TAIL = 0, SPLIT_RANDOM = 1, SPLIT_PERMUTED = 2 } split_kind;

/* Deterministic train/validation split as `kind` says; the random kinds draw
 * data_permutation on rng_seed(seed, RNG_STREAM_SPLIT) and hold out the rows
 * at its last round(n * val_fraction) positions.  val_fraction must be in
 * [0, 1) and leave >= 1 training row; 0 gives an empty val.  train and val
 * are new copies; `all` is unchanged. */
int dataset_split_by(const dataset *all, double val_fraction, split_kind kind, uint64_t seed,
		     dataset *train, dataset *val, ct_err *e);
/* The same split without a copy: the rows of `all` are rearranged in place
 * (nothing moves for SPLIT_TAIL; the random kinds follow the permutation's
 * cycles with one row of scratch and n int64 of order), then train takes
 * over all's memory (all is left empty) and val is a view of its last rows:
 * release val before or with train.  Rows, order and bytes are exactly those
 * of dataset_split_by. */
int dataset_split_move(dataset *all, double val_fraction, split_kind kind, uint64_t seed,
		       dataset *train, dataset *val, ct_err *e);
/* dataset_split_by(all, val_fraction, SPLIT_PERMUTED, seed, ...): the split of
 * ctrain 0.1.0, kept for programs written against it. */
int dataset_split(const dataset *all, double val_fraction, uint64_t seed, dataset *train,
		  dataset *val, ct_err *e);

#endif
