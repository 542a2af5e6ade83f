/* Tests for the streaming CSV reader (data/csv.c): its fast float parser
 * against strtof, results and errors that do not depend on the read block
 * size, and memory that does not grow with the file's text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../data/csvparse.h"

TESTUTIL_TMPDIR(tmpdir, "csv", setup, teardown)

static const char *tpath(const char *name) { return testutil_path(tmpdir, name); }

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t next_u64(void) /* splitmix64 */
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static int below(int n) { return (int)(next_u64() % (uint64_t)n); }

static long n_checked, n_fast;

/* csv_parse_float on [s, s + len) either declines or gives exactly strtof's
 * float and end on the same text. */
static void check_float_len(const char *s, size_t len)
{
	char copy[128];
	assert_true(len < sizeof copy);
	memcpy(copy, s, len);
	copy[len] = '\0';
	float f = 0;
	const char *p = csv_parse_float(s, s + len, &f);
	n_checked++;
	if (!p)
		return;
	n_fast++;
	char *endp;
	float g = strtof(copy, &endp);
	uint32_t fb, gb;
	memcpy(&fb, &f, 4);
	memcpy(&gb, &g, 4);
	if (fb != gb || p - s != endp - copy)
		print_error("\"%s\": fast %a (end %td), strtof %a (end %td)\n", copy, (double)f,
			    p - s, (double)g, endp - copy);
	assert_int_equal(fb, gb);
	assert_int_equal(p - s, endp - copy);
}

static void check_float(const char *s) { check_float_len(s, strlen(s)); }

static float random_float(void)
{
	for (;;) {
		uint32_t b = (uint32_t)next_u64();
		float f;
		memcpy(&f, &b, 4);
		if (isfinite(f))
			return f;
	}
}

/* Random decimal syntax: sign, leading zeros, digits, point, exponent. */
static void random_decimal(char *buf, size_t cap)
{
	static const char *signs[] = {"", "", "-", "+"};
	size_t n = 0;
	n += (size_t)snprintf(buf + n, cap - n, "%s", signs[below(4)]);
	for (int i = below(4) == 0 ? below(4) : 0; i > 0; i--)
		buf[n++] = '0';
	int ints = below(14), fracs = below(14);
	for (int i = 0; i < ints; i++)
		buf[n++] = (char)('0' + below(10));
	if (below(5) > 0) {
		buf[n++] = '.';
		for (int i = 0; i < fracs; i++)
			buf[n++] = (char)('0' + below(10));
	}
	if (below(2)) {
		buf[n++] = below(2) ? 'e' : 'E';
		int ex = below(90) - 45;
		n += (size_t)snprintf(buf + n, cap - n, below(3) ? "%d" : "%+03d", ex);
	}
	buf[n] = '\0';
}

