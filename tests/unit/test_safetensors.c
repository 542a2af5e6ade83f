/* Tests of ckpt/safetensors: round trips of every dtype, exact bytes against
 * hand-written files (two of them the reference implementation's own test
 * vectors), one malformed file per rule of the reader with its message,
 * every truncation, seeded random mutations, file errors, the f16/bf16
 * converters against an exact reference, and a cross-check with PyTorch
 * (tests/unit/st_torch_check.py).
 *
 * With ST_CORPUS_DIR=dir in the environment, main() first writes the valid
 * and malformed files used here into dir (the fuzzer's seed corpus). */
#include <errno.h>
#include <math.h>
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

#include "../../formats/safetensors.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) /* xorshift64*: fixed seed, reproducible failures */
{
	g_rng ^= g_rng >> 12;
	g_rng ^= g_rng << 25;
	g_rng ^= g_rng >> 27;
	return g_rng * 2685821657736338717ull;
}

/* le64(len) + header bytes + data_len bytes (0,1,2,...). */
static unsigned char *mkfile(const char *hdr, size_t hlen, size_t data_len, size_t *len)
{
	*len = 8 + hlen + data_len;
	unsigned char *b = malloc(*len);
	assert_non_null(b);
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
	memcpy(b + 8, hdr, hlen);
	for (size_t i = 0; i < data_len; i++)
		b[8 + hlen + i] = (unsigned char)i;
	return b;
}
static void expect_rejected(const void *buf, size_t len, const char *want)
{
	for (int copy = 0; copy <= 1; copy++) {
		ct_tdict d;
		ct_err e = {0};
		int rc = ct_st_parse(buf, len, &d, copy, &e);
		if (rc != CT_ECORRUPT || !strstr(e.msg, want))
			fail_msg("rc %d msg '%s', want CT_ECORRUPT and '%s'", rc, e.msg, want);
		assert_int_equal(e.code, CT_ECORRUPT);
		testutil_assert_printable(e.msg);
		assert_int_equal(d.n, 0);
		assert_int_equal(d.n_meta, 0);
		assert_null(d.v);
	}
}

/* Shape of a scalar: ct_tdict_add memcpy's 0 bytes from it, so it must not be NULL. */
static const int64_t g_no_dims[1] = {0};

static void add(ct_tdict *d, const char *name, ct_dtype dt, int ndim, const int64_t *shape,
		const void *data)
{
	ct_err e = {0};
	assert_int_equal(ct_tdict_add(d, name, dt, ndim, shape, data, 1, &e), 0);
}

static void meta(ct_tdict *d, const char *k, const char *v)
{
	ct_err e = {0};
	assert_int_equal(ct_tdict_set_meta(d, k, v, &e), 0);
}

/* Tensors of every dtype the reader supports, a scalar and an empty one. */
static void build_all_dtypes(ct_tdict *d)
{
	float w[6] = {1.0f, -2.5f, 0.1f, 3.0e38f, -1e-40f, 0.0f};
	uint16_t h[3] = {ct_f32_to_f16(1.0f), ct_f32_to_f16(-2.5f), ct_f32_to_f16(65504.0f)};
	uint16_t bh[4] = {ct_f32_to_bf16(1.0f), ct_f32_to_bf16(-2.5f), ct_f32_to_bf16(0.1f),
			  0x7fc0};
	double dv[2] = {0.1, -1e300};
	int64_t iv[3] = {-1, 0, ((int64_t)1 << 40) + 7};
	float sc = 42.5f;
	uint8_t u8[3] = {0, 1, 255};
	ct_tdict_init(d);
	meta(d, "format", "pt");
	meta(d, "layers", "4,3");
	add(d, "layers.0.weight", CT_DT_F32, 2, (int64_t[]){2, 3}, w);
	add(d, "half", CT_DT_F16, 1, (int64_t[]){3}, h);
	add(d, "bhalf", CT_DT_BF16, 2, (int64_t[]){2, 2}, bh);
	add(d, "dbl", CT_DT_F64, 1, (int64_t[]){2}, dv);
	add(d, "idx", CT_DT_I64, 1, (int64_t[]){3}, iv);
	add(d, "scalar", CT_DT_F32, 0, g_no_dims, &sc);
	add(d, "empty", CT_DT_F32, 2, (int64_t[]){0, 4}, NULL);
	add(d, "mask", CT_DT_U8, 1, (int64_t[]){3}, u8);
	add(d, "after_mask", CT_DT_F32, 1, (int64_t[]){2}, w); /* unaligned in the file */
}

static void assert_entry_equal(const ct_tdict_entry *a, const ct_tdict_entry *b)
{
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->dtype, b->dtype);
	assert_int_equal(a->ndim, b->ndim);
	for (int k = 0; k < a->ndim; k++)
		assert_int_equal(a->shape[k], b->shape[k]);
	assert_int_equal(a->nbytes, b->nbytes);
	if (a->nbytes)
		assert_memory_equal(a->data, b->data, a->nbytes);
}

static void assert_tdict_equal(const ct_tdict *a, const ct_tdict *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		assert_entry_equal(&a->v[i], &b->v[i]);
	assert_int_equal(a->n_meta, b->n_meta);
	for (size_t i = 0; i < a->n_meta; i++) {
		assert_string_equal(a->meta_keys[i], b->meta_keys[i]);
		assert_string_equal(a->meta_vals[i], b->meta_vals[i]);
	}
}

static void serialize_ok(const ct_tdict *d, unsigned char **buf, size_t *len)
{
	ct_err e = {0};
	void *b = NULL;
	if (ct_st_serialize(d, &b, len, &e) != 0)
		fail_msg("st_serialize: %s", e.msg);
	*buf = b;
}

/* ---- round trips and exact bytes ----------------------------------------- */

