/* atomic.h — replace a file so that readers see the old bytes or the new bytes,
 * never a mixture, even if the process or the machine dies half-way.
 *
 * Calling sequence (what ct_atomic_write_file does in one call):
 *   1. open "<dir>/.tmp-<base>-<pid>-<n>" (O_CREAT|O_EXCL) in the target's directory,
 *   2. write every byte (retrying short writes and EINTR),
 *   3. fsync the file, close it,
 *   4. rename it over the target,
 *   5. fsync the directory so the rename itself is durable.
 * On any failure the temporary file is unlinked, the target is untouched, and
 * the error names the file, the step that failed and strerror(errno).
 *
 * Temporary files left by a killed process all start with ".tmp-"; discovery
 * ignores them and ct_atomic_cleanup_tmp() removes them at the next start.
 *
 * Power loss keeps only what fsync made durable: a file's bytes at its last
 * fsync, and a directory's entries at the directory's last fsync.  Every
 * name ctrain creates, renames or deletes is therefore followed by an fsync of
 * its directory (ct_atomic_fsync_dir / ct_atomic_fsync_parent), and directories are
 * made with ct_atomic_mkdir_p.  tests/powerloss.c checks this at every fsync.
 *
 * ct_atomic_write_iov writes several buffers back to back (e.g. an image and its
 * trailer) without first concatenating them.
 */
#ifndef CT_ATOMIC_H
#define CT_ATOMIC_H

#include <stddef.h>

#include "api.h"
#include "err.h"

#define CT_ATOMIC_TMP_PREFIX ".tmp-"

typedef struct ct_atomic_buf {
	const void *data;
	size_t len;
} ct_atomic_buf;

CT_API int ct_atomic_write_file(const char *path, const void *buf, size_t len, ct_err *e);
CT_API int ct_atomic_write_iov(const char *path, const ct_atomic_buf *bufs, int nbufs, ct_err *e);

/* fsync a directory (by path).  Used after rename/unlink in it. */
CT_API int ct_atomic_fsync_dir(const char *dir, ct_err *e);

/* fsync the directory holding path, so that a name created, renamed or
 * unlinked there survives a power loss. */
CT_API int ct_atomic_fsync_parent(const char *path, ct_err *e);

/* mkdir -p that survives a power loss: after each level it creates, the
 * level's parent is fsynced (a new directory is only an entry in its parent
 * until then), and the parent of dir itself is fsynced even when dir
 * existed, in case the process that made it died before its fsync.  Costs
 * one fsync per directory created plus one per call, never one per file. */
CT_API int ct_atomic_mkdir_p(const char *dir, ct_err *e);

/* Removes leftover CT_ATOMIC_TMP_PREFIX files in dir; returns how many, or < 0. */
CT_API int ct_atomic_cleanup_tmp(const char *dir, ct_err *e);

/* Reads a whole file into a malloc'ed buffer (NUL-terminated for text use;
 * *len excludes the NUL).  Refuses files larger than max_len. */
CT_API int ct_file_read_all(const char *path, size_t max_len, char **buf, size_t *len, ct_err *e);

#endif
