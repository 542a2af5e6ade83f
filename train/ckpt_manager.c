#include "ckpt_manager.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../ckpt/atomic.h"
#include "../ckpt/discover.h"
#include "../util/log.h"

struct ckpt_manager {
	char dir[4096];
	ckpt_manager_opts o;
	ckpt_fields f;
	best_tracker *best;
	h5c_image image;    /* reused across writes */
	int64_t taken_step; /* step of the last copy taken, -1 */
	double last_save_time;
	/* shared with the writer thread, under mu */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int have_thread, busy, quit;
	int last_rc;
	ct_err last_err;
	int64_t last_step; /* last durable checkpoint, -1 */
	ckpt_manager_stats st;
};

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- writing ------------------------------------------------------------- */

/* Deletes what retention says may go.  Never fails the checkpoint: a file
 * that cannot be deleted is only a warning. */
static void retain(ckpt_manager *m)
{
	const ckpt_field *bs = m->f.best_steps >= 0 ? &m->f.v[m->f.best_steps] : NULL;
	ct_err re = {0};
	if (ckpt_retain_protected(m->dir, m->o.keep_last, m->o.keep_every, bs ? bs->copy : NULL,
				  bs ? BEST_MAX : 0, &re) < 0)
		log_warn("retention in %s failed: %s", m->dir, re.msg);
}

/* Writes the checkpoint of what the last take took; on the caller's thread
 * (sync) or the writer thread. */
static int write_file(ckpt_manager *m, ct_err *e)
{
	int rc = m->o.before_write ? m->o.before_write(m->o.hook_ctx, e) : 0;
	if (rc < 0)
		return rc;
	char *path = ckpt_path_for_step(m->dir, m->f.step);
	if (!path)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	rc = ckpt_fields_serialize(&m->f, &m->image, e);
	if (rc < 0)
		ct_err_prefix(e, "%s", path);
	else
		rc = atomic_write_iov(path, m->image.seg, (int)m->image.n_seg, e);
	if (rc == 0) {
		ckpt_mark_valid(path); /* retention need not read it back */
		log_debug("checkpoint %s written", path);
	}
	free(path);
	pthread_mutex_lock(&m->mu);
	if (rc == 0)
		m->last_step = m->f.step;
	pthread_mutex_unlock(&m->mu);
	return rc;
}

/* The writer thread's jobs: a whole checkpoint (async), or only the
 * retention after a synchronous write (deleting a 22 MB file takes about
 * 8 ms here, which the training loop need not wait for). */
enum { JOB_NONE, JOB_WRITE, JOB_RETAIN };

