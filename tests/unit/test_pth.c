/* Tests of formats/pth (torch.save reader), formats/pickle (restricted unpickler)
 * and ckpt/convert (.pth -> .safetensors).
 *
 * Fixtures are in tests/fixtures/pth, made by tests/fixtures/make_pth.py with
 * PyTorch; expected.json lists, for each valid file, the tensors torch.load
 * returns (name, dtype, shape, bytes in <name>.bin) and the skipped entries in
 * both reading modes, and for each hostile file the error code and message
 * substrings (and the marker file its payload would create).  No Python runs
 * here.  Run from the repository root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <zip.h>

#include "testutil.h"

#include "../../formats/convert.h"
#include "../../formats/pickle.h"
#include "../../formats/pth.h"
#include "../../formats/safetensors.h"

#define FIX "tests/fixtures/pth/"

static json_t *g_expect;

/* ---- helpers ------------------------------------------------------------ */

static uint64_t g_rng = 0x243f6a8885a308d3ull;
static uint64_t rnd(void) /* xorshift64*: fixed seed, reproducible failures */
{
	g_rng ^= g_rng >> 12;
	g_rng ^= g_rng << 25;
	g_rng ^= g_rng >> 27;
	return g_rng * 2685821657736338717ull;
}

static int code_of(const char *name)
{
	if (strcmp(name, "ECORRUPT") == 0)
		return CT_ECORRUPT;
	if (strcmp(name, "EUNSUPPORTED") == 0)
		return CT_EUNSUPPORTED;
	if (strcmp(name, "EMISMATCH") == 0)
		return CT_EMISMATCH;
	fail_msg("unknown code %s in expected.json", name);
	return 0;
}

/* The data.pkl record of a fixture, read with libzip. */
static unsigned char *fixture_pickle(const char *file, size_t *len)
{
	char path[256];
	snprintf(path, sizeof path, FIX "%s", file);
	int err = 0;
	zip_t *za = zip_open(path, ZIP_RDONLY, &err);
	assert_non_null(za);
	zip_int64_t idx = -1;
	for (zip_int64_t i = 0; i < zip_get_num_entries(za, 0); i++) {
		const char *n = zip_get_name(za, (zip_uint64_t)i, 0);
		size_t l = strlen(n);
		if (l > 9 && strcmp(n + l - 9, "/data.pkl") == 0)
			idx = i;
	}
	assert_true(idx >= 0);
	zip_stat_t st;
	assert_int_equal(zip_stat_index(za, (zip_uint64_t)idx, 0, &st), 0);
	unsigned char *b = malloc(st.size + 1);
	assert_non_null(b);
	zip_file_t *f = zip_fopen_index(za, (zip_uint64_t)idx, 0);
	assert_non_null(f);
	assert_int_equal(zip_fread(f, b, st.size), (zip_int64_t)st.size);
	zip_fclose(f);
	zip_discard(za);
	*len = st.size;
	return b;
}

/* pth_storage_fn giving zero-filled storages of any declared size up to 1 MiB. */
static int zero_get(void *ctx, const char *key, size_t nbytes, void **data, ct_err *e)
{
	(void)ctx;
	if (nbytes > ((size_t)1 << 20))
		return ct_errf(e, CT_ECORRUPT, "test: storage '%.20s' larger than 1 MiB", key);
	if (data) {
		*data = calloc(1, nbytes ? nbytes : 1);
		if (!*data)
			return ct_errf(e, CT_ENOMEM, "test: out of memory");
	}
	return 0;
}

/* ---- comparing with what torch.load returned --------------------------------- */

