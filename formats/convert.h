/* convert.h — `ctrain convert IN.pth OUT.safetensors`: turn a PyTorch
 * checkpoint into a safetensors file, and prove the result reads back equal.
 *
 *     convert_summary s;
 *     if (convert_pth_to_safetensors("model.pth", "model.safetensors", &s, &e) < 0)
 *             { ct_log_error("%s", e.msg); return e.code; }
 *     ct_log_info("skipped %zu non-tensor entries", s.n_skipped);  // s.skipped[i]
 *     printf("%zu tensors, %zu bytes\n", s.n_tensors, s.n_bytes);
 *     convert_summary_release(&s);
 *
 * The input is read with pth_read_state_dict (state_dict wrappers unwrapped,
 * "module." / "_orig_mod." prefixes stripped; see formats/pth.h), written with
 * ct_st_write (atomic, metadata {"format": "pt"}), then read back with ct_st_read and
 * compared entry by entry: name, dtype, shape and every byte.  A difference is
 * CT_EMISMATCH naming the tensor; the CLI exits 1 on any error.
 */
#ifndef CT_CONVERT_H
#define CT_CONVERT_H

#include <stddef.h>

#include "../util/err.h"

typedef struct convert_summary {
	size_t n_tensors;
	size_t n_bytes; /* tensor data written */
	char **skipped; /* "name (type)" of each non-tensor entry left out */
	size_t n_skipped;
} convert_summary;

/* Fills *s on success (release it with convert_summary_release).  On failure
 * *s is empty, and out is untouched if the input could not be read or written
 * (ct_st_write is atomic) or removed if it was written but failed the check.
 * A file without any tensor is CT_EUNSUPPORTED. */
int convert_pth_to_safetensors(const char *in, const char *out, convert_summary *s, ct_err *e);
void convert_summary_release(convert_summary *s);
/* The same with map applied to the state dict before it is written (e.g.
 * renaming keys); a map failure fails the conversion. */
struct ct_tdict;
typedef int (*convert_map_fn)(struct ct_tdict *d, void *ctx, ct_err *e);
int convert_pth_to_safetensors_map(const char *in, const char *out, convert_map_fn map, void *ctx,
				   convert_summary *s, ct_err *e);

#endif
