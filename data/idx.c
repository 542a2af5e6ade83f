/* IDX readers and the MNIST directory loader (see dataset.h). */
#include "dataset.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gzio.h"

#define IDX_UBYTE 0x08
#define IDX_MAX_DIMS 3
#define MNIST_CLASSES 10

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int is_idx_type(unsigned t)
{
	return t == 0x08 || t == 0x09 || t == 0x0b || t == 0x0c || t == 0x0d || t == 0x0e;
}

/* Reads the magic and the ndims big-endian sizes, checking that the file is
 * an unsigned-byte IDX file with exactly `ndims` dimensions. */
static int read_header(gzFile f, const char *path, int ndims, uint32_t *dims, ct_err *e)
{
	unsigned char h[4 + 4 * IDX_MAX_DIMS];
	size_t want = 4 + 4 * (size_t)ndims;
	int64_t got = gzio_read(f, path, h, 4, e);
	if (got < 0)
		return (int)got;
	if (got < 4)
		return ct_errf(e, CT_ECORRUPT, "%s: truncated IDX header (%lld of %zu bytes)", path,
			       (long long)got, want);
	uint32_t magic = be32(h), expect = IDX_UBYTE << 8 | (uint32_t)ndims;
	if (magic != expect && h[0] == 0 && h[1] == 0 && h[3] == ndims && is_idx_type(h[2]))
		return ct_errf(
			e, CT_EUNSUPPORTED,
			"%s: IDX element type 0x%02x is not supported (only unsigned bytes, 0x08)",
			path, h[2]);
	if (magic != expect)
		return ct_errf(
			e, CT_ECORRUPT,
			"%s: bad IDX magic 0x%08x, expected 0x%08x (unsigned bytes, %d dimension%s)",
			path, magic, expect, ndims, ndims > 1 ? "s" : "");
	got = gzio_read(f, path, h + 4, want - 4, e);
	if (got < 0)
		return (int)got;
	if ((size_t)got < want - 4)
		return ct_errf(e, CT_ECORRUPT, "%s: truncated IDX header (%lld of %zu bytes)", path,
			       (long long)got + 4, want);
	for (int i = 0; i < ndims; i++)
		dims[i] = be32(h + 4 + 4 * (size_t)i);
	if (dims[0] == 0)
		return ct_errf(e, CT_ECORRUPT, "%s: IDX file declares 0 items", path);
	return 0;
}

/* After the declared data there must be nothing: extra bytes mean the header
 * and the payload disagree, i.e. the wrong or a damaged file. */
static int expect_end(gzFile f, const char *path, ct_err *e)
{
	unsigned char extra;
	int64_t got = gzio_read(f, path, &extra, 1, e);
	if (got < 0)
		return (int)got;
	if (got > 0)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: extra data after the items the IDX header declares", path);
	return 0;
}

/* Reads n*d pixel bytes in chunks and scales them to [0, 1] as torchvision
 * does (byte / 255 in float). */
static int read_pixels(gzFile f, const char *path, ct_dataset *ds, ct_err *e)
{
	unsigned char buf[64 * 1024];
	size_t total = (size_t)ds->n * (size_t)ds->d, done = 0;
	while (done < total) {
		size_t want = total - done < sizeof buf ? total - done : sizeof buf;
		int64_t got = gzio_read(f, path, buf, want, e);
		if (got < 0)
			return (int)got;
		for (int64_t i = 0; i < got; i++)
			ds->x[done + (size_t)i] = (float)buf[i] / 255.0f;
		done += (size_t)got;
		/* cppcheck-suppress knownConditionTrueFalse ; false positive: gzio_read is short at EOF */
		if ((size_t)got < want)
			return ct_errf(
				e, CT_ECORRUPT,
				"%s: truncated: the header declares %lld images of %d pixels "
				"but the file ends after %zu of %zu pixel bytes",
				path, (long long)ds->n, ds->d, done, total);
	}
	return expect_end(f, path, e);
}

int ct_idx_read_images(const char *path, ct_dataset *ds, ct_err *e)
{
	gzFile f;
	uint32_t dims[3];
	memset(ds, 0, sizeof *ds);
	int rc = gzio_open(path, &f, e);
	if (rc < 0)
		return rc;
	rc = read_header(f, path, 3, dims, e);
	if (rc == 0 && (dims[1] == 0 || dims[2] == 0))
		rc = ct_errf(e, CT_ECORRUPT, "%s: IDX images of size %ux%u", path, dims[1],
			     dims[2]);
	if (rc == 0 && (uint64_t)dims[1] * dims[2] > INT_MAX)
		rc = ct_errf(e, CT_EUNSUPPORTED, "%s: IDX images of %ux%u pixels are too large",
			     path, dims[1], dims[2]);
	if (rc == 0)
		rc = ct_dataset_alloc(ds, dims[0], (int)(dims[1] * dims[2]), 0, path, e);
	if (rc == 0)
		rc = read_pixels(f, path, ds, e);
	if (rc < 0) {
		(void)gzclose_r(f); /* already failing */
		ct_dataset_release(ds);
		return rc;
	}
	rc = gzio_close(f, path, e);
	if (rc < 0)
		ct_dataset_release(ds);
	return rc;
}

