/* Tests for data/: IDX and MNIST readers, CSV reader, synthetic data, split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../../ckpt/crc32c.h"
#include "../../data/dataset.h"

TESTUTIL_TMPDIR(tmpdir, "data", setup, teardown)

/* Path of `name` inside the temporary directory (static buffer, 4 slots). */
static const char *tpath(const char *name) { return testutil_path(tmpdir, name); }

static void write_text(const char *name, const char *text)
{
	testutil_write(tpath(name), text, strlen(text));
}

static size_t put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return 4;
}

/* An IDX3 file of n images rows x cols whose pixel k is (7 * k + 3) mod 256. */
static size_t make_images(unsigned char *buf, uint32_t n, uint32_t rows, uint32_t cols)
{
	size_t o = put_be32(buf, 0x00000803);
	o += put_be32(buf + o, n);
	o += put_be32(buf + o, rows);
	o += put_be32(buf + o, cols);
	for (uint32_t k = 0; k < n * rows * cols; k++)
		buf[o++] = (unsigned char)((7 * k + 3) % 256);
	return o;
}

static size_t make_labels(unsigned char *buf, uint32_t n, const unsigned char *lab)
{
	size_t o = put_be32(buf, 0x00000801);
	o += put_be32(buf + o, n);
	memcpy(buf + o, lab, n);
	return o + n;
}

static void expect_err(int rc, const ct_err *e, int code, const char *s1, const char *s2)
{
	if (rc != code || !strstr(e->msg, s1) || (s2 && !strstr(e->msg, s2)))
		print_error("rc %d (want %d), msg \"%s\" (want \"%s\", \"%s\")\n", rc, code, e->msg,
			    s1, s2 ? s2 : "");
	assert_int_equal(rc, code);
	assert_int_equal(e->code, code);
	assert_non_null(strstr(e->msg, s1));
	if (s2)
		assert_non_null(strstr(e->msg, s2));
}

static void check_images(const ct_dataset *ds, int64_t n, int d)
{
	assert_int_equal(ds->n, n);
	assert_int_equal(ds->d, d);
	assert_int_equal((uintptr_t)ds->x % 64, 0);
	for (int64_t k = 0; k < n * d; k++)
		assert_true(ds->x[k] == (float)((7 * k + 3) % 256) / 255.0f);
}

static void test_idx_images_raw_and_gz(void **state)
{
	(void)state;
	unsigned char buf[16 + 3 * 4 * 5];
	size_t len = make_images(buf, 3, 4, 5);
	testutil_write(tpath("img"), buf, len);
	testutil_write_gz(tpath("img.gz"), buf, len);
	ct_dataset ds;
	ct_err e = {0};
	assert_int_equal(ct_idx_read_images(tpath("img"), &ds, &e), 0);
	check_images(&ds, 3, 20);
	assert_null(ds.y);
	assert_true(ds.x[0] == 3.0f / 255.0f && ds.x[1] == 10.0f / 255.0f);
	ct_dataset_release(&ds);
	assert_null(ds.x);
	assert_int_equal(ct_idx_read_images(tpath("img.gz"), &ds, &e), 0);
	check_images(&ds, 3, 20);
	ct_dataset_release(&ds);
}

static void test_idx_labels_raw_and_gz(void **state)
{
	(void)state;
	unsigned char buf[64], lab[4] = {9, 0, 255, 3};
	size_t len = make_labels(buf, 4, lab);
	testutil_write(tpath("lab"), buf, len);
	testutil_write_gz(tpath("lab.gz"), buf, len);
	const char *paths[2] = {tpath("lab"), tpath("lab.gz")};
	for (int i = 0; i < 2; i++) {
		int32_t *y;
		int64_t n;
		ct_err e = {0};
		assert_int_equal(ct_idx_read_labels(paths[i], &y, &n, &e), 0);
		assert_int_equal(n, 4);
		assert_int_equal(y[0], 9);
		assert_int_equal(y[1], 0);
		assert_int_equal(y[2], 255);
		assert_int_equal(y[3], 3);
		free(y);
	}
}

