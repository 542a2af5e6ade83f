/* h5c.h — the checkpoint container: an HDF5 file image built and parsed in
 * memory, followed by a 32-byte trailer that carries its length and CRC-32C.
 *
 * Why in memory: HDF5 1.10 does not fsync, and a write error inside H5Fclose
 * leaves a half-closed handle that crashes at exit (DESIGN.md, "Known
 * pitfalls").  So HDF5 never touches the disk: ct_h5c_build makes the image with
 * the core driver (no backing store) and hands back bytes, which the caller
 * writes with ct_atomic_write_file (writers that checkpoint repeatedly use an
 * h5c_image instead, below: no copy of the data); readers verify the trailer and CRC first
 * (ct_h5c_verify, no HDF5 involved) and only then let HDF5 parse the image from
 * memory.  File layout and how to read it from Python: ckpt/README.md.
 *
 * Writing:
 *     double lr = 0.1; const char *fmt = "ctrain-checkpoint";
 *     ct_h5c_field f[] = {
 *         {"/@format", CT_H5C_STR, 0, {0}, &fmt},           // root attribute
 *         {"/optim@lr", CT_H5C_F64, 0, {0}, &lr},           // attribute of group /optim
 *         {"/model/layers.0.weight", CT_H5C_F32, 2, {256, 784}, w},   // dataset
 *     };
 *     void *buf; size_t len;
 *     if (ct_h5c_build(f, 3, &buf, &len, &e) == 0) { ct_atomic_write_file(path, buf, len, &e); free(buf); }
 *
 * Reading:
 *     ct_h5c_reader *r;
 *     if (ct_h5c_open(path, &r, &e) < 0) ...;         // CT_ECORRUPT: bad trailer/CRC/HDF5
 *     char *s; ct_h5c_field g = {"/@format", CT_H5C_STR, 0, {0}, &s};
 *     ct_h5c_read(r, &g, &e); ... free(s);
 *     ct_h5c_close(r);
 *
 * Paths are absolute.  "/a/b" names a dataset (its groups are created as
 * needed); "/a@k" names attribute k of the object /a ("/@k": of the root
 * group), which is created as a group when missing.  Attributes are for small
 * values: up to 64 KB (HDF5's object header limit in this format); arrays
 * belong in datasets.  Numeric fields are little-endian in the file; CT_H5C_STR
 * is a scalar fixed-length NUL-terminated UTF-8 string of at most CT_H5C_STR_MAX
 * bytes (ndim must be 0), which h5py reads as bytes.  Nothing variable-length
 * is written (libhdf5 follows such data into its global heap unchecked).  The
 * same inputs always give the same bytes (no timestamps are stored).
 *
 * Reading files from strangers: before libhdf5 reads any value, the reader
 * checks the object against an allow-list (hard links only, datatype exactly
 * the expected one, rank and size within limits, contiguous or compact
 * storage without filters or external files, inside the image); see
 * ckpt/README.md, "Hostile files".  Variable-length strings (format_version 1
 * files wrote them) are read only from files whose root attribute
 * format_version is 1, and then parsed here, never by libhdf5.
 *
 * Thread safety: all HDF5 calls made here are serialized by one mutex, so a
 * background checkpoint writer and a reader may run at the same time.  Nothing
 * else in ctrain calls HDF5.
 */
#ifndef CT_H5C_H
#define CT_H5C_H

#include <stddef.h>
#include <stdint.h>

#include "../util/api.h"
#include "../util/err.h"
#include "../util/atomic.h"

#define CT_H5C_MAX_DIMS 4
#define CT_H5C_TRAILER_SIZE 32
#define CT_H5C_TRAILER_MAGIC "CTRNCKPT"
#define CT_H5C_TRAILER_VERSION 1
#define CT_H5C_STR_MAX 60000 /* bytes of a string field, its NUL included */

typedef enum { CT_H5C_F32, CT_H5C_F64, CT_H5C_I64, CT_H5C_U64, CT_H5C_U8, CT_H5C_STR } ct_h5c_type;

typedef struct ct_h5c_field {
	const char *path; /* "/model/layers.0.weight", "/@format", "/meta@step" */
	ct_h5c_type type;
	int ndim; /* 0 = scalar; at most CT_H5C_MAX_DIMS */
	int64_t shape[CT_H5C_MAX_DIMS];
	void *data; /* numel elements of the type; CT_H5C_STR: a char ** (see above) */
} ct_h5c_field;

/* Number of elements of f (1 for a scalar, 0 if any dimension is 0). */
CT_API int64_t ct_h5c_numel(const ct_h5c_field *f);

/* Builds the HDF5 image of fields, in order, plus the trailer: *buf (malloc'ed,
 * caller frees) holds image then trailer, *len bytes in all.  For CT_H5C_STR
 * fields, data points to a NUL-terminated char * (i.e. data is a char **);
 * a string longer than CT_H5C_STR_MAX - 1 bytes gives CT_EUNSUPPORTED. */
CT_API int ct_h5c_build(const ct_h5c_field *fields, size_t n, void **buf, size_t *len, ct_err *e);

