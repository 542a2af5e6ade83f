/* pth.c — the torch.save zip container: recognise the format (and the legacy
 * raw-pickle one), find <prefix>/data.pkl, serve <prefix>/data/<key> records
 * to pth_parse_pickle (pth_walk.c).  libzip does the zip parsing and checks
 * each record's CRC when it has been read to the end. */
#include "pth.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "pickle.h"

/* Deflate cannot expand more than ~1032:1; a record claiming more is lying. */
#define MAX_DEFLATE_RATIO 1100

typedef struct zsrc {
	zip_t *za;
	const char *file;
	char *prefix; /* the archive's top folder, e.g. "model" in model/data.pkl */
} zsrc;

/* ---- records --------------------------------------------------------------- */

/* Finds <prefix>/<rel>: 1 found (idx, st filled), 0 absent, < 0 error. */
static int locate(zsrc *z, const char *rel, zip_uint64_t *idx, zip_stat_t *st, ct_err *e)
{
	char *full;
	if (asprintf(&full, "%s/%s", z->prefix, rel) < 0)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory", z->file);
	zip_int64_t i = zip_name_locate(z->za, full, 0);
	free(full);
	if (i < 0)
		return 0;
	if (zip_stat_index(z->za, (zip_uint64_t)i, 0, st) < 0 || !(st->valid & ZIP_STAT_SIZE))
		return ct_errf(e, CT_ECORRUPT, "%s: cannot stat record '%s/%s': %s", z->file,
			       z->prefix, rel, zip_strerror(z->za));
	*idx = (zip_uint64_t)i;
	return 1;
}

static int check_size(zsrc *z, const char *rel, const zip_stat_t *st, size_t want, ct_err *e)
{
	char r[96];
	pickle_printable(r, sizeof r, rel, strlen(rel));
	if (st->size != want)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: record '%s/%s' has %llu bytes but the pickle "
			       "declares %zu",
			       z->file, z->prefix, r, (unsigned long long)st->size, want);
	if ((st->valid & ZIP_STAT_COMP_SIZE) && (st->valid & ZIP_STAT_COMP_METHOD) &&
	    st->comp_method != ZIP_CM_STORE && st->size / MAX_DEFLATE_RATIO > st->comp_size)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: record '%s/%s' claims %llu bytes from %llu "
			       "compressed bytes",
			       z->file, z->prefix, r, (unsigned long long)st->size,
			       (unsigned long long)st->comp_size);
	return 0;
}

static int read_fail(zsrc *z, const char *rel, zip_file_t *f, void *buf, const char *why, ct_err *e)
{
	char r[96];
	pickle_printable(r, sizeof r, rel, strlen(rel));
	ct_errf(e, CT_ECORRUPT, "%s: reading record '%s/%s': %s", z->file, z->prefix, r, why);
	if (f)
		zip_fclose(f); /* already failing: its status adds nothing */
	free(buf);
	return CT_ECORRUPT;
}

/* Reads exactly size bytes of record idx; the extra read at the end makes
 * libzip reach end of data, where it verifies the CRC. */
static int read_index(zsrc *z, const char *rel, zip_uint64_t idx, size_t size, void **out,
		      ct_err *e)
{
	unsigned char *buf = malloc(size ? size : 1);
	if (!buf)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory for record '%s'", z->file, rel);
	zip_file_t *f = zip_fopen_index(z->za, idx, 0);
	if (!f)
		return read_fail(z, rel, NULL, buf, zip_strerror(z->za), e);
	size_t got = 0;
	while (got < size) {
		zip_int64_t n = zip_fread(f, buf + got, size - got);
		if (n < 0)
			return read_fail(z, rel, f, buf, zip_file_strerror(f), e);
		if (n == 0)
			return read_fail(z, rel, f, buf, "shorter than its directory entry", e);
		got += (size_t)n;
	}
	char extra;
	zip_int64_t n = zip_fread(f, &extra, 1);
	if (n < 0)
		return read_fail(z, rel, f, buf, zip_file_strerror(f), e);
	if (n > 0)
		return read_fail(z, rel, f, buf, "longer than its directory entry", e);
	if (zip_fclose(f) != 0)
		return read_fail(z, rel, NULL, buf, "closing failed", e);
	*out = buf;
	return 0;
}