static void test_idx_errors(void **state)
{
	(void)state;
	unsigned char buf[16 + 2 * 3 * 3], lab[2] = {1, 2};
	ct_dataset ds;
	ct_err e = {0};
	int32_t *y;
	int64_t n;
	/* a label file where images are expected, and the reverse */
	size_t len = make_labels(buf, 2, lab);
	testutil_write(tpath("l1"), buf, len);
	expect_err(ct_idx_read_images(tpath("l1"), &ds, &e), &e, CT_ECORRUPT, tpath("l1"),
		   "bad IDX magic 0x00000801, expected 0x00000803");
	assert_null(ds.x);
	len = make_images(buf, 2, 3, 3);
	testutil_write(tpath("i1"), buf, len);
	expect_err(ct_idx_read_labels(tpath("i1"), &y, &n, &e), &e, CT_ECORRUPT, tpath("i1"),
		   "bad IDX magic 0x00000803, expected 0x00000801");
	assert_null(y);
	/* float IDX: valid format, unsupported element type */
	buf[2] = 0x0d;
	testutil_write(tpath("f1"), buf, len);
	expect_err(ct_idx_read_images(tpath("f1"), &ds, &e), &e, CT_EUNSUPPORTED, tpath("f1"),
		   "element type 0x0d");
	buf[2] = 0x08;
	/* cut inside the pixels, inside the header, and extra bytes at the end */
	testutil_write(tpath("t1"), buf, len - 5);
	expect_err(
		ct_idx_read_images(tpath("t1"), &ds, &e), &e, CT_ECORRUPT, tpath("t1"),
		"truncated: the header declares 2 images of 9 pixels but the file ends after 13 of 18");
	testutil_write(tpath("t2"), buf, 10);
	expect_err(ct_idx_read_images(tpath("t2"), &ds, &e), &e, CT_ECORRUPT, tpath("t2"),
		   "truncated IDX header (10 of 16 bytes)");
	unsigned char big[64];
	memcpy(big, buf, len);
	big[len] = 0;
	testutil_write(tpath("t3"), big, len + 1);
	expect_err(ct_idx_read_images(tpath("t3"), &ds, &e), &e, CT_ECORRUPT, tpath("t3"),
		   "extra data");
	len = make_labels(buf, 2, lab);
	testutil_write(tpath("t4"), buf, len - 1);
	expect_err(ct_idx_read_labels(tpath("t4"), &y, &n, &e), &e, CT_ECORRUPT, tpath("t4"),
		   "declares 2 labels but the file holds 1");
	/* zero images */
	len = make_images(buf, 0, 3, 3);
	testutil_write(tpath("z1"), buf, len);
	expect_err(ct_idx_read_images(tpath("z1"), &ds, &e), &e, CT_ECORRUPT, tpath("z1"),
		   "0 items");
	expect_err(ct_idx_read_images(tpath("missing"), &ds, &e), &e, CT_ENOTFOUND,
		   tpath("missing"), "No such file");
}

/* A gzip file cut short must be an error, although zlib reports it as EOF. */
static void test_idx_truncated_gz(void **state)
{
	(void)state;
	static unsigned char buf[16 + 50 * 28 * 28];
	size_t len = make_images(buf, 50, 28, 28);
	testutil_write_gz(tpath("big.gz"), buf, len);
	FILE *f = fopen(tpath("big.gz"), "rb");
	assert_non_null(f);
	static unsigned char gz[sizeof buf + 1024];
	size_t glen = fread(gz, 1, sizeof gz, f);
	assert_int_equal(fclose(f), 0);
	assert_true(glen > 100);
	ct_dataset ds;
	ct_err e = {0};
	/* cut in the deflate data, and only the 8-byte CRC/size trailer */
	testutil_write(tpath("cut1.gz"), gz, glen / 2);
	expect_err(ct_idx_read_images(tpath("cut1.gz"), &ds, &e), &e, CT_ECORRUPT, tpath("cut1.gz"),
		   "gzip");
	assert_null(ds.x);
	testutil_write(tpath("cut2.gz"), gz, glen - 4);
	expect_err(ct_idx_read_images(tpath("cut2.gz"), &ds, &e), &e, CT_ECORRUPT, tpath("cut2.gz"),
		   "gzip");
	/* flip a bit of the stored CRC */
	gz[glen - 6] ^= 1;
	testutil_write(tpath("crc.gz"), gz, glen);
	expect_err(ct_idx_read_images(tpath("crc.gz"), &ds, &e), &e, CT_ECORRUPT, tpath("crc.gz"),
		   "gzip");
}

static void make_mnist_dir(const char *sub, const char *prefix, uint32_t n, uint32_t nlab,
			   const unsigned char *lab, int gz_labels)
{
	char dir[300], path[400];
	snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
	mkdir(dir, 0700);
	static unsigned char buf[16 + 8 * 28 * 28];
	size_t len = make_images(buf, n, 28, 28);
	snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, prefix);
	testutil_write(path, buf, len);
	len = make_labels(buf, nlab, lab);
	snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte%s", dir, prefix,
		 gz_labels ? ".gz" : "");
	if (gz_labels)
		testutil_write_gz(path, buf, len);
	else
		testutil_write(path, buf, len);
}

