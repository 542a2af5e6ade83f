#include "snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ckpt/atomic.h"

/* Values a checkpoint records that are derived from the state rather than
 * part of it; refreshed by the take hook, informative on restore. */
typedef struct derived {
	train_state *s;
	const int64_t *file_step; /* the table's /meta/step */
	int64_t epoch, threads;
	double lr;
	char *config_text;
} derived;

static void derived_take(void *ctx)
{
	derived *d = ctx;
	const train_state *s = d->s;
	d->epoch = (int64_t)s->ld.st.epoch;
	d->threads = s->cfg.threads;
	d->lr = sched_lr(&s->sched, s->step);
	free(d->config_text); /* after a read it holds the file's text */
	d->config_text = config_to_string(&s->cfg);
	CT_ASSERT(d->config_text);
}

/* The step is the header's field; the state takes it on restore. */
static void derived_apply(void *ctx)
{
	derived *d = ctx;
	d->s->step = *d->file_step;
}

static void derived_release(void *ctx) { free(((derived *)ctx)->config_text); }

static int add_derived(ckpt_fields *f, train_state *s, derived **out, ct_err *e)
{
	derived *d = calloc(1, sizeof *d);
	if (!d)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	d->s = s;
	d->file_step = &f->step;
	d->config_text = strdup("");
	ckpt_hook h = {derived_take, NULL, derived_apply, derived_release, d};
	int rc = d->config_text ? ckpt_fields_add_hook(f, &h, e)
				: ct_errf(e, CT_ENOMEM, "out of memory");
	if (rc < 0 && !d->config_text)
		free(d);
	*out = rc == 0 ? d : NULL;
	return rc;
}

/* The fields in file order; each line is one field (or one family). */
int snapshot_register(ckpt_fields *f, train_state *s, ct_err *e)
{
	derived *d;
	int rc = add_derived(f, s, &d, e);
	if (rc == 0)
		rc = ckpt_fields_add_params(f, "/model", &s->model.ps, s->model.ps.data, e);
	if (rc == 0)
		rc = ckpt_fields_add_optim(f, "/optim", &s->opt, &s->model.ps, e);
	if (rc == 0)
		rc = ckpt_fields_add(f, "/optim/lr", H5C_F64, 0, NULL, &d->lr, CKPT_STASH, e);
	if (rc == 0)
		rc = ckpt_fields_add_rng(f, "/rng/init", &s->init_rng, e);
	if (rc == 0)
		rc = ckpt_fields_add_rng(f, "/rng/dropout", &s->dropout_rng, e);
	if (rc == 0)
		rc = ckpt_fields_add_loader(f, "/data", &s->ld, e);
	int64_t nd = s->norm.d; /* data.normalize = standard only: no checkpoint before has it */
	if (rc == 0 && nd > 0)
		rc = ckpt_fields_add(f, "/data/norm_mean", H5C_F32, 1, &nd, s->norm.mean, 0, e);
	if (rc == 0 && nd > 0)
		rc = ckpt_fields_add(f, "/data/norm_std", H5C_F32, 1, &nd, s->norm.std, 0, e);
	if (rc == 0)
		rc = ckpt_fields_add(f, "/meta/epoch", H5C_I64, 0, NULL, &d->epoch, CKPT_STASH, e);
	if (rc == 0)
		rc = ckpt_fields_add(f, "/meta@config", H5C_STR, 0, NULL, &d->config_text,
				     CKPT_STASH, e);
	if (rc == 0)
		rc = ckpt_fields_add(f, "/meta/threads", H5C_I64, 0, NULL, &d->threads, CKPT_STASH,
				     e);
	if (rc == 0)
		rc = ckpt_fields_add(f, "/meta/loss_sum", H5C_F64, 0, NULL, &s->loss_sum, 0, e);
	if (rc == 0)
		rc = ckpt_fields_add(f, "/meta/loss_count", H5C_I64, 0, NULL, &s->loss_count, 0, e);
	if (rc == 0)
		rc = ckpt_fields_add(f, "/meta/elapsed", H5C_F64, 0, NULL, &s->elapsed, 0, e);
	if (rc == 0)
		rc = ckpt_fields_add(f, "/meta/samples_seen", H5C_I64, 0, NULL, &s->samples_seen, 0,
				     e);
	if (rc == 0)
		rc = ckpt_fields_add_best(f, &s->best, e);
	return rc;
}

int snapshot_init(snapshot *sn, train_state *s, ct_err *e)
{
	memset(sn, 0, sizeof *sn);
	sn->s = s;
	int rc = ckpt_fields_init(&sn->f, e);
	if (rc < 0)
		return rc;
	rc = snapshot_register(&sn->f, s, e);
	if (rc < 0)
		snapshot_release(sn);
	return rc;
}

void snapshot_release(snapshot *sn)
{
	ckpt_fields_release(&sn->f);
	free(sn->optim_name);
	free(sn->config_text);
	free(sn->version);
	free(sn->blas_core);
	memset(sn, 0, sizeof *sn);
}

static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = strdup(src ? src : "");
	CT_ASSERT(*dst);
}

static int64_t copy_i64(const snapshot *sn, const char *path)
{
	const ckpt_field *d = ckpt_fields_find(&sn->f, path);
	return *(const int64_t *)d->copy;
}

/* Mirrors the copies' informative values into the struct (for callers that
 * compare them with the running process). */
static void mirror(snapshot *sn)
{
	sn->step = sn->f.step;
	sn->epoch = copy_i64(sn, "/meta/epoch");
	sn->threads = copy_i64(sn, "/meta/threads");
	set_str(&sn->optim_name, ckpt_fields_find(&sn->f, "/optim@name")->copy);
	set_str(&sn->config_text, ckpt_fields_find(&sn->f, "/meta@config")->copy);
	set_str(&sn->version, sn->f.version);
	set_str(&sn->blas_core, sn->f.blas_core);
}

void snapshot_take(snapshot *sn, const train_state *s)
{
	CT_ASSERT(s == sn->s);
	ckpt_fields_take(&sn->f, s->step);
	mirror(sn);
}

int snapshot_serialize(snapshot *sn, void **buf, size_t *len, ct_err *e)
{
	*buf = NULL;
	*len = 0;
	h5c_image im;
	h5c_image_init(&im);
	int rc = ckpt_fields_serialize(&sn->f, &im, e);
	if (rc == 0)
		rc = h5c_image_gather(&im, buf, len, e);
	h5c_image_release(&im);
	return rc;
}

int snapshot_write(snapshot *sn, const char *path, ct_err *e)
{
	h5c_image im;
	h5c_image_init(&im);
	int rc = ckpt_fields_serialize(&sn->f, &im, e);
	if (rc < 0)
		ct_err_prefix(e, "%s", path);
	else
		rc = atomic_write_iov(path, im.seg, (int)im.n_seg, e);
	h5c_image_release(&im);
	return rc;
}

int snapshot_read(snapshot *sn, const char *path, ct_err *e)
{
	int rc = ckpt_fields_read(&sn->f, path, e);
	if (rc == 0)
		mirror(sn);
	return rc;
}

/* cppcheck-suppress constParameter ; s is written, through the fields sn bound to it */
int snapshot_apply(snapshot *sn, train_state *s, ct_err *e)
{
	CT_ASSERT(s == sn->s);
	return ckpt_fields_apply(&sn->f, e);
}
