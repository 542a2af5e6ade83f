#include "h5c.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "crc32c.h"

/* Trailer: magic[8] | u64 image length | u32 crc32c(image) | u32 version |
 * u64 crc32c(trailer bytes 0..23), all little-endian.  The trailer's own CRC
 * makes a flipped length or version read as damage, not as a different file. */
#define OFF_LEN 8
#define OFF_CRC 16
#define OFF_VERSION 20
#define OFF_SELF_CRC 24
/* The smallest HDF5 file: a version-0 superblock with 8-byte addresses. */
#define MIN_IMAGE 96
#define MAX_FILE ((size_t)1 << 40)
#define PATH_MAX_LEN 1024
#define META_PER_FIELD 640 /* bytes of HDF5 metadata reserved per field (see meta_block) */

static const unsigned char g_hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

/* ---- trailer ------------------------------------------------------------ */

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void trailer_fill(unsigned char *t, uint32_t image_crc, size_t image_len)
{
	memcpy(t, H5C_TRAILER_MAGIC, 8);
	put_le(t + OFF_LEN, image_len, 8);
	put_le(t + OFF_CRC, image_crc, 4);
	put_le(t + OFF_VERSION, H5C_TRAILER_VERSION, 4);
	put_le(t + OFF_SELF_CRC, crc32c_update(0, t, OFF_SELF_CRC), 8);
}

/* Checks the trailer t of a len-byte file; on success *image_len is its image
 * length and *crc the image CRC it records. */
static int trailer_check(const unsigned char *t, size_t len, int plain_hdf5, size_t *image_len,
			 uint32_t *crc, ct_err *e)
{
	if (memcmp(t, H5C_TRAILER_MAGIC, 8) != 0)
		return ct_errf(e, CT_ECORRUPT,
			       "missing trailer magic (not a ctrain checkpoint or truncated%s)",
			       plain_hdf5 ? "; it starts like a plain HDF5 file" : "");
	uint64_t self = get_le(t + OFF_SELF_CRC, 8);
	uint32_t self_now = crc32c_update(0, t, OFF_SELF_CRC);
	if (self != self_now)
		return ct_errf(e, CT_ECORRUPT,
			       "trailer checksum mismatch (stored 0x%llx, computed 0x%08x)",
			       (unsigned long long)self, (unsigned)self_now);
	uint32_t version = (uint32_t)get_le(t + OFF_VERSION, 4);
	if (version != H5C_TRAILER_VERSION)
		return ct_errf(e, CT_EUNSUPPORTED,
			       "trailer format version %u is not supported (this build reads %d)",
			       (unsigned)version, H5C_TRAILER_VERSION);
	uint64_t stated = get_le(t + OFF_LEN, 8);
	if (stated != len - H5C_TRAILER_SIZE)
		return ct_errf(e, CT_ECORRUPT,
			       "length mismatch: trailer says %llu bytes of image, file has %zu",
			       (unsigned long long)stated, len - H5C_TRAILER_SIZE);
	*image_len = (size_t)stated;
	*crc = (uint32_t)get_le(t + OFF_CRC, 4);
	return 0;
}

static int image_check(uint32_t stored, uint32_t computed, const unsigned char *head, ct_err *e)
{
	if (stored != computed)
		return ct_errf(e, CT_ECORRUPT, "checksum mismatch (stored 0x%08x, computed 0x%08x)",
			       (unsigned)stored, (unsigned)computed);
	if (memcmp(head, g_hdf5_sig, 8) != 0)
		return ct_errf(e, CT_ECORRUPT, "image does not start with the HDF5 signature");
	return 0;
}

/* Adds "name: " in front of e's message; keeps the code even when e is NULL. */
static int named(int rc, ct_err *e, const char *name)
{
	if (e)
		ct_err_prefix(e, "%s", name);
	return rc;
}

static int too_short(size_t len, ct_err *e)
{
	return ct_errf(e, CT_ECORRUPT, "file is %zu bytes, too short for a checkpoint", len);
}

int h5c_verify(const void *buf, size_t len, ct_err *e)
{
	const unsigned char *p = buf;
	if (len < H5C_TRAILER_SIZE + MIN_IMAGE)
		return too_short(len, e);
	size_t image_len;
	uint32_t stored;
	int plain = memcmp(p, g_hdf5_sig, 8) == 0;
	int rc = trailer_check(p + len - H5C_TRAILER_SIZE, len, plain, &image_len, &stored, e);
	if (rc < 0)
		return rc;
	return image_check(stored, crc32c_update(0, p, image_len), p, e);
}

/* pread of exactly len bytes at off (a regular file does not shrink under us
 * unless someone truncates it, which is then reported). */
static int pread_all(int fd, void *buf, size_t len, off_t off, const char *path, ct_err *e)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ct_errno(e, CT_EIO, errno, "%s: read failed", path);
		if (n == 0)
			return ct_errf(e, CT_EIO, "%s: file shrank while reading", path);
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Streams the image through a small buffer: verifying a checkpoint needs no
 * memory of its size (and no page faults for it). */
static int verify_fd(int fd, size_t len, const char *path, ct_err *e)
{
	unsigned char head[8], t[H5C_TRAILER_SIZE];
	if (len < H5C_TRAILER_SIZE + MIN_IMAGE)
		return named(too_short(len, e), e, path);
	int rc = pread_all(fd, head, 8, 0, path, e);
	if (rc == 0)
		rc = pread_all(fd, t, H5C_TRAILER_SIZE, (off_t)(len - H5C_TRAILER_SIZE), path, e);
	if (rc < 0)
		return rc;
	size_t image_len;
	uint32_t stored, crc = 0;
	rc = trailer_check(t, len, memcmp(head, g_hdf5_sig, 8) == 0, &image_len, &stored, e);
	if (rc < 0)
		return named(rc, e, path);
	size_t chunk = (size_t)1 << 20;
	unsigned char *buf = malloc(chunk);
	if (!buf)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory", path);
	for (size_t off = 0; off < image_len; off += chunk) {
		size_t n = image_len - off < chunk ? image_len - off : chunk;
		if ((rc = pread_all(fd, buf, n, (off_t)off, path, e)) < 0)
			break;
		crc = crc32c_update(crc, buf, n);
	}
	free(buf);
	if (rc < 0)
		return rc;
	rc = image_check(stored, crc, head, e);
	return rc < 0 ? named(rc, e, path) : 0;
}

/* Opens path read-only and checks it is a regular file (*size: its size).
 * On failure nothing is left open. */
static int open_regular(const char *path, int *fd, size_t *size, ct_err *e)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return ct_errno(e, errno == ENOENT ? CT_ENOTFOUND : CT_EIO, errno, "%s", path);
	struct stat st;
	int rc = 0;
	if (fstat(*fd, &st) != 0)
		rc = ct_errno(e, CT_EIO, errno, "%s: stat failed", path);
	else if (!S_ISREG(st.st_mode))
		rc = ct_errf(e, CT_ECORRUPT, "%s: not a regular file", path);
	if (rc < 0) {
		close(*fd); /* read-only: nothing to lose if close fails */
		*fd = -1;
		return rc;
	}
	*size = (size_t)st.st_size;
	return 0;
}

int h5c_verify_file(const char *path, ct_err *e)
{
	int fd;
	size_t size;
	int rc = open_regular(path, &fd, &size, e);
	if (rc < 0)
		return rc;
	rc = verify_fd(fd, size, path, e);
	close(fd); /* read-only: nothing to lose if close fails */
	return rc;
}

/* ---- HDF5 set-up, locking and error text --------------------------------- */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_ok;
static unsigned g_image_counter; /* under g_lock */

static void global_init(void)
{
	/* Plugins could run foreign code on our data; we use no filters. */
	g_init_ok = H5open() >= 0 && H5PLset_loading_state(0) >= 0;
}

/* Every entry point that calls HDF5 runs between these two.  Automatic error
 * printing is per thread in a thread-safe HDF5, hence turned off every time. */
static int h5_lock(ct_err *e)
{
	pthread_once(&g_once, global_init);
	pthread_mutex_lock(&g_lock);
	if (!g_init_ok || H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0) {
		pthread_mutex_unlock(&g_lock);
		return ct_errf(e, CT_EIO, "cannot initialise the HDF5 library");
	}
	return 0;
}

static void h5_unlock(void) { pthread_mutex_unlock(&g_lock); }

static herr_t walk_cb(unsigned n, const H5E_error2_t *err, void *data)
{
	if (n == 0 && err->desc)
		snprintf(data, 256, "%s", err->desc);
	return 0;
}

