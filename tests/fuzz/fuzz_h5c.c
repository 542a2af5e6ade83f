/* libFuzzer target for the HDF5 checkpoint reader (make fuzz; issue 22).
 *
 * An input is a checkpoint file: HDF5 image, then the 32-byte trailer.  The
 * trailer is recomputed over the image before every run (magic, length,
 * CRC-32C of the image, version, its own CRC), as anyone forging a file
 * would, so every mutation reaches the allow-list and libhdf5 instead of
 * dying at the checksum.  The custom mutator is structure-aware: it keeps
 * the length (the superblock's end of file must match it), puts 80% of its
 * changes into the first 4 KB where HDF5 keeps its metadata, and besides
 * random bytes writes HDF5-shaped values there: 8-byte addresses and
 * lengths (0, 1, small, the image size and around it, all ones), 2- and
 * 4-byte counts, and copies of other 8-byte fields (addresses swapped).
 *
 * Each input is opened and read the way `ctrain inspect`, `export` and
 * `resume` read a checkpoint: the header, the strings, every /model and
 * /optim dataset through ct_h5c_list/ct_h5c_shape/ct_h5c_read, the fixed-size state.
 * Every call must succeed or fail with a CT_E* code and a message; a crash,
 * a hang (-timeout), a sanitizer report or a leak is a finding.
 * Seeds: tests/fuzz/corpus/h5c (the format-1 fixture and current
 * checkpoints of SGD and Adam runs). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../ckpt/crc32c.h"
#include "../../ckpt/h5c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

#define META 4096
#define MIN_FILE (CT_H5C_TRAILER_SIZE + 96)

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The trailer of ckpt/README.md over the image's n bytes, at p + n. */
static void put_trailer(uint8_t *p, size_t n)
{
	uint8_t *t = p + n;
	memcpy(t, CT_H5C_TRAILER_MAGIC, 8);
	put_le(t + 8, n, 8);
	put_le(t + 16, crc32c_update(0, p, n), 4);
	put_le(t + 20, CT_H5C_TRAILER_VERSION, 4);
	put_le(t + 24, crc32c_update(0, t, 24), 8);
}

static uint32_t next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* An offset in the image, usually in its metadata. */
static size_t pick(uint32_t *s, size_t image, size_t width)
{
	size_t end = image;
	if (next(s) % 10 < 8 && end > META)
		end = META;
	if (end <= width)
		return 0;
	size_t off = next(s) % (end - width);
	return next(s) % 2 ? off & ~(size_t)7 : off; /* HDF5 fields are often 8-aligned */
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	if (size < MIN_FILE)
		return LLVMFuzzerMutate(data, size, max_size);
	uint32_t s = seed | 1;
	size_t image = size - CT_H5C_TRAILER_SIZE;
	int n = 1 + (int)(next(&s) % 4);
	for (int i = 0; i < n; i++) {
		uint32_t op = next(&s) % 8;
		if (op < 3) { /* random bytes */
			data[pick(&s, image, 1)] = (uint8_t)next(&s);
		} else if (op < 5) { /* an address or length */
			static const int64_t delta[] = {0, 1, -1, 8, -8, 16, -16, 4096};
			uint64_t v;
			switch (next(&s) % 5) {
			case 0: v = 0; break;
			case 1: v = next(&s) % 64; break;
			case 2: v = image + (uint64_t)delta[next(&s) % 8]; break;
			case 3: v = UINT64_MAX; break;
			default: v = next(&s) % image; break;
			}
			put_le(data + pick(&s, image, 8), v, 8);
		} else if (op < 6) { /* a count or size field */
			int w = next(&s) % 2 ? 2 : 4;
			static const uint32_t val[] = {0,     1,      2,          0xff,
						       0x100, 0xffff, 0x7fffffff, 0xffffffff};
			put_le(data + pick(&s, image, (size_t)w), val[next(&s) % 8], w);
		} else if (op < 7) { /* another field's 8 bytes (addresses swapped) */
			size_t from = pick(&s, image, 8), to = pick(&s, image, 8);
			memmove(data + to, data + from, 8);
		} else { /* libFuzzer's own mutations, same length, metadata only */
			size_t len = image < META ? image : META;
			size_t got = LLVMFuzzerMutate(data, len, len); /* at most len */
			memset(data + got, 0, len - got);              /* if it shrank */
		}
	}
	put_trailer(data, image);
	return size;
}

