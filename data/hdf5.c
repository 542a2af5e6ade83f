/* HDF5 input (see hdf5in.h).  Nothing is read from a dataset before its
 * description passed an allow-list: type, rank, dimensions, layout, filters,
 * external storage and a storage size that the file can hold.  Only then are
 * rows read, a block at a time, straight into the caller's floats (HDF5
 * converts float64 and uint8 while reading), and each block is checked for
 * non-finite features and labels out of range. */
#include "hdf5in.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(hid_t) == sizeof(int64_t), "h5in keeps hid_t in int64_t");

#define H5IN_MAX_CHUNK_BYTES (64u << 20) /* one chunk, decompressed */
#define H5IN_BLOCK_BYTES (8u << 20)      /* rows read per H5Dread in hdf5_load */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_ok;

static void global_init(void)
{
	/* Plugins would run foreign code on the input; deflate and shuffle are built in. */
	g_init_ok = H5open() >= 0 && H5PLset_loading_state(0) >= 0;
}

static int h5_init(const char *path, ct_err *e)
{
	pthread_once(&g_once, global_init);
	if (!g_init_ok || H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0)
		return ct_errf(e, CT_EIO, "%s: cannot initialise the HDF5 library", path);
	return 0;
}

static herr_t walk_cb(unsigned n, const H5E_error2_t *err, void *data)
{
	if (n == 0 && err->desc)
		snprintf(data, 256, "%s", err->desc);
	return 0;
}

int hdf5_fail(ct_err *e, int code, const char *fmt, ...)
{
	char ctx[4096 + 512], why[256] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof ctx, fmt, ap);
	va_end(ap);
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, why);
	H5Eclear2(H5E_DEFAULT);
	return ct_errf(e, code, "%s: %s", ctx, why[0] ? why : "HDF5 error");
}

static void close_id(hid_t *id, herr_t (*fn)(hid_t))
{
	if (*id >= 0)
		(void)fn(*id); /* read-only objects: closing cannot lose data */
	*id = H5I_INVALID_HID;
}

/* The type classes an input may have.  Feature types are read as float,
 * label types as int64. */
static int allowed_type(hid_t t, int labels, const char **what)
{
	static const struct {
		const hid_t *id;
		const char *name;
	} feat[] = {{&H5T_IEEE_F32LE_g, "float32"}, {&H5T_IEEE_F32BE_g, "float32"},
		    {&H5T_IEEE_F64LE_g, "float64"}, {&H5T_IEEE_F64BE_g, "float64"},
		    {&H5T_STD_U8LE_g, "uint8"},     {&H5T_STD_U8BE_g, "uint8"}};
	static const struct {
		const hid_t *id;
		const char *name;
	} lab[] = {{&H5T_STD_I8LE_g, "int8"},    {&H5T_STD_I8BE_g, "int8"},
		   {&H5T_STD_U8LE_g, "uint8"},   {&H5T_STD_U8BE_g, "uint8"},
		   {&H5T_STD_I16LE_g, "int16"},  {&H5T_STD_I16BE_g, "int16"},
		   {&H5T_STD_U16LE_g, "uint16"}, {&H5T_STD_U16BE_g, "uint16"},
		   {&H5T_STD_I32LE_g, "int32"},  {&H5T_STD_I32BE_g, "int32"},
		   {&H5T_STD_U32LE_g, "uint32"}, {&H5T_STD_U32BE_g, "uint32"},
		   {&H5T_STD_I64LE_g, "int64"},  {&H5T_STD_I64BE_g, "int64"},
		   {&H5T_STD_U64LE_g, "uint64"}, {&H5T_STD_U64BE_g, "uint64"}};
	if (labels) {
		for (size_t i = 0; i < sizeof lab / sizeof lab[0]; i++)
			if (H5Tequal(t, *lab[i].id) > 0) {
				*what = lab[i].name;
				return 1;
			}
		return 0;
	}
	for (size_t i = 0; i < sizeof feat / sizeof feat[0]; i++)
		if (H5Tequal(t, *feat[i].id) > 0) {
			*what = feat[i].name;
			return 1;
		}
	return 0;
}

