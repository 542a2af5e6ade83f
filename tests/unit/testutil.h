/* testutil.h — the set-up every tests/unit/test_*.c needs: a fresh directory for
 * a test (or a group of tests), removed with everything below it, paths
 * inside it, files written and read whole, and the peak resident size
 * (../peak_rss.h).  Header-only: every test program is a single translation unit.
 *
 *     TESTUTIL_TMPDIR(g_dir, "h5c", setup, teardown)   // char g_dir[192] + the two
 *     ...cmocka_unit_test_setup_teardown(test_x, setup, teardown)...
 *     testutil_write(testutil_path(g_dir, "a.csv"), text, strlen(text));
 */
#ifndef CT_TESTS_TESTUTIL_H
#define CT_TESTS_TESTUTIL_H

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <zlib.h>

#include "../peak_rss.h"

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

/* Defines char dir[256] and the cmocka fixtures setup and teardown that make
 * "$TMPDIR/ctrain-<name>.XXXXXX" in it and remove it (even after a failure). */
#define TESTUTIL_TMPDIR(dir, name, setup, teardown)        \
	static char dir[192];                              \
	static int setup(void **state_)                    \
	{                                                  \
		(void)state_;                              \
		return tmpdir_make(dir, sizeof dir, name); \
	}                                                  \
	static int teardown(void **state_)                 \
	{                                                  \
		(void)state_;                              \
		return tmpdir_remove(dir);                 \
	}

/* "dir/name" in one of 4 static buffers used in turn (so that up to 4 can be
 * passed to one call). */
static inline const char *testutil_path(const char *dir, const char *name)
{
	static char buf[4][512];
	static int next;
	char *p = buf[next++ % 4];
	snprintf(p, sizeof buf[0], "%s/%s", dir, name);
	return p;
}

/* Writes len bytes to path, plain or gzip-compressed (a failure fails the test). */
static inline void testutil_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static inline void testutil_write_gz(const char *path, const void *data, size_t len)
{
	gzFile f = gzopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(gzwrite(f, data, (unsigned)len), (int)len);
	assert_int_equal(gzclose(f), Z_OK);
}

/* The whole file at path, malloc'ed with one byte to spare; its size in *len. */
static inline unsigned char *testutil_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	unsigned char *b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	assert_int_equal(fclose(f), 0);
	*len = (size_t)n;
	return b;
}

/* Error messages quote names and bytes from files: never raw control bytes. */
static inline void testutil_assert_printable(const char *msg)
{
	assert_true(msg[0] != '\0');
	for (const char *p = msg; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			fail_msg("unprintable byte 0x%02x in message '%s'", (unsigned char)*p, msg);
}

#endif