static void test_float_edges(void **state)
{
	(void)state;
	static const char *edge[] = {
		"0",
		"-0",
		"+0",
		"0.0",
		"-0.0e5",
		"0e99999999",
		"-.0",
		"00000",
		"0.",
		".0",
		"1",
		"-1",
		"+1",
		"1.",
		".5",
		"-.5",
		"5.e3",
		"1e0",
		"1E+0",
		"1e-0",
		"3.4028235e38",
		"3.40282347e+38",
		"3.4028236e38",
		"3.5e38",
		"-3.4028235e38",
		"1.17549435e-38",
		"1.1754942e-38",
		"1.17549421e-38",
		"1.4e-45",
		"7e-46",
		"1e-46",
		"16777216",
		"16777217",
		"16777218",
		"16777219",
		"33554434",
		"33554435",
		"16777217.0",
		"16777217.000000001",
		"1.6777217e7",
		"0.16777217e8",
		"9007199254740992",
		"9007199254740993",
		"9007199254740994",
		"1e22",
		"1e23",
		"1e-22",
		"1e-23",
		"4.5e15",
		"1234567890123456789",
		"12345678901234567890",
		"0.0000000000000000000000000000012345",
		"000000000000000000000000001.5",
		"1.00000000000000000000",
		"1.000000000000000000000000000001",
		"0.1",
		"0.2",
		"0.3",
		"-0.7037352",
		"1.234567e-05",
		"9.999999e+37",
		"1e",
		"1e+",
		"1e-",
		"e5",
		".",
		"-",
		"+",
		"",
		"+-1",
		"--1",
		"1..2",
		"1.2.3",
		"0x10",
		"0x1p3",
		"-0x1.8p1",
		"inf",
		"-inf",
		"infinity",
		"nan",
		"NAN",
		"1,2",
		"1 ",
		" 1",
		"1e5x",
		"1_000",
		"١",
	};
	for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
		check_float(edge[i]);
	/* a few must take the fast path, exactly */
	float f;
	const char *s = "-0.7037352,";
	assert_ptr_equal(csv_parse_float(s, s + strlen(s), &f), s + 10);
	assert_true(f == -0.7037352f);
	s = "-0";
	assert_non_null(csv_parse_float(s, s + 2, &f));
	assert_true(f == 0 && signbit(f));
	/* ...and some must be left to strtof */
	static const char *declined[] = {
		"16777217", "1e-46", "1e39", "0x10", "inf", "nan", "12345678901234567890",
		"1e",       ""};
	for (size_t i = 0; i < sizeof declined / sizeof declined[0]; i++)
		assert_null(csv_parse_float(declined[i], declined[i] + strlen(declined[i]), &f));
	/* the end bound is respected: "12345" seen as "123" */
	s = "12345";
	assert_ptr_equal(csv_parse_float(s, s + 3, &f), s + 3);
	assert_true(f == 123.0f);
}

static void test_float_random_vs_strtof(void **state)
{
	(void)state;
	char buf[96];
	n_checked = n_fast = 0;
	/* 1. random finite floats printed in every common way */
	for (int i = 0; i < 60000; i++) {
		double v = (double)random_float();
		if (below(2))
			v = ldexp(v, -below(200)); /* many magnitudes, subnormals too */
		for (int prec = 1; prec <= 9; prec++) {
			snprintf(buf, sizeof buf, "%.*g", prec, v);
			check_float(buf);
		}
		snprintf(buf, sizeof buf, "%.17g", v);
		check_float(buf);
		snprintf(buf, sizeof buf, "%.*e", 1 + below(9), v);
		check_float(buf);
		if (fabs(v) < 1e30) {
			snprintf(buf, sizeof buf, "%.*f", below(13), v);
			check_float(buf);
		}
	}
	/* 2. numbers of the CSV file in the benchmark: normal deviates, "%.7g";
	 *    (nearly) all of them must take the fast path */
	long fast_before = n_fast;
	for (int i = 0; i < 200000; i++) {
		double u = ((double)(next_u64() >> 11) + 0.5) / 9007199254740992.0;
		double v = (double)(below(2) ? 1 : -1) * sqrt(-2 * log(u)) *
			   cos(6.283185307179586 * (double)(next_u64() >> 11) / 9007199254740992.0);
		snprintf(buf, sizeof buf, "%.7g", v);
		check_float(buf);
	}
	assert_true(n_fast - fast_before > 199000);
	/* 3. halfway cases: exact midpoints between adjacent floats, and decimals
	 *    rounded near them at every precision a double can tell apart */
	for (int i = 0; i < 30000; i++) {
		float f = fabsf(random_float());
		if (i % 4 == 0)
			f = (float)(below(1 << 26) + 1); /* integers: 2^24 + odd is halfway */
		if (!(f < FLT_MAX))
			continue;
		double mid = ((double)f + (double)nextafterf(f, INFINITY)) / 2;
		snprintf(buf, sizeof buf, "%.0f", mid);
		if (strlen(buf) < 40)
			check_float(buf);
		for (int prec = 6; prec <= 19; prec++) {
			snprintf(buf, sizeof buf, "%.*e", prec, mid);
			check_float(buf);
			snprintf(buf, sizeof buf, "%.*e", prec, nextafter(mid, 0));
			check_float(buf);
			snprintf(buf, sizeof buf, "%.*e", prec, nextafter(mid, (double)INFINITY));
			check_float(buf);
		}
	}
	/* 4. random decimal syntax, also cut at a random place (the end bound) */
	for (int i = 0; i < 250000; i++) {
		random_decimal(buf, sizeof buf);
		size_t len = strlen(buf);
		check_float_len(buf, len);
		if (len > 0)
			check_float_len(buf, (size_t)below((int)len));
	}
	print_message("csv_parse_float: %ld strings compared with strtof, %ld (%.0f%%) on the "
		      "fast path\n",
		      n_checked, n_fast, 100.0 * (double)n_fast / (double)n_checked);
	assert_true(n_checked > 2000000);
	assert_true(n_fast > n_checked / 3); /* the fast path is the one tested */
}

