/* atomic.h — replace a file so that readers see the old bytes or the new bytes,
 * never a mixture, even if the process or the machine dies half-way.
 *
 * Calling sequence (what atomic_write_file does in one call):
 *   1. open "<dir>/.tmp-<base>-<pid>-<n>" (O_CREAT|O_EXCL) in the target's directory,
 *   2. write every byte (retrying short writes and EINTR),
 *   3. fsync the file, close it,
 *   4. rename it over the target,
 *   5. fsync the directory so the rename itself is durable.
 * On any failure the temporary file is unlinked, the target is untouched, and
 * the error names the file, the step that failed and strerror(errno).
 *
 * Temporary files left by a killed process all start with ".tmp-"; discovery
 * ignores them and atomic_cleanup_tmp() removes them at the next start.
 *
 * atomic_write_iov writes several buffers back to back (e.g. an image and its
 * trailer) without first concatenating them.
 */
#ifndef CT_ATOMIC_H
#define CT_ATOMIC_H

#include <stddef.h>

#include "../util/err.h"

#define ATOMIC_TMP_PREFIX ".tmp-"

typedef struct atomic_buf {
	const void *data;
	size_t len;
} atomic_buf;

int atomic_write_file(const char *path, const void *buf, size_t len, ct_err *e);
int atomic_write_iov(const char *path, const atomic_buf *bufs, int nbufs, ct_err *e);

/* fsync a directory (by path).  Used after rename/unlink in it. */
int atomic_fsync_dir(const char *dir, ct_err *e);

/* Removes leftover ATOMIC_TMP_PREFIX files in dir; returns how many, or < 0. */
int atomic_cleanup_tmp(const char *dir, ct_err *e);

/* Reads a whole file into a malloc'ed buffer (NUL-terminated for text use;
 * *len excludes the NUL).  Refuses files larger than max_len. */
int file_read_all(const char *path, size_t max_len, char **buf, size_t *len, ct_err *e);

#endif
