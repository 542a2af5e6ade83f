/* csvparse.h — internals of the CSV reader (data/csv.c) that the tests
 * drive directly; not installed.
 *
 * csv_parse_float parses a decimal number at the start of [s, e) exactly as
 * strtof would, or declines: it returns the end of the number and stores
 * the float, or returns NULL for anything it does not handle itself (hex,
 * inf/nan, more than 19 significant digits, results that are subnormal,
 * out of float range or exactly halfway between two floats as a double, no
 * digits at all, a dangling exponent...), and then the caller uses strtof.
 * Whenever it returns non-NULL, the float and the end are those of strtof
 * (tests/unit/test_data.c checks millions of strings against strtof).
 *
 * csv_load_block is ct_csv_load_header reading the file `block` bytes at a
 * time (ct_csv_load_header uses CSV_BLOCK); results and errors do not depend
 * on the block size, which the tests check with blocks of 1, 2, 3, 7, ...
 *
 * csv_reader reads the same rows a block of rows at a time, in constant
 * memory (the read buffer, its longest line and the caller's rows), for
 * `ctrain data convert`; rows and errors are those of ct_csv_load_header:
 *
 *     csv_reader *r;
 *     if (csv_reader_open(&r, path, label_column, header_mode, CSV_BLOCK, &e) < 0) ...
 *     csv_reader_count(r, &n, &e);     // optional: the data rows, by a second
 *                                      // read that only splits lines
 *     while ((got = csv_reader_read(r, rows, x, y, &e)) > 0) ...  // 0 at the end
 *     csv_reader_close(r, &e);         // NULL e: already failing, close quietly
 *
 * csv_reader_open reads the first row (header detection, label column);
 * csv_reader_read fills x (got * features floats) and y (NULL when
 * unlabelled) and returns fewer rows than asked only at the end of the file.
 * csv_reader_count fails on a read error without parsing the rows: a caller
 * wanting the error ct_csv_load_header would give (a bad cell before the
 * damage) reads the rows after such a failure.
 */
#ifndef CT_CSVPARSE_H
#define CT_CSVPARSE_H

#include <stddef.h>

#include "dataset.h"

#define CSV_BLOCK ((size_t)1 << 20)

const char *csv_parse_float(const char *s, const char *e, float *out);
int csv_load_block(const char *path, int label_column, int header_mode, size_t block,
		   ct_dataset *ds, ct_err *e);

typedef struct csv_reader csv_reader;
int csv_reader_open(csv_reader **out, const char *path, int label_column, int header_mode,
		    size_t block, ct_err *e);
int csv_reader_features(const csv_reader *r);
int csv_reader_labelled(const csv_reader *r);
int csv_reader_count(const csv_reader *r, int64_t *rows, ct_err *e);
int64_t csv_reader_read(csv_reader *r, int64_t rows, float *x, int32_t *y, ct_err *e);
int csv_reader_close(csv_reader *r, ct_err *e);

#endif