/* ---- block boundaries ----------------------------------------------------- */

typedef struct csv_case {
	const char *text;
	int label_column, header;
	const char *error; /* NULL: loads */
} csv_case;

static const size_t blocks[] = {1, 2, 3, 7, 64, 1000};

/* The rows of path through csv_reader, `per` rows a read, as `ctrain data
 * convert` reads them (the count first; if it fails, the rows before the
 * damage); *ds as ct_csv_load would fill it (x and y malloc'ed). */
static int reader_load(const char *path, int label_column, int header, size_t block, int64_t per,
		       ct_dataset *ds, ct_err *e)
{
	memset(ds, 0, sizeof *ds);
	csv_reader *r;
	int rc = csv_reader_open(&r, path, label_column, header, block, e);
	if (rc < 0)
		return rc;
	int64_t n = 0;
	ct_err ce = {0};
	int crc = csv_reader_count(r, &n, &ce);
	int d = csv_reader_features(r), lab = csv_reader_labelled(r);
	int64_t cap = crc == 0 ? n : 64;
	float *x = malloc((size_t)(cap + per) * (size_t)(d > 0 ? d : 1) * sizeof *x);
	int32_t *y = malloc((size_t)(cap + per) * sizeof *y);
	assert_non_null(x);
	assert_non_null(y);
	int64_t got = 0, k;
	while ((k = csv_reader_read(r, per, x + (crc == 0 ? got : 0) * d,
				    lab ? y + (crc == 0 ? got : 0) : NULL, e)) > 0) {
		got += k;
		assert_true(crc < 0 || got <= n);
	}
	rc = k < 0 ? (int)k : crc;
	if (k == 0 && crc < 0)
		*e = ce;
	if (rc == 0)
		assert_int_equal(got, n);
	int crc2 = csv_reader_close(r, rc == 0 ? e : NULL);
	rc = rc == 0 ? crc2 : rc;
	if (rc < 0) {
		free(x);
		free(y);
		return rc;
	}
	ds->n = n;
	ds->d = d;
	ds->x = x;
	ds->y = lab ? y : NULL;
	if (!lab)
		free(y);
	ds->n_classes = 0;
	for (int64_t i = 0; lab && i < n; i++)
		ds->n_classes = y[i] + 1 > ds->n_classes ? y[i] + 1 : ds->n_classes;
	if (lab && ds->n_classes < 1)
		ds->n_classes = 1;
	return 0;
}

