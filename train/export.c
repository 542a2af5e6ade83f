#include "export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ckpt/safetensors.h"
#include "../util/log.h"

int model_to_tdict(const mlp *m, tdict *d, ct_err *e)
{
	char layers[512];
	mlp_layers_string(m, layers, sizeof layers);
	int rc = tdict_set_meta(d, "format", "pt", e);
	if (rc == 0)
		rc = tdict_set_meta(d, "layers", layers, e);
	if (rc == 0)
		rc = tdict_set_meta(d, "activation", act_name(m->act), e);
	if (rc == 0)
		rc = params_to_tdict(&m->ps, d, e);
	return rc;
}

static int norm_to_tdict(const norm_stats *ns, tdict *d, ct_err *e)
{
	size_t cap = 20 * (size_t)ns->d + 1;
	char *buf = malloc(cap);
	if (!buf)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	norm_format(ns->mean, ns->d, buf, cap);
	int rc = tdict_set_meta(d, "normalize_mean", buf, e);
	norm_format(ns->std, ns->d, buf, cap);
	if (rc == 0)
		rc = tdict_set_meta(d, "normalize_std", buf, e);
	free(buf);
	return rc;
}

int norm_from_tdict(const tdict *t, int d, norm_stats *ns, const char *name, ct_err *e)
{
	memset(ns, 0, sizeof *ns);
	const char *mean = tdict_get_meta(t, "normalize_mean");
	const char *sd = tdict_get_meta(t, "normalize_std");
	if (!mean && !sd)
		return 0;
	if (!mean || !sd)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: __metadata__ has only one of normalize_mean and normalize_std",
			       name);
	char what[600];
	int rc = norm_alloc(ns, d, e);
	snprintf(what, sizeof what, "%s: __metadata__ normalize_mean", name);
	if (rc == 0)
		rc = norm_parse(mean, d, 0, ns->mean, what, e);
	snprintf(what, sizeof what, "%s: __metadata__ normalize_std", name);
	if (rc == 0)
		rc = norm_parse(sd, d, 1, ns->std, what, e);
	if (rc < 0)
		norm_release(ns);
	return rc;
}

int model_export(const mlp *m, const char *path, ct_dtype dt, double *max_err, ct_err *e)
{
	return model_export_norm(m, NULL, path, dt, max_err, e);
}

int model_export_norm(const mlp *m, const norm_stats *ns, const char *path, ct_dtype dt,
		      double *max_err, ct_err *e)
{
	tdict src, conv;
	tdict_init(&src);
	tdict_init(&conv);
	int rc = model_to_tdict(m, &src, e);
	if (rc == 0 && ns && ns->d > 0)
		rc = norm_to_tdict(ns, &src, e);
	const tdict *out = &src;
	if (rc == 0 && dt != DT_F32) {
		rc = st_convert_dtype(&src, dt, &conv, max_err, e);
		out = &conv;
	} else if (max_err) {
		*max_err = 0.0;
	}
	if (rc == 0)
		rc = st_write(path, out, e);
	tdict_release(&conv);
	tdict_release(&src);
	return rc;
}

/* Parses "784,256,10" into sizes; returns the count or -1. */
static int parse_layers(const char *s, int *sizes, int max)
{
	int n = 0;
	while (*s) {
		char *end;
		long v = strtol(s, &end, 10);
		if (end == s || v <= 0 || v > (1 << 24) || n == max)
			return -1;
		sizes[n++] = (int)v;
		s = end;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return n >= 2 ? n : -1;
}

/* A state dict written by PyTorch has no ctrain metadata: the sizes follow
 * from layers.<i>.weight shapes [out, in] when they chain.  Returns the count
 * or -1. */
static int infer_layers(const tdict *d, int *sizes, int max)
{
	int n = 0;
	for (int i = 0; i + 1 < max; i++) {
		char key[64];
		snprintf(key, sizeof key, "layers.%d.weight", i);
		const tdict_entry *t = tdict_find(d, key);
		if (!t)
			break;
		if (t->ndim != 2 || t->shape[0] <= 0 || t->shape[1] <= 0 ||
		    t->shape[0] > (1 << 24) || t->shape[1] > (1 << 24) ||
		    (n > 0 && sizes[n - 1] != t->shape[1]))
			return -1;
		if (n == 0)
			sizes[n++] = (int)t->shape[1];
		sizes[n++] = (int)t->shape[0];
	}
	return n >= 2 ? n : -1;
}

int model_from_tdict(mlp *m, const tdict *d, const char *name, int batch, ct_err *e)
{
	const char *layers = tdict_get_meta(d, "layers");
	const char *act = tdict_get_meta(d, "activation");
	int sizes[MLP_MAX_LAYERS];
	int n = layers ? parse_layers(layers, sizes, MLP_MAX_LAYERS)
		       : infer_layers(d, sizes, MLP_MAX_LAYERS);
	if (!layers && n > 0 && !act) {
		log_warn("%s has no ctrain metadata: layer sizes taken from the layers.<i>.weight "
			 "shapes, activation assumed relu",
			 name);
		act = "relu";
	}
	if (n < 0)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: no valid 'layers' in __metadata__ (e.g. \"784,256,10\") and no "
			       "chain of layers.<i>.weight [out, in] tensors to infer it from",
			       name);
	int kind = act ? act_from_name(act) : -1;
	if (kind < 0)
		return ct_errf(e, CT_ECORRUPT, "%s: __metadata__ 'activation' is %s%s%s", name,
			       act ? "'" : "missing", act ? act : "",
			       act ? "', not relu|tanh|sigmoid|gelu" : "");
	int rc = mlp_init(m, sizes, n, kind, 0.0f, batch, e);
	if (rc < 0)
		return rc;
	rc = params_load_tdict(&m->ps, d, 1, NULL, 0, e);
	if (rc < 0) {
		mlp_release(m);
		return ct_err_prefix(e, "%s", name);
	}
	return 0;
}