static void check_tensors(const char *what, const ct_tdict *d, json_t *rows,
			  const unsigned char *bin, size_t bin_len)
{
	if (d->n != json_array_size(rows))
		fail_msg("%s: %zu tensors, expected %zu", what, d->n, json_array_size(rows));
	for (size_t i = 0; i < d->n; i++) {
		json_t *r = json_array_get(rows, i);
		const ct_tdict_entry *t = &d->v[i];
		const char *name = json_string_value(json_object_get(r, "name"));
		if (strcmp(t->name, name) != 0)
			fail_msg("%s: tensor %zu is '%s', expected '%s'", what, i, t->name, name);
		assert_string_equal(ct_dtype_name(t->dtype),
				    json_string_value(json_object_get(r, "dtype")));
		json_t *shape = json_object_get(r, "shape");
		assert_int_equal(t->ndim, json_array_size(shape));
		for (int k = 0; k < t->ndim; k++)
			assert_int_equal(t->shape[k],
					 json_integer_value(json_array_get(shape, (size_t)k)));
		size_t off = (size_t)json_integer_value(json_object_get(r, "offset"));
		size_t nb = (size_t)json_integer_value(json_object_get(r, "nbytes"));
		assert_int_equal(t->nbytes, nb);
		assert_true(off + nb <= bin_len);
		if (nb && memcmp(t->data, bin + off, nb) != 0)
			fail_msg("%s: bytes of '%s' differ from torch.load", what, name);
	}
}

static void check_skipped(const char *what, char **sk, size_t n, json_t *want)
{
	if (n != json_array_size(want))
		fail_msg("%s: %zu skipped entries, expected %zu", what, n, json_array_size(want));
	for (size_t i = 0; i < n; i++)
		if (strcmp(sk[i], json_string_value(json_array_get(want, i))) != 0)
			fail_msg("%s: skipped[%zu] is '%s', expected '%s'", what, i, sk[i],
				 json_string_value(json_array_get(want, i)));
}

static void check_mode(const char *what, int rc, const ct_err *e, ct_tdict *d, char **sk,
		       size_t nsk, json_t *mode, const unsigned char *bin, size_t bin_len)
{
	if (rc != 0)
		fail_msg("%s: failed: %s", what, e->msg);
	check_tensors(what, d, json_object_get(mode, "tensors"), bin, bin_len);
	check_skipped(what, sk, nsk, json_object_get(mode, "skipped"));
	pth_skipped_free(sk, nsk);
	ct_tdict_release(d);
}

static void test_valid_fixtures(void **state)
{
	(void)state;
	json_t *valid = json_object_get(g_expect, "valid");
	const char *file;
	json_t *exp;
	size_t count = 0;
	json_object_foreach(valid, file, exp)
	{
		char path[256], binpath[256], what[300];
		snprintf(path, sizeof path, FIX "%s", file);
		snprintf(binpath, sizeof binpath, FIX "%.*s.bin", (int)strlen(file) - 4, file);
		size_t bin_len, len;
		unsigned char *bin = testutil_read(binpath, &bin_len),
			      *buf = testutil_read(path, &len);
		ct_tdict d;
		char **sk;
		size_t nsk;
		ct_err e = {0};

		snprintf(what, sizeof what, "pth_read(%s)", file);
		int rc = pth_read(path, &d, &sk, &nsk, &e);
		check_mode(what, rc, &e, &d, sk, nsk, json_object_get(exp, "all"), bin, bin_len);

		snprintf(what, sizeof what, "pth_parse(%s)", file);
		rc = pth_parse(buf, len, file, &d, &sk, &nsk, &e);
		check_mode(what, rc, &e, &d, sk, nsk, json_object_get(exp, "all"), bin, bin_len);

		json_t *sd = json_object_get(exp, "state_dict");
		if (!json_is_null(sd)) {
			snprintf(what, sizeof what, "pth_read_state_dict(%s)", file);
			rc = pth_read_state_dict(path, &d, &sk, &nsk, &e);
			check_mode(what, rc, &e, &d, sk, nsk, sd, bin, bin_len);
		}
		/* Without a skipped list the tensors are the same. */
		assert_int_equal(pth_read(path, &d, NULL, NULL, &e), 0);
		check_tensors(file, &d, json_object_get(json_object_get(exp, "all"), "tensors"),
			      bin, bin_len);
		ct_tdict_release(&d);
		free(bin);
		free(buf);
		count++;
	}
	assert_int_equal(count, 13);
}