static void check_case(const csv_case *k, int gz)
{
	const char *path = tpath(gz ? "b.csv.gz" : "b.csv");
	if (gz)
		testutil_write_gz(path, k->text, strlen(k->text));
	else
		testutil_write(path, k->text, strlen(k->text));
	ct_dataset ref;
	ct_err e0 = {0};
	int rc0 = ct_csv_load_header(path, k->label_column, k->header, &ref, &e0);
	if (k->error) {
		if (rc0 >= 0 || !strstr(e0.msg, k->error))
			print_error("%s: rc %d \"%s\", want \"%s\"\n", k->text, rc0, e0.msg,
				    k->error);
		assert_true(rc0 < 0);
		assert_non_null(strstr(e0.msg, k->error));
	} else {
		if (rc0 < 0)
			print_error("%s: %s\n", k->text, e0.msg);
		assert_int_equal(rc0, 0);
	}
	for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
		ct_dataset ds;
		ct_err e = {0};
		int rc = csv_load_block(path, k->label_column, k->header, blocks[b], &ds, &e);
		assert_int_equal(rc, rc0);
		if (rc0 < 0) {
			assert_string_equal(e.msg, e0.msg);
			assert_null(ds.x);
			continue;
		}
		assert_int_equal(ds.n, ref.n);
		assert_int_equal(ds.d, ref.d);
		assert_int_equal(ds.n_classes, ref.n_classes);
		assert_memory_equal(ds.x, ref.x, (size_t)ref.n * (size_t)ref.d * sizeof(float));
		assert_int_equal(!ds.y, !ref.y);
		if (ref.y)
			assert_memory_equal(ds.y, ref.y, (size_t)ref.n * sizeof(int32_t));
		ct_dataset_release(&ds);
	}
	/* the streaming reader: the same rows and errors, whatever the read sizes */
	for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
		ct_dataset ds;
		ct_err e = {0};
		int rc = reader_load(path, k->label_column, k->header, blocks[b],
				     (int64_t)b % 3 + 1, &ds, &e);
		if (rc != rc0 || (rc0 < 0 && strcmp(e.msg, e0.msg) != 0))
			print_error("reader, block %zu: rc %d \"%s\", want %d \"%s\"\n", blocks[b],
				    rc, e.msg, rc0, e0.msg);
		assert_int_equal(rc, rc0);
		if (rc0 < 0) {
			assert_string_equal(e.msg, e0.msg);
			continue;
		}
		assert_int_equal(ds.n, ref.n);
		assert_int_equal(ds.d, ref.d);
		assert_int_equal(ds.n_classes, ref.n_classes);
		assert_memory_equal(ds.x, ref.x, (size_t)ref.n * (size_t)ref.d * sizeof(float));
		assert_int_equal(!ds.y, !ref.y);
		if (ref.y)
			assert_memory_equal(ds.y, ref.y, (size_t)ref.n * sizeof(int32_t));
		free(ds.x);
		free(ds.y);
	}
	if (rc0 == 0)
		ct_dataset_release(&ref);
}