static const char *class_name(H5T_class_t c)
{
	switch (c) {
	case H5T_INTEGER: return "integer";
	case H5T_FLOAT: return "float";
	case H5T_STRING: return "string";
	case H5T_COMPOUND: return "compound";
	case H5T_ENUM: return "enum";
	case H5T_ARRAY: return "array";
	case H5T_VLEN: return "variable-length";
	case H5T_REFERENCE: return "reference";
	case H5T_OPAQUE: return "opaque";
	case H5T_BITFIELD: return "bitfield";
	case H5T_TIME:
	case H5T_NO_CLASS:
	case H5T_NCLASSES:
	default: return "unknown";
	}
}

/* Type, rank and dims of one dataset: rank 2 for features, 1 for labels. */
static int check_shape(h5in *h, hid_t d, const char *name, int labels, hsize_t *dims, ct_err *e)
{
	hid_t t = H5Dget_type(d);
	if (t < 0)
		return hdf5_fail(e, CT_ECORRUPT, "%s: dataset '%s': cannot read its type", h->path,
				 name);
	const char *tn = NULL;
	int ok = allowed_type(t, labels, &tn);
	H5T_class_t cls = H5Tget_class(t);
	size_t size = H5Tget_size(t);
	close_id(&t, H5Tclose);
	if (!ok)
		return ct_errf(e, CT_EUNSUPPORTED,
			       "%s: dataset '%s': type %s of %zu bytes is not supported (%s)",
			       h->path, name, class_name(cls), size,
			       labels ? "labels must be integers of 8 to 64 bits"
				      : "features must be float32, float64 or uint8");
	if (!labels)
		h->xtype = tn;
	hid_t s = H5Dget_space(d);
	if (s < 0)
		return hdf5_fail(e, CT_ECORRUPT, "%s: dataset '%s': cannot read its shape", h->path,
				 name);
	int want = labels ? 1 : 2;
	int rank = H5Sget_simple_extent_ndims(s);
	if (rank == want && H5Sget_simple_extent_dims(s, dims, NULL) < 0)
		rank = -1;
	close_id(&s, H5Sclose);
	if (rank < 0)
		return hdf5_fail(e, CT_ECORRUPT, "%s: dataset '%s': cannot read its shape", h->path,
				 name);
	if (rank != want)
		return ct_errf(e, CT_EMISMATCH,
			       "%s: dataset '%s' has %d dimension%s, expected %d (%s)", h->path,
			       name, rank, rank == 1 ? "" : "s", want,
			       labels ? "[rows]" : "[rows, features]");
	if (dims[0] < 1 || dims[0] > (hsize_t)INT64_MAX / 2)
		return ct_errf(e, CT_EMISMATCH, "%s: dataset '%s' has %llu rows", h->path, name,
			       (unsigned long long)dims[0]);
	if (!labels && (dims[1] < 1 || dims[1] > (hsize_t)INT_MAX))
		return ct_errf(e, CT_EMISMATCH, "%s: dataset '%s' has %llu features per row",
			       h->path, name, (unsigned long long)dims[1]);
	return 0;
}

