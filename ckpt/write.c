/* write.c — save a checkpoint: the registered fields (fields.h) -> an HDF5
 * image with its CRC-32C trailer (h5c.h) -> one atomic file
 * DIR/ckpt-<step>.h5 (atomic.h) -> retention (discover.h), on the caller's
 * thread (sync) or the writer thread (async, one write in flight). */
#include <stdlib.h>
#include <time.h>

#include "../util/log.h"
#include "../util/atomic.h"
#include "discover.h"
#include "manager_internal.h"

double ckpt_now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Deletes what retention says may go.  Never fails the checkpoint: a file
 * that cannot be deleted is only a warning. */
static void retain(ct_ckpt_manager *m)
{
	const ct_ckpt_field *bs = m->f.best_steps >= 0 ? &m->f.v[m->f.best_steps] : NULL;
	ct_err re = {0};
	if (ct_ckpt_retain_protected(m->dir, m->o.keep_last, m->o.keep_every, bs ? bs->copy : NULL,
				     bs ? CT_BEST_MAX : 0, &re) < 0)
		ct_log_warn("retention in %s failed: %s", m->dir, re.msg);
}

/* Writes the checkpoint of what the last take took; on the caller's thread
 * (sync) or the writer thread. */
static int write_file(ct_ckpt_manager *m, ct_err *e)
{
	int rc = m->o.before_write ? m->o.before_write(m->o.hook_ctx, e) : 0;
	if (rc < 0)
		return rc;
	char *path = ct_ckpt_path_for_step(m->dir, m->f.step);
	if (!path)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	rc = ct_ckpt_fields_serialize(&m->f, &m->image, e);
	if (rc < 0)
		ct_err_prefix(e, "%s", path);
	else
		rc = ct_atomic_write_iov(path, m->image.seg, (int)m->image.n_seg, e);
	if (rc == 0) {
		ct_ckpt_mark_valid(path); /* retention need not read it back */
		ct_log_debug("checkpoint %s written", path);
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
	ct_ckpt_manager *m = arg;
	pthread_mutex_lock(&m->mu);
	for (;;) {
		while (!m->busy && !m->quit)
			pthread_cond_wait(&m->cv, &m->mu);
		if (!m->busy)
			break;
		int job = m->busy;
		pthread_mutex_unlock(&m->mu);
		ct_err e = {0};
		double t0 = ckpt_now_sec();
		int rc = job == JOB_WRITE ? write_file(m, &e) : 0;
		if (rc == 0)
			retain(m);
		pthread_mutex_lock(&m->mu);
		if (job == JOB_WRITE)
			m->st.last_write_sec = ckpt_now_sec() - t0;
		m->last_rc = rc;
		m->last_err = e;
		m->busy = JOB_NONE;
		pthread_cond_broadcast(&m->cv);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

static void post(ct_ckpt_manager *m, int job)
{
	pthread_mutex_lock(&m->mu);
	m->busy = job;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

void ckpt_writer_start(ct_ckpt_manager *m)
{
	/* Synchronous writes leave only retention to the thread. */
	if (!m->o.async && m->o.keep_last <= 0)
		return;
	if (pthread_create(&m->thread, NULL, writer_main, m) != 0) {
		ct_log_warn("cannot start the checkpoint writer thread; writing and deleting old "
			    "checkpoints synchronously");
		m->o.async = 0;
	} else {
		m->have_thread = 1;
	}
}

void ckpt_writer_stop(ct_ckpt_manager *m)
{
	if (!m->have_thread)
		return;
	pthread_mutex_lock(&m->mu);
	m->quit = 1; /* the thread finishes a write in flight first */
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
	pthread_join(m->thread, NULL);
	m->have_thread = 0;
}

int ct_ckpt_manager_wait(ct_ckpt_manager *m, ct_err *e)
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

int ct_ckpt_manager_save(ct_ckpt_manager *m, int64_t step, ct_err *e)
{
	CT_ASSERT(step >= 0);
	double t0 = ckpt_now_sec();
	int rc = ct_ckpt_manager_wait(m, e); /* at most one write in flight */
	if (rc == 0 && m->o.before_take)
		rc = m->o.before_take(m->o.hook_ctx, e);
	if (rc < 0)
		return rc;
	/* A synchronous write happens before the state changes again: the
	 * large fields need no copy. */
	if (m->o.async)
		ct_ckpt_fields_take(&m->f, step);
	else
		ct_ckpt_fields_take_live(&m->f, step);
	m->taken_step = step;
	m->last_save_time = t0;
	if (m->o.async) {
		post(m, JOB_WRITE);
	} else {
		rc = write_file(m, e);
		pthread_mutex_lock(&m->mu);
		m->st.last_write_sec = ckpt_now_sec() - t0;
		pthread_mutex_unlock(&m->mu);
		if (rc == 0 && m->have_thread)
			post(m, JOB_RETAIN);
		else if (rc == 0)
			retain(m);
	}
	pthread_mutex_lock(&m->mu);
	m->st.last_stall_sec = ckpt_now_sec() - t0;
	pthread_mutex_unlock(&m->mu);
	return rc;
}