/* ct_errf with the innermost HDF5 error description appended. */
__attribute__((format(printf, 3, 4))) static int h5_fail(ct_err *e, int code, const char *fmt, ...)
{
	char ctx[PATH_MAX_LEN + 256], why[256] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof ctx, fmt, ap);
	va_end(ap);
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, why);
	H5Eclear2(H5E_DEFAULT);
	return ct_errf(e, code, "%s: %s", ctx, why[0] ? why : "HDF5 error");
}

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
static void close_all(int *rc, ct_err *e, const char *what, hid_t *ids, int n)
{
	for (int i = 0; i < n; i++) {
		if (h5_close(ids[i]) < 0 && *rc == 0)
			*rc = h5_fail(e, CT_EIO, "%s: closing an HDF5 object failed", what);
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
	[H5C_F32] = {"float32", 4, H5T_FLOAT, H5T_SGN_ERROR},
	[H5C_F64] = {"float64", 8, H5T_FLOAT, H5T_SGN_ERROR},
	[H5C_I64] = {"int64", 8, H5T_INTEGER, H5T_SGN_2},
	[H5C_U64] = {"uint64", 8, H5T_INTEGER, H5T_SGN_NONE},
	[H5C_U8] = {"uint8", 1, H5T_INTEGER, H5T_SGN_NONE},
	[H5C_STR] = {"string", sizeof(char *), H5T_STRING, H5T_SGN_ERROR},
};

const char *h5c_type_name(h5c_type t)
{
	CT_ASSERT(t >= H5C_F32 && t <= H5C_STR);
	return g_types[t].name;
}

int64_t h5c_numel(const h5c_field *f)
{
	int64_t n = 1;
	for (int i = 0; i < f->ndim; i++)
		n *= f->shape[i];
	return n;
}

static void check_field(const h5c_field *f)
{
	CT_ASSERT(f->path && f->path[0] == '/' && strlen(f->path) < PATH_MAX_LEN);
	CT_ASSERT(f->type >= H5C_F32 && f->type <= H5C_STR);
	CT_ASSERT(f->ndim >= 0 && f->ndim <= H5C_MAX_DIMS);
	CT_ASSERT(f->type != H5C_STR || f->ndim == 0);
	for (int i = 0; i < f->ndim; i++)
		CT_ASSERT(f->shape[i] >= 0);
	CT_ASSERT(f->data || h5c_numel(f) == 0);
}

/* Numeric types are predefined (never closed); strings get a fresh type. */
static hid_t file_type(h5c_type t)
{
	switch (t) {
	case H5C_F32: return H5T_IEEE_F32LE;
	case H5C_F64: return H5T_IEEE_F64LE;
	case H5C_I64: return H5T_STD_I64LE;
	case H5C_U64: return H5T_STD_U64LE;
	case H5C_U8: return H5T_STD_U8LE;
	default: return H5I_INVALID_HID;
	}
}

static hid_t mem_type(h5c_type t)
{
	switch (t) {
	case H5C_F32: return H5T_NATIVE_FLOAT;
	case H5C_F64: return H5T_NATIVE_DOUBLE;
	case H5C_I64: return H5T_NATIVE_INT64;
	case H5C_U64: return H5T_NATIVE_UINT64;
	case H5C_U8: return H5T_NATIVE_UINT8;
	default: return H5I_INVALID_HID;
	}
}

/* Variable-length (size < 0) or fixed-length NUL-terminated string type. */
static hid_t string_type(ssize_t size, H5T_cset_t cset)
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
static void split_path(const char *path, char obj[PATH_MAX_LEN], const char **attr)
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
static int ensure_groups(hid_t file, hid_t gcpl, const char *path, int whole, ct_err *e)
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
			return h5_fail(e, CT_EIO, "checkpoint image: cannot look up %s", prefix);
		if (ok > 0)
			continue;
		hid_t g = H5Gcreate2(file, prefix, H5P_DEFAULT, gcpl, H5P_DEFAULT);
		if (g < 0)
			return h5_fail(e, CT_EIO, "checkpoint image: cannot create group %s",
				       prefix);
		if (H5Gclose(g) < 0)
			return h5_fail(e, CT_EIO, "checkpoint image: cannot close group %s",
				       prefix);
	}
	return 0;
}

static hid_t make_space(const h5c_field *f)
{
	if (f->ndim == 0)
		return H5Screate(H5S_SCALAR);
	hsize_t dims[H5C_MAX_DIMS];
	for (int i = 0; i < f->ndim; i++)
		dims[i] = (hsize_t)f->shape[i];
	return H5Screate_simple(f->ndim, dims, NULL);
}

/* ---- building --------------------------------------------------------------- */

/* The core driver's memory comes from these callbacks so that (1) at H5Fclose
 * it is handed back to us instead of freed: the image leaves HDF5 without the
 * copy H5Fget_file_image would make; and (2) an h5c_image keeps it across
 * builds, so its pages are already mapped (faulting in fresh pages costs
 * several times a warm memcpy). */
typedef struct build_mem {
	unsigned char *mem; /* cap bytes, owned by the h5c_image (never by HDF5) */
	size_t cap;
	size_t valid; /* the driver's end of file: bytes it wrote or zero-filled */
	int given;    /* the driver currently uses mem */
} build_mem;

/* A dataset placed by reference: its bytes are the field's own. */
struct h5c_ref {
	uint64_t off; /* in the image */
	const void *data;
	size_t len;
	const char *path;
};

typedef struct build_ctx {
	hid_t file, gcpl, dcpl, dcpl_ref;
	build_mem m;
	h5c_image *im;    /* its ref table receives the datasets placed by reference */
	int close_failed; /* HDF5 may still hold m.mem: never free or reuse it */
} build_ctx;

/* The driver asks for exactly its new end of file, which it then fills. */
static void *bm_grow(build_mem *m, size_t size)
{
	if (size > m->cap) {
		void *p = realloc(m->mem, size);
		if (!p)
			return NULL;
		m->mem = p;
		m->cap = size;
	}
	m->valid = size;
	m->given = 1;
	return m->mem;
}

static void *bm_malloc(size_t size, H5FD_file_image_op_t op, void *udata)
{
	(void)op;
	build_mem *m = udata;
	CT_ASSERT(!m->given); /* one driver buffer per build */
	return bm_grow(m, size);
}

static void *bm_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op,
		       void *udata)
{
	(void)op, (void)udata;
	return memmove(dest, src, size);
}

/* cppcheck-suppress constParameter ; the signature is H5FD_file_image_callbacks_t's */
static void *bm_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata)
{
	(void)op;
	build_mem *m = udata;
	CT_ASSERT(ptr ? ptr == m->mem && m->given : !m->given);
	return bm_grow(m, size);
}

/* cppcheck-suppress constParameter ; the signature is H5FD_file_image_callbacks_t's */
static herr_t bm_free(void *ptr, H5FD_file_image_op_t op, void *udata)
{
	(void)op;
	build_mem *m = udata;
	CT_ASSERT(!ptr || ptr == m->mem);
	if (ptr)
		m->given = 0; /* kept: the h5c_image hands it out or frees it */
	return 0;
}

/* The callbacks' user data is owned by the caller of HDF5, never copied. */
static void *udata_copy(void *udata) { return udata; }
static herr_t udata_free(void *udata)
{
	(void)udata;
	return 0;
}

/* Bytes of a numeric field's data. */
static size_t field_bytes(const h5c_field *f)
{
	return (size_t)h5c_numel(f) * g_types[f->type].size;
}

static int by_ref(const h5c_field *f)
{
	return f->type != H5C_STR && f->ndim > 0 && field_bytes(f) >= H5C_REF_MIN;
}

static int add_ref(h5c_image *im, const h5c_field *f, haddr_t off)
{
	if (im->n_ref == im->ref_cap) {
		size_t cap = im->ref_cap ? 2 * im->ref_cap : 16;
		struct h5c_ref *v = realloc(im->ref, cap * sizeof *v);
		if (!v)
			return -1;
		im->ref = v;
		im->ref_cap = cap;
	}
	im->ref[im->n_ref++] = (struct h5c_ref){off, f->data, field_bytes(f), f->path};
	return 0;
}

/* A large dataset: storage allocated at creation and never filled, its
 * address recorded; its bytes go into the file straight from f->data. */
static int place_dataset(build_ctx *b, const h5c_field *f, hid_t dset, ct_err *e)
{
	haddr_t off = H5Dget_offset(dset);
	if (off == HADDR_UNDEF)
		return h5_fail(e, CT_EIO, "checkpoint image: no storage address for %s", f->path);
	if (add_ref(b->im, f, off) < 0)
		return ct_errf(e, CT_ENOMEM, "checkpoint image: out of memory");
	return 0;
}

