/* A dataset written as an HDF5 file a block of rows at a time (hdf5in.h: h5out). */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "hdf5in.h"

#define H5W_CHUNK_BYTES (1u << 20)

/* A chunked, shuffled, deflated dataset of dims (rank 1 or 2), chunk_rows
 * rows a chunk; its id or < 0. */
static hid_t create_chunked(hid_t f, const char *name, hid_t ftype, int rank, const hsize_t *dims,
			    hsize_t chunk_rows)
{
	hsize_t chunk[2] = {chunk_rows, rank == 2 ? dims[1] : 0};
	hid_t s = H5Screate_simple(rank, dims, NULL);
	hid_t p = H5Pcreate(H5P_DATASET_CREATE);
	int ok = s >= 0 && p >= 0 && H5Pset_chunk(p, rank, chunk) >= 0 && H5Pset_shuffle(p) >= 0 &&
		 H5Pset_deflate(p, 4) >= 0;
	hid_t d = ok ? H5Dcreate2(f, name, ftype, s, H5P_DEFAULT, p, H5P_DEFAULT) : -1;
	if (p >= 0)
		(void)H5Pclose(p); /* property lists hold no data */
	if (s >= 0)
		(void)H5Sclose(s);
	return d;
}

/* ---- streaming writer ------------------------------------------------------ */

int64_t h5out_chunk_rows(int64_t n, int d)
{
	int64_t rows = (int64_t)(H5W_CHUNK_BYTES / ((uint64_t)d * 4));
	return rows < 1 ? 1 : rows > n ? n : rows;
}

int h5out_create(h5out *w, const char *path, int64_t n, int d, ct_err *e)
{
	memset(w, 0, sizeof *w);
	w->file = w->x = w->y = -1;
	CT_ASSERT(n >= 1 && d >= 1);
	w->n = n;
	w->d = d;
	snprintf(w->path, sizeof w->path, "%s", path);
	if (H5open() < 0 || H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0)
		return ct_errf(e, CT_EIO, "cannot initialise the HDF5 library");
	w->file = H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
	if (w->file < 0)
		return ct_errf(e, CT_EIO, "%s: cannot create the HDF5 file", path);
	hsize_t dims[2] = {(hsize_t)n, (hsize_t)d};
	w->x = create_chunked(w->file, "features", H5T_IEEE_F32LE, 2, dims,
			      (hsize_t)h5out_chunk_rows(n, d));
	if (w->x >= 0)
		w->y = create_chunked(w->file, "labels", H5T_STD_I32LE, 1, dims,
				      (hsize_t)(n < 65536 ? n : 65536));
	if (w->x < 0 || w->y < 0) {
		(void)h5out_close(w, NULL);
		return ct_errf(e, CT_EIO, "%s: cannot create the datasets features and labels",
			       path);
	}
	return 0;
}

static int write_rows(hid_t dset, int rank, hid_t mtype, hsize_t row0, hsize_t rows, hsize_t d,
		      const void *buf)
{
	hsize_t start[2] = {row0, 0}, count[2] = {rows, d};
	hid_t fs = H5Dget_space(dset);
	hid_t ms = H5Screate_simple(rank, count, NULL);
	int ok = fs >= 0 && ms >= 0 &&
		 H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
		 H5Dwrite(dset, mtype, ms, fs, H5P_DEFAULT, buf) >= 0;
	if (ms >= 0)
		(void)H5Sclose(ms); /* dataspaces hold no data */
	if (fs >= 0)
		(void)H5Sclose(fs);
	return ok ? 0 : -1;
}

int h5out_write(h5out *w, const float *x, const int32_t *y, int64_t rows, ct_err *e)
{
	CT_ASSERT(rows >= 1 && w->done + rows <= w->n && w->x >= 0);
	if (write_rows(w->x, 2, H5T_NATIVE_FLOAT, (hsize_t)w->done, (hsize_t)rows, (hsize_t)w->d,
		       x) < 0 ||
	    write_rows(w->y, 1, H5T_NATIVE_INT32, (hsize_t)w->done, (hsize_t)rows, 0, y) < 0)
		return ct_errf(e, CT_EIO, "%s: cannot write rows %lld to %lld (disk full?)",
			       w->path, (long long)w->done, (long long)(w->done + rows));
	w->done += rows;
	return 0;
}

int h5out_close(h5out *w, ct_err *e)
{
	int ok = 1;
	if (w->x >= 0)
		ok = H5Dclose(w->x) >= 0 && ok;
	if (w->y >= 0)
		ok = H5Dclose(w->y) >= 0 && ok;
	if (w->file >= 0)
		ok = H5Fclose(w->file) >= 0 && ok;
	w->file = w->x = w->y = -1;
	if (!ok && e)
		return ct_errf(e, CT_EIO, "%s: closing the HDF5 file failed (disk full?)", w->path);
	return ok ? 0 : CT_EIO;
}