static void test_mnist_load(void **state)
{
	(void)state;
	unsigned char lab[4] = {3, 9, 0, 7};
	make_mnist_dir("m1", "train", 4, 4, lab, 1);
	make_mnist_dir("m1", "t10k", 2, 2, lab + 2, 0);
	ct_dataset ds;
	ct_err e = {0};
	assert_int_equal(ct_mnist_load(tpath("m1"), 1, &ds, &e), 0);
	check_images(&ds, 4, 784);
	assert_int_equal(ds.n_classes, 10);
	assert_int_equal(ds.y[0], 3);
	assert_int_equal(ds.y[1], 9);
	assert_int_equal(ds.y[3], 7);
	ct_dataset_release(&ds);
	assert_int_equal(ct_mnist_load(tpath("m1"), 0, &ds, &e), 0);
	assert_int_equal(ds.n, 2);
	assert_int_equal(ds.y[0], 0);
	assert_int_equal(ds.y[1], 7);
	assert_true(ds.x[784] == (float)((7 * 784 + 3) % 256) / 255.0f);
	ct_dataset_release(&ds);
}

static void test_mnist_errors(void **state)
{
	(void)state;
	unsigned char lab[4] = {3, 10, 0, 7};
	ct_dataset ds;
	ct_err e = {0};
	mkdir(tpath("empty"), 0700);
	expect_err(ct_mnist_load(tpath("empty"), 1, &ds, &e), &e, CT_ENOTFOUND, tpath("empty"),
		   "tried train-images-idx3-ubyte and train-images-idx3-ubyte.gz");
	assert_non_null(strstr(e.msg, "make data"));
	expect_err(ct_mnist_load(tpath("empty"), 0, &ds, &e), &e, CT_ENOTFOUND,
		   "t10k-images-idx3-ubyte.gz", "experiments/get_data.sh");
	make_mnist_dir("m2", "train", 4, 3, lab, 0); /* 4 images, 3 labels */
	expect_err(ct_mnist_load(tpath("m2"), 1, &ds, &e), &e, CT_EMISMATCH, "4 images in",
		   "but 3 labels in");
	assert_null(ds.x);
	make_mnist_dir("m3", "train", 4, 4, lab, 1); /* label 10 */
	expect_err(ct_mnist_load(tpath("m3"), 1, &ds, &e), &e, CT_ECORRUPT,
		   "train-labels-idx1-ubyte.gz", "label 10 at index 1 is out of range [0, 10)");
	assert_null(ds.x);
	make_mnist_dir("m4", "train", 1, 1, lab, 0); /* labels present, images missing */
	char p[400];
	snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", tpath("m4"));
	assert_int_equal(unlink(p), 0);
	expect_err(ct_mnist_load(tpath("m4"), 1, &ds, &e), &e, CT_ENOTFOUND, "m4",
		   "train-images-idx3-ubyte.gz");
}

/* ---- CSV ---------------------------------------------------------------- */

static void test_csv_header_label_last(void **state)
{
	(void)state;
	const char *text = "a,b,label\n1.5, 2 ,0\n-3,4e-1,2\n0.1,7,1\n";
	write_text("h.csv", text);
	testutil_write_gz(tpath("h.csv.gz"), text, strlen(text));
	const char *paths[2] = {tpath("h.csv"), tpath("h.csv.gz")};
	for (int i = 0; i < 2; i++) {
		ct_dataset ds;
		ct_err e = {0};
		assert_int_equal(ct_csv_load(paths[i], -1, &ds, &e), 0);
		assert_int_equal(ds.n, 3);
		assert_int_equal(ds.d, 2);
		assert_int_equal(ds.n_classes, 3);
		float want[6] = {1.5f, 2.0f, -3.0f, 0.4f, 0.1f, 7.0f};
		assert_memory_equal(ds.x, want, sizeof want);
		assert_int_equal(ds.y[0], 0);
		assert_int_equal(ds.y[1], 2);
		assert_int_equal(ds.y[2], 1);
		assert_int_equal((uintptr_t)ds.x % 64, 0);
		ct_dataset_release(&ds);
	}
}

