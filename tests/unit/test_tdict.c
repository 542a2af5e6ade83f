/* Tests of ckpt/tdict and of the guards of the safetensors serialiser that
 * ct_tdict_add cannot reach: shape sizes (negative, overflowing), metadata
 * replacement, float conversion from every float dtype and refusal of the
 * others, and tdicts whose tensors add up to more than memory can hold or that
 * were edited by hand into a duplicate name, and every allocation failure
 * while the header is built.  No byte of tensor data is read by the failing
 * calls, so huge shapes are borrowed from a small buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>

#include "../../formats/safetensors.h"
#include "../../formats/tdict.h"

static void test_shape_numel(void **state)
{
	(void)state;
	assert_int_equal(ct_shape_numel(0, NULL), 1);
	assert_int_equal(ct_shape_numel(3, (int64_t[]){2, 0, 5}), 0);
	assert_int_equal(ct_shape_numel(2, (int64_t[]){3, 7}), 21);
	assert_int_equal(ct_shape_numel(2, (int64_t[]){3, -1}), -1);
	assert_int_equal(ct_shape_numel(2, (int64_t[]){INT64_MAX / 2, 3}), -1);
	/* element count fits int64 but the byte count does not fit size_t */
	ct_tdict d;
	ct_tdict_init(&d);
	ct_err e = {0};
	float x = 0;
	assert_int_equal(
		ct_tdict_add(&d, "w", CT_DT_F64, 1, (int64_t[]){INT64_C(1) << 61}, &x, 0, &e),
		CT_ECORRUPT);
	assert_string_equal(e.msg, "tensor 'w': shape too large");
	assert_int_equal(d.n, 0);
	ct_tdict_release(&d);
}

static void test_meta_replace(void **state)
{
	(void)state;
	ct_tdict d;
	ct_tdict_init(&d);
	ct_err e = {0};
	assert_int_equal(ct_tdict_set_meta(&d, "format", "np", &e), 0);
	assert_int_equal(ct_tdict_set_meta(&d, "arch", "mlp", &e), 0);
	assert_int_equal(ct_tdict_set_meta(&d, "format", "pt", &e), 0);
	assert_int_equal(d.n_meta, 2); /* replaced in place, order kept */
	assert_string_equal(d.meta_keys[0], "format");
	assert_string_equal(ct_tdict_get_meta(&d, "format"), "pt");
	assert_string_equal(ct_tdict_get_meta(&d, "arch"), "mlp");
	assert_null(ct_tdict_get_meta(&d, "layers"));
	ct_tdict_release(&d);
}

static void test_to_f32(void **state)
{
	(void)state;
	ct_tdict d;
	ct_tdict_init(&d);
	ct_err e = {0};
	const double f64[3] = {1.5, -0.1, 1e300};
	const uint16_t bf16[2] = {0x3fc0, 0xc000}; /* 1.5, -2 */
	const int32_t i32[2] = {1, 2};
	assert_int_equal(ct_tdict_add(&d, "a", CT_DT_F64, 1, (int64_t[]){3}, f64, 1, &e), 0);
	assert_int_equal(ct_tdict_add(&d, "b", CT_DT_BF16, 1, (int64_t[]){2}, bf16, 1, &e), 0);
	assert_int_equal(ct_tdict_add(&d, "c", CT_DT_I32, 1, (int64_t[]){2}, i32, 1, &e), 0);
	float out[3];
	assert_int_equal(ct_tdict_entry_to_f32(&d.v[0], out, &e), 0);
	assert_true(out[0] == 1.5f && out[1] == -0.1f && out[2] == (float)1e300); /* inf */
	assert_int_equal(ct_tdict_entry_to_f32(&d.v[1], out, &e), 0);
	assert_true(out[0] == 1.5f && out[1] == -2.0f);
	out[0] = 7.0f;
	assert_int_equal(ct_tdict_entry_to_f32(&d.v[2], out, &e), CT_EUNSUPPORTED);
	assert_string_equal(e.msg, "tensor 'c' has dtype I32, expected a float type");
	assert_true(out[0] == 7.0f); /* nothing written */
	ct_tdict_release(&d);
}

static void expect_serialize_error(const ct_tdict *d, int code, const char *msg)
{
	ct_err e = {0};
	void *buf = NULL;
	size_t len = 0;
	assert_int_equal(ct_st_serialize(d, &buf, &len, &e), code);
	assert_string_equal(e.msg, msg);
	assert_null(buf);
}

