/* Tests of ckpt/atomic: a write by a relative path (no directory part) lands
 * in the current directory with no temporary file left; leftover temporary
 * files are removed unless their writer is alive; ct_file_read_all refuses a
 * file over its size limit and reports a missing one as CT_ENOTFOUND;
 * ct_atomic_mkdir_p makes every level (trailing and doubled slashes, relative
 * paths, levels that exist) and names the level that cannot be made.  (That
 * it fsyncs each parent is what tests/e2e/e2e_powerloss.sh checks.)  (The
 * I/O error branches of the writer are driven by tests/e2e/e2e_faults.sh and
 * tests/e2e/e2e_atomic.sh through the fault-injection shim.) */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "../../util/atomic.h"

TESTUTIL_TMPDIR(g_dir, "atomic", setup, teardown)

static const char *path_of(const char *name) { return testutil_path(g_dir, name); }

static void touch(const char *name)
{
	int fd = open(path_of(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
}

static void test_relative_path(void **state)
{
	(void)state;
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(g_dir), 0);
	ct_err e = {0};
	int rc = ct_atomic_write_file("plain.txt", "hello\n", 6, &e);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);
	char *buf;
	size_t len;
	assert_int_equal(ct_file_read_all(path_of("plain.txt"), 64, &buf, &len, &e), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "hello\n", 7); /* NUL-terminated too */
	free(buf);
	assert_int_equal(ct_atomic_cleanup_tmp(g_dir, &e), 0); /* nothing left behind */
}

static void test_cleanup_owners(void **state)
{
	(void)state;
	char alive[128], own[128];
	/* pid 1 always exists: its file may still be being written, so it stays */
	snprintf(alive, sizeof alive, ".tmp-ckpt-0000000004.h5-1-0");
	snprintf(own, sizeof own, ".tmp-ckpt-0000000005.h5-%ld-3", (long)getpid());
	const char *gone[] = {own, ".tmp-no-pid", ".tmp-x-abc-7", ".tmp-xabc12-7", ".tmp-7"};
	touch(alive);
	for (int i = 0; i < 5; i++)
		touch(gone[i]);
	touch("ckpt-0000000004.h5"); /* not a temporary file */
	ct_err e = {0};
	assert_int_equal(ct_atomic_cleanup_tmp(g_dir, &e), 5);
	assert_int_equal(access(path_of(alive), F_OK), 0);
	assert_int_equal(access(path_of("ckpt-0000000004.h5"), F_OK), 0);
	for (int i = 0; i < 5; i++)
		assert_int_not_equal(access(path_of(gone[i]), F_OK), 0);
	assert_int_equal(remove(path_of(alive)), 0);
}

static void test_cleanup_missing_dir(void **state)
{
	(void)state;
	ct_err e = {0};
	assert_int_equal(ct_atomic_cleanup_tmp(path_of("nope"), &e), CT_EIO);
	assert_non_null(strstr(e.msg, "/nope: cannot open directory: No such file or directory"));
}

static void test_read_limits(void **state)
{
	(void)state;
	ct_err e = {0};
	assert_int_equal(ct_atomic_write_file(path_of("big"), "0123456789", 10, &e), 0);
	char *buf = (char *)&e; /* must be reset to NULL on failure */
	size_t len = 99;
	assert_int_equal(ct_file_read_all(path_of("big"), 9, &buf, &len, &e), CT_ECORRUPT);
	assert_null(buf);
	assert_int_equal(len, 0);
	assert_non_null(strstr(e.msg, "/big: file is 10 bytes, more than the 9 allowed"));
	assert_int_equal(ct_file_read_all(path_of("big"), 10, &buf, &len, &e), 0);
	assert_int_equal(len, 10);
	free(buf);
	assert_int_equal(ct_file_read_all(path_of("missing"), 10, &buf, &len, &e), CT_ENOTFOUND);
	assert_non_null(strstr(e.msg, "/missing: No such file or directory"));
	assert_int_equal(ct_file_read_all(g_dir, 10, &buf, &len, &e), CT_EIO);
	assert_non_null(strstr(e.msg, ": not a regular file"));
}

/* More buffers than one writev takes (64), empty ones among them: the file
 * is their concatenation. */
static void test_iov_many_buffers(void **state)
{
	(void)state;
	enum { N = 200 };
	static unsigned char data[N * 37];
	ct_atomic_buf b[N];
	size_t total = 0;
	for (int i = 0; i < N; i++) {
		size_t len = (size_t)(i % 5 == 0 ? 0 : i % 37 + 1);
		for (size_t k = 0; k < len; k++)
			data[total + k] = (unsigned char)(i * 7 + (int)k);
		b[i] = (ct_atomic_buf){data + total, len};
		total += len;
	}
	ct_err e = {0};
	assert_int_equal(ct_atomic_write_iov(path_of("many"), b, N, &e), 0);
	char *back;
	size_t len;
	assert_int_equal(ct_file_read_all(path_of("many"), total, &back, &len, &e), 0);
	assert_int_equal(len, total);
	assert_memory_equal(back, data, total);
	free(back);
}

/* A file size limit makes writev write part of the buffers (stopping inside
 * the fourth), then fail with EFBIG: the error names the file and the step,
 * no temporary file is left, the old file is untouched. */
static void test_iov_short_then_error(void **state)
{
	(void)state;
	static unsigned char big[4500];
	memset(big, 'x', sizeof big);
	ct_atomic_buf b[] = {{big, 1000}, {big, 0}, {big, 1500}, {big, 2000}};
	ct_err e = {0};
	assert_int_equal(ct_atomic_write_file(path_of("limited"), "old", 3, &e), 0);
	struct rlimit old, lim = {3000, 3000};
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim.rlim_max = old.rlim_max;
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int rc = ct_atomic_write_iov(path_of("limited"), b, 4, &e);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
	assert_int_equal(rc, CT_EIO);
	assert_non_null(strstr(e.msg, "limited: write of temporary file failed: File too large"));
	char *back;
	size_t len;
	assert_int_equal(ct_file_read_all(path_of("limited"), 100, &back, &len, &e), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(back, "old", 3);
	free(back);
	assert_int_equal(ct_atomic_cleanup_tmp(g_dir, &e), 0); /* nothing left behind */
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_mkdir_p(void **state)
{
	(void)state;
	ct_err e = {0};
	assert_int_equal(ct_atomic_mkdir_p(path_of("m1/m2//m3/"), &e), 0);
	assert_true(is_dir(path_of("m1/m2/m3")));
	assert_int_equal(ct_atomic_mkdir_p(path_of("m1/m2/m3"), &e), 0); /* exists: fine */
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(g_dir), 0);
	int rc = ct_atomic_mkdir_p("rel/a", &e);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);
	assert_true(is_dir(path_of("rel/a")));
	touch("afile");
	rc = ct_atomic_mkdir_p(path_of("afile/sub"), &e);
	assert_int_equal(rc, CT_EIO);
	assert_non_null(strstr(e.msg, "afile/sub: cannot create directory"));
	rc = ct_atomic_mkdir_p("", &e);
	assert_int_equal(rc, CT_EUSAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relative_path),
		cmocka_unit_test(test_cleanup_owners),
		cmocka_unit_test(test_cleanup_missing_dir),
		cmocka_unit_test(test_read_limits),
		cmocka_unit_test(test_iov_many_buffers),
		cmocka_unit_test(test_iov_short_then_error),
		cmocka_unit_test(test_mkdir_p),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
