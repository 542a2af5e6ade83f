/* Tests for data at scale: the HDF5 input reader (data/hdf5in.h) and the
 * split without copies (ct_dataset_split_move). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../data/dataset.h"
#include "../../data/h5stream.h"
#include "../../data/hdf5in.h"
#include "../../data/loader.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	return tmpdir_make(tmpdir, sizeof tmpdir, "data_scale");
}

static int teardown(void **state)
{
	(void)state;
	return tmpdir_remove(tmpdir);
}

static const char *tpath(const char *name) { return testutil_path(tmpdir, name); }

static void expect_err(int rc, const ct_err *e, int code, const char *s1, const char *s2)
{
	if (rc != code || (s1 && !strstr(e->msg, s1)) || (s2 && !strstr(e->msg, s2)))
		fail_msg("expected code %d with '%s' '%s', got %d: %s", code, s1 ? s1 : "",
			 s2 ? s2 : "", rc, e->msg);
}

/* ---- writing test files with the HDF5 C API -------------------------------- */

typedef struct wspec {
	hid_t file_type, mem_type; /* of the features */
	int rank;                  /* of the features (2 normally) */
	hsize_t chunk_rows;        /* 0 = contiguous */
	int deflate, shuffle, fletcher;
	int external;
	const char *xname, *yname;
	hid_t label_type;
} wspec;

static wspec default_spec(void)
{
	wspec w = {.file_type = H5T_IEEE_F32LE,
		   .mem_type = H5T_NATIVE_FLOAT,
		   .rank = 2,
		   .xname = "features",
		   .yname = "labels",
		   .label_type = H5T_STD_I64LE};
	return w;
}

