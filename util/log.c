#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static int g_level = LOG_INFO;
static void (*g_hook)(int, const char *, void *);
static void *g_hook_ctx;

void log_set_level(int level) { g_level = level; }
int log_get_level(void) { return g_level; }

void log_set_hook(void (*hook)(int, const char *, void *), void *ctx)
{
	g_hook = hook;
	g_hook_ctx = ctx;
}

void log_msg(int level, const char *fmt, ...)
{
	static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
	if (level < g_level || level > LOG_ERROR)
		return;
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* One fprintf per line so concurrent writers (async checkpoint thread) do
	 * not interleave within a line.  A log line that cannot be written has
	 * nowhere to be reported. */
	(void)fprintf(stderr, "%s %s\n", names[level], line);
	if (g_hook)
		g_hook(level, line, g_hook_ctx);
}
