/* Tests of util/util.h: array growth (doubling, overflow, unchanged on
 * failure), the UTF-8 checker the safetensors and pickle readers share, and
 * the shape formatter of load reports and `ctrain inspect`, the CSV field
 * splitter of status, plot and compare. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../util/util.h"

static void test_grow(void **state)
{
	(void)state;
	int *v = NULL;
	size_t cap = 0;
	assert_int_equal(ct_grow(&v, &cap, 1, sizeof *v, 4), 0);
	assert_int_equal(cap, 4);
	assert_non_null(v);
	for (int i = 0; i < 4; i++)
		v[i] = i;
	int *before = v;
	assert_int_equal(ct_grow(&v, &cap, 4, sizeof *v, 4), 0); /* fits: untouched */
	assert_ptr_equal(v, before);
	assert_int_equal(ct_grow(&v, &cap, 5, sizeof *v, 4), 0);
	assert_int_equal(cap, 8);
	assert_int_equal(ct_grow(&v, &cap, 100, sizeof *v, 4), 0);
	assert_int_equal(cap, 128);
	for (int i = 0; i < 4; i++) /* contents kept */
		assert_int_equal(v[i], i);
	before = v;
	assert_int_equal(ct_grow(&v, &cap, SIZE_MAX / 2, sizeof *v, 4), -1); /* size overflows */
	assert_int_equal(ct_grow(&v, &cap, SIZE_MAX, 1, 4), -1);
	assert_ptr_equal(v, before);
	assert_int_equal(cap, 128);
	free(v);
}

static void test_utf8(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t bad; /* SIZE_MAX: valid */
	} cases[] = {
		{"", SIZE_MAX},
		{"layers.0.weight", SIZE_MAX},
		{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", SIZE_MAX},
		{"\xf4\x8f\xbf\xbf", SIZE_MAX}, /* U+10FFFF */
		{"ab\xc0\xaf", 2},              /* overlong '/' */
		{"\xe0\x80\xaf", 0},            /* overlong, 3 bytes */
		{"x\xed\xa0\x80", 1},           /* surrogate */
		{"\xf4\x90\x80\x80", 0},        /* above U+10FFFF */
		{"ok\xc3", 2},                  /* truncated */
		{"\xe2\x82", 0},                /* truncated */
		{"a\x80", 1},                   /* lone continuation */
		{"\xe2\x28\xa1", 0},            /* bad continuation */
		{"\xff", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		size_t n = strlen(cases[i].s);
		size_t want = cases[i].bad == SIZE_MAX ? n : cases[i].bad;
		if (ct_utf8_bad_at((const unsigned char *)cases[i].s, n) != want)
			fail_msg("case %zu: got %zu want %zu", i,
				 ct_utf8_bad_at((const unsigned char *)cases[i].s, n), want);
	}
}

static void test_shape_format(void **state)
{
	(void)state;
	char b[64];
	int64_t s[3] = {3, 2, 1234567890123};
	ct_shape_format(b, sizeof b, 2, s, ",");
	assert_string_equal(b, "[3,2]");
	ct_shape_format(b, sizeof b, 3, s, ", ");
	assert_string_equal(b, "[3, 2, 1234567890123]");
	ct_shape_format(b, sizeof b, 0, s, ",");
	assert_string_equal(b, "[]");
	ct_shape_format(b, 6, 3, s, ", "); /* cut, still terminated */
	assert_string_equal(b, "[3, 2");
}

static void test_split_fields(void **state)
{
	(void)state;
	char line[] = "step,loss,,val_loss", one[] = "x";
	char *f[3];
	assert_int_equal(ct_split_fields(line, f, 3), 3);
	assert_string_equal(f[0], "step");
	assert_string_equal(f[1], "loss");
	assert_string_equal(f[2], ""); /* what follows the max-th field is dropped */
	assert_int_equal(ct_index_of(f, 3, "loss"), 1);
	assert_int_equal(ct_index_of(f, 3, "lr"), -1);
	assert_int_equal(ct_index_of(f, 0, "step"), -1);
	assert_int_equal(ct_split_fields(one, f, 3), 1);
	assert_string_equal(f[0], "x");
}

/* "dir/name" exactly filling the buffer fits; one byte less is an error that
 * leaves no cut path behind; empty parts add no '/'. */
static void test_path_join(void **state)
{
	(void)state;
	char buf[8];
	assert_int_equal(ct_path_join(buf, sizeof buf, "abc", "def"), 0); /* 7 + NUL */
	assert_string_equal(buf, "abc/def");
	assert_int_equal(ct_path_join(buf, sizeof buf, "abc", "defg"), CT_EUNSUPPORTED);
	assert_string_equal(buf, "");
	assert_int_equal(ct_path_join(buf, sizeof buf, "abcd", "def"), CT_EUNSUPPORTED);
	assert_string_equal(buf, "");
	assert_int_equal(ct_path_join(buf, 7, "abc", "def"), CT_EUNSUPPORTED);
	assert_int_equal(ct_path_join(buf, sizeof buf, "", "name"), 0);
	assert_string_equal(buf, "name");
	assert_int_equal(ct_path_join(buf, sizeof buf, "dir", ""), 0);
	assert_string_equal(buf, "dir");
	assert_int_equal(ct_path_join(buf, sizeof buf, "", ""), 0);
	assert_string_equal(buf, "");
	assert_int_equal(ct_path_join(buf, sizeof buf, "/", "a"), 0);
	assert_string_equal(buf, "//a"); /* as "%s/%s" always wrote */
	assert_int_equal(ct_path_join(buf, 1, "", ""), 0);
	assert_int_equal(ct_path_join(buf, 1, "", "a"), CT_EUNSUPPORTED);

	ct_err e = {0};
	assert_int_equal(ct_path_join_e(buf, sizeof buf, "run", "model.safetensors", &e),
			 CT_EUNSUPPORTED);
	assert_int_equal(e.code, CT_EUNSUPPORTED);
	assert_string_equal(e.msg, "run/model.safetensors: path longer than 7 bytes");
	assert_string_equal(buf, "");
	assert_int_equal(ct_path_join_e(buf, sizeof buf, "ru", "a.h5", &e), 0);
	assert_string_equal(buf, "ru/a.h5");
	char big[1000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	big[0] = '/';
	big[500] = 'M';
	assert_int_equal(ct_path_join_e(buf, sizeof buf, big, "f", &e), CT_EUNSUPPORTED);
	assert_int_equal(strlen(e.msg), 300 + 3 + 200 + strlen("/f: path longer than 7 bytes"));
	assert_memory_equal(e.msg, big, 300);
	assert_null(strchr(e.msg, 'M')); /* the middle is left out */
	assert_non_null(strstr(e.msg, "x...x"));
	assert_non_null(strstr(e.msg, "x/f: path longer than 7 bytes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow),         cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_shape_format), cmocka_unit_test(test_split_fields),
		cmocka_unit_test(test_path_join),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