static void test_serialize_too_large(void **state)
{
	(void)state;
	float x = 0;
	ct_tdict d;
	ct_tdict_init(&d);
	ct_err e = {0};
	/* 2^62 bytes each: the second ends at 2^63, past the largest offset the
	 * header's JSON integers (int64) can state */
	assert_int_equal(
		ct_tdict_add(&d, "a", CT_DT_F32, 1, (int64_t[]){INT64_C(1) << 60}, &x, 0, &e), 0);
	assert_int_equal(
		ct_tdict_add(&d, "b", CT_DT_F32, 1, (int64_t[]){INT64_C(1) << 60}, &x, 0, &e), 0);
	expect_serialize_error(&d, CT_ENOMEM, "tensors too large to serialise");
	ct_tdict_release(&d);
	/* one tensor of 2^64 - 4 bytes: fits size_t, not an int64 offset */
	ct_tdict_init(&d);
	assert_int_equal(
		ct_tdict_add(&d, "a", CT_DT_F32, 1, (int64_t[]){(INT64_C(1) << 62) - 1}, &x, 0, &e),
		0);
	expect_serialize_error(&d, CT_ENOMEM, "tensors too large to serialise");
	ct_tdict_release(&d);
}

static void test_serialize_names(void **state)
{
	(void)state;
	float x[2] = {1, 2};
	ct_tdict d;
	ct_tdict_init(&d);
	ct_err e = {0};
	assert_int_equal(ct_tdict_add(&d, "a", CT_DT_F32, 1, (int64_t[]){2}, x, 1, &e), 0);
	assert_int_equal(ct_tdict_add(&d, "b", CT_DT_F32, 1, (int64_t[]){2}, x, 1, &e), 0);
	free(d.v[1].name); /* a tdict built by hand: ct_tdict_add would refuse this */
	d.v[1].name = strdup("a");
	assert_non_null(d.v[1].name);
	expect_serialize_error(&d, CT_EMISMATCH, "duplicate tensor name 'a'");
	free(d.v[1].name);
	d.v[1].name = strdup("__metadata__");
	assert_non_null(d.v[1].name);
	expect_serialize_error(&d, CT_EUNSUPPORTED, "tensor name '__metadata__' is reserved");
	ct_tdict_release(&d);
}

/* jansson's allocations, failing after a budget: every allocation failure
 * while the header is built must come back as an error, leak nothing (ASan
 * checks) and leave *buf alone. */
static int g_budget;

static void *limited_malloc(size_t n) { return g_budget-- > 0 ? malloc(n) : NULL; }

static void test_serialize_out_of_memory(void **state)
{
	(void)state;
	float x[6] = {1, 2, 3, 4, 5, 6};
	ct_tdict d;
	ct_tdict_init(&d);
	ct_err e = {0};
	assert_int_equal(ct_tdict_set_meta(&d, "format", "pt", &e), 0);
	assert_int_equal(ct_tdict_add(&d, "w", CT_DT_F32, 2, (int64_t[]){2, 3}, x, 0, &e), 0);
	assert_int_equal(ct_tdict_add(&d, "b", CT_DT_F32, 1, (int64_t[]){2}, x, 0, &e), 0);
	void *want, *got = NULL;
	size_t want_len, got_len = 0;
	assert_int_equal(ct_st_serialize(&d, &want, &want_len, &e), 0);
	int failures = 0, rc;
	do { /* allow 0, 1, 2, ... allocations until the whole header fits */
		g_budget = failures;
		json_set_alloc_funcs(limited_malloc, free);
		rc = ct_st_serialize(&d, &got, &got_len, &e);
		json_set_alloc_funcs(malloc, free);
		if (rc != 0) {
			if (rc != CT_ENOMEM || strcmp(e.msg, "out of memory") != 0)
				fail_msg("budget %d: %d %s", failures, rc, e.msg);
			assert_null(got);
			failures++;
		}
	} while (rc != 0 && failures < 1000);
	assert_int_equal(rc, 0);
	assert_true(failures >= 5); /* the header needs several allocations */
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
	free(got);
	free(want);
	ct_tdict_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shape_numel),
		cmocka_unit_test(test_meta_replace),
		cmocka_unit_test(test_to_f32),
		cmocka_unit_test(test_serialize_too_large),
		cmocka_unit_test(test_serialize_names),
		cmocka_unit_test(test_serialize_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
