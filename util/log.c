#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int g_level = CT_LOG_INFO;
static void (*g_hook)(int, const char *, void *);
static void *g_hook_ctx;

/* Where lines go once stderr is a closed pipe (EPIPE): appended to a file. */
static pthread_mutex_t g_fallback_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_fallback_path[4096];
static FILE *g_fallback;
static int g_stderr_broken;

void ct_log_set_fallback(const char *path)
{
	pthread_mutex_lock(&g_fallback_mu);
	snprintf(g_fallback_path, sizeof g_fallback_path, "%s", path ? path : "");
	if (g_fallback) {
		(void)fclose(g_fallback); /* appended and flushed line by line */
		g_fallback = NULL;
	}
	pthread_mutex_unlock(&g_fallback_mu);
}

/* stderr failed with EPIPE (its reader is gone): the line, and every later
 * one, goes to the fallback file when there is one, else nowhere. */
static void write_fallback(const char *name, const char *line)
{
	pthread_mutex_lock(&g_fallback_mu);
	if (!g_fallback && g_fallback_path[0])
		g_fallback = fopen(g_fallback_path, "ae");
	if (g_fallback) {
		/* Nowhere is left to report a failure of this file either. */
		(void)fprintf(g_fallback, "%s %s\n", name, line);
		(void)fflush(g_fallback);
	}
	pthread_mutex_unlock(&g_fallback_mu);
}

void ct_log_set_level(int level) { g_level = level; }
int ct_log_get_level(void) { return g_level; }

void ct_log_set_hook(void (*hook)(int, const char *, void *), void *ctx)
{
	g_hook = hook;
	g_hook_ctx = ctx;
}

void ct_log_msg(int level, const char *fmt, ...)
{
	static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
	if (level < g_level || level > CT_LOG_ERROR)
		return;
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* One fprintf per line so concurrent writers (async checkpoint thread) do
	 * not interleave within a line.  A log line that cannot be written has
	 * nowhere to be reported; a closed pipe (SIGPIPE ignored) switches to the
	 * fallback file. */
	if (!__atomic_load_n(&g_stderr_broken, __ATOMIC_SEQ_CST) &&
	    fprintf(stderr, "%s %s\n", names[level], line) < 0 && errno == EPIPE)
		__atomic_store_n(&g_stderr_broken, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&g_stderr_broken, __ATOMIC_SEQ_CST))
		write_fallback(names[level], line);
	if (g_hook)
		g_hook(level, line, g_hook_ctx);
}