/* pth_storage_fn over the archive: <prefix>/data/<key>. */
static int zip_get(void *ctx, const char *key, size_t nbytes, void **data, ct_err *e)
{
	zsrc *z = ctx;
	char *rel;
	if (asprintf(&rel, "data/%s", key) < 0)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory", z->file);
	zip_uint64_t idx = 0;
	zip_stat_t st;
	int rc = locate(z, rel, &idx, &st, e);
	if (rc == 0) {
		char k[64];
		pickle_printable(k, sizeof k, key, strlen(key));
		rc = ct_errf(e, CT_ECORRUPT,
			     "%s: storage '%s' is not in the archive (no record "
			     "'%s/data/%s')",
			     z->file, k, z->prefix, k);
	}
	if (rc > 0)
		rc = check_size(z, rel, &st, nbytes, e);
	if (rc == 0 && data)
		rc = read_index(z, rel, idx, nbytes, data, e);
	free(rel);
	return rc;
}

/* ---- the archive ----------------------------------------------------------------- */

static int check_byteorder(zsrc *z, ct_err *e)
{
	zip_uint64_t idx = 0;
	zip_stat_t st;
	int rc = locate(z, "byteorder", &idx, &st, e);
	if (rc <= 0) /* absent (torch < 2.1 wrote none): native order, little here */
		return rc;
	if (st.size > 16)
		return ct_errf(e, CT_ECORRUPT, "%s: byteorder record is %llu bytes", z->file,
			       (unsigned long long)st.size);
	void *buf = NULL;
	if ((rc = read_index(z, "byteorder", idx, (size_t)st.size, &buf, e)) < 0)
		return rc;
	CT_ASSERT(buf); /* set on success; said for clang's analyser */
	int little = st.size == 6 && memcmp(buf, "little", 6) == 0;
	free(buf);
	if (!little)
		return ct_errf(e, CT_EUNSUPPORTED,
			       "%s: tensors are stored big-endian; only "
			       "little-endian files are supported",
			       z->file);
	return 0;
}

/* torch.load takes the folder of the first record as the archive's prefix. */
static int find_layout(zsrc *z, ct_err *e)
{
	const char *first = zip_get_num_entries(z->za, 0) > 0 ? zip_get_name(z->za, 0, 0) : NULL;
	const char *slash = first ? strchr(first, '/') : NULL;
	if (!slash)
		return ct_errf(e, CT_ECORRUPT, "%s: not a torch.save archive (%s)", z->file,
			       first ? "first record is not in a folder" : "no records");
	z->prefix = strndup(first, (size_t)(slash - first));
	if (!z->prefix)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory", z->file);
	zip_uint64_t idx = 0;
	zip_stat_t st;
	int rc = locate(z, "constants.pkl", &idx, &st, e);
	if (rc > 0)
		return ct_errf(e, CT_EUNSUPPORTED,
			       "%s: a TorchScript archive (torch.jit.save); save "
			       "model.state_dict() with torch.save instead",
			       z->file);
	if (rc < 0 || (rc = check_byteorder(z, e)) < 0)
		return rc;
	return 0;
}

static int read_pickle(zsrc *z, void **pkl, size_t *len, ct_err *e)
{
	zip_uint64_t idx = 0;
	zip_stat_t st;
	int rc = locate(z, "data.pkl", &idx, &st, e);
	if (rc == 0)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: not a torch.save archive (no record '%s/data.pkl')", z->file,
			       z->prefix);
	if (rc < 0)
		return rc;
	if (st.size > PTH_MAX_PICKLE)
		return ct_errf(e, CT_ECORRUPT, "%s: data.pkl is %llu bytes (limit %zu)", z->file,
			       (unsigned long long)st.size, PTH_MAX_PICKLE);
	if ((rc = check_size(z, "data.pkl", &st, (size_t)st.size, e)) < 0)
		return rc;
	*len = (size_t)st.size;
	return read_index(z, "data.pkl", idx, *len, pkl, e);
}

static int load_zip(zip_t *za, const char *file, pth_mode mode, ct_tdict *out, char ***skipped,
		    size_t *n_skipped, ct_err *e)
{
	zsrc z = {.za = za, .file = file};
	void *pkl = NULL;
	size_t len = 0;
	int rc = find_layout(&z, e);
	if (rc == 0)
		rc = read_pickle(&z, &pkl, &len, e);
	if (rc == 0)
		rc = pth_parse_pickle(pkl, len, file, mode, zip_get, &z, out, skipped, n_skipped,
				      e);
	free(pkl);
	free(z.prefix);
	return rc;
}

