#include "export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ckpt/safetensors.h"

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

int model_export(const mlp *m, const char *path, ct_dtype dt, double *max_err, ct_err *e)
{
	tdict src, conv;
	tdict_init(&src);
	tdict_init(&conv);
	int rc = model_to_tdict(m, &src, e);
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

int model_from_tdict(mlp *m, const tdict *d, const char *name, int batch, ct_err *e)
{
	const char *layers = tdict_get_meta(d, "layers");
	const char *act = tdict_get_meta(d, "activation");
	int sizes[MLP_MAX_LAYERS];
	int n = layers ? parse_layers(layers, sizes, MLP_MAX_LAYERS) : -1;
	if (n < 0)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: __metadata__ has no valid 'layers' entry (e.g. \"784,256,10\"); "
			       "it was not written by ctrain export",
			       name);
	int kind = act ? act_from_name(act) : -1;
	if (kind < 0)
		return ct_errf(e, CT_ECORRUPT, "%s: __metadata__ 'activation' is %s%s%s", name,
			       act ? "'" : "missing", act ? act : "", act ? "', not relu|tanh|sigmoid|gelu" : "");
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
