#include "snapshot.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "../ckpt/atomic.h"
#include "../ckpt/h5c.h"

const char *blas_core_name(void)
{
	const char *n = openblas_get_corename();
	return n ? n : "unknown";
}

int snapshot_init(snapshot *sn, const train_state *s, ct_err *e)
{
	memset(sn, 0, sizeof *sn);
	sn->layout = &s->model.ps;
	sn->n = s->model.ps.n;
	size_t bytes = sn->n * sizeof(float);
	sn->params = ct_aligned_alloc(64, bytes);
	if (s->opt.m)
		sn->m = ct_aligned_alloc(64, bytes);
	if (s->opt.v)
		sn->v = ct_aligned_alloc(64, bytes);
	if (!sn->params || (s->opt.m && !sn->m) || (s->opt.v && !sn->v)) {
		snapshot_release(sn);
		return ct_errf(e, CT_ENOMEM, "out of memory for a checkpoint snapshot");
	}
	/* Padding between views is never read from a file: keep it zero so a
	 * restored state equals the saved one byte for byte. */
	memset(sn->params, 0, bytes);
	if (sn->m)
		memset(sn->m, 0, bytes);
	if (sn->v)
		memset(sn->v, 0, bytes);
	return 0;
}

void snapshot_release(snapshot *sn)
{
	free(sn->params);
	free(sn->m);
	free(sn->v);
	free(sn->optim_name);
	free(sn->config_text);
	free(sn->version);
	free(sn->blas_core);
	memset(sn, 0, sizeof *sn);
}

static void set_str(char **dst, const char *src)
{
	if (*dst && strcmp(*dst, src) == 0)
		return;
	free(*dst);
	*dst = strdup(src);
	CT_ASSERT(*dst);
}

void snapshot_take(snapshot *sn, const train_state *s)
{
	size_t bytes = sn->n * sizeof(float);
	memcpy(sn->params, s->model.ps.data, bytes);
	if (sn->m)
		memcpy(sn->m, s->opt.m, bytes);
	if (sn->v)
		memcpy(sn->v, s->opt.v, bytes);
	sn->step = s->step;
	sn->opt_step = s->opt.step;
	sn->epoch = (int64_t)s->ld.st.epoch;
	sn->lr = sched_lr(&s->sched, s->step);
	sn->ld = s->ld.st;
	sn->rng_init = s->init_rng;
	sn->rng_dropout = s->dropout_rng;
	sn->loss_sum = s->loss_sum;
	sn->loss_count = s->loss_count;
	sn->elapsed = s->elapsed;
	sn->samples_seen = s->samples_seen;
	sn->best_metric = s->best_metric;
	sn->evals_since_best = s->evals_since_best;
	sn->threads = s->cfg.threads;
	set_str(&sn->optim_name, optim_name(s->opt.kind));
	if (!sn->config_text) { /* the config does not change during a run */
		sn->config_text = config_to_string(&s->cfg);
		CT_ASSERT(sn->config_text);
	}
	set_str(&sn->version, CTRAIN_VERSION);
	set_str(&sn->blas_core, blas_core_name());
}

/* The one table of checkpoint fields.  names[] holds the generated per-parameter
 * paths.  Returns the number of fields. */
enum { FIXED_FIELDS = 26 };

typedef struct field_table {
	h5c_field *f;
	char (*names)[PARAM_NAME_MAX + 16];
	size_t n;
	const char *format;
	int64_t version;
} field_table;

static void put(field_table *t, const char *path, h5c_type type, int ndim, int64_t d0, void *data)
{
	t->f[t->n++] = (h5c_field){path, type, ndim, {d0, 0, 0, 0}, data};
}

static void put_params(field_table *t, const snapshot *sn, const char *group, float *buf)
{
	for (int i = 0; i < sn->layout->nv; i++) {
		const param_view *pv = &sn->layout->v[i];
		char *name = t->names[t->n];
		snprintf(name, sizeof t->names[0], "%s/%s", group, pv->name);
		h5c_field *f = &t->f[t->n++];
		*f = (h5c_field){name, H5C_F32, pv->ndim, {pv->shape[0], pv->shape[1], 0, 0},
				 buf + pv->offset};
	}
}

static int table_build(field_table *t, snapshot *sn, ct_err *e)
{
	size_t max = FIXED_FIELDS + 3 * (size_t)sn->layout->nv;
	t->f = calloc(max, sizeof *t->f);
	t->names = calloc(max, sizeof *t->names);
	if (!t->f || !t->names) {
		free(t->f);
		free(t->names);
		return ct_errf(e, CT_ENOMEM, "out of memory");
	}
	t->n = 0;
	put(t, "/@format", H5C_STR, 0, 0, &t->format);
	put(t, "/@format_version", H5C_I64, 0, 0, &t->version);
	put_params(t, sn, "/model", sn->params);
	if (sn->m)
		put_params(t, sn, "/optim/m", sn->m);
	if (sn->v)
		put_params(t, sn, "/optim/v", sn->v);
	put(t, "/optim/step", H5C_I64, 0, 0, &sn->opt_step);
	put(t, "/optim@name", H5C_STR, 0, 0, &sn->optim_name);
	put(t, "/optim/lr", H5C_F64, 0, 0, &sn->lr);
	put(t, "/rng/init", H5C_U64, 1, 4, sn->rng_init.s);
	put(t, "/rng/dropout", H5C_U64, 1, 4, sn->rng_dropout.s);
	put(t, "/data/epoch", H5C_U64, 0, 0, &sn->ld.epoch);
	put(t, "/data/cursor", H5C_U64, 0, 0, &sn->ld.cursor);
	put(t, "/data/shuffle_rng", H5C_U64, 1, 4, sn->ld.rng);
	put(t, "/meta/step", H5C_I64, 0, 0, &sn->step);
	put(t, "/meta/epoch", H5C_I64, 0, 0, &sn->epoch);
	put(t, "/meta@config", H5C_STR, 0, 0, &sn->config_text);
	put(t, "/meta@version", H5C_STR, 0, 0, &sn->version);
	put(t, "/meta@blas_core", H5C_STR, 0, 0, &sn->blas_core);
	put(t, "/meta/threads", H5C_I64, 0, 0, &sn->threads);
	put(t, "/meta/loss_sum", H5C_F64, 0, 0, &sn->loss_sum);
	put(t, "/meta/loss_count", H5C_I64, 0, 0, &sn->loss_count);
	put(t, "/meta/elapsed", H5C_F64, 0, 0, &sn->elapsed);
	put(t, "/meta/samples_seen", H5C_I64, 0, 0, &sn->samples_seen);
	put(t, "/meta/best_metric", H5C_F64, 0, 0, &sn->best_metric);
	put(t, "/meta/evals_since_best", H5C_I64, 0, 0, &sn->evals_since_best);
	CT_ASSERT(t->n <= max);
	return 0;
}

