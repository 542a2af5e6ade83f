#include "checkpointer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Caller's thread, before the copy: the rows written so far leave stdio. */
static int flush_metrics(void *ctx, ct_err *e)
{
	metrics *m = ctx;
	return m ? metrics_flush(m, e) : 0;
}

/* Writing thread, before the checkpoint: those rows become durable. */
static int sync_metrics(void *ctx, ct_err *e)
{
	metrics *m = ctx;
	if (m && m->f && fsync(fileno(m->f)) != 0) {
		int err = errno;
		metrics_mark_broken(m); /* its pages may be lost: the next flush rewrites it */
		return ct_errno(e, CT_EIO, err, "%s: fsync failed", m->path);
	}
	return 0;
}

static void refresh(checkpointer *cp)
{
	ckpt_manager_stats st = ckpt_manager_get_stats(cp->mgr);
	cp->last_step = ckpt_manager_last_step(cp->mgr);
	cp->last_write_sec = st.last_write_sec;
	cp->last_stall_sec = st.last_stall_sec;
}

int checkpointer_init(checkpointer *cp, const char *dir, train_state *s, metrics *m, int async,
		      int keep_last, int keep_every, ct_err *e)
{
	memset(cp, 0, sizeof *cp);
	cp->metrics = m;
	cp->last_step = -1;
	ckpt_manager_opts o = {
		.keep_last = keep_last,
		.keep_every = keep_every,
		.async = async,
		.before_take = flush_metrics,
		.before_write = sync_metrics,
		.hook_ctx = m,
	};
	cp->mgr = ckpt_manager_new(dir, &o, e);
	if (!cp->mgr)
		return e ? e->code : CT_EIO;
	int rc = snapshot_register(ckpt_manager_fields(cp->mgr), s, e);
	if (rc < 0) {
		ckpt_manager_free(cp->mgr);
		cp->mgr = NULL;
	}
	return rc;
}

int checkpointer_save(checkpointer *cp, const train_state *s, ct_err *e)
{
	int rc = ckpt_manager_save(cp->mgr, s->step, e);
	refresh(cp);
	return rc;
}

int checkpointer_wait(checkpointer *cp, ct_err *e)
{
	int rc = ckpt_manager_wait(cp->mgr, e);
	refresh(cp);
	return rc;
}

void checkpointer_mark_saved(checkpointer *cp, int64_t step)
{
	ckpt_manager_mark_saved(cp->mgr, step);
	cp->last_step = step;
}

void checkpointer_release(checkpointer *cp)
{
	ckpt_manager_free(cp->mgr);
	cp->mgr = NULL;
}
