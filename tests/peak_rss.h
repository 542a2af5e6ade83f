/* peak_rss.h — the resident size of this process from /proc/self/status, for
 * the unit tests and benchmarks that bound how much memory a call takes
 * (Linux).  Header-only, no test framework:
 *
 *     peak_rss_reset();                          // VmHWM := VmRSS now
 *     long before = peak_rss_kb("VmRSS");
 *     ... the call measured ...
 *     long grew = peak_rss_kb("VmHWM") - before; // kB; -1 fields when absent
 */
#ifndef CT_TESTS_PEAK_RSS_H
#define CT_TESTS_PEAK_RSS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A /proc/self/status field ("VmRSS", "VmHWM") in kB, or -1 if absent. */
static inline long peak_rss_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t fl = strlen(field);
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, field, fl) == 0 && line[fl] == ':')
			v = strtol(line + fl + 1, NULL, 10);
	if (f)
		(void)fclose(f); /* read only */
	return v;
}

/* Resets the peak resident size (VmHWM) to the current one (Linux >= 4.0:
 * "5" to clear_refs); 0 or -1. */
static inline int peak_rss_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	if (!f)
		return -1;
	int ok = fputs("5", f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

#endif