/* Writes one field: a new dataset, or an attribute of a (new) object. */
static int write_field(build_ctx *b, const h5c_field *f, ct_err *e)
{
	char obj[PATH_MAX_LEN];
	const char *attr;
	split_path(f->path, obj, &attr);
	int rc = ensure_groups(b->file, b->gcpl, obj, attr != NULL, e);
	if (rc < 0)
		return rc;
	hid_t ids[4] = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID};
	hid_t *str_t = &ids[0], *space = &ids[1], *owner = &ids[2], *target = &ids[3];
	hid_t ftype = file_type(f->type), mtype = mem_type(f->type);
	const void *data = f->data;
	const char *step = "create the string type for";
	if (f->type == H5C_STR) {
		/* Fixed length, NUL included: nothing in the global heap. */
		data = *(char *const *)f->data;
		CT_ASSERT(data != NULL);
		size_t size = strlen(data) + 1;
		if (size > H5C_STR_MAX)
			return ct_errf(e, CT_EUNSUPPORTED,
				       "checkpoint image: %s is a string of %zu bytes, at most %d "
				       "are supported",
				       f->path, size - 1, H5C_STR_MAX - 1);
		if ((*str_t = string_type((ssize_t)size, H5T_CSET_UTF8)) < 0)
			goto fail;
		ftype = mtype = *str_t;
	}
	step = "create the dataspace of";
	if ((*space = make_space(f)) < 0)
		goto fail;
	int64_t numel = h5c_numel(f);
	if (attr) {
		step = "open the owner of";
		if ((*owner = H5Oopen(b->file, obj, H5P_DEFAULT)) < 0)
			goto fail;
		step = "create attribute";
		if ((*target = H5Acreate2(*owner, attr, ftype, *space, H5P_DEFAULT, H5P_DEFAULT)) <
		    0)
			goto fail;
		step = "write attribute";
		if (numel > 0 && H5Awrite(*target, mtype, data) < 0)
			goto fail;
	} else {
		step = "create dataset";
		int ref = by_ref(f);
		hid_t dcpl = ref ? b->dcpl_ref : b->dcpl;
		*target = H5Dcreate2(b->file, obj, ftype, *space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
		if (*target < 0)
			goto fail;
		step = "write dataset";
		if (ref)
			rc = place_dataset(b, f, *target, e);
		else if (numel > 0 &&
			 H5Dwrite(*target, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
			goto fail;
	}
	close_all(&rc, e, f->path, ids, 4);
	return rc;
fail:
	rc = h5_fail(e, CT_EIO, "checkpoint image: cannot %s %s", step, f->path);
	close_all(&rc, e, f->path, ids, 4);
	return rc;
}

/* HDF5 takes space for metadata in blocks of this size.  Metadata that does
 * not fit into the first block goes into another one after the datasets
 * placed by reference, and writing it makes the driver zero-fill all of
 * them (a 22 MB memset); a block too large leaves its unused end as zeros
 * in the file.  About 550 bytes per field are used; this leaves room for
 * long names and stays a function of the field count, so that the same
 * fields always give the same bytes. */
static hsize_t meta_block(const h5c_field *fields, size_t n)
{
	size_t bytes = 4096 + n * META_PER_FIELD;
	for (size_t i = 0; i < n; i++)
		if (fields[i].type == H5C_STR)
			bytes += strlen(*(char *const *)fields[i].data) + 64;
	return (hsize_t)((bytes + 4095) & ~(size_t)4095);
}

/* Property lists: the core driver keeps the image in memory only; times are
 * not tracked so that the same fields always give the same bytes. */
static int build_open(build_ctx *b, const h5c_field *fields, size_t n, size_t payload, ct_err *e)
{
	H5FD_file_image_callbacks_t cb = {bm_malloc,  bm_memcpy,  bm_realloc, bm_free,
					  udata_copy, udata_free, &b->m};
	/* The driver's buffer holds what HDF5 writes: metadata (a few KB per
	 * object) and the small fields' data; one increment is usually enough. */
	size_t increment = payload + n * 4096 + ((size_t)1 << 16);
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	int ok = fapl >= 0 && H5Pset_fapl_core(fapl, increment, 0) >= 0 &&
		 H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0 &&
		 H5Pset_meta_block_size(fapl, meta_block(fields, n)) >= 0 &&
		 H5Pset_file_image_callbacks(fapl, &cb) >= 0;
	b->gcpl = H5Pcreate(H5P_GROUP_CREATE);
	b->dcpl = H5Pcreate(H5P_DATASET_CREATE);
	b->dcpl_ref = H5Pcreate(H5P_DATASET_CREATE);
	/* Data is always written whole right after creation: filling it first
	 * would only cost a pass over memory.  Datasets placed by reference get
	 * their contiguous storage at creation, so that its address is known. */
	ok = ok && b->gcpl >= 0 && b->dcpl >= 0 && b->dcpl_ref >= 0 &&
	     H5Pset_obj_track_times(b->gcpl, 0) >= 0 && H5Pset_obj_track_times(b->dcpl, 0) >= 0 &&
	     H5Pset_obj_track_times(b->dcpl_ref, 0) >= 0 &&
	     H5Pset_fill_time(b->dcpl, H5D_FILL_TIME_NEVER) >= 0 &&
	     H5Pset_fill_time(b->dcpl_ref, H5D_FILL_TIME_NEVER) >= 0 &&
	     H5Pset_layout(b->dcpl_ref, H5D_CONTIGUOUS) >= 0 &&
	     H5Pset_alloc_time(b->dcpl_ref, H5D_ALLOC_TIME_EARLY) >= 0;
	if (ok) {
		/* A name no file can have (/dev/null is not a directory), unique
		 * so that HDF5 never takes it for a file that is already open. */
		char name[64];
		snprintf(name, sizeof name, "/dev/null/ctrain-h5c-build-%u", g_image_counter++);
		b->file = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
		ok = b->file >= 0;
	}
	int rc = ok ? 0
		    : h5_fail(e, CT_EIO, "checkpoint image: cannot create the in-memory HDF5 file");
	close_all(&rc, e, "checkpoint image", &fapl, 1);
	return rc;
}

static int build_close_file(build_ctx *b, ct_err *e)
{
	if (b->file < 0)
		return 0;
	herr_t st = H5Fclose(b->file);
	b->file = H5I_INVALID_HID;
	if (st < 0) {
		b->close_failed = 1;
		return h5_fail(e, CT_EIO, "checkpoint image: cannot close the in-memory HDF5 file");
	}
	return 0;
}

/* Closes the file, which writes the metadata.  No H5Fflush before: it would
 * make the driver extend its buffer to the end of the file and zero-fill
 * the datasets placed by reference (22 MB of memset).  The superblock's
 * end-of-file address (version 0 layout, offset 40) gives the image size. */
static int build_close(build_ctx *b, size_t *image_len, ct_err *e)
{
	int rc = build_close_file(b, e);
	if (rc < 0)
		return rc;
	const build_mem *m = &b->m;
	CT_ASSERT(!m->given);
	uint64_t n = m->mem && m->valid >= MIN_IMAGE ? get_le(m->mem + 40, 8) : 0;
	if (!m->mem || m->valid < MIN_IMAGE || m->mem[8] != 0 || n < MIN_IMAGE || n > MAX_FILE)
		return ct_errf(e, CT_EIO,
			       "checkpoint image: HDF5 left an image of %zu bytes whose "
			       "superblock says %llu",
			       m->valid, (unsigned long long)n);
	*image_len = (size_t)n;
	return 0;
}

static int ref_cmp(const void *a, const void *b)
{
	const struct h5c_ref *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

static int add_seg(h5c_image *im, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (im->n_seg == im->seg_cap) {
		size_t cap = im->seg_cap ? 2 * im->seg_cap : 32;
		atomic_buf *v = realloc(im->seg, cap * sizeof *v);
		if (!v)
			return -1;
		im->seg = v;
		im->seg_cap = cap;
	}
	im->seg[im->n_seg++] = (atomic_buf){data, len};
	return 0;
}

/* Bytes of the image HDF5 never wrote beyond the driver's end of file (space
 * it allocated and left unused) become zeros, as a file would have them. */
static int zero_gap(h5c_image *im, size_t valid, size_t from, size_t to)
{
	if (to <= valid)
		return 0;
	if (to > im->cap) {
		unsigned char *p = realloc(im->mem, to);
		if (!p)
			return -1;
		im->mem = p;
		im->cap = to;
	}
	from = from > valid ? from : valid;
	memset(im->mem + from, 0, to - from);
	return 0;
}

/* The datasets placed by reference must lie inside the image without
 * overlapping each other; sorts them by address. */
static int check_refs(h5c_image *im, size_t image_len, ct_err *e)
{
	if (im->n_ref > 1)
		qsort(im->ref, im->n_ref, sizeof *im->ref, ref_cmp);
	size_t at = 0;
	for (size_t i = 0; i < im->n_ref; i++) {
		const struct h5c_ref *r = &im->ref[i];
		if (r->off < at || r->off > image_len || r->len > image_len - r->off)
			return ct_errf(e, CT_EIO,
				       "checkpoint image: HDF5 placed %s at bytes %llu..%llu, "
				       "outside the free part of its %zu-byte image",
				       r->path, (unsigned long long)r->off,
				       (unsigned long long)(r->off + r->len), image_len);
		at = (size_t)r->off + r->len;
	}
	return 0;
}

/* The file as segments: the driver's buffer around the datasets placed by
 * reference, then the trailer. */
static int cut_segments(h5c_image *im, size_t valid, size_t image_len, ct_err *e)
{
	int rc = check_refs(im, image_len, e);
	if (rc < 0)
		return rc;
	size_t at = 0;
	for (size_t i = 0; i <= im->n_ref; i++) { /* the gaps first: mem may move */
		size_t end = i < im->n_ref ? (size_t)im->ref[i].off : image_len;
		if (zero_gap(im, valid, at, end) < 0)
			return ct_errf(e, CT_ENOMEM, "checkpoint image: out of memory");
		if (i < im->n_ref)
			at = end + im->ref[i].len;
	}
	im->n_seg = 0;
	at = 0;
	for (size_t i = 0; i < im->n_ref; i++) {
		const struct h5c_ref *r = &im->ref[i];
		if (add_seg(im, im->mem + at, (size_t)r->off - at) < 0 ||
		    add_seg(im, r->data, r->len) < 0)
			return ct_errf(e, CT_ENOMEM, "checkpoint image: out of memory");
		at = (size_t)r->off + r->len;
	}
	if (add_seg(im, im->mem + at, image_len - at) < 0 ||
	    add_seg(im, im->trailer, H5C_TRAILER_SIZE) < 0)
		return ct_errf(e, CT_ENOMEM, "checkpoint image: out of memory");
	return 0;
}

/* Trailer over the segments (all but the trailer itself). */
static void image_trailer(h5c_image *im, size_t image_len)
{
	uint32_t crc = 0;
	for (size_t i = 0; i + 1 < im->n_seg; i++)
		crc = crc32c_update(crc, im->seg[i].data, im->seg[i].len);
	trailer_fill(im->trailer, crc, image_len);
	im->len = image_len + H5C_TRAILER_SIZE;
}

static int build_fields(build_ctx *b, const h5c_field *fields, size_t n, size_t *image_len,
			ct_err *e)
{
	size_t payload = 0;
	for (size_t i = 0; i < n; i++) {
		check_field(&fields[i]);
		if (fields[i].type != H5C_STR && !by_ref(&fields[i]))
			payload += field_bytes(&fields[i]);
	}
	int rc = build_open(b, fields, n, payload, e);
	/* Everything HDF5 writes itself first, the datasets placed by reference
	 * last: their storage then comes after the metadata, beyond the part of
	 * the file the driver has to hold (and zero-fill). */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; rc == 0 && i < n; i++)
			if (by_ref(&fields[i]) == pass)
				rc = write_field(b, &fields[i], e);
	if (rc == 0)
		rc = build_close(b, image_len, e);
	/* On an earlier error e already says what went wrong: keep it. */
	int close_rc = build_close_file(b, rc < 0 ? NULL : e);
	hid_t ids[3] = {b->dcpl_ref, b->dcpl, b->gcpl};
	close_all(&close_rc, rc < 0 || close_rc < 0 ? NULL : e, "checkpoint image", ids, 3);
	return rc < 0 ? rc : close_rc;
}

void h5c_image_init(h5c_image *im) { memset(im, 0, sizeof *im); }

void h5c_image_release(h5c_image *im)
{
	free(im->mem);
	free(im->seg);
	free(im->ref);
	memset(im, 0, sizeof *im);
}

int h5c_image_build(h5c_image *im, const h5c_field *fields, size_t n, ct_err *e)
{
	im->n_seg = im->n_ref = 0;
	im->len = 0;
	int rc = h5_lock(e);
	if (rc < 0)
		return rc;
	build_ctx b = {H5I_INVALID_HID,
		       H5I_INVALID_HID,
		       H5I_INVALID_HID,
		       H5I_INVALID_HID,
		       {im->mem, im->cap, 0, 0},
		       im,
		       0};
	size_t image_len = 0;
	rc = build_fields(&b, fields, n, &image_len, e);
	h5_unlock();
	im->mem = b.m.mem;
	im->cap = b.m.cap;
	if (b.close_failed) {
		/* HDF5 may still use the buffer: leaking it is the safe choice. */
		im->mem = NULL;
		im->cap = 0;
	}
	if (rc == 0)
		rc = cut_segments(im, b.m.valid, image_len, e);
	if (rc < 0) {
		im->n_seg = 0;
		return rc;
	}
	image_trailer(im, image_len);
	return 0;
}

int h5c_image_gather(const h5c_image *im, void **buf, size_t *len, ct_err *e)
{
	*buf = NULL;
	*len = 0;
	unsigned char *p = malloc(im->len ? im->len : 1);
	if (!p)
		return ct_errf(e, CT_ENOMEM, "checkpoint image: out of memory for %zu bytes",
			       im->len);
	size_t at = 0;
	for (size_t i = 0; i < im->n_seg; i++) {
		memcpy(p + at, im->seg[i].data, im->seg[i].len);
		at += im->seg[i].len;
	}
	CT_ASSERT(at == im->len);
	*buf = p;
	*len = at;
	return 0;
}

int h5c_build(const h5c_field *fields, size_t n, void **buf, size_t *len, ct_err *e)
{
	*buf = NULL;
	*len = 0;
	h5c_image im;
	h5c_image_init(&im);
	int rc = h5c_image_build(&im, fields, n, e);
	if (rc == 0)
		rc = h5c_image_gather(&im, buf, len, e);
	h5c_image_release(&im);
	return rc;
}

/* ---- reading ------------------------------------------------------------------ */

struct h5c_reader {
	hid_t file;
	char *name;
	void *image; /* owned; HDF5 reads it in place (see the callbacks below) */
	size_t image_len;
	size_t map_len; /* > 0: image is a read-only mapping of the file */
	int vlen_ok;    /* format_version 1: its variable-length strings are parsed here */
};

/* Forward: reads a field with the lock held (the legacy check at open). */
static int read_locked(h5c_reader *r, const h5c_field *f, ct_err *e);
/* Forward: the metadata walk done at open, before libhdf5 parses the image. */
static int check_structure(const h5c_reader *r, ct_err *e);

/* The superblock ctrain writes, checked before libhdf5 parses anything:
 * version 0, 8-byte addresses and lengths, base address 0 and an end of file
 * that is the image's (h5c builds the image to exactly that length).  The
 * parser of format-1 strings below relies on it. */
static int check_superblock(const h5c_reader *r, ct_err *e)
{
	const unsigned char *p = r->image;
	uint64_t base = get_le(p + 24, 8), eof = get_le(p + 40, 8);
	if (p[8] != 0)
		return ct_errf(e, CT_ECORRUPT, "%s: HDF5 superblock version %u; ctrain writes 0",
			       r->name, (unsigned)p[8]);
	if (p[13] != 8 || p[14] != 8)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: HDF5 superblock with %u-byte addresses and %u-byte lengths; "
			       "ctrain writes 8 and 8",
			       r->name, (unsigned)p[13], (unsigned)p[14]);
	if (base != 0 || eof != r->image_len)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: HDF5 superblock gives base address %llu and end of file %llu "
			       "for an image of %zu bytes",
			       r->name, (unsigned long long)base, (unsigned long long)eof,
			       r->image_len);
	return 0;
}

