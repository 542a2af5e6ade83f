/* Tests of ckpt/discover: naming, listing among unrelated files, picking the
 * newest valid checkpoint (invalid ones logged and moved aside), the message
 * when none is valid, and the retention rules. */
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "../../util/atomic.h"
#include "../../ckpt/discover.h"
#include "../../ckpt/h5c.h"
#include "../../util/log.h"

static char g_dir[256];

#define assert_ok(expr, e)                                                    \
	do {                                                                  \
		int rc_ = (expr);                                             \
		if (rc_ < 0)                                                  \
			fail_msg("%s returned %d: %s", #expr, rc_, (e)->msg); \
	} while (0)

/* ---- captured WARN lines ---------------------------------------------------- */

static char g_warn[8][1024];
static int g_nwarn;

static void hook(int level, const char *line, void *ctx)
{
	(void)ctx;
	if (level == CT_LOG_WARN && g_nwarn < 8)
		snprintf(g_warn[g_nwarn++], sizeof g_warn[0], "%s", line);
}

/* ---- helpers --------------------------------------------------------------- */

static const char *path_of(const char *name) { return testutil_path(g_dir, name); }

static const char *ckpt_name(int64_t step)
{
	static char n[4][64];
	static int k;
	k = (k + 1) % 4;
	snprintf(n[k], sizeof n[k], "ckpt-%010lld.h5", (long long)step);
	return n[k];
}

static int exists(const char *name)
{
	struct stat st;
	return lstat(path_of(name), &st) == 0;
}

static void write_raw(const char *name, const void *buf, size_t len)
{
	FILE *f = fopen(path_of(name), "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static char *read_raw(const char *name, size_t *len)
{
	char *b;
	ct_err e = {0};
	assert_ok(ct_file_read_all(path_of(name), 1 << 20, &b, len, &e), &e);
	return b;
}

/* A valid checkpoint for step (its bytes depend on the step). */
static void make_ckpt(int64_t step)
{
	const char *fmt = "ctrain-checkpoint";
	float w[4] = {(float)step, 1, 2, 3};
	ct_h5c_field f[] = {
		{"/@format", CT_H5C_STR, 0, {0}, &fmt},
		{"/meta@step", CT_H5C_I64, 0, {0}, &step},
		{"/model/w", CT_H5C_F32, 1, {4}, w},
	};
	void *buf;
	size_t len;
	ct_err e = {0};
	assert_ok(ct_h5c_build(f, 3, &buf, &len, &e), &e);
	char *p = ct_ckpt_path_for_step(g_dir, step);
	assert_non_null(p);
	assert_ok(ct_atomic_write_file(p, buf, len, &e), &e);
	free(p);
	free(buf);
}

enum { FLIP, TRUNCATE, ZERO };

/* A checkpoint for step, damaged in one of three ways. */
static void make_bad(int64_t step, int how)
{
	make_ckpt(step);
	size_t len;
	char *b = read_raw(ckpt_name(step), &len);
	if (how == FLIP)
		b[len / 3] ^= 0x10;
	else if (how == ZERO)
		memset(b, 0, len);
	write_raw(ckpt_name(step), b, how == TRUNCATE ? len / 2 : len);
	free(b);
}

static int setup(void **state)
{
	(void)state;
	if (tmpdir_make(g_dir, sizeof g_dir, "discover") < 0)
		return -1;
	g_nwarn = 0;
	ct_log_set_hook(hook, NULL);
	ct_log_set_level(CT_LOG_WARN);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ct_log_set_hook(NULL, NULL);
	return tmpdir_remove(g_dir);
}

static void steps_present(const int64_t *expected, size_t n)
{
	ct_ckpt_entry *v;
	size_t got;
	ct_err e = {0};
	assert_ok(ct_ckpt_list(g_dir, &v, &got, &e), &e);
	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(v[i].step, expected[i]);
	ct_ckpt_list_free(v, got);
}

/* ---- tests -------------------------------------------------------------------- */

static void test_path_for_step(void **state)
{
	(void)state;
	char *p = ct_ckpt_path_for_step("run/checkpoints", 42);
	assert_string_equal(p, "run/checkpoints/ckpt-0000000042.h5");
	free(p);
	p = ct_ckpt_path_for_step("d", 0);
	assert_string_equal(p, "d/ckpt-0000000000.h5");
	free(p);
	p = ct_ckpt_path_for_step("d", 12345678901LL);
	assert_string_equal(p, "d/ckpt-12345678901.h5");
	free(p);
}

static void test_list_ignores_other_files(void **state)
{
	(void)state;
	make_ckpt(5);
	make_ckpt(20);
	make_ckpt(10);
	make_ckpt(12345678901LL);
	const char *junk[] = {"ckpt-42.h5",
			      "ckpt-0000000007.h5x",
			      "ckpt-0000000007.h5.corrupt",
			      ".tmp-ckpt-0000000030.h5-123-0",
			      "notes.txt",
			      "ckpt-00000000a1.h5",
			      "ckpt--000000001.h5",
			      "ckpt-000000000042.h5",
			      "Ckpt-0000000001.h5",
			      "ckpt-0000000001.H5",
			      "ckpt-+000000001.h5"};
	for (size_t i = 0; i < sizeof junk / sizeof *junk; i++)
		write_raw(junk[i], "x", 1);
	assert_int_equal(mkdir(path_of("sub"), 0755), 0);
	ct_ckpt_entry *v;
	size_t n;
	ct_err e = {0};
	assert_ok(ct_ckpt_list(g_dir, &v, &n, &e), &e);
	assert_int_equal(n, 4);
	int64_t want[] = {12345678901LL, 20, 10, 5};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(v[i].step, want[i]);
		char *p = ct_ckpt_path_for_step(g_dir, want[i]);
		assert_string_equal(v[i].path, p);
		free(p);
		assert_int_equal(v[i].valid, -1);
		assert_null(v[i].reason);
	}
	ct_ckpt_list_free(v, n);

	char missing[512];
	snprintf(missing, sizeof missing, "%s/nope", g_dir);
	assert_int_equal(ct_ckpt_list(missing, &v, &n, &e), CT_ENOTFOUND);
	assert_non_null(strstr(e.msg, "nope: cannot open checkpoint directory: No such file"));
	assert_null(v);
	assert_int_equal(n, 0);
}

static void test_check_entry(void **state)
{
	(void)state;
	make_ckpt(1);
	make_bad(2, FLIP);
	assert_int_equal(mkdir(path_of(ckpt_name(3)), 0755), 0);
	ct_ckpt_entry *v;
	size_t n;
	ct_err e = {0};
	assert_ok(ct_ckpt_list(g_dir, &v, &n, &e), &e);
	assert_int_equal(n, 3);
	assert_int_equal(ct_ckpt_check(&v[0]), 0); /* step 3: a directory */
	assert_int_equal(v[0].valid, 0);
	assert_string_equal(v[0].reason, "not a regular file");
	assert_int_equal(ct_ckpt_check(&v[1]), 0);
	assert_int_equal(v[1].valid, 0);
	assert_non_null(v[1].reason);
	assert_true(strncmp(v[1].reason, "checksum mismatch (stored 0x", 28) == 0);
	assert_int_equal(ct_ckpt_check(&v[2]), 1);
	assert_int_equal(v[2].valid, 1);
	assert_null(v[2].reason);
	/* A file that vanished since the listing cannot be judged. */
	assert_int_equal(unlink(v[2].path), 0);
	assert_int_equal(ct_ckpt_check(&v[2]), CT_ENOTFOUND);
	assert_int_equal(v[2].valid, 0);
	assert_non_null(strstr(v[2].reason, "No such file"));
	ct_ckpt_list_free(v, n);
}

static void test_find_latest_skips_invalid(void **state)
{
	(void)state;
	make_ckpt(5);
	make_ckpt(10);
	make_bad(20, FLIP);
	make_bad(30, ZERO);
	write_raw(".tmp-ckpt-0000000040.h5-99-0", "partial", 7);
	write_raw("ckpt-0000000050.h5.corrupt", "old", 3);
	write_raw("ckpt-0000000060.txt", "other", 5);
	size_t zlen;
	char *zero = read_raw(ckpt_name(30), &zlen);

	char *path = NULL;
	int64_t step = -1;
	ct_err e = {0};
	assert_ok(ct_ckpt_find_latest(g_dir, &path, &step, &e), &e);
	assert_int_equal(step, 10);
	char *want = ct_ckpt_path_for_step(g_dir, 10);
	assert_string_equal(path, want);
	free(want);
	free(path);

	/* One WARN per invalid file, newest first, naming it, why, and where it went. */
	assert_int_equal(g_nwarn, 2);
	char expect[2048];
	snprintf(
		expect, sizeof expect,
		"skipping invalid checkpoint %s: missing trailer magic (not a ctrain checkpoint or "
		"truncated) (moved aside to %s.corrupt)",
		path_of(ckpt_name(30)), path_of(ckpt_name(30)));
	assert_string_equal(g_warn[0], expect);
	snprintf(expect, sizeof expect,
		 "skipping invalid checkpoint %s: checksum mismatch (stored 0x",
		 path_of(ckpt_name(20)));
	assert_true(strncmp(g_warn[1], expect, strlen(expect)) == 0);
	snprintf(expect, sizeof expect, "(moved aside to %s.corrupt)", path_of(ckpt_name(20)));
	assert_non_null(strstr(g_warn[1], expect));

	/* Moved, not deleted; everything else untouched. */
	assert_false(exists(ckpt_name(30)));
	assert_false(exists(ckpt_name(20)));
	assert_true(exists("ckpt-0000000020.h5.corrupt"));
	size_t mlen;
	char *moved = read_raw("ckpt-0000000030.h5.corrupt", &mlen);
	assert_int_equal(mlen, zlen);
	assert_memory_equal(moved, zero, zlen);
	free(moved);
	free(zero);
	size_t olen;
	char *old = read_raw("ckpt-0000000050.h5.corrupt", &olen);
	assert_int_equal(olen, 3);
	assert_memory_equal(old, "old", 3);
	free(old);
	assert_true(exists(".tmp-ckpt-0000000040.h5-99-0"));
	assert_true(exists("ckpt-0000000060.txt"));
	int64_t left[] = {10, 5};
	steps_present(left, 2);

	/* The next resume goes straight to step 10, silently. */
	g_nwarn = 0;
	assert_ok(ct_ckpt_find_latest(g_dir, &path, &step, &e), &e);
	assert_int_equal(step, 10);
	assert_int_equal(g_nwarn, 0);
	free(path);
}

static void test_corrupt_name_taken(void **state)
{
	(void)state;
	make_ckpt(1);
	make_bad(2, TRUNCATE);
	write_raw("ckpt-0000000002.h5.corrupt", "older bad file", 14);
	char *path;
	int64_t step;
	ct_err e = {0};
	assert_ok(ct_ckpt_find_latest(g_dir, &path, &step, &e), &e);
	assert_int_equal(step, 1);
	free(path);
	assert_true(exists("ckpt-0000000002.h5.corrupt.1"));
	size_t len;
	char *b = read_raw("ckpt-0000000002.h5.corrupt", &len);
	assert_int_equal(len, 14);
	assert_memory_equal(b, "older bad file", 14);
	free(b);
	assert_int_equal(g_nwarn, 1);
	assert_non_null(strstr(g_warn[0], "(moved aside to "));
	assert_non_null(strstr(g_warn[0], "ckpt-0000000002.h5.corrupt.1)"));
}

static void test_none_valid(void **state)
{
	(void)state;
	char sentinel[] = "sentinel", *path = sentinel;
	int64_t step = 7;
	ct_err e = {0};
	char expect[2048];

	assert_int_equal(ct_ckpt_find_latest(g_dir, &path, &step, &e), CT_ENOTFOUND);
	snprintf(expect, sizeof expect, "no checkpoints in %s", g_dir);
	assert_string_equal(e.msg, expect);
	assert_null(path);

	write_raw(".tmp-ckpt-0000000003.h5-1-0", "x", 1); /* leftovers do not count */
	write_raw("ckpt-0000000004.h5.corrupt", "x", 1);
	assert_int_equal(ct_ckpt_find_latest(g_dir, &path, &step, &e), CT_ENOTFOUND);
	assert_string_equal(e.msg, expect);

	make_bad(10, TRUNCATE);
	make_bad(5, ZERO);
	write_raw(ckpt_name(1), "tiny", 4);
	assert_int_equal(ct_ckpt_find_latest(g_dir, &path, &step, &e), CT_ENOTFOUND);
	snprintf(
		expect, sizeof expect,
		"no valid checkpoint in %s: "
		"ckpt-0000000010.h5: missing trailer magic (not a ctrain checkpoint or truncated; "
		"it starts like a plain HDF5 file); "
		"ckpt-0000000005.h5: missing trailer magic (not a ctrain checkpoint or truncated); "
		"ckpt-0000000001.h5: file is 4 bytes, too short for a checkpoint",
		g_dir);
	assert_string_equal(e.msg, expect);
	assert_null(path);
	assert_int_equal(step, -1);
	assert_int_equal(g_nwarn, 3);
	assert_true(exists("ckpt-0000000010.h5.corrupt"));
	assert_true(exists("ckpt-0000000005.h5.corrupt"));
	assert_true(exists("ckpt-0000000001.h5.corrupt"));
	assert_true(exists("ckpt-0000000004.h5.corrupt"));
}

static void test_retain_keep_last(void **state)
{
	(void)state;
	for (int s = 1; s <= 10; s++)
		make_ckpt(s);
	write_raw(".tmp-ckpt-0000000011.h5-1-0", "x", 1);
	ct_err e = {0};
	assert_int_equal(ct_ckpt_retain(g_dir, 3, 0, &e), 7);
	int64_t left[] = {10, 9, 8};
	steps_present(left, 3);
	assert_true(exists(".tmp-ckpt-0000000011.h5-1-0"));
	assert_int_equal(ct_ckpt_retain(g_dir, 3, 0, &e), 0); /* idempotent */
	steps_present(left, 3);
}

/* Retention remembers files it verified; a file changed afterwards (here
 * flipped in place, which moves its mtime) must be checked again and not be
 * counted, so an older valid checkpoint survives. */
static void test_retain_rechecks_changed_files(void **state)
{
	(void)state;
	for (int s = 1; s <= 3; s++)
		make_ckpt(s);
	ct_err e = {0};
	assert_int_equal(ct_ckpt_retain(g_dir, 2, 0, &e), 1); /* 3, 2 kept and now remembered */
	int64_t two[] = {3, 2};
	steps_present(two, 2);
	size_t len;
	char *buf = read_raw(ckpt_name(3), &len);
	buf[len / 2] ^= 0x01;
	struct timespec pause = {0, 20 * 1000 * 1000};
	nanosleep(&pause, NULL); /* a visibly different mtime */
	int fd = open(path_of(ckpt_name(3)), O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf + len / 2, 1, (off_t)(len / 2)), 1);
	assert_int_equal(close(fd), 0);
	free(buf);
	make_ckpt(4);
	/* valid: 4, 2; invalid 3 is neither counted nor deleted */
	assert_int_equal(ct_ckpt_retain(g_dir, 2, 0, &e), 0);
	int64_t left[] = {4, 3, 2};
	steps_present(left, 3);
}

static void test_retain_keep_every(void **state)
{
	(void)state;
	for (int s = 1; s <= 10; s++)
		make_ckpt(s);
	ct_err e = {0};
	assert_int_equal(ct_ckpt_retain(g_dir, 2, 4, &e), 6);
	int64_t left[] = {10, 9, 8, 4};
	steps_present(left, 4);
	/* Multiples inside the newest ones count towards keep_last. */
	assert_int_equal(ct_ckpt_retain(g_dir, 1, 5, &e), 3);
	int64_t left2[] = {10};
	steps_present(left2, 1);
}

static void test_retain_invalid_not_counted_nor_deleted(void **state)
{
	(void)state;
	for (int s = 1; s <= 6; s++)
		make_ckpt(s);
	make_bad(7, FLIP);
	make_bad(8, TRUNCATE);
	make_bad(3, ZERO); /* an old invalid one */
	size_t l7;
	char *b7 = read_raw(ckpt_name(7), &l7);
	ct_err e = {0};
	assert_int_equal(ct_ckpt_retain(g_dir, 2, 0, &e), 3); /* 1, 2, 4 */
	int64_t left[] = {8, 7, 6, 5, 3};
	steps_present(left, 5);
	size_t l;
	char *b = read_raw(ckpt_name(7), &l); /* invalid ones left exactly as they were */
	assert_int_equal(l, l7);
	assert_memory_equal(b, b7, l);
	free(b);
	free(b7);
	assert_false(exists("ckpt-0000000007.h5.corrupt"));
	assert_int_equal(g_nwarn, 0);
}

static void test_retain_newest_valid_survives(void **state)
{
	(void)state;
	for (int s = 1; s <= 3; s++)
		make_ckpt(s);
	for (int s = 4; s <= 6; s++)
		make_bad(s, FLIP);
	ct_err e = {0};
	assert_int_equal(ct_ckpt_retain(g_dir, 1, 0, &e), 2);
	int64_t left[] = {6, 5, 4, 3};
	steps_present(left, 4);
	char *path;
	int64_t step;
	assert_ok(ct_ckpt_find_latest(g_dir, &path, &step, &e), &e);
	assert_int_equal(step, 3);
	free(path);
}

static void test_retain_keep_all(void **state)
{
	(void)state;
	for (int s = 1; s <= 4; s++)
		make_ckpt(s);
	ct_err e = {0};
	assert_int_equal(ct_ckpt_retain(g_dir, 0, 0, &e), 0);
	assert_int_equal(ct_ckpt_retain(g_dir, -1, 2, &e), 0);
	int64_t left[] = {4, 3, 2, 1};
	steps_present(left, 4);
	char missing[512];
	snprintf(missing, sizeof missing, "%s/nope", g_dir);
	assert_int_equal(ct_ckpt_retain(missing, 2, 0, &e), CT_ENOTFOUND);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_path_for_step),
		T(test_list_ignores_other_files),
		T(test_check_entry),
		T(test_find_latest_skips_invalid),
		T(test_corrupt_name_taken),
		T(test_none_valid),
		T(test_retain_keep_last),
		T(test_retain_rechecks_changed_files),
		T(test_retain_keep_every),
		T(test_retain_invalid_not_counted_nor_deleted),
		T(test_retain_newest_valid_survives),
		T(test_retain_keep_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
