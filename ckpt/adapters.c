/* adapters.c — the fields of the library's own objects (parameters,
 * optimizer, loader, rng, best tracker) for a checkpoint table; declared in
 * fields.h. */
#include "fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"

int ct_ckpt_fields_add_params(ct_ckpt_fields *f, const char *group, const ct_params *ps,
			      float *base, ct_err *e)
{
	for (int i = 0; i < ps->nv; i++) {
		const ct_param_view *pv = &ps->v[i];
		char path[CT_PARAM_NAME_MAX + 256];
		/* names are shorter than CT_PARAM_NAME_MAX, groups are ours */
		int fits = ct_path_join(path, sizeof path, group, pv->name) == 0;
		CT_ASSERT(fits);
		int rc = ct_ckpt_fields_add(f, path, CT_H5C_F32, pv->ndim, pv->shape,
					    base + pv->offset, 0, e);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int ct_ckpt_fields_add_optim(ct_ckpt_fields *f, const char *group, ct_optim *o,
			     const ct_params *layout, ct_err *e)
{
	char path[256];
	int rc = 0;
	if (o->m) {
		snprintf(path, sizeof path, "%s/m", group);
		rc = ct_ckpt_fields_add_params(f, path, layout, o->m, e);
	}
	if (rc == 0 && o->v) {
		snprintf(path, sizeof path, "%s/v", group);
		rc = ct_ckpt_fields_add_params(f, path, layout, o->v, e);
	}
	snprintf(path, sizeof path, "%s/step", group);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, path, CT_H5C_I64, 0, NULL, &o->step, 0, e);
	snprintf(path, sizeof path, "%s@name", group);
	if (rc == 0)
		rc = ct_ckpt_fields_add_const_str(f, path, ct_optim_name((int)o->kind),
						  CT_CKPT_MATCH, e);
	return rc;
}

typedef struct loader_ctx {
	ct_loader *ld;
	ct_loader_state st; /* the stash the fields point at */
	char name[64];
} loader_ctx;

static void loader_take(void *ctx)
{
	loader_ctx *c = ctx;
	c->st = c->ld->st;
}

/* What ct_loader_set_state would refuse, checked before anything is applied. */
static int loader_check(void *ctx, ct_err *e)
{
	loader_ctx *c = ctx;
	if (c->st.cursor > (uint64_t)c->ld->ds->n)
		return ct_errf(e, CT_ECORRUPT,
			       "%s/cursor %llu is past the end of the %lld-row data set", c->name,
			       (unsigned long long)c->st.cursor, (long long)c->ld->ds->n);
	if (c->ld->shuffle && !(c->st.rng[0] | c->st.rng[1] | c->st.rng[2] | c->st.rng[3]))
		return ct_errf(e, CT_ECORRUPT, "%s/shuffle_rng is all zero", c->name);
	return 0;
}

static void loader_apply(void *ctx)
{
	loader_ctx *c = ctx;
	int rc = ct_loader_set_state(c->ld, &c->st, NULL);
	CT_ASSERT(rc == 0); /* loader_check passed */
}

int ct_ckpt_fields_add_loader(ct_ckpt_fields *f, const char *group, ct_loader *ld, ct_err *e)
{
	loader_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	c->ld = ld;
	c->st = ld->st;
	snprintf(c->name, sizeof c->name, "%s", group);
	ct_ckpt_hook h = {loader_take, loader_check, loader_apply, NULL, c};
	int rc = ct_ckpt_fields_add_hook(f, &h, e);
	char path[256];
	snprintf(path, sizeof path, "%s/epoch", group);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, path, CT_H5C_U64, 0, NULL, &c->st.epoch, CT_CKPT_STASH,
					e);
	snprintf(path, sizeof path, "%s/cursor", group);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, path, CT_H5C_U64, 0, NULL, &c->st.cursor, CT_CKPT_STASH,
					e);
	snprintf(path, sizeof path, "%s/shuffle_rng", group);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, path, CT_H5C_U64, 1, (int64_t[]){4}, c->st.rng,
					CT_CKPT_STASH, e);
	return rc;
}

int ct_ckpt_fields_add_rng(ct_ckpt_fields *f, const char *path, ct_rng *r, ct_err *e)
{
	return ct_ckpt_fields_add(f, path, CT_H5C_U64, 1, (int64_t[]){4}, r->s, 0, e);
}

typedef struct best_ctx {
	ct_best_tracker *b;
	int64_t n_kept; /* stash of b->n_kept, validated before it is applied */
} best_ctx;

static void best_take(void *ctx)
{
	best_ctx *c = ctx;
	c->n_kept = c->b->n_kept;
}

static int best_check(void *ctx, ct_err *e)
{
	best_ctx *c = ctx;
	if (c->n_kept < 0 || c->n_kept > CT_BEST_MAX)
		return ct_errf(e, CT_ECORRUPT, "/meta/best_count is %lld, not in [0, %d]",
			       (long long)c->n_kept, CT_BEST_MAX);
	return 0;
}

static void best_apply(void *ctx)
{
	best_ctx *c = ctx;
	c->b->n_kept = c->n_kept;
	ct_best_set_keep(c->b, c->b->keep); /* keep_best may be smaller on resume */
}

int ct_ckpt_fields_add_best(ct_ckpt_fields *f, ct_best_tracker *b, ct_err *e)
{
	best_ctx *c = calloc(1, sizeof *c);
	if (!c)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	c->b = b;
	c->n_kept = b->n_kept;
	ct_ckpt_hook h = {best_take, best_check, best_apply, NULL, c};
	int rc = ct_ckpt_fields_add_hook(f, &h, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/meta/best_metric", CT_H5C_F64, 0, NULL,
					&b->best_metric, 0, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/meta/evals_since_best", CT_H5C_I64, 0, NULL,
					&b->evals_since_best, 0, e);
	int64_t dim[1] = {CT_BEST_MAX};
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/meta/best_count", CT_H5C_I64, 0, NULL, &c->n_kept,
					CT_CKPT_STASH | CT_CKPT_OPTIONAL, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/meta/best_steps", CT_H5C_I64, 1, dim, b->kept_step,
					CT_CKPT_OPTIONAL, e);
	if (rc == 0) {
		f->best_steps = (int)f->n - 1;
		rc = ct_ckpt_fields_add(f, "/meta/best_values", CT_H5C_F64, 1, dim, b->kept_value,
					CT_CKPT_OPTIONAL, e);
	}
	return rc;
}
