/* export.h — the trained MLP as a safetensors file PyTorch loads unchanged,
 * and back.
 *
 * Names/shapes are PyTorch's (layers.<i>.weight [out,in], layers.<i>.bias
 * [out]); __metadata__ holds format=pt, layers="784,256,10" and activation, so
 * the model can be rebuilt from the file alone:
 *     ct_model_export(&m, "model.safetensors", CT_DT_F32, &max_err, &e);
 *     ct_mlp m2; model_load_file(&m2, "model.safetensors", 1, &e);
 */
#ifndef CT_EXPORT_H
#define CT_EXPORT_H

#include "../util/api.h"
#include "../formats/tdict.h"
#include "../data/normalize.h"
#include "../nn/mlp.h"

/* Borrowing view: tensors point into m's parameters. */
CT_API int ct_model_to_tdict(const ct_mlp *m, ct_tdict *d, ct_err *e);
/* Writes atomically; dt is CT_DT_F32, CT_DT_F16 or CT_DT_BF16; *max_err (may be NULL)
 * gets the largest absolute rounding error of the conversion. */
CT_API int ct_model_export(const ct_mlp *m, const char *path, ct_dtype dt, double *max_err,
			   ct_err *e);
/* ct_model_export with the input normalization in __metadata__ (normalize_mean,
 * normalize_std) when ns is not NULL and ns->d > 0. */
CT_API int ct_model_export_norm(const ct_mlp *m, const ct_norm_stats *ns, const char *path,
				ct_dtype dt, double *max_err, ct_err *e);
/* The normalization a tdict's metadata records: ns->d = 0 when it has none;
 * CT_ECORRUPT when it is malformed or not for d features. */
CT_API int ct_norm_from_tdict(const ct_tdict *t, int d, ct_norm_stats *ns, const char *name,
			      ct_err *e);
/* Builds an MLP from a tdict's metadata (layers, activation) and loads its
 * weights strictly.  name is used in messages. */
CT_API int ct_model_from_tdict(ct_mlp *m, const ct_tdict *d, const char *name, int batch,
			       ct_err *e);

#endif