static void test_roundtrip_all_dtypes(void **state)
{
	(void)state;
	ct_tdict d, p0, p1;
	unsigned char *buf, *buf2;
	size_t len, len2;
	ct_err e = {0};
	build_all_dtypes(&d);
	serialize_ok(&d, &buf, &len);
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | buf[i];
	assert_int_equal((8 + n) % 8, 0);
	assert_int_equal(buf[8], '{');
	assert_memory_equal(buf + 9, "\"__metadata__\":{\"format\":\"pt\",\"layers\":\"4,3\"}", 45);
	assert_int_equal(ct_st_parse(buf, len, &p0, 0, &e), 0);
	assert_int_equal(ct_st_parse(buf, len, &p1, 1, &e), 0);
	assert_tdict_equal(&d, &p0);
	assert_tdict_equal(&d, &p1);
	/* copy=0 borrows from buf, copy=1 owns its data */
	assert_ptr_equal(p0.v[0].data, buf + 8 + n);
	assert_int_equal(p0.v[0].owned, 0);
	assert_int_equal(p1.v[0].owned, 1);
	/* the F32 after the 3-byte U8 is unaligned; reading it must not trap UBSan */
	const ct_tdict_entry *am = ct_tdict_find(&p0, "after_mask");
	assert_non_null(am);
	float back[2];
	assert_int_equal(ct_tdict_entry_to_f32(am, back, &e), 0);
	assert_true(back[0] == 1.0f && back[1] == -2.5f);
	/* deterministic: same tdict, same bytes; the parse serialises back identically */
	serialize_ok(&p1, &buf2, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	free(buf2);
	ct_tdict_release(&p0);
	ct_tdict_release(&p1);
	ct_tdict_release(&d);
	free(buf);
}

static void assert_serializes_to(const ct_tdict *d, const unsigned char *want, size_t want_len)
{
	unsigned char *buf;
	size_t len;
	serialize_ok(d, &buf, &len);
	assert_int_equal(len, want_len);
	assert_memory_equal(buf, want, want_len);
	ct_tdict p;
	ct_err e = {0};
	assert_int_equal(ct_st_parse(buf, len, &p, 0, &e), 0);
	assert_tdict_equal(d, &p);
	ct_tdict_release(&p);
	free(buf);
}

static void test_exact_bytes(void **state)
{
	(void)state;
	/* ours: metadata first, then the tensor; 85 header bytes + 3 spaces = 88 */
	static const unsigned char tiny[] =
		"\x58\0\0\0\0\0\0\0"
		"{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2],"
		"\"data_offsets\":[0,8]}}   "
		"\x00\x00\x80\x3f\x00\x00\x00\xc0";
	ct_tdict d;
	ct_tdict_init(&d);
	meta(&d, "format", "pt");
	add(&d, "w", CT_DT_F32, 1, (int64_t[]){2}, (float[]){1.0f, -2.0f});
	assert_serializes_to(&d, tiny, sizeof tiny - 1);
	ct_tdict_release(&d);

	/* the reference implementation's test vectors (safetensors tensor.rs:
	 * test_empty and test_serialization_forced_alignement) */
	static const unsigned char empty[] = {8,   0,   0,  0,  0,  0,  0,  0,
					      '{', '}', 32, 32, 32, 32, 32, 32};
	ct_tdict_init(&d);
	assert_serializes_to(&d, empty, sizeof empty);
	static const unsigned char meta_only[] =
		"\x28\0\0\0\0\0\0\0{\"__metadata__\":{\"framework\":\"pt\"}}     ";
	meta(&d, "framework", "pt");
	assert_serializes_to(&d, meta_only, sizeof meta_only - 1);
	ct_tdict_release(&d);
	static const unsigned char attn0[] = {
		72,  0,   0,   0,   0,   0,   0,   0,   123, 34, 97, 116, 116, 110, 48,
		34,  58,  123, 34,  100, 116, 121, 112, 101, 34, 58, 34,  70,  51,  50,
		34,  44,  34,  115, 104, 97,  112, 101, 34,  58, 91, 49,  44,  49,  44,
		50,  44,  51,  93,  44,  34,  100, 97,  116, 97, 95, 111, 102, 102, 115,
		101, 116, 115, 34,  58,  91,  48,  44,  50,  52, 93, 125, 125, 32,  32,
		32,  32,  32,  32,  32,  0,   0,   0,   0,   0,  0,  128, 63,  0,   0,
		0,   64,  0,   0,   64,  64,  0,   0,   128, 64, 0,  0,   160, 64};
	ct_tdict_init(&d);
	add(&d, "attn0", CT_DT_F32, 4, (int64_t[]){1, 1, 2, 3}, (float[]){0, 1, 2, 3, 4, 5});
	assert_serializes_to(&d, attn0, sizeof attn0);
	ct_tdict_release(&d);
}

static void test_out_of_order_cover_accepted(void **state)
{
	(void)state;
	const char *h = "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
			"\"z1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,16]},"
			"\"__metadata__\":{\"k\":\"v\"},"
			"\"z0\":{\"dtype\":\"I64\",\"shape\":[3,0],\"data_offsets\":[0,0]},"
			"\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  ";
	size_t len;
	unsigned char *buf = mkfile(h, strlen(h), 16, &len);
	ct_tdict d;
	ct_err e = {0};
	assert_int_equal(ct_st_parse(buf, len, &d, 0, &e), 0);
	assert_int_equal(d.n, 4);
	const char *order[4] = {"b", "z1", "z0", "a"}; /* header order kept */
	for (int i = 0; i < 4; i++)
		assert_string_equal(d.v[i].name, order[i]);
	assert_ptr_equal(d.v[0].data, buf + 8 + strlen(h) + 8);
	assert_ptr_equal(d.v[3].data, buf + 8 + strlen(h));
	assert_int_equal(d.v[2].nbytes, 0);
	assert_int_equal(d.n_meta, 1);
	assert_string_equal(ct_tdict_get_meta(&d, "k"), "v");
	ct_tdict_release(&d);
	free(buf);
}

/* ---- the malformed corpus: one case per rule ------------------------------ */

#define T(name, dt, shape, offs) \
	"\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" offs "}"
#define W8 T("w", "F32", "[2]", "[0,8]")

typedef struct bad_case {
	const char *id;
	const char *hdr;
	size_t data_len;
	const char *want;
} bad_case;

static const bad_case g_bad[] = {
	{"not_brace", " {}", 0, "header does not start with '{'"},
	{"array", "[]", 0, "header does not start with '{'"},
	{"utf8_ff", "{\"w\xff\":1}", 0, "header is not valid UTF-8 (byte 3)"},
	{"utf8_overlong", "{\"\xc0\xaf\":1}", 0, "header is not valid UTF-8"},
	{"utf8_surrogate", "{\"\xed\xa0\x80\":1}", 0, "header is not valid UTF-8"},
	{"utf8_cut", "{\"\xe2\x82", 0, "header is not valid UTF-8"},
	{"utf8_above", "{\"\xf4\x90\x80\x80\":1}", 0, "header is not valid UTF-8"},
	{"json_syntax", "{\"w\":}", 0, "header is not valid JSON"},
	{"json_open", "{\"w\":{", 0, "header is not valid JSON"},
	{"json_nul_escape", "{\"a\\u0000b\":1}", 0, "header is not valid JSON"},
	{"json_ctrl", "{\"a\nb\":1}", 0, "header is not valid JSON"},
	{"json_ctrl_esc", "{\"a\x1b[2J\":1}", 0, "header is not valid JSON"},
	{"pad_newline", "{}\n", 0, "header padding byte 2 is 0x0a, not a space"},
	{"pad_garbage", "{}  }", 0, "header padding byte 4 is 0x7d"},
	{"dup_tensor", "{" W8 "," W8 "}", 8, "duplicate key 'w'"},
	{"dup_meta", "{\"__metadata__\":{},\"__metadata__\":{}}", 0,
	 "duplicate key '__metadata__'"},
	{"dup_meta_key", "{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "duplicate key 'k'"},
	{"dup_field", "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\"}}", 0, "duplicate key 'dtype'"},
	{"meta_not_object", "{\"__metadata__\":[\"a\"]}", 0, "__metadata__ is not an object"},
	{"meta_value_int", "{\"__metadata__\":{\"k\":1}}", 0,
	 "__metadata__ value for 'k' is not a string"},
	{"meta_value_null", "{\"__metadata__\":{\"a\":\"x\",\"k\":null}}", 0,
	 "__metadata__ value for 'k' is not a string"},
	{"entry_not_object", "{\"w\":[1]}", 0, "tensor 'w': entry is not an object"},
	{"unknown_field",
	 "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", 8,
	 "tensor 'w': unknown field 'extra'"},
	{"missing_shape", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8,
	 "tensor 'w': missing field 'shape'"},
	{"missing_dtype", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
	 "tensor 'w': missing field 'dtype'"},
	{"missing_offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8,
	 "tensor 'w': missing field 'data_offsets'"},
	{"dtype_not_string",
	 "{" T("w", "F32", "[2]", "[0,8]") ",\"v\":{\"dtype\":4,\"shape\":[],"
					   "\"data_offsets\":[8,12]}}",
	 12, "tensor 'v': dtype is not a string"},
	{"dtype_unknown", "{" T("w", "F7", "[3,2]", "[0,24]") "}", 24,
	 "tensor 'w': unknown dtype 'F7'"},
	{"dtype_lowercase", "{" T("w", "f32", "[2]", "[0,8]") "}", 8, "unknown dtype 'f32'"},
	{"shape_not_array", "{" T("w", "F32", "2", "[0,8]") "}", 8,
	 "tensor 'w': shape is not an array"},
	{"shape_negative", "{" T("w", "F32", "[3,-2]", "[0,24]") "}", 24,
	 "tensor 'w': shape[1] is not a non-negative integer"},
	{"shape_real", "{" T("w", "F32", "[2.0]", "[0,8]") "}", 8,
	 "tensor 'w': shape[0] is not a non-negative integer"},
	{"shape_exp", "{" T("w", "F32", "[1e0]", "[0,4]") "}", 4, "shape[0] is not a non-negative"},
	{"shape_string", "{" T("w", "F32", "[\"2\"]", "[0,8]") "}", 8,
	 "shape[0] is not a non-negative"},
	{"shape_null", "{" T("w", "F32", "[null]", "[0,0]") "}", 0,
	 "shape[0] is not a non-negative"},
	{"shape_overflow_json", "{" T("w", "F32", "[18446744073709551616]", "[0,8]") "}", 8,
	 "integer that overflows 64 bits"},
	{"rank_9", "{" T("w", "U8", "[1,1,1,1,1,1,1,1,1]", "[0,1]") "}", 1,
	 "tensor 'w': rank 9 exceeds the maximum of 8"},
	{"numel_overflow", "{" T("w", "U8", "[4294967296,4294967296]", "[0,0]") "}", 0,
	 "tensor 'w': byte size of the shape overflows 64 bits"},
	{"bytes_overflow", "{" T("w", "F32", "[4611686018427387904]", "[0,0]") "}", 0,
	 "byte size of the shape overflows 64 bits"},
	{"offsets_not_array", "{" T("w", "F32", "[2]", "8") "}", 8,
	 "tensor 'w': data_offsets is not an array of 2 integers"},
	{"offsets_three", "{" T("w", "F32", "[2]", "[0,8,8]") "}", 8,
	 "data_offsets is not an array of 2"},
	{"offsets_one", "{" T("w", "F32", "[2]", "[8]") "}", 8,
	 "data_offsets is not an array of 2"},
	{"offsets_negative", "{" T("w", "F32", "[2]", "[-8,0]") "}", 8,
	 "tensor 'w': data_offsets[0] is not a non-negative integer"},
	{"offsets_real", "{" T("w", "F32", "[2]", "[0,8.0]") "}", 8,
	 "tensor 'w': data_offsets[1] is not a non-negative integer"},
	{"offsets_overflow_json", "{" T("w", "F32", "[2]", "[0,99999999999999999999]") "}", 8,
	 "integer that overflows 64 bits"},
	{"offsets_reversed", "{" T("w", "F32", "[0]", "[8,4]") "}", 8,
	 "tensor 'w': data_offsets [8,4] has begin > end"},
	{"size_mismatch", "{" T("w", "F32", "[3,2]", "[0,12]") "}", 12,
	 "tensor 'w': data_offsets [0,12] size 12 != 3x2x4 = 24"},
	{"size_mismatch_scalar", "{" T("w", "F64", "[]", "[0,4]") "}", 4, "size 4 != 8 = 8"},
	{"end_beyond_data", "{" T("w", "F32", "[4]", "[0,16]") "}", 12,
	 "tensor 'w': data_offsets end 16 exceeds the data section size 12"},
	{"hole_middle", "{" T("a", "F32", "[10]", "[0,40]") "," T("b", "F32", "[2]", "[44,52]") "}",
	 52, "data section has a hole at byte 40 (before tensor 'b')"},
	{"hole_start", "{" T("a", "F32", "[2]", "[8,16]") "}", 16,
	 "data section has a hole at byte 0"},
	{"overlap", "{" T("a", "F32", "[4]", "[0,16]") "," T("b", "F32", "[2]", "[8,16]") "}", 16,
	 "tensors overlap at byte 8"},
	{"overlap_same", "{" T("a", "F32", "[2]", "[0,8]") "," T("b", "F32", "[2]", "[0,8]") "}", 8,
	 "tensors overlap at byte 0"},
	{"overlap_empty_inside",
	 "{" T("a", "F32", "[4]", "[0,16]") "," T("b", "F32", "[0]", "[8,8]") "}", 16,
	 "tensors overlap at byte 8"},
	{"trailing", "{" W8 "}", 20, "12 trailing bytes after the last tensor"},
	{"trailing_no_tensor", "{\"__metadata__\":{}}", 3,
	 "3 trailing bytes after the last tensor"},
	{"hostile_name", "{\"\\u001b[2J\":{\"dtype\":\"X\",\"shape\":[],\"data_offsets\":[0,0]}}",
	 0, "tensor '?[2J': unknown dtype 'X'"},
};

/* Deeper than jansson's nesting limit: must be a JSON error, not a crash. */
static char *deep_header(void)
{
	size_t depth = 5000;
	char *h = malloc(2 * depth + 16);
	assert_non_null(h);
	strcpy(h, "{\"a\":");
	size_t n = strlen(h);
	memset(h + n, '[', depth);
	memset(h + n + depth, ']', depth);
	strcpy(h + n + 2 * depth, "}");
	return h;
}

static void test_malformed_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof g_bad / sizeof g_bad[0]; i++) {
		size_t len;
		unsigned char *b =
			mkfile(g_bad[i].hdr, strlen(g_bad[i].hdr), g_bad[i].data_len, &len);
		print_message("  %s\n", g_bad[i].id);
		expect_rejected(b, len, g_bad[i].want);
		free(b);
	}
	char *h = deep_header();
	size_t len;
	unsigned char *b = mkfile(h, strlen(h), 0, &len);
	expect_rejected(b, len, "header is not valid JSON: maximum parsing depth reached");
	free(b);
	free(h);
}

