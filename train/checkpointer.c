#include "checkpointer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../ckpt/discover.h"
#include "../util/log.h"

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The write itself; runs on the caller's thread (sync) or the writer thread. */
static int write_snapshot(checkpointer *cp, ct_err *e)
{
	double t0 = now_sec();
	if (cp->metrics && cp->metrics->f && fsync(fileno(cp->metrics->f)) != 0)
		return ct_errno(e, CT_EIO, errno, "%s: fsync failed", cp->metrics->path);
	char *path = ckpt_path_for_step(cp->dir, cp->sn.step);
	CT_ASSERT(path);
	int rc = snapshot_write_buffered(&cp->sn, path, &cp->image, &cp->image_cap, e);
	if (rc == 0) {
		cp->last_step = cp->sn.step;
		log_debug("checkpoint %s written", path);
		ct_err re = {0};
		if (ckpt_retain(cp->dir, cp->keep_last, cp->keep_every, &re) < 0)
			log_warn("retention in %s failed: %s", cp->dir, re.msg);
	}
	free(path);
	cp->last_write_sec = now_sec() - t0;
	return rc;
}

static void *writer_main(void *arg)
{
	checkpointer *cp = arg;
	pthread_mutex_lock(&cp->mu);
	for (;;) {
		while (!cp->busy && !cp->quit)
			pthread_cond_wait(&cp->cv, &cp->mu);
		if (!cp->busy && cp->quit)
			break;
		pthread_mutex_unlock(&cp->mu);
		ct_err e = {0};
		int rc = write_snapshot(cp, &e);
		pthread_mutex_lock(&cp->mu);
		cp->last_rc = rc;
		cp->last_err = e;
		cp->busy = 0;
		pthread_cond_broadcast(&cp->cv);
	}
	pthread_mutex_unlock(&cp->mu);
	return NULL;
}

int checkpointer_init(checkpointer *cp, const char *dir, const train_state *s, metrics *m,
		      int async, int keep_last, int keep_every, ct_err *e)
{
	memset(cp, 0, sizeof *cp);
	snprintf(cp->dir, sizeof cp->dir, "%s", dir);
	cp->async = async;
	cp->keep_last = keep_last;
	cp->keep_every = keep_every;
	cp->metrics = m;
	cp->last_step = -1;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return ct_errno(e, CT_EIO, errno, "%s: cannot create directory", dir);
	int rc = snapshot_init(&cp->sn, s, e);
	if (rc < 0)
		return rc;
	pthread_mutex_init(&cp->mu, NULL);
	pthread_cond_init(&cp->cv, NULL);
	if (async) {
		if (pthread_create(&cp->thread, NULL, writer_main, cp) != 0) {
			log_warn("cannot start the checkpoint writer thread; writing synchronously");
			cp->async = 0;
		} else {
			cp->have_thread = 1;
		}
	}
	return 0;
}

int checkpointer_wait(checkpointer *cp, ct_err *e)
{
	pthread_mutex_lock(&cp->mu);
	while (cp->busy)
		pthread_cond_wait(&cp->cv, &cp->mu);
	int rc = cp->last_rc;
	if (rc < 0 && e)
		*e = cp->last_err;
	cp->last_rc = 0;
	pthread_mutex_unlock(&cp->mu);
	return rc;
}

int checkpointer_save(checkpointer *cp, const train_state *s, ct_err *e)
{
	double t0 = now_sec();
	int rc = checkpointer_wait(cp, e); /* at most one write in flight */
	if (rc < 0)
		return rc;
	if (cp->metrics) {
		rc = metrics_flush(cp->metrics, e);
		if (rc < 0)
			return rc;
	}
	snapshot_take(&cp->sn, s);
	if (!cp->async) {
		rc = write_snapshot(cp, e);
		cp->last_stall_sec = now_sec() - t0;
		return rc;
	}
	pthread_mutex_lock(&cp->mu);
	cp->busy = 1;
	pthread_cond_broadcast(&cp->cv);
	pthread_mutex_unlock(&cp->mu);
	cp->last_stall_sec = now_sec() - t0;
	return 0;
}

void checkpointer_release(checkpointer *cp)
{
	if (cp->have_thread) {
		pthread_mutex_lock(&cp->mu);
		cp->quit = 1;
		pthread_cond_broadcast(&cp->cv);
		pthread_mutex_unlock(&cp->mu);
		pthread_join(cp->thread, NULL);
		cp->have_thread = 0;
	}
	if (cp->sn.params) {
		pthread_mutex_destroy(&cp->mu);
		pthread_cond_destroy(&cp->cv);
	}
	snapshot_release(&cp->sn);
	free(cp->image);
	cp->image = NULL;
}