/* n x d features (buffer of mem_type) and n int64 labels (NULL: none). */
static void write_h5(const char *path, const wspec *w, hsize_t n, hsize_t d, const void *x,
		     const int64_t *y)
{
	hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	assert_true(f >= 0);
	hsize_t dims[2] = {n, d};
	hid_t s = H5Screate_simple(w->rank, dims, NULL);
	hid_t p = H5Pcreate(H5P_DATASET_CREATE);
	if (w->chunk_rows) {
		hsize_t c[2] = {w->chunk_rows, d};
		assert_true(H5Pset_chunk(p, w->rank, c) >= 0);
		if (w->shuffle)
			assert_true(H5Pset_shuffle(p) >= 0);
		if (w->deflate)
			assert_true(H5Pset_deflate(p, 4) >= 0);
		if (w->fletcher)
			assert_true(H5Pset_fletcher32(p) >= 0);
	}
	if (w->external) {
		char ext[600];
		snprintf(ext, sizeof ext, "%s.raw", path);
		assert_true(H5Pset_external(p, ext, 0, H5F_UNLIMITED) >= 0);
	}
	hid_t ds = H5Dcreate2(f, w->xname, w->file_type, s, H5P_DEFAULT, p, H5P_DEFAULT);
	assert_true(ds >= 0);
	assert_true(H5Dwrite(ds, w->mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
	H5Dclose(ds);
	H5Pclose(p);
	H5Sclose(s);
	if (y) {
		s = H5Screate_simple(1, dims, NULL);
		ds = H5Dcreate2(f, w->yname, w->label_type, s, H5P_DEFAULT, H5P_DEFAULT,
				H5P_DEFAULT);
		assert_true(ds >= 0);
		assert_true(H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0);
		H5Dclose(ds);
		H5Sclose(s);
	}
	assert_true(H5Fclose(f) >= 0);
}

#define N 50
#define D 3

static void fill(float *x, double *xd, unsigned char *xb, int64_t *y)
{
	for (int i = 0; i < N; i++) {
		for (int j = 0; j < D; j++) {
			float v = (float)(i * D + j) * 0.5f - 3.0f;
			if (x)
				x[i * D + j] = v;
			if (xd)
				xd[i * D + j] = (double)v;
			if (xb)
				xb[i * D + j] = (unsigned char)(i * D + j);
		}
		y[i] = i % 5;
	}
}

static void check_loaded(const ct_dataset *ds, const float *x, const int64_t *y)
{
	assert_int_equal(ds->n, N);
	assert_int_equal(ds->d, D);
	assert_int_equal(ds->n_classes, 5);
	assert_memory_equal(ds->x, x, sizeof(float) * N * D);
	for (int i = 0; i < N; i++)
		assert_int_equal(ds->y[i], y[i]);
}

static void test_hdf5_layouts_and_types(void **state)
{
	(void)state;
	float x[N * D];
	double xd[N * D];
	unsigned char xb[N * D];
	int64_t y[N];
	fill(x, xd, xb, y);
	ct_err e = {0};
	ct_dataset ds;
	struct {
		const char *name;
		hid_t ft, mt;
		hsize_t chunk;
		int deflate, shuffle;
		hid_t lt;
	} cases[] = {
		{"f32.h5", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 0, 0, 0, H5T_STD_I64LE},
		{"f32be_chunk.h5", H5T_IEEE_F32BE, H5T_NATIVE_FLOAT, 7, 1, 1, H5T_STD_U8LE},
		{"f64.h5", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, 0, 0, H5T_STD_I32BE},
		{"f64_gzip.h5", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 16, 1, 0, H5T_STD_U16LE},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		wspec w = default_spec();
		w.file_type = cases[c].ft;
		w.mem_type = cases[c].mt;
		w.chunk_rows = cases[c].chunk;
		w.deflate = cases[c].deflate;
		w.shuffle = cases[c].shuffle;
		w.label_type = cases[c].lt;
		const void *src =
			cases[c].mt == H5T_NATIVE_FLOAT ? (const void *)x : (const void *)xd;
		write_h5(tpath(cases[c].name), &w, N, D, src, y);
		int rc = hdf5_load(tpath(cases[c].name), "features", "labels", &ds, &e);
		if (rc != 0)
			fail_msg("%s: %s", cases[c].name, e.msg);
		check_loaded(&ds, x, y);
		ct_dataset_release(&ds);
	}
	/* uint8 features are taken as they are (0..255, not scaled) */
	wspec w = default_spec();
	w.file_type = H5T_STD_U8LE;
	w.mem_type = H5T_NATIVE_UCHAR;
	write_h5(tpath("u8.h5"), &w, N, D, xb, y);
	assert_int_equal(hdf5_load(tpath("u8.h5"), "features", "labels", &ds, &e), 0);
	for (int i = 0; i < N * D; i++)
		assert_true(ds.x[i] == (float)xb[i]);
	ct_dataset_release(&ds);
	/* other names, and features only */
	w = default_spec();
	w.xname = "X";
	w.yname = "grp_y";
	write_h5(tpath("names.h5"), &w, N, D, x, y);
	assert_int_equal(hdf5_load(tpath("names.h5"), "X", "grp_y", &ds, &e), 0);
	check_loaded(&ds, x, y);
	ct_dataset_release(&ds);
	assert_int_equal(hdf5_load(tpath("names.h5"), "X", NULL, &ds, &e), 0);
	assert_null(ds.y);
	assert_int_equal(ds.n_classes, 0);
	ct_dataset_release(&ds);
}

static void test_hdf5_rejects_descriptions(void **state)
{
	(void)state;
	float x[N * D];
	int64_t y[N];
	fill(x, NULL, NULL, y);
	ct_err e = {0};
	ct_dataset ds;
	wspec w = default_spec();
	write_h5(tpath("ok.h5"), &w, N, D, x, y);
	expect_err(hdf5_load(tpath("ok.h5"), "nope", "labels", &ds, &e), &e, CT_ENOTFOUND,
		   "ok.h5: no dataset 'nope'", NULL);
	expect_err(hdf5_load(tpath("ok.h5"), "features", "lab", &ds, &e), &e, CT_ENOTFOUND,
		   "no dataset 'lab'", NULL);
	expect_err(hdf5_load(tpath("missing.h5"), "features", "labels", &ds, &e), &e, CT_ENOTFOUND,
		   "missing.h5", NULL);
	/* wrong type: int32 features, float labels */
	int32_t xi[N * D];
	for (int i = 0; i < N * D; i++)
		xi[i] = i;
	w.file_type = H5T_STD_I32LE;
	w.mem_type = H5T_NATIVE_INT32;
	write_h5(tpath("int_feat.h5"), &w, N, D, xi, y);
	expect_err(hdf5_load(tpath("int_feat.h5"), "features", "labels", &ds, &e), &e,
		   CT_EUNSUPPORTED, "int_feat.h5: dataset 'features': type integer of 4 bytes",
		   "float32, float64 or uint8");
	w = default_spec();
	w.label_type = H5T_IEEE_F32LE;
	write_h5(tpath("float_lab.h5"), &w, N, D, x, y);
	expect_err(hdf5_load(tpath("float_lab.h5"), "features", "labels", &ds, &e), &e,
		   CT_EUNSUPPORTED, "dataset 'labels': type float of 4 bytes", "integers");
	/* wrong shape: 1-D features, rows that disagree */
	w = default_spec();
	w.rank = 1;
	write_h5(tpath("rank1.h5"), &w, N, D, x, y);
	expect_err(hdf5_load(tpath("rank1.h5"), "features", "labels", &ds, &e), &e, CT_EMISMATCH,
		   "rank1.h5: dataset 'features' has 1 dimension, expected 2", NULL);
	w = default_spec();
	write_h5(tpath("rows.h5"), &w, N, D, x, NULL);
	hid_t f = H5Fopen(tpath("rows.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
	hsize_t n1 = N - 1;
	hid_t s = H5Screate_simple(1, &n1, NULL);
	hid_t d = H5Dcreate2(f, "labels", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	assert_true(H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0);
	H5Dclose(d);
	H5Sclose(s);
	H5Fclose(f);
	expect_err(hdf5_load(tpath("rows.h5"), "features", "labels", &ds, &e), &e, CT_EMISMATCH,
		   "dataset 'labels' has 49 rows but 'features' has 50", NULL);
	/* filters other than deflate and shuffle; external storage */
	w = default_spec();
	w.chunk_rows = 10;
	w.fletcher = 1;
	write_h5(tpath("fletcher.h5"), &w, N, D, x, y);
	expect_err(hdf5_load(tpath("fletcher.h5"), "features", "labels", &ds, &e), &e,
		   CT_EUNSUPPORTED, "dataset 'features': filter 3",
		   "only deflate/gzip and shuffle");
	w = default_spec();
	w.external = 1;
	write_h5(tpath("ext.h5"), &w, N, D, x, y);
	expect_err(hdf5_load(tpath("ext.h5"), "features", "labels", &ds, &e), &e, CT_EUNSUPPORTED,
		   "dataset 'features' keeps its data in external files", NULL);
	/* not HDF5 at all */
	FILE *t = fopen(tpath("text.h5"), "w");
	assert_non_null(t);
	fputs("1,2,3\n", t);
	fclose(t);
	expect_err(hdf5_load(tpath("text.h5"), "features", "labels", &ds, &e), &e, CT_ECORRUPT,
		   "text.h5: not an HDF5 file", NULL);
	assert_null(ds.x);
}

static void test_hdf5_bad_values(void **state)
{
	(void)state;
	float x[N * D];
	int64_t y[N];
	fill(x, NULL, NULL, y);
	ct_err e = {0};
	ct_dataset ds;
	wspec w = default_spec();
	x[17 * D + 2] = NAN;
	write_h5(tpath("nan.h5"), &w, N, D, x, y);
	expect_err(hdf5_load(tpath("nan.h5"), "features", "labels", &ds, &e), &e, CT_ECORRUPT,
		   "nan.h5: dataset 'features': row 17, feature 2 is NaN", NULL);
	x[17 * D + 2] = INFINITY;
	write_h5(tpath("inf.h5"), &w, N, D, x, y);
	expect_err(hdf5_load(tpath("inf.h5"), "features", "labels", &ds, &e), &e, CT_ECORRUPT,
		   "row 17, feature 2 is infinite", NULL);
	/* a float64 beyond float32's range */
	double xd[N * D];
	fill(NULL, xd, NULL, y);
	xd[5] = 1e300;
	w.file_type = H5T_IEEE_F64LE;
	w.mem_type = H5T_NATIVE_DOUBLE;
	write_h5(tpath("big.h5"), &w, N, D, xd, y);
	expect_err(hdf5_load(tpath("big.h5"), "features", "labels", &ds, &e), &e, CT_ECORRUPT,
		   "row 1, feature 2 is infinite (or beyond float32)", NULL);
	fill(x, NULL, NULL, y);
	y[33] = -1;
	w = default_spec();
	write_h5(tpath("neg.h5"), &w, N, D, x, y);
	expect_err(hdf5_load(tpath("neg.h5"), "features", "labels", &ds, &e), &e, CT_ECORRUPT,
		   "neg.h5: dataset 'labels': row 33: label -1 is outside", NULL);
	y[33] = 5000000000LL;
	write_h5(tpath("huge.h5"), &w, N, D, x, y);
	expect_err(hdf5_load(tpath("huge.h5"), "features", "labels", &ds, &e), &e, CT_ECORRUPT,
		   "row 33: label 5000000000 is outside", NULL);
	assert_null(ds.x);
}

/* Every prefix of a file (contiguous and chunked+deflate) is rejected with
 * an error, never read as data or crashed on. */
static void test_hdf5_truncated(void **state)
{
	(void)state;
	enum { NT = 2000, DT = 8 };
	float *x = malloc(sizeof(float) * NT * DT);
	int64_t *y = malloc(sizeof(int64_t) * NT);
	assert_non_null(x);
	assert_non_null(y);
	for (int i = 0; i < NT * DT; i++)
		x[i] = (float)(i % 97) * 0.25f;
	for (int i = 0; i < NT; i++)
		y[i] = i % 3;
	for (int chunked = 0; chunked < 2; chunked++) {
		wspec w = default_spec();
		w.chunk_rows = chunked ? 100 : 0;
		w.deflate = chunked;
		const char *full = tpath("full.h5");
		write_h5(full, &w, NT, DT, x, y);
		FILE *f = fopen(full, "rb");
		assert_non_null(f);
		static unsigned char bytes[1 << 20];
		size_t len = fread(bytes, 1, sizeof bytes, f);
		fclose(f);
		assert_true(len > 0 && len < sizeof bytes);
		ct_err e = {0};
		ct_dataset ds;
		assert_int_equal(hdf5_load(full, "features", "labels", &ds, &e), 0);
		ct_dataset_release(&ds);
		for (size_t cut = 0; cut < len; cut += len / 37 + 1) {
			const char *p = tpath("cut.h5");
			f = fopen(p, "wb");
			assert_non_null(f);
			assert_int_equal(fwrite(bytes, 1, cut, f), cut);
			fclose(f);
			int rc = hdf5_load(p, "features", "labels", &ds, &e);
			if (rc >= 0)
				fail_msg("chunked=%d: a file cut at %zu of %zu bytes was read",
					 chunked, cut, len);
			assert_non_null(strstr(e.msg, "cut.h5"));
			assert_null(ds.x);
		}
	}
	free(x);
	free(y);
}

/* ---- the split without copies -------------------------------------------- */

static void make_rows(ct_dataset *ds, int64_t n, int d, int labelled)
{
	ct_err e = {0};
	assert_int_equal(ct_dataset_alloc(ds, n, d, labelled, "test", &e), 0);
	for (int64_t i = 0; i < n; i++) {
		for (int j = 0; j < d; j++)
			ds->x[i * d + j] = (float)(i * 1000 + j);
		if (labelled)
			ds->y[i] = (int32_t)(i % 7);
	}
	ds->n_classes = labelled ? 7 : 0;
}

/* ct_dataset_split_move gives the rows, order and bytes of ct_dataset_split_by for
 * every kind, fraction and size, and copies nothing. */
static void test_split_move_equals_split_by(void **state)
{
	(void)state;
	const ct_split_kind kinds[] = {CT_SPLIT_TAIL, CT_SPLIT_RANDOM, CT_SPLIT_PERMUTED};
	const double fracs[] = {0.0, 0.1, 0.25, 0.5};
	const int64_t sizes[] = {1, 2, 10, 97, 1000};
	for (size_t k = 0; k < 3; k++)
		for (size_t f = 0; f < 4; f++)
			for (size_t s = 0; s < 5; s++)
				for (int lab = 0; lab < 2; lab++) {
					ct_err e = {0};
					ct_dataset all, tr, va, mt, mv;
					make_rows(&all, sizes[s], 3, lab);
					int rc = ct_dataset_split_by(&all, fracs[f], kinds[k], 11,
								     &tr, &va, &e);
					if (rc < 0) {
						ct_dataset_release(&all);
						continue;
					}
					float *base = all.x;
					assert_int_equal(ct_dataset_split_move(&all, fracs[f],
									       kinds[k], 11, &mt,
									       &mv, &e),
							 0);
					assert_null(all.x);
					assert_ptr_equal(mt.x, base); /* no copy */
					assert_int_equal(mt.n, tr.n);
					assert_int_equal(mv.n, va.n);
					assert_int_equal(mt.n_classes, tr.n_classes);
					assert_int_equal(mv.d, 3);
					assert_memory_equal(mt.x, tr.x, (size_t)tr.n * 3 * 4);
					if (va.n)
						assert_memory_equal(mv.x, va.x,
								    (size_t)va.n * 3 * 4);
					if (lab) {
						assert_memory_equal(mt.y, tr.y, (size_t)tr.n * 4);
						if (va.n)
							assert_memory_equal(mv.y, va.y,
									    (size_t)va.n * 4);
					} else {
						assert_null(mt.y);
						assert_null(mv.y);
					}
					assert_true(mv.view);
					ct_dataset_release(&mv);
					ct_dataset_release(&mt);
					ct_dataset_release(&tr);
					ct_dataset_release(&va);
				}
	/* errors leave `all` untouched */
	ct_err e = {0};
	ct_dataset all, tr, va;
	make_rows(&all, 10, 2, 1);
	expect_err(ct_dataset_split_move(&all, 0.96, CT_SPLIT_TAIL, 1, &tr, &va, &e), &e,
		   CT_ECONFIG, "leaves no training rows out of 10", NULL);
	assert_non_null(all.x);
	assert_true(all.x[19] == 9001.0f);
	ct_dataset_release(&all);
}

/* ---- streaming ------------------------------------------------------------ */

enum { SN = 1000, SD = 2048 }; /* 8 KiB rows: 128 rows per 1 MiB block */

/* Row i: feature 0 = i, the rest i * 0.001 + j; label i % 5.  bad_row >= 0
 * gets a NaN. */
static void write_stream_file(const char *path, int chunked, int64_t bad_row)
{
	float *x = malloc(sizeof(float) * SN * SD);
	int64_t *y = malloc(sizeof(int64_t) * SN);
	assert_non_null(x);
	assert_non_null(y);
	for (int i = 0; i < SN; i++) {
		for (int j = 0; j < SD; j++)
			x[i * SD + j] = j == 0 ? (float)i : (float)i * 0.001f + (float)j;
		y[i] = i % 5;
	}
	if (bad_row >= 0)
		x[bad_row * SD + 7] = NAN;
	wspec w = default_spec();
	w.chunk_rows = chunked ? 64 : 0;
	w.deflate = chunked;
	write_h5(path, &w, SN, SD, x, y);
	free(x);
	free(y);
}

/* Rows handed out over `epochs` epochs (feature 0 of each), -1 after each epoch. */
static int64_t run_loader(ct_loader *l, int epochs, int64_t *seq, int64_t cap)
{
	int64_t k = 0;
	float *xb = malloc(sizeof(float) * 64 * SD);
	int32_t yb[64];
	assert_non_null(xb);
	while (l->st.epoch < (uint64_t)epochs) {
		int rows = ct_loader_next(l, xb, yb);
		if (rows < 0)
			fail_msg("loader_next: %s", l->err.msg);
		for (int i = 0; i < rows; i++) {
			int64_t r = (int64_t)xb[i * SD];
			assert_true(xb[i * SD + 5] == (float)r * 0.001f + 5.0f);
			assert_int_equal(yb[i], r % 5);
			assert_true(k < cap);
			seq[k++] = r;
		}
		if (rows == 0) {
			assert_true(k < cap);
			seq[k++] = -1;
		}
	}
	free(xb);
	return k;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Same rows per epoch as in memory, another order; deterministic; a loader
 * restored mid-epoch (and mid-window) from a saved state continues with the
 * same rows; shuffle = false is the file's order. */
static void test_stream_order(void **state)
{
	(void)state;
	for (int chunked = 0; chunked < 2; chunked++) {
		const char *p = tpath("stream.h5");
		write_stream_file(p, chunked, -1);
		ct_err e = {0};
		int64_t ntrain = 950;
		ct_dataset mem, hdr = {.n = ntrain, .d = SD, .view = 1};
		assert_int_equal(hdf5_load(p, "features", "labels", &mem, &e), 0);
		mem.n = ntrain;
		h5stream *s;
		int k = 0;
		/* 8 blocks of 128 rows (2 chunks of 64 when chunked), windows of 2 blocks */
		assert_int_equal(h5stream_open(&s, p, "features", "labels", ntrain,
					       (size_t)SD * 4 * 300, &k, &e),
				 0);
		assert_int_equal(k, 5);
		assert_int_equal(h5stream_block_rows(s), 128);
		assert_int_equal(h5stream_window_blocks(s), 2);
		ct_loader ls, lm;
		assert_int_equal(ct_loader_init_stream(&ls, &hdr, s, 64, 1, 7, &e), 0);
		assert_int_equal(ct_loader_init(&lm, &mem, 64, 1, 7, &e), 0);
		static int64_t a[4000], b[4000], c[4000];
		int64_t na = run_loader(&ls, 3, a, 4000);
		int64_t nb = run_loader(&lm, 3, b, 4000);
		assert_int_equal(na, nb);
		assert_int_equal(na, 3 * 951);
		int differs = 0;
		for (int ep = 0; ep < 3; ep++) {
			int64_t *x = a + ep * 951, *y = b + ep * 951;
			differs |= memcmp(x, y, 950 * sizeof *x) != 0;
			qsort(x, 950, sizeof *x, cmp64);
			qsort(y, 950, sizeof *y, cmp64);
			for (int i = 0; i < 950; i++)
				assert_int_equal(x[i], i); /* every training row once */
		}
		assert_true(differs); /* the order is not the in-memory one */
		ct_loader_release(&ls);
		/* determinism and resume from any position */
		assert_int_equal(ct_loader_init_stream(&ls, &hdr, s, 64, 1, 7, &e), 0);
		int64_t n1 = run_loader(&ls, 3, a, 4000);
		ct_loader_release(&ls);
		const int stops[] = {1, 7, 15, 16, 20};
		for (size_t si = 0; si < sizeof stops / sizeof stops[0]; si++) {
			assert_int_equal(ct_loader_init_stream(&ls, &hdr, s, 64, 1, 7, &e), 0);
			float *xb = malloc(sizeof(float) * 64 * SD);
			int32_t yb[64];
			int64_t kk = 0;
			for (int st = 0; st < stops[si]; st++) {
				int rows = ct_loader_next(&ls, xb, yb);
				for (int i = 0; i < rows; i++)
					c[kk++] = (int64_t)xb[i * SD];
				if (rows == 0)
					c[kk++] = -1;
			}
			free(xb);
			ct_loader_state saved = ls.st;
			ct_loader_release(&ls);
			/* a fresh stream, as in a resumed process */
			h5stream *s2;
			assert_int_equal(h5stream_open(&s2, p, "features", "labels", ntrain,
						       (size_t)SD * 4 * 300, &k, &e),
					 0);
			ct_loader l2;
			assert_int_equal(ct_loader_init_stream(&l2, &hdr, s2, 64, 1, 7, &e), 0);
			assert_int_equal(ct_loader_set_state(&l2, &saved, &e), 0);
			kk += run_loader(&l2, 3, c + kk, 4000 - kk);
			assert_int_equal(kk, n1);
			assert_memory_equal(a, c, (size_t)n1 * sizeof *a);
			ct_loader_release(&l2);
			h5stream_close(s2);
		}
		/* no shuffle: the file's order */
		assert_int_equal(ct_loader_init_stream(&ls, &hdr, s, 64, 0, 7, &e), 0);
		n1 = run_loader(&ls, 2, a, 4000);
		for (int64_t i = 0; i < n1; i++)
			assert_int_equal(a[i], i % 951 == 950 ? -1 : i % 951);
		ct_loader_release(&ls);
		ct_loader_release(&lm);
		h5stream_close(s);
		ct_dataset_release(&mem);
	}
}

static void test_stream_bad_row(void **state)
{
	(void)state;
	const char *p = tpath("stream_nan.h5");
	write_stream_file(p, 1, 600);
	ct_err e = {0};
	ct_dataset hdr = {.n = SN, .d = SD, .view = 1};
	h5stream *s;
	int k = 0;
	assert_int_equal(
		h5stream_open(&s, p, "features", "labels", SN, (size_t)SD * 4 * 300, &k, &e), 0);
	ct_loader l;
	assert_int_equal(ct_loader_init_stream(&l, &hdr, s, 64, 0, 7, &e), 0);
	float *xb = malloc(sizeof(float) * 64 * SD);
	int32_t yb[64];
	int rows, total = 0;
	while ((rows = ct_loader_next(&l, xb, yb)) > 0)
		total += rows;
	free(xb);
	assert_true(rows < 0);
	assert_true(total < 600);
	expect_err(rows, &l.err, CT_ECORRUPT,
		   "stream_nan.h5: dataset 'features': row 600, feature 7 is NaN", NULL);
	ct_loader_release(&l);
	h5stream_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdf5_layouts_and_types),
		cmocka_unit_test(test_hdf5_rejects_descriptions),
		cmocka_unit_test(test_hdf5_bad_values),
		cmocka_unit_test(test_hdf5_truncated),
		cmocka_unit_test(test_split_move_equals_split_by),
		cmocka_unit_test(test_stream_order),
		cmocka_unit_test(test_stream_bad_row),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
