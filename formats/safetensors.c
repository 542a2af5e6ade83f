/* safetensors.c — files and dtypes around the format: ct_st_read (mmap, no
 * copy), ct_st_write (atomic, zero copy) and ct_st_convert_dtype (export to f16/bf16).
 * The byte-level rules live in st_parse.c and st_serialize.c. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/atomic.h"

/* Opens path and maps it; *map stays NULL for an empty file. */
static int map_file(const char *path, void **map, size_t *len, ct_err *e)
{
	struct stat st;
	*map = NULL;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer (it is then
	 * refused as not a regular file); it changes nothing for regular files. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return ct_errno(e, errno == ENOENT ? CT_ENOTFOUND : CT_EIO, errno,
				"%s: cannot open", path);
	int rc = 0;
	if (fstat(fd, &st) != 0)
		rc = ct_errno(e, CT_EIO, errno, "%s: cannot stat", path);
	else if (S_ISDIR(st.st_mode))
		rc = ct_errf(e, CT_EIO, "%s: is a directory, not a safetensors file", path);
	else if (!S_ISREG(st.st_mode))
		rc = ct_errf(e, CT_EIO, "%s: is not a regular file", path);
	else if ((uint64_t)st.st_size > SIZE_MAX)
		rc = ct_errf(e, CT_EUNSUPPORTED, "%s: file too large to map", path);
	*len = rc == 0 ? (size_t)st.st_size : 0;
	if (rc == 0 && *len > 0) {
		*map = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (*map == MAP_FAILED) {
			*map = NULL;
			rc = ct_errno(e, CT_EIO, errno, "%s: cannot mmap", path);
		}
	}
	/* A failed close of a read-only descriptor loses nothing. */
	(void)close(fd);
	return rc;
}

int ct_st_read(const char *path, ct_tdict *out, ct_err *e)
{
	void *map;
	size_t len;
	ct_tdict_init(out);
	int rc = map_file(path, &map, &len, e);
	if (rc < 0)
		return rc;
	if (!map)
		return ct_errf(e, CT_ECORRUPT, "%s: empty file (0 bytes), not a safetensors file",
			       path);
	rc = ct_st_parse(map, len, out, 0, e);
	if (rc < 0) {
		munmap(map, len);
		return ct_err_prefix(e, "%s", path);
	}
	out->backing = map;
	out->backing_len = len;
	out->backing_mmapped = 1;
	return 0;
}

int ct_st_write(const char *path, const ct_tdict *d, ct_err *e)
{
	unsigned char *hdr;
	size_t hl, data_len;
	int rc = ct_st_header_build(d, &hdr, &hl, &data_len, e);
	if (rc < 0)
		return ct_err_prefix(e, "%s", path);
	if (d->n >= (size_t)INT_MAX) {
		free(hdr);
		return ct_errf(e, CT_EUNSUPPORTED, "%s: too many tensors (%zu)", path, d->n);
	}
	ct_atomic_buf *bufs = malloc((d->n + 1) * sizeof *bufs);
	if (!bufs) {
		free(hdr);
		return ct_errf(e, CT_ENOMEM, "%s: out of memory", path);
	}
	bufs[0] = (ct_atomic_buf){hdr, hl};
	for (size_t i = 0; i < d->n; i++)
		bufs[i + 1] = (ct_atomic_buf){d->v[i].data, d->v[i].nbytes};
	rc = ct_atomic_write_iov(path, bufs, (int)d->n + 1, e);
	free(bufs);
	free(hdr);
	return rc;
}

/* Converts n floats at src (possibly unaligned) to 16-bit values at dst;
 * returns the largest |x - roundtrip(x)| over finite x. */
static double to_half(const unsigned char *src, size_t n, ct_dtype dt, unsigned char *dst)
{
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		float x;
		memcpy(&x, src + 4 * i, 4);
		uint16_t h = dt == CT_DT_F16 ? ct_f32_to_f16(x) : ct_f32_to_bf16(x);
		float back = dt == CT_DT_F16 ? ct_f16_to_f32(h) : ct_bf16_to_f32(h);
		memcpy(dst + 2 * i, &h, 2);
		if (isfinite(x) && !(fabs((double)x - (double)back) <= worst))
			worst = fabs((double)x - (double)back);
	}
	return worst;
}

static int convert_entry(const ct_tdict_entry *t, ct_dtype dt, ct_tdict *dst, double *worst,
			 ct_err *e)
{
	if (t->dtype != CT_DT_F32 || dt == CT_DT_F32)
		return ct_tdict_add(dst, t->name, t->dtype, t->ndim, t->shape, t->data, 1, e);
	size_t n = t->nbytes / 4;
	unsigned char *h = malloc(n ? 2 * n : 1);
	if (!h)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	double w = to_half(t->data, n, dt, h);
	if (!(w <= *worst))
		*worst = w;
	int rc = ct_tdict_add(dst, t->name, dt, t->ndim, t->shape, h, 0, e);
	if (rc < 0) {
		free(h);
		return rc;
	}
	/* Hand h over instead of copying it.  clang's analyser takes ct_tdict_add's
	 * const pointer for "not kept" and would report a leak: it is kept. */
	dst->v[dst->n - 1].owned = 1; /* NOLINT(clang-analyzer-unix.Malloc) */
	return 0;
}

int ct_st_convert_dtype(const ct_tdict *src, ct_dtype dt, ct_tdict *dst, double *max_abs_err,
			ct_err *e)
{
	double worst = 0;
	ct_tdict_init(dst);
	if (dt != CT_DT_F32 && dt != CT_DT_F16 && dt != CT_DT_BF16)
		return ct_errf(e, CT_EUNSUPPORTED, "cannot export to dtype %s (F32, F16 or BF16)",
			       dt >= 0 && dt < CT_DT_COUNT ? ct_dtype_name(dt) : "?");
	int rc = 0;
	for (size_t i = 0; i < src->n_meta && rc == 0; i++)
		rc = ct_tdict_set_meta(dst, src->meta_keys[i], src->meta_vals[i], e);
	for (size_t i = 0; i < src->n && rc == 0; i++)
		rc = convert_entry(&src->v[i], dt, dst, &worst, e);
	if (rc < 0) {
		ct_tdict_release(dst);
		return rc;
	}
	if (max_abs_err)
		*max_abs_err = worst;
	return 0;
}