/* Header-length field cases, built byte by byte. */
static void test_header_length_rules(void **state)
{
	(void)state;
	unsigned char b[16] = {0};
	expect_rejected(b, 0, "file is 0 bytes, shorter than the 8-byte header length field");
	expect_rejected(b, 7, "file is 7 bytes, shorter");
	expect_rejected(b, 16, "header length 0");
	b[0] = 1;
	b[8] = '{';
	expect_rejected(b, 16, "header length 1 is below the minimum of 2");
	b[0] = 9;
	expect_rejected(b, 16, "header length 9 exceeds file size 16");
	uint64_t n = 123456789;
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(n >> (8 * i));
	expect_rejected(b, 16, "header length 123456789 exceeds file size 16");
	memset(b, 0xff, 8); /* 2^64-1: must not wrap around in 8 + n */
	expect_rejected(b, 16, "header length 18446744073709551615 exceeds file size 16");
	/* over the 100 MB limit but inside the file: only the first bytes are read */
	size_t big = CT_ST_MAX_HEADER + 16;
	unsigned char *p = calloc(1, big);
	assert_non_null(p);
	n = CT_ST_MAX_HEADER + 1;
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(n >> (8 * i));
	expect_rejected(p, big, "header length 100000001 exceeds the limit of 100000000 bytes");
	free(p);
}

