/* discover.h — finding checkpoints in a run's checkpoint directory, picking the
 * newest valid one, and retention.
 *
 * File names are ckpt-<step>.h5 with <step> zero-padded to 10 digits (more
 * digits only past 9999999999), exactly as ct_ckpt_path_for_step writes them;
 * anything else in the directory (".tmp-*" leftovers of atomic writes,
 * "*.corrupt" files moved aside, other names) is ignored.  Validity means the
 * container checks of ct_h5c_verify_file pass (trailer, length, CRC-32C); HDF5
 * is never involved, so a damaged file costs one read and cannot crash us.
 *
 * Resume:
 *     char *path; int64_t step;
 *     if (ct_ckpt_find_latest(dir, &path, &step, &e) < 0) -> CT_ENOTFOUND lists what was found
 *     ... ct_h5c_open(path, ...); free(path);
 * An invalid checkpoint met on the way is logged at WARN and renamed to
 * <name>.corrupt (never deleted), so the next resume does not trip on it again.
 *
 * After each new checkpoint is durable:
 *     ct_ckpt_retain(dir, keep_last, keep_every, &e);
 *
 * Listing (inspect, tests):
 *     ct_ckpt_entry *v; size_t n;
 *     ct_ckpt_list(dir, &v, &n, &e); for each: ct_ckpt_check(&v[i]); ...; ct_ckpt_list_free(v, n);
 */
#ifndef CT_DISCOVER_H
#define CT_DISCOVER_H

#include <stddef.h>
#include <stdint.h>

#include "../util/api.h"
#include "../util/err.h"

typedef struct ct_ckpt_entry {
	int64_t step;
	char *path;   /* dir/ckpt-0000000042.h5 */
	int valid;    /* -1 not checked yet, 0 invalid, 1 valid */
	char *reason; /* why invalid (without the path), else NULL */
} ct_ckpt_entry;

/* Lists the checkpoints in dir, newest step first, valid = -1.  A missing
 * directory gives CT_ENOTFOUND. */
CT_API int ct_ckpt_list(const char *dir, ct_ckpt_entry **entries, size_t *n, ct_err *e);
CT_API void ct_ckpt_list_free(ct_ckpt_entry *entries, size_t n);

/* Verifies the file and records valid and reason.  Returns 1 valid, 0 invalid
 * (its bytes are not a checkpoint), or < 0 when it could not be checked (read
 * error, out of memory, file vanished: CT_EIO, CT_ENOMEM, CT_ENOTFOUND); then
 * valid is 0 and reason says why, but the file itself may be fine. */
CT_API int ct_ckpt_check(ct_ckpt_entry *ent);

/* Newest valid checkpoint: *path (malloc'ed) and *step.  Invalid files met
 * first are logged ("skipping invalid checkpoint PATH: REASON ...") and moved
 * aside to PATH.corrupt (PATH.corrupt.1, ... if taken).  None valid:
 * CT_ENOTFOUND "no valid checkpoint in DIR: ckpt-0000000010.h5: <reason>; ..."
 * or "no checkpoints in DIR".  A file that cannot be read (I/O error) stops the
 * search with that error rather than silently resuming from an older step. */
CT_API int ct_ckpt_find_latest(const char *dir, char **path, int64_t *step, ct_err *e);

/* malloc'ed "dir/ckpt-0000000042.h5" (NULL if out of memory); step >= 0. */
CT_API char *ct_ckpt_path_for_step(const char *dir, int64_t step);

/* Keeps the keep_last newest valid checkpoints (keep_last <= 0: keep all),
 * every valid one whose step % keep_every == 0 (keep_every > 0), and every
 * invalid or unreadable one (not counted, not deleted, not moved); unlinks the
 * other valid ones, then fsyncs dir.  The newest valid one is always kept.
 * Returns how many were deleted, or < 0. */
CT_API int ct_ckpt_retain(const char *dir, int keep_last, int keep_every, ct_err *e);
/* The same, never deleting the steps listed in protect (keep_best). */
CT_API int ct_ckpt_retain_protected(const char *dir, int keep_last, int keep_every,
				    const int64_t *protect, size_t n_protect, ct_err *e);
/* Retention verifies a file once and then remembers it by (device, inode,
 * size, mtime).  A writer that has just written path from bytes it
 * checksummed itself calls this, so that retention does not read the whole
 * file back (22 MB: about 5 ms per checkpoint). */
CT_API void ct_ckpt_mark_valid(const char *path);

#endif