static void test_csv_no_header_crlf(void **state)
{
	(void)state;
	/* \r\n, label first, float-formatted labels, blank lines, no final newline */
	write_text("n.csv", "\xef\xbb\xbf"
			    "1.0e+00,0.5,0.25\r\n\r\n0,1,-2\r\n4.000,3,3");
	ct_dataset ds;
	ct_err e = {0};
	assert_int_equal(ct_csv_load(tpath("n.csv"), 0, &ds, &e), 0);
	assert_int_equal(ds.n, 3);
	assert_int_equal(ds.d, 2);
	assert_int_equal(ds.n_classes, 5);
	float want[6] = {0.5f, 0.25f, 1, -2, 3, 3};
	assert_memory_equal(ds.x, want, sizeof want);
	assert_int_equal(ds.y[0], 1);
	assert_int_equal(ds.y[1], 0);
	assert_int_equal(ds.y[2], 4);
	ct_dataset_release(&ds);
	/* blank trailing lines and a quoted header with a comma inside quotes */
	write_text("q.csv", "\"x 1\",\"y, z\", \"lab\"\n1,2,1\n3,4,0\n\n  \n\n");
	assert_int_equal(ct_csv_load(tpath("q.csv"), -2, &ds, &e), 0);
	assert_int_equal(ds.n, 2);
	assert_int_equal(ds.d, 2);
	float want2[4] = {1, 1, 3, 0};
	assert_memory_equal(ds.x, want2, sizeof want2);
	assert_int_equal(ds.y[0], 2);
	assert_int_equal(ds.y[1], 4);
	ct_dataset_release(&ds);
}

static void test_csv_no_label(void **state)
{
	(void)state;
	write_text("p.csv", "0.25,-1\n3,\"4\"\n");
	ct_dataset ds;
	ct_err e = {0};
	assert_int_equal(ct_csv_load(tpath("p.csv"), CT_CSV_NO_LABEL, &ds, &e), 0);
	assert_int_equal(ds.n, 2);
	assert_int_equal(ds.d, 2);
	assert_null(ds.y);
	assert_int_equal(ds.n_classes, 0);
	float want[4] = {0.25f, -1, 3, 4};
	assert_memory_equal(ds.x, want, sizeof want);
	ct_dataset_release(&ds);
}

static void csv_err(const char *name, const char *text, int label_column, int code, const char *s1)
{
	ct_dataset ds;
	ct_err e = {0};
	write_text(name, text);
	expect_err(ct_csv_load(tpath(name), label_column, &ds, &e), &e, code, tpath(name), s1);
	assert_null(ds.x);
	assert_null(ds.y);
}

static void test_csv_errors(void **state)
{
	(void)state;
	csv_err("e1.csv", "1,2,0\n3,abc,1\n", -1, CT_ECORRUPT,
		"line 2, column 2: not a number: \"abc\"");
	csv_err("e2.csv", "f,g,l\n\n1,2,0\n3,4,x1\n", -1, CT_ECORRUPT,
		"line 4, column 3: label is not a number: \"x1\"");
	csv_err("e3.csv", "1,2,0\n3,4\n", -1, CT_ECORRUPT,
		"line 2: ragged row: 2 columns, but line 1 has 3");
	csv_err("e4.csv", "1,2,0\n3,4,5,6\n", -1, CT_ECORRUPT, "line 2: ragged row: 4 columns");
	csv_err("e5.csv", "", -1, CT_ECORRUPT, "empty file");
	csv_err("e6.csv", "\n \r\n", -1, CT_ECORRUPT, "empty file");
	csv_err("e7.csv", "a,b\n", -1, CT_ECORRUPT, "no data rows after the header on line 1");
	csv_err("e8.csv", "1,2.5\n", -1, CT_ECORRUPT,
		"line 1, column 2: label is not an integer: \"2.5\"");
	csv_err("e9.csv", "1,0\n1,-1\n", -1, CT_ECORRUPT,
		"line 2, column 2: label is negative: \"-1\"");
	csv_err("e10.csv", "1,2,0\n", 3, CT_EMISMATCH,
		"label_column 3 is out of range for 3 columns");
	csv_err("e11.csv", "1,2,0\n", -4, CT_EMISMATCH, "label_column -4 is out of range");
	csv_err("e12.csv", "1\n2\n", -1, CT_EMISMATCH, "no feature columns");
	csv_err("e13.csv", "1,2,0\n1,,0\n", -1, CT_ECORRUPT, "line 2, column 2: empty cell");
	csv_err("e14.csv", "1,2,0\n1,1e99,0\n", -1, CT_ECORRUPT,
		"line 2, column 2: not a finite float");
	csv_err("e15.csv", "1,2,0\n1,nan,0\n", CT_CSV_NO_LABEL, CT_ECORRUPT,
		"line 2, column 2: not a finite");
	ct_dataset ds;
	ct_err e = {0};
	expect_err(ct_csv_load(tpath("nope.csv"), -1, &ds, &e), &e, CT_ENOTFOUND, "nope.csv",
		   "No such file");
	/* a gzip file cut short */
	static char big[20000];
	for (size_t i = 0; i + 6 < sizeof big; i += 6)
		memcpy(big + i, "1,2,0\n", 6);
	big[sizeof big - 1] = 0;
	testutil_write_gz(tpath("cut.csv.gz"), big, strlen(big));
	FILE *f = fopen(tpath("cut.csv.gz"), "rb");
	assert_non_null(f);
	char gz[20000];
	size_t n = fread(gz, 1, sizeof gz, f);
	assert_int_equal(fclose(f), 0);
	testutil_write(tpath("cut.csv.gz"), gz, n - 3);
	expect_err(ct_csv_load(tpath("cut.csv.gz"), -1, &ds, &e), &e, CT_ECORRUPT, "cut.csv.gz",
		   "gzip");
}