/* Layout, filters, external storage and storage size, before any read. */
static int check_storage(h5in *h, hid_t d, const char *name, int rank, const hsize_t *dims,
			 ct_err *e)
{
	hid_t p = H5Dget_create_plist(d);
	if (p < 0)
		return hdf5_fail(e, CT_ECORRUPT, "%s: dataset '%s': cannot read its properties",
				 h->path, name);
	int rc = 0;
	H5D_layout_t lay = H5Pget_layout(p);
	hid_t t = H5Dget_type(d);
	size_t esize = t >= 0 ? H5Tget_size(t) : 0;
	close_id(&t, H5Tclose);
	double bytes = (double)esize;
	for (int i = 0; i < rank; i++)
		bytes *= (double)dims[i];
	if (lay != H5D_CONTIGUOUS && lay != H5D_COMPACT && lay != H5D_CHUNKED)
		rc = ct_errf(e, CT_EUNSUPPORTED,
			     "%s: dataset '%s': storage layout %d is not supported "
			     "(contiguous, compact or chunked)",
			     h->path, name, (int)lay);
	if (rc == 0 && H5Pget_external_count(p) != 0)
		rc = ct_errf(e, CT_EUNSUPPORTED,
			     "%s: dataset '%s' keeps its data in external files, which is not "
			     "supported",
			     h->path, name);
	int nf = rc == 0 ? H5Pget_nfilters(p) : 0;
	if (nf < 0)
		rc = hdf5_fail(e, CT_ECORRUPT, "%s: dataset '%s': cannot read its filters", h->path,
			       name);
	for (int i = 0; rc == 0 && i < nf; i++) {
		unsigned flags = 0, cd[8];
		size_t ncd = 8;
		char fname[64] = "";
		H5Z_filter_t f =
			H5Pget_filter2(p, (unsigned)i, &flags, &ncd, cd, sizeof fname, fname, NULL);
		if (f != H5Z_FILTER_DEFLATE && f != H5Z_FILTER_SHUFFLE)
			rc = ct_errf(e, CT_EUNSUPPORTED,
				     "%s: dataset '%s': filter %d (%s) is not supported (only "
				     "deflate/gzip and shuffle)",
				     h->path, name, (int)f, fname[0] ? fname : "unknown");
	}
	if (rc == 0 && lay == H5D_CHUNKED) {
		hsize_t cdims[H5S_MAX_RANK];
		int cr = H5Pget_chunk(p, H5S_MAX_RANK, cdims);
		double cbytes = (double)esize;
		for (int i = 0; i < cr; i++)
			cbytes *= (double)cdims[i];
		if (cr != rank)
			rc = hdf5_fail(e, CT_ECORRUPT, "%s: dataset '%s': bad chunk description",
				       h->path, name);
		else if (cbytes > H5IN_MAX_CHUNK_BYTES)
			rc = ct_errf(e, CT_EUNSUPPORTED,
				     "%s: dataset '%s': chunks of %.0f bytes are larger than the "
				     "%u MiB supported",
				     h->path, name, cbytes, H5IN_MAX_CHUNK_BYTES >> 20);
		else if (rank == 2)
			h->chunk_rows = (int64_t)cdims[0];
	}
	close_id(&p, H5Pclose);
	if (rc < 0)
		return rc;
	/* Storage the file cannot hold means a truncated or forged file. */
	hsize_t stored = H5Dget_storage_size(d);
	if ((double)stored > (double)h->file_size)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: dataset '%s' claims %llu bytes of storage but the file has "
			       "%llu: truncated?",
			       h->path, name, (unsigned long long)stored,
			       (unsigned long long)h->file_size);
	if (lay == H5D_CONTIGUOUS) {
		haddr_t off = H5Dget_offset(d);
		if (stored == 0 || off == HADDR_UNDEF)
			return ct_errf(e, CT_ECORRUPT, "%s: dataset '%s' has no data written",
				       h->path, name);
		if ((double)stored < bytes || (double)off + bytes > (double)h->file_size)
			return ct_errf(
				e, CT_ECORRUPT,
				"%s: dataset '%s': its %.0f bytes at offset %llu run past the "
				"end of the %llu-byte file: truncated",
				h->path, name, bytes, (unsigned long long)off,
				(unsigned long long)h->file_size);
	}
	return 0;
}