/* Values computed here, independently of PyTorch: base = arange(24).view(4, 6). */
static void test_noncontig_values(void **state)
{
	(void)state;
	ct_tdict d;
	ct_err e = {0};
	assert_int_equal(pth_read(FIX "noncontig.pth", &d, NULL, NULL, &e), 0);
	const ct_tdict_entry *t = ct_tdict_find(&d, "transposed"); /* base.t(): [6, 4] */
	assert_non_null(t);
	float f[24];
	memcpy(f, t->data, sizeof f);
	for (int i = 0; i < 6; i++)
		for (int j = 0; j < 4; j++)
			assert_true(f[i * 4 + j] == (float)(j * 6 + i));
	t = ct_tdict_find(&d, "stepped"); /* base[:, ::2]: [4, 3] */
	memcpy(f, t->data, 12 * sizeof *f);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 3; j++)
			assert_true(f[i * 3 + j] == (float)(i * 6 + 2 * j));
	t = ct_tdict_find(&d, "shared_block"); /* base[2:, 3:]: offset 15 */
	memcpy(f, t->data, 6 * sizeof *f);
	float block[6] = {15, 16, 17, 21, 22, 23};
	assert_memory_equal(f, block, sizeof block);
	t = ct_tdict_find(&d, "expanded"); /* [1.5, -2, 3.25] repeated 4 times, stride 0 */
	assert_int_equal(t->nbytes, 48);
	memcpy(f, t->data, 12 * sizeof *f);
	for (int i = 0; i < 4; i++)
		assert_true(f[3 * i] == 1.5f && f[3 * i + 1] == -2.0f && f[3 * i + 2] == 3.25f);
	t = ct_tdict_find(&d, "permuted"); /* arange(24).view(2,3,4).permute(2,0,1): [4,2,3] */
	int32_t v[24];
	memcpy(v, t->data, sizeof v);
	for (int a = 0; a < 4; a++)
		for (int b = 0; b < 2; b++)
			for (int c = 0; c < 3; c++)
				assert_int_equal(v[a * 6 + b * 3 + c], b * 12 + c * 4 + a);
	ct_tdict_release(&d);
}

/* ---- hostile and malformed files --------------------------------------------- */

static void check_rejected(const char *what, int rc, const ct_err *e, const ct_tdict *d, char **sk,
			   size_t nsk, int want, json_t *msgs, const char *name)
{
	if (rc != want)
		fail_msg("%s: returned %d, expected %d (%s)", what, rc, want, e->msg);
	assert_int_equal(e->code, want);
	testutil_assert_printable(e->msg);
	if (strncmp(e->msg, name, strlen(name)) != 0)
		fail_msg("%s: message does not start with the file name: %s", what, e->msg);
	size_t i;
	json_t *m;
	json_array_foreach(msgs, i, m)
	{
		if (!strstr(e->msg, json_string_value(m)))
			fail_msg("%s: message '%s' lacks '%s'", what, e->msg, json_string_value(m));
	}
	assert_int_equal(d->n, 0);
	assert_null(d->v);
	assert_null(sk);
	assert_int_equal(nsk, 0);
}

static void test_hostile_fixtures(void **state)
{
	(void)state;
	json_t *hostile = json_object_get(g_expect, "hostile");
	const char *file;
	json_t *exp;
	size_t count = 0, markers = 0;
	json_object_foreach(hostile, file, exp)
	{
		char path[256], what[300];
		snprintf(path, sizeof path, FIX "%s", file);
		int want = code_of(json_string_value(json_object_get(exp, "code")));
		json_t *msgs = json_object_get(exp, "msg");
		const char *marker = json_string_value(json_object_get(exp, "marker"));
		const char *mode = json_string_value(json_object_get(exp, "mode"));
		int sd = mode && strcmp(mode, "state_dict") == 0;
		if (marker)
			unlink(marker);
		ct_tdict d;
		char **sk = (char **)&d; /* must be reset to NULL */
		size_t nsk = 7, len;
		ct_err e = {0};

		snprintf(what, sizeof what, "%s(%s)", sd ? "pth_read_state_dict" : "pth_read",
			 file);
		int rc = sd ? pth_read_state_dict(path, &d, &sk, &nsk, &e)
			    : pth_read(path, &d, &sk, &nsk, &e);
		check_rejected(what, rc, &e, &d, sk, nsk, want, msgs, path);
		if (!sd) {
			unsigned char *buf = testutil_read(path, &len);
			snprintf(what, sizeof what, "pth_parse(%s)", file);
			sk = (char **)&d;
			memset(&e, 0, sizeof e);
			rc = pth_parse(buf, len, "mem", &d, &sk, &nsk, &e);
			check_rejected(what, rc, &e, &d, sk, nsk, want, msgs, "mem");
			free(buf);
		}
		if (marker) { /* the payload never ran */
			assert_int_equal(access(marker, F_OK), -1);
			markers++;
		}
		count++;
	}
	assert_int_equal(count, 58);
	assert_int_equal(markers, 5);
}