/* File image callbacks that let the core driver use our buffer as its file
 * memory instead of copying it (up to three times: property list set, copy,
 * and file open).  The file is opened read-only, so it never grows. */
static void *img_malloc(size_t size, H5FD_file_image_op_t op, void *udata)
{
	(void)op;
	h5c_reader *r = udata;
	return size <= r->image_len ? r->image : NULL;
}

static void *img_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op,
			void *udata)
{
	(void)op;
	(void)udata;
	if (dest != src)
		memcpy(dest, src, size);
	return dest;
}

static void *img_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata)
{
	(void)ptr, (void)size, (void)op, (void)udata;
	return NULL;
}

static herr_t img_free(void *ptr, H5FD_file_image_op_t op, void *udata)
{
	(void)ptr, (void)op, (void)udata;
	return 0; /* the reader frees the image after H5Fclose */
}

static int reader_open_image(h5c_reader *r, ct_err *e)
{
	H5FD_file_image_callbacks_t cb = {img_malloc, img_memcpy, img_realloc, img_free, udata_copy,
					  udata_free, r};
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	int ok = fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0 &&
		 H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0 &&
		 H5Pset_file_image_callbacks(fapl, &cb) >= 0 &&
		 H5Pset_file_image(fapl, r->image, r->image_len) >= 0;
	if (ok) {
		char name[64];
		snprintf(name, sizeof name, "/dev/null/ctrain-h5c-read-%u", g_image_counter++);
		r->file = H5Fopen(name, H5F_ACC_RDONLY, fapl);
		ok = r->file >= 0;
	}
	int rc = ok ? 0 : h5_fail(e, CT_ECORRUPT, "%s: cannot open the HDF5 image", r->name);
	close_all(&rc, e, r->name, &fapl, 1);
	return rc;
}

static void image_release(void *image, size_t map_len)
{
	if (map_len)
		munmap(image, map_len);
	else
		free(image);
}

/* Takes ownership of image (image_len bytes of HDF5, already verified; a
 * mapping of map_len bytes, or malloc'ed when map_len is 0). */
