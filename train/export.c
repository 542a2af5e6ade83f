#include "export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../formats/safetensors.h"
#include "../util/log.h"

int ct_model_to_tdict(const ct_mlp *m, ct_tdict *d, ct_err *e)
{
	char layers[512];
	ct_mlp_layers_string(m, layers, sizeof layers);
	int rc = ct_tdict_set_meta(d, "format", "pt", e);
	if (rc == 0)
		rc = ct_tdict_set_meta(d, "layers", layers, e);
	if (rc == 0)
		rc = ct_tdict_set_meta(d, "activation", ct_act_name(m->act), e);
	if (rc == 0)
		rc = ct_params_to_tdict(&m->ps, d, e);
	return rc;
}

static int norm_to_tdict(const ct_norm_stats *ns, ct_tdict *d, ct_err *e)
{
	size_t cap = 20 * (size_t)ns->d + 1;
	char *buf = malloc(cap);
	if (!buf)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	ct_norm_format(ns->mean, ns->d, buf, cap);
	int rc = ct_tdict_set_meta(d, "normalize_mean", buf, e);
	ct_norm_format(ns->std, ns->d, buf, cap);
	if (rc == 0)
		rc = ct_tdict_set_meta(d, "normalize_std", buf, e);
	free(buf);
	return rc;
}

int ct_norm_from_tdict(const ct_tdict *t, int d, ct_norm_stats *ns, const char *name, ct_err *e)
{
	memset(ns, 0, sizeof *ns);
	const char *mean = ct_tdict_get_meta(t, "normalize_mean");
	const char *sd = ct_tdict_get_meta(t, "normalize_std");
	if (!mean && !sd)
		return 0;
	if (!mean || !sd)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: __metadata__ has only one of normalize_mean and normalize_std",
			       name);
	char what[600];
	int rc = ct_norm_alloc(ns, d, e);
	snprintf(what, sizeof what, "%s: __metadata__ normalize_mean", name);
	if (rc == 0)
		rc = ct_norm_parse(mean, d, 0, ns->mean, what, e);
	snprintf(what, sizeof what, "%s: __metadata__ normalize_std", name);
	if (rc == 0)
		rc = ct_norm_parse(sd, d, 1, ns->std, what, e);
	if (rc < 0)
		ct_norm_release(ns);
	return rc;
}

int ct_model_export(const ct_mlp *m, const char *path, ct_dtype dt, double *max_err, ct_err *e)
{
	return ct_model_export_norm(m, NULL, path, dt, max_err, e);
}

int ct_model_export_norm(const ct_mlp *m, const ct_norm_stats *ns, const char *path, ct_dtype dt,
			 double *max_err, ct_err *e)
{
	ct_tdict src, conv;
	ct_tdict_init(&src);
	ct_tdict_init(&conv);
	int rc = ct_model_to_tdict(m, &src, e);
	if (rc == 0 && ns && ns->d > 0)
		rc = norm_to_tdict(ns, &src, e);
	const ct_tdict *out = &src;
	if (rc == 0 && dt != CT_DT_F32) {
		rc = ct_st_convert_dtype(&src, dt, &conv, max_err, e);
		out = &conv;
	} else if (max_err) {
		*max_err = 0.0;
	}
	if (rc == 0)
		rc = ct_st_write(path, out, e);
	ct_tdict_release(&conv);
	ct_tdict_release(&src);
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
static int infer_layers(const ct_tdict *d, int *sizes, int max)
{
	int n = 0;
	for (int i = 0; i + 1 < max; i++) {
		char key[64];
		snprintf(key, sizeof key, "layers.%d.weight", i);
		const ct_tdict_entry *t = ct_tdict_find(d, key);
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

int ct_model_from_tdict(ct_mlp *m, const ct_tdict *d, const char *name, int batch, ct_err *e)
{
	const char *layers = ct_tdict_get_meta(d, "layers");
	const char *act = ct_tdict_get_meta(d, "activation");
	int sizes[CT_MLP_MAX_LAYERS];
	int n = layers ? parse_layers(layers, sizes, CT_MLP_MAX_LAYERS)
		       : infer_layers(d, sizes, CT_MLP_MAX_LAYERS);
	if (!layers && n > 0 && !act) {
		ct_log_warn(
			"%s has no ctrain metadata: layer sizes taken from the layers.<i>.weight "
			"shapes, activation assumed relu",
			name);
		act = "relu";
	}
	if (n < 0)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: no valid 'layers' in __metadata__ (e.g. \"784,256,10\") and no "
			       "chain of layers.<i>.weight [out, in] tensors to infer it from",
			       name);
	int kind = act ? ct_act_from_name(act) : -1;
	if (kind < 0)
		return ct_errf(e, CT_ECORRUPT, "%s: __metadata__ 'activation' is %s%s%s", name,
			       act ? "'" : "missing", act ? act : "",
			       act ? "', not relu|tanh|sigmoid|gelu" : "");
	int rc = ct_mlp_init(m, sizes, n, kind, 0.0f, batch, e);
	if (rc < 0)
		return rc;
	rc = ct_params_load_tdict(&m->ps, d, 1, NULL, 0, e);
	if (rc < 0) {
		ct_mlp_release(m);
		return ct_err_prefix(e, "%s", name);
	}
	return 0;
}
