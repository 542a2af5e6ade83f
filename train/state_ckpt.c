/* state_ckpt.c — the fields of a train_state in a checkpoint (the CLI's
 * table; written and read by ckpt/write.c and ckpt/resume.c). */
#include "state_ckpt.h"

#include <stdlib.h>
#include <string.h>

/* Values a checkpoint records that are derived from the state rather than
 * part of it; refreshed by the take hook, informative on restore. */
typedef struct derived {
	ct_train_state *s;
	const int64_t *file_step; /* the table's /meta/step */
	int64_t epoch, threads, shards;
	double lr;
	char *config_text;
} derived;

static void derived_take(void *ctx)
{
	derived *d = ctx;
	const ct_train_state *s = d->s;
	d->epoch = (int64_t)s->ld.st.epoch;
	d->threads = s->cfg.threads;
	d->shards = s->cfg.shards;
	d->lr = ct_sched_lr(&s->sched, s->step);
	free(d->config_text); /* after a read it holds the file's text */
	d->config_text = ct_config_to_string(&s->cfg);
	CT_ASSERT(d->config_text);
}

/* The step is the header's field; the state takes it on restore. */
static void derived_apply(void *ctx)
{
	derived *d = ctx;
	d->s->step = *d->file_step;
}

static void derived_release(void *ctx) { free(((derived *)ctx)->config_text); }

static int add_derived(ct_ckpt_fields *f, ct_train_state *s, derived **out, ct_err *e)
{
	derived *d = calloc(1, sizeof *d);
	if (!d)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	d->s = s;
	d->file_step = &f->step;
	d->config_text = strdup("");
	ct_ckpt_hook h = {derived_take, NULL, derived_apply, derived_release, d};
	int rc = d->config_text ? ct_ckpt_fields_add_hook(f, &h, e)
				: ct_errf(e, CT_ENOMEM, "out of memory");
	if (rc < 0 && !d->config_text)
		free(d);
	*out = rc == 0 ? d : NULL;
	return rc;
}

/* The fields in file order; each line is one field (or one family). */
int state_ckpt_register(ct_ckpt_fields *f, ct_train_state *s, ct_err *e)
{
	derived *d;
	int rc = add_derived(f, s, &d, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add_params(f, "/model", &s->model.ps, s->model.ps.data, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add_optim(f, "/optim", &s->opt, &s->model.ps, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/optim/lr", CT_H5C_F64, 0, NULL, &d->lr, CT_CKPT_STASH,
					e);
	if (rc == 0)
		rc = ct_ckpt_fields_add_rng(f, "/rng/init", &s->init_rng, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add_rng(f, "/rng/dropout", &s->dropout_rng, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add_loader(f, "/data", &s->ld, e);
	int64_t nd = s->norm.d; /* data.normalize = standard only: no checkpoint before has it */
	if (rc == 0 && nd > 0)
		rc = ct_ckpt_fields_add(f, "/data/norm_mean", CT_H5C_F32, 1, &nd, s->norm.mean, 0,
					e);
	if (rc == 0 && nd > 0)
		rc = ct_ckpt_fields_add(f, "/data/norm_std", CT_H5C_F32, 1, &nd, s->norm.std, 0, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/meta/epoch", CT_H5C_I64, 0, NULL, &d->epoch,
					CT_CKPT_STASH, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/meta@config", CT_H5C_STR, 0, NULL, &d->config_text,
					CT_CKPT_STASH, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/meta/threads", CT_H5C_I64, 0, NULL, &d->threads,
					CT_CKPT_STASH, e);
	/* train.shards (issue 17), only when > 1: a file without it means 1, so
	 * the checkpoints of one-shard runs keep their layout. */
	if (rc == 0 && s->cfg.shards > 1)
		rc = ct_ckpt_fields_add(f, "/meta/shards", CT_H5C_I64, 0, NULL, &d->shards,
					CT_CKPT_STASH | CT_CKPT_OPTIONAL, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/meta/loss_sum", CT_H5C_F64, 0, NULL, &s->loss_sum, 0,
					e);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/meta/loss_count", CT_H5C_I64, 0, NULL, &s->loss_count,
					0, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/meta/elapsed", CT_H5C_F64, 0, NULL, &s->elapsed, 0, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/meta/samples_seen", CT_H5C_I64, 0, NULL,
					&s->samples_seen, 0, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add_best(f, &s->best, e);
	return rc;
}

ct_ckpt_manager *state_ckpt_manager(const char *dir, ct_train_state *s,
				    const ct_ckpt_manager_opts *o, ct_err *e)
{
	ct_ckpt_manager *m = ct_ckpt_manager_new(dir, o, e);
	if (m && state_ckpt_register(ct_ckpt_manager_fields(m), s, e) < 0) {
		ct_ckpt_manager_free(m);
		m = NULL;
	}
	return m;
}
