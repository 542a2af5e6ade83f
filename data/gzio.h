/* gzio.h — reading input files that may or may not be gzip-compressed.
 *
 * zlib's gzopen looks at the first bytes: gzip magic (1f 8b) means inflate,
 * anything else is read as is.  zlib reports a truncated gzip stream as an
 * ordinary end of file from gzread; these helpers check gzerror after every
 * short read and on close, so a cut-off .gz is an error, not a short file.
 *
 *     gzFile f;
 *     if (gzio_open(path, &f, e) < 0) return e->code;
 *     int64_t got = gzio_read(f, path, buf, len, e);  // < len only at true EOF
 *     ...
 *     if (gzio_close(f, path, e) < 0) ...
 */
#ifndef CT_GZIO_H
#define CT_GZIO_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "../util/err.h"

/* CT_ENOTFOUND if the file does not exist, CT_EIO for other open errors. */
int gzio_open(const char *path, gzFile *f, ct_err *e);
/* Reads up to len bytes; returns how many (len unless the data ended), or < 0
 * (CT_ECORRUPT for a damaged or truncated gzip stream, CT_EIO otherwise). */
int64_t gzio_read(gzFile f, const char *path, void *buf, size_t len, ct_err *e);
/* Closes f; reports a gzip stream that ended early even if no read noticed. */
int gzio_close(gzFile f, const char *path, ct_err *e);

#endif
