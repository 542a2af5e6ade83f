#include "params.h"

#include <stdio.h>
#include <string.h>

#define ALIGN_FLOATS 16 /* 64 bytes */

void params_init(params *ps) { memset(ps, 0, sizeof *ps); }

void params_release(params *ps)
{
	free(ps->data);
	free(ps->grad);
	free(ps->v);
	memset(ps, 0, sizeof *ps);
}

int params_add(params *ps, const char *name, int ndim, const int64_t *shape)
{
	CT_ASSERT(!ps->data && ndim >= 1 && ndim <= 2 && strlen(name) < PARAM_NAME_MAX);
	CT_ASSERT(params_find(ps, name) < 0);
	if (ps->nv == ps->cap) {
		int cap = ps->cap ? ps->cap * 2 : 16;
		param_view *v = realloc(ps->v, (size_t)cap * sizeof *v);
		CT_ASSERT(v);
		ps->v = v;
		ps->cap = cap;
	}
	param_view *pv = &ps->v[ps->nv];
	memset(pv, 0, sizeof *pv);
	snprintf(pv->name, sizeof pv->name, "%s", name);
	pv->ndim = ndim;
	pv->numel = 1;
	for (int i = 0; i < ndim; i++) {
		CT_ASSERT(shape[i] > 0);
		pv->shape[i] = shape[i];
		pv->numel *= (size_t)shape[i];
	}
	pv->offset = ps->n;
	ps->n += (pv->numel + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
	return ps->nv++;
}

int params_alloc(params *ps, ct_err *e)
{
	size_t bytes = ps->n * sizeof(float);
	ps->data = ct_aligned_alloc(64, bytes);
	ps->grad = ct_aligned_alloc(64, bytes);
	if (!ps->data || !ps->grad)
		return ct_errf(e, CT_ENOMEM, "out of memory allocating %zu parameters", ps->n);
	memset(ps->data, 0, bytes);
	memset(ps->grad, 0, bytes);
	return 0;
}

int params_find(const params *ps, const char *name)
{
	for (int i = 0; i < ps->nv; i++)
		if (strcmp(ps->v[i].name, name) == 0)
			return i;
	return -1;
}

float *params_data(const params *ps, int idx)
{
	CT_ASSERT(idx >= 0 && idx < ps->nv && ps->data);
	return ps->data + ps->v[idx].offset;
}

float *params_grad(const params *ps, int idx)
{
	CT_ASSERT(idx >= 0 && idx < ps->nv && ps->grad);
	return ps->grad + ps->v[idx].offset;
}

size_t params_count(const params *ps)
{
	size_t n = 0;
	for (int i = 0; i < ps->nv; i++)
		n += ps->v[i].numel;
	return n;
}

int params_to_tdict(const params *ps, tdict *d, ct_err *e)
{
	for (int i = 0; i < ps->nv; i++) {
		const param_view *pv = &ps->v[i];
		int rc = tdict_add(d, pv->name, DT_F32, pv->ndim, pv->shape, params_data(ps, i), 0, e);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Appends ", name" (or "name") to a bounded list string. */
static void list_append(char *list, size_t len, const char *name)
{
	size_t used = strlen(list);
	if (used + 3 >= len)
		return;
	snprintf(list + used, len - used, "%s%s", used ? ", " : "", name);
}

static int shape_matches(const param_view *pv, const tdict_entry *t)
{
	if (t->ndim != pv->ndim)
		return 0;
	for (int i = 0; i < pv->ndim; i++)
		if (t->shape[i] != pv->shape[i])
			return 0;
	return 1;
}

static void shape_str(char *buf, size_t len, int ndim, const int64_t *shape)
{
	size_t used = (size_t)snprintf(buf, len, "[");
	for (int i = 0; i < ndim && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? "," : "",
					 (long long)shape[i]);
	if (used < len)
		snprintf(buf + used, len - used, "]");
}

int params_load_tdict(params *ps, const tdict *d, int strict, char *report, size_t report_len,
		      ct_err *e)
{
	char missing[2048] = "", unexpected[2048] = "", mismatched[2048] = "";
	for (int i = 0; i < ps->nv; i++) {
		const param_view *pv = &ps->v[i];
		const tdict_entry *t = tdict_find(d, pv->name);
		if (!t) {
			list_append(missing, sizeof missing, pv->name);
		} else if (!shape_matches(pv, t)) {
			char want[64], got[160], item[PARAM_NAME_MAX + 256];
			shape_str(want, sizeof want, pv->ndim, pv->shape);
			shape_str(got, sizeof got, t->ndim, t->shape);
			snprintf(item, sizeof item, "%s (file %s, model %s)", pv->name, got, want);
			list_append(mismatched, sizeof mismatched, item);
		} else if (t->dtype != DT_F32 && t->dtype != DT_F16 && t->dtype != DT_BF16 &&
			   t->dtype != DT_F64) {
			char item[PARAM_NAME_MAX + 64];
			snprintf(item, sizeof item, "%s (dtype %s)", pv->name, dtype_name(t->dtype));
			list_append(mismatched, sizeof mismatched, item);
		}
	}
	for (size_t j = 0; j < d->n; j++)
		if (params_find(ps, d->v[j].name) < 0)
			list_append(unexpected, sizeof unexpected, d->v[j].name);
	char summary[6400];
	snprintf(summary, sizeof summary, "missing keys: [%s]; unexpected keys: [%s]; mismatched: [%s]",
		 missing, unexpected, mismatched);
	if (report)
		snprintf(report, report_len, "%s", summary);
	int clean = !missing[0] && !unexpected[0] && !mismatched[0];
	if (strict && !clean)
		return ct_errf(e, CT_EMISMATCH, "state dict does not match the model: %s", summary);
	for (int i = 0; i < ps->nv; i++) {
		const tdict_entry *t = tdict_find(d, ps->v[i].name);
		if (!t || !shape_matches(&ps->v[i], t))
			continue;
		int rc = tdict_entry_to_f32(t, params_data(ps, i), e);
		if (rc < 0 && rc != CT_EUNSUPPORTED)
			return rc;
	}
	return 0;
}