/* ---- truncations and mutations --------------------------------------------- */

static void test_truncations(void **state)
{
	(void)state;
	ct_tdict d;
	unsigned char *buf;
	size_t len;
	build_all_dtypes(&d);
	serialize_ok(&d, &buf, &len);
	ct_tdict_release(&d);
	for (size_t l = 0; l < len; l++) {
		/* exact-size copy so ASan sees any read past the end */
		unsigned char *c = malloc(l ? l : 1);
		assert_non_null(c);
		memcpy(c, buf, l);
		for (int copy = 0; copy <= 1; copy++) {
			ct_err e = {0};
			int rc = ct_st_parse(c, l, &d, copy, &e);
			if (rc != CT_ECORRUPT)
				fail_msg("truncation to %zu bytes: rc %d (%s)", l, rc, e.msg);
			assert_true(strlen(e.msg) > 0);
			assert_int_equal(d.n, 0);
		}
		free(c);
	}
	free(buf);
}

static unsigned char *mutate(const unsigned char *src, size_t len, size_t *out_len)
{
	static const char interesting[] = "{}[]\",:-.0123456789eE \\u\xff\x80";
	unsigned char *b = malloc(len + 64);
	assert_non_null(b);
	memcpy(b, src, len);
	size_t n = len;
	int k = 1 + (int)(rnd() % 3);
	for (int j = 0; j < k; j++) {
		size_t pos = n ? rnd() % n : 0;
		switch (rnd() % 5) {
		case 0: b[pos] ^= (unsigned char)(1u << (rnd() % 8)); break;
		case 1: b[pos] = (unsigned char)rnd(); break;
		case 2:
			b[pos] = (unsigned char)interesting[rnd() % (sizeof interesting - 1)];
			break;
		case 3: /* insert up to 8 bytes */
			if (n + 8 <= len + 64) {
				size_t m = 1 + rnd() % 8;
				memmove(b + pos + m, b + pos, n - pos);
				for (size_t q = 0; q < m; q++)
					b[pos + q] = (unsigned char)
						interesting[rnd() % (sizeof interesting - 1)];
				n += m;
			}
			break;
		default: /* delete up to 8 bytes */
			if (n > 8) {
				size_t m = 1 + rnd() % 8;
				if (m > n - pos)
					m = n - pos;
				memmove(b + pos, b + pos + m, n - pos - m);
				n -= m;
			}
		}
	}
	*out_len = n;
	return b;
}

/* Mutating inside the header usually breaks the length field first; half of
 * the time, fix the field up so that the JSON rules themselves are reached. */
static void fix_length(unsigned char *b, size_t len, size_t orig_len, size_t orig_n)
{
	if (len < 8 || len + orig_n < orig_len)
		return;
	uint64_t n = orig_n + len - orig_len; /* data section unchanged in size */
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(n >> (8 * i));
}

/* An accepted mutant must be self-consistent and survive a round trip. */
static void check_accepted(const unsigned char *b, size_t len, ct_tdict *d, int copy)
{
	for (size_t i = 0; i < d->n; i++) {
		const unsigned char *p = d->v[i].data;
		assert_int_equal(d->v[i].owned, copy);
		assert_true(copy || (p >= b && p + d->v[i].nbytes <= b + len));
		int64_t numel = ct_shape_numel(d->v[i].ndim, d->v[i].shape);
		assert_int_equal((uint64_t)numel * ct_dtype_size(d->v[i].dtype), d->v[i].nbytes);
	}
	unsigned char *s;
	size_t sl;
	ct_tdict r;
	ct_err e = {0};
	serialize_ok(d, &s, &sl);
	assert_int_equal(ct_st_parse(s, sl, &r, 0, &e), 0);
	assert_tdict_equal(d, &r);
	ct_tdict_release(&r);
	free(s);
}

static void test_random_mutations(void **state)
{
	(void)state;
	ct_tdict d;
	unsigned char *buf;
	size_t len, nh = 0;
	build_all_dtypes(&d);
	serialize_ok(&d, &buf, &len);
	ct_tdict_release(&d);
	for (int i = 7; i >= 0; i--)
		nh = nh << 8 | buf[i];
	g_rng = 20240611;
	int accepted = 0, rejected = 0;
	for (int it = 0; it < 2000; it++) {
		size_t ml;
		unsigned char *m = mutate(buf, len, &ml);
		if (it % 2)
			fix_length(m, ml, len, nh);
		unsigned char *c = malloc(ml ? ml : 1); /* exact size for ASan */
		assert_non_null(c);
		memcpy(c, m, ml);
		free(m);
		ct_err e = {0};
		int copy = it % 3 == 0;
		int rc = ct_st_parse(c, ml, &d, copy, &e);
		if (rc == 0) {
			accepted++;
			check_accepted(c, ml, &d, copy);
			ct_tdict_release(&d);
		} else {
			rejected++;
			if (rc != CT_ECORRUPT)
				fail_msg("mutant %d: rc %d (%s)", it, rc, e.msg);
			testutil_assert_printable(e.msg);
			assert_int_equal(d.n, 0);
		}
		free(c);
	}
	print_message("  mutations: %d accepted, %d rejected\n", accepted, rejected);
	assert_true(accepted > 50 && rejected > 500);
	free(buf);
}

/* ---- files ----------------------------------------------------------------- */

TESTUTIL_TMPDIR(g_dir, "st", setup_dir, teardown_dir)