/* ---- entry points ------------------------------------------------------------------ */

/* What torch < 1.6 wrote: a raw pickle starting with the magic number
 * 0x1950a86a20f9469cfc6c as a LONG1. */
static int check_magic(const unsigned char *p, size_t n, const char *file, ct_err *e)
{
	static const unsigned char legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
					       0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
	if (n >= sizeof legacy && memcmp(p, legacy, sizeof legacy) == 0)
		return ct_errf(e, CT_EUNSUPPORTED,
			       "%s: legacy .pth format (torch < 1.6 or "
			       "_use_new_zipfile_serialization=False); re-save it with "
			       "torch.save(obj, path) in torch >= 1.6",
			       file);
	if (n >= 1 && p[0] == 0x80)
		return ct_errf(e, CT_EUNSUPPORTED,
			       "%s: a raw pickle, not a torch.save zip archive; "
			       "re-save it with torch.save(obj, path) in torch >= 1.6",
			       file);
	return 0;
}

static int zip_fail(int code, const char *file, ct_err *e)
{
	zip_error_t ze;
	zip_error_init_with_code(&ze, code);
	ct_errf(e, CT_ECORRUPT, "%s: not a valid zip archive (torch.save format): %s", file,
		zip_error_strerror(&ze));
	zip_error_fini(&ze);
	return CT_ECORRUPT;
}

static void clear_out(ct_tdict *out, char ***skipped, size_t *n_skipped)
{
	ct_tdict_init(out);
	if (skipped) {
		*skipped = NULL;
		*n_skipped = 0;
	}
}

int pth_parse(const void *buf, size_t len, const char *name, ct_tdict *out, char ***skipped,
	      size_t *n_skipped, ct_err *e)
{
	clear_out(out, skipped, n_skipped);
	int rc = check_magic(buf, len, name, e);
	if (rc < 0)
		return rc;
	zip_error_t ze;
	zip_error_init(&ze);
	zip_source_t *src = zip_source_buffer_create(buf, len, 0, &ze);
	zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
	if (!za) {
		int code = zip_error_code_zip(&ze);
		zip_error_fini(&ze);
		if (src)
			zip_source_free(src);
		return zip_fail(code, name, e);
	}
	zip_error_fini(&ze);
	rc = load_zip(za, name, PTH_ALL, out, skipped, n_skipped, e);
	zip_discard(za); /* read-only: nothing to write back */
	return rc;
}

/* Reads the first bytes for check_magic. */
static int read_head(const char *path, unsigned char *head, size_t cap, size_t *n, ct_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ct_errno(e, errno == ENOENT ? CT_ENOTFOUND : CT_EIO, errno,
				"%s: cannot open", path);
	ssize_t got;
	do
		got = read(fd, head, cap);
	while (got < 0 && errno == EINTR);
	int err = errno;
	if (close(fd) != 0 && got >= 0)
		return ct_errno(e, CT_EIO, errno, "%s: close failed", path);
	if (got < 0)
		return ct_errno(e, CT_EIO, err, "%s: cannot read", path);
	*n = (size_t)got;
	return 0;
}

static int read_path(const char *path, pth_mode mode, ct_tdict *out, char ***skipped,
		     size_t *n_skipped, ct_err *e)
{
	clear_out(out, skipped, n_skipped);
	unsigned char head[16];
	size_t n = 0;
	int rc = read_head(path, head, sizeof head, &n, e);
	if (rc < 0 || (rc = check_magic(head, n, path, e)) < 0)
		return rc;
	int zerr = 0;
	zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
	if (!za)
		return zip_fail(zerr, path, e);
	rc = load_zip(za, path, mode, out, skipped, n_skipped, e);
	zip_discard(za);
	return rc;
}

int pth_read(const char *path, ct_tdict *out, char ***skipped, size_t *n_skipped, ct_err *e)
{
	return read_path(path, PTH_ALL, out, skipped, n_skipped, e);
}

int pth_read_state_dict(const char *path, ct_tdict *out, char ***skipped, size_t *n_skipped,
			ct_err *e)
{
	return read_path(path, PTH_STATE_DICT, out, skipped, n_skipped, e);
}
