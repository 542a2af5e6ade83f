/* h5c_build.c — building a checkpoint image in memory with HDF5's core
 * driver: metadata first, large datasets placed by reference so that the
 * bytes are written straight from the caller's buffers (h5c_image). */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/atomic.h"
#include "crc32c.h"
#include "h5c_internal.h"

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
	ct_h5c_image *im; /* its ref table receives the datasets placed by reference */
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
void *h5c_udata_copy(void *udata) { return udata; }
herr_t h5c_udata_free(void *udata)
{
	(void)udata;
	return 0;
}

/* Bytes of a numeric field's data. */
static size_t field_bytes(const ct_h5c_field *f)
{
	return (size_t)ct_h5c_numel(f) * h5c_type_size(f->type);
}

static int by_ref(const ct_h5c_field *f)
{
	return f->type != CT_H5C_STR && f->ndim > 0 && field_bytes(f) >= CT_H5C_REF_MIN;
}

static int add_ref(ct_h5c_image *im, const ct_h5c_field *f, haddr_t off)
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
static int place_dataset(build_ctx *b, const ct_h5c_field *f, hid_t dset, ct_err *e)
{
	haddr_t off = H5Dget_offset(dset);
	if (off == HADDR_UNDEF)
		return hdf5_fail(e, CT_EIO, "checkpoint image: no storage address for %s", f->path);
	if (add_ref(b->im, f, off) < 0)
		return ct_errf(e, CT_ENOMEM, "checkpoint image: out of memory");
	return 0;
}

/* Writes one field: a new dataset, or an attribute of a (new) object. */
static int write_field(build_ctx *b, const ct_h5c_field *f, ct_err *e)
{
	char obj[PATH_MAX_LEN];
	const char *attr;
	h5c_split_path(f->path, obj, &attr);
	int rc = h5c_ensure_groups(b->file, b->gcpl, obj, attr != NULL, e);
	if (rc < 0)
		return rc;
	hid_t ids[4] = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID};
	hid_t *str_t = &ids[0], *space = &ids[1], *owner = &ids[2], *target = &ids[3];
	hid_t ftype = h5c_file_type(f->type), mtype = h5c_mem_type(f->type);
	const void *data = f->data;
	const char *step = "create the string type for";
	if (f->type == CT_H5C_STR) {
		/* Fixed length, NUL included: nothing in the global heap. */
		data = *(char *const *)f->data;
		CT_ASSERT(data != NULL);
		size_t size = strlen(data) + 1;
		if (size > CT_H5C_STR_MAX)
			return ct_errf(e, CT_EUNSUPPORTED,
				       "checkpoint image: %s is a string of %zu bytes, at most %d "
				       "are supported",
				       f->path, size - 1, CT_H5C_STR_MAX - 1);
		if ((*str_t = h5c_string_type((ssize_t)size, H5T_CSET_UTF8)) < 0)
			goto fail;
		ftype = mtype = *str_t;
	}
	step = "create the dataspace of";
	if ((*space = h5c_make_space(f)) < 0)
		goto fail;
	int64_t numel = ct_h5c_numel(f);
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
	h5c_close_all(&rc, e, f->path, ids, 4);
	return rc;
fail:
	rc = hdf5_fail(e, CT_EIO, "checkpoint image: cannot %s %s", step, f->path);
	h5c_close_all(&rc, e, f->path, ids, 4);
	return rc;
}

/* HDF5 takes space for metadata in blocks of this size.  Metadata that does
 * not fit into the first block goes into another one after the datasets
 * placed by reference, and writing it makes the driver zero-fill all of
 * them (a 22 MB memset); a block too large leaves its unused end as zeros
 * in the file.  About 550 bytes per field are used; this leaves room for
 * long names and stays a function of the field count, so that the same
 * fields always give the same bytes. */
static hsize_t meta_block(const ct_h5c_field *fields, size_t n)
{
	size_t bytes = 4096 + n * META_PER_FIELD;
	for (size_t i = 0; i < n; i++)
		if (fields[i].type == CT_H5C_STR)
			bytes += strlen(*(char *const *)fields[i].data) + 64;
	return (hsize_t)((bytes + 4095) & ~(size_t)4095);
}