static void test_file_errors(void **state)
{
	(void)state;
	ct_tdict d;
	char **sk;
	size_t nsk;
	ct_err e = {0};
	assert_int_equal(pth_read(FIX "does-not-exist.pth", &d, &sk, &nsk, &e), CT_ENOTFOUND);
	assert_non_null(strstr(e.msg, FIX "does-not-exist.pth: cannot open: No such file"));
	assert_int_equal(pth_read(FIX, &d, &sk, &nsk, &e), CT_EIO);
	assert_non_null(strstr(e.msg, "cannot read: Is a directory"));
	assert_int_equal(pth_parse("", 0, "empty", &d, &sk, &nsk, &e), CT_ECORRUPT);
	assert_non_null(strstr(e.msg, "empty: not a"));
	assert_int_equal(d.n, 0);
}

/* ---- the unpickler on hand-written bytes ---------------------------------------- */

/* Unpickles {"k": <value>} and returns the value's node (doc kept in *doc). */
static const pickle_value *one_value(const char *value, size_t vlen, pickle_doc **doc)
{
	unsigned char buf[256];
	size_t n = 0;
	memcpy(buf, "\x80\x02}X\x01\x00\x00\x00k", 9);
	n = 9;
	memcpy(buf + n, value, vlen);
	n += vlen;
	memcpy(buf + n, "s.", 2);
	n += 2;
	ct_err e = {0};
	if (pickle_load(buf, n, "t", doc, &e) != 0)
		fail_msg("pickle_load: %s", e.msg);
	const pickle_value *root = pickle_root(*doc);
	assert_int_equal(root->type, PICKLE_DICT);
	return pickle_dict_get(root, "k");
}

static void expect_int(const char *value, size_t vlen, int64_t want, int big)
{
	pickle_doc *doc;
	const pickle_value *v = one_value(value, vlen, &doc);
	assert_int_equal(v->type, PICKLE_INT);
	assert_int_equal(v->big, big);
	if (!big && v->i != want)
		fail_msg("got %lld, expected %lld", (long long)v->i, (long long)want);
	pickle_free(doc);
}

