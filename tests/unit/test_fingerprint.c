/* Tests of train/fingerprint: the fingerprint of a data file follows its
 * content (a changed byte, a changed size), not its name or place; a file
 * over FP_WHOLE_MAX is read in sampled blocks (a change inside one is seen,
 * one between two is not, as documented); fingerprint_check finds changed
 * data, accepts moved data, and re-records under accept. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "../../cli/fingerprint.h"
#include "../../cli/rundir.h"

TESTUTIL_TMPDIR(g_dir, "fingerprint", setup, teardown)

static const char *path_of(const char *name)
{
	static char p[512];
	snprintf(p, sizeof p, "%s/%s", g_dir, name);
	return p;
}

/* A file of size bytes, byte i = i * 7 + seed. */
static void make_file(const char *name, size_t size, unsigned seed)
{
	FILE *f = fopen(path_of(name), "wb");
	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		assert_int_not_equal(fputc((int)((i * 7 + seed) & 0xff), f), EOF);
	assert_int_equal(fclose(f), 0);
}

static void poke(const char *name, long off, int value)
{
	int fd = open(path_of(name), O_WRONLY);
	assert_true(fd >= 0);
	unsigned char b = (unsigned char)value;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	assert_int_equal(close(fd), 0);
}

/* The fingerprint line of a csv file, without its name. */
static void fp_of(const char *name, char *out, size_t cap)
{
	ct_config c;
	ct_config_defaults(&c);
	c.dataset = CT_DATA_CSV;
	snprintf(c.path, sizeof c.path, "%s", path_of(name));
	char *text = NULL;
	ct_err e = {0};
	assert_int_equal(fingerprint_data(&c, &text, &e), 0);
	char *sp = strrchr(text, ' ');
	assert_non_null(sp);
	snprintf(out, cap, "%.*s", (int)(sp - text), text);
	free(text);
}

static void test_small_file_whole(void **state)
{
	(void)state;
	char a[128], b[128];
	make_file("s.csv", 1000, 1);
	fp_of("s.csv", a, sizeof a);
	assert_int_equal(strncmp(a, "1000 ", 5), 0); /* size, then the CRC */
	make_file("s2.csv", 1000, 1);
	fp_of("s2.csv", b, sizeof b);
	assert_string_equal(a, b); /* same content, other name */
	poke("s2.csv", 999, 0);
	fp_of("s2.csv", b, sizeof b);
	assert_string_not_equal(a, b);
}

static void test_big_file_sampled(void **state)
{
	(void)state;
	size_t size = FP_WHOLE_MAX + 12345;
	char a[128], b[128];
	make_file("big.csv", size, 3);
	fp_of("big.csv", a, sizeof a);
	/* the last block is sampled */
	poke("big.csv", (long)size - 1, 0xee);
	fp_of("big.csv", b, sizeof b);
	assert_string_not_equal(a, b);
	make_file("big.csv", size, 3);
	/* a byte between the first two sampled blocks is not */
	uint64_t second = (uint64_t)(size - FP_BLOCK) / (FP_BLOCKS - 1);
	assert_true(second > FP_BLOCK + 10);
	poke("big.csv", (long)FP_BLOCK + 5, 0xee);
	fp_of("big.csv", b, sizeof b);
	assert_string_equal(a, b);
}

static void test_check(void **state)
{
	(void)state;
	ct_config c;
	ct_config_defaults(&c);
	c.dataset = CT_DATA_CSV;
	make_file("d.csv", 5000, 9);
	snprintf(c.path, sizeof c.path, "%s", path_of("d.csv"));
	ct_err e = {0};
	int same = -1;
	assert_int_equal(fingerprint_check(g_dir, &c, 0, &same, &e), 0);
	assert_int_equal(same, 0); /* nothing recorded yet */
	assert_int_equal(fingerprint_record(g_dir, &c, &e), 0);
	assert_int_equal(fingerprint_check(g_dir, &c, 0, &same, &e), 0);
	assert_int_equal(same, 1);
	make_file("moved.csv", 5000, 9);
	snprintf(c.path, sizeof c.path, "%s", path_of("moved.csv"));
	assert_int_equal(fingerprint_check(g_dir, &c, 0, &same, &e), 0);
	assert_int_equal(same, 1);
	poke("moved.csv", 2500, 0);
	assert_int_equal(fingerprint_check(g_dir, &c, 0, &same, &e), CT_EMISMATCH);
	assert_non_null(strstr(e.msg, "the data changed since training started"));
	assert_int_equal(fingerprint_check(g_dir, &c, 1, &same, &e), 0); /* accept: re-recorded */
	assert_int_equal(fingerprint_check(g_dir, &c, 0, &same, &e), 0);
	assert_int_equal(same, 1);
}

/* A run directory whose DIR/name does not fit the path buffers (4200 bytes):
 * the helpers report the whole path instead of using a cut one (which named
 * another file: the check found no record, the removal nothing to remove). */
static void test_long_paths(void **state)
{
	(void)state;
	char dir[4400] = "/nonexistent";
	while (strlen(dir) < 4150) /* 4212 bytes in components of 75 */
		strcat(dir,
		       "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	ct_err e = {0};
	int same = -1;
	ct_config c;
	ct_config_defaults(&c);
	assert_int_equal(fingerprint_check(dir, &c, 0, &same, &e), CT_EUNSUPPORTED);
	assert_non_null(strstr(e.msg, "/data.fingerprint: path longer than 4199 bytes"));
	assert_memory_equal(e.msg, dir, 300);
	e = (ct_err){0};
	assert_int_equal(rundir_remove(dir, "model.safetensors", &e), CT_EUNSUPPORTED);
	assert_non_null(strstr(e.msg, "/model.safetensors: path longer than 4199 bytes"));
	e = (ct_err){0};
	assert_int_equal(rundir_clear(dir, &e), CT_EUNSUPPORTED);
	assert_non_null(strstr(e.msg, "/checkpoints: path longer than 4199 bytes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_file_whole),
		cmocka_unit_test(test_big_file_sampled),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_long_paths),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
