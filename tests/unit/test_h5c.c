/* Tests of ckpt/crc32c and ckpt/h5c: CRC vectors, HDF5 image round trips,
 * detection of truncation, bit flips and foreign files, exact error messages,
 * HDF5 id hygiene, and cross-checks with h5py and h5dump. */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include <hdf5.h>

#include "../../util/atomic.h"
#include "../../ckpt/crc32c.h"
#include "../../ckpt/h5c.h"

static char g_dir[256];

/* ---- helpers ------------------------------------------------------------ */

static char *tmp_path(const char *name)
{
	static char p[512];
	snprintf(p, sizeof p, "%s/%s", g_dir, name);
	return p;
}

/* "a: b", the form of every message that names a file. */
static const char *joined(const char *a, const char *b)
{
	static char m[2048];
	snprintf(m, sizeof m, "%s: %s", a, b);
	return m;
}

static void write_bytes(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* HDF5 1.10 numbers the ids of each type with a counter that is never reused
 * and gives no public count of dataspaces, datatypes or property lists; so a
 * fresh id of each type marks "now", and any valid id between two marks is
 * one that was never closed. */
typedef struct id_marks {
	hid_t space, type, plist;
} id_marks;

static id_marks g_marks;

static id_marks mark_ids(void)
{
	id_marks m;
	m.space = H5Screate(H5S_SCALAR);
	m.type = H5Tcopy(H5T_NATIVE_INT);
	m.plist = H5Pcreate(H5P_DATASET_XFER);
	assert_true(m.space >= 0 && m.type >= 0 && m.plist >= 0);
	assert_true(H5Sclose(m.space) >= 0 && H5Tclose(m.type) >= 0 && H5Pclose(m.plist) >= 0);
	return m;
}

static int64_t leaked_between(hid_t from, hid_t to)
{
	int64_t n = 0;
	for (hid_t id = from + 1; id < to; id++)
		if (H5Iis_valid(id) > 0)
			n++;
	return n;
}

/* No file, group, dataset or attribute left open, and no dataspace, datatype
 * or property list created since the previous call and not closed. */
static void assert_no_open_ids(void)
{
	id_marks then = g_marks, now = mark_ids();
	g_marks = now; /* a failure here must not spill into the next test */
	assert_int_equal(H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
	assert_int_equal(leaked_between(then.space, now.space), 0);
	assert_int_equal(leaked_between(then.type, now.type), 0);
	assert_int_equal(leaked_between(then.plist, now.plist), 0);
	assert_true(now.space - then.space > 1); /* the test did create some */
}

/* rc == 0, else fail with the error message. */
#define assert_ok(expr, e)                                                    \
	do {                                                                  \
		int rc_ = (expr);                                             \
		if (rc_ != 0)                                                 \
			fail_msg("%s returned %d: %s", #expr, rc_, (e)->msg); \
	} while (0)

static void assert_err(int rc, int code, const ct_err *e, const char *expected)
{
	assert_int_equal(rc, code);
	assert_int_equal(e->code, code);
	assert_string_equal(e->msg, expected);
}

static void assert_err_has(int rc, int code, const ct_err *e, const char *part)
{
	assert_int_equal(rc, code);
	if (!strstr(e->msg, part))
		fail_msg("message \"%s\" lacks \"%s\"", e->msg, part);
}

/* A trailer with correct CRCs over any image (to forge files for tests). */
static void put_trailer(unsigned char *t, const void *image, uint64_t image_len, uint32_t version)
{
	memcpy(t, CT_H5C_TRAILER_MAGIC, 8);
	for (int i = 0; i < 8; i++)
		t[8 + i] = (unsigned char)(image_len >> (8 * i));
	uint32_t crc = crc32c_update(0, image, image_len);
	for (int i = 0; i < 4; i++) {
		t[16 + i] = (unsigned char)(crc >> (8 * i));
		t[20 + i] = (unsigned char)(version >> (8 * i));
	}
	uint32_t self = crc32c_update(0, t, 24);
	memset(t + 24, 0, 8);
	for (int i = 0; i < 4; i++)
		t[24 + i] = (unsigned char)(self >> (8 * i));
}

/* A small checkpoint-like image used by several tests. */
static float g_w[12];
static const char *g_format = "ctrain-checkpoint";
static int64_t g_step = 42;

static void small_image(void **buf, size_t *len)
{
	ct_h5c_field f[] = {
		{"/@format", CT_H5C_STR, 0, {0}, &g_format},
		{"/meta@step", CT_H5C_I64, 0, {0}, &g_step},
		{"/model/layers.0.weight", CT_H5C_F32, 2, {3, 4}, g_w},
	};
	ct_err e = {0};
	assert_ok(ct_h5c_build(f, 3, buf, len, &e), &e);
}

static int setup(void **state)
{
	(void)state;
	if (tmpdir_make(g_dir, sizeof g_dir, "h5c") < 0)
		return -1;
	for (int i = 0; i < 12; i++)
		g_w[i] = (float)i * 0.5f - 1.0f;
	/* Let h5c initialise HDF5 once, then take the id baselines. */
	void *buf;
	size_t len;
	small_image(&buf, &len);
	ct_h5c_reader *r;
	ct_err e = {0};
	if (ct_h5c_open_buffer(buf, len, "x", &r, &e) < 0)
		return -1;
	ct_h5c_close(r);
	free(buf);
	g_marks = mark_ids();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return tmpdir_remove(g_dir);
}

/* ---- CRC-32C -------------------------------------------------------------- */

static void test_crc32c_vectors(void **state)
{
	(void)state;
	unsigned char zeros[32] = {0}, ones[32], inc[32], dec[32];
	memset(ones, 0xff, 32);
	for (int i = 0; i < 32; i++) {
		inc[i] = (unsigned char)i;
		dec[i] = (unsigned char)(31 - i);
	}
	/* The check value and the iSCSI vectors of RFC 3720, appendix B.4. */
	for (int sw = 0; sw < 2; sw++) {
		uint32_t (*f)(uint32_t, const void *, size_t) =
			sw ? crc32c_update_sw : crc32c_update;
		assert_int_equal(f(0, "123456789", 9), 0xE3069283u);
		assert_int_equal(f(0, "", 0), 0);
		assert_int_equal(f(0, zeros, 32), 0x8A9136AAu);
		assert_int_equal(f(0, ones, 32), 0x62A8AB43u);
		assert_int_equal(f(0, inc, 32), 0x46DD794Eu);
		assert_int_equal(f(0, dec, 32), 0x113FDB5Cu);
		assert_int_equal(f(f(0, "1234", 4), "56789", 5), 0xE3069283u);
	}
}

static void test_crc32c_paths_agree(void **state)
{
	(void)state;
	size_t n = 100000;
	unsigned char *b = malloc(n);
	assert_non_null(b);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (unsigned char)x;
	}
	/* Every short length at every alignment, then lengths that use the
	 * 3 x 256 and 3 x 8192 interleaved blocks of the hardware path. */
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len < 300; len++)
			assert_int_equal(crc32c_update(0, b + off, len),
					 crc32c_update_sw(0, b + off, len));
	size_t big[] = {767, 768, 769, 24575, 24576, 24577, 3 * 24576 + 123, n - 5};
	for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
		uint32_t whole = crc32c_update_sw(0, b + 3, big[i]);
		assert_int_equal(crc32c_update(0, b + 3, big[i]), whole);
		size_t cut = big[i] / 3;
		assert_int_equal(
			crc32c_update(crc32c_update(0, b + 3, cut), b + 3 + cut, big[i] - cut),
			whole);
	}
	free(b);
}