static int open_dataset(h5in *h, const char *name, hid_t *d, ct_err *e)
{
	htri_t there = H5Lexists(h->file, name, H5P_DEFAULT);
	if (there > 0)
		*d = H5Dopen2(h->file, name, H5P_DEFAULT);
	if (there <= 0 || *d < 0) {
		H5Eclear2(H5E_DEFAULT);
		return ct_errf(e, CT_ENOTFOUND,
			       "%s: no dataset '%s' (set data.x / data.y to the names in the file)",
			       h->path, name);
	}
	return 0;
}

int h5in_open(h5in *h, const char *path, const char *xname, const char *yname, ct_err *e)
{
	memset(h, 0, sizeof *h);
	h->file = h->x = h->y = H5I_INVALID_HID;
	snprintf(h->path, sizeof h->path, "%s", path);
	snprintf(h->xname, sizeof h->xname, "%s", xname);
	snprintf(h->yname, sizeof h->yname, "%s", yname ? yname : "");
	struct stat st;
	if (stat(path, &st) != 0)
		return ct_errno(e, errno == ENOENT ? CT_ENOTFOUND : CT_EIO, errno, "%s", path);
	if (!S_ISREG(st.st_mode))
		return ct_errf(e, CT_ECORRUPT, "%s: not a regular file", path);
	h->file_size = (uint64_t)st.st_size;
	int rc = h5_init(path, e);
	if (rc < 0)
		return rc;
	if (H5Fis_hdf5(path) <= 0) {
		H5Eclear2(H5E_DEFAULT);
		return ct_errf(e, CT_ECORRUPT, "%s: not an HDF5 file", path);
	}
	h->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	if (h->file < 0) {
		rc = hdf5_fail(e, CT_ECORRUPT, "%s: cannot open (truncated or damaged HDF5 file?)",
			       path);
		h5in_close(h);
		return rc;
	}
	hsize_t xd[2] = {0, 0}, yd[1] = {0};
	rc = open_dataset(h, xname, &h->x, e);
	if (rc == 0)
		rc = check_shape(h, h->x, xname, 0, xd, e);
	if (rc == 0)
		rc = check_storage(h, h->x, xname, 2, xd, e);
	if (rc == 0 && h->yname[0]) {
		rc = open_dataset(h, yname, &h->y, e);
		if (rc == 0)
			rc = check_shape(h, h->y, yname, 1, yd, e);
		if (rc == 0)
			rc = check_storage(h, h->y, yname, 1, yd, e);
		if (rc == 0 && yd[0] != xd[0])
			rc = ct_errf(e, CT_EMISMATCH,
				     "%s: dataset '%s' has %llu rows but '%s' has %llu", path,
				     yname, (unsigned long long)yd[0], xname,
				     (unsigned long long)xd[0]);
	}
	if (rc < 0) {
		h5in_close(h);
		return rc;
	}
	h->n = (int64_t)xd[0];
	h->d = (int)xd[1];
	return 0;
}

void h5in_close(h5in *h)
{
	close_id(&h->y, H5Dclose);
	close_id(&h->x, H5Dclose);
	close_id(&h->file, H5Fclose);
}

/* Rows [row0, row0 + rows) of dataset d into buf as mem_type. */
static int read_rows(h5in *h, hid_t d, const char *name, hid_t mem_type, int64_t row0, int64_t rows,
		     int cols, void *buf, ct_err *e)
{
	hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)rows, (hsize_t)cols};
	int rank = cols > 0 ? 2 : 1;
	hid_t fs = H5Dget_space(d);
	hid_t ms = H5Screate_simple(rank, count, NULL);
	herr_t r = -1;
	if (fs >= 0 && ms >= 0 &&
	    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0)
		r = H5Dread(d, mem_type, ms, fs, H5P_DEFAULT, buf);
	int rc = 0;
	if (r < 0)
		rc = hdf5_fail(e, CT_ECORRUPT, "%s: dataset '%s': cannot read rows %lld to %lld",
			       h->path, name, (long long)row0, (long long)(row0 + rows - 1));
	close_id(&ms, H5Sclose);
	close_id(&fs, H5Sclose);
	return rc;
}

