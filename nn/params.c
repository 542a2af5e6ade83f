#include "params.h"
#include "../util/util.h"

#include <stdio.h>
#include <string.h>

#define ALIGN_FLOATS 16 /* 64 bytes */

void ct_params_init(ct_params *ps) { memset(ps, 0, sizeof *ps); }

void ct_params_release(ct_params *ps)
{
	free(ps->data);
	free(ps->grad);
	free(ps->v);
	memset(ps, 0, sizeof *ps);
}

int ct_params_add(ct_params *ps, const char *name, int ndim, const int64_t *shape)
{
	CT_ASSERT(!ps->data && ndim >= 1 && ndim <= 2 && strlen(name) < CT_PARAM_NAME_MAX);
	CT_ASSERT(ct_params_find(ps, name) < 0);
	int grown = ct_grow(&ps->v, &ps->cap, (size_t)ps->nv + 1, sizeof *ps->v, 16);
	CT_ASSERT(grown == 0);
	ct_param_view *pv = &ps->v[ps->nv];
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

int ct_params_alloc(ct_params *ps, ct_err *e)
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

int ct_params_find(const ct_params *ps, const char *name)
{
	for (int i = 0; i < ps->nv; i++)
		if (strcmp(ps->v[i].name, name) == 0)
			return i;
	return -1;
}

float *ct_params_data(const ct_params *ps, int idx)
{
	CT_ASSERT(idx >= 0 && idx < ps->nv && ps->data);
	return ps->data + ps->v[idx].offset;
}

float *ct_params_grad(const ct_params *ps, int idx)
{
	CT_ASSERT(idx >= 0 && idx < ps->nv && ps->grad);
	return ps->grad + ps->v[idx].offset;
}

size_t ct_params_count(const ct_params *ps)
{
	size_t n = 0;
	for (int i = 0; i < ps->nv; i++)
		n += ps->v[i].numel;
	return n;
}

int ct_params_to_tdict(const ct_params *ps, ct_tdict *d, ct_err *e)
{
	for (int i = 0; i < ps->nv; i++) {
		const ct_param_view *pv = &ps->v[i];
		int rc = ct_tdict_add(d, pv->name, CT_DT_F32, pv->ndim, pv->shape,
				      ct_params_data(ps, i), 0, e);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int shape_matches(const ct_param_view *pv, const ct_tdict_entry *t)
{
	if (t->ndim != pv->ndim)
		return 0;
	for (int i = 0; i < pv->ndim; i++)
		if (t->shape[i] != pv->shape[i])
			return 0;
	return 1;
}

static int dtype_loadable(const ct_tdict_entry *t)
{
	return t->dtype == CT_DT_F32 || t->dtype == CT_DT_F16 || t->dtype == CT_DT_BF16 ||
	       t->dtype == CT_DT_F64;
}

void ct_load_report_release(ct_load_report *r)
{
	char **lists[] = {r->missing, r->unexpected, r->mismatched};
	const size_t counts[] = {r->n_missing, r->n_unexpected, r->n_mismatched};
	for (int l = 0; l < 3; l++) {
		for (size_t i = 0; i < counts[l]; i++)
			free(lists[l][i]);
		free(lists[l]);
	}
	memset(r, 0, sizeof *r);
}

static int list_push(char ***list, size_t *n, const char *name)
{
	char **v = realloc(*list, (*n + 1) * sizeof *v);
	if (!v)
		return -1;
	*list = v;
	if (!(v[*n] = strdup(name)))
		return -1;
	(*n)++;
	return 0;
}

/* Fills r with the three lists; CT_ENOMEM if a list cannot grow. */
static int compare_keys(const ct_params *ps, const ct_tdict *d, ct_load_report *r, ct_err *e)
{
	memset(r, 0, sizeof *r);
	int bad = 0;
	for (int i = 0; i < ps->nv && !bad; i++) {
		const ct_tdict_entry *t = ct_tdict_find(d, ps->v[i].name);
		if (!t)
			bad = list_push(&r->missing, &r->n_missing, ps->v[i].name);
		else if (!shape_matches(&ps->v[i], t) || !dtype_loadable(t))
			bad = list_push(&r->mismatched, &r->n_mismatched, ps->v[i].name);
	}
	for (size_t j = 0; j < d->n && !bad; j++)
		if (ct_params_find(ps, d->v[j].name) < 0)
			bad = list_push(&r->unexpected, &r->n_unexpected, d->v[j].name);
	if (bad) {
		ct_load_report_release(r);
		return ct_errf(e, CT_ENOMEM, "out of memory comparing state dict keys");
	}
	return 0;
}

/* Appends ", item" (or "item") to a bounded string. */
static void append(char *buf, size_t len, size_t *used, const char *item)
{
	if (*used < len)
		*used += (size_t)snprintf(buf + *used, len - *used, "%s", item);
}

/* "name (file [3,2], model [2,3])" or "name (dtype I64)" */
static void mismatch_str(char *buf, size_t len, const ct_params *ps, const ct_tdict *d,
			 const char *name)
{
	const ct_param_view *pv = &ps->v[ct_params_find(ps, name)];
	const ct_tdict_entry *t = ct_tdict_find(d, name);
	if (!shape_matches(pv, t)) {
		char want[64], got[160];
		ct_shape_format(want, sizeof want, pv->ndim, pv->shape, ",");
		ct_shape_format(got, sizeof got, t->ndim, t->shape, ",");
		snprintf(buf, len, "%s (file %s, model %s)", name, got, want);
	} else {
		snprintf(buf, len, "%s (dtype %s)", name, ct_dtype_name(t->dtype));
	}
}

void ct_load_report_format(const ct_load_report *r, const ct_params *ps, const ct_tdict *d,
			   char *buf, size_t len)
{
	const char *heads[] = {"missing keys: [", "]; unexpected keys: [", "]; mismatched: ["};
	char **lists[] = {r->missing, r->unexpected, r->mismatched};
	const size_t counts[] = {r->n_missing, r->n_unexpected, r->n_mismatched};
	size_t used = 0;
	buf[0] = '\0';
	for (int l = 0; l < 3; l++) {
		append(buf, len, &used, heads[l]);
		for (size_t i = 0; i < counts[l]; i++) {
			char item[CT_PARAM_NAME_MAX + 256];
			if (l == 2)
				mismatch_str(item, sizeof item, ps, d, lists[l][i]);
			else
				snprintf(item, sizeof item, "%s", lists[l][i]);
			append(buf, len, &used, i ? ", " : "");
			append(buf, len, &used, item);
		}
	}
	append(buf, len, &used, "]");
}

int ct_params_load(ct_params *ps, const ct_tdict *d, int strict, ct_load_report *out, ct_err *e)
{
	if (out)
		memset(out, 0, sizeof *out);
	ct_load_report r;
	int rc = compare_keys(ps, d, &r, e);
	if (rc < 0)
		return rc;
	if (strict && (r.n_missing || r.n_unexpected || r.n_mismatched)) {
		char summary[6400];
		ct_load_report_format(&r, ps, d, summary, sizeof summary);
		rc = ct_errf(e, CT_EMISMATCH, "state dict does not match the model: %s", summary);
	}
	for (int i = 0; rc == 0 && i < ps->nv; i++) {
		const ct_tdict_entry *t = ct_tdict_find(d, ps->v[i].name);
		if (t && shape_matches(&ps->v[i], t) && dtype_loadable(t))
			rc = ct_tdict_entry_to_f32(t, ct_params_data(ps, i), e);
	}
	if (out)
		*out = r;
	else
		ct_load_report_release(&r);
	return rc;
}

int ct_params_load_tdict(ct_params *ps, const ct_tdict *d, int strict, char *report,
			 size_t report_len, ct_err *e)
{
	ct_load_report r;
	int rc = ct_params_load(ps, d, strict, &r, e);
	if (report)
		ct_load_report_format(&r, ps, d, report, report_len);
	ct_load_report_release(&r);
	return rc;
}