/* The next n label bytes into y; a file that ends first is CT_ECORRUPT
 * naming the declared count and how many it holds (before + those read). */
static int read_labels(gzFile f, const char *path, int32_t *y, int64_t n, int64_t declared,
		       int64_t before, ct_err *e)
{
	unsigned char buf[64 * 1024];
	for (int64_t done = 0; done < n;) {
		size_t want = n - done < (int64_t)sizeof buf ? (size_t)(n - done) : sizeof buf;
		int64_t got = gzio_read(f, path, buf, want, e);
		if (got < 0)
			return (int)got;
		for (int64_t i = 0; i < got; i++)
			y[done + i] = buf[i];
		done += got;
		if ((size_t)got < want)
			return ct_errf(
				e, CT_ECORRUPT,
				"%s: truncated: the header declares %lld labels but the file "
				"holds %lld",
				path, (long long)declared, (long long)(before + done));
	}
	return 0;
}

static int read_label_bytes(gzFile f, const char *path, int32_t *y, int64_t n, ct_err *e)
{
	int rc = read_labels(f, path, y, n, n, 0, e);
	return rc < 0 ? rc : expect_end(f, path, e);
}

int ct_idx_read_labels(const char *path, int32_t **y, int64_t *n, ct_err *e)
{
	gzFile f;
	uint32_t dims[1];
	*y = NULL;
	*n = 0;
	int rc = gzio_open(path, &f, e);
	if (rc < 0)
		return rc;
	int32_t *lab = NULL;
	rc = read_header(f, path, 1, dims, e);
	if (rc == 0 && !(lab = malloc((size_t)dims[0] * sizeof *lab)))
		rc = ct_errf(e, CT_ENOMEM, "%s: out of memory for %u labels", path, dims[0]);
	if (rc == 0)
		rc = read_label_bytes(f, path, lab, dims[0], e);
	if (rc < 0) {
		(void)gzclose_r(f); /* already failing */
		free(lab);
		return rc;
	}
	rc = gzio_close(f, path, e);
	if (rc < 0) {
		free(lab);
		return rc;
	}
	*y = lab;
	*n = dims[0];
	return 0;
}

/* Picks DIR/BASE or DIR/BASE.gz, whichever exists first. */
static int find_file(const char *dir, const char *base, char *out, size_t cap, ct_err *e)
{
	const char *suffix[2] = {"", ".gz"};
	for (int i = 0; i < 2; i++) {
		if ((size_t)snprintf(out, cap, "%s/%s%s", dir, base, suffix[i]) >= cap)
			return ct_errf(e, CT_ENOTFOUND, "%s: directory name too long", dir);
		if (access(out, F_OK) == 0)
			return 0;
	}
	return ct_errf(e, CT_ENOTFOUND,
		       "%s: data set not found: tried %s and %s.gz in this directory; install "
		       "MNIST and Fashion-MNIST with `make data` (runs experiments/get_data.sh)",
		       dir, base, base);
}

static int check_labels(const ct_dataset *ds, const char *ypath, ct_err *e)
{
	for (int64_t i = 0; i < ds->n; i++)
		if (ds->y[i] >= MNIST_CLASSES)
			return ct_errf(e, CT_ECORRUPT,
				       "%s: label %d at index %lld is out of range [0, %d)", ypath,
				       ds->y[i], (long long)i, MNIST_CLASSES);
	return 0;
}

int ct_mnist_load(const char *dir, int train, ct_dataset *ds, ct_err *e)
{
	const char *prefix = train ? "train" : "t10k";
	char xbase[64], ybase[64], xpath[4096], ypath[4096];
	snprintf(xbase, sizeof xbase, "%s-images-idx3-ubyte", prefix);
	snprintf(ybase, sizeof ybase, "%s-labels-idx1-ubyte", prefix);
	memset(ds, 0, sizeof *ds);
	int rc = find_file(dir, xbase, xpath, sizeof xpath, e);
	if (rc == 0)
		rc = find_file(dir, ybase, ypath, sizeof ypath, e);
	if (rc == 0)
		rc = ct_idx_read_images(xpath, ds, e);
	if (rc < 0)
		return rc;
	int64_t ny;
	rc = ct_idx_read_labels(ypath, &ds->y, &ny, e);
	if (rc == 0 && ny != ds->n)
		rc = ct_errf(e, CT_EMISMATCH, "%s: %lld images in %s but %lld labels in %s", dir,
			     (long long)ds->n, xpath, (long long)ny, ypath);
	if (rc == 0)
		rc = check_labels(ds, ypath, e);
	if (rc < 0) {
		ct_dataset_release(ds);
		return rc;
	}
	ds->n_classes = MNIST_CLASSES;
	return 0;
}