static void write_raw(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void expect_read_error(const char *path, int code, const char *want)
{
	ct_tdict d;
	ct_err e = {0};
	int rc = ct_st_read(path, &d, &e);
	if (rc != code || !strstr(e.msg, want) || strncmp(e.msg, path, strlen(path)) != 0)
		fail_msg("st_read(%s): rc %d msg '%s', want %d '%s'", path, rc, e.msg, code, want);
	assert_int_equal(d.n, 0);
	assert_null(d.backing);
}

static void test_read_write_files(void **state)
{
	(void)state;
	char p[256], q[256];
	ct_tdict d, r;
	ct_err e = {0};
	snprintf(p, sizeof p, "%s", testutil_path(g_dir, "missing.safetensors"));
	expect_read_error(p, CT_ENOTFOUND, "cannot open: No such file or directory");
	expect_read_error(g_dir, CT_EIO, "is a directory");
	snprintf(p, sizeof p, "%s", testutil_path(g_dir, "empty.safetensors"));
	write_raw(p, "", 0);
	expect_read_error(p, CT_ECORRUPT, "empty file (0 bytes)");
	snprintf(p, sizeof p, "%s", testutil_path(g_dir, "short.safetensors"));
	write_raw(p, "\x02\0\0", 3);
	expect_read_error(p, CT_ECORRUPT, ": file is 3 bytes, shorter than the 8-byte");
	snprintf(p, sizeof p, "%s",
		 testutil_path(g_dir, "fifo")); /* must be refused, not wait for a writer */
	assert_int_equal(mkfifo(p, 0600), 0);
	expect_read_error(p, CT_EIO, "is not a regular file");
	snprintf(p, sizeof p, "%s", testutil_path(g_dir, "trailing.safetensors"));
	write_raw(p, "\x08\0\0\0\0\0\0\0{}      xyz", 19);
	expect_read_error(p, CT_ECORRUPT, ": 3 trailing bytes after the last tensor");

	build_all_dtypes(&d);
	snprintf(p, sizeof p, "%s", testutil_path(g_dir, "model.safetensors"));
	if (ct_st_write(p, &d, &e) != 0)
		fail_msg("st_write: %s", e.msg);
	assert_int_equal(ct_st_read(p, &r, &e), 0);
	assert_tdict_equal(&d, &r);
	assert_int_equal(r.backing_mmapped, 1);
	for (size_t i = 0; i < r.n; i++) { /* zero copy: all data inside the mapping */
		const unsigned char *x = r.v[i].data, *base = r.backing;
		assert_int_equal(r.v[i].owned, 0);
		assert_true(x >= base && x + r.v[i].nbytes <= base + r.backing_len);
	}
	/* the file holds exactly ct_st_serialize's bytes */
	unsigned char *buf;
	size_t len;
	serialize_ok(&d, &buf, &len);
	assert_int_equal(r.backing_len, len);
	assert_memory_equal(r.backing, buf, len);
	free(buf);
	ct_tdict_release(&r);

	snprintf(q, sizeof q, "%s/no/such/dir/x.safetensors", g_dir);
	assert_int_equal(ct_st_write(q, &d, &e), CT_EIO);
	assert_non_null(strstr(e.msg, q));
	ct_tdict_release(&d);
}
/* ct_st_write sends the tensors out from where they live: the same bytes as
 * ct_st_serialize's whole-file buffer (and, for a small dict, as the one written
 * by the writer that assembled the file in memory, spelled out below), with
 * more tensors than one writev batch and empty ones among them. */
static void test_write_iov_bytes(void **state)
{
	(void)state;
	char p[256];
	ct_err e = {0};
	ct_tdict d;
	ct_tdict_init(&d);
	float w[3] = {1.0f, -2.0f, 0.5f};
	assert_int_equal(ct_tdict_set_meta(&d, "format", "pt", &e), 0);
	assert_int_equal(ct_tdict_add(&d, "w", CT_DT_F32, 1, (int64_t[]){3}, w, 0, &e), 0);
	assert_int_equal(ct_tdict_add(&d, "z", CT_DT_F32, 2, (int64_t[]){0, 4}, w, 0, &e), 0);
	snprintf(p, sizeof p, "%s", testutil_path(g_dir, "small.safetensors"));
	assert_int_equal(ct_st_write(p, &d, &e), 0);
	static const char hdr[] = "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\","
				  "\"shape\":[3],\"data_offsets\":[0,12]},\"z\":{\"dtype\":\"F32\","
				  "\"shape\":[0,4],\"data_offsets\":[12,12]}}";
	size_t hl = sizeof hdr - 1, padded = (hl + 7) & ~(size_t)7, len;
	unsigned char *got = testutil_read(p, &len);
	assert_int_equal(len, 8 + padded + sizeof w);
	assert_int_equal(got[0], padded);
	assert_memory_equal(got + 1, "\0\0\0\0\0\0\0", 7);
	assert_memory_equal(got + 8, hdr, hl);
	for (size_t i = hl; i < padded; i++)
		assert_int_equal(got[8 + i], ' ');
	assert_memory_equal(got + 8 + padded, w, sizeof w);
	free(got);
	ct_tdict_release(&d);

	enum { N = 150 }; /* > 2 writev batches of 64 */
	static float data[N * (N % 7 + 3)];
	for (size_t i = 0; i < sizeof data / sizeof *data; i++)
		data[i] = (float)i * 0.25f - 7.0f;
	ct_tdict_init(&d);
	assert_int_equal(ct_tdict_set_meta(&d, "layers", "1,2", &e), 0);
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof name, "t.%d", i);
		int64_t n = i % 5 == 0 ? 0 : i % 7 + 1;
		assert_int_equal(ct_tdict_add(&d, name, CT_DT_F32, 1, &n, data + i, 0, &e), 0);
	}
	snprintf(p, sizeof p, "%s", testutil_path(g_dir, "many.safetensors"));
	assert_int_equal(ct_st_write(p, &d, &e), 0);
	unsigned char *want;
	size_t want_len;
	serialize_ok(&d, &want, &want_len);
	got = testutil_read(p, &len);
	assert_int_equal(len, want_len);
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
	ct_tdict_release(&d);
}
/* No second copy of the model: writing a 64 MB tensor raises the peak
 * resident size by far less than 64 MB (the writer that assembled the file in
 * memory first raised it by the whole file). */
static void test_write_no_copy(void **state)
{
	(void)state;
	enum { MB = 1 << 20, SIZE = 64 * MB };
	float *big = malloc(SIZE);
	assert_non_null(big);
	for (size_t i = 0; i < SIZE / sizeof *big; i++) /* resident before the measurement */
		big[i] = (float)(i & 1023);
	ct_err e = {0};
	ct_tdict d;
	ct_tdict_init(&d);
	int64_t n = SIZE / (int64_t)sizeof *big;
	assert_int_equal(ct_tdict_add(&d, "big", CT_DT_F32, 1, &n, big, 0, &e), 0);
	char p[256];
	snprintf(p, sizeof p, "%s", testutil_path(g_dir, "big.safetensors"));
	assert_int_equal(peak_rss_reset(), 0);
	long before = peak_rss_kb("VmRSS");
	assert_int_equal(ct_st_write(p, &d, &e), 0);
	long peak = peak_rss_kb("VmHWM");
	assert_true(before > 0 && peak > 0);
	print_message("  peak RSS grew by %ld kB writing %d MB\n", peak - before, SIZE / MB);
	assert_true(peak - before < 8 * 1024);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_true(st.st_size > SIZE);
	assert_int_equal(unlink(p), 0);
	ct_tdict_release(&d);
	free(big);
}