/* ---- round trip ------------------------------------------------------------ */

static void test_round_trip_all_types(void **state)
{
	(void)state;
	const char *fmt = "ctrain-checkpoint", *note = "h\xc3\xa9llo \xe2\x9c\x93 \xe2\x80\x93 end";
	const char *config = "[model]\nlayers = 4,3\n";
	int64_t version = 1, step = INT64_MIN, perm[5] = {4, 0, 3, 1, INT64_MAX};
	uint64_t ostep = UINT64_MAX, rng[2][4] = {{1, 2, 3, 4}, {5, 6, 7, UINT64_MAX}};
	double lrs[3] = {0.1, -0.0, HUGE_VAL}, odd = 0;
	uint64_t nan_bits = 0x7ff8dead0000beefull;
	memcpy(&odd, &nan_bits, 8);
	float w[3][4], bias[3] = {1e-45f, -FLT_MAX, NAN};
	for (int i = 0; i < 12; i++)
		w[i / 4][i % 4] = (float)i / 7.0f;
	uint8_t mask[2][2][2][2];
	for (int i = 0; i < 16; i++)
		((uint8_t *)mask)[i] = (uint8_t)(i * 17);
	float none = 0;
	ct_h5c_field f[] = {
		{"/@format", CT_H5C_STR, 0, {0}, &fmt},
		{"/@format_version", CT_H5C_I64, 0, {0}, &version},
		{"/meta@step", CT_H5C_I64, 0, {0}, &step},
		{"/meta@note", CT_H5C_STR, 0, {0}, &note},
		{"/meta@lrs", CT_H5C_F64, 1, {3}, lrs},
		{"/meta/config", CT_H5C_STR, 0, {0}, &config},
		{"/model/layers.0.weight", CT_H5C_F32, 2, {3, 4}, w},
		{"/model/layers.0.bias", CT_H5C_F32, 1, {3}, bias},
		{"/model/layers.0.bias@unit",
		 CT_H5C_STR,
		 0,
		 {0},
		 &fmt}, /* attribute of a dataset */
		{"/optim/step", CT_H5C_U64, 0, {0}, &ostep},
		{"/rng/state", CT_H5C_U64, 2, {2, 4}, rng},
		{"/data/perm", CT_H5C_I64, 1, {5}, perm},
		{"/data/mask", CT_H5C_U8, 4, {2, 2, 2, 2}, mask},
		{"/data/empty", CT_H5C_F32, 1, {0}, &none},
		{"/data/empty2", CT_H5C_U8, 2, {3, 0}, NULL},
		{"/odd", CT_H5C_F64, 0, {0}, &odd},
	};
	size_t nf = sizeof f / sizeof *f;
	void *buf;
	size_t len;
	ct_err e = {0};
	assert_ok(ct_h5c_build(f, nf, &buf, &len, &e), &e);
	assert_ok(ct_h5c_verify(buf, len, &e), &e);
	assert_memory_equal((char *)buf + len - CT_H5C_TRAILER_SIZE, "CTRNCKPT", 8);
	/* Through a file too, as the trainer will do it. */
	assert_ok(ct_atomic_write_file(tmp_path("all.h5"), buf, len, &e), &e);
	for (int via_file = 0; via_file < 2; via_file++) {
		ct_h5c_reader *r;
		if (via_file)
			assert_ok(ct_h5c_open(tmp_path("all.h5"), &r, &e), &e);
		else
			assert_ok(ct_h5c_open_buffer(buf, len, "mem", &r, &e), &e);
		for (size_t i = 0; i < nf; i++) {
			unsigned char out[256];
			memset(out, 0xa5, sizeof out);
			ct_h5c_field g = f[i];
			g.data = out;
			assert_ok(ct_h5c_read(r, &g, &e), &e);
			if (f[i].type == CT_H5C_STR) {
				char *s;
				memcpy(&s, out, sizeof s); /* out has no pointer alignment */
				assert_string_equal(s, *(const char **)f[i].data);
				free(s);
			} else {
				size_t bytes = (size_t)ct_h5c_numel(&f[i]) *
					       (f[i].type == CT_H5C_F32  ? 4
						: f[i].type == CT_H5C_U8 ? 1
									 : 8);
				if (bytes)
					assert_memory_equal(out, f[i].data, bytes);
				assert_int_equal(out[bytes], 0xa5); /* nothing written past it */
			}
			int nd = -1;
			int64_t shape[CT_H5C_MAX_DIMS];
			assert_ok(ct_h5c_shape(r, f[i].path, &nd, shape, &e), &e);
			assert_int_equal(nd, f[i].ndim);
			for (int d = 0; d < nd; d++)
				assert_int_equal(shape[d], f[i].shape[d]);
		}
		char **names;
		size_t n;
		assert_ok(ct_h5c_list(r, "/model", &names, &n, &e), &e);
		assert_int_equal(n, 2);
		assert_string_equal(names[0], "layers.0.bias");
		assert_string_equal(names[1], "layers.0.weight");
		ct_h5c_list_free(names, n);
		assert_ok(ct_h5c_list(r, "/", &names, &n, &e), &e); /* groups are not listed */
		assert_int_equal(n, 1);
		assert_string_equal(names[0], "odd");
		ct_h5c_list_free(names, n);
		assert_ok(ct_h5c_list(r, "/data", &names, &n, &e), &e);
		assert_int_equal(n, 4);
		assert_string_equal(names[0], "empty");
		assert_string_equal(names[3], "perm");
		ct_h5c_list_free(names, n);
		ct_h5c_close(r);
	}
	free(buf);
	assert_no_open_ids();
}