/* A built file that is not one buffer, for writers: HDF5's metadata sits in
 * a buffer of the image's own, and every numeric dataset of CT_H5C_REF_MIN bytes
 * or more is placed by reference: its bytes go into the file straight from
 * the field's data.  Building then writes only the metadata (tens of KB)
 * and the checksum reads the data once: 2-3 ms for 22 MB of Adam state, of
 * which 1.6 ms is the CRC (copying the data into the image took 8 ms).
 * HDF5 allocates those datasets after all other objects, so the metadata
 * comes first in the file and the driver never holds (nor zero-fills) the
 * large data.  The file is seg[0], ..., seg[n_seg - 1] back to back, the
 * trailer last: the bytes ct_h5c_build gives.
 *
 *     ct_h5c_image im;
 *     ct_h5c_image_init(&im);
 *     rc = ct_h5c_image_build(&im, fields, n, &e);
 *     if (rc == 0) rc = ct_atomic_write_iov(path, im.seg, (int)im.n_seg, &e);
 *     ...build again: the metadata buffer (already faulted in) is reused
 *     ct_h5c_image_release(&im);
 *
 * The fields' data must stay unchanged until the segments have been written.
 * After a failed build n_seg is 0; the image can be built again. */
#define CT_H5C_REF_MIN 4096

typedef struct ct_h5c_image {
	ct_atomic_buf *seg;
	size_t n_seg;
	size_t len; /* file size: the segments' bytes */
	/* private */
	unsigned char *mem; /* the HDF5 driver's buffer, reused across builds */
	size_t cap, seg_cap;
	struct h5c_ref *ref; /* the datasets placed by reference */
	size_t n_ref, ref_cap;
	unsigned char trailer[CT_H5C_TRAILER_SIZE];
} ct_h5c_image;

CT_API void ct_h5c_image_init(ct_h5c_image *im);
CT_API int ct_h5c_image_build(ct_h5c_image *im, const ct_h5c_field *fields, size_t n, ct_err *e);
CT_API void ct_h5c_image_release(ct_h5c_image *im);
/* The file as one malloc'ed buffer (a copy of the segments). */
CT_API int ct_h5c_image_gather(const ct_h5c_image *im, void **buf, size_t *len, ct_err *e);

/* Checks a whole file's bytes without HDF5: size, trailer magic, trailer
 * checksum, trailer version, image length, image CRC-32C, HDF5 signature.
 * On failure returns CT_ECORRUPT (CT_EUNSUPPORTED for a newer trailer version)
 * with the reason alone in e->msg (callers add the file name), e.g.
 * "missing trailer magic (not a ctrain checkpoint or truncated)" or
 * "checksum mismatch (stored 0x1234abcd, computed 0x89ef0123)". */
CT_API int ct_h5c_verify(const void *buf, size_t len, ct_err *e);

/* ct_h5c_verify on a file, streamed through a small buffer (verifying needs no
 * memory of the file's size).  Messages start with "path: "; a file that
 * cannot be read gives CT_EIO (CT_ENOTFOUND if it does not exist), one that is
 * not a regular file CT_ECORRUPT. */
CT_API int ct_h5c_verify_file(const char *path, ct_err *e);

typedef struct ct_h5c_reader ct_h5c_reader;

/* Reads the file, verifies it (ct_h5c_verify) and opens the image from memory.
 * The file is mapped read-only (no copy: 22 MB open + read of every field in
 * about 5 ms); ctrain never modifies a checkpoint in place (atomic rename,
 * unlink), and another process truncating it while it is open would be the
 * only way to fault on the mapping. */
CT_API int ct_h5c_open(const char *path, ct_h5c_reader **r, ct_err *e);
/* Same for bytes already in memory (copied: buf may be freed afterwards);
 * name is used in error messages. */
CT_API int ct_h5c_open_buffer(const void *buf, size_t len, const char *name, ct_h5c_reader **r,
			      ct_err *e);
CT_API void ct_h5c_close(ct_h5c_reader *r); /* NULL is fine */

/* Reads field f->path into f->data (room for ct_h5c_numel(f) elements).  The
 * stored type, rank and shape must equal f's, else CT_ECORRUPT, e.g.
 * "ck.h5: /model/w has shape [10,5], expected [10,6]"; a missing dataset or
 * attribute gives CT_ENOTFOUND naming it; an object outside the allow-list
 * (above) CT_ECORRUPT naming it and the rule.  For CT_H5C_STR, f->data is a
 * char ** that receives a malloc'ed string (caller frees). */
CT_API int ct_h5c_read(ct_h5c_reader *r, const ct_h5c_field *f, ct_err *e);

/* Rank and shape of a dataset or attribute (strings: rank 0); CT_ENOTFOUND if
 * missing, CT_EUNSUPPORTED for more than CT_H5C_MAX_DIMS dimensions. */
CT_API int ct_h5c_shape(ct_h5c_reader *r, const char *path, int *ndim,
			int64_t shape[CT_H5C_MAX_DIMS], ct_err *e);

/* Names (relative, e.g. "layers.0.weight") of the datasets directly in group
 * (e.g. "/model"), sorted by strcmp; *names and each name are malloc'ed, free
 * them with ct_h5c_list_free.  A missing group gives CT_ENOTFOUND. */
CT_API int ct_h5c_list(ct_h5c_reader *r, const char *group, char ***names, size_t *n, ct_err *e);
CT_API void ct_h5c_list_free(char **names, size_t n);

#endif