/* ---- a block of rows at a time (ctrain data convert) ---------------------- */

int ct_mnist_stream_open(ct_mnist_stream *s, const char *dir, int train, ct_err *e)
{
	memset(s, 0, sizeof *s);
	const char *prefix = train ? "train" : "t10k";
	char xbase[64], ybase[64];
	uint32_t xd[3] = {0}, yd[1] = {0};
	snprintf(xbase, sizeof xbase, "%s-images-idx3-ubyte", prefix);
	snprintf(ybase, sizeof ybase, "%s-labels-idx1-ubyte", prefix);
	int rc = find_file(dir, xbase, s->xpath, sizeof s->xpath, e);
	if (rc == 0)
		rc = find_file(dir, ybase, s->ypath, sizeof s->ypath, e);
	if (rc == 0 && (rc = gzio_open(s->xpath, &s->xf, e)) == 0)
		s->open = 1;
	if (rc == 0 && (rc = gzio_open(s->ypath, &s->yf, e)) == 0)
		s->open = 2;
	if (rc == 0)
		rc = read_header(s->xf, s->xpath, 3, xd, e);
	if (rc == 0 && (xd[1] == 0 || xd[2] == 0 || (uint64_t)xd[1] * xd[2] > INT_MAX))
		rc = ct_errf(e, CT_ECORRUPT, "%s: IDX images of size %ux%u", s->xpath, xd[1],
			     xd[2]);
	if (rc == 0)
		rc = read_header(s->yf, s->ypath, 1, yd, e);
	if (rc == 0 && xd[0] != yd[0])
		rc = ct_errf(e, CT_EMISMATCH, "%s: %u images in %s but %u labels in %s", dir, xd[0],
			     s->xpath, yd[0], s->ypath);
	if (rc < 0) {
		ct_mnist_stream_close(s, NULL);
		return rc;
	}
	s->n = xd[0];
	s->d = (int)(xd[1] * xd[2]);
	return 0;
}

int ct_mnist_stream_read(ct_mnist_stream *s, int64_t rows, float *x, int32_t *y, ct_err *e)
{
	CT_ASSERT(s->open == 2 && rows >= 1 && s->done + rows <= s->n);
	ct_dataset part = {.x = x, .n = rows, .d = s->d};
	int rc = 0;
	/* read_pixels/read_label_bytes expect the end of the file after their
	 * rows: only the last block may check that */
	int last = s->done + rows == s->n;
	unsigned char buf[64 * 1024];
	size_t total = (size_t)rows * (size_t)s->d, done = 0;
	if (last)
		rc = read_pixels(s->xf, s->xpath, &part, e);
	while (!last && rc == 0 && done < total) {
		size_t want = total - done < sizeof buf ? total - done : sizeof buf;
		int64_t got = gzio_read(s->xf, s->xpath, buf, want, e);
		if (got < 0)
			return (int)got;
		for (int64_t i = 0; i < got; i++)
			x[done + (size_t)i] = (float)buf[i] / 255.0f;
		done += (size_t)got;
		/* cppcheck-suppress knownConditionTrueFalse ; false positive: gzio_read is short at EOF */
		if ((size_t)got < want)
			rc = ct_errf(e, CT_ECORRUPT,
				     "%s: truncated: the header declares %lld images of %d pixels "
				     "but the file ends after %lld",
				     s->xpath, (long long)s->n, s->d,
				     (long long)(s->done + (int64_t)(done / (size_t)s->d)));
	}
	if (!last && rc == 0)
		rc = read_labels(s->yf, s->ypath, y, rows, s->n, s->done, e);
	if (last && rc == 0)
		rc = read_label_bytes(s->yf, s->ypath, y, rows, e);
	for (int64_t i = 0; rc == 0 && i < rows; i++)
		if (y[i] >= MNIST_CLASSES)
			rc = ct_errf(e, CT_ECORRUPT,
				     "%s: label %d at index %lld is out of range [0, %d)", s->ypath,
				     y[i], (long long)(s->done + i), MNIST_CLASSES);
	if (rc == 0)
		s->done += rows;
	return rc;
}

int ct_mnist_stream_close(ct_mnist_stream *s, ct_err *e)
{
	int rc = 0;
	ct_err ignore;
	if (s->open >= 1 && gzio_close(s->xf, s->xpath, e ? e : &ignore) < 0)
		rc = CT_ECORRUPT;
	if (s->open >= 2 && gzio_close(s->yf, s->ypath, rc < 0 || !e ? &ignore : e) < 0 && rc == 0)
		rc = CT_ECORRUPT;
	s->open = 0;
	return rc < 0 && e ? e->code : rc;
}
