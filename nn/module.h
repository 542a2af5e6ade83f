/* module.h — names for the parameters of any model, taken from a tree of
 * named modules as in PyTorch, so state-dict keys read "encoder.0.weight" or
 * "head.bias" whatever the model's shape; and a params store saved to or
 * loaded from a safetensors state dict.
 *
 * A module is only a name prefix into a params store (no allocation, no
 * release): children extend the prefix, parameters are registered under it.
 *
 *     params ps; params_init(&ps);
 *     module root = module_root(&ps);
 *     module enc = module_child(&root, "encoder");
 *     linear_layer l0 = module_linear(&enc, "0", 784, 256, 1);   // encoder.0.weight [256,784]
 *     linear_layer l1 = module_linear(&enc, "1", 256, 256, 1);   // encoder.0.bias [256], ...
 *     linear_layer head = module_linear(&root, "head", 256, 10, 1); // head.weight, head.bias
 *     params_alloc(&ps, &e);
 *     rng r; rng_seed(&r, seed, RNG_STREAM_INIT);
 *     linear_init(&ps, &l0, &r); linear_init(&ps, &l1, &r); linear_init(&ps, &head, &r);
 *     int h = graph_linear(g, x, l0.weight, l0.bias);              // nn/graph.h
 *     ...
 *     state_dict_save("model.safetensors", &ps, (const char *[]){"arch", "resmlp", NULL}, &e);
 *     state_dict_load("model.safetensors", &ps, 1, NULL, &e);     // strict
 *
 * Names are programming decisions, so a bad one (empty, not [A-Za-z0-9_],
 * too long for PARAM_NAME_MAX, or registered twice) is a CT_ASSERT.
 * Parameters must all be registered before params_alloc.
 */
#ifndef CT_MODULE_H
#define CT_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"
#include "params.h"
#include "rng.h"

typedef struct module {
	params *ps;
	char prefix[PARAM_NAME_MAX]; /* "" for the root, else "encoder.0" */
} module;

/* A linear layer's parameters: indices into the params store. */
typedef struct linear_layer {
	int weight; /* [out, in] */
	int bias;   /* [out], or -1 without bias */
	int in, out;
} linear_layer;

module module_root(params *ps);
module module_child(const module *parent, const char *name);
/* The i-th child, named "i" (nn.Sequential and nn.ModuleList spelling). */
module module_item(const module *parent, int i);
/* Full key of name under m ("encoder.0" + "weight" -> "encoder.0.weight"). */
void module_key(const module *m, const char *name, char *buf, size_t len);

/* Registers the parameter "<prefix>.<name>"; returns its index. */
int module_param(const module *m, const char *name, int ndim, const int64_t *shape);
/* Index of "<prefix>.<name>", or -1. */
int module_find(const module *m, const char *name);

/* Registers "<prefix>.<name>.weight" [out, in] and, if bias, ".bias" [out]. */
linear_layer module_linear(const module *m, const char *name, int in, int out, int bias);
/* PyTorch's nn.Linear initialisation: weight then bias, each U(±1/√in). */
void linear_init(const params *ps, const linear_layer *l, rng *r);

/* Writes every parameter as F32 to a safetensors file (atomically), with
 * __metadata__ "format": "pt" followed by the key/value pairs of meta (a
 * NULL-terminated array of alternating keys and values; may be NULL). */
int state_dict_save(const char *path, const params *ps, const char *const *meta, ct_err *e);
/* Loads a safetensors state dict into ps by name (params_load): strict
 * rejects any missing, unexpected or mismatched key (CT_EMISMATCH listing
 * them all, nothing loaded); non-strict loads what matches.  r (may be NULL)
 * receives the lists; release it with load_report_release. */
int state_dict_load(const char *path, params *ps, int strict, load_report *r, ct_err *e);

#endif
