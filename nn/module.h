/* module.h — names for the parameters of any model, taken from a tree of
 * named modules as in PyTorch, so state-dict keys read "encoder.0.weight" or
 * "head.bias" whatever the model's shape; and a params store saved to or
 * loaded from a safetensors state dict.
 *
 * A module is only a name prefix into a params store (no allocation, no
 * release): children extend the prefix, parameters are registered under it.
 *
 *     ct_params ps; ct_params_init(&ps);
 *     ct_module root = ct_module_root(&ps);
 *     ct_module enc = ct_module_child(&root, "encoder");
 *     ct_linear_layer l0 = ct_module_linear(&enc, "0", 784, 256, 1);   // encoder.0.weight [256,784]
 *     ct_linear_layer l1 = ct_module_linear(&enc, "1", 256, 256, 1);   // encoder.0.bias [256], ...
 *     ct_linear_layer head = ct_module_linear(&root, "head", 256, 10, 1); // head.weight, head.bias
 *     ct_params_alloc(&ps, &e);
 *     ct_rng r; ct_rng_seed(&r, seed, CT_RNG_STREAM_INIT);
 *     ct_linear_init(&ps, &l0, &r); ct_linear_init(&ps, &l1, &r); ct_linear_init(&ps, &head, &r);
 *     int h = ct_graph_linear(g, x, l0.weight, l0.bias);              // nn/graph.h
 *     ...
 *     ct_state_dict_save("model.safetensors", &ps, (const char *[]){"arch", "resmlp", NULL}, &e);
 *     ct_state_dict_load("model.safetensors", &ps, 1, NULL, &e);     // strict
 *
 * Names are programming decisions, so a bad one (empty, not [A-Za-z0-9_],
 * too long for CT_PARAM_NAME_MAX, or registered twice) is a CT_ASSERT.
 * Parameters must all be registered before ct_params_alloc.
 */
#ifndef CT_MODULE_H
#define CT_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "../util/api.h"
#include "../util/err.h"
#include "params.h"
#include "../util/rng.h"

typedef struct ct_module {
	ct_params *ps;
	char prefix[CT_PARAM_NAME_MAX]; /* "" for the root, else "encoder.0" */
} ct_module;

/* A linear layer's parameters: indices into the params store. */
typedef struct ct_linear_layer {
	int weight; /* [out, in] */
	int bias;   /* [out], or -1 without bias */
	int in, out;
} ct_linear_layer;

CT_API ct_module ct_module_root(ct_params *ps);
CT_API ct_module ct_module_child(const ct_module *parent, const char *name);
/* The i-th child, named "i" (nn.Sequential and nn.ModuleList spelling). */
CT_API ct_module ct_module_item(const ct_module *parent, int i);
/* Full key of name under m ("encoder.0" + "weight" -> "encoder.0.weight"). */
CT_API void ct_module_key(const ct_module *m, const char *name, char *buf, size_t len);

/* Registers the parameter "<prefix>.<name>"; returns its index. */
CT_API int ct_module_param(const ct_module *m, const char *name, int ndim, const int64_t *shape);
/* Index of "<prefix>.<name>", or -1. */
CT_API int ct_module_find(const ct_module *m, const char *name);

/* Registers "<prefix>.<name>.weight" [out, in] and, if bias, ".bias" [out]. */
CT_API ct_linear_layer ct_module_linear(const ct_module *m, const char *name, int in, int out,
					int bias);
/* PyTorch's nn.Linear initialisation: weight then bias, each U(±1/√in). */
CT_API void ct_linear_init(const ct_params *ps, const ct_linear_layer *l, ct_rng *r);

/* Writes every parameter as F32 to a safetensors file (atomically), with
 * __metadata__ "format": "pt" followed by the key/value pairs of meta (a
 * NULL-terminated array of alternating keys and values; may be NULL). */
CT_API int ct_state_dict_save(const char *path, const ct_params *ps, const char *const *meta,
			      ct_err *e);
/* Loads a safetensors state dict into ps by name (ct_params_load): strict
 * rejects any missing, unexpected or mismatched key (CT_EMISMATCH listing
 * them all, nothing loaded); non-strict loads what matches.  r (may be NULL)
 * receives the lists; release it with ct_load_report_release. */
CT_API int ct_state_dict_load(const char *path, ct_params *ps, int strict, ct_load_report *r,
			      ct_err *e);

#endif