static void test_serialize_errors(void **state)
{
	(void)state;
	ct_tdict d;
	ct_err e = {0};
	void *buf = NULL;
	size_t len;
	float x = 1;
	ct_tdict_init(&d);
	add(&d, "__metadata__", CT_DT_F32, 0, g_no_dims, &x);
	assert_int_equal(ct_st_serialize(&d, &buf, &len, &e), CT_EUNSUPPORTED);
	assert_non_null(strstr(e.msg, "tensor name '__metadata__' is reserved"));
	ct_tdict_release(&d);
	ct_tdict_init(&d);
	add(&d, "bad\xff", CT_DT_F32, 0, g_no_dims, &x);
	assert_int_equal(ct_st_serialize(&d, &buf, &len, &e), CT_EUNSUPPORTED);
	assert_non_null(strstr(e.msg, "is not valid UTF-8"));
	ct_tdict_release(&d);
	ct_tdict_init(&d);
	meta(&d, "k", "\xc0\xaf");
	assert_int_equal(ct_st_serialize(&d, &buf, &len, &e), CT_EUNSUPPORTED);
	assert_non_null(strstr(e.msg, "metadata 'k' is not valid UTF-8"));
	ct_tdict_release(&d);
	assert_null(buf);
	/* names with quotes and control characters are escaped, and come back */
	ct_tdict_init(&d);
	add(&d, "a\"b\\c\n\x01", CT_DT_F32, 0, g_no_dims, &x);
	meta(&d, "q\"", "line\nbreak");
	unsigned char *b;
	serialize_ok(&d, &b, &len);
	ct_tdict r;
	assert_int_equal(ct_st_parse(b, len, &r, 1, &e), 0);
	assert_tdict_equal(&d, &r);
	ct_tdict_release(&r);
	ct_tdict_release(&d);
	free(b);
}

/* ---- f16 / bf16 ------------------------------------------------------------- */

static uint32_t bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* Exact round-to-nearest-even of x to a binary format with mbits fraction
 * bits, minimum normal exponent emin and overflow threshold 2^emax1,
 * computed in double where every step is exact. */
static float ref_round(float xf, int mbits, int emin, int emax1)
{
	double x = (double)xf;
	if (x == 0 || isinf(x))
		return xf;
	int ex;
	frexp(fabs(x), &ex);
	int e = ex - 1 < emin ? emin : ex - 1;
	double ulp = ldexp(1.0, e - mbits);
	double q = nearbyint(x / ulp) * ulp;
	if (fabs(q) >= ldexp(1.0, emax1))
		return (float)copysign(HUGE_VAL, x);
	return (float)q;
}

static void check_f16(float x)
{
	float got = ct_f16_to_f32(ct_f32_to_f16(x)), want = ref_round(x, 10, -14, 16);
	if (bits(got) != bits(want))
		fail_msg("f16(%a = 0x%08x): got %a want %a", (double)x, bits(x), (double)got,
			 (double)want);
}

static void check_bf16(float x)
{
	float got = ct_bf16_to_f32(ct_f32_to_bf16(x)), want = ref_round(x, 7, -126, 128);
	if (bits(got) != bits(want))
		fail_msg("bf16(%a = 0x%08x): got %a want %a", (double)x, bits(x), (double)got,
			 (double)want);
}

