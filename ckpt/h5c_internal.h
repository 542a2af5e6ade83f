/* h5c_internal.h — what the files of the HDF5 checkpoint container share
 * (not installed; the API is h5c.h):
 *   h5c_trailer.c  the 32-byte trailer, and verifying a file or buffer by it
 *   h5c_hdf5.c     HDF5 set-up, the global lock, error text, types and paths
 *   h5c_build.c    building the image in memory (core driver), zero-copy segments
 *   h5c_read.c     opening an image, reading fields, format-1 strings, listing
 *   h5c_walk.c     the metadata walk done at open, before libhdf5 parses anything
 */
#ifndef CT_H5C_INTERNAL_H
#define CT_H5C_INTERNAL_H

#include <hdf5.h>
#include <stdint.h>

#include "../data/hdf5in.h" /* hdf5_fail: HDF5's error text in a ct_err */
#include "h5c.h"

/* The smallest HDF5 file: a version-0 superblock with 8-byte addresses. */
#define MIN_IMAGE 96
#define MAX_FILE ((size_t)1 << 40)
#define PATH_MAX_LEN 1024
#define META_PER_FIELD 640 /* bytes of HDF5 metadata reserved per field (see meta_block) */
/* Version-1 object headers, as h5c_read.c (format-1 strings) and h5c_walk.c
 * parse them. */
#define OH_MAX_BLOCKS 64
#define OH_MAX_MESSAGES 4096
#define MSG_ATTRIBUTE 0x000c
#define MSG_CONTINUATION 0x0010

struct ct_h5c_reader {
	hid_t file;
	char *name;
	void *image; /* owned; HDF5 reads it in place (see the callbacks in h5c_read.c) */
	size_t image_len;
	size_t map_len; /* > 0: image is a read-only mapping of the file */
	int vlen_ok;    /* format_version 1: its variable-length strings are parsed here */
};

/* h5c_trailer.c */
uint64_t h5c_get_le(const unsigned char *p, int n);
void h5c_trailer_fill(unsigned char *t, uint32_t image_crc, size_t image_len);
int h5c_named(int rc, ct_err *e, const char *name);
int h5c_too_short(size_t len, ct_err *e);
int h5c_open_regular(const char *path, int *fd, size_t *size, ct_err *e);

/* h5c_hdf5.c: every HDF5 call runs between h5c_lock and h5c_unlock. */
int h5c_lock(ct_err *e);
void h5c_unlock(void);
unsigned h5c_next_image_id(void); /* lock held */
void h5c_close_all(int *rc, ct_err *e, const char *what, hid_t *ids, int n);
const char *h5c_type_name(ct_h5c_type t); /* "float32", ..., "string" */
size_t h5c_type_size(ct_h5c_type t);
void h5c_check_field(const ct_h5c_field *f);
hid_t h5c_file_type(ct_h5c_type t);
hid_t h5c_mem_type(ct_h5c_type t);
hid_t h5c_string_type(ssize_t size, H5T_cset_t cset);
void h5c_split_path(const char *path, char obj[PATH_MAX_LEN], const char **attr);
int h5c_ensure_groups(hid_t file, hid_t gcpl, const char *path, int whole, ct_err *e);
hid_t h5c_make_space(const ct_h5c_field *f);

/* h5c_build.c: the file-image callbacks' user data (shared with reading). */
void *h5c_udata_copy(void *udata);
herr_t h5c_udata_free(void *udata);

/* h5c_read.c */
int h5c_in_image(const ct_h5c_reader *r, uint64_t off, uint64_t n);
uint64_t h5c_pad8(uint64_t n);
int h5c_read_locked(ct_h5c_reader *r, const ct_h5c_field *f, ct_err *e);

/* h5c_walk.c: the metadata walk (ckpt/README.md, "Hostile files"). */
int h5c_check_structure(const ct_h5c_reader *r, ct_err *e);

#endif