static int reader_new(void *image, size_t image_len, size_t map_len, const char *name,
		      h5c_reader **out, ct_err *e)
{
	h5c_reader *r = calloc(1, sizeof *r);
	char *nm = strdup(name);
	if (!r || !nm) {
		free(r);
		free(nm);
		image_release(image, map_len);
		return ct_errf(e, CT_ENOMEM, "%s: out of memory", name);
	}
	r->file = H5I_INVALID_HID;
	r->name = nm;
	r->image = image;
	r->image_len = image_len;
	r->map_len = map_len;
	int rc = check_superblock(r, e);
	if (rc == 0)
		rc = check_structure(r, e);
	if (rc == 0 && (rc = h5_lock(e)) == 0) {
		rc = reader_open_image(r, e);
		if (rc == 0) {
			/* Only a format_version 1 file may hold variable-length strings. */
			int64_t v = 0;
			h5c_field fv = {"/@format_version", H5C_I64, 0, {0}, &v};
			r->vlen_ok = read_locked(r, &fv, NULL) == 0 && v == 1;
			H5Eclear2(H5E_DEFAULT);
		}
		h5_unlock();
	}
	if (rc < 0) {
		h5c_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

int h5c_open_buffer(const void *buf, size_t len, const char *name, h5c_reader **r, ct_err *e)
{
	*r = NULL;
	int rc = h5c_verify(buf, len, e);
	if (rc < 0)
		return named(rc, e, name);
	size_t image_len = len - H5C_TRAILER_SIZE;
	void *copy = malloc(image_len);
	if (!copy)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory for %zu bytes", name, image_len);
	memcpy(copy, buf, image_len);
	return reader_new(copy, image_len, 0, name, r, e);
}

/* Maps the file read-only with its pages populated up front: the page cache
 * is used in place, where read(2) into a fresh buffer would fault in (and
 * zero) as many new pages, measured 3 ms against 49 ms for 48 MB here.
 * *map is NULL (and 0 returned) when the file cannot be mapped. */
static int map_file(const char *path, void **map, size_t *len, ct_err *e)
{
	*map = NULL;
	int fd;
	size_t size;
	int rc = open_regular(path, &fd, &size, e);
	if (rc < 0)
		return rc;
	if (size < H5C_TRAILER_SIZE + MIN_IMAGE)
		rc = named(too_short(size, e), e, path);
	if (rc == 0) {
		void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		if (p != MAP_FAILED) {
			*map = p;
			*len = size;
		}
	}
	close(fd); /* read-only, and a mapping outlives its descriptor */
	return rc;
}

int h5c_open(const char *path, h5c_reader **r, ct_err *e)
{
	*r = NULL;
	void *map;
	size_t len;
	int rc = map_file(path, &map, &len, e);
	if (rc < 0)
		return rc;
	if (map) {
		if ((rc = h5c_verify(map, len, e)) < 0) {
			munmap(map, len);
			return named(rc, e, path);
		}
		return reader_new(map, len - H5C_TRAILER_SIZE, len, path, r, e);
	}
	char *buf;
	if ((rc = file_read_all(path, MAX_FILE, &buf, &len, e)) < 0)
		return rc;
	if ((rc = h5c_verify(buf, len, e)) < 0) {
		free(buf);
		return named(rc, e, path);
	}
	return reader_new(buf, len - H5C_TRAILER_SIZE, 0, path, r, e);
}

void h5c_close(h5c_reader *r)
{
	if (!r)
		return;
	if (r->file >= 0 && h5_lock(NULL) == 0) {
		/* Nothing useful to do if closing a read-only image fails. */
		H5Fclose(r->file);
		h5_unlock();
	}
	image_release(r->image, r->map_len);
	free(r->name);
	free(r);
}

static const char *link_kind(H5L_type_t t)
{
	return t == H5L_TYPE_SOFT ? "soft" : t == H5L_TYPE_EXTERNAL ? "external" : "user-defined";
}

/* Checks that every component of obj exists and is a hard link to an
 * address inside the image, so that H5Oopen follows nothing else: 0, or
 * CT_ENOTFOUND / CT_ECORRUPT naming path. */
static int walk_hard(h5c_reader *r, const char *obj, const char *path, ct_err *e)
{
	char prefix[PATH_MAX_LEN];
	size_t len = strlen(obj);
	for (size_t i = 2; i <= len; i++) { /* "/" itself is the superblock's */
		if (i < len && obj[i] != '/')
			continue;
		memcpy(prefix, obj, i);
		prefix[i] = '\0';
		htri_t ok = H5Lexists(r->file, prefix, H5P_DEFAULT);
		if (ok < 0)
			return h5_fail(e, CT_ECORRUPT, "%s: cannot look up %s", r->name, path);
		if (ok == 0)
			return ct_errf(e, CT_ENOTFOUND, "%s: %s not found", r->name, path);
		H5L_info_t li;
		if (H5Lget_info(r->file, prefix, &li, H5P_DEFAULT) < 0)
			return h5_fail(e, CT_ECORRUPT, "%s: cannot look up %s", r->name, prefix);
		if (li.type != H5L_TYPE_HARD)
			return ct_errf(e, CT_ECORRUPT,
				       "%s: %s is a %s link; only hard links are followed", r->name,
				       prefix, link_kind(li.type));
		if (li.u.address >= r->image_len)
			return ct_errf(e, CT_ECORRUPT,
				       "%s: %s points to address %llu, outside the %zu-byte image",
				       r->name, prefix, (unsigned long long)li.u.address,
				       r->image_len);
	}
	return 0;
}

/* Opens what path names: *owner is the object (dataset or attribute owner),
 * *target the dataset or the attribute (== *owner for a dataset). */
static int open_target(h5c_reader *r, const char *path, hid_t *owner, hid_t *target, ct_err *e)
{
	char obj[PATH_MAX_LEN];
	const char *attr;
	CT_ASSERT(path && path[0] == '/' && strlen(path) < PATH_MAX_LEN);
	split_path(path, obj, &attr);
	*owner = *target = H5I_INVALID_HID;
	int rc = walk_hard(r, obj, path, e);
	if (rc < 0)
		return rc;
	if ((*owner = H5Oopen(r->file, obj, H5P_DEFAULT)) < 0)
		return h5_fail(e, CT_ECORRUPT, "%s: cannot open %s", r->name, obj);
	if (!attr) {
		if (H5Iget_type(*owner) != H5I_DATASET)
			return ct_errf(e, CT_ECORRUPT, "%s: %s is not a dataset", r->name, path);
		*target = *owner;
		return 0;
	}
	htri_t has = H5Aexists(*owner, attr);
	if (has < 0)
		return h5_fail(e, CT_ECORRUPT, "%s: cannot look up %s", r->name, path);
	if (has == 0)
		return ct_errf(e, CT_ENOTFOUND, "%s: %s not found", r->name, path);
	if ((*target = H5Aopen(*owner, attr, H5P_DEFAULT)) < 0)
		return h5_fail(e, CT_ECORRUPT, "%s: cannot open %s", r->name, path);
	return 0;
}

static int is_attr(hid_t target) { return H5Iget_type(target) == H5I_ATTR; }

static int get_dims(h5c_reader *r, const char *path, hid_t space, int *ndim,
		    int64_t shape[H5C_MAX_DIMS], ct_err *e)
{
	H5S_class_t cls = H5Sget_simple_extent_type(space);
	if (cls == H5S_NULL)
		return ct_errf(e, CT_EUNSUPPORTED, "%s: %s has an empty (null) dataspace", r->name,
			       path);
	int nd = H5Sget_simple_extent_ndims(space);
	if (cls < 0 || nd < 0)
		return h5_fail(e, CT_ECORRUPT, "%s: cannot read the shape of %s", r->name, path);
	if (nd > H5C_MAX_DIMS)
		return ct_errf(e, CT_EUNSUPPORTED,
			       "%s: %s has %d dimensions, at most %d are supported", r->name, path,
			       nd, H5C_MAX_DIMS);
	hsize_t dims[H5C_MAX_DIMS];
	if (nd > 0 && H5Sget_simple_extent_dims(space, dims, NULL) < 0)
		return h5_fail(e, CT_ECORRUPT, "%s: cannot read the shape of %s", r->name, path);
	/* Every element takes at least a byte of the image: a larger count is
	 * a lie that a caller would otherwise allocate for. */
	uint64_t numel = 1;
	for (int i = 0; i < nd; i++) {
		if (dims[i] == 0)
			numel = 0;
		else if (numel > 0 && dims[i] > r->image_len / numel)
			return ct_errf(e, CT_ECORRUPT,
				       "%s: %s has more elements than the %zu-byte image has bytes",
				       r->name, path, r->image_len);
		else
			numel *= dims[i];
	}
	*ndim = nd;
	for (int i = 0; i < nd; i++)
		shape[i] = (int64_t)dims[i];
	return 0;
}

static void format_shape(char *out, size_t cap, int ndim, const int64_t *shape)
{
	size_t used = (size_t)snprintf(out, cap, "[");
	for (int i = 0; i < ndim && used < cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%lld", i ? "," : "",
					 (long long)shape[i]);
	if (used < cap)
		snprintf(out + used, cap - used, "]");
}

static int check_shape(h5c_reader *r, const h5c_field *f, hid_t space, ct_err *e)
{
	int nd;
	int64_t shape[H5C_MAX_DIMS];
	int rc = get_dims(r, f->path, space, &nd, shape, e);
	if (rc < 0)
		return rc;
	int same = nd == f->ndim;
	for (int i = 0; same && i < nd; i++)
		same = shape[i] == f->shape[i];
	if (same)
		return 0;
	char got[128], want[128];
	format_shape(got, sizeof got, nd, shape);
	format_shape(want, sizeof want, f->ndim, f->shape);
	return ct_errf(e, CT_ECORRUPT, "%s: %s has shape %s, expected %s", r->name, f->path, got,
		       want);
}

static void describe_type(hid_t t, char *out, size_t cap)
{
	H5T_class_t cls = H5Tget_class(t);
	size_t bits = H5Tget_size(t) * 8;
	if (cls == H5T_FLOAT)
		snprintf(out, cap, "float%zu", bits);
	else if (cls == H5T_INTEGER)
		snprintf(out, cap, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", bits);
	else if (cls == H5T_STRING)
		snprintf(out, cap, "string");
	else
		snprintf(out, cap, "HDF5 type class %d", (int)cls);
}

/* The datatype must be exactly the one ctrain writes: a checkpoint is
 * restored bit for bit, so no conversion (float64 -> float32, big-endian,
 * odd precision) is allowed, and libhdf5 then converts nothing.  Strings:
 * fixed length up to H5C_STR_MAX, ASCII or UTF-8; variable-length ones only
 * as attributes of a format_version 1 file (*vlen set: read by
 * read_vlen_string, never by libhdf5). */
static int check_type(h5c_reader *r, const h5c_field *f, hid_t t, int attr, int *vlen, ct_err *e)
{
	*vlen = 0;
	H5T_class_t cls = H5Tget_class(t);
	int same;
	if (f->type != H5C_STR) {
		same = H5Tequal(t, file_type(f->type)) > 0;
	} else if (cls != H5T_STRING) {
		same = 0;
	} else {
		htri_t var = H5Tis_variable_str(t);
		size_t size = H5Tget_size(t);
		H5T_cset_t cset = H5Tget_cset(t);
		if (var < 0 || cset < 0)
			return h5_fail(e, CT_ECORRUPT, "%s: cannot inspect the string type of %s",
				       r->name, f->path);
		if (var && (!attr || !r->vlen_ok))
			return ct_errf(e, CT_ECORRUPT,
				       "%s: %s is a variable-length string, which only the "
				       "attributes of format_version 1 checkpoints may be",
				       r->name, f->path);
		if (var) {
			*vlen = 1;
			return 0;
		}
		if (size == 0 || size > H5C_STR_MAX)
			return ct_errf(e, CT_ECORRUPT,
				       "%s: %s is a string of %zu bytes; at most %d are read",
				       r->name, f->path, size, H5C_STR_MAX);
		same = cset == H5T_CSET_ASCII || cset == H5T_CSET_UTF8;
	}
	if (same)
		return 0;
	char got[96];
	describe_type(t, got, sizeof got);
	if (strcmp(got, g_types[f->type].name) == 0)
		snprintf(got + strlen(got), sizeof got - strlen(got),
			 " of an unusual layout (byte order, precision, padding or character set)");
	return ct_errf(e, CT_ECORRUPT, "%s: %s has type %s, expected %s", r->name, f->path, got,
		       g_types[f->type].name);
}

/* An attribute's value is in its object header, which libhdf5 has decoded
 * already; it must be exactly as large as its type and shape say. */
static int check_attr_storage(h5c_reader *r, const char *path, hid_t attr, uint64_t bytes,
			      ct_err *e)
{
	hsize_t have = H5Aget_storage_size(attr);
	if (have == bytes)
		return 0;
	return ct_errf(e, CT_ECORRUPT, "%s: %s holds %llu bytes, its type and shape make %llu",
		       r->name, path, (unsigned long long)have, (unsigned long long)bytes);
}

static const char *layout_name(H5D_layout_t l)
{
	return l == H5D_CHUNKED ? "chunked" : l == H5D_VIRTUAL ? "virtual" : "unknown";
}

/* A dataset's storage: contiguous or compact, no filters, no external
 * files, allocated, exactly bytes long and (contiguous) inside the image. */
static int check_dataset(h5c_reader *r, const char *path, hid_t dset, uint64_t bytes, ct_err *e)
{
	hid_t dcpl = H5Dget_create_plist(dset);
	if (dcpl < 0)
		return h5_fail(e, CT_ECORRUPT, "%s: cannot inspect the storage of %s", r->name,
			       path);
	H5D_layout_t layout = H5Pget_layout(dcpl);
	int filters = H5Pget_nfilters(dcpl), external = H5Pget_external_count(dcpl);
	int rc = 0;
	if (layout < 0 || filters < 0 || external < 0)
		rc = h5_fail(e, CT_ECORRUPT, "%s: cannot inspect the storage of %s", r->name, path);
	else if (layout != H5D_CONTIGUOUS && layout != H5D_COMPACT)
		rc = ct_errf(e, CT_ECORRUPT,
			     "%s: %s has %s storage; only contiguous and compact datasets are read",
			     r->name, path, layout_name(layout));
	else if (filters > 0)
		rc = ct_errf(e, CT_ECORRUPT, "%s: %s has %d filters; ctrain reads none", r->name,
			     path, filters);
	else if (external > 0)
		rc = ct_errf(e, CT_ECORRUPT, "%s: %s keeps its data in %d external files", r->name,
			     path, external);
	close_all(&rc, e, r->name, &dcpl, 1);
	if (rc < 0 || bytes == 0)
		return rc;
	H5D_space_status_t status;
	if (H5Dget_space_status(dset, &status) < 0)
		return h5_fail(e, CT_ECORRUPT, "%s: cannot inspect the storage of %s", r->name,
			       path);
	if (status != H5D_SPACE_STATUS_ALLOCATED)
		return ct_errf(e, CT_ECORRUPT, "%s: %s has no data stored", r->name, path);
	hsize_t have = H5Dget_storage_size(dset);
	if (have != bytes)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: %s has %llu bytes of storage, its type and shape make %llu",
			       r->name, path, (unsigned long long)have, (unsigned long long)bytes);
	if (layout == H5D_CONTIGUOUS) {
		haddr_t off = H5Dget_offset(dset);
		if (off == HADDR_UNDEF || off > r->image_len || bytes > r->image_len - off)
			return ct_errf(e, CT_ECORRUPT,
				       "%s: %s has its %llu bytes at address %llu, outside the "
				       "%zu-byte image",
				       r->name, path, (unsigned long long)bytes,
				       (unsigned long long)off, r->image_len);
	}
	return 0;
}

static herr_t read_any(hid_t target, hid_t mtype, void *buf)
{
	if (is_attr(target))
		return H5Aread(target, mtype, buf);
	return H5Dread(target, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
}

/* Reads a scalar fixed-length string (type checked) into a malloc'ed copy,
 * with the file's own type as memory type: libhdf5 copies, converts nothing. */
static int read_fixed_string(h5c_reader *r, const h5c_field *f, hid_t target, hid_t ftype,
			     ct_err *e)
{
	size_t size = H5Tget_size(ftype);
	hid_t mtype = H5Tcopy(ftype);
	char *out = calloc(1, size + 1); /* NUL-padded strings may fill all size bytes */
	int rc = 0;
	if (mtype < 0)
		rc = h5_fail(e, CT_EIO, "%s: cannot make a string type for %s", r->name, f->path);
	else if (!out)
		rc = ct_errf(e, CT_ENOMEM, "%s: out of memory reading %s", r->name, f->path);
	else if (read_any(target, mtype, out) < 0)
		rc = h5_fail(e, CT_ECORRUPT, "%s: cannot read %s", r->name, f->path);
	close_all(&rc, e, r->name, &mtype, 1);
	if (rc < 0) {
		free(out);
		return rc;
	}
	*(char **)f->data = out;
	return 0;
}

/* ---- format-1 strings: parsed here, never by libhdf5 ----------------------------
 * A variable-length string attribute holds (length u32, global heap
 * collection address u64, object index u32); libhdf5 1.10.8 follows that
 * into the heap unchecked (segmentation faults, and hangs converting a
 * length taken from the file).  These few formats are read here instead,
 * every offset checked against the image: the version-1 object header (and
 * its continuation blocks), the attribute message, the heap collection. */
#define OH_MAX_BLOCKS 64
#define OH_MAX_MESSAGES 4096
#define MSG_ATTRIBUTE 0x000c
#define MSG_CONTINUATION 0x0010

static int in_image(const h5c_reader *r, uint64_t off, uint64_t n)
{
	return off <= r->image_len && n <= r->image_len - off;
}

static uint64_t pad8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

/* An attribute message of m bytes at d: 0 if it is not attribute name, 1
 * with *val at its 16-byte value if it is a scalar variable-length string,
 * -1 if malformed or anything else. */
static int vlen_attr_msg(const unsigned char *d, uint64_t m, const char *name,
			 const unsigned char **val)
{
	if (m < 9 || d[0] < 1 || d[0] > 3)
		return -1;
	uint64_t off = d[0] == 3 ? 9 : 8, n = get_le(d + 2, 2), nt = get_le(d + 4, 2),
		 ns = get_le(d + 6, 2);
	uint64_t pn = d[0] == 1 ? pad8(n) : n, pt = d[0] == 1 ? pad8(nt) : nt,
		 ps = d[0] == 1 ? pad8(ns) : ns;
	if (n == 0 || off + pn > m)
		return -1;
	const unsigned char *nm = d + off, *t = nm + pn, *sp = t + pt;
	if (nm[n - 1] != '\0' || strcmp((const char *)nm, name) != 0)
		return 0;
	if (off + pn + pt + ps + 16 > m || nt < 8 || ns < 4)
		return -1;
	/* datatype: class 9 (variable-length), type 1 (string), 16 bytes */
	if ((t[0] & 0x0f) != 9 || (t[1] & 0x0f) != 1 || get_le(t + 4, 4) != 16)
		return -1;
	/* dataspace: rank 0, and for version 2 the scalar kind */
	if (sp[0] < 1 || sp[0] > 2 || sp[1] != 0 || (sp[0] == 2 && sp[3] != 0))
		return -1;
	*val = sp + ps;
	return 1;
}

/* Finds attribute name in the version-1 object header at addr: 1 (*val
 * set), 0 not there, -1 malformed. */
static int vlen_find(const h5c_reader *r, uint64_t addr, const char *name,
		     const unsigned char **val)
{
	const unsigned char *p = r->image;
	uint64_t blk[OH_MAX_BLOCKS][2];
	if (!in_image(r, addr, 16) || p[addr] != 1)
		return -1;
	blk[0][0] = addr + 16;
	blk[0][1] = get_le(p + addr + 8, 4);
	int nb = 1;
	unsigned msgs = 0;
	for (int b = 0; b < nb; b++) {
		uint64_t at = blk[b][0], size = blk[b][1];
		if (!in_image(r, at, size))
			return -1;
		for (uint64_t pos = 0; pos + 8 <= size;) {
			const unsigned char *m = p + at + pos;
			uint64_t type = get_le(m, 2), msize = get_le(m + 2, 2);
			if (msize > size - pos - 8 || ++msgs > OH_MAX_MESSAGES)
				return -1;
			if (type == MSG_CONTINUATION) {
				if (msize < 16 || nb == OH_MAX_BLOCKS)
					return -1;
				blk[nb][0] = get_le(m + 8, 8);
				blk[nb][1] = get_le(m + 16, 8);
				nb++;
			} else if (type == MSG_ATTRIBUTE && !(m[4] & 0x02)) { /* not shared */
				int found = vlen_attr_msg(m + 8, msize, name, val);
				if (found != 0)
					return found;
			}
			pos += 8 + msize;
		}
	}
	return 0;
}

/* The string a 16-byte variable-length value refers to, from its global
 * heap collection: a malloc'ed copy in *out, or -1 if anything is off. */
static int vlen_heap(const h5c_reader *r, const unsigned char *val, char **out)
{
	const unsigned char *p = r->image;
	uint64_t len = get_le(val, 4), addr = get_le(val + 4, 8), idx = get_le(val + 12, 4);
	if (len >= H5C_STR_MAX)
		return -1;
	if (len == 0) {
		*out = calloc(1, 1);
		return *out ? 0 : CT_ENOMEM;
	}
	if (!in_image(r, addr, 16) || memcmp(p + addr, "GCOL", 4) != 0 || p[addr + 4] != 1)
		return -1;
	uint64_t size = get_le(p + addr + 8, 8);
	if (size < 16 || !in_image(r, addr, size))
		return -1;
	for (uint64_t pos = 16; pos + 16 <= size;) {
		const unsigned char *o = p + addr + pos;
		uint64_t id = get_le(o, 2), osize = get_le(o + 8, 8);
		if (id == 0 || osize > size - pos - 16) /* 0: the free space, last */
			return -1;
		if (id == idx) {
			if (len > osize)
				return -1;
			*out = calloc(1, len + 1);
			if (!*out)
				return CT_ENOMEM;
			memcpy(*out, o + 16, len);
			return 0;
		}
		pos += 16 + pad8(osize);
	}
	return -1;
}

/* ---- structure check: the metadata walked here before libhdf5 sees it -----------
 * libhdf5 1.10.8 trusts the sizes and addresses in a file's metadata (a
 * local heap's data size, a B-tree node's entry count, a message's length),
 * and a forged file crashes it (ckpt/README.md, "Hostile files").  So at
 * open, every object reachable from the root is walked here first, with
 * every offset checked against the image: groups (old style: symbol table
 * message -> local heap + B-tree of symbol nodes), and each object header's
 * messages, whose kinds must be ones ctrain writes and whose sizes must
 * agree with their contents.  Anything else makes the file invalid, named. */
#define WALK_MAX_DEPTH 16 /* groups in groups, and B-tree levels */
#define WALK_MAX_OBJECTS 100000
#define UNDEF_ADDR UINT64_MAX
#define HEAP_FREE_NULL 1 /* the end of a local heap's free list */
#define MSG_NIL 0x0000
#define MSG_DATASPACE 0x0001
#define MSG_DATATYPE 0x0003
#define MSG_FILL_OLD 0x0004
#define MSG_FILL 0x0005
#define MSG_EXTERNAL 0x0007
#define MSG_LAYOUT 0x0008
#define MSG_FILTERS 0x000b
#define MSG_MTIME_OLD 0x000e
#define MSG_STAB 0x0011
#define MSG_MTIME 0x0012

typedef struct walk {
	const h5c_reader *r;
	const unsigned char *p;
	unsigned leaf_k, node_k; /* symbols per node / children per B-tree node, halved */
	unsigned objects;
	char path[PATH_MAX_LEN]; /* of the object being walked ("" for the root) */
	char why[PATH_MAX_LEN + 256];
} walk;

__attribute__((format(printf, 2, 3))) static int walk_bad(walk *w, const char *fmt, ...)
{
	char what[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(w->why, sizeof w->why, "%s: %s", w->path[0] ? w->path : "/", what);
	return -1;
}

/* A datatype of t_len bytes: integer, float, fixed or variable-length
 * string (vlen of characters), nothing else. */
static int check_dtype(walk *w, const unsigned char *t, uint64_t t_len, uint64_t at)
{
	if (t_len < 8)
		return walk_bad(w, "datatype message at %llu is %llu bytes", (unsigned long long)at,
				(unsigned long long)t_len);
	unsigned cls = t[0] & 0x0f;
	uint64_t size = get_le(t + 4, 4);
	if (cls != 0 && cls != 1 && cls != 3 && cls != 9)
		return walk_bad(w, "datatype class %u at %llu (ctrain writes numbers and strings)",
				cls, (unsigned long long)at);
	if (size == 0 || size > H5C_STR_MAX || (cls == 9 && ((t[1] & 0x0f) != 1 || size != 16)))
		return walk_bad(w, "datatype at %llu: class %u of %llu bytes",
				(unsigned long long)at, cls, (unsigned long long)size);
	if ((cls == 0 && t_len < 12) || (cls == 1 && t_len < 20))
		return walk_bad(w, "datatype at %llu: %llu bytes for class %u",
				(unsigned long long)at, (unsigned long long)t_len, cls);
	return 0;
}

/* A dataspace of s_len bytes: version 1 or 2, rank at most H5C_MAX_DIMS,
 * its dimensions inside s_len. */
static int check_dspace(walk *w, const unsigned char *s, uint64_t s_len, uint64_t at)
{
	if (s_len < 4 || s[0] < 1 || s[0] > 2 || s[1] > H5C_MAX_DIMS)
		return walk_bad(w, "dataspace at %llu: version %u, rank %u", (unsigned long long)at,
				s_len ? (unsigned)s[0] : 0u, s_len > 1 ? (unsigned)s[1] : 0u);
	uint64_t head = s[0] == 1 ? 8 : 4, dims = (uint64_t)s[1] * 8 * ((s[2] & 1) ? 2 : 1);
	if (head + dims > s_len || (s[0] == 2 && s[3] > 2))
		return walk_bad(w, "dataspace at %llu: %u dimensions in %llu bytes",
				(unsigned long long)at, s[1], (unsigned long long)s_len);
	return 0;
}

static int check_attr(walk *w, const unsigned char *d, uint64_t m, uint64_t at)
{
	if (m < 9 || d[0] < 1 || d[0] > 3)
		return walk_bad(w, "attribute message at %llu: version %u", (unsigned long long)at,
				m ? (unsigned)d[0] : 0u);
	uint64_t off = d[0] == 3 ? 9 : 8, n = get_le(d + 2, 2), nt = get_le(d + 4, 2),
		 ns = get_le(d + 6, 2);
	uint64_t pn = d[0] == 1 ? pad8(n) : n, pt = d[0] == 1 ? pad8(nt) : nt,
		 ps = d[0] == 1 ? pad8(ns) : ns;
	if (n == 0 || off + pn + pt + ps > m || d[off + n - 1] != '\0' || (d[0] > 1 && d[1] != 0))
		return walk_bad(
			w, "attribute message at %llu: parts of %llu+%llu+%llu bytes in %llu",
			(unsigned long long)at, (unsigned long long)n, (unsigned long long)nt,
			(unsigned long long)ns, (unsigned long long)m);
	const unsigned char *t = d + off + pn, *s = t + pt;
	if (check_dtype(w, t, nt, at) < 0 || check_dspace(w, s, ns, at) < 0)
		return -1;
	/* the value: elements x element size, inside the message */
	uint64_t numel = 1;
	for (unsigned i = 0; i < s[1]; i++) {
		uint64_t dim = get_le(s + (s[0] == 1 ? 8 : 4) + 8 * (size_t)i, 8);
		if (dim > m) /* an attribute value lives in this message */
			return walk_bad(w, "attribute at %llu has a dimension of %llu",
					(unsigned long long)at, (unsigned long long)dim);
		numel *= dim;
		if (numel > m)
			return walk_bad(w, "attribute at %llu has more elements than bytes",
					(unsigned long long)at);
	}
	if (s[0] == 2 && s[3] == 2) /* null dataspace: no value */
		numel = 0;
	if (numel * get_le(t + 4, 4) > m - off - pn - pt - ps)
		return walk_bad(w, "attribute at %llu: its value does not fit its message",
				(unsigned long long)at);
	return 0;
}

static int check_layout(walk *w, const unsigned char *d, uint64_t m, uint64_t at)
{
	if (m < 2 || d[0] != 3)
		return walk_bad(w, "layout message at %llu: version %u (ctrain writes 3)",
				(unsigned long long)at, m ? (unsigned)d[0] : 0u);
	if (d[1] == 0) { /* compact: size, data */
		if (m < 4 || get_le(d + 2, 2) > m - 4)
			return walk_bad(w, "compact layout at %llu does not fit its message",
					(unsigned long long)at);
		return 0;
	}
	if (d[1] != 1 || m < 18)
		return walk_bad(w,
				"layout at %llu: class %u (ctrain writes contiguous and compact)",
				(unsigned long long)at, d[1]);
	uint64_t addr = get_le(d + 2, 8), size = get_le(d + 10, 8);
	if (addr != UNDEF_ADDR && !in_image(w->r, addr, size))
		return walk_bad(w, "contiguous data at %llu of %llu bytes is outside the image",
				(unsigned long long)addr, (unsigned long long)size);
	return 0;
}

static int check_object(walk *w, uint64_t addr, int depth);

/* A local heap: its data inside the image; *data and *size describe it. */
static int check_heap(walk *w, uint64_t addr, const unsigned char **data, uint64_t *size)
{
	const unsigned char *p = w->p;
	if (!in_image(w->r, addr, 32) || memcmp(p + addr, "HEAP", 4) != 0 || p[addr + 4] != 0)
		return walk_bad(w, "no local heap at %llu", (unsigned long long)addr);
	uint64_t n = get_le(p + addr + 8, 8), free_off = get_le(p + addr + 16, 8),
		 at = get_le(p + addr + 24, 8);
	if (n < 8 || !in_image(w->r, at, n) || (free_off != HEAP_FREE_NULL && free_off > n - 16))
		return walk_bad(w, "local heap at %llu: %llu bytes at %llu, free list at %llu",
				(unsigned long long)addr, (unsigned long long)n,
				(unsigned long long)at, (unsigned long long)free_off);
	for (unsigned k = 0; free_off != HEAP_FREE_NULL; k++) { /* free blocks: next, size */
		uint64_t next = get_le(p + at + free_off, 8),
			 len = get_le(p + at + free_off + 8, 8);
		if (k > n / 16 || len < 16 || len > n - free_off ||
		    (next != HEAP_FREE_NULL && (next <= free_off || next > n - 16)))
			return walk_bad(w, "local heap at %llu: bad free list",
					(unsigned long long)addr);
		free_off = next;
	}
	*data = p + at;
	*size = n;
	return 0;
}

static int heap_name(const unsigned char *heap, uint64_t size, uint64_t off)
{
	return off < size && memchr(heap + off, 0, (size_t)(size - off)) != NULL;
}

static int check_snod(walk *w, uint64_t addr, const unsigned char *heap, uint64_t hsize, int depth)
{
	const unsigned char *p = w->p;
	uint64_t cap = 2 * (uint64_t)w->leaf_k;
	if (!in_image(w->r, addr, 8 + cap * 40) || memcmp(p + addr, "SNOD", 4) != 0 ||
	    p[addr + 4] != 1 || get_le(p + addr + 6, 2) > cap)
		return walk_bad(w, "symbol table node at %llu is malformed",
				(unsigned long long)addr);
	uint64_t n = get_le(p + addr + 6, 2);
	for (uint64_t i = 0; i < n; i++) {
		const unsigned char *s = p + addr + 8 + i * 40;
		uint64_t cache = get_le(s + 16, 4);
		if (!heap_name(heap, hsize, get_le(s, 8)))
			return walk_bad(w, "symbol %llu of the node at %llu has no name",
					(unsigned long long)i, (unsigned long long)addr);
		const char *name = (const char *)heap + get_le(s, 8);
		size_t len = strlen(w->path);
		snprintf(w->path + len, sizeof w->path - len, "/%s", name);
		if (cache > 1)
			return walk_bad(w, "a %s link; only hard links are followed",
					cache == 2 ? "soft" : "non-hard");
		if (check_object(w, get_le(s + 8, 8), depth + 1) < 0)
			return -1;
		w->path[len] = '\0';
	}
	return 0;
}

static int check_btree(walk *w, uint64_t addr, const unsigned char *heap, uint64_t hsize, int depth)
{
	const unsigned char *p = w->p;
	uint64_t cap = 2 * (uint64_t)w->node_k;
	if (depth > WALK_MAX_DEPTH || !in_image(w->r, addr, 24 + cap * 16 + 8) ||
	    memcmp(p + addr, "TREE", 4) != 0 || p[addr + 4] != 0 || get_le(p + addr + 6, 2) > cap ||
	    p[addr + 5] > WALK_MAX_DEPTH)
		return walk_bad(w, "group B-tree node at %llu is malformed",
				(unsigned long long)addr);
	unsigned level = p[addr + 5];
	uint64_t n = get_le(p + addr + 6, 2);
	for (uint64_t i = 0; i <= n; i++)
		if (!heap_name(heap, hsize, get_le(p + addr + 24 + 16 * i, 8)))
			return walk_bad(w, "group B-tree node at %llu: key %llu",
					(unsigned long long)addr, (unsigned long long)i);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t child = get_le(p + addr + 32 + 16 * i, 8);
		if (level > 0) {
			if (in_image(w->r, child, 8) && p[child + 5] != level - 1)
				return walk_bad(w, "group B-tree node at %llu: child level",
						(unsigned long long)addr);
			if (check_btree(w, child, heap, hsize, depth + 1) < 0)
				return -1;
		} else if (check_snod(w, child, heap, hsize, depth) < 0) {
			return -1;
		}
	}
	return 0;
}

static int check_group(walk *w, uint64_t btree, uint64_t heap_addr, int depth)
{
	const unsigned char *heap = NULL;
	uint64_t hsize = 0;
	if (check_heap(w, heap_addr, &heap, &hsize) < 0)
		return -1;
	return check_btree(w, btree, heap, hsize, depth);
}

/* One message of an object header (type, flags, m bytes at d). */
static int check_message(walk *w, unsigned type, unsigned flags, const unsigned char *d, uint64_t m,
			 uint64_t at, int depth)
{
	if (flags & 0x02)
		return walk_bad(w, "shared message at %llu (ctrain writes none)",
				(unsigned long long)at);
	switch (type) {
	case MSG_NIL:
	case MSG_FILL_OLD:
	case MSG_FILL:
	case MSG_MTIME_OLD:
	case MSG_MTIME:
	case MSG_CONTINUATION: return 0; /* continuations: checked by check_object */
	case MSG_FILTERS:
		return walk_bad(w, "filter pipeline (compression) at %llu; ctrain reads none",
				(unsigned long long)at);
	case MSG_EXTERNAL:
		return walk_bad(w, "external data files at %llu; ctrain reads none",
				(unsigned long long)at);
	case MSG_DATASPACE: return check_dspace(w, d, m, at);
	case MSG_DATATYPE: return check_dtype(w, d, m, at);
	case MSG_LAYOUT: return check_layout(w, d, m, at);
	case MSG_ATTRIBUTE: return check_attr(w, d, m, at);
	case MSG_STAB:
		if (m < 16)
			return walk_bad(w, "symbol table message at %llu", (unsigned long long)at);
		return check_group(w, get_le(d, 8), get_le(d + 8, 8), depth + 1);
	default:
		return walk_bad(w, "object header message of type %u at %llu (ctrain writes none)",
				type, (unsigned long long)at);
	}
}

/* A version-1 object header and its continuation blocks. */
static int check_object(walk *w, uint64_t addr, int depth)
{
	const unsigned char *p = w->p;
	uint64_t blk[OH_MAX_BLOCKS][2];
	if (depth > WALK_MAX_DEPTH || ++w->objects > WALK_MAX_OBJECTS)
		return walk_bad(w, "groups nested too deeply or too many objects");
	if (!in_image(w->r, addr, 16) || p[addr] != 1)
		return walk_bad(w, "no version-1 object header at %llu", (unsigned long long)addr);
	blk[0][0] = addr + 16;
	blk[0][1] = get_le(p + addr + 8, 4);
	int nb = 1;
	unsigned msgs = 0, nmsgs = (unsigned)get_le(p + addr + 2, 2);
	for (int b = 0; b < nb; b++) {
		uint64_t at = blk[b][0], size = blk[b][1];
		if (!in_image(w->r, at, size))
			return walk_bad(w, "object header block at %llu of %llu bytes",
					(unsigned long long)at, (unsigned long long)size);
		for (uint64_t pos = 0; pos + 8 <= size;) {
			const unsigned char *m = p + at + pos;
			uint64_t type = get_le(m, 2), msize = get_le(m + 2, 2), here = at + pos;
			if (msize > size - pos - 8 || (msize & 7) || ++msgs > OH_MAX_MESSAGES)
				return walk_bad(w, "object header message at %llu: %llu bytes",
						(unsigned long long)here,
						(unsigned long long)msize);
			if (type == MSG_CONTINUATION) {
				if (msize < 16 || nb == OH_MAX_BLOCKS)
					return walk_bad(w, "continuation at %llu",
							(unsigned long long)here);
				blk[nb][0] = get_le(m + 8, 8);
				blk[nb][1] = get_le(m + 16, 8);
				nb++;
			}
			if (check_message(w, (unsigned)type, m[4], m + 8, msize, at + pos + 8,
					  depth) < 0)
				return -1;
			pos += 8 + msize;
		}
	}
	if (msgs != nmsgs)
		return walk_bad(w, "object header at %llu counts %u messages, holds %u",
				(unsigned long long)addr, nmsgs, msgs);
	return 0;
}

static int check_structure(const h5c_reader *r, ct_err *e)
{
	const unsigned char *p = r->image;
	walk w = {r, p, (unsigned)get_le(p + 16, 2), (unsigned)get_le(p + 18, 2), 0, "", ""};
	int rc = 0;
	if (w.leaf_k == 0 || w.leaf_k > 1024 || w.node_k == 0 || w.node_k > 1024)
		rc = walk_bad(&w, "superblock B-tree sizes %u and %u", w.leaf_k, w.node_k);
	/* the root's symbol table entry: object header, cached symbol table */
	else if (get_le(p + 72, 4) > 1)
		rc = walk_bad(&w, "root group entry of kind %u", (unsigned)get_le(p + 72, 4));
	else if ((get_le(p + 72, 4) == 1 &&
		  check_group(&w, get_le(p + 80, 8), get_le(p + 88, 8), 0) < 0) ||
		 check_object(&w, get_le(p + 64, 8), 0) < 0)
		rc = -1;
	if (rc < 0)
		return ct_errf(e, CT_ECORRUPT, "%s: HDF5 metadata rejected before parsing: %s",
			       r->name, w.why);
	return 0;
}

static int read_vlen_string(h5c_reader *r, const h5c_field *f, hid_t owner, ct_err *e)
{
	const char *attr = strchr(f->path, '@') + 1;
	H5O_info_t oi;
	if (H5Oget_info2(owner, &oi, H5O_INFO_BASIC) < 0)
		return h5_fail(e, CT_ECORRUPT, "%s: cannot inspect the owner of %s", r->name,
			       f->path);
	const unsigned char *val = NULL;
	int found = vlen_find(r, oi.addr, attr, &val);
	char *out = NULL;
	int rc = found == 1 ? vlen_heap(r, val, &out) : -1;
	if (rc == CT_ENOMEM)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory reading %s", r->name, f->path);
	if (rc < 0)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: %s: malformed variable-length string (object header at %llu "
			       "or its global heap)",
			       r->name, f->path, (unsigned long long)oi.addr);
	*(char **)f->data = out;
	return 0;
}

static int read_locked(h5c_reader *r, const h5c_field *f, ct_err *e)
{
	hid_t owner, target, ids[4];
	hid_t space = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
	int attr = 0, vlen = 0;
	int rc = open_target(r, f->path, &owner, &target, e);
	if (rc == 0) {
		attr = is_attr(target);
		space = attr ? H5Aget_space(target) : H5Dget_space(target);
		ftype = attr ? H5Aget_type(target) : H5Dget_type(target);
		if (space < 0 || ftype < 0)
			rc = h5_fail(e, CT_ECORRUPT, "%s: cannot inspect %s", r->name, f->path);
	}
	if (rc == 0)
		rc = check_type(r, f, ftype, attr, &vlen, e);
	if (rc == 0)
		rc = check_shape(r, f, space, e);
	uint64_t bytes = 0;
	if (rc == 0 && !vlen) {
		bytes = f->type == H5C_STR ? H5Tget_size(ftype)
					   : (uint64_t)h5c_numel(f) * g_types[f->type].size;
		rc = attr ? check_attr_storage(r, f->path, target, bytes, e)
			  : check_dataset(r, f->path, target, bytes, e);
	}
	if (rc == 0 && vlen)
		rc = read_vlen_string(r, f, owner, e);
	else if (rc == 0 && f->type == H5C_STR)
		rc = read_fixed_string(r, f, target, ftype, e);
	else if (rc == 0 && bytes > 0 && read_any(target, mem_type(f->type), f->data) < 0)
		rc = h5_fail(e, CT_ECORRUPT, "%s: cannot read %s", r->name, f->path);
	ids[0] = ftype;
	ids[1] = space;
	ids[2] = target != owner ? target : H5I_INVALID_HID;
	ids[3] = owner;
	close_all(&rc, e, r->name, ids, 4);
	return rc;
}

int h5c_read(h5c_reader *r, const h5c_field *f, ct_err *e)
{
	check_field(f);
	int rc = h5_lock(e);
	if (rc < 0)
		return rc;
	rc = read_locked(r, f, e);
	h5_unlock();
	return rc;
}

int h5c_shape(h5c_reader *r, const char *path, int *ndim, int64_t shape[H5C_MAX_DIMS], ct_err *e)
{
	int rc = h5_lock(e);
	if (rc < 0)
		return rc;
	hid_t owner, target, space = H5I_INVALID_HID;
	rc = open_target(r, path, &owner, &target, e);
	if (rc == 0) {
		int attr = is_attr(target);
		space = attr ? H5Aget_space(target) : H5Dget_space(target);
		if (space < 0)
			rc = h5_fail(e, CT_ECORRUPT, "%s: cannot inspect %s", r->name, path);
	}
	if (rc == 0)
		rc = get_dims(r, path, space, ndim, shape, e);
	hid_t ids[3] = {space, target != owner ? target : H5I_INVALID_HID, owner};
	close_all(&rc, e, r->name, ids, 3);
	h5_unlock();
	return rc;
}

/* ---- listing ------------------------------------------------------------------- */

#define LIST_MAX 65536 /* objects in a group */
#define NAME_MAX_LEN 255

typedef struct list_ctx {
	char **names;
	size_t n, cap;
	int oom;
	const char *bad; /* why the listing stopped at an object */
	size_t image_len;
} list_ctx;

/* A name a field path can hold: printable ASCII without '/' or '@'. */
static int plain_name(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (name[i] < 0x20 || name[i] > 0x7e || name[i] == '@')
			return 0;
	return n > 0 && n <= NAME_MAX_LEN;
}

static herr_t list_cb(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
	list_ctx *c = data;
	if (info->type != H5L_TYPE_HARD)
		c->bad = "a link that is not a hard link";
	else if (info->u.address >= c->image_len)
		c->bad = "a link to an address outside the image";
	else if (!plain_name(name))
		c->bad = "an object whose name is not printable ASCII or has '@'";
	else if (c->n >= LIST_MAX)
		c->bad = "more than 65536 objects";
	if (c->bad)
		return -1;
	hid_t o = H5Oopen(group, name, H5P_DEFAULT);
	if (o < 0)
		return -1;
	int is_ds = H5Iget_type(o) == H5I_DATASET;
	if (H5Oclose(o) < 0)
		return -1;
	if (!is_ds)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		char **p = realloc(c->names, cap * sizeof *p);
		if (!p) {
			c->oom = 1;
			return -1;
		}
		c->names = p;
		c->cap = cap;
	}
	if (!(c->names[c->n] = strdup(name))) {
		c->oom = 1;
		return -1;
	}
	c->n++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void h5c_list_free(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

int h5c_list(h5c_reader *r, const char *group, char ***names, size_t *n, ct_err *e)
{
	CT_ASSERT(group && group[0] == '/' && !strchr(group, '@') && strlen(group) < PATH_MAX_LEN);
	*names = NULL;
	*n = 0;
	int rc = h5_lock(e);
	if (rc < 0)
		return rc;
	list_ctx c = {.image_len = r->image_len};
	hid_t g = H5I_INVALID_HID;
	if ((rc = walk_hard(r, group, group, e)) < 0)
		;
	else if ((g = H5Oopen(r->file, group, H5P_DEFAULT)) < 0)
		rc = h5_fail(e, CT_ECORRUPT, "%s: cannot open %s", r->name, group);
	else if (H5Iget_type(g) != H5I_GROUP)
		rc = ct_errf(e, CT_ECORRUPT, "%s: %s is not a group", r->name, group);
	else if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, list_cb, &c) < 0)
		rc = c.oom   ? ct_errf(e, CT_ENOMEM, "%s: out of memory listing %s", r->name, group)
		     : c.bad ? ct_errf(e, CT_ECORRUPT, "%s: %s holds %s", r->name, group, c.bad)
			     : h5_fail(e, CT_ECORRUPT, "%s: cannot list %s", r->name, group);
	close_all(&rc, e, r->name, &g, 1);
	h5_unlock();
	if (rc < 0) {
		h5c_list_free(c.names, c.n);
		return rc;
	}
	if (c.n > 1)
		qsort(c.names, c.n, sizeof *c.names, cmp_names);
	*names = c.names;
	*n = c.n;
	return 0;
}
