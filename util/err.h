/* err.h — how ctrain reports failures that come from outside the program.
 *
 * Calling sequence: a function that can fail because of a file, the disk, the
 * user's input or memory takes a `ct_err *` as its last argument, and on failure
 * fills it with a one-line human message (naming the file and what is wrong)
 * and returns one of the negative codes below.  Callers either pass the error up
 * unchanged or prefix context with ct_err_prefix().  Success returns 0 (or a
 * non-negative count).  Programming errors (violated preconditions) are not
 * reported this way: they hit CT_ASSERT, which is on in every build.
 *
 *     ct_err e = {0};
 *     if (idx_read(path, &ds, &e) < 0) { ct_log_error("%s", e.msg); return e.code; }
 *
 * Only cli/main.c maps codes to exit statuses (CT_EUSAGE/CT_ECONFIG -> 2, the
 * others -> 1).
 */
#ifndef CT_ERR_H
#define CT_ERR_H

#include "api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

enum {
	CT_OK = 0,
	CT_EIO = -1,          /* read/write/fsync/rename/... failed (errno text in msg) */
	CT_ECORRUPT = -2,     /* input file is malformed, truncated or fails its checksum */
	CT_ECONFIG = -3,      /* configuration error (file, line, key in msg) */
	CT_EUSAGE = -4,       /* bad command-line usage */
	CT_ENOMEM = -5,       /* allocation failed */
	CT_ENOTFOUND = -6,    /* file or key does not exist */
	CT_EUNSUPPORTED = -7, /* valid input that ctrain does not support */
	CT_EMISMATCH = -8,    /* inputs valid separately but incompatible (shapes, keys) */
	CT_EINTERRUPTED = -9  /* stopped by a signal */
};

typedef struct ct_err {
	int code;
	char msg[1024];
} ct_err;

/* Fill e (may be NULL) with a printf-style message; returns code. */
CT_API int ct_errf(ct_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like ct_errf but appends ": strerror(errno_value)". */
CT_API int ct_errno(ct_err *e, int code, int errno_value, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Prepend "prefix: " to an existing message; returns e->code. */
CT_API int ct_err_prefix(ct_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __clang_analyzer__
/* For clang-tidy's path analysis only, which sees one file at a time: these
 * are called on failure paths and return a negative code, so a caller's
 * success path is not explored with their result.  A GNU statement expression
 * at the call site, so it holds however deep the call.  Module helpers that
 * wrap them (e.g. vm_fail) use CT_ANALYZER_FAILURE the same way. */
#define CT_ANALYZER_FAILURE(call)                \
	__extension__({                          \
		int ct_rc_ = (call);             \
		if (ct_rc_ >= 0)                 \
			__builtin_unreachable(); \
		ct_rc_;                          \
	})
#define ct_errf(...) CT_ANALYZER_FAILURE(ct_errf(__VA_ARGS__))
#define ct_errno(...) CT_ANALYZER_FAILURE(ct_errno(__VA_ARGS__))
#define ct_err_prefix(...) CT_ANALYZER_FAILURE(ct_err_prefix(__VA_ARGS__))
#endif

/* Always-on assertion for programming errors. */
#define CT_ASSERT(cond)                                                                      \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			(void)fprintf(stderr, "FATAL assertion failed: %s (%s:%d)\n", #cond, \
				      __FILE__, __LINE__);                                   \
			abort();                                                             \
		}                                                                            \
	} while (0)

/* Allocation helpers: abort on failure would hide OOM, so they return NULL and
 * callers report CT_ENOMEM.  ct_aligned_alloc rounds size up to the alignment. */
CT_API void *ct_aligned_alloc(size_t align, size_t size);

#endif