static void table_free(field_table *t)
{
	free(t->f);
	free(t->names);
}

int snapshot_serialize_into(const snapshot *sn, void **buf, size_t *cap, size_t *len, ct_err *e)
{
	field_table t = {.format = CKPT_FORMAT, .version = CKPT_FORMAT_VERSION};
	/* The table holds non-const pointers because reading fills the same
	 * fields; writing only reads through them. */
	int rc = table_build(&t, (snapshot *)sn, e);
	if (rc < 0)
		return rc;
	rc = h5c_build_reuse(t.f, t.n, buf, cap, len, e);
	table_free(&t);
	return rc;
}

int snapshot_serialize(const snapshot *sn, void **buf, size_t *len, ct_err *e)
{
	size_t cap = 0;
	*buf = NULL;
	return snapshot_serialize_into(sn, buf, &cap, len, e);
}

int snapshot_write_buffered(const snapshot *sn, const char *path, void **buf, size_t *cap,
			    ct_err *e)
{
	size_t len;
	int rc = snapshot_serialize_into(sn, buf, cap, &len, e);
	if (rc < 0)
		return ct_err_prefix(e, "%s", path);
	return atomic_write_file(path, *buf, len, e);
}

int snapshot_write(const snapshot *sn, const char *path, ct_err *e)
{
	void *buf = NULL;
	size_t cap = 0;
	int rc = snapshot_write_buffered(sn, path, &buf, &cap, e);
	free(buf);
	return rc;
}

/* Frees the strings a previous read or take left, so h5c_read can fill them. */
static void clear_strings(snapshot *sn)
{
	char **strs[] = {&sn->optim_name, &sn->config_text, &sn->version, &sn->blas_core};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}

int snapshot_read(snapshot *sn, const char *path, ct_err *e)
{
	h5c_reader *r;
	int rc = h5c_open(path, &r, e);
	if (rc < 0)
		return rc;
	field_table t = {0};
	rc = table_build(&t, sn, e);
	if (rc < 0) {
		h5c_close(r);
		return rc;
	}
	clear_strings(sn);
	char *format = NULL;
	t.format = NULL;
	for (size_t i = 0; i < t.n && rc == 0; i++) {
		rc = h5c_read(r, &t.f[i], e);
		if (rc == 0 && i == 0) {
			format = (char *)t.format;
			if (strcmp(format, CKPT_FORMAT) != 0)
				rc = ct_errf(e, CT_ECORRUPT, "%s: format is '%s', not '%s'", path,
					     format, CKPT_FORMAT);
		}
		if (rc == 0 && i == 1 && t.version != CKPT_FORMAT_VERSION)
			rc = ct_errf(e, CT_EUNSUPPORTED,
				     "%s: checkpoint format_version %lld; this ctrain reads %d", path,
				     (long long)t.version, CKPT_FORMAT_VERSION);
	}
	free(format);
	table_free(&t);
	h5c_close(r);
	return rc;
}

int snapshot_apply(const snapshot *sn, train_state *s, ct_err *e)
{
	CT_ASSERT(sn->n == s->model.ps.n);
	if (sn->optim_name && strcmp(sn->optim_name, optim_name(s->opt.kind)) != 0)
		return ct_errf(e, CT_EMISMATCH, "checkpoint optimizer is %s but the config says %s",
			       sn->optim_name, optim_name(s->opt.kind));
	int rc = loader_set_state(&s->ld, &sn->ld, e);
	if (rc < 0)
		return rc;
	size_t bytes = sn->n * sizeof(float);
	memcpy(s->model.ps.data, sn->params, bytes);
	if (sn->m)
		memcpy(s->opt.m, sn->m, bytes);
	if (sn->v)
		memcpy(s->opt.v, sn->v, bytes);
	s->opt.step = sn->opt_step;
	s->step = sn->step;
	s->init_rng = sn->rng_init;
	s->dropout_rng = sn->rng_dropout;
	s->loss_sum = sn->loss_sum;
	s->loss_count = sn->loss_count;
	s->elapsed = sn->elapsed;
	s->samples_seen = sn->samples_seen;
	s->best_metric = sn->best_metric;
	s->evals_since_best = sn->evals_since_best;
	return 0;
}
