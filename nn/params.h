/* params.h — every parameter of a model in one flat float buffer, every
 * gradient in a second one of the same layout, with a table of named views.
 *
 * Calling sequence (as in llm.c):
 *     params ps; params_init(&ps);
 *     int w = params_add(&ps, "layers.0.weight", 2, (int64_t[]){256, 784});
 *     int b = params_add(&ps, "layers.0.bias", 1, (int64_t[]){256});
 *     params_alloc(&ps, &e);                 // one allocation for all views
 *     float *W = params_data(&ps, w), *dW = params_grad(&ps, w);
 *     ...
 *     params_release(&ps);
 * Views are laid out in registration order, each starting on a 64-byte
 * boundary, so optimizers can sweep the whole buffer in one vectorised loop
 * (the padding is kept at zero and never changes).  Names follow PyTorch's
 * state_dict keys, so export and import need no renaming table.
 */
#ifndef CT_PARAMS_H
#define CT_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "../ckpt/tdict.h"
#include "../util/err.h"

#define PARAM_NAME_MAX 128

typedef struct param_view {
	char name[PARAM_NAME_MAX];
	int ndim;
	int64_t shape[2];
	size_t offset; /* in floats, into data/grad */
	size_t numel;
} param_view;

typedef struct params {
	float *data;
	float *grad;
	size_t n; /* floats in each buffer, including alignment padding */
	param_view *v;
	int nv;
	size_t cap;
} params;

void params_init(params *ps);
void params_release(params *ps);
/* Registers a view (before params_alloc).  Returns its index. */
int params_add(params *ps, const char *name, int ndim, const int64_t *shape);
int params_alloc(params *ps, ct_err *e);
int params_find(const params *ps, const char *name);
float *params_data(const params *ps, int idx);
float *params_grad(const params *ps, int idx);
size_t params_count(const params *ps); /* real parameters, without padding */

/* Borrowing view of the parameters as F32 tensors (for export/checkpoint). */
int params_to_tdict(const params *ps, tdict *d, ct_err *e);

/* What did not match in a load, as lists of names (PyTorch's missing_keys and
 * unexpected_keys, plus keys whose shape or dtype does not fit the model).
 * Each list and name is malloc'ed; load_report_release frees them. */
typedef struct load_report {
	char **missing, **unexpected, **mismatched;
	size_t n_missing, n_unexpected, n_mismatched;
} load_report;

void load_report_release(load_report *r);
/* "missing keys: [a, b]; unexpected keys: []; mismatched: [w (file [3,2], model [2,3])]" */
void load_report_format(const load_report *r, const params *ps, const tdict *d, char *buf,
			size_t len);

/* Loads tensors by name.  Strict: any missing, unexpected or shape-mismatched
 * key is an error that lists all of them (CT_EMISMATCH) and nothing is
 * loaded.  Non-strict: loads what matches.  Either way r (may be NULL;
 * release it) receives the lists.  Float dtypes other than F32 are converted. */
int params_load(params *ps, const tdict *d, int strict, load_report *r, ct_err *e);
/* The same with the lists as one line of text in report (may be NULL). */
int params_load_tdict(params *ps, const tdict *d, int strict, char *report, size_t report_len,
		      ct_err *e);

#endif
