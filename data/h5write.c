/* A dataset as an HDF5 file image (see hdf5in.h: hdf5_image). */
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "hdf5in.h"

#define H5W_CHUNK_BYTES (1u << 20)

static int write_one(hid_t f, const char *name, hid_t ftype, hid_t mtype, int rank,
		     const hsize_t *dims, hsize_t chunk_rows, const void *data)
{
	hsize_t chunk[2] = {chunk_rows, rank == 2 ? dims[1] : 0};
	hid_t s = H5Screate_simple(rank, dims, NULL);
	hid_t p = H5Pcreate(H5P_DATASET_CREATE);
	int ok = s >= 0 && p >= 0 && H5Pset_chunk(p, rank, chunk) >= 0 && H5Pset_shuffle(p) >= 0 &&
		 H5Pset_deflate(p, 4) >= 0;
	hid_t d = ok ? H5Dcreate2(f, name, ftype, s, H5P_DEFAULT, p, H5P_DEFAULT) : -1;
	ok = d >= 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
	if (d >= 0)
		ok = H5Dclose(d) >= 0 && ok;
	if (p >= 0)
		(void)H5Pclose(p); /* property lists hold no data */
	if (s >= 0)
		(void)H5Sclose(s);
	return ok ? 0 : -1;
}

int hdf5_image(const dataset *ds, void **img, size_t *len, ct_err *e)
{
	*img = NULL;
	*len = 0;
	CT_ASSERT(ds->n >= 1 && ds->y);
	if (H5open() < 0 || H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0)
		return ct_errf(e, CT_EIO, "cannot initialise the HDF5 library");
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, 0) < 0) {
		if (fapl >= 0)
			(void)H5Pclose(fapl);
		return ct_errf(e, CT_EIO, "cannot set up an in-memory HDF5 file");
	}
	static unsigned counter;
	char name[64];
	snprintf(name, sizeof name, "ctrain-data-%u", counter++);
	hid_t f = H5Fcreate(name, H5F_ACC_EXCL, H5P_DEFAULT, fapl);
	(void)H5Pclose(fapl);
	if (f < 0)
		return ct_errf(e, CT_EIO, "cannot create an in-memory HDF5 file");
	hsize_t rows = H5W_CHUNK_BYTES / ((hsize_t)ds->d * 4);
	rows = rows < 1 ? 1 : rows > (hsize_t)ds->n ? (hsize_t)ds->n : rows;
	hsize_t dims[2] = {(hsize_t)ds->n, (hsize_t)ds->d};
	hsize_t lrows = (hsize_t)ds->n < 65536 ? (hsize_t)ds->n : 65536;
	int rc = write_one(f, "features", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims, rows, ds->x);
	if (rc == 0)
		rc = write_one(f, "labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dims, lrows, ds->y);
	ssize_t size =
		rc == 0 && H5Fflush(f, H5F_SCOPE_LOCAL) >= 0 ? H5Fget_file_image(f, NULL, 0) : -1;
	void *buf = size > 0 ? malloc((size_t)size) : NULL;
	if (buf && H5Fget_file_image(f, buf, (size_t)size) != size) {
		free(buf);
		buf = NULL;
	}
	int closed = H5Fclose(f) >= 0;
	if (!buf || !closed) {
		free(buf);
		return ct_errf(e, size < 0 ? CT_EIO : CT_ENOMEM,
			       "cannot build the HDF5 image of %lld rows", (long long)ds->n);
	}
	*img = buf;
	*len = (size_t)size;
	return 0;
}