static void test_half_spot_values(void **state)
{
	(void)state;
	assert_int_equal(ct_f32_to_f16(1.0f), 0x3c00);
	assert_int_equal(ct_f32_to_f16(-2.5f), 0xc100);
	assert_int_equal(ct_f32_to_f16(65504.0f), 0x7bff);
	assert_int_equal(ct_f32_to_f16(65519.996f), 0x7bff);
	assert_int_equal(ct_f32_to_f16(65520.0f), 0x7c00); /* halfway to 65536: even -> inf */
	assert_int_equal(ct_f32_to_f16(-1e6f), 0xfc00);
	assert_int_equal(ct_f32_to_f16(1e-8f), 0x0000); /* below half the smallest subnormal */
	assert_int_equal(ct_f32_to_f16(-1e-8f), 0x8000);
	assert_int_equal(ct_f32_to_f16(6e-8f), 0x0001);           /* 2^-24 = 5.96e-8 */
	assert_int_equal(ct_f32_to_f16(1e-5f), 0x00a8);           /* subnormal: 167.77 * 2^-24 */
	assert_int_equal(ct_f32_to_f16(0x1p-25f), 0x0000);        /* halfway 0..1 ulp: even = 0 */
	assert_int_equal(ct_f32_to_f16(0x3p-25f), 0x0002);        /* halfway 1..2: even = 2 */
	assert_int_equal(ct_f32_to_f16(0x1p-14f), 0x0400);        /* smallest normal */
	assert_int_equal(ct_f32_to_f16(1.0f + 0x1p-11f), 0x3c00); /* halfway: even */
	assert_int_equal(ct_f32_to_f16(1.0f + 0x3p-11f), 0x3c02);
	assert_int_equal(ct_f32_to_f16(0.1f), 0x2e66);
	assert_int_equal(ct_f32_to_f16(INFINITY), 0x7c00);
	assert_int_equal(ct_f32_to_bf16(1.0f), 0x3f80);
	assert_int_equal(ct_f32_to_bf16(-2.5f), 0xc020);
	assert_int_equal(ct_f32_to_bf16(1e-8f), 0x322c);
	assert_int_equal(ct_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80); /* halfway: even */
	assert_int_equal(ct_f32_to_bf16(1.0f + 0x3p-8f), 0x3f82);
	assert_int_equal(ct_f32_to_bf16(3.4028235e38f), 0x7f80); /* FLT_MAX rounds to inf */
	assert_int_equal(ct_f32_to_bf16(1e-40f), 0x0001);        /* f32 subnormal */
	/* NaN stays NaN, including a signalling one that truncation would turn into inf */
	uint32_t nans[3] = {0x7fc00000u, 0x7f800001u, 0xffc00001u};
	for (int i = 0; i < 3; i++) {
		uint16_t h = ct_f32_to_f16(from_bits(nans[i])),
			 b = ct_f32_to_bf16(from_bits(nans[i]));
		assert_true((h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0);
		assert_true((b & 0x7f80) == 0x7f80 && (b & 0x007f) != 0);
		assert_int_equal(h >> 15, nans[i] >> 31);
		assert_true(isnan(ct_f16_to_f32(h)) && isnan(ct_bf16_to_f32(b)));
	}
	assert_true(ct_f16_to_f32(0x0001) == 0x1p-24f);
	assert_true(isinf(ct_f16_to_f32(0x7c00)));
	assert_int_equal(bits(ct_f16_to_f32(0x8000)), 0x80000000u);
}

/* Every half value, its neighbours, and every midpoint between two halves
 * (where round-to-even decides) against the exact reference; plus random bits. */
static void test_half_against_reference(void **state)
{
	(void)state;
	for (uint32_t h = 0; h < 0x10000; h++) {
		if ((h & 0x7c00) != 0x7c00) {
			float v = ct_f16_to_f32((uint16_t)h);
			assert_int_equal(ct_f32_to_f16(v), h); /* exact values survive */
			float next = ct_f16_to_f32((uint16_t)(h + 1));
			if ((h & 0x7fff) != 0x7bff && (h & 0x7fff) != 0x7fff && !isnan(next)) {
				float mid = (float)(((double)v + (double)next) / 2);
				for (int d = -2; d <= 2; d++)
					check_f16(from_bits(bits(mid) + (uint32_t)d));
			}
		}
		uint32_t b = h << 16;
		if ((b & 0x7f800000u) != 0x7f800000u) {
			assert_int_equal(ct_f32_to_bf16(from_bits(b)), h);
			for (int d = -2; d <= 2; d++)
				check_bf16(from_bits(b + 0x8000u + (uint32_t)d));
		}
	}
	g_rng = 77;
	for (int i = 0; i < 300000; i++) {
		float x = from_bits((uint32_t)rnd());
		if (isnan(x))
			continue;
		check_f16(x);
		check_bf16(x);
	}
}

static void test_convert_dtype(void **state)
{
	(void)state;
	ct_tdict s, d;
	ct_err e = {0};
	double err = -1;
	float v[5] = {1.0f, 1.0f + 0x1p-11f, 0.1f, -2.5f, 3.0f + 0x1p-8f};
	int64_t iv[2] = {7, -7};
	ct_tdict_init(&s);
	meta(&s, "format", "pt");
	add(&s, "w", CT_DT_F32, 1, (int64_t[]){5}, v);
	add(&s, "i", CT_DT_I64, 1, (int64_t[]){2}, iv);

	assert_int_equal(ct_st_convert_dtype(&s, CT_DT_F16, &d, &err, &e), 0);
	uint16_t want16[5] = {0x3c00, 0x3c00, 0x2e66, 0xc100, 0x4202};
	assert_int_equal(d.v[0].dtype, CT_DT_F16);
	assert_int_equal(d.v[0].nbytes, 10);
	assert_memory_equal(d.v[0].data, want16, 10);
	assert_true(err == 0x1p-11); /* from 1 + 2^-11; 3 + 2^-8 is exact in f16 */
	assert_entry_equal(&s.v[1], &d.v[1]);
	assert_string_equal(ct_tdict_get_meta(&d, "format"), "pt");
	ct_tdict_release(&d);

	assert_int_equal(ct_st_convert_dtype(&s, CT_DT_BF16, &d, &err, &e), 0);
	uint16_t wantb[5] = {0x3f80, 0x3f80, 0x3dcd, 0xc020, 0x4040};
	assert_memory_equal(d.v[0].data, wantb, 10);
	assert_true(err == 0x1p-8); /* 3 + 2^-8 rounds to 3 */
	ct_tdict_release(&d);

	assert_int_equal(ct_st_convert_dtype(&s, CT_DT_F32, &d, &err, &e), 0);
	assert_tdict_equal(&s, &d);
	assert_true(err == 0);
	ct_tdict_release(&d);

	assert_int_equal(ct_st_convert_dtype(&s, CT_DT_I64, &d, &err, &e), CT_EUNSUPPORTED);
	assert_non_null(strstr(e.msg, "cannot export to dtype I64"));
	assert_int_equal(d.n, 0);
	ct_tdict_release(&s);

	/* NaN does not poison the error; overflow reports +inf */
	ct_tdict_init(&s);
	add(&s, "n", CT_DT_F32, 1, (int64_t[]){2}, (float[]){NAN, 0.5f});
	assert_int_equal(ct_st_convert_dtype(&s, CT_DT_F16, &d, &err, &e), 0);
	assert_true(err == 0);
	ct_tdict_release(&d);
	add(&s, "big", CT_DT_F32, 0, g_no_dims, (float[]){70000.0f});
	assert_int_equal(ct_st_convert_dtype(&s, CT_DT_F16, &d, &err, &e), 0);
	assert_true(isinf(err));
	ct_tdict_release(&d);
	ct_tdict_release(&s);
}

/* ---- PyTorch cross-check ------------------------------------------------------ */

/* The tensors both sides agree on (tests/unit/st_torch_check.py builds the same). */
static void build_torch_set(ct_tdict *d)
{
	float w[12], b[3];
	for (int i = 0; i < 12; i++)
		w[i] = (float)(i - 5) * 0.375f;
	for (int i = 0; i < 3; i++)
		b[i] = (float)(i + 1) * 0.5f - 0.125f;
	float hv[6] = {1.0f, -2.5f, 65504.0f, 0.1f, 1.0f + 0x1p-11f, 1e-5f};
	float bv[4] = {1.0f, -2.5f, 1.0f + 0x1p-8f, 1.0f + 0x3p-8f};
	uint16_t h[6], bh[4];
	for (int i = 0; i < 6; i++)
		h[i] = ct_f32_to_f16(hv[i]);
	for (int i = 0; i < 4; i++)
		bh[i] = ct_f32_to_bf16(bv[i]);
	ct_tdict_init(d);
	meta(d, "format", "pt");
	add(d, "layers.0.weight", CT_DT_F32, 2, (int64_t[]){3, 4}, w);
	add(d, "layers.0.bias", CT_DT_F32, 1, (int64_t[]){3}, b);
	add(d, "misc.f32", CT_DT_F32, 1, (int64_t[]){4}, (float[]){0.1f, -1e-8f, 3.0e38f, 1e-40f});
	add(d, "misc.half", CT_DT_F16, 1, (int64_t[]){6}, h);
	add(d, "misc.bhalf", CT_DT_BF16, 2, (int64_t[]){2, 2}, bh);
	add(d, "misc.dbl", CT_DT_F64, 1, (int64_t[]){2}, (double[]){0.1, -1e300});
	add(d, "misc.idx", CT_DT_I64, 1, (int64_t[]){3},
	    (int64_t[]){-1, 0, ((int64_t)1 << 40) + 7});
	add(d, "misc.scalar", CT_DT_F32, 0, g_no_dims, (float[]){42.5f});
	add(d, "misc.empty", CT_DT_F32, 2, (int64_t[]){0, 4}, NULL);
}

static int run(const char *cmd)
{
	int rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* Rank of a dtype in the reference writer's order (its Dtype enum). */
static int ref_rank(ct_dtype t)
{
	static const int r[CT_DT_COUNT] = {
		[CT_DT_BOOL] = 0, [CT_DT_U8] = 1,   [CT_DT_I8] = 2,  [CT_DT_I16] = 5,
		[CT_DT_F16] = 7,  [CT_DT_BF16] = 8, [CT_DT_I32] = 9, [CT_DT_F32] = 11,
		[CT_DT_F64] = 12, [CT_DT_I64] = 13};
	return r[t];
}

static void check_torch_file(const char *path, const ct_tdict *want, int header_sorted_by_name)
{
	ct_tdict r;
	ct_err e = {0};
	if (ct_st_read(path, &r, &e) != 0)
		fail_msg("st_read of the PyTorch-layout file: %s", e.msg);
	assert_int_equal(r.n, want->n);
	for (size_t i = 0; i < want->n; i++) {
		const ct_tdict_entry *t = ct_tdict_find(&r, want->v[i].name);
		assert_non_null(t);
		assert_entry_equal(&want->v[i], t);
	}
	for (size_t i = 1; i < r.n; i++) { /* our entries keep the file's header order */
		const ct_tdict_entry *a = &r.v[i - 1], *b = &r.v[i];
		int before = header_sorted_by_name ? strcmp(a->name, b->name) < 0
						   : ref_rank(a->dtype) > ref_rank(b->dtype) ||
							     (a->dtype == b->dtype &&
							      strcmp(a->name, b->name) < 0);
		assert_true(before);
	}
	assert_int_equal(r.n_meta, 1);
	assert_string_equal(ct_tdict_get_meta(&r, "format"), "pt");
	ct_tdict_release(&r);
}

static void test_torch_crosscheck(void **state)
{
	(void)state;
	char script[512], cmd[4096], ours[256], bad[256], pt[256], pt2[256];
	snprintf(script, sizeof script, "%s", __FILE__);
	char *slash = strrchr(script, '/');
	snprintf(slash ? slash + 1 : script,
		 sizeof script - (size_t)(slash ? slash + 1 - script : 0), "st_torch_check.py");
	if (access(script, R_OK) != 0)
		fail_msg("%s not found (run the tests from the repository root)", script);
	ct_tdict d;
	ct_err e = {0};
	build_torch_set(&d);
	snprintf(ours, sizeof ours, "%s/ours.safetensors", g_dir);
	assert_int_equal(ct_st_write(ours, &d, &e), 0);
	/* the checker must notice a single changed data byte */
	((unsigned char *)d.v[1].data)[0] ^= 1;
	snprintf(bad, sizeof bad, "%s/tampered.safetensors", g_dir);
	assert_int_equal(ct_st_write(bad, &d, &e), 0);
	((unsigned char *)d.v[1].data)[0] ^= 1;
	snprintf(pt, sizeof pt, "%s/pt.safetensors", g_dir);
	snprintf(pt2, sizeof pt2, "%s/pt_name_order.safetensors", g_dir);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s all %s %s %s %s", script, ours, bad, pt,
		 pt2);
	int rc = run(cmd);
	if (rc == 127)
		print_message("skipped: no torch (no /usr/bin/python3)\n");
	if (rc == 77 || rc == 127) { /* 77: the script printed "skipped: no torch" */
		ct_tdict_release(&d);
		return;
	}
	assert_int_equal(rc, 0);
	check_torch_file(pt, &d, 0);
	check_torch_file(pt2, &d, 1);
	ct_tdict_release(&d);
}

/* ---- seed corpus for the fuzzer ----------------------------------------------- */

static void write_seed(const char *dir, const char *name, const void *b, size_t n)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0)
		fprintf(stderr, "cannot write %s\n", p);
}