static void test_blocks(void **state)
{
	(void)state;
	/* a long row (more than 64 bytes) with every plain and unusual cell kind */
	static const char odd[] =
		"\xef\xbb\xbf\"a\",\" b, c\" ,label\r\n\r\n  \t \r\n1.5, 2 ,0\r\n\"-3\",4e-1,2\n\n"
		"0x1p3,+7,1.0e0\n-0,1e-40,3\n  \n.5,5.,007\n"
		"1.00000000000000000000001,16777217,4\n"
		"-0.7037352,1.234567e-05,5\n\t-1.5\t,\"2\",6\n123456.789,-0.000001,0\n"
		"0.12573020000000000000000000000000000000000000000000000000000000000001,"
		"2.5E+3,1\n3,4,2";
	const csv_case ok[] = {
		{odd, -1, CT_CSV_HEADER_AUTO, NULL},
		{odd, -1, CT_CSV_HEADER_TRUE, NULL},
		{odd, 0, CT_CSV_HEADER_AUTO, "line 4, column 1: label is not an integer: \"1.5\""},
		{odd, -2, CT_CSV_HEADER_AUTO,
		 "line 5, column 2: label is not an integer: \"4e-1\""},
		{odd, -1, CT_CSV_HEADER_FALSE, "line 1, column 1: not a number: \"a\""},
		{"1,2\n3,4\n", CT_CSV_NO_LABEL, CT_CSV_HEADER_FALSE, NULL},
		{"\xef\xbb\xbf", -1, CT_CSV_HEADER_AUTO, "empty file"},
		{"\xef\xbb\xbf\r\n1,0", -1, CT_CSV_HEADER_AUTO, NULL},
		{"1,2,0\n3,abc,1\n", -1, CT_CSV_HEADER_AUTO,
		 "line 2, column 2: not a number: \"abc\""},
		{"f,g,l\n\n1,2,0\n3,4,x1\n", -1, CT_CSV_HEADER_AUTO,
		 "line 4, column 3: label is not a number: \"x1\""},
		{"1,2,0\r\n3,4\r\n", -1, CT_CSV_HEADER_AUTO,
		 "line 2: ragged row: 2 columns, but line 1 has 3"},
		{"1,2,0\n3,4,5,6\n", -1, CT_CSV_HEADER_AUTO, "line 2: ragged row: 4 columns"},
		{"", -1, CT_CSV_HEADER_AUTO, "empty file"},
		{"\n \r\n", -1, CT_CSV_HEADER_AUTO, "empty file"},
		{"a,b\n\n  \n", -1, CT_CSV_HEADER_AUTO, "no data rows after the header on line 1"},
		{"a,b\n", 7, CT_CSV_HEADER_AUTO, "no data rows after the header on line 1"},
		{"a,b\n1,2\n", 7, CT_CSV_HEADER_AUTO, "label_column 7 is out of range"},
		{"1,2.5\n", -1, CT_CSV_HEADER_AUTO, "line 1, column 2: label is not an integer"},
		{"1,0\n1,-1\n", -1, CT_CSV_HEADER_AUTO, "line 2, column 2: label is negative"},
		{"1,2,0\n1,,0\n", -1, CT_CSV_HEADER_AUTO, "line 2, column 2: empty cell"},
		{"1,2,0\n1,1e99,0\n", -1, CT_CSV_HEADER_AUTO,
		 "line 2, column 2: not a finite float"},
		{"1,2,0\n1,nan,0\n", CT_CSV_NO_LABEL, CT_CSV_HEADER_AUTO,
		 "line 2, column 2: not a finite"},
		{"x,1,0\n", -1, CT_CSV_HEADER_AUTO,
		 "line 1, column 1: not a number: \"x\" (the first"},
		{"1,2,3\n4,5,6\n\n7,8,99999999999\n", -1, CT_CSV_HEADER_AUTO,
		 "line 4, column 3: label is too large"},
		{"1,2,3\n4,5,6\n7,8,9,\n", -1, CT_CSV_HEADER_AUTO, "line 3: ragged row: 4 columns"},
		{"1,2,3\n4,5,1e\n", -1, CT_CSV_HEADER_AUTO,
		 "line 2, column 3: label is not a number"},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		check_case(&ok[i], 0);
		check_case(&ok[i], 1);
	}
	/* the odd file's values, as the general path (strtof) reads them */
	ct_dataset ds;
	ct_err e = {0};
	testutil_write(tpath("o.csv"), odd, strlen(odd));
	assert_int_equal(csv_load_block(tpath("o.csv"), -1, CT_CSV_HEADER_AUTO, 3, &ds, &e), 0);
	assert_int_equal(ds.n, 11);
	assert_int_equal(ds.d, 2);
	assert_int_equal(ds.n_classes, 8);
	const float want[22] = {1.5f,        2.0f,          -3.0f, 0.4f, 8.0f,        7.0f,
				-0.0f,       1e-40f,        0.5f,  5.0f, 1.0f,        16777216.0f,
				-0.7037352f, 1.234567e-05f, -1.5f, 2.0f, 123456.789f, -0.000001f,
				0.1257302f,  2500.0f,       3.0f,  4.0f};
	assert_memory_equal(ds.x, want, sizeof want);
	const int32_t wy[11] = {0, 2, 1, 3, 7, 4, 5, 6, 0, 1, 2};
	assert_memory_equal(ds.y, wy, sizeof wy);
	assert_true(signbit(ds.x[6]));
	ct_dataset_release(&ds);
}

