/* tdict.h — an ordered list of named, typed, n-dimensional tensors plus string
 * metadata: what a safetensors file or a PyTorch state_dict holds.
 *
 * Readers (ct_st_read, pth_read) fill a tdict; writers (ct_st_write) consume one; the
 * model code converts between a tdict and its parameter buffer.  Tensor data is
 * always contiguous, row-major, little-endian, in the entry's dtype.
 *
 *     ct_tdict d; ct_tdict_init(&d);
 *     ct_tdict_add(&d, "layers.0.weight", CT_DT_F32, 2, (int64_t[]){256, 784}, ptr, 1, &e);
 *     ...
 *     ct_tdict_release(&d);
 *
 * An entry either owns its data (copied in by ct_tdict_add with copy=1, or
 * allocated by a reader) or borrows it (copy=0: caller keeps it alive).
 */
#ifndef CT_TDICT_H
#define CT_TDICT_H

#include <stddef.h>
#include <stdint.h>

#include "../util/api.h"
#include "../util/err.h"

#define CT_MAX_DIMS 8

typedef enum {
	CT_DT_F32 = 0,
	CT_DT_F16,
	CT_DT_BF16,
	CT_DT_F64,
	CT_DT_I64,
	CT_DT_I32,
	CT_DT_I16,
	CT_DT_I8,
	CT_DT_U8,
	CT_DT_BOOL,
	CT_DT_COUNT
} ct_dtype;

CT_API size_t ct_dtype_size(ct_dtype t);
/* safetensors spelling: "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL" */
CT_API const char *ct_dtype_name(ct_dtype t);
/* Parses the safetensors spelling; returns -1 if unknown. */
CT_API int ct_dtype_from_name(const char *s);

/* IEEE half / bfloat16 conversions, round to nearest even (NaN stays NaN). */
CT_API uint16_t ct_f32_to_f16(float f);
CT_API float ct_f16_to_f32(uint16_t h);
CT_API uint16_t ct_f32_to_bf16(float f);
CT_API float ct_bf16_to_f32(uint16_t h);

typedef struct ct_tdict_entry {
	char *name;
	ct_dtype dtype;
	int ndim;
	int64_t shape[CT_MAX_DIMS];
	void *data;
	size_t nbytes;
	int owned; /* 1: free(data) on release */
} ct_tdict_entry;

typedef struct ct_tdict {
	ct_tdict_entry *v;
	size_t n, cap;
	char **meta_keys, **meta_vals; /* __metadata__ in insertion order */
	size_t n_meta, cap_meta;
	void *backing; /* whole-file buffer entries may point into (freed on release) */
	size_t backing_len;
	int backing_mmapped; /* 1: munmap(backing), 0: free(backing) */
	/* name index kept by ct_tdict_add (entry i + 1 per slot, 0 = empty): adding
	 * and finding names is O(1), not a scan (100,000 names took 27 s) */
	size_t *slots, n_slots, n_indexed;
} ct_tdict;

CT_API void ct_tdict_init(ct_tdict *d);
CT_API void ct_tdict_release(ct_tdict *d);

/* Number of elements for a shape (1 for ndim 0); returns -1 on overflow. */
CT_API int64_t ct_shape_numel(int ndim, const int64_t *shape);

/* Appends an entry; copy=1 duplicates data, copy=0 borrows it.  Fails with
 * CT_EMISMATCH on a duplicate name, CT_ENOMEM on allocation failure. */
CT_API int ct_tdict_add(ct_tdict *d, const char *name, ct_dtype dt, int ndim, const int64_t *shape,
			const void *data, int copy, ct_err *e);
/* Every tensor whose name starts with `from` gets `to` instead of that prefix
 * ("0." -> "layers.0." maps 0.weight to layers.0.weight); returns how many were
 * renamed, or CT_EMISMATCH if two names become equal. */
CT_API int ct_tdict_rename_prefix(ct_tdict *d, const char *from, const char *to, ct_err *e);
CT_API int ct_tdict_set_meta(ct_tdict *d, const char *key, const char *val, ct_err *e);
CT_API const char *ct_tdict_get_meta(const ct_tdict *d, const char *key);
CT_API const ct_tdict_entry *ct_tdict_find(const ct_tdict *d, const char *name);

/* Converts an entry of any float dtype (F32/F16/BF16/F64) to float32 into dst
 * (numel floats).  Returns CT_EUNSUPPORTED for integer dtypes. */
CT_API int ct_tdict_entry_to_f32(const ct_tdict_entry *t, float *dst, ct_err *e);

#endif