static void test_pickle_numbers(void **state)
{
	(void)state;
	expect_int("K\xff", 2, 255, 0);
	expect_int("M\x01\x80", 3, 0x8001, 0);
	expect_int("J\xfe\xff\xff\xff", 5, -2, 0);
	expect_int("\x8a\x00", 2, 0, 0);
	expect_int("\x8a\x01\xff", 3, -1, 0);
	expect_int("\x8a\x02\x00\x80", 4, -32768, 0);
	expect_int("\x8a\x03\x00\x80\x00", 5, 32768, 0);
	expect_int("\x8a\x02\x00\xff", 4, -256, 0);
	/* 2^63 - 1 and -2^63 as Python writes them (9 bytes with a sign byte) */
	expect_int("\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f", 10, INT64_MAX, 0);
	expect_int("\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80", 10, INT64_MIN, 0);
	expect_int("\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\x00", 11, 0, 1); /* 2^63 */
	expect_int("\x8a\x0a\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00", 12, 1, 0);
	expect_int("\x8a\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12, -1, 0);

	pickle_doc *doc;
	const pickle_value *v = one_value("G\x3f\xf8\x00\x00\x00\x00\x00\x00", 9, &doc);
	assert_int_equal(v->type, PICKLE_FLOAT);
	assert_true(v->f == 1.5);
	pickle_free(doc);
	v = one_value("\x8c\x03\xc3\xa9t", 5, &doc); /* "ét" */
	assert_int_equal(v->type, PICKLE_STR);
	assert_int_equal(v->s.len, 3);
	assert_string_equal(v->s.p, "\xc3\xa9t");
	assert_string_equal(pickle_type_name(v), "str");
	pickle_free(doc);
	v = one_value("C\x02\x00\x01", 4, &doc);
	assert_int_equal(v->type, PICKLE_BYTES);
	assert_memory_equal(v->s.p, "\x00\x01", 2);
	pickle_free(doc);
	v = one_value("ctorch\nbfloat16\n", 16, &doc);
	assert_int_equal(v->type, PICKLE_GLOBAL);
	assert_int_equal(v->g.kind, PICKLE_G_DTYPE);
	assert_int_equal(v->g.dtype, CT_DT_BF16);
	assert_string_equal(pickle_type_name(v), "dtype");
	pickle_free(doc);
	/* (1, [2, None], {True: 3.0}) */
	v = one_value("(K\x01]K\x02"
		      "aNa}\x88G\x40\x08\x00\x00\x00\x00\x00\x00st",
		      22, &doc);
	assert_int_equal(v->type, PICKLE_TUPLE);
	assert_int_equal(v->seq.n, 3);
	assert_int_equal(v->depth, 2);
	assert_int_equal(v->seq.v[1]->type, PICKLE_LIST);
	assert_int_equal(v->seq.v[1]->seq.v[1]->type, PICKLE_NONE);
	assert_int_equal(v->seq.v[2]->seq.v[0]->type, PICKLE_BOOL);
	assert_true(v->seq.v[2]->seq.v[1]->f == 3.0);
	pickle_free(doc);
}

static void test_pickle_helpers(void **state)
{
	(void)state;
	char buf[8];
	pickle_printable(buf, sizeof buf, "a\nb\x80", 4);
	assert_string_equal(buf, "a?b?");
	pickle_printable(buf, sizeof buf, "abcdefghij", 10);
	assert_string_equal(buf, "abcd...");
	pickle_printable(buf, sizeof buf, "abcdefg", 7);
	assert_string_equal(buf, "abcdefg");
	/* the last of repeated keys wins, as in Python */
	pickle_doc *doc;
	ct_err e = {0};
	const char p[] = "\x80\x02}(X\x01\x00\x00\x00kK\x01X\x01\x00\x00\x00kK\x02u.";
	assert_int_equal(pickle_load(p, sizeof p - 1, "t", &doc, &e), 0);
	assert_int_equal(pickle_dict_get(pickle_root(doc), "k")->i, 2);
	assert_null(pickle_dict_get(pickle_root(doc), "x"));
	assert_int_equal(pickle_count(doc), 5); /* dict, 2 keys, 2 ints */
	pickle_free(doc);
	/* STACK_GLOBAL with a non-string, and a MEMOIZE-d forbidden global */
	const char q[] = "\x80\x04K\x01K\x02\x93.";
	assert_int_equal(pickle_load(q, sizeof q - 1, "t", &doc, &e), CT_ECORRUPT);
	assert_string_equal(
		e.msg, "t: data.pkl offset 6: STACK_GLOBAL needs two strings, got int and int");
	const char r[] = "\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93.";
	assert_int_equal(pickle_load(r, sizeof r - 1, "t", &doc, &e), CT_ECORRUPT);
	assert_string_equal(e.msg, "t: pickle references forbidden global 'os.system'");
	const char s[] = "\x80\x06}.";
	assert_int_equal(pickle_load(s, sizeof s - 1, "t", &doc, &e), CT_ECORRUPT);
	assert_string_equal(e.msg, "t: data.pkl offset 0: unsupported pickle protocol 6");
}

/* ---- convert ------------------------------------------------------------------- */

static void convert_ok(const char *dir, const char *fixture, size_t n_tensors)
{
	char in[256], out[512];
	snprintf(in, sizeof in, FIX "%s", fixture);
	snprintf(out, sizeof out, "%s/%s.safetensors", dir, fixture);
	convert_summary s;
	ct_err e = {0};
	if (convert_pth_to_safetensors(in, out, &s, &e) != 0)
		fail_msg("convert %s: %s", fixture, e.msg);
	assert_int_equal(s.n_tensors, n_tensors);

	/* What a safetensors reader sees equals what torch.load gave. */
	json_t *exp = json_object_get(json_object_get(g_expect, "valid"), fixture);
	json_t *sd = json_object_get(exp, "state_dict");
	char binpath[256];
	snprintf(binpath, sizeof binpath, FIX "%.*s.bin", (int)strlen(fixture) - 4, fixture);
	size_t bin_len;
	unsigned char *bin = testutil_read(binpath, &bin_len);
	ct_tdict d;
	assert_int_equal(ct_st_read(out, &d, &e), 0);
	check_tensors(out, &d, json_object_get(sd, "tensors"), bin, bin_len);
	assert_string_equal(ct_tdict_get_meta(&d, "format"), "pt");
	size_t total = 0;
	for (size_t i = 0; i < d.n; i++)
		total += d.v[i].nbytes;
	assert_int_equal(s.n_bytes, total);
	check_skipped(out, s.skipped, s.n_skipped, json_object_get(sd, "skipped"));
	ct_tdict_release(&d);
	convert_summary_release(&s);
	assert_null(s.skipped);
	free(bin);
	assert_int_equal(unlink(out), 0);
}

static void convert_fails(const char *dir, const char *fixture, int code, const char *msg)
{
	char in[256], out[512];
	snprintf(in, sizeof in, FIX "%s", fixture);
	snprintf(out, sizeof out, "%s/bad.safetensors", dir);
	convert_summary s;
	ct_err e = {0};
	assert_int_equal(convert_pth_to_safetensors(in, out, &s, &e), code);
	if (!strstr(e.msg, msg))
		fail_msg("convert %s: '%s' lacks '%s'", fixture, e.msg, msg);
	assert_int_equal(s.n_tensors, 0);
	assert_null(s.skipped);
	assert_int_equal(access(out, F_OK), -1);
}

static void test_convert(void **state)
{
	(void)state;
	char dir[256];
	assert_int_equal(tmpdir_make(dir, sizeof dir, "pth"), 0); /* under $TMPDIR */
	convert_ok(dir, "wrap_model_state_dict.pth", 4);
	convert_ok(dir, "wrap_model_prefixed.pth", 4);
	convert_ok(dir, "dtypes.pth", 10);
	convert_ok(dir, "scalar_empty.pth", 8);
	convert_ok(dir, "noncontig.pth", 11);
	convert_fails(dir, "no_tensors.pth", CT_EUNSUPPORTED,
		      "no_tensors.pth: no tensors to convert");
	convert_fails(dir, "evil_posix_system.pth", CT_ECORRUPT, "forbidden global 'posix.system'");
	convert_fails(dir, "dup_after_strip.pth", CT_EMISMATCH, "duplicate tensor name 'a'");
	convert_fails(dir, "missing.pth", CT_ENOTFOUND, "missing.pth: cannot open");

	char out[600];
	snprintf(out, sizeof out, "%s/no-such-dir/m.safetensors", dir);
	convert_summary s;
	ct_err e = {0};
	assert_int_equal(convert_pth_to_safetensors(FIX "plain.pth", out, &s, &e), CT_EIO);
	assert_non_null(strstr(e.msg, "no-such-dir"));
	assert_int_equal(s.n_tensors, 0);
	assert_int_equal(rmdir(dir), 0); /* converts leave nothing behind */
}

/* ---- robustness: seeded random mutations (run under ASan) ------------------------ */

static void mutate(unsigned char *b, size_t *len, size_t cap)
{
	static const unsigned char ops[] =
		"}])(XqrhjJKM\x8a\x8c\x94\x93GN\x88\x89t\x85\x86\x87laesucRQb.";
	int k = 1 + (int)(rnd() % 4);
	for (int i = 0; i<k && * len> 0; i++) {
		size_t at = rnd() % *len;
		switch (rnd() % 6) {
		case 0: b[at] ^= (unsigned char)(1u << (rnd() % 8)); break;
		case 1: b[at] = (unsigned char)rnd(); break;
		case 2: b[at] = ops[rnd() % (sizeof ops - 1)]; break;
		case 3: b[at] = (unsigned char)(rnd() % 2 ? 0xff : 0x7f); break;
		case 4: { /* delete a range */
			size_t n = 1 + rnd() % 8;
			if (n > *len - at)
				n = *len - at;
			memmove(b + at, b + at + n, *len - at - n);
			*len -= n;
			break;
		}
		default: /* duplicate a range */
			if (*len + 16 <= cap) {
				size_t n = 1 + rnd() % 16;
				if (n > *len - at)
					n = *len - at;
				memmove(b + at + n, b + at, *len - at);
				*len += n;
			}
		}
	}
}

static void test_pickle_mutations(void **state)
{
	(void)state;
	const char *files[] = {"plain.pth", "noncontig.pth", "proto4.pth", "misc.pth"};
	size_t ok = 0, rejected = 0;
	for (size_t f = 0; f < 4; f++) {
		size_t len;
		unsigned char *orig = fixture_pickle(files[f], &len);
		size_t cap = len + 4096;
		unsigned char *b = malloc(cap);
		assert_non_null(b);
		for (int round = 0; round < 800; round++) {
			size_t n = len;
			memcpy(b, orig, len);
			if (round)
				mutate(b, &n, cap);
			ct_tdict d;
			char **sk;
			size_t nsk;
			ct_err e = {0};
			pth_mode mode = round % 2 ? PTH_STATE_DICT : PTH_ALL;
			int rc = pth_parse_pickle(b, n, "mut", mode, zero_get, NULL, &d, &sk, &nsk,
						  &e);
			if (round == 0)
				assert_int_equal(rc, 0);
			if (rc == 0) {
				for (size_t i = 0; i < d.n; i++)
					assert_int_equal(
						d.v[i].nbytes,
						(size_t)ct_shape_numel(d.v[i].ndim, d.v[i].shape) *
							ct_dtype_size(d.v[i].dtype));
				ok++;
			} else {
				assert_true(rc == CT_ECORRUPT || rc == CT_EUNSUPPORTED ||
					    rc == CT_EMISMATCH);
				assert_int_equal(strncmp(e.msg, "mut: ", 5), 0);
				testutil_assert_printable(e.msg);
				assert_int_equal(d.n, 0);
				rejected++;
			}
			pth_skipped_free(sk, nsk);
			ct_tdict_release(&d);
		}
		free(b);
		free(orig);
	}
	assert_true(ok > 4 && rejected > 1000);
}

static void test_zip_mutations(void **state)
{
	(void)state;
	size_t len;
	unsigned char *orig = testutil_read(FIX "plain.pth", &len), *b = malloc(len + 64);
	assert_non_null(b);
	size_t rejected = 0;
	for (int round = 0; round < 400; round++) {
		size_t n = len;
		memcpy(b, orig, len);
		mutate(b, &n, len + 64);
		ct_tdict d;
		ct_err e = {0};
		int rc = pth_parse(b, n, "zip", &d, NULL, NULL, &e);
		if (rc < 0) {
			assert_true(rc == CT_ECORRUPT || rc == CT_EUNSUPPORTED ||
				    rc == CT_EMISMATCH);
			testutil_assert_printable(e.msg);
			rejected++;
		}
		ct_tdict_release(&d);
	}
	assert_true(rejected > 200);
	free(b);
	free(orig);
}

static int setup(void **state)
{
	(void)state;
	json_error_t err;
	g_expect = json_load_file(FIX "expected.json", 0, &err);
	if (!g_expect)
		fprintf(stderr, "test_pth: %s: %s (run from the repository root)\n",
			FIX "expected.json", err.text);
	return g_expect ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(g_expect);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_fixtures),   cmocka_unit_test(test_noncontig_values),
		cmocka_unit_test(test_hostile_fixtures), cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_pickle_numbers),   cmocka_unit_test(test_pickle_helpers),
		cmocka_unit_test(test_convert),          cmocka_unit_test(test_pickle_mutations),
		cmocka_unit_test(test_zip_mutations),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