/* Property lists: the core driver keeps the image in memory only; times are
 * not tracked so that the same fields always give the same bytes. */
static int build_open(build_ctx *b, const ct_h5c_field *fields, size_t n, size_t payload, ct_err *e)
{
	H5FD_file_image_callbacks_t cb = {bm_malloc,      bm_memcpy,      bm_realloc, bm_free,
					  h5c_udata_copy, h5c_udata_free, &b->m};
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
		snprintf(name, sizeof name, "/dev/null/ctrain-h5c-build-%u", h5c_next_image_id());
		b->file = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
		ok = b->file >= 0;
	}
	int rc = ok ? 0
		    : hdf5_fail(e, CT_EIO,
				"checkpoint image: cannot create the in-memory HDF5 file");
	h5c_close_all(&rc, e, "checkpoint image", &fapl, 1);
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
		return hdf5_fail(e, CT_EIO,
				 "checkpoint image: cannot close the in-memory HDF5 file");
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
	uint64_t n = m->mem && m->valid >= MIN_IMAGE ? h5c_get_le(m->mem + 40, 8) : 0;
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

static int add_seg(ct_h5c_image *im, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (im->n_seg == im->seg_cap) {
		size_t cap = im->seg_cap ? 2 * im->seg_cap : 32;
		ct_atomic_buf *v = realloc(im->seg, cap * sizeof *v);
		if (!v)
			return -1;
		im->seg = v;
		im->seg_cap = cap;
	}
	im->seg[im->n_seg++] = (ct_atomic_buf){data, len};
	return 0;
}

/* Bytes of the image HDF5 never wrote beyond the driver's end of file (space
 * it allocated and left unused) become zeros, as a file would have them. */
static int zero_gap(ct_h5c_image *im, size_t valid, size_t from, size_t to)
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
static int check_refs(ct_h5c_image *im, size_t image_len, ct_err *e)
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
static int cut_segments(ct_h5c_image *im, size_t valid, size_t image_len, ct_err *e)
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
	    add_seg(im, im->trailer, CT_H5C_TRAILER_SIZE) < 0)
		return ct_errf(e, CT_ENOMEM, "checkpoint image: out of memory");
	return 0;
}

/* Trailer over the segments (all but the trailer itself). */
static void image_trailer(ct_h5c_image *im, size_t image_len)
{
	uint32_t crc = 0;
	for (size_t i = 0; i + 1 < im->n_seg; i++)
		crc = crc32c_update(crc, im->seg[i].data, im->seg[i].len);
	h5c_trailer_fill(im->trailer, crc, image_len);
	im->len = image_len + CT_H5C_TRAILER_SIZE;
}

static int build_fields(build_ctx *b, const ct_h5c_field *fields, size_t n, size_t *image_len,
			ct_err *e)
{
	size_t payload = 0;
	for (size_t i = 0; i < n; i++) {
		h5c_check_field(&fields[i]);
		if (fields[i].type != CT_H5C_STR && !by_ref(&fields[i]))
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
	h5c_close_all(&close_rc, rc < 0 || close_rc < 0 ? NULL : e, "checkpoint image", ids, 3);
	return rc < 0 ? rc : close_rc;
}

void ct_h5c_image_init(ct_h5c_image *im) { memset(im, 0, sizeof *im); }

void ct_h5c_image_release(ct_h5c_image *im)
{
	free(im->mem);
	free(im->seg);
	free(im->ref);
	memset(im, 0, sizeof *im);
}

int ct_h5c_image_build(ct_h5c_image *im, const ct_h5c_field *fields, size_t n, ct_err *e)
{
	im->n_seg = im->n_ref = 0;
	im->len = 0;
	int rc = h5c_lock(e);
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
	h5c_unlock();
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

int ct_h5c_image_gather(const ct_h5c_image *im, void **buf, size_t *len, ct_err *e)
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

int ct_h5c_build(const ct_h5c_field *fields, size_t n, void **buf, size_t *len, ct_err *e)
{
	*buf = NULL;
	*len = 0;
	ct_h5c_image im;
	ct_h5c_image_init(&im);
	int rc = ct_h5c_image_build(&im, fields, n, e);
	if (rc == 0)
		rc = ct_h5c_image_gather(&im, buf, len, e);
	ct_h5c_image_release(&im);
	return rc;
}
