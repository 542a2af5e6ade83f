/* h5c_hdf5.c — HDF5 set-up (once, plugins off), the lock every HDF5 call
 * runs under, HDF5 error text, and the types and paths of fields. */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/atomic.h"
#include "crc32c.h"
#include "h5c_internal.h"

/* ---- HDF5 set-up, locking and error text --------------------------------- */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_ok;
static unsigned g_image_counter; /* under g_lock */

unsigned h5c_next_image_id(void) { return g_image_counter++; }

static void global_init(void)
{
	/* Plugins could run foreign code on our data; we use no filters. */
	g_init_ok = H5open() >= 0 && H5PLset_loading_state(0) >= 0;
}

/* Every entry point that calls HDF5 runs between these two.  Automatic error
 * printing is per thread in a thread-safe HDF5, hence turned off every time. */
int h5c_lock(ct_err *e)
{
	pthread_once(&g_once, global_init);
	pthread_mutex_lock(&g_lock);
	if (!g_init_ok || H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0) {
		pthread_mutex_unlock(&g_lock);
		return ct_errf(e, CT_EIO, "cannot initialise the HDF5 library");
	}
	return 0;
}

void h5c_unlock(void) { pthread_mutex_unlock(&g_lock); }

/* Closes any kind of id we hand out; H5I_INVALID_HID is ignored. */
static int h5_close(hid_t id)
{
	if (id < 0)
		return 0;
	switch (H5Iget_type(id)) {
	case H5I_FILE: return H5Fclose(id);
	case H5I_GROUP:
	case H5I_DATASET: return H5Oclose(id);
	case H5I_ATTR: return H5Aclose(id);
	case H5I_DATASPACE: return H5Sclose(id);
	case H5I_DATATYPE: return H5Tclose(id);
	case H5I_GENPROP_LST: return H5Pclose(id);
	default: return -1;
	}
}

/* Closes ids in order; on the first failure sets *rc (if still 0). */
void h5c_close_all(int *rc, ct_err *e, const char *what, hid_t *ids, int n)
{
	for (int i = 0; i < n; i++) {
		if (h5_close(ids[i]) < 0 && *rc == 0)
			*rc = hdf5_fail(e, CT_EIO, "%s: closing an HDF5 object failed", what);
		ids[i] = H5I_INVALID_HID;
	}
}

/* ---- types and paths ------------------------------------------------------ */

static const struct {
	const char *name;
	size_t size;
	H5T_class_t cls;
	H5T_sign_t sign;
} g_types[] = {
	[CT_H5C_F32] = {"float32", 4, H5T_FLOAT, H5T_SGN_ERROR},
	[CT_H5C_F64] = {"float64", 8, H5T_FLOAT, H5T_SGN_ERROR},
	[CT_H5C_I64] = {"int64", 8, H5T_INTEGER, H5T_SGN_2},
	[CT_H5C_U64] = {"uint64", 8, H5T_INTEGER, H5T_SGN_NONE},
	[CT_H5C_U8] = {"uint8", 1, H5T_INTEGER, H5T_SGN_NONE},
	[CT_H5C_STR] = {"string", sizeof(char *), H5T_STRING, H5T_SGN_ERROR},
};

const char *h5c_type_name(ct_h5c_type t)
{
	CT_ASSERT(t >= CT_H5C_F32 && t <= CT_H5C_STR);
	return g_types[t].name;
}

size_t h5c_type_size(ct_h5c_type t)
{
	CT_ASSERT(t >= CT_H5C_F32 && t <= CT_H5C_STR);
	return g_types[t].size;
}

int64_t ct_h5c_numel(const ct_h5c_field *f)
{
	int64_t n = 1;
	for (int i = 0; i < f->ndim; i++)
		n *= f->shape[i];
	return n;
}

