/* fingerprint.h — what the data files of a run were when it started, so that
 * `resume` notices data that changed under the same path (a rewritten CSV)
 * and accepts the same data at a new path.
 *
 * A fingerprint is, per data file, its size and a CRC-32C of its content:
 * all of it up to FP_WHOLE_MAX bytes, else FP_BLOCKS evenly spaced blocks of
 * FP_BLOCK bytes (first and last included), so a 50 GB file costs 16 MiB of
 * reading.  `train` writes it to DIR/data.fingerprint (atomically), one line
 * "size crc32c name" per file; synthetic data has no file and no fingerprint.
 *
 *     fingerprint_record("runs/x", &cfg, &e);                  // train
 *     rc = fingerprint_check("runs/x", &cfg, accept, &same, &e); // resume
 */
#ifndef CT_FINGERPRINT_H
#define CT_FINGERPRINT_H

#include <stddef.h>

#include "../train/config.h"

#define FP_FILE "data.fingerprint"
#define FP_WHOLE_MAX (16u << 20)
#define FP_BLOCK (64u << 10)
#define FP_BLOCKS 256

/* The fingerprint text of the data cfg names ("" for synthetic data);
 * *text malloc'ed. */
int fingerprint_data(const ct_config *cfg, char **text, ct_err *e);
/* Writes DIR/data.fingerprint for cfg's data (nothing for synthetic data). */
int fingerprint_record(const char *dir, const ct_config *cfg, ct_err *e);
/* Compares cfg's data with DIR/data.fingerprint.  *same = 1 when they match,
 * 0 when there is no record (a run of an older ctrain).  Changed data is
 * CT_EMISMATCH naming the files, unless accept: then a warning, and the new
 * fingerprint is recorded. */
int fingerprint_check(const char *dir, const ct_config *cfg, int accept, int *same, ct_err *e);

#endif