static void *writer_main(void *arg)
{
	ckpt_manager *m = arg;
	pthread_mutex_lock(&m->mu);
	for (;;) {
		while (!m->busy && !m->quit)
			pthread_cond_wait(&m->cv, &m->mu);
		if (!m->busy)
			break;
		int job = m->busy;
		pthread_mutex_unlock(&m->mu);
		ct_err e = {0};
		double t0 = now_sec();
		int rc = job == JOB_WRITE ? write_file(m, &e) : 0;
		if (rc == 0)
			retain(m);
		pthread_mutex_lock(&m->mu);
		if (job == JOB_WRITE)
			m->st.last_write_sec = now_sec() - t0;
		m->last_rc = rc;
		m->last_err = e;
		m->busy = JOB_NONE;
		pthread_cond_broadcast(&m->cv);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

static void post(ckpt_manager *m, int job)
{
	pthread_mutex_lock(&m->mu);
	m->busy = job;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

ckpt_manager *ckpt_manager_new(const char *dir, const ckpt_manager_opts *opts, ct_err *e)
{
	if (strlen(dir) >= 4000) {
		ct_errf(e, CT_EUSAGE, "%.64s...: checkpoint directory name too long", dir);
		return NULL;
	}
	if (atomic_mkdir_p(dir, e) < 0)
		return NULL;
	ckpt_manager *m = calloc(1, sizeof *m);
	if (!m || ckpt_fields_init(&m->f, e) < 0) {
		if (!m)
			ct_errf(e, CT_ENOMEM, "out of memory");
		free(m);
		return NULL;
	}
	snprintf(m->dir, sizeof m->dir, "%s", dir);
	h5c_image_init(&m->image);
	ckpt_manager_opts def = CKPT_MANAGER_OPTS_DEFAULT;
	m->o = opts ? *opts : def;
	m->taken_step = m->last_step = -1;
	m->last_save_time = now_sec();
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	/* Synchronous writes leave only retention to the thread. */
	if (m->o.async || m->o.keep_last > 0) {
		if (pthread_create(&m->thread, NULL, writer_main, m) != 0) {
			log_warn("cannot start the checkpoint writer thread; writing and deleting "
				 "old checkpoints synchronously");
			m->o.async = 0;
		} else {
			m->have_thread = 1;
		}
	}
	return m;
}

void ckpt_manager_free(ckpt_manager *m)
{
	if (!m)
		return;
	if (m->have_thread) {
		pthread_mutex_lock(&m->mu);
		m->quit = 1; /* the thread finishes a write in flight first */
		pthread_cond_broadcast(&m->cv);
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->thread, NULL);
	}
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	ckpt_fields_release(&m->f);
	h5c_image_release(&m->image);
	free(m);
}

int ckpt_manager_wait(ckpt_manager *m, ct_err *e)
{
	pthread_mutex_lock(&m->mu);
	while (m->busy)
		pthread_cond_wait(&m->cv, &m->mu);
	int rc = m->last_rc;
	if (rc < 0 && e)
		*e = m->last_err;
	m->last_rc = 0;
	pthread_mutex_unlock(&m->mu);
	return rc;
}

int ckpt_manager_save(ckpt_manager *m, int64_t step, ct_err *e)
{
	CT_ASSERT(step >= 0);
	double t0 = now_sec();
	int rc = ckpt_manager_wait(m, e); /* at most one write in flight */
	if (rc == 0 && m->o.before_take)
		rc = m->o.before_take(m->o.hook_ctx, e);
	if (rc < 0)
		return rc;
	/* A synchronous write happens before the state changes again: the
	 * large fields need no copy. */
	if (m->o.async)
		ckpt_fields_take(&m->f, step);
	else
		ckpt_fields_take_live(&m->f, step);
	m->taken_step = step;
	m->last_save_time = t0;
	if (m->o.async) {
		post(m, JOB_WRITE);
	} else {
		rc = write_file(m, e);
		pthread_mutex_lock(&m->mu);
		m->st.last_write_sec = now_sec() - t0;
		pthread_mutex_unlock(&m->mu);
		if (rc == 0 && m->have_thread)
			post(m, JOB_RETAIN);
		else if (rc == 0)
			retain(m);
	}
	pthread_mutex_lock(&m->mu);
	m->st.last_stall_sec = now_sec() - t0;
	pthread_mutex_unlock(&m->mu);
	return rc;
}

/* Test hook: CTRAIN_TEST_KILL_AT_STEP=N makes maybe_save(N) kill the process
 * with SIGKILL once its own work is done (a background write may be in
 * flight), so tests can crash a user's program at an exact step. */
static void test_kill_hook(int64_t step)
{
	static int64_t at = -2;
	if (at == -2) {
		const char *v = getenv("CTRAIN_TEST_KILL_AT_STEP");
		at = v ? strtoll(v, NULL, 10) : -1;
	}
	if (step == at)
		raise(SIGKILL);
}

int ckpt_manager_maybe_save(ckpt_manager *m, int64_t step, ct_err *e)
{
	int due = step != m->taken_step &&
		  ((m->o.every_steps > 0 && step % m->o.every_steps == 0) ||
		   (m->o.every_seconds > 0 && now_sec() - m->last_save_time >= m->o.every_seconds));
	int rc = due ? ckpt_manager_save(m, step, e) : 0;
	test_kill_hook(step);
	return rc < 0 ? rc : due;
}

int ckpt_manager_observe(ckpt_manager *m, int64_t step, double value, ct_err *e)
{
	CT_ASSERT(m->best); /* ckpt_manager_add_best first */
	int flags = best_update(m->best, step, value);
	if ((flags & BEST_KEPT) && step != m->taken_step) {
		int rc = ckpt_manager_save(m, step, e);
		if (rc < 0)
			return rc;
	}
	return flags;
}

int ckpt_manager_finish(ckpt_manager *m, int64_t step, ct_err *e)
{
	int rc = ckpt_manager_wait(m, e);
	if (rc == 0 && ckpt_manager_last_step(m) != step) {
		rc = ckpt_manager_save(m, step, e);
		if (rc == 0)
			rc = ckpt_manager_wait(m, e);
	}
	return rc;
}

int64_t ckpt_manager_last_step(ckpt_manager *m)
{
	pthread_mutex_lock(&m->mu);
	int64_t s = m->last_step;
	pthread_mutex_unlock(&m->mu);
	return s;
}

ckpt_manager_stats ckpt_manager_get_stats(ckpt_manager *m)
{
	pthread_mutex_lock(&m->mu);
	ckpt_manager_stats s = m->st;
	pthread_mutex_unlock(&m->mu);
	return s;
}

void ckpt_manager_mark_saved(ckpt_manager *m, int64_t step)
{
	pthread_mutex_lock(&m->mu);
	m->last_step = step;
	pthread_mutex_unlock(&m->mu);
	m->taken_step = step;
}

/* ---- restoring ----------------------------------------------------------- */

static int restore_path(ckpt_manager *m, const char *path, int64_t named_step, ct_err *e)
{
	int rc = ckpt_fields_read(&m->f, path, e);
	if (rc == 0 && m->f.step != named_step)
		rc = ct_errf(e, CT_ECORRUPT, "%s: holds step %lld but is named for step %lld", path,
			     (long long)m->f.step, (long long)named_step);
	if (rc == 0)
		rc = ckpt_fields_apply(&m->f, e);
	if (rc < 0)
		return ct_err_prefix(e, "cannot restore");
	log_info("resuming from %s (step %lld)", path, (long long)named_step);
	if (strcmp(m->f.blas_core, blas_core_name()) != 0)
		log_warn("%s was written with OpenBLAS core %s, this process uses %s: results may "
			 "differ in the last bits from an uninterrupted run",
			 path, m->f.blas_core, blas_core_name());
	ckpt_manager_mark_saved(m, named_step);
	return 0;
}

int ckpt_manager_restore_latest(ckpt_manager *m, int64_t *step, ct_err *e)
{
	*step = -1;
	int rc = ckpt_manager_wait(m, e);
	if (rc < 0)
		return rc;
	int removed = atomic_cleanup_tmp(m->dir, NULL);
	if (removed > 0)
		log_info("removed %d temporary file(s) left in %s by an interrupted write", removed,
			 m->dir);
	ckpt_entry *v;
	size_t n;
	if ((rc = ckpt_list(m->dir, &v, &n, e)) < 0)
		return rc;
	ckpt_list_free(v, n);
	if (n == 0)
		return 0;
	char *path;
	int64_t at;
	if ((rc = ckpt_find_latest(m->dir, &path, &at, e)) < 0)
		return rc;
	rc = restore_path(m, path, at, e);
	free(path);
	if (rc < 0)
		return rc;
	*step = at;
	return 1;
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

static void assert_idle(ckpt_manager *m)
{
	CT_ASSERT(m->taken_step < 0); /* register before the first restore or save */
}

int ckpt_manager_add_params(ckpt_manager *m, const char *name, params *ps, ct_err *e)
{
	char path[256];
	assert_idle(m);
	field_path(path, sizeof path, name);
	return ckpt_fields_add_params(&m->f, path, ps, ps->data, e);
}

int ckpt_manager_add_optim(ckpt_manager *m, const char *name, optim *o, const params *ps, ct_err *e)
{
	char path[256];
	assert_idle(m);
	field_path(path, sizeof path, name);
	CT_ASSERT(o->n == ps->n);
	return ckpt_fields_add_optim(&m->f, path, o, ps, e);
}

int ckpt_manager_add_loader(ckpt_manager *m, const char *name, loader *ld, ct_err *e)
{
	char path[256];
	assert_idle(m);
	field_path(path, sizeof path, name);
	return ckpt_fields_add_loader(&m->f, path, ld, e);
}

static int add_plain(ckpt_manager *m, const char *name, h5c_type t, int ndim, int64_t d0,
		     void *live, ct_err *e)
{
	char path[256];
	int64_t dims[1] = {d0};
	assert_idle(m);
	field_path(path, sizeof path, name);
	return ckpt_fields_add(&m->f, path, t, ndim, ndim ? dims : NULL, live, 0, e);
}

int ckpt_manager_add_rng(ckpt_manager *m, const char *name, rng *r, ct_err *e)
{
	return add_plain(m, name, H5C_U64, 1, 4, r->s, e);
}

int ckpt_manager_add_i64(ckpt_manager *m, const char *name, int64_t *v, ct_err *e)
{
	return add_plain(m, name, H5C_I64, 0, 0, v, e);
}

int ckpt_manager_add_f64(ckpt_manager *m, const char *name, double *v, ct_err *e)
{
	return add_plain(m, name, H5C_F64, 0, 0, v, e);
}

int ckpt_manager_add_blob(ckpt_manager *m, const char *name, void *data, size_t len, ct_err *e)
{
	CT_ASSERT(len > 0);
	return add_plain(m, name, H5C_U8, 1, (int64_t)len, data, e);
}

int ckpt_manager_add_best(ckpt_manager *m, best_tracker *b, ct_err *e)
{
	assert_idle(m);
	CT_ASSERT(!m->best);
	m->best = b;
	return ckpt_fields_add_best(&m->f, b, e);
}

ckpt_fields *ckpt_manager_fields(ckpt_manager *m)
{
	assert_idle(m);
	return &m->f;
}