/* ---- synthetic ---------------------------------------------------------- */

/* Accuracy on `te` of the nearest class mean computed on `tr`. */
static double nearest_mean_accuracy(const ct_dataset *tr, const ct_dataset *te)
{
	int k = tr->n_classes, d = tr->d;
	double *m = calloc((size_t)k * (size_t)d, sizeof *m);
	int64_t *cnt = calloc((size_t)k, sizeof *cnt);
	assert_non_null(m);
	assert_non_null(cnt);
	for (int64_t i = 0; i < tr->n; i++) {
		cnt[tr->y[i]]++;
		for (int j = 0; j < d; j++)
			m[tr->y[i] * d + j] += (double)tr->x[i * d + j];
	}
	for (int c = 0; c < k; c++)
		for (int j = 0; j < d; j++)
			m[c * d + j] /= cnt[c] ? (double)cnt[c] : 1.0;
	int64_t ok = 0;
	for (int64_t i = 0; i < te->n; i++) {
		int best = 0;
		double bd = 1e300;
		for (int c = 0; c < k; c++) {
			double s = 0;
			for (int j = 0; j < d; j++) {
				double t = (double)te->x[i * d + j] - m[c * d + j];
				s += t * t;
			}
			if (s < bd) {
				bd = s;
				best = c;
			}
		}
		ok += best == te->y[i];
	}
	free(m);
	free(cnt);
	return (double)ok / (double)te->n;
}

static void test_synthetic_deterministic(void **state)
{
	(void)state;
	ct_dataset a, b, c;
	ct_err e = {0};
	assert_int_equal(ct_synthetic_make(42, 100, 7, 3, &a, &e), 0);
	assert_int_equal(ct_synthetic_make(42, 100, 7, 3, &b, &e), 0);
	assert_int_equal(ct_synthetic_make(43, 100, 7, 3, &c, &e), 0);
	assert_int_equal(a.n, 100);
	assert_int_equal(a.d, 7);
	assert_int_equal(a.n_classes, 3);
	assert_memory_equal(a.x, b.x, 100 * 7 * sizeof(float));
	assert_memory_equal(a.y, b.y, 100 * sizeof(int32_t));
	assert_memory_not_equal(a.x, c.x, 100 * 7 * sizeof(float));
	double var = 0;
	for (int i = 0; i < 100; i++) {
		assert_int_equal(a.y[i], i % 3);
		for (int j = 0; j < 7; j++)
			var += (double)a.x[i * 7 + j] * (double)a.x[i * 7 + j];
	}
	var /= 700;
	assert_true(var > 0.3 && var < 3.0); /* features on a unit scale */
	ct_dataset_release(&a);
	ct_dataset_release(&b);
	ct_dataset_release(&c);
	expect_err(ct_synthetic_make(1, 10, 0, 3, &a, &e), &e, CT_ECONFIG, "n_features >= 1",
		   "got 10, 0, 3");
	expect_err(ct_synthetic_make(1, 10, 2, 1, &a, &e), &e, CT_ECONFIG, "n_classes >= 2", NULL);
	expect_err(ct_synthetic_make(1, 0, 2, 2, &a, &e), &e, CT_ECONFIG, "n_samples >= 1", NULL);
}

static void test_synthetic_learnable(void **state)
{
	(void)state;
	/* includes the hard shapes: ten classes on a line, many dims */
	int shapes[][3] = {{20, 5, 3000}, {1, 10, 3000}, {2, 3, 1500}, {100, 10, 3000}};
	for (int s = 0; s < 8; s++) { /* each shape with both generators */
		ct_dataset all, tr, va;
		ct_err e = {0};
		assert_int_equal(ct_synthetic_generate(7, shapes[s % 4][2], shapes[s % 4][0],
						       shapes[s % 4][1], 1 + s / 4, 1, &all, &e),
				 0);
		assert_int_equal(ct_dataset_split(&all, 0.25, 7, &tr, &va, &e), 0);
		double acc = nearest_mean_accuracy(&tr, &va);
		if (acc <= 0.95)
			print_error("d=%d k=%d generator %d accuracy %.4f\n", shapes[s % 4][0],
				    shapes[s % 4][1], 1 + s / 4, acc);
		assert_true(acc > 0.95);
		ct_dataset_release(&all);
		ct_dataset_release(&tr);
		ct_dataset_release(&va);
	}
}

