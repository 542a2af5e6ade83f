/* log.h — leveled log lines on stderr: "LEVEL message".
 *
 * Library code logs decisions a user must know about (which checkpoint was
 * chosen, which file was skipped and why); results go to stdout and are never
 * written from here.  The level threshold and an optional capture hook (used by
 * tests to assert on WARN lines) are process-global.
 */
#ifndef CT_LOG_H
#define CT_LOG_H

#include "api.h"

enum { CT_LOG_DEBUG = 0, CT_LOG_INFO = 1, CT_LOG_WARN = 2, CT_LOG_ERROR = 3, CT_LOG_OFF = 4 };

CT_API void ct_log_set_level(int level);
CT_API int ct_log_get_level(void);
/* When set, every line that passes the threshold is also handed to hook. */
CT_API void ct_log_set_hook(void (*hook)(int level, const char *line, void *ctx), void *ctx);

/* Once a write to stderr fails with EPIPE (SIGPIPE ignored, its reader gone),
 * lines are appended to this file instead (NULL or "": dropped).  Used by
 * training to keep logging into DIR/train.log under `| head` or a dead tee. */
CT_API void ct_log_set_fallback(const char *path);

CT_API void ct_log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define ct_log_debug(...) ct_log_msg(CT_LOG_DEBUG, __VA_ARGS__)
#define ct_log_info(...) ct_log_msg(CT_LOG_INFO, __VA_ARGS__)
#define ct_log_warn(...) ct_log_msg(CT_LOG_WARN, __VA_ARGS__)
#define ct_log_error(...) ct_log_msg(CT_LOG_ERROR, __VA_ARGS__)

#endif