static void write_corpus(const char *dir)
{
	ct_tdict d;
	unsigned char *b;
	size_t len;
	build_all_dtypes(&d);
	serialize_ok(&d, &b, &len);
	write_seed(dir, "ok_all_dtypes", b, len);
	free(b);
	ct_tdict_release(&d);
	build_torch_set(&d);
	serialize_ok(&d, &b, &len);
	write_seed(dir, "ok_torch_set", b, len);
	free(b);
	ct_tdict_release(&d);
	static const struct {
		const char *name;
		size_t n;
		const char *bytes;
	} raw[] = {
		{"bad_short", 5, "\x02\0\0\0\0"},
		{"bad_hlen_0", 16, "\0\0\0\0\0\0\0\0{}      "},
		{"bad_hlen_1", 16, "\x01\0\0\0\0\0\0\0{}      "},
		{"bad_hlen_beyond", 16, "\x15\xcd\x5b\x07\0\0\0\0{}      "},
		{"bad_hlen_max", 16, "\xff\xff\xff\xff\xff\xff\xff\xff{}      "},
	};
	for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
		write_seed(dir, raw[i].name, raw[i].bytes, raw[i].n);
	for (size_t i = 0; i < sizeof g_bad / sizeof g_bad[0]; i++) {
		char name[96];
		b = mkfile(g_bad[i].hdr, strlen(g_bad[i].hdr), g_bad[i].data_len, &len);
		snprintf(name, sizeof name, "bad_%s", g_bad[i].id);
		write_seed(dir, name, b, len);
		free(b);
	}
}

/* The name index: 50,000 names (a linear search made this quadratic: 100,000
 * names took 27 s), found again by name, a duplicate of the first one refused,
 * and names the safetensors reader appended directly are indexed too. */
static void test_many_names(void **state)
{
	(void)state;
	enum { N = 50000 };
	ct_tdict d;
	ct_tdict_init(&d);
	ct_err e = {0};
	float x = 1.0f;
	int64_t one = 1;
	char name[32];
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "layer.%d.w", i);
		assert_int_equal(ct_tdict_add(&d, name, CT_DT_F32, 1, &one, &x, 0, &e), 0);
	}
	for (int i = 0; i < N; i += 997) {
		snprintf(name, sizeof name, "layer.%d.w", i);
		const ct_tdict_entry *t = ct_tdict_find(&d, name);
		assert_non_null(t);
		assert_ptr_equal(t, &d.v[i]);
	}
	assert_null(ct_tdict_find(&d, "layer.50000.w"));
	assert_int_equal(ct_tdict_add(&d, "layer.0.w", CT_DT_F32, 1, &one, &x, 0, &e),
			 CT_EMISMATCH);
	assert_string_equal(e.msg, "duplicate tensor name 'layer.0.w'");
	ct_tdict_release(&d);

	/* read by ct_st_parse (entries appended without ct_tdict_add), then added to */
	ct_tdict src, back;
	ct_tdict_init(&src);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "t%d", i);
		assert_int_equal(ct_tdict_add(&src, name, CT_DT_F32, 1, &one, &x, 0, &e), 0);
	}
	void *buf;
	size_t len;
	assert_int_equal(ct_st_serialize(&src, &buf, &len, &e), 0);
	assert_int_equal(ct_st_parse(buf, len, &back, 1, &e), 0);
	assert_non_null(ct_tdict_find(&back, "t2"));
	assert_int_equal(ct_tdict_add(&back, "t1", CT_DT_F32, 1, &one, &x, 0, &e), CT_EMISMATCH);
	assert_int_equal(ct_tdict_add(&back, "t3", CT_DT_F32, 1, &one, &x, 0, &e), 0);
	assert_ptr_equal(ct_tdict_find(&back, "t3"), &back.v[3]);
	assert_ptr_equal(ct_tdict_find(&back, "t0"), &back.v[0]);
	ct_tdict_release(&back);
	ct_tdict_release(&src);
	free(buf);
}

int main(void)
{
	const char *corpus = getenv("ST_CORPUS_DIR");
	if (corpus)
		write_corpus(corpus);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_all_dtypes),
		cmocka_unit_test(test_exact_bytes),
		cmocka_unit_test(test_out_of_order_cover_accepted),
		cmocka_unit_test(test_malformed_rules),
		cmocka_unit_test(test_header_length_rules),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_random_mutations),
		cmocka_unit_test_setup_teardown(test_read_write_files, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_write_iov_bytes, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_write_no_copy, setup_dir, teardown_dir),
		cmocka_unit_test(test_serialize_errors),
		cmocka_unit_test(test_half_spot_values),
		cmocka_unit_test(test_half_against_reference),
		cmocka_unit_test(test_convert_dtype),
		cmocka_unit_test(test_many_names),
		cmocka_unit_test_setup_teardown(test_torch_crosscheck, setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests_name("safetensors", tests, NULL, NULL);
}