/* The sequential generator is ctrain 0.1.0's, byte for byte: runs frozen
 * without data.generator regenerate their data from it on resume (the
 * checksum is of the bytes the 0.1.0 ct_synthetic_make wrote for this call). */
static void test_synthetic_sequential_unchanged(void **state)
{
	(void)state;
	ct_dataset a;
	ct_err e = {0};
	for (int threads = 1; threads <= 2; threads++) {
		assert_int_equal(ct_synthetic_generate(42, 1000, 7, 3, 1, threads, &a, &e), 0);
		assert_int_equal(crc32c_update(0, a.x, 1000 * 7 * sizeof(float)), 0x2edde639u);
		for (int i = 0; i < 1000; i++)
			assert_int_equal(a.y[i], i % 3);
		ct_dataset_release(&a);
	}
	/* and the counter generator is another one, with its own fixed bytes */
	assert_int_equal(ct_synthetic_generate(42, 1000, 7, 3, 2, 1, &a, &e), 0);
	assert_int_equal(crc32c_update(0, a.x, 1000 * 7 * sizeof(float)), 0xf29e40d1u);
	ct_dataset_release(&a);
}

/* Counter generator: the same bytes for 1, 2 and 3 threads, and any block of
 * rows, generated alone and out of order, equals those rows of the whole. */
static void test_synthetic_counter_threads(void **state)
{
	(void)state;
	const int64_t n = 3001;
	const int d = 37, k = 5;
	ct_dataset ref, ds;
	ct_err e = {0};
	assert_int_equal(ct_synthetic_generate(9, n, d, k, 2, 1, &ref, &e), 0);
	for (int threads = 2; threads <= 3; threads++) {
		assert_int_equal(ct_synthetic_generate(9, n, d, k, 2, threads, &ds, &e), 0);
		assert_memory_equal(ref.x, ds.x, (size_t)n * (size_t)d * sizeof(float));
		assert_memory_equal(ref.y, ds.y, (size_t)n * sizeof(int32_t));
		ct_dataset_release(&ds);
	}
	ct_synthetic *g;
	assert_int_equal(ct_synthetic_new(&g, 9, n, d, k, 2, &e), 0);
	float *x = malloc(500 * (size_t)d * sizeof *x);
	int32_t *y = malloc(500 * sizeof *y);
	assert_non_null(x);
	assert_non_null(y);
	int64_t firsts[] = {2501, 17, 1000, 0};
	int64_t lens[] = {500, 3, 499, 1};
	for (int b = 0; b < 4; b++) {
		ct_synthetic_rows(g, firsts[b], lens[b], x, y, NULL);
		assert_memory_equal(x, ref.x + firsts[b] * d,
				    (size_t)lens[b] * (size_t)d * sizeof(float));
		assert_memory_equal(y, ref.y + firsts[b], (size_t)lens[b] * sizeof(int32_t));
	}
	free(x);
	free(y);
	ct_synthetic_free(g);
	ct_dataset_release(&ref);
}

/* The counter generator's noise is standard normal: residuals from the class
 * means, standardised, have skewness 0, kurtosis 3 and the normal's share of
 * values beyond 2 and 3.5 standard deviations (the ziggurat's wedges and
 * tail, 4.55% and 0.047%). */
static void test_synthetic_counter_normal(void **state)
{
	(void)state;
	const int64_t n = 20000;
	const int d = 50, k = 4;
	ct_dataset ds;
	ct_err e = {0};
	assert_int_equal(ct_synthetic_generate(5, n, d, k, 2, 2, &ds, &e), 0);
	double *m = calloc((size_t)k * (size_t)d, sizeof *m);
	assert_non_null(m);
	for (int64_t i = 0; i < n; i++)
		for (int j = 0; j < d; j++)
			m[ds.y[i] * d + j] += (double)ds.x[i * d + j] / (double)(n / k);
	double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
	for (int64_t i = 0; i < n; i++)
		for (int j = 0; j < d; j++) {
			double r = (double)ds.x[i * d + j] - m[ds.y[i] * d + j];
			s1 += r;
			s2 += r * r;
		}
	double cnt = (double)n * d, mean = s1 / cnt, sd = sqrt(s2 / cnt - mean * mean);
	double beyond2 = 0, beyond35 = 0;
	for (int64_t i = 0; i < n; i++)
		for (int j = 0; j < d; j++) {
			double z = ((double)ds.x[i * d + j] - m[ds.y[i] * d + j] - mean) / sd;
			s3 += z * z * z;
			s4 += z * z * z * z;
			beyond2 += fabs(z) > 2.0;
			beyond35 += fabs(z) > 3.5;
		}
	print_message("skew %.4f kurtosis %.4f beyond 2: %.5f beyond 3.5: %.6f\n", s3 / cnt,
		      s4 / cnt, beyond2 / cnt, beyond35 / cnt);
	assert_true(fabs(s3 / cnt) < 0.01);
	assert_true(fabs(s4 / cnt - 3.0) < 0.02);
	assert_true(fabs(beyond2 / cnt - 0.0455) < 0.001);
	assert_true(fabs(beyond35 / cnt - 0.000465) < 0.0001);
	free(m);
	ct_dataset_release(&ds);
}

