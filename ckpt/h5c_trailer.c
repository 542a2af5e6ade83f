/* h5c_trailer.c — the checkpoint trailer (magic, image length, CRC-32C of
 * the image, version, CRC of the trailer) and verifying a file by it, before
 * any HDF5 parsing (ckpt/README.md, "Trailer"). */
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
#include "../util/util.h"
#include "crc32c.h"
#include "h5c_internal.h"

/* Trailer: magic[8] | u64 image length | u32 crc32c(image) | u32 version |
 * u64 crc32c(trailer bytes 0..23), all little-endian.  The trailer's own CRC
 * makes a flipped length or version read as damage, not as a different file. */
#define OFF_LEN 8
#define OFF_CRC 16
#define OFF_VERSION 20
#define OFF_SELF_CRC 24

static const unsigned char g_hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t h5c_get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void h5c_trailer_fill(unsigned char *t, uint32_t image_crc, size_t image_len)
{
	memcpy(t, CT_H5C_TRAILER_MAGIC, 8);
	put_le(t + OFF_LEN, image_len, 8);
	put_le(t + OFF_CRC, image_crc, 4);
	put_le(t + OFF_VERSION, CT_H5C_TRAILER_VERSION, 4);
	put_le(t + OFF_SELF_CRC, crc32c_update(0, t, OFF_SELF_CRC), 8);
}

/* Checks the trailer t of a len-byte file; on success *image_len is its image
 * length and *crc the image CRC it records. */
static int trailer_check(const unsigned char *t, size_t len, int plain_hdf5, size_t *image_len,
			 uint32_t *crc, ct_err *e)
{
	if (memcmp(t, CT_H5C_TRAILER_MAGIC, 8) != 0)
		return ct_errf(e, CT_ECORRUPT,
			       "missing trailer magic (not a ctrain checkpoint or truncated%s)",
			       plain_hdf5 ? "; it starts like a plain HDF5 file" : "");
	uint64_t self = h5c_get_le(t + OFF_SELF_CRC, 8);
	uint32_t self_now = crc32c_update(0, t, OFF_SELF_CRC);
	if (self != self_now)
		return ct_errf(e, CT_ECORRUPT,
			       "trailer checksum mismatch (stored 0x%llx, computed 0x%08x)",
			       (unsigned long long)self, (unsigned)self_now);
	uint32_t version = (uint32_t)h5c_get_le(t + OFF_VERSION, 4);
	if (version != CT_H5C_TRAILER_VERSION)
		return ct_errf(e, CT_EUNSUPPORTED,
			       "trailer format version %u is not supported (this build reads %d)",
			       (unsigned)version, CT_H5C_TRAILER_VERSION);
	uint64_t stated = h5c_get_le(t + OFF_LEN, 8);
	if (stated != len - CT_H5C_TRAILER_SIZE)
		return ct_errf(e, CT_ECORRUPT,
			       "length mismatch: trailer says %llu bytes of image, file has %zu",
			       (unsigned long long)stated, len - CT_H5C_TRAILER_SIZE);
	*image_len = (size_t)stated;
	*crc = (uint32_t)h5c_get_le(t + OFF_CRC, 4);
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
int h5c_named(int rc, ct_err *e, const char *name)
{
	if (e)
		ct_err_prefix(e, "%s", name);
	return rc;
}

int h5c_too_short(size_t len, ct_err *e)
{
	return ct_errf(e, CT_ECORRUPT, "file is %zu bytes, too short for a checkpoint", len);
}

int ct_h5c_verify(const void *buf, size_t len, ct_err *e)
{
	const unsigned char *p = buf;
	if (len < CT_H5C_TRAILER_SIZE + MIN_IMAGE)
		return h5c_too_short(len, e);
	size_t image_len;
	uint32_t stored;
	int plain = memcmp(p, g_hdf5_sig, 8) == 0;
	int rc = trailer_check(p + len - CT_H5C_TRAILER_SIZE, len, plain, &image_len, &stored, e);
	if (rc < 0)
		return rc;
	return image_check(stored, crc32c_update(0, p, image_len), p, e);
}

/* Streams the image through a small buffer: verifying a checkpoint needs no
 * memory of its size (and no page faults for it). */
static int verify_fd(int fd, size_t len, const char *path, ct_err *e)
{
	unsigned char head[8], t[CT_H5C_TRAILER_SIZE];
	if (len < CT_H5C_TRAILER_SIZE + MIN_IMAGE)
		return h5c_named(h5c_too_short(len, e), e, path);
	int rc = ct_pread_all(fd, head, 8, 0, path, e);
	if (rc == 0)
		rc = ct_pread_all(fd, t, CT_H5C_TRAILER_SIZE, (off_t)(len - CT_H5C_TRAILER_SIZE),
				  path, e);
	if (rc != 0) /* never > 0: said for the analyser, which cannot see ct_pread_all fill them */
		return rc;
	size_t image_len;
	uint32_t stored, crc = 0;
	rc = trailer_check(t, len, memcmp(head, g_hdf5_sig, 8) == 0, &image_len, &stored, e);
	if (rc < 0)
		return h5c_named(rc, e, path);
	size_t chunk = (size_t)1 << 20;
	unsigned char *buf = malloc(chunk);
	if (!buf)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory", path);
	for (size_t off = 0; off < image_len; off += chunk) {
		size_t n = image_len - off < chunk ? image_len - off : chunk;
		if ((rc = ct_pread_all(fd, buf, n, (off_t)off, path, e)) < 0)
			break;
		crc = crc32c_update(crc, buf, n);
	}
	free(buf);
	if (rc < 0)
		return rc;
	rc = image_check(stored, crc, head, e);
	return rc < 0 ? h5c_named(rc, e, path) : 0;
}

/* Opens path read-only and checks it is a regular file (*size: its size).
 * On failure nothing is left open. */
int h5c_open_regular(const char *path, int *fd, size_t *size, ct_err *e)
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

int ct_h5c_verify_file(const char *path, ct_err *e)
{
	int fd;
	size_t size;
	int rc = h5c_open_regular(path, &fd, &size, e);
	if (rc < 0)
		return rc;
	rc = verify_fd(fd, size, path, e);
	close(fd); /* read-only: nothing to lose if close fails */
	return rc;
}
