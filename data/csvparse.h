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
 */
#ifndef CT_CSVPARSE_H
#define CT_CSVPARSE_H

#include <stddef.h>

#include "dataset.h"

#define CSV_BLOCK ((size_t)1 << 20)

const char *csv_parse_float(const char *s, const char *e, float *out);
int csv_load_block(const char *path, int label_column, int header_mode, size_t block,
		   ct_dataset *ds, ct_err *e);

#endif
