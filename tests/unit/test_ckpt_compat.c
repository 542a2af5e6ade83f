/* Checkpoint compatibility: a checkpoint written by format_version 1
 * (tests/fixtures/ckpt_v1, committed, never regenerated) is read by today's
 * field registry, to the same values; a field registered since then is read as
 * absent when CT_CKPT_OPTIONAL (the state keeps its value) and refused by name
 * when not; format_version 0 is damage, a version newer than this build is
 * unsupported.  tests/e2e/e2e_ckpt_v1.sh resumes the same run to the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "testutil.h"

#include "../../util/atomic.h"
#include "../../ckpt/fields.h"

#define FIXTURE "tests/fixtures/ckpt_v1/run/checkpoints/ckpt-0000000009.h5"

TESTUTIL_TMPDIR(g_dir, "compat", setup, teardown)

static uint32_t bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

/* A few of the CLI's fields (the rest of the file is not asked for), plus
 * one that version 1 did not have. */
typedef struct live {
	float bias[3];
	int64_t epoch, added_later;
	uint64_t cursor;
} live;

static void registry(ct_ckpt_fields *f, live *s, int added_flags)
{
	ct_err e = {0};
	assert_int_equal(ct_ckpt_fields_init(f, &e), 0);
	assert_int_equal(ct_ckpt_fields_add(f, "/model/layers.1.bias", CT_H5C_F32, 1,
					    (int64_t[]){3}, s->bias, 0, &e),
			 0);
	assert_int_equal(
		ct_ckpt_fields_add(f, "/meta/epoch", CT_H5C_I64, 0, NULL, &s->epoch, 0, &e), 0);
	assert_int_equal(
		ct_ckpt_fields_add(f, "/data/cursor", CT_H5C_U64, 0, NULL, &s->cursor, 0, &e), 0);
	assert_int_equal(ct_ckpt_fields_add(f, "/meta/added_later", CT_H5C_I64, 0, NULL,
					    &s->added_later, added_flags, &e),
			 0);
}

static void test_reads_v1(void **state)
{
	(void)state;
	ct_ckpt_fields f;
	live s = {.added_later = 42};
	registry(&f, &s, CT_CKPT_OPTIONAL);
	ct_err e = {0};
	assert_int_equal(ct_ckpt_fields_read(&f, FIXTURE, &e), 0);
	assert_int_equal(ct_ckpt_fields_apply(&f, &e), 0);
	assert_int_equal(f.format_version, 1);
	assert_int_equal(f.step, 9);
	assert_string_equal(f.blas_core, "Prescott");
	assert_string_equal(f.version, "0.1.0");
	assert_int_equal(s.epoch, 1);
	assert_int_equal(s.cursor, 24); /* 3 batches of 8 into epoch 2 */
	/* the bytes h5py reads from the fixture */
	assert_int_equal(bits(s.bias[0]), 0x3e4708ed);
	assert_int_equal(bits(s.bias[1]), 0x3e93c91b);
	assert_int_equal(bits(s.bias[2]), 0xbd9361c5);
	assert_int_equal(s.added_later, 42); /* absent: kept */
	assert_int_equal(ct_ckpt_fields_find(&f, "/meta/added_later")->present, 0);
	ct_ckpt_fields_release(&f);
}

static void test_required_field_missing(void **state)
{
	(void)state;
	ct_ckpt_fields f;
	live s = {.added_later = 42, .epoch = -5};
	registry(&f, &s, 0);
	ct_err e = {0};
	assert_int_equal(ct_ckpt_fields_read(&f, FIXTURE, &e), CT_ENOTFOUND);
	assert_non_null(strstr(e.msg, "/meta/added_later"));
	assert_int_equal(s.epoch, -5); /* a failed read touches nothing */
	ct_ckpt_fields_release(&f);
}

/* Writes a one-field checkpoint claiming format_version v; reads it back. */
static int round_trip(int64_t v, ct_err *e)
{
	char path[512];
	snprintf(path, sizeof path, "%s/v%lld.h5", g_dir, (long long)v);
	ct_ckpt_fields f;
	int64_t x = 7;
	assert_int_equal(ct_ckpt_fields_init(&f, e), 0);
	assert_int_equal(ct_ckpt_fields_add(&f, "/meta/x", CT_H5C_I64, 0, NULL, &x, 0, e), 0);
	ct_ckpt_fields_take(&f, 3);
	/* the header's copy, as a build of that version would have taken it */
	*(int64_t *)ct_ckpt_fields_find(&f, "/@format_version")->copy = v;
	ct_h5c_image im;
	ct_h5c_image_init(&im);
	assert_int_equal(ct_ckpt_fields_serialize(&f, &im, e), 0);
	assert_int_equal(ct_atomic_write_iov(path, im.seg, (int)im.n_seg, e), 0);
	ct_h5c_image_release(&im);
	x = 0;
	int rc = ct_ckpt_fields_read(&f, path, e);
	if (rc == 0)
		rc = ct_ckpt_fields_apply(&f, e);
	if (rc == 0)
		assert_int_equal(x, 7);
	ct_ckpt_fields_release(&f);
	return rc;
}

static void test_format_versions(void **state)
{
	(void)state;
	ct_err e = {0};
	assert_int_equal(round_trip(CT_CKPT_FORMAT_VERSION, &e), 0);
	assert_int_equal(round_trip(CT_CKPT_FORMAT_VERSION + 1, &e), CT_EUNSUPPORTED);
	char want[128];
	snprintf(want, sizeof want, ".h5: checkpoint format_version %d; this ctrain reads 1 to %d",
		 CT_CKPT_FORMAT_VERSION + 1, CT_CKPT_FORMAT_VERSION);
	assert_non_null(strstr(e.msg, want));
	assert_int_equal(round_trip(0, &e), CT_ECORRUPT);
	assert_non_null(strstr(e.msg, "v0.h5: checkpoint format_version 0;"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_v1),
		cmocka_unit_test(test_required_field_missing),
		cmocka_unit_test(test_format_versions),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
