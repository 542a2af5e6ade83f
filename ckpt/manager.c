/* manager.c — the ckpt_manager: creation, registration of what a checkpoint
 * holds, and the cadence (maybe_save, observe, finish).  Writing is in
 * write.c, restoring in resume.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/atomic.h"
#include "manager_internal.h"

ct_ckpt_manager *ct_ckpt_manager_new(const char *dir, const ct_ckpt_manager_opts *opts, ct_err *e)
{
	if (strlen(dir) >= 4000) {
		ct_errf(e, CT_EUSAGE, "%.64s...: checkpoint directory name too long", dir);
		return NULL;
	}
	if (ct_atomic_mkdir_p(dir, e) < 0)
		return NULL;
	ct_ckpt_manager *m = calloc(1, sizeof *m);
	if (!m || ct_ckpt_fields_init(&m->f, e) < 0) {
		if (!m)
			ct_errf(e, CT_ENOMEM, "out of memory");
		free(m);
		return NULL;
	}
	snprintf(m->dir, sizeof m->dir, "%s", dir);
	ct_h5c_image_init(&m->image);
	ct_ckpt_manager_opts def = CT_CKPT_MANAGER_OPTS_DEFAULT;
	m->o = opts ? *opts : def;
	m->taken_step = m->last_step = -1;
	m->last_save_time = ckpt_now_sec();
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	ckpt_writer_start(m);
	return m;
}

void ct_ckpt_manager_free(ct_ckpt_manager *m)
{
	if (!m)
		return;
	ckpt_writer_stop(m);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	ct_ckpt_fields_release(&m->f);
	ct_h5c_image_release(&m->image);
	free(m);
}

int ct_ckpt_manager_maybe_save(ct_ckpt_manager *m, int64_t step, ct_err *e)
{
	int due = step != m->taken_step &&
		  ((m->o.every_steps > 0 && step % m->o.every_steps == 0) ||
		   (m->o.every_seconds > 0 &&
		    ckpt_now_sec() - m->last_save_time >= m->o.every_seconds));
	int rc = due ? ct_ckpt_manager_save(m, step, e) : 0;
	return rc < 0 ? rc : due;
}

int ct_ckpt_manager_observe(ct_ckpt_manager *m, int64_t step, double value, ct_err *e)
{
	CT_ASSERT(m->best); /* ct_ckpt_manager_add_best first */
	int flags = ct_best_update(m->best, step, value);
	if ((flags & CT_BEST_KEPT) && step != m->taken_step) {
		int rc = ct_ckpt_manager_save(m, step, e);
		if (rc < 0)
			return rc;
	}
	return flags;
}

int ct_ckpt_manager_finish(ct_ckpt_manager *m, int64_t step, ct_err *e)
{
	int rc = ct_ckpt_manager_wait(m, e);
	if (rc == 0 && ct_ckpt_manager_last_step(m) != step) {
		rc = ct_ckpt_manager_save(m, step, e);
		if (rc == 0)
			rc = ct_ckpt_manager_wait(m, e);
	}
	return rc;
}

int64_t ct_ckpt_manager_last_step(ct_ckpt_manager *m)
{
	pthread_mutex_lock(&m->mu);
	int64_t s = m->last_step;
	pthread_mutex_unlock(&m->mu);
	return s;
}

ct_ckpt_manager_stats ct_ckpt_manager_get_stats(ct_ckpt_manager *m)
{
	pthread_mutex_lock(&m->mu);
	ct_ckpt_manager_stats s = m->st;
	pthread_mutex_unlock(&m->mu);
	return s;
}

void ct_ckpt_manager_mark_saved(ct_ckpt_manager *m, int64_t step)
{
	pthread_mutex_lock(&m->mu);
	m->last_step = step;
	pthread_mutex_unlock(&m->mu);
	m->taken_step = step;
}

/* ---- registration -------------------------------------------------------- */

/* "user/ema" -> "/user/ema"; names are the program's, so bad ones assert. */
static void field_path(char *buf, size_t len, const char *name)
{
	CT_ASSERT(name[0] && name[0] != '/' && name[strlen(name) - 1] != '/');
	for (const char *p = name; *p; p++)
		CT_ASSERT((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-' ||
			  (*p == '/' && p[1] != '/'));
	int n = snprintf(buf, len, "/%s", name);
	CT_ASSERT(n > 0 && (size_t)n < len);
}

static void assert_idle(ct_ckpt_manager *m)
{
	CT_ASSERT(m->taken_step < 0); /* register before the first restore or save */
}

int ct_ckpt_manager_add_params(ct_ckpt_manager *m, const char *name, ct_params *ps, ct_err *e)
{
	char path[256];
	assert_idle(m);
	field_path(path, sizeof path, name);
	return ct_ckpt_fields_add_params(&m->f, path, ps, ps->data, e);
}

int ct_ckpt_manager_add_optim(ct_ckpt_manager *m, const char *name, ct_optim *o,
			      const ct_params *ps, ct_err *e)
{
	char path[256];
	assert_idle(m);
	field_path(path, sizeof path, name);
	CT_ASSERT(o->n == ps->n);
	return ct_ckpt_fields_add_optim(&m->f, path, o, ps, e);
}

int ct_ckpt_manager_add_loader(ct_ckpt_manager *m, const char *name, ct_loader *ld, ct_err *e)
{
	char path[256];
	assert_idle(m);
	field_path(path, sizeof path, name);
	return ct_ckpt_fields_add_loader(&m->f, path, ld, e);
}

static int add_plain(ct_ckpt_manager *m, const char *name, ct_h5c_type t, int ndim, int64_t d0,
		     void *live, ct_err *e)
{
	char path[256];
	int64_t dims[1] = {d0};
	assert_idle(m);
	field_path(path, sizeof path, name);
	return ct_ckpt_fields_add(&m->f, path, t, ndim, ndim ? dims : NULL, live, 0, e);
}

int ct_ckpt_manager_add_rng(ct_ckpt_manager *m, const char *name, ct_rng *r, ct_err *e)
{
	return add_plain(m, name, CT_H5C_U64, 1, 4, r->s, e);
}

int ct_ckpt_manager_add_i64(ct_ckpt_manager *m, const char *name, int64_t *v, ct_err *e)
{
	return add_plain(m, name, CT_H5C_I64, 0, 0, v, e);
}

int ct_ckpt_manager_add_f64(ct_ckpt_manager *m, const char *name, double *v, ct_err *e)
{
	return add_plain(m, name, CT_H5C_F64, 0, 0, v, e);
}

int ct_ckpt_manager_add_blob(ct_ckpt_manager *m, const char *name, void *data, size_t len,
			     ct_err *e)
{
	CT_ASSERT(len > 0);
	return add_plain(m, name, CT_H5C_U8, 1, (int64_t)len, data, e);
}

int ct_ckpt_manager_add_best(ct_ckpt_manager *m, ct_best_tracker *b, ct_err *e)
{
	assert_idle(m);
	CT_ASSERT(!m->best);
	m->best = b;
	return ct_ckpt_fields_add_best(&m->f, b, e);
}

ct_ckpt_fields *ct_ckpt_manager_fields(ct_ckpt_manager *m)
{
	assert_idle(m);
	return &m->f;
}