void h5c_check_field(const ct_h5c_field *f)
{
	CT_ASSERT(f->path && f->path[0] == '/' && strlen(f->path) < PATH_MAX_LEN);
	CT_ASSERT(f->type >= CT_H5C_F32 && f->type <= CT_H5C_STR);
	CT_ASSERT(f->ndim >= 0 && f->ndim <= CT_H5C_MAX_DIMS);
	CT_ASSERT(f->type != CT_H5C_STR || f->ndim == 0);
	for (int i = 0; i < f->ndim; i++)
		CT_ASSERT(f->shape[i] >= 0);
	CT_ASSERT(f->data || ct_h5c_numel(f) == 0);
}

/* Numeric types are predefined (never closed); strings get a fresh type. */
hid_t h5c_file_type(ct_h5c_type t)
{
	switch (t) {
	case CT_H5C_F32: return H5T_IEEE_F32LE;
	case CT_H5C_F64: return H5T_IEEE_F64LE;
	case CT_H5C_I64: return H5T_STD_I64LE;
	case CT_H5C_U64: return H5T_STD_U64LE;
	case CT_H5C_U8: return H5T_STD_U8LE;
	default: return H5I_INVALID_HID;
	}
}

hid_t h5c_mem_type(ct_h5c_type t)
{
	switch (t) {
	case CT_H5C_F32: return H5T_NATIVE_FLOAT;
	case CT_H5C_F64: return H5T_NATIVE_DOUBLE;
	case CT_H5C_I64: return H5T_NATIVE_INT64;
	case CT_H5C_U64: return H5T_NATIVE_UINT64;
	case CT_H5C_U8: return H5T_NATIVE_UINT8;
	default: return H5I_INVALID_HID;
	}
}

/* Variable-length (size < 0) or fixed-length NUL-terminated string type. */
hid_t h5c_string_type(ssize_t size, H5T_cset_t cset)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	if (t < 0)
		return t;
	if (H5Tset_size(t, size < 0 ? H5T_VARIABLE : (size_t)size) < 0 ||
	    H5Tset_cset(t, cset) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) {
		H5Tclose(t);
		return H5I_INVALID_HID;
	}
	return t;
}

/* "/meta@step" -> obj "/meta", attr "step"; "/@format" -> "/", "format";
 * "/model/w" -> "/model/w", NULL. */
void h5c_split_path(const char *path, char obj[PATH_MAX_LEN], const char **attr)
{
	const char *at = strchr(path, '@');
	size_t n = at ? (size_t)(at - path) : strlen(path);
	CT_ASSERT(n < PATH_MAX_LEN);
	memcpy(obj, path, n);
	obj[n] = '\0';
	if (n == 0)
		memcpy(obj, "/", 2);
	*attr = at ? at + 1 : NULL;
	CT_ASSERT(!at || at[1] != '\0');
}

/* Creates the groups of path that do not exist yet (path itself included when
 * whole is set, else only its parents). */
int h5c_ensure_groups(hid_t file, hid_t gcpl, const char *path, int whole, ct_err *e)
{
	char prefix[PATH_MAX_LEN];
	size_t len = strlen(path);
	for (size_t i = 1; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		if (i == len && !whole)
			break;
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		htri_t ok = H5Lexists(file, prefix, H5P_DEFAULT);
		if (ok < 0)
			return hdf5_fail(e, CT_EIO, "checkpoint image: cannot look up %s", prefix);
		if (ok > 0)
			continue;
		hid_t g = H5Gcreate2(file, prefix, H5P_DEFAULT, gcpl, H5P_DEFAULT);
		if (g < 0)
			return hdf5_fail(e, CT_EIO, "checkpoint image: cannot create group %s",
					 prefix);
		if (H5Gclose(g) < 0)
			return hdf5_fail(e, CT_EIO, "checkpoint image: cannot close group %s",
					 prefix);
	}
	return 0;
}

hid_t h5c_make_space(const ct_h5c_field *f)
{
	if (f->ndim == 0)
		return H5Screate(H5S_SCALAR);
	hsize_t dims[CT_H5C_MAX_DIMS];
	for (int i = 0; i < f->ndim; i++)
		dims[i] = (hsize_t)f->shape[i];
	return H5Screate_simple(f->ndim, dims, NULL);
}
