/* util.h — small helpers that several modules need the same way: array
 * growth, UTF-8 checking, shape formatting, splitting CSV lines and joining
 * paths.  Each replaces copies that had drifted apart in details; none but
 * ct_path_join_e reports through ct_err, so that each caller keeps its own
 * message.
 *
 *     if (ct_grow(&d->v, &d->cap, d->n + 1, sizeof *d->v, 16) < 0)
 *             return ct_errf(e, CT_ENOMEM, "out of memory");
 *     d->v[d->n++] = x;
 */
#ifndef CT_UTIL_H
#define CT_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* Makes the array whose pointer is at *arrp (any T **, passed as &ptr) and
 * whose capacity is *cap elements of elem bytes hold at least need: the
 * capacity doubles, starting at first.  0, or -1 when out of memory (or the
 * size would overflow), with the array and *cap unchanged. */
int ct_grow(void *arrp, size_t *cap, size_t need, size_t elem, size_t first);

/* The offset of the first byte of s[0..n) that breaks UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or n if none. */
size_t ct_utf8_bad_at(const unsigned char *s, size_t n);

/* "[d0<sep>d1...]" into buf (always NUL-terminated, cut at len): "[3,2]" with
 * sep ",", "[3, 2]" with ", ", "[]" for ndim 0. */
void ct_shape_format(char *buf, size_t len, int ndim, const int64_t *shape, const char *sep);

/* Splits line in place at commas into at most max fields (what follows the
 * max-th is dropped) and returns how many (>= 1). */
int ct_split_fields(char *line, char **f, int max);

/* "dir/name" into out[n], never cut: 0, or CT_EUNSUPPORTED when it does not
 * fit (out then holds "" so that a cut path is never used).  An empty dir
 * gives name alone and an empty name dir alone (no stray '/'). */
int ct_path_join(char *out, size_t n, const char *dir, const char *name);
/* ct_path_join that also fills e: "DIR/NAME: path longer than N bytes" (a
 * DIR over 600 bytes shown as its first 300 and last 200 around "..."). */
int ct_path_join_e(char *out, size_t n, const char *dir, const char *name, ct_err *e);

/* pread of exactly len bytes of fd at off, EINTR retried: 0, or CT_EIO
 * "PATH: read failed: <errno>" / "PATH: file shrank while reading" (the
 * file ends before off + len). */
int ct_pread_all(int fd, void *buf, size_t len, off_t off, const char *path, ct_err *e);

/* The index of name in names[0..n), or -1. */
int ct_index_of(char *const *names, int n, const char *name);

#endif