/* ---- split -------------------------------------------------------------- */

static void make_indexed(ct_dataset *ds, int64_t n)
{
	ct_err e = {0};
	assert_int_equal(ct_dataset_alloc(ds, n, 2, 1, "test", &e), 0);
	for (int64_t i = 0; i < n; i++) {
		ds->x[2 * i] = (float)i;
		ds->x[2 * i + 1] = (float)-i;
		ds->y[i] = (int32_t)(i % 4);
	}
	ds->n_classes = 4;
}

static void test_split(void **state)
{
	(void)state;
	ct_dataset all, tr, va, tr2, va2;
	ct_err e = {0};
	make_indexed(&all, 10);
	assert_int_equal(ct_dataset_split(&all, 0.25, 5, &tr, &va, &e), 0);
	assert_int_equal(tr.n, 7); /* round(2.5) = 3 rows of validation */
	assert_int_equal(va.n, 3);
	assert_int_equal(tr.n_classes, 4);
	assert_int_equal(va.d, 2);
	/* the order is ct_data_permutation of the split stream: train first */
	int64_t perm[10];
	ct_rng r;
	ct_rng_seed(&r, 5, CT_RNG_STREAM_SPLIT);
	ct_data_permutation(perm, 10, &r);
	int seen[10] = {0};
	for (int i = 0; i < 10; i++) {
		const ct_dataset *p = i < 7 ? &tr : &va;
		int64_t row = i < 7 ? i : i - 7;
		assert_true(p->x[2 * row] == (float)perm[i]);
		assert_true(p->x[2 * row + 1] == (float)-perm[i]);
		assert_int_equal(p->y[row], perm[i] % 4);
		seen[perm[i]]++;
	}
	for (int i = 0; i < 10; i++)
		assert_int_equal(seen[i], 1);
	/* same seed -> same split, other seed -> other split */
	assert_int_equal(ct_dataset_split(&all, 0.25, 5, &tr2, &va2, &e), 0);
	assert_memory_equal(tr.x, tr2.x, 7 * 2 * sizeof(float));
	assert_memory_equal(va.x, va2.x, 3 * 2 * sizeof(float));
	ct_dataset_release(&tr2);
	ct_dataset_release(&va2);
	assert_int_equal(ct_dataset_split(&all, 0.25, 6, &tr2, &va2, &e), 0);
	assert_memory_not_equal(tr.x, tr2.x, 7 * 2 * sizeof(float));
	ct_dataset_release(&tr2);
	ct_dataset_release(&va2);
	ct_dataset_release(&tr);
	ct_dataset_release(&va);
	assert_int_equal(ct_dataset_split(&all, 0.0, 5, &tr, &va, &e), 0);
	assert_int_equal(tr.n, 10);
	assert_int_equal(va.n, 0);
	ct_dataset_release(&tr);
	ct_dataset_release(&va);
	expect_err(ct_dataset_split(&all, 1.0, 5, &tr, &va, &e), &e, CT_ECONFIG,
		   "val_fraction 1 is outside [0, 1)", NULL);
	expect_err(ct_dataset_split(&all, -0.1, 5, &tr, &va, &e), &e, CT_ECONFIG, "outside", NULL);
	expect_err(ct_dataset_split(&all, 0.96, 5, &tr, &va, &e), &e, CT_ECONFIG,
		   "leaves no training rows out of 10", NULL);
	assert_null(tr.x);
	ct_dataset_release(&all);
}

/* tail: the last rows of the file are val; random: the rows the permuted
 * split holds out, but both parts in file order; permuted = ct_dataset_split. */