/* The file an h5c_image describes, in one malloc'ed buffer. */
static void gather_image(const ct_h5c_image *im, void **buf, size_t *len)
{
	ct_err e = {0};
	assert_int_equal(ct_h5c_image_gather(im, buf, len, &e), 0);
	assert_int_equal(*len, im->len);
}

static void test_deterministic_and_reuse(void **state)
{
	(void)state;
	void *a, *b;
	size_t la, lb;
	small_image(&a, &la);
	sleep(1); /* a timestamp in the image would now differ */
	small_image(&b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);

	/* h5c_image: the same bytes in segments; a large dataset is referenced,
	 * not copied; the driver's buffer is kept across builds. */
	ct_h5c_image im;
	ct_h5c_image_init(&im);
	ct_h5c_field f[] = {
		{"/@format", CT_H5C_STR, 0, {0}, &g_format},
		{"/meta@step", CT_H5C_I64, 0, {0}, &g_step},
		{"/model/layers.0.weight", CT_H5C_F32, 2, {3, 4}, g_w},
	};
	ct_err e = {0};
	void *rb;
	size_t len;
	assert_ok(ct_h5c_image_build(&im, f, 3, &e), &e);
	gather_image(&im, &rb, &len);
	assert_int_equal(len, la);
	assert_memory_equal(rb, a, la);
	assert_int_equal(im.n_seg, 2); /* 48 bytes of weights are copied: image, trailer */
	free(rb);
	size_t n = 300000;
	float *big = calloc(n, sizeof *big);
	assert_non_null(big);
	big[n - 1] = 3.5f;
	ct_h5c_field g[] = {
		{"/model/big", CT_H5C_F32, 1, {(int64_t)n}, big},
		{"/model/small", CT_H5C_F32, 2, {3, 4}, g_w},
		{"/model/big2", CT_H5C_F32, 1, {CT_H5C_REF_MIN / 4}, big},
	};
	assert_ok(ct_h5c_image_build(&im, g, 3, &e), &e);
	int refs = 0;
	for (size_t i = 0; i < im.n_seg; i++)
		refs += im.seg[i].data == big;
	assert_int_equal(refs, 2); /* both large datasets point into big */
	gather_image(&im, &rb, &len);
	assert_true(len > n * 4 && im.len == len);
	assert_ok(ct_h5c_verify(rb, len, &e), &e);
	void *copy;
	size_t copy_len;
	assert_ok(ct_h5c_build(g, 3, &copy, &copy_len, &e), &e); /* the one-buffer form agrees */
	assert_int_equal(copy_len, len);
	assert_memory_equal(copy, rb, len);
	free(copy);
	ct_h5c_reader *r;
	assert_ok(ct_h5c_open_buffer(rb, len, "big.h5", &r, &e), &e);
	float *back = calloc(n, sizeof *back);
	assert_non_null(back);
	ct_h5c_field rg = {"/model/big", CT_H5C_F32, 1, {(int64_t)n}, back};
	assert_ok(ct_h5c_read(r, &rg, &e), &e);
	assert_memory_equal(back, big, n * sizeof *big);
	ct_h5c_close(r);
	free(back);
	free(rb);
	size_t cap_big = im.cap;
	assert_ok(ct_h5c_image_build(&im, f, 3, &e), &e);
	assert_int_equal(im.cap, cap_big); /* never shrinks */
	gather_image(&im, &rb, &len);
	assert_int_equal(len, la);
	assert_memory_equal(rb, a, la);
	free(rb);
	ct_h5c_image_release(&im);
	free(big);
	free(a);
	free(b);
	assert_no_open_ids();
}

/* ---- read errors ------------------------------------------------------------- */

