#include "err.h"

#include <limits.h>
#include <string.h>

/* err.h tells clang's analyser what these return with macros; here they are
 * defined. */
#undef ct_errf
#undef ct_errno
#undef ct_err_prefix

#define NO_ERRNO INT_MIN

/* Fills e (if any) with code and the message, then ": strerror(errno_value)"
 * unless errno_value is NO_ERRNO; returns code. */
__attribute__((format(printf, 4, 0))) static int vfill(ct_err *e, int code, int errno_value,
						       const char *fmt, va_list ap)
{
	if (!e)
		return code;
	e->code = code;
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	size_t len = strlen(e->msg);
	if (errno_value != NO_ERRNO)
		snprintf(e->msg + len, sizeof e->msg - len, ": %s", strerror(errno_value));
	return code;
}

int ct_errf(ct_err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfill(e, code, NO_ERRNO, fmt, ap);
	va_end(ap);
	return code;
}

int ct_errno(ct_err *e, int code, int errno_value, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfill(e, code, errno_value, fmt, ap);
	va_end(ap);
	return code;
}

int ct_err_prefix(ct_err *e, const char *fmt, ...)
{
	if (!e)
		return CT_EIO;
	char prefix[512], old[sizeof e->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	/* Truncation is fine here: the message is for humans. */
	size_t n = strlen(prefix);
	if (n > sizeof e->msg - 3)
		n = sizeof e->msg - 3;
	memcpy(e->msg, prefix, n);
	memcpy(e->msg + n, ": ", 2);
	size_t room = sizeof e->msg - n - 3;
	size_t m = strnlen(old, room);
	memcpy(e->msg + n + 2, old, m);
	e->msg[n + 2 + m] = '\0';
	return e->code;
}

void *ct_aligned_alloc(size_t align, size_t size)
{
	size_t rounded = (size + align - 1) / align * align;
	if (rounded == 0)
		rounded = align;
	return aligned_alloc(align, rounded);
}