/* Many rows of plain numbers (the fast path) loaded with block sizes that
 * cut them everywhere give the bytes strtof gives, cell by cell. */
static void test_blocks_many_rows(void **state)
{
	(void)state;
	size_t cap = 400000, n = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	float want[3000 * 3];
	int32_t wy[3000];
	for (int r = 0; r < 3000; r++) {
		for (int k = 0; k < 3; k++) {
			char cellbuf[64], *endp;
			random_decimal(cellbuf, sizeof cellbuf);
			float f = strtof(cellbuf, &endp);
			if (cellbuf[0] == '\0' || *endp != '\0' || !isfinite(f)) {
				snprintf(cellbuf, sizeof cellbuf, "%d", k); /* "1e" and such */
				f = (float)k;
			}
			want[r * 3 + k] = f;
			n += (size_t)snprintf(text + n, cap - n, "%s,", cellbuf);
		}
		wy[r] = r % 17;
		n += (size_t)snprintf(text + n, cap - n, "%d%s", wy[r], r % 5 ? "\n" : "\r\n");
	}
	testutil_write(tpath("m.csv"), text, n);
	for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
		ct_dataset ds;
		ct_err e = {0};
		int rc =
			csv_load_block(tpath("m.csv"), -1, CT_CSV_HEADER_FALSE, blocks[b], &ds, &e);
		if (rc < 0)
			print_error("%s\n", e.msg);
		assert_int_equal(rc, 0);
		assert_int_equal(ds.n, 3000);
		assert_int_equal(ds.d, 3);
		assert_memory_equal(ds.x, want, sizeof want);
		assert_memory_equal(ds.y, wy, sizeof wy);
		ct_dataset_release(&ds);
	}
	free(text);
}

/* ---- memory --------------------------------------------------------------- */

/* 48 MiB of text holding 2,000 rows: the peak RSS of loading it must not
 * grow with the text (the old reader held all of it: +48 MiB at least). */
static void test_memory_does_not_grow_with_text(void **state)
{
	(void)state;
	FILE *f = fopen(tpath("big.csv"), "wb");
	assert_non_null(f);
	static char blank[1024];
	memset(blank, ' ', sizeof blank - 1);
	blank[sizeof blank - 1] = '\n';
	for (int r = 0; r < 2000; r++) {
		assert_true(fprintf(f, "%d.5,%d\n", r, r % 3) > 0);
		for (int i = 0; i < 24; i++)
			assert_int_equal(fwrite(blank, 1, sizeof blank, f), sizeof blank);
	}
	assert_int_equal(fclose(f), 0);
	assert_int_equal(peak_rss_reset(), 0);
	long before = peak_rss_kb("VmHWM");
	assert_true(before > 0);
	ct_dataset ds;
	ct_err e = {0};
	assert_int_equal(ct_csv_load(tpath("big.csv"), -1, &ds, &e), 0);
	long grew = peak_rss_kb("VmHWM") - before;
	print_message("peak RSS grew by %ld kB loading %d kB of CSV text\n", grew, 2000 * 25);
	assert_int_equal(ds.n, 2000);
	assert_true(ds.x[1999] == 1999.5f);
	ct_dataset_release(&ds);
	assert_true(grew < 12 * 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_float_edges),
		cmocka_unit_test(test_float_random_vs_strtof),
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_blocks_many_rows),
		cmocka_unit_test(test_memory_does_not_grow_with_text),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