static void test_read_mismatch_messages(void **state)
{
	(void)state;
	float w[50] = {0};
	uint64_t u = 7;
	const char *s = "text";
	ct_h5c_field f[] = {
		{"/model/layers.0.weight", CT_H5C_F32, 2, {10, 5}, w},
		{"/optim/count", CT_H5C_U64, 0, {0}, &u},
		{"/meta@name", CT_H5C_STR, 0, {0}, &s},
	};
	void *buf;
	size_t len;
	ct_err e = {0};
	assert_ok(ct_h5c_build(f, 3, &buf, &len, &e), &e);
	ct_h5c_reader *r;
	assert_ok(ct_h5c_open_buffer(buf, len, "ck.h5", &r, &e), &e);
	float out[64];
	out[0] = 99.0f;
	char *str = NULL;
	struct {
		ct_h5c_field f;
		int code;
		const char *msg;
	} cases[] = {
		{{"/model/layers.0.weight", CT_H5C_F32, 2, {10, 6}, out},
		 CT_ECORRUPT,
		 "ck.h5: /model/layers.0.weight has shape [10,5], expected [10,6]"},
		{{"/model/layers.0.weight", CT_H5C_F32, 1, {50}, out},
		 CT_ECORRUPT,
		 "ck.h5: /model/layers.0.weight has shape [10,5], expected [50]"},
		{{"/model/layers.0.weight", CT_H5C_F32, 0, {0}, out},
		 CT_ECORRUPT,
		 "ck.h5: /model/layers.0.weight has shape [10,5], expected []"},
		{{"/model/layers.0.weight", CT_H5C_F64, 2, {10, 5}, out},
		 CT_ECORRUPT,
		 "ck.h5: /model/layers.0.weight has type float32, expected float64"},
		{{"/optim/count", CT_H5C_I64, 0, {0}, out},
		 CT_ECORRUPT,
		 "ck.h5: /optim/count has type uint64, expected int64"},
		{{"/optim/count", CT_H5C_U8, 0, {0}, out},
		 CT_ECORRUPT,
		 "ck.h5: /optim/count has type uint64, expected uint8"},
		{{"/meta@name", CT_H5C_F32, 0, {0}, out},
		 CT_ECORRUPT,
		 "ck.h5: /meta@name has type string, expected float32"},
		{{"/optim/count", CT_H5C_STR, 0, {0}, &str},
		 CT_ECORRUPT,
		 "ck.h5: /optim/count has type uint64, expected string"},
		{{"/model/nope", CT_H5C_F32, 0, {0}, out},
		 CT_ENOTFOUND,
		 "ck.h5: /model/nope not found"},
		{{"/nogroup/x", CT_H5C_F32, 0, {0}, out},
		 CT_ENOTFOUND,
		 "ck.h5: /nogroup/x not found"},
		{{"/meta@nope", CT_H5C_F32, 0, {0}, out},
		 CT_ENOTFOUND,
		 "ck.h5: /meta@nope not found"},
		{{"/nogroup@k", CT_H5C_F32, 0, {0}, out},
		 CT_ENOTFOUND,
		 "ck.h5: /nogroup@k not found"},
		{{"/model", CT_H5C_F32, 0, {0}, out},
		 CT_ECORRUPT,
		 "ck.h5: /model is not a dataset"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		memset(&e, 0, sizeof e);
		assert_err(ct_h5c_read(r, &cases[i].f, &e), cases[i].code, &e, cases[i].msg);
	}
	assert_true(out[0] == 99.0f); /* nothing read on a mismatch */
	assert_null(str);
	int nd;
	int64_t shape[CT_H5C_MAX_DIMS];
	assert_err(ct_h5c_shape(r, "/model/x", &nd, shape, &e), CT_ENOTFOUND, &e,
		   "ck.h5: /model/x not found");
	char **names;
	size_t n;
	assert_err(ct_h5c_list(r, "/nope", &names, &n, &e), CT_ENOTFOUND, &e,
		   "ck.h5: /nope not found");
	assert_err(ct_h5c_list(r, "/optim/count", &names, &n, &e), CT_ECORRUPT, &e,
		   "ck.h5: /optim/count is not a group");
	ct_h5c_close(r);
	free(buf);
	assert_no_open_ids();
}

/* ---- damage detection ------------------------------------------------------------ */

static const char *g_magic_msg = "missing trailer magic (not a ctrain checkpoint or truncated)";
static const char *g_plain_msg =
	"missing trailer magic (not a ctrain checkpoint or truncated; it starts like a plain HDF5 file)";

static void test_truncation_detected(void **state)
{
	(void)state;
	void *buf;
	size_t len;
	small_image(&buf, &len);
	ct_err e = {0};
	char msg[2048];
	for (int k = 0; k < 16; k++) {
		size_t cut = len * (size_t)k / 16;
		memset(&e, 0, sizeof e);
		int rc = ct_h5c_verify(buf, cut, &e);
		if (k == 0)
			assert_err(rc, CT_ECORRUPT, &e,
				   "file is 0 bytes, too short for a checkpoint");
		else
			assert_err(rc, CT_ECORRUPT, &e, g_plain_msg);
		ct_h5c_reader *r = NULL;
		snprintf(msg, sizeof msg, "%s", joined("cut.h5", e.msg));
		assert_err(ct_h5c_open_buffer(buf, cut, "cut.h5", &r, &e), CT_ECORRUPT, &e, msg);
		assert_null(r);
		/* And from disk, streamed and mapped. */
		write_bytes(tmp_path("cut.h5"), buf, cut);
		snprintf(msg, sizeof msg, "%s",
			 joined(tmp_path("cut.h5"),
				k ? g_plain_msg : "file is 0 bytes, too short for a checkpoint"));
		assert_err(ct_h5c_verify_file(tmp_path("cut.h5"), &e), CT_ECORRUPT, &e, msg);
		assert_err(ct_h5c_open(tmp_path("cut.h5"), &r, &e), CT_ECORRUPT, &e, msg);
	}
	/* The trailer cut off exactly leaves a plain HDF5 file. */
	assert_err(ct_h5c_verify(buf, len - CT_H5C_TRAILER_SIZE, &e), CT_ECORRUPT, &e, g_plain_msg);
	assert_err(ct_h5c_verify(buf, len - 1, &e), CT_ECORRUPT, &e, g_plain_msg);
	free(buf);
	assert_no_open_ids();
}

static void test_bit_flips_detected(void **state)
{
	(void)state;
	void *buf;
	size_t len;
	small_image(&buf, &len);
	unsigned char *b = buf;
	size_t image_len = len - CT_H5C_TRAILER_SIZE;
	ct_err e = {0};
	write_bytes(tmp_path("flip.h5"), buf, len);
	FILE *fp = fopen(tmp_path("flip.h5"), "r+b");
	assert_non_null(fp);
	int in_image = 0, in_trailer = 0;
	for (size_t i = 0; i < 64; i++) {
		size_t pos = i * (len - 1) / 63;
		unsigned char bit = (unsigned char)(1u << (i % 8));
		b[pos] ^= bit;
		memset(&e, 0, sizeof e);
		int rc = ct_h5c_verify(buf, len, &e);
		assert_int_equal(rc, CT_ECORRUPT);
		if (pos < image_len) {
			in_image++;
			assert_err_has(rc, CT_ECORRUPT, &e, "checksum mismatch (stored 0x");
			assert_true(strncmp(e.msg, "checksum", 8) == 0);
		} else {
			in_trailer++;
			assert_err_has(rc, CT_ECORRUPT, &e,
				       pos < image_len + 8 ? "missing trailer magic"
							   : "trailer checksum mismatch");
		}
		ct_h5c_reader *r = NULL;
		assert_int_equal(ct_h5c_open_buffer(buf, len, "flip.h5", &r, &e), CT_ECORRUPT);
		assert_null(r);
		/* Same flip in the file: streamed verification and ct_h5c_open. */
		unsigned char byte = b[pos];
		assert_int_equal(fseek(fp, (long)pos, SEEK_SET), 0);
		assert_int_equal(fputc(byte, fp), byte);
		assert_int_equal(fflush(fp), 0);
		assert_int_equal(ct_h5c_verify_file(tmp_path("flip.h5"), &e), CT_ECORRUPT);
		assert_int_equal(ct_h5c_open(tmp_path("flip.h5"), &r, &e), CT_ECORRUPT);
		b[pos] ^= bit;
		assert_int_equal(fseek(fp, (long)pos, SEEK_SET), 0);
		assert_int_equal(fputc(b[pos], fp), b[pos]);
		assert_int_equal(fflush(fp), 0);
	}
	assert_int_equal(fclose(fp), 0);
	assert_true(in_image > 50 && in_trailer >= 1);
	assert_ok(ct_h5c_verify_file(tmp_path("flip.h5"), &e), &e);
	/* Every bit of the trailer. */
	for (size_t pos = image_len; pos < len; pos++)
		for (int bit = 0; bit < 8; bit++) {
			b[pos] ^= (unsigned char)(1u << bit);
			assert_int_equal(ct_h5c_verify(buf, len, &e), CT_ECORRUPT);
			b[pos] ^= (unsigned char)(1u << bit);
		}
	assert_ok(ct_h5c_verify(buf, len, &e), &e);
	free(buf);
	assert_no_open_ids();
}

static void test_foreign_files_rejected(void **state)
{
	(void)state;
	void *buf;
	size_t len;
	small_image(&buf, &len);
	ct_err e = {0};
	char msg[2048];

	unsigned char *zero = calloc(1, len);
	assert_non_null(zero);
	assert_err(ct_h5c_verify(zero, len, &e), CT_ECORRUPT, &e, g_magic_msg);
	assert_err(ct_h5c_verify(zero, 100, &e), CT_ECORRUPT, &e,
		   "file is 100 bytes, too short for a checkpoint");
	write_bytes(tmp_path("zero.h5"), zero, len);
	snprintf(msg, sizeof msg, "%s", joined(tmp_path("zero.h5"), g_magic_msg));
	ct_h5c_reader *r = NULL;
	assert_err(ct_h5c_open(tmp_path("zero.h5"), &r, &e), CT_ECORRUPT, &e, msg);
	assert_err(ct_h5c_verify_file(tmp_path("zero.h5"), &e), CT_ECORRUPT, &e, msg);

	/* A PNG: signature, IHDR chunk, then some data. */
	unsigned char png[400] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
				  0,    0,   0,   13,  'I',  'H',  'D',  'R'};
	for (size_t i = 16; i < sizeof png; i++)
		png[i] = (unsigned char)(i * 31);
	assert_err(ct_h5c_verify(png, sizeof png, &e), CT_ECORRUPT, &e, g_magic_msg);

	/* A safetensors file: u64 header length, JSON header, tensor bytes. */
	char st[512];
	const char *hdr = "{\"w\":{\"dtype\":\"F32\",\"shape\":[64],\"data_offsets\":[0,256]}}";
	uint64_t hl = strlen(hdr);
	memcpy(st, &hl, 8);
	memcpy(st + 8, hdr, hl);
	memset(st + 8 + hl, 0x3f, sizeof st - 8 - hl);
	write_bytes(tmp_path("model.safetensors"), st, 8 + hl + 256);
	snprintf(msg, sizeof msg, "%s", joined(tmp_path("model.safetensors"), g_magic_msg));
	assert_err(ct_h5c_open(tmp_path("model.safetensors"), &r, &e), CT_ECORRUPT, &e, msg);

	/* A plain HDF5 file written to disk by HDF5 itself. */
	hid_t fid = H5Fcreate(tmp_path("plain.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	assert_true(fid >= 0);
	hid_t sp = H5Screate(H5S_SCALAR);
	hid_t ds = H5Dcreate2(fid, "x", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	assert_true(sp >= 0 && ds >= 0);
	assert_true(H5Dclose(ds) >= 0 && H5Sclose(sp) >= 0 && H5Fclose(fid) >= 0);
	snprintf(msg, sizeof msg, "%s", joined(tmp_path("plain.h5"), g_plain_msg));
	assert_err(ct_h5c_open(tmp_path("plain.h5"), &r, &e), CT_ECORRUPT, &e, msg);
	assert_err(ct_h5c_verify_file(tmp_path("plain.h5"), &e), CT_ECORRUPT, &e, msg);

	/* The same written by h5py, when Python is there. */
	if (access("/usr/bin/python3", X_OK) == 0) {
		char cmd[1024];
		snprintf(
			cmd, sizeof cmd,
			"/usr/bin/python3 -c \"import h5py; h5py.File('%s','w')['x'] = [1, 2, 3]\"",
			tmp_path("py.h5"));
		assert_int_equal(system(cmd), 0);
		snprintf(msg, sizeof msg, "%s", joined(tmp_path("py.h5"), g_plain_msg));
		assert_err(ct_h5c_open(tmp_path("py.h5"), &r, &e), CT_ECORRUPT, &e, msg);
	}

	/* Not a file; no file. */
	snprintf(msg, sizeof msg, "%s: not a regular file", g_dir);
	assert_err(ct_h5c_open(g_dir, &r, &e), CT_ECORRUPT, &e, msg);
	assert_err(ct_h5c_verify_file(g_dir, &e), CT_ECORRUPT, &e, msg);
	assert_err_has(ct_h5c_open(tmp_path("missing.h5"), &r, &e), CT_ENOTFOUND, &e, "missing.h5");
	assert_err_has(ct_h5c_verify_file(tmp_path("missing.h5"), &e), CT_ENOTFOUND, &e,
		       "No such file");
	assert_null(r);
	free(zero);
	free(buf);
	assert_no_open_ids();
}

static void test_forged_trailers(void **state)
{
	(void)state;
	void *buf;
	size_t len;
	small_image(&buf, &len);
	size_t il = len - CT_H5C_TRAILER_SIZE;
	unsigned char *f = malloc(len + 300);
	assert_non_null(f);
	ct_err e = {0};
	char msg[2048];

	/* Bytes inserted between image and trailer. */
	memcpy(f, buf, il);
	memset(f + il, 0, 10);
	memcpy(f + il + 10, (char *)buf + il, CT_H5C_TRAILER_SIZE);
	snprintf(msg, sizeof msg, "length mismatch: trailer says %zu bytes of image, file has %zu",
		 il, il + 10);
	assert_err(ct_h5c_verify(f, len + 10, &e), CT_ECORRUPT, &e, msg);

	/* A newer trailer version, correctly checksummed. */
	memcpy(f, buf, il);
	put_trailer(f + il, f, il, 2);
	assert_err(ct_h5c_verify(f, len, &e), CT_EUNSUPPORTED, &e,
		   "trailer format version 2 is not supported (this build reads 1)");
	put_trailer(f + il, f, il, 1);
	assert_ok(ct_h5c_verify(f, len, &e), &e);
	assert_memory_equal(f + il, (char *)buf + il,
			    CT_H5C_TRAILER_SIZE); /* same layout as ours */

	/* A correct trailer over something that is not HDF5. */
	memset(f, 'x', 200);
	put_trailer(f + 200, f, 200, 1);
	assert_err(ct_h5c_verify(f, 200 + CT_H5C_TRAILER_SIZE, &e), CT_ECORRUPT, &e,
		   "image does not start with the HDF5 signature");

	/* A correct trailer over a damaged HDF5 image: the superblock is
	 * checked before HDF5 sees it, and nothing is left open. */
	memcpy(f, buf, il);
	f[8] ^= 0x5a; /* superblock version */
	put_trailer(f + il, f, il, 1);
	ct_h5c_reader *r = NULL;
	assert_err(ct_h5c_open_buffer(f, len, "bad.h5", &r, &e), CT_ECORRUPT, &e,
		   "bad.h5: HDF5 superblock version 90; ctrain writes 0");
	memcpy(f, buf, il);
	f[13] = 4; /* size of addresses */
	put_trailer(f + il, f, il, 1);
	assert_err(ct_h5c_open_buffer(f, len, "bad.h5", &r, &e), CT_ECORRUPT, &e,
		   "bad.h5: HDF5 superblock with 4-byte addresses and 8-byte lengths; ctrain "
		   "writes 8 and 8");
	memcpy(f, buf, il);
	f[40] ^= 0x5a; /* end-of-file address */
	put_trailer(f + il, f, il, 1);
	snprintf(msg, sizeof msg,
		 "bad.h5: HDF5 superblock gives base address 0 and end of file %zu for an image "
		 "of %zu bytes",
		 il ^ 0x5a, il);
	assert_err(ct_h5c_open_buffer(f, len, "bad.h5", &r, &e), CT_ECORRUPT, &e, msg);
	assert_null(r);
	free(f);
	free(buf);
	assert_no_open_ids();
}

/* HDF5 must print nothing itself, in any thread (its error printing is
 * per thread in a thread-safe build). */
static void *failing_reads(void *arg)
{
	(void)arg;
	void *buf;
	size_t len;
	small_image(&buf, &len);
	ct_h5c_reader *r;
	ct_err e = {0};
	if (ct_h5c_open_buffer(buf, len, "t.h5", &r, &e) == 0) {
		float x;
		ct_h5c_field f = {"/model/layers.0.weight/deeper", CT_H5C_F32, 0, {0}, &x};
		ct_h5c_read(r, &f, &e);
		ct_h5c_close(r);
	}
	unsigned char *b = buf;
	b[8] ^= 1;
	put_trailer(b + len - CT_H5C_TRAILER_SIZE, b, len - CT_H5C_TRAILER_SIZE, 1);
	ct_h5c_open_buffer(buf, len, "t.h5", &r, &e);
	free(buf);
	return NULL;
}

static void test_hdf5_prints_nothing(void **state)
{
	(void)state;
	fflush(stderr);
	int saved = dup(2);
	FILE *cap = fopen(tmp_path("stderr.txt"), "w+");
	assert_non_null(cap);
	assert_true(saved >= 0 && dup2(fileno(cap), 2) >= 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, failing_reads, NULL), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	failing_reads(NULL);
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	assert_int_equal(fseek(cap, 0, SEEK_END), 0);
	assert_int_equal(ftell(cap), 0);
	fclose(cap);
	assert_no_open_ids();
}

/* Concurrent builds and reads (a background writer and a reader). */
static void *build_loop(void *arg)
{
	int *ok = arg;
	void *ref;
	size_t rlen;
	small_image(&ref, &rlen);
	for (int i = 0; i < 20; i++) {
		void *b;
		size_t l;
		small_image(&b, &l);
		ct_h5c_reader *r;
		ct_err e = {0};
		float w[12];
		ct_h5c_field f = {"/model/layers.0.weight", CT_H5C_F32, 2, {3, 4}, w};
		if (l != rlen || memcmp(b, ref, l) || ct_h5c_open_buffer(b, l, "c", &r, &e) < 0)
			*ok = 0;
		else {
			if (ct_h5c_read(r, &f, &e) < 0 || memcmp(w, g_w, sizeof w))
				*ok = 0;
			ct_h5c_close(r);
		}
		free(b);
	}
	free(ref);
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	pthread_t t[2];
	int ok[2] = {1, 1};
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, build_loop, &ok[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_true(ok[0] && ok[1]);
	assert_no_open_ids();
}

/* ---- other readers ------------------------------------------------------------ */

static char *run_capture(const char *cmd, int *status)
{
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t cap = 1 << 16, n = 0;
	char *out = malloc(cap);
	assert_non_null(out);
	size_t got;
	while ((got = fread(out + n, 1, cap - 1 - n, p)) > 0)
		n += got;
	out[n] = '\0';
	*status = pclose(p);
	return out;
}

static void cross_check_file(void)
{
	void *buf;
	size_t len;
	small_image(&buf, &len);
	ct_err e = {0};
	assert_ok(ct_atomic_write_file(tmp_path("cross.h5"), buf, len, &e), &e);
	free(buf);
}

static void test_h5py_reads_image(void **state)
{
	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0) {
		print_message("no /usr/bin/python3: h5py cross-check not run\n");
		return;
	}
	cross_check_file();
	char script[512], cmd[1200];
	const char *src = __FILE__;
	const char *slash = strrchr(src, '/');
	snprintf(script, sizeof script, "%.*s/h5py_check.py", slash ? (int)(slash - src) : 1,
		 slash ? src : ".");
	if (access(script, R_OK) != 0)
		snprintf(script, sizeof script, "tests/unit/h5py_check.py");
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s 2>&1", script, tmp_path("cross.h5"));
	int status;
	char *out = run_capture(cmd, &status);
	void *buf;
	size_t len;
	small_image(&buf, &len);
	free(buf);
	char expected[1024];
	snprintf(expected, sizeof expected,
		 "trailer ok: version 1, %zu bytes of image\n"
		 "attr /@format fixed-length str 'ctrain-checkpoint'\n"
		 "attr /meta@step int64 42\n"
		 "dataset /model/layers.0.weight float32 [3, 4] [[-1.0, -0.5, 0.0, 0.5], "
		 "[1.0, 1.5, 2.0, 2.5], [3.0, 3.5, 4.0, 4.5]]\n",
		 len - CT_H5C_TRAILER_SIZE);
	assert_string_equal(out, expected);
	assert_int_equal(status, 0);
	free(out);
}

static void test_h5dump_reads_image(void **state)
{
	(void)state;
	if (access("/usr/bin/h5dump", X_OK) != 0) {
		print_message("no /usr/bin/h5dump: h5dump cross-check not run\n");
		return;
	}
	cross_check_file();
	char cmd[1024];
	int status;
	snprintf(cmd, sizeof cmd, "/usr/bin/h5dump -H %s 2>&1", tmp_path("cross.h5"));
	char *out = run_capture(cmd, &status);
	assert_int_equal(status, 0);
	assert_non_null(strstr(out, "ATTRIBUTE \"format\""));
	assert_non_null(strstr(out, "GROUP \"meta\""));
	assert_non_null(strstr(out, "DATASET \"layers.0.weight\""));
	assert_non_null(strstr(out, "DATASPACE  SIMPLE { ( 3, 4 ) / ( 3, 4 ) }"));
	free(out);
	snprintf(cmd, sizeof cmd, "/usr/bin/h5dump -d /model/layers.0.weight %s 2>&1",
		 tmp_path("cross.h5"));
	out = run_capture(cmd, &status);
	assert_int_equal(status, 0);
	assert_non_null(strstr(out, "(0,0): -1, -0.5, 0, 0.5,"));
	assert_non_null(strstr(out, "(2,0): 3, 3.5, 4, 4.5"));
	free(out);
}

/* ---- hostile files (issue 22): the allow-list ------------------------------------- */

/* path's bytes with a correct trailer appended, opened as name. */
static int open_forged(const char *path, const char *name, ct_h5c_reader **r, ct_err *e)
{
	char *raw;
	size_t len;
	assert_ok(ct_file_read_all(path, (size_t)1 << 30, &raw, &len, e), e);
	unsigned char *f = malloc(len + CT_H5C_TRAILER_SIZE);
	assert_non_null(f);
	memcpy(f, raw, len);
	put_trailer(f + len, f, len, 1);
	int rc = ct_h5c_open_buffer(f, len + CT_H5C_TRAILER_SIZE, name, r, e);
	free(raw);
	free(f);
	return rc;
}

static const char g_hostile_py[] =
	"import h5py, numpy as np, sys\n"
	"d = sys.argv[1]\n"
	"with h5py.File(d + '/objs.h5', 'w', track_order=False) as f:\n"
	"    f.attrs['format_version'] = np.int64(2)\n"
	"    f.attrs.create('vlen', 'hello', dtype=h5py.string_dtype())\n"
	"    f.attrs.create('fixed', np.bytes_(b'ok'))\n"
	"    g = f.create_group('model')\n"
	"    g['ok'] = np.arange(6, dtype='<f4').reshape(2, 3)\n"
	"    g['be'] = np.arange(3, dtype='>f4')\n"
	"    g['f64'] = np.arange(3, dtype='<f8')\n"
	"with h5py.File(d + '/chunked.h5', 'w') as f:\n"
	"    f.create_dataset('model/w', data=np.ones((64, 64), '<f4'), chunks=(8, 8),\n"
	"                     compression='gzip')\n"
	"with h5py.File(d + '/soft.h5', 'w') as f:\n"
	"    f['model/w'] = np.ones(3, '<f4')\n"
	"    f['model/s'] = h5py.SoftLink('/model/w')\n";

/* Files made by h5py with what ctrain never writes: refused before libhdf5
 * reads a value, by name; what is allowed still reads. */
static void test_hostile_objects(void **state)
{
	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0) {
		print_message("no /usr/bin/python3: hostile-object test not run\n");
		return;
	}
	char py[512], cmd[1200];
	snprintf(py, sizeof py, "%s", tmp_path("hostile.py"));
	FILE *fp = fopen(py, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(g_hostile_py, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s 2>&1", py, g_dir);
	int status;
	char *out = run_capture(cmd, &status);
	assert_int_equal(status, 0);
	free(out);

	ct_h5c_reader *r = NULL;
	ct_err e = {0};
	assert_err_has(open_forged(tmp_path("chunked.h5"), "chunked.h5", &r, &e), CT_ECORRUPT, &e,
		       "chunked.h5: HDF5 metadata rejected before parsing: /model/w: filter "
		       "pipeline (compression) at ");
	assert_err_has(open_forged(tmp_path("soft.h5"), "soft.h5", &r, &e), CT_ECORRUPT, &e,
		       "soft.h5: HDF5 metadata rejected before parsing: /model/s: a soft link; "
		       "only hard links are followed");
	assert_null(r);

	assert_ok(open_forged(tmp_path("objs.h5"), "objs.h5", &r, &e), &e);
	char *str = NULL;
	float w[6];
	ct_h5c_field ok = {"/model/ok", CT_H5C_F32, 2, {2, 3}, w};
	assert_ok(ct_h5c_read(r, &ok, &e), &e);
	assert_true(w[0] == 0.0f && w[5] == 5.0f);
	ct_h5c_field fixed = {"/@fixed", CT_H5C_STR, 0, {0}, &str};
	assert_ok(ct_h5c_read(r, &fixed, &e), &e);
	assert_string_equal(str, "ok");
	free(str);
	str = NULL;
	ct_h5c_field vlen = {"/@vlen", CT_H5C_STR, 0, {0}, &str};
	assert_err(ct_h5c_read(r, &vlen, &e), CT_ECORRUPT, &e,
		   "objs.h5: /@vlen is a variable-length string, which only the attributes of "
		   "format_version 1 checkpoints may be");
	assert_null(str);
	ct_h5c_field be = {"/model/be", CT_H5C_F32, 1, {3}, w};
	assert_err(ct_h5c_read(r, &be, &e), CT_ECORRUPT, &e,
		   "objs.h5: /model/be has type float32 of an unusual layout (byte order, "
		   "precision, padding or character set), expected float32");
	ct_h5c_field f64 = {"/model/f64", CT_H5C_F32, 1, {3}, w};
	assert_err(ct_h5c_read(r, &f64, &e), CT_ECORRUPT, &e,
		   "objs.h5: /model/f64 has type float64, expected float32");
	ct_h5c_close(r);
	assert_no_open_ids();
}

/* The v1 fixture's strings are variable-length: read (by h5c's own parser)
 * while its format_version is 1, refused once the same bytes claim 2. */
static void test_vlen_only_in_v1(void **state)
{
	(void)state;
	char *raw;
	size_t len;
	ct_err e = {0};
	assert_ok(ct_file_read_all("tests/fixtures/ckpt_v1/run/checkpoints/ckpt-0000000009.h5",
				   (size_t)1 << 30, &raw, &len, &e),
		  &e);
	ct_h5c_reader *r;
	char *s = NULL;
	ct_h5c_field core = {"/meta@blas_core", CT_H5C_STR, 0, {0}, &s};
	assert_ok(ct_h5c_open_buffer(raw, len, "v1.h5", &r, &e), &e);
	assert_ok(ct_h5c_read(r, &core, &e), &e);
	assert_string_equal(s, "Prescott");
	free(s);
	s = NULL;
	ct_h5c_close(r);
	/* format_version's value: after the 8-byte message head, the name,
	 * datatype and dataspace, each padded to 8 (attribute message v1) */
	size_t il = len - CT_H5C_TRAILER_SIZE;
	unsigned char *p = (unsigned char *)raw;
	unsigned char *name = memmem(p, il, "format_version", 15);
	assert_non_null(name);
	unsigned char *m = name - 8;
	size_t nt = (size_t)(m[4] | m[5] << 8), ns = (size_t)(m[6] | m[7] << 8);
	unsigned char *val = name + 16 + ((nt + 7) & ~(size_t)7) + ((ns + 7) & ~(size_t)7);
	assert_int_equal(val[0], 1);
	val[0] = 2;
	put_trailer(p + il, p, il, 1);
	assert_ok(ct_h5c_open_buffer(raw, len, "v2.h5", &r, &e), &e);
	assert_err(ct_h5c_read(r, &core, &e), CT_ECORRUPT, &e,
		   "v2.h5: /meta@blas_core is a variable-length string, which only the "
		   "attributes of format_version 1 checkpoints may be");
	assert_null(s);
	ct_h5c_close(r);
	free(raw);
	assert_no_open_ids();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_vectors),
		cmocka_unit_test(test_crc32c_paths_agree),
		cmocka_unit_test(test_round_trip_all_types),
		cmocka_unit_test(test_deterministic_and_reuse),
		cmocka_unit_test(test_read_mismatch_messages),
		cmocka_unit_test(test_truncation_detected),
		cmocka_unit_test(test_bit_flips_detected),
		cmocka_unit_test(test_foreign_files_rejected),
		cmocka_unit_test(test_forged_trailers),
		cmocka_unit_test(test_hdf5_prints_nothing),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_h5py_reads_image),
		cmocka_unit_test(test_h5dump_reads_image),
		cmocka_unit_test(test_hostile_objects),
		cmocka_unit_test(test_vlen_only_in_v1),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
