/* tmpdir.h — a fresh directory for a test (or a group of tests) and its
 * removal with everything below it, shared by tests/test_*.c.  Header-only:
 * every test program is a single translation unit.
 *
 *     static char g_dir[256];
 *     static int setup(void **s) { (void)s; return tmpdir_make(g_dir, sizeof g_dir, "h5c"); }
 *     static int teardown(void **s) { (void)s; return tmpdir_remove(g_dir); }
 */
#ifndef CT_TESTS_TMPDIR_H
#define CT_TESTS_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

/* Creates "$TMPDIR/ctrain-<name>.XXXXXX" ($TMPDIR unset: /tmp) and leaves its
 * path in buf; 0, or -1 if it does not fit or cannot be created. */
static inline int tmpdir_make(char *buf, size_t cap, const char *name)
{
	const char *t = getenv("TMPDIR");
	int n = snprintf(buf, cap, "%s/ctrain-%s.XXXXXX", t && *t ? t : "/tmp", name);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return mkdtemp(buf) ? 0 : -1;
}

static inline int tmpdir_rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

/* Removes dir and everything below it (links are not followed); 0 or -1. */
static inline int tmpdir_remove(const char *dir)
{
	return nftw(dir, tmpdir_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
