/* export.h — the trained MLP as a safetensors file PyTorch loads unchanged,
 * and back.
 *
 * Names/shapes are PyTorch's (layers.<i>.weight [out,in], layers.<i>.bias
 * [out]); __metadata__ holds format=pt, layers="784,256,10" and activation, so
 * the model can be rebuilt from the file alone:
 *     model_export(&m, "model.safetensors", DT_F32, &max_err, &e);
 *     mlp m2; model_load_file(&m2, "model.safetensors", 1, &e);
 */
#ifndef CT_EXPORT_H
#define CT_EXPORT_H

#include "../ckpt/tdict.h"
#include "../data/normalize.h"
#include "../nn/mlp.h"

/* Borrowing view: tensors point into m's parameters. */
int model_to_tdict(const mlp *m, tdict *d, ct_err *e);
/* Writes atomically; dt is DT_F32, DT_F16 or DT_BF16; *max_err (may be NULL)
 * gets the largest absolute rounding error of the conversion. */
int model_export(const mlp *m, const char *path, ct_dtype dt, double *max_err, ct_err *e);
/* model_export with the input normalization in __metadata__ (normalize_mean,
 * normalize_std) when ns is not NULL and ns->d > 0. */
int model_export_norm(const mlp *m, const norm_stats *ns, const char *path, ct_dtype dt,
		      double *max_err, ct_err *e);
/* The normalization a tdict's metadata records: ns->d = 0 when it has none;
 * CT_ECORRUPT when it is malformed or not for d features. */
int norm_from_tdict(const tdict *t, int d, norm_stats *ns, const char *name, ct_err *e);
/* Builds an MLP from a tdict's metadata (layers, activation) and loads its
 * weights strictly.  name is used in messages. */
int model_from_tdict(mlp *m, const tdict *d, const char *name, int batch, ct_err *e);

#endif