static void test_split_kinds(void **state)
{
	(void)state;
	ct_dataset all, tr, va, tr2, va2;
	ct_err e = {0};
	make_indexed(&all, 10);
	assert_int_equal(ct_dataset_split_by(&all, 0.3, CT_SPLIT_TAIL, 5, &tr, &va, &e), 0);
	assert_int_equal(tr.n, 7);
	assert_int_equal(va.n, 3);
	for (int64_t i = 0; i < 10; i++) {
		const ct_dataset *p = i < 7 ? &tr : &va;
		int64_t row = i < 7 ? i : i - 7;
		assert_true(p->x[2 * row] == (float)i);
		assert_int_equal(p->y[row], i % 4);
	}
	ct_dataset_release(&tr);
	ct_dataset_release(&va);

	int64_t perm[10];
	ct_rng r;
	ct_rng_seed(&r, 5, CT_RNG_STREAM_SPLIT);
	ct_data_permutation(perm, 10, &r);
	int is_val[10] = {0};
	for (int i = 7; i < 10; i++)
		is_val[perm[i]] = 1;
	assert_int_equal(ct_dataset_split_by(&all, 0.25, CT_SPLIT_RANDOM, 5, &tr, &va, &e), 0);
	assert_int_equal(tr.n, 7);
	assert_int_equal(va.n, 3);
	int64_t nt = 0, nv = 0;
	for (int64_t i = 0; i < 10; i++) { /* ascending row numbers in each part */
		if (is_val[i]) {
			assert_true(va.x[2 * nv] == (float)i);
			assert_int_equal(va.y[nv++], i % 4);
		} else {
			assert_true(tr.x[2 * nt] == (float)i);
			assert_int_equal(tr.y[nt++], i % 4);
		}
	}
	assert_int_equal(nt, 7);
	assert_int_equal(nv, 3);
	ct_dataset_release(&tr);
	ct_dataset_release(&va);

	assert_int_equal(ct_dataset_split_by(&all, 0.25, CT_SPLIT_PERMUTED, 5, &tr, &va, &e), 0);
	assert_int_equal(ct_dataset_split(&all, 0.25, 5, &tr2, &va2, &e), 0);
	assert_memory_equal(tr.x, tr2.x, 7 * 2 * sizeof(float));
	assert_memory_equal(va.x, va2.x, 3 * 2 * sizeof(float));
	assert_memory_equal(tr.y, tr2.y, 7 * sizeof(int32_t));
	ct_dataset_release(&tr);
	ct_dataset_release(&va);
	ct_dataset_release(&tr2);
	ct_dataset_release(&va2);

	/* val_fraction 0: every row, in file order, for tail and random alike */
	for (int k = 0; k < 2; k++) {
		ct_split_kind kind = k ? CT_SPLIT_RANDOM : CT_SPLIT_TAIL;
		assert_int_equal(ct_dataset_split_by(&all, 0.0, kind, 5, &tr, &va, &e), 0);
		assert_int_equal(tr.n, 10);
		assert_int_equal(va.n, 0);
		assert_memory_equal(tr.x, all.x, 10 * 2 * sizeof(float));
		ct_dataset_release(&tr);
		ct_dataset_release(&va);
	}
	expect_err(ct_dataset_split_by(&all, 0.96, CT_SPLIT_TAIL, 5, &tr, &va, &e), &e, CT_ECONFIG,
		   "leaves no training rows out of 10", NULL);
	ct_dataset_release(&all);
}

/* Fisher-Yates as specified: i from n-1 down, j = ct_rng_below(i + 1). */
static void test_permutation_definition(void **state)
{
	(void)state;
	ct_rng a, b;
	ct_rng_seed(&a, 99, CT_RNG_STREAM_SHUFFLE);
	b = a;
	int64_t perm[5];
	ct_data_permutation(perm, 5, &a);
	int64_t want[5] = {0, 1, 2, 3, 4};
	for (int i = 4; i > 0; i--) {
		int j = (int)ct_rng_below(&b, (uint64_t)i + 1);
		int64_t t = want[i];
		want[i] = want[j];
		want[j] = t;
	}
	assert_memory_equal(perm, want, sizeof want);
	assert_memory_equal(&a, &b, sizeof a); /* exactly n-1 draws consumed */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idx_images_raw_and_gz),
		cmocka_unit_test(test_idx_labels_raw_and_gz),
		cmocka_unit_test(test_idx_errors),
		cmocka_unit_test(test_idx_truncated_gz),
		cmocka_unit_test(test_mnist_load),
		cmocka_unit_test(test_mnist_errors),
		cmocka_unit_test(test_csv_header_label_last),
		cmocka_unit_test(test_csv_no_header_crlf),
		cmocka_unit_test(test_csv_no_label),
		cmocka_unit_test(test_csv_errors),
		cmocka_unit_test(test_synthetic_deterministic),
		cmocka_unit_test(test_synthetic_learnable),
		cmocka_unit_test(test_synthetic_sequential_unchanged),
		cmocka_unit_test(test_synthetic_counter_threads),
		cmocka_unit_test(test_synthetic_counter_normal),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_kinds),
		cmocka_unit_test(test_permutation_definition),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