static void read_field(ct_h5c_reader *r, const char *path, ct_h5c_type t, int ndim, int64_t d0)
{
	ct_err e = {0};
	uint64_t buf[64] = {0};
	char *s = NULL;
	ct_h5c_field f = {path, t, ndim, {d0}, t == CT_H5C_STR ? (void *)&s : (void *)buf};
	int rc = ct_h5c_read(r, &f, &e);
	CHECK(rc == 0 || (rc < 0 && e.msg[0] != '\0'));
	CHECK(t != CT_H5C_STR || (rc == 0) == (s != NULL));
	if (s)
		CHECK(strlen(s) < CT_H5C_STR_MAX);
	free(s);
}

/* Every dataset of group, as source.c's read_ckpt_model reads /model. */
static void read_group(ct_h5c_reader *r, const char *group)
{
	ct_err e = {0};
	char **names = NULL;
	size_t n = 0;
	int rc = ct_h5c_list(r, group, &names, &n, &e);
	CHECK(rc == 0 || (rc < 0 && e.msg[0] != '\0' && names == NULL && n == 0));
	for (size_t i = 0; i < n; i++) {
		char full[1024];
		snprintf(full, sizeof full, "%s/%s", group, names[i]);
		ct_h5c_field f = {full, CT_H5C_F32, 0, {0}, NULL};
		ct_err e2 = {0};
		if (ct_h5c_shape(r, full, &f.ndim, f.shape, &e2) < 0) {
			CHECK(e2.msg[0] != '\0');
			continue;
		}
		int64_t numel = ct_h5c_numel(&f);
		CHECK(numel >= 0 && numel <= (int64_t)(1 << 30));
		f.data = malloc((size_t)(numel ? numel : 1) * sizeof(float));
		CHECK(f.data != NULL);
		rc = ct_h5c_read(r, &f, &e2);
		CHECK(rc == 0 || e2.msg[0] != '\0');
		free(f.data);
	}
	ct_h5c_list_free(names, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < MIN_FILE)
		return 0;
	uint8_t *file = malloc(size);
	CHECK(file != NULL);
	memcpy(file, data, size);
	put_trailer(file, size - CT_H5C_TRAILER_SIZE);
	ct_h5c_reader *r = NULL;
	ct_err e = {0};
	int rc = ct_h5c_open_buffer(file, size, "fuzz.h5", &r, &e);
	free(file);
	if (rc < 0) {
		CHECK(r == NULL && e.msg[0] != '\0');
		return 0;
	}
	read_field(r, "/@format", CT_H5C_STR, 0, 0);
	read_field(r, "/@format_version", CT_H5C_I64, 0, 0);
	read_field(r, "/meta/step", CT_H5C_I64, 0, 0);
	read_field(r, "/meta/epoch", CT_H5C_I64, 0, 0);
	read_field(r, "/meta@version", CT_H5C_STR, 0, 0);
	read_field(r, "/meta@blas_core", CT_H5C_STR, 0, 0);
	read_field(r, "/meta@config", CT_H5C_STR, 0, 0);
	read_field(r, "/optim@name", CT_H5C_STR, 0, 0);
	read_field(r, "/optim/step", CT_H5C_I64, 0, 0);
	read_field(r, "/optim/lr", CT_H5C_F64, 0, 0);
	read_field(r, "/rng/init", CT_H5C_U64, 1, 4);
	read_field(r, "/rng/dropout", CT_H5C_U64, 1, 4);
	read_field(r, "/data/cursor", CT_H5C_U64, 0, 0);
	read_field(r, "/data/shuffle_rng", CT_H5C_U64, 1, 4);
	read_field(r, "/meta/best_steps", CT_H5C_I64, 1, 32);
	read_field(r, "/meta/best_values", CT_H5C_F64, 1, 32);
	read_group(r, "/model");
	read_group(r, "/optim/m");
	read_group(r, "/optim/v");
	ct_h5c_close(r);
	return 0;
}