int h5in_read(h5in *h, int64_t row0, int64_t rows, float *x, int32_t *y, int64_t *lab_buf,
	      ct_err *e)
{
	CT_ASSERT(row0 >= 0 && rows >= 0 && row0 + rows <= h->n);
	if (rows == 0)
		return 0;
	int rc = x ? read_rows(h, h->x, h->xname, H5T_NATIVE_FLOAT, row0, rows, h->d, x, e) : 0;
	if (rc < 0)
		return rc;
	size_t d = (size_t)h->d;
	for (int64_t i = 0; x && i < rows; i++) {
		const float *r = x + (size_t)i * d;
		for (size_t j = 0; j < d; j++)
			if (!isfinite(r[j]))
				return ct_errf(e, CT_ECORRUPT,
					       "%s: dataset '%s': row %lld, feature %zu is %s "
					       "(rows and features count from 0)",
					       h->path, h->xname, (long long)(row0 + i), j,
					       isnan(r[j]) ? "NaN"
							   : "infinite (or beyond float32)");
	}
	if (!y || h->y < 0)
		return 0;
	rc = read_rows(h, h->y, h->yname, H5T_NATIVE_INT64, row0, rows, 0, lab_buf, e);
	if (rc < 0)
		return rc;
	for (int64_t i = 0; i < rows; i++) {
		int64_t v = lab_buf[i];
		if (v < 0 || v >= H5IN_MAX_CLASSES)
			return ct_errf(e, CT_ECORRUPT,
				       "%s: dataset '%s': row %lld: label %lld is outside [0, %d) "
				       "(rows count from 0)",
				       h->path, h->yname, (long long)(row0 + i), (long long)v,
				       H5IN_MAX_CLASSES);
		y[i] = (int32_t)v;
	}
	return 0;
}

int hdf5_load(const char *path, const char *xname, const char *yname, ct_dataset *ds, ct_err *e)
{
	memset(ds, 0, sizeof *ds);
	h5in h;
	int rc = h5in_open(&h, path, xname, yname, e);
	if (rc < 0)
		return rc;
	CT_ASSERT(h.n >= 1 && h.d >= 1); /* h5in_open's checks */
	int labelled = h.y >= 0;
	int64_t block = (int64_t)(H5IN_BLOCK_BYTES / ((size_t)h.d * sizeof(float)));
	block = block < 1 ? 1 : block;
	if (h.chunk_rows > 0) /* whole chunks: none is decompressed twice */
		block = (block + h.chunk_rows - 1) / h.chunk_rows * h.chunk_rows;
	block = block > h.n ? h.n : block;
	int64_t *lab = labelled ? malloc((size_t)block * sizeof *lab) : NULL;
	char what[1200];
	snprintf(what, sizeof what, "%s: dataset '%s'", path, xname);
	if (labelled && !lab)
		rc = ct_errf(e, CT_ENOMEM, "%s: out of memory", path);
	if (rc == 0)
		rc = ct_dataset_alloc(ds, h.n, h.d, labelled, what, e);
	int32_t ymax = -1;
	for (int64_t r = 0; rc == 0 && r < h.n; r += block) {
		int64_t rows = h.n - r < block ? h.n - r : block;
		rc = h5in_read(&h, r, rows, ds->x + (size_t)r * (size_t)h.d,
			       labelled ? ds->y + r : NULL, lab, e);
		for (int64_t i = 0; rc == 0 && labelled && i < rows; i++)
			ymax = ds->y[r + i] > ymax ? ds->y[r + i] : ymax;
	}
	free(lab);
	h5in_close(&h);
	if (rc < 0) {
		ct_dataset_release(ds);
		return rc;
	}
	ds->n_classes = labelled ? ymax + 1 : 0;
	return 0;
}
