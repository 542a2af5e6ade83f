/* safetensors.h — the .safetensors format: how a trained model leaves ctrain,
 * and how weights from PyTorch or the safetensors libraries come in.
 *
 * Layout of a file: 8-byte little-endian header length N; N bytes of UTF-8
 * JSON (an object: optional "__metadata__" of string values, then one entry
 * {"dtype","shape","data_offsets":[begin,end]} per tensor), padded with
 * spaces; then the data section, whose byte ranges the entries tile exactly.
 *
 * Writing:
 *     ct_tdict d; ct_tdict_init(&d);            // tensors + metadata, in file order
 *     ct_tdict_set_meta(&d, "format", "pt", &e); ct_tdict_add(&d, ...);
 *     if (ct_st_write("model.safetensors", &d, &e) < 0) ...   // atomic
 *
 * Reading (zero copy: entries point into a read-only mapping of the file,
 * which the tdict owns and unmaps in ct_tdict_release):
 *     ct_tdict d;
 *     if (ct_st_read(path, &d, &e) < 0) { ct_log_error("%s", e.msg); ... }
 *     ct_tdict_entry_to_f32(ct_tdict_find(&d, "layers.0.weight"), dst, &e);
 *     ct_tdict_release(&d);
 *
 * The reader is strict: every rule of the format is checked and a file that
 * breaks one is rejected with CT_ECORRUPT and a message naming the rule, never
 * a crash, whatever its bytes (tests/fuzz/fuzz_safetensors.c).  Tensor data
 * inside a file may be unaligned: read it with memcpy or ct_tdict_entry_to_f32,
 * never through a cast float pointer.
 */
#ifndef CT_SAFETENSORS_H
#define CT_SAFETENSORS_H

#include <stddef.h>

#include "../util/api.h"
#include "../util/err.h"
#include "tdict.h"

/* Largest header accepted, as in the reference implementation. */
#define CT_ST_MAX_HEADER 100000000ull

/* Serialises d: header length, compact JSON header with "__metadata__" first
 * (omitted when d has no metadata) then the tensors in d's order with
 * contiguous offsets, spaces so that 8+N is a multiple of 8, then the data.
 * The same tdict always gives the same bytes.  *buf is malloc'ed (caller
 * frees).  Fails with CT_EUNSUPPORTED for a name that is not valid UTF-8 or a
 * tensor named "__metadata__", CT_ENOMEM on allocation failure. */
CT_API int ct_st_serialize(const ct_tdict *d, void **buf, size_t *len, ct_err *e);

/* The first *hdr_len bytes of ct_st_serialize's output (the length field, the
 * JSON header and its padding) in *hdr (malloc'ed, caller frees); the rest of
 * the file is the tensors' data in d's order, *data_len bytes.  Same errors as
 * ct_st_serialize. */
CT_API int ct_st_header_build(const ct_tdict *d, unsigned char **hdr, size_t *hdr_len,
			      size_t *data_len, ct_err *e);

/* Strict parse of a whole file image into out (initialised here; left empty
 * on failure).  copy=0: entries borrow pointers into buf, which the caller
 * keeps alive and unchanged; copy=1: entries own copies.  Entries keep header
 * order.  Every violation returns CT_ECORRUPT naming the rule. */
CT_API int ct_st_parse(const void *buf, size_t len, ct_tdict *out, int copy, ct_err *e);

/* Maps path read-only and parses it without copying: out owns the mapping
 * (out->backing).  Errors are prefixed with the path; CT_ENOTFOUND when the
 * file does not exist, CT_EIO for other open/stat/mmap failures and for a
 * directory, CT_ECORRUPT for a malformed (or empty) file. */
CT_API int ct_st_read(const char *path, ct_tdict *out, ct_err *e);

/* Writes ct_st_serialize's bytes atomically without assembling them: the header
 * is built in memory, then header and tensors go out from where they live in
 * one ct_atomic_write_iov (no copy of the tensors, whatever their size). */
CT_API int ct_st_write(const char *path, const ct_tdict *d, ct_err *e);

/* Copies src into dst (initialised here) with every F32 tensor converted to dt
 * (CT_DT_F32, CT_DT_F16 or CT_DT_BF16; round to nearest even); other tensors and the
 * metadata are copied unchanged.  *max_abs_err (may be NULL) receives the
 * largest |x - roundtrip(x)| over the finite inputs: 0 for CT_DT_F32, +inf if a
 * finite value overflowed to infinity.  CT_EUNSUPPORTED for another dt. */
CT_API int ct_st_convert_dtype(const ct_tdict *src, ct_dtype dt, ct_tdict *dst, double *max_abs_err,
			       ct_err *e);

#endif
