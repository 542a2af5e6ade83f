#include "module.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../formats/safetensors.h"

/* One path segment: the characters PyTorch attribute names and indices use. */
static int valid_segment(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z')))
			return 0;
	return 1;
}

ct_module ct_module_root(ct_params *ps)
{
	ct_module m;
	memset(&m, 0, sizeof m);
	m.ps = ps;
	return m;
}

void ct_module_key(const ct_module *m, const char *name, char *buf, size_t len)
{
	CT_ASSERT(valid_segment(name));
	int n = snprintf(buf, len, "%s%s%s", m->prefix, m->prefix[0] ? "." : "", name);
	CT_ASSERT(n > 0 && (size_t)n < len && n < CT_PARAM_NAME_MAX);
}

ct_module ct_module_child(const ct_module *parent, const char *name)
{
	ct_module c = ct_module_root(parent->ps);
	ct_module_key(parent, name, c.prefix, sizeof c.prefix);
	return c;
}

ct_module ct_module_item(const ct_module *parent, int i)
{
	CT_ASSERT(i >= 0);
	char name[16];
	snprintf(name, sizeof name, "%d", i);
	return ct_module_child(parent, name);
}

int ct_module_param(const ct_module *m, const char *name, int ndim, const int64_t *shape)
{
	char key[CT_PARAM_NAME_MAX];
	ct_module_key(m, name, key, sizeof key);
	return ct_params_add(m->ps, key, ndim, shape);
}

int ct_module_find(const ct_module *m, const char *name)
{
	char key[CT_PARAM_NAME_MAX];
	ct_module_key(m, name, key, sizeof key);
	return ct_params_find(m->ps, key);
}

ct_linear_layer ct_module_linear(const ct_module *m, const char *name, int in, int out, int bias)
{
	CT_ASSERT(in > 0 && out > 0);
	ct_module lm = ct_module_child(m, name);
	ct_linear_layer l = {.in = in, .out = out, .bias = -1};
	l.weight = ct_module_param(&lm, "weight", 2, (int64_t[]){out, in});
	if (bias)
		l.bias = ct_module_param(&lm, "bias", 1, (int64_t[]){out});
	return l;
}

static void fill_uniform(float *p, size_t n, float bound, ct_rng *r)
{
	for (size_t k = 0; k < n; k++)
		p[k] = (2.0f * ct_rng_float(r) - 1.0f) * bound;
}

void ct_linear_init(const ct_params *ps, const ct_linear_layer *l, ct_rng *r)
{
	/* kaiming_uniform_(a=√5) on the weight works out to U(±1/√fan_in), the
	 * same bound nn.Linear uses for the bias. */
	float bound = 1.0f / sqrtf((float)l->in);
	fill_uniform(ct_params_data(ps, l->weight), ps->v[l->weight].numel, bound, r);
	if (l->bias >= 0)
		fill_uniform(ct_params_data(ps, l->bias), ps->v[l->bias].numel, bound, r);
}

static int add_meta(ct_tdict *d, const char *const *meta, ct_err *e)
{
	int has_format = 0;
	for (size_t i = 0; meta && meta[i]; i += 2) {
		CT_ASSERT(meta[i + 1]);
		has_format |= strcmp(meta[i], "format") == 0;
	}
	int rc = has_format ? 0 : ct_tdict_set_meta(d, "format", "pt", e);
	for (size_t i = 0; rc == 0 && meta && meta[i]; i += 2)
		rc = ct_tdict_set_meta(d, meta[i], meta[i + 1], e);
	return rc;
}

int ct_state_dict_save(const char *path, const ct_params *ps, const char *const *meta, ct_err *e)
{
	ct_tdict d;
	ct_tdict_init(&d);
	int rc = add_meta(&d, meta, e);
	if (rc == 0)
		rc = ct_params_to_tdict(ps, &d, e);
	if (rc == 0)
		rc = ct_st_write(path, &d, e);
	else
		ct_err_prefix(e, "%s", path);
	ct_tdict_release(&d);
	return rc;
}

int ct_state_dict_load(const char *path, ct_params *ps, int strict, ct_load_report *r, ct_err *e)
{
	if (r)
		memset(r, 0, sizeof *r);
	ct_tdict d;
	int rc = ct_st_read(path, &d, e);
	if (rc < 0)
		return rc;
	rc = ct_params_load(ps, &d, strict, r, e);
	if (rc < 0)
		ct_err_prefix(e, "%s", path);
	ct_tdict_release(&d);
	return rc;
}
