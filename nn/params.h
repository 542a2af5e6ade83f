/* params.h — every parameter of a model in one flat float buffer, every
 * gradient in a second one of the same layout, with a table of named views.
 *
 * Calling sequence (as in llm.c):
 *     ct_params ps; ct_params_init(&ps);
 *     int w = ct_params_add(&ps, "layers.0.weight", 2, (int64_t[]){256, 784});
 *     int b = ct_params_add(&ps, "layers.0.bias", 1, (int64_t[]){256});
 *     ct_params_alloc(&ps, &e);                 // one allocation for all views
 *     float *W = ct_params_data(&ps, w), *dW = ct_params_grad(&ps, w);
 *     ...
 *     ct_params_release(&ps);
 * Views are laid out in registration order, each starting on a 64-byte
 * boundary, so optimizers can sweep the whole buffer in one vectorised loop
 * (the padding is kept at zero and never changes).  Names follow PyTorch's
 * state_dict keys, so export and import need no renaming table.
 */
#ifndef CT_PARAMS_H
#define CT_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "../util/api.h"
#include "../formats/tdict.h"
#include "../util/err.h"

#define CT_PARAM_NAME_MAX 128

typedef struct ct_param_view {
	char name[CT_PARAM_NAME_MAX];
	int ndim;
	int64_t shape[2];
	size_t offset; /* in floats, into data/grad */
	size_t numel;
} ct_param_view;

typedef struct ct_params {
	float *data;
	float *grad;
	size_t n; /* floats in each buffer, including alignment padding */
	ct_param_view *v;
	int nv;
	size_t cap;
} ct_params;

CT_API void ct_params_init(ct_params *ps);
CT_API void ct_params_release(ct_params *ps);
/* Registers a view (before ct_params_alloc).  Returns its index. */
CT_API int ct_params_add(ct_params *ps, const char *name, int ndim, const int64_t *shape);
CT_API int ct_params_alloc(ct_params *ps, ct_err *e);
CT_API int ct_params_find(const ct_params *ps, const char *name);
CT_API float *ct_params_data(const ct_params *ps, int idx);
CT_API float *ct_params_grad(const ct_params *ps, int idx);
CT_API size_t ct_params_count(const ct_params *ps); /* real parameters, without padding */

/* Borrowing view of the parameters as F32 tensors (for export/checkpoint). */
CT_API int ct_params_to_tdict(const ct_params *ps, ct_tdict *d, ct_err *e);

/* What did not match in a load, as lists of names (PyTorch's missing_keys and
 * unexpected_keys, plus keys whose shape or dtype does not fit the model).
 * Each list and name is malloc'ed; ct_load_report_release frees them. */
typedef struct ct_load_report {
	char **missing, **unexpected, **mismatched;
	size_t n_missing, n_unexpected, n_mismatched;
} ct_load_report;

CT_API void ct_load_report_release(ct_load_report *r);
/* "missing keys: [a, b]; unexpected keys: []; mismatched: [w (file [3,2], model [2,3])]" */
CT_API void ct_load_report_format(const ct_load_report *r, const ct_params *ps, const ct_tdict *d,
				  char *buf, size_t len);

/* Loads tensors by name.  Strict: any missing, unexpected or shape-mismatched
 * key is an error that lists all of them (CT_EMISMATCH) and nothing is
 * loaded.  Non-strict: loads what matches.  Either way r (may be NULL;
 * release it) receives the lists.  Float dtypes other than F32 are converted. */
CT_API int ct_params_load(ct_params *ps, const ct_tdict *d, int strict, ct_load_report *r,
			  ct_err *e);
/* The same with the lists as one line of text in report (may be NULL). */
CT_API int ct_params_load_tdict(ct_params *ps, const ct_tdict *d, int strict, char *report,
				size_t report_len, ct_err *e);

#endif
