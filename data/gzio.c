#include "gzio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* zlib's own buffer is 8 KiB; bigger means far fewer read(2) calls on MNIST. */
#define GZIO_BUFFER (128u * 1024u)
#define GZIO_CHUNK (1u << 20)

int gzio_open(const char *path, gzFile *f, ct_err *e)
{
	errno = 0;
	*f = gzopen(path, "rb");
	if (!*f) {
		int err = errno ? errno : ENOMEM;
		return ct_errno(e, err == ENOENT ? CT_ENOTFOUND : CT_EIO, err, "%s: cannot open",
				path);
	}
	if (gzbuffer(*f, GZIO_BUFFER) != 0) {
		(void)gzclose_r(*f); /* already failing */
		return ct_errf(e, CT_EIO, "%s: cannot set zlib buffer size", path);
	}
	return 0;
}

static int gz_failure(const char *path, int errnum, const char *zmsg, ct_err *e)
{
	size_t plen = strlen(path); /* zlib prefixes its message with the path */
	if (strncmp(zmsg, path, plen) == 0 && strncmp(zmsg + plen, ": ", 2) == 0)
		zmsg += plen + 2;
	if (errnum == Z_ERRNO)
		return ct_errno(e, CT_EIO, errno, "%s: read failed", path);
	if (errnum == Z_MEM_ERROR)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory while decompressing", path);
	/* Z_BUF_ERROR: the gzip stream was cut off; Z_DATA_ERROR: bad CRC etc. */
	return ct_errf(e, CT_ECORRUPT, "%s: corrupt or truncated gzip data (%s)", path, zmsg);
}

int64_t gzio_read(gzFile f, const char *path, void *buf, size_t len, ct_err *e)
{
	unsigned char *p = buf;
	size_t got = 0;
	while (got < len) {
		size_t want = len - got < GZIO_CHUNK ? len - got : GZIO_CHUNK;
		int n = gzread(f, p + got, (unsigned)want);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		int errnum = Z_OK;
		const char *zmsg = gzerror(f, &errnum);
		if (n < 0 || errnum != Z_OK)
			return gz_failure(path, errnum, zmsg, e);
		break; /* clean end of file */
	}
	return (int64_t)got;
}

int gzio_close(gzFile f, const char *path, ct_err *e)
{
	int rc = gzclose_r(f);
	if (rc == Z_OK)
		return 0;
	if (rc == Z_BUF_ERROR)
		return ct_errf(e, CT_ECORRUPT, "%s: truncated gzip data (unexpected end of file)",
			       path);
	return ct_errf(e, CT_EIO, "%s: close failed (zlib error %d)", path, rc);
}
