#include "trainer.h"

#include <math.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../dist/replica.h"
#include "../util/atomic.h"
#include "../util/log.h"
#include "export.h"
#include "metrics.h"
#include "progress.h"
#include "signals.h"
#include "state_ckpt.h"

/* train.shards > 1 (issue 17): each batch is cut into S fixed shards
 * (ct_shard_rows), each shard's gradient is computed on its own rows and the
 * S gradients are summed by one fixed tree (dist/shards.h); with P processes
 * each computes its S/P shards and ct_dist_step_exchange applies the upper
 * levels.  The node's counters carry what every process must agree on. */
enum { NODE_ROWS, NODE_CKPT_DUE, NODE_SIGTERM, NODE_SIGINT, NODE_SIGHUP, NODE_INTS };

typedef struct sharded {
	int on;           /* train.shards > 1 */
	int first, count; /* this process's shards */
	ct_comm *comm;    /* the job's processes, or solo */
	ct_comm solo;
	ct_shard_layout l;
	ct_shard_tree t;
	ct_dist_exchange x;
	float *xb; /* the global batch's features (the graph's input holds one shard) */
	int32_t *yb;
	float *grad0; /* ps.grad outside the step */
	void *root;   /* the last step's root */
	int sig;      /* the signal every process agreed to stop on, 0 = none */
} sharded;

typedef struct loop {
	ct_train_state *s;
	const char *dir;
	metrics met;
	ct_ckpt_manager *cm; /* DIR/checkpoints, with the fields of s */
	const ct_trainer_opts *o;
	progress prog;
	int32_t *labels;
	double t0, last_ckpt, window_t0;
	int64_t window_samples;
	double grad_norm; /* of the last step that computed it (a logged one) */
	double ckpt_sec;  /* spent in save() since the last row */
	int saves;        /* save() calls since the last row */
	ct_trainer_result *r;
	int warned_nonfinite;
	int writer;         /* this process writes the run's files (rank 0) */
	int64_t saved_step; /* of the last save() call, the same on every process */
	sharded sh;
	char note[1024];
} loop;

/* 1 if no value of x is NaN or infinite.  An integer max over the exponent
 * bits, so the compiler vectorises it (a float test would not be). */
static int floats_finite(const float *x, size_t n)
{
	uint32_t worst = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &x[i], sizeof u);
		u &= 0x7f800000u;
		worst = u > worst ? u : worst;
	}
	return worst != 0x7f800000u;
}

/* Parameters and optimizer buffers: what a checkpoint or an export saves. */
static int state_finite(const ct_train_state *s)
{
	return floats_finite(s->model.ps.data, s->model.ps.n) &&
	       (!s->opt.m || floats_finite(s->opt.m, s->opt.n)) &&
	       (!s->opt.v || floats_finite(s->opt.v, s->opt.n));
}

/* The update from a step's gradient `grad` and loss: returns 1 if the loss
 * or a gradient was not finite: then, unless train.on_nonfinite = warn,
 * nothing was updated (s->step is not advanced either when the run is to
 * stop there).  *gnorm (when not NULL) receives the global gradient norm
 * before clipping, NaN for a skipped batch: computed only for the steps that
 * write a metrics row. */
static int apply_step(ct_train_state *s, float *grad, int rows, double loss, double *gnorm)
{
	int bad = !isfinite(loss) || !floats_finite(grad, s->model.ps.n);
	const char *mode = s->cfg.on_nonfinite;
	if (bad && strcmp(mode, "stop") == 0)
		return 1;
	if (gnorm)
		*gnorm = (double)NAN;
	if (!bad || strcmp(mode, "warn") == 0) {
		double norm = 0.0;
		if (s->cfg.grad_clip > 0)
			norm = ct_grad_clip_norm(grad, s->model.ps.n, s->cfg.grad_clip);
		else if (gnorm)
			norm = ct_grad_global_norm(grad, s->model.ps.n);
		if (gnorm)
			*gnorm = norm;
		ct_optim_step(&s->opt, s->model.ps.data, grad, ct_sched_lr(&s->sched, s->step));
	}
	s->step++;
	s->samples_seen += rows;
	return bad;
}

/* One optimizer step on the batch already in the graph's input; *loss gets
 * its loss (apply_step for the rest). */
static int train_step(ct_train_state *s, int rows, double *loss, double *gnorm)
{
	ct_mlp_graph *mg = &s->model.train;
	ct_graph_set_rows(mg->g, rows);
	ct_graph_forward(mg->g);
	*loss = ct_graph_loss(mg->g, mg->loss);
	ct_graph_backward(mg->g, mg->loss);
	return apply_step(s, s->model.ps.grad, rows, *loss, gnorm);
}

static int sharded_init(loop *L, ct_comm *comm, ct_err *e)
{
	ct_train_state *s = L->s;
	sharded *h = &L->sh;
	int S = s->cfg.shards, P = comm ? comm->size : 1, rank = comm ? comm->rank : 0;
	h->on = S > 1;
	h->solo.size = 1;
	h->comm = comm ? comm : &h->solo;
	if (!h->on && P == 1)
		return 0;
	if (S % P != 0)
		return ct_errf(e, CT_ECONFIG,
			       "%d processes do not divide train.shards = %d: run on a number of "
			       "processes that divides it",
			       P, S);
	size_t d = (size_t)s->train.d, B = (size_t)s->cfg.batch_size;
	h->xb = malloc(B * d * sizeof *h->xb);
	h->yb = calloc(B, sizeof *h->yb);
	if (!h->xb || !h->yb)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	ct_shard_owned(S, P, rank, &h->first, &h->count);
	ct_shard_layout_init(&h->l, s->model.ps.n, 1, NODE_INTS);
	int rc = ct_shard_tree_init(&h->t, &h->l, h->count, e);
	if (rc == 0)
		rc = ct_dist_exchange_init(&h->x, &h->l, P, e);
	h->grad0 = s->model.ps.grad;
	return rc;
}

static void sharded_release(loop *L)
{
	sharded *h = &L->sh;
	if (h->grad0)
		L->s->model.ps.grad = h->grad0;
	ct_dist_exchange_release(&h->x);
	ct_shard_tree_release(&h->t);
	free(h->xb);
	free(h->yb);
	memset(h, 0, sizeof *h);
}

/* This process's shards of the batch in h->xb, h->yb: each one's gradient
 * (seeded n_i / rows, so the sum is the batch mean's) written straight into
 * its tree leaf, its loss sum and rows beside it.  Dropout masks are keyed by
 * the row's position in the global batch. */
static void shards_compute(ct_train_state *s, sharded *h, int rows)
{
	ct_mlp_graph *mg = &s->model.train;
	float *xin = ct_graph_value(mg->g, mg->in);
	size_t d = (size_t)s->train.d;
	ct_shard_tree_reset(&h->t);
	for (int i = h->first; i < h->first + h->count; i++) {
		int64_t start, n;
		ct_shard_rows(rows, s->cfg.shards, i, &start, &n);
		void *leaf = ct_shard_tree_leaf(&h->t);
		if (n == 0) { /* a short last batch: shards may be empty */
			ct_shard_node_zero(&h->l, leaf);
			ct_shard_tree_push(&h->t);
			continue;
		}
		s->model.ps.grad = ct_shard_floats(&h->l, leaf);
		memcpy(xin, h->xb + (size_t)start * d, (size_t)n * d * sizeof *xin);
		ct_graph_set_labels(mg->g, mg->loss, h->yb + start);
		ct_graph_set_rows(mg->g, (int)n);
		ct_graph_set_dropout_counter(mg->g, s->cfg.seed, (uint64_t)s->step,
					     (uint64_t)start);
		ct_graph_forward(mg->g);
		double loss = ct_graph_loss(mg->g, mg->loss);
		ct_graph_backward_seed(mg->g, mg->loss, (float)((double)n / (double)rows));
		ct_shard_doubles(&h->l, leaf)[0] = loss * (double)n;
		ct_shard_ints(&h->l, leaf)[NODE_ROWS] = n;
		ct_shard_tree_push(&h->t);
	}
	s->model.ps.grad = h->grad0;
}

/* The sharded step: this process's shards, the exchange (with the votes:
 * a pending signal, rank 0's clock for checkpoint.every_seconds), then the
 * same update on every process from the root. */
static int sharded_step(loop *L, int rows, double *loss, double *gnorm, int *bad, ct_err *e)
{
	ct_train_state *s = L->s;
	sharded *h = &L->sh;
	shards_compute(s, h, rows);
	void *mine = ct_shard_tree_root(&h->t);
	int64_t *v = ct_shard_ints(&h->l, mine);
	int sig = signals_pending();
	v[NODE_SIGTERM] = sig == SIGTERM;
	v[NODE_SIGINT] = sig == SIGINT;
	v[NODE_SIGHUP] = sig == SIGHUP;
	v[NODE_CKPT_DUE] = L->writer && s->cfg.every_seconds > 0 &&
			   progress_now() - L->last_ckpt >= s->cfg.every_seconds;
	int rc = ct_dist_step_exchange(h->comm, &h->x, mine, sig != 0, &h->root, e);
	if (rc < 0)
		return rc;
	v = ct_shard_ints(&h->l, h->root);
	CT_ASSERT(v[NODE_ROWS] == rows);
	h->sig = v[NODE_SIGTERM] ? SIGTERM : v[NODE_SIGINT] ? SIGINT : v[NODE_SIGHUP] ? SIGHUP : 0;
	*loss = ct_shard_doubles(&h->l, h->root)[0] / (double)rows;
	*bad = apply_step(s, ct_shard_floats(&h->l, h->root), rows, *loss, gnorm);
	return 0;
}

/* Where the last finite state is, for the messages below. */
static const char *finite_note(loop *L)
{
	ct_err we = {0};
	if (!L->cm)
		return "rank 0 says where the last finite state is";
	if (ct_ckpt_manager_wait(L->cm, &we) < 0) {
		snprintf(L->note, sizeof L->note,
			 "the last checkpoint write failed (%.300s); the earlier ones hold finite "
			 "state",
			 we.msg);
		return L->note;
	}
	int64_t last = ct_ckpt_manager_last_step(L->cm);
	if (last < 0)
		return "no checkpoint was written yet";
	snprintf(L->note, sizeof L->note,
		 "the newest checkpoint (step %lld) holds finite state (to go on past such "
		 "batches: ctrain resume %s --set train.on_nonfinite=skip_batch)",
		 (long long)last, L->dir);
	return L->note;
}

/* train.on_nonfinite for a step whose loss or gradient was not finite. */
static int on_nonfinite(loop *L, double loss, ct_err *e)
{
	ct_train_state *s = L->s;
	const char *what = isfinite(loss) ? "gradient" : "loss";
	progress_clear(&L->prog);
	if (strcmp(s->cfg.on_nonfinite, "stop") == 0)
		return ct_errf(
			e, CT_ECORRUPT,
			"non-finite %s (loss %g) at step %lld (epoch %lld): training stopped "
			"(train.on_nonfinite = stop) with no update from that batch; %s",
			what, loss, (long long)s->step + 1, (long long)s->ld.st.epoch + 1,
			finite_note(L));
	if (strcmp(s->cfg.on_nonfinite, "skip_batch") == 0)
		ct_log_warn("non-finite %s (loss %g) at step %lld: batch skipped, no update "
			    "(train.on_nonfinite = skip_batch)",
			    what, loss, (long long)s->step);
	else if (!L->warned_nonfinite)
		ct_log_warn("non-finite %s (loss %g) at step %lld: training goes on "
			    "(train.on_nonfinite = warn); no checkpoint is written while the state "
			    "is not finite",
			    what, loss, (long long)s->step);
	L->warned_nonfinite = 1;
	return 0;
}

/* Never saves a state holding NaN or inf: with train.on_nonfinite = warn the
 * checkpoint is skipped (so retention keeps the finite ones), otherwise the
 * run stops. */
static int state_check(loop *L, int *skip, ct_err *e)
{
	ct_train_state *s = L->s;
	*skip = 0;
	if (state_finite(s))
		return 0;
	if (strcmp(s->cfg.on_nonfinite, "warn") == 0) {
		progress_clear(&L->prog);
		ct_log_warn("step %lld: the weights or optimizer state are not finite; checkpoint "
			    "not written",
			    (long long)s->step);
		*skip = 1;
		return 0;
	}
	return ct_errf(e, CT_ECORRUPT,
		       "the weights or optimizer state became non-finite by step %lld (an update "
		       "overflowed): training stopped before saving them; %s",
		       (long long)s->step, finite_note(L));
}

static void evaluate(ct_train_state *s, double *loss, double *acc)
{
	int64_t correct = 0;
	ct_mlp_eval(&s->model, s->val.x, s->val.y, s->val.n, NULL, loss, &correct);
	*acc = s->val.n ? (double)correct / (double)s->val.n : 0.0;
}

/* keep_best and early stopping: the monitored metric of this evaluation. */
static int track_best(ct_train_state *s, double val_loss, double val_acc)
{
	int higher = strcmp(s->cfg.monitor, "val_accuracy") == 0;
	int flags = ct_best_update(&s->best, s->step, higher ? val_acc : val_loss);
	if (flags & CT_BEST_STOP)
		ct_log_info("early stopping at step %lld: %s did not improve for %d evaluations",
			    (long long)s->step, s->cfg.monitor, s->cfg.patience);
	return flags;
}

/* One metrics row, with an evaluation when eval_now; *best gets the BEST_*
 * flags of that evaluation (0 without one). */
static int write_row(loop *L, int eval_now, int *best, ct_err *e)
{
	ct_train_state *s = L->s;
	double now = progress_now();
	metrics_row row = {
		.step = s->step,
		.epoch = (int64_t)s->ld.st.epoch,
		.loss = s->loss_count ? s->loss_sum / (double)s->loss_count : 0.0,
		.lr = ct_sched_lr(&s->sched, s->step - 1),
		.samples_per_sec =
			now > L->window_t0 ? (double)L->window_samples / (now - L->window_t0) : 0,
		.elapsed_sec = s->elapsed + (now - L->t0),
		.grad_norm = L->grad_norm,
		.has_ckpt = L->saves > 0,
		.ckpt_sec = L->ckpt_sec,
	};
	L->saves = 0;
	L->ckpt_sec = 0.0;
	if (eval_now && s->val.n > 0) {
		row.has_val = 1;
		evaluate(s, &row.val_loss, &row.val_accuracy);
		L->r->has_val = 1;
		L->r->val_loss = row.val_loss;
		L->r->val_accuracy = row.val_accuracy;
		*best = track_best(s, row.val_loss, row.val_accuracy);
		if (*best & CT_BEST_STOP)
			L->r->early_stopped = 1;
	}
	L->r->loss = row.loss;
	s->loss_sum = 0.0;
	s->loss_count = 0;
	L->window_samples = 0;
	L->window_t0 = progress_now();
	progress_row(&L->prog, row.step, row.epoch, s->cfg.epochs, row.loss, row.lr,
		     row.samples_per_sec, row.has_val, row.val_loss, row.val_accuracy);
	return L->writer ? metrics_write(&L->met, &row, e) : 0;
}

static void warn_failed(loop *L, const ct_err *se)
{
	progress_clear(&L->prog);
	ct_log_warn("checkpoint failed, training continues (checkpoint.on_error = warn): %s",
		    se->msg);
}

/* Several processes: every replica's parameters and optimizer state must
 * be the same bytes (one 64-bit digest compared across them). */
static int check_replicas(loop *L, ct_err *e)
{
	const ct_train_state *s = L->s;
	if (!L->sh.comm || L->sh.comm->size == 1)
		return 0;
	uint64_t d = ct_dist_digest(s->model.ps.data, s->model.ps.n * sizeof(float));
	if (s->opt.m)
		d = d * 0x9e3779b97f4a7c15ull + ct_dist_digest(s->opt.m, s->opt.n * sizeof(float));
	if (s->opt.v)
		d = d * 0x9e3779b97f4a7c15ull + ct_dist_digest(s->opt.v, s->opt.n * sizeof(float));
	return ct_dist_check_replicas(L->sh.comm, d, s->step, e);
}

/* Saves a checkpoint, applying checkpoint.on_error. */
static int save(loop *L, ct_err *e)
{
	ct_train_state *s = L->s;
	int warn = strcmp(s->cfg.on_error, "warn") == 0;
	double t = progress_now();
	L->last_ckpt = t;
	L->saved_step = s->step;
	int skip;
	int rc = state_check(L, &skip, e);
	if (rc < 0 || skip)
		return rc;
	if ((rc = check_replicas(L, e)) < 0 || !L->writer)
		return rc;
	ct_err se = {0};
	/* With warn, a failed background write is reported here and this
	 * checkpoint is still written: the retry is at this cadence point, not
	 * the one after. */
	if (warn && ct_ckpt_manager_wait(L->cm, &se) < 0)
		warn_failed(L, &se);
	rc = ct_ckpt_manager_save(L->cm, s->step, &se);
	L->ckpt_sec += progress_now() - t;
	L->saves++;
	if (rc == 0)
		return 0;
	if (warn) {
		warn_failed(L, &se);
		return 0;
	}
	*e = se;
	return rc;
}

static int checkpoint_due(loop *L, int epoch_end)
{
	const ct_config *c = &L->s->cfg;
	if (c->every_steps > 0 && L->s->step % c->every_steps == 0)
		return 1;
	if (c->every_epoch && epoch_end)
		return 1;
	if (L->sh.xb) /* rank 0's clock, agreed on in the step's exchange */
		return (int)ct_shard_ints(&L->sh.l, L->sh.root)[NODE_CKPT_DUE];
	return c->every_seconds > 0 && progress_now() - L->last_ckpt >= c->every_seconds;
}

static int run_loop(loop *L, ct_err *e)
{
	ct_train_state *s = L->s;
	const ct_config *c = &s->cfg;
	ct_mlp_graph *mg = &s->model.train;
	float *xin = ct_graph_value(mg->g, mg->in);
	ct_graph_set_labels(mg->g, mg->loss, L->labels);
	int stop = ct_best_should_stop(&s->best);
	if (stop) { /* resumed from the checkpoint written when it stopped */
		ct_log_info("early stopping at step %lld: %s did not improve for %d evaluations",
			    (long long)s->step, c->monitor, c->patience);
		L->r->early_stopped = 1;
	}
	int by_shards = L->sh.xb != NULL;
	while (!stop && s->ld.st.epoch < (uint64_t)c->epochs) {
		int rows = by_shards ? ct_loader_next(&s->ld, L->sh.xb, L->sh.yb)
				     : ct_loader_next(&s->ld, xin, L->labels);
		if (rows < 0) { /* a streamed read failed or found a bad row */
			*e = s->ld.err;
			return rows;
		}
		if (rows == 0)
			continue; /* the loader moved to the next epoch */
		int epoch_end = s->ld.st.cursor == (uint64_t)s->train.n;
		int64_t next = s->step + 1;
		int logs = epoch_end || next % c->log_every == 0 ||
			   (c->eval_every > 0 && next % c->eval_every == 0);
		double loss;
		int bad = 0;
		if (by_shards) {
			int rc = sharded_step(L, rows, &loss, logs ? &L->grad_norm : NULL, &bad, e);
			if (rc < 0)
				return rc;
		} else {
			bad = train_step(s, rows, &loss, logs ? &L->grad_norm : NULL);
		}
		if (bad) {
			int rc = on_nonfinite(L, loss, e);
			if (rc < 0)
				return rc;
		}
		if (isfinite(loss) || strcmp(c->on_nonfinite, "warn") == 0) {
			s->loss_sum += loss;
			s->loss_count++;
		}
		L->window_samples += rows;
		progress_tick(&L->prog, s->step, (int64_t)s->ld.st.epoch, c->epochs, loss);
		int eval_now = c->eval_every > 0 ? s->step % c->eval_every == 0 : epoch_end;
		int rc = 0, best = 0;
		if (eval_now || epoch_end || s->step % c->log_every == 0)
			rc = write_row(L, eval_now, &best, e);
		stop = (best & CT_BEST_STOP) != 0;
		/* A step among the keep_best best is saved now or never. */
		if (rc == 0 && ((best & CT_BEST_KEPT) || checkpoint_due(L, epoch_end)))
			rc = save(L, e);
		if (rc < 0)
			return rc;
		if (L->o && L->o->after_step)
			L->o->after_step(L->o->ctx, s->step);
		if (by_shards ? L->sh.sig != 0 : signals_pending() != 0)
			return CT_EINTERRUPTED;
	}
	return 0;
}

/* The final (or interrupt) checkpoint, durable on return. */
static int finish(loop *L, ct_err *e)
{
	if (!L->writer) { /* the replica check rank 0 makes before writing */
		int skip = 0, rc = 0;
		if (L->saved_step != L->s->step)
			rc = state_check(L, &skip, e);
		return rc == 0 && !skip && L->saved_step != L->s->step ? check_replicas(L, e) : rc;
	}
	int rc = ct_ckpt_manager_wait(L->cm, e);
	if (rc < 0 && strcmp(L->s->cfg.on_error, "warn") == 0) { /* retried just below */
		warn_failed(L, e);
		rc = 0;
	}
	int skip = 0;
	int due = ct_ckpt_manager_last_step(L->cm) != L->s->step;
	int check = L->saved_step != L->s->step; /* what the other processes do */
	if (rc == 0 && (due || check))
		rc = state_check(L, &skip, e);
	if (rc == 0 && check && !skip)
		rc = check_replicas(L, e);
	if (rc == 0 && due && !skip)
		rc = ct_ckpt_manager_finish(L->cm, L->s->step, e);
	return rc;
}

/* Temporary files of an earlier process killed while writing metrics.csv or
 * model.safetensors (the checkpoint directory's are removed by the checkpoint
 * manager, ct_ckpt_manager_new). */
static void remove_leftovers(const char *dir)
{
	int n = ct_atomic_cleanup_tmp(dir, NULL);
	if (n > 0)
		ct_log_info("removed %d temporary file(s) left in %s by an interrupted write", n,
			    dir);
}

/* Caller's thread, before the copy: the rows written so far leave stdio. */
static int flush_metrics(void *ctx, ct_err *e) { return metrics_flush(ctx, e); }

/* Writing thread, before the checkpoint: those rows become durable. */
static int sync_metrics(void *ctx, ct_err *e)
{
	metrics *m = ctx;
	if (m->f && fsync(fileno(m->f)) != 0) {
		int err = errno;
		metrics_mark_broken(m); /* its pages may be lost: the next flush rewrites it */
		return ct_errno(e, CT_EIO, err, "%s: fsync failed", m->path);
	}
	return 0;
}

/* The first error wins: *e keeps it, later ones are dropped. */
static int keep_first(int rc, ct_err *e, int rc2, const ct_err *e2)
{
	if (rc < 0 || rc2 >= 0)
		return rc;
	*e = *e2;
	return rc2;
}

int ct_trainer_run(ct_train_state *s, const char *dir, int64_t resume_step,
		   const ct_trainer_opts *o, ct_trainer_result *r, ct_err *e)
{
	memset(r, 0, sizeof *r);
	loop L;
	memset(&L, 0, sizeof L);
	L.s = s;
	L.dir = dir;
	L.r = r;
	L.o = o;
	L.saved_step = resume_step;
	ct_comm *comm = o ? o->comm : NULL;
	L.writer = !comm || comm->rank == 0;
	char path[4200];
	L.labels = calloc((size_t)s->cfg.batch_size, sizeof *L.labels);
	if (!L.labels)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	int rc = sharded_init(&L, comm, e);
	if (rc == 0 && L.writer) {
		remove_leftovers(dir);
		snprintf(path, sizeof path, "%s/train.log", dir);
		ct_log_set_fallback(path); /* where log lines go if stderr's reader goes away */
		snprintf(path, sizeof path, "%s/metrics.csv", dir);
		rc = metrics_open(&L.met, path, resume_step, e);
	}
	ct_ckpt_manager_opts co = {
		.keep_last = s->cfg.keep_last,
		.keep_every = s->cfg.keep_every,
		.async = s->cfg.async,
		.before_take = flush_metrics,
		.before_write = sync_metrics,
		.hook_ctx = &L.met,
	};
	snprintf(path, sizeof path, "%s/checkpoints", dir);
	if (rc == 0 && L.writer && !(L.cm = state_ckpt_manager(path, s, &co, e)))
		rc = e->code;
	if (rc < 0) {
		sharded_release(&L);
		free(L.labels);
		if (L.writer)
			metrics_close(&L.met, NULL);
		return rc;
	}
	if (resume_step >= 0 && L.cm)
		ct_ckpt_manager_mark_saved(L.cm, resume_step); /* it exists already */
	signals_install();
	L.t0 = L.last_ckpt = L.window_t0 = progress_now();
	int64_t start_step = s->step, start_samples = s->samples_seen;
	progress_init(&L.prog, start_step, ct_train_total_steps(s));
	rc = run_loop(&L, e);
	progress_clear(&L.prog);
	double loop_sec = progress_now() - L.t0;
	s->elapsed += loop_sec;
	int sig = L.sh.xb ? L.sh.sig : signals_pending(), interrupted = rc == CT_EINTERRUPTED;
	/* The final (or interrupt) checkpoint.  After an error (checkpoint.on_error
	 * = stop) there is none: the run stops where its error message says, and
	 * a failing disk is not written again; the write in flight is awaited. */
	ct_err fe = {0};
	rc = interrupted ? 0 : rc;
	rc = keep_first(rc, e,
			rc == 0 ? finish(&L, &fe)
			: L.cm  ? ct_ckpt_manager_wait(L.cm, &fe)
				: 0,
			&fe);
	if (rc == 0 && interrupted) {
		r->signal = sig;
		ct_log_info(
			"interrupted at step %lld; checkpoint saved; resume with: ctrain resume %s",
			(long long)s->step, dir);
		rc = ct_errf(e, CT_EINTERRUPTED, "interrupted by signal %d", sig);
	}
	ct_err me = {0};
	if (L.writer)
		rc = keep_first(rc, e, metrics_close(&L.met, &me), &me);
	ct_ckpt_manager_free(L.cm);
	sharded_release(&L);
	free(L.labels);
	r->steps = s->step;
	r->epochs = (int64_t)s->ld.st.epoch;
	r->seconds = loop_sec;
	r->samples_per_sec =
		loop_sec > 0 ? (double)(s->samples_seen - start_samples) / loop_sec : 0;
	if (rc == 0 && !state_finite(s))
		rc = ct_errf(e, CT_ECORRUPT,
			     "training ended with non-finite weights (train.on_nonfinite = warn): "
			     "%s/model.safetensors not written; the checkpoints in %s/checkpoints "
			     "hold finite state",
			     dir, dir);
	if (rc == 0 && L.writer) {
		snprintf(path, sizeof path, "%s/model.safetensors", dir);
		rc = ct_model_export_norm(&s->model, &s->norm, path, CT_DT_F32, NULL, e);
		if (rc == 0)
			ct_log_info("wrote %s", path);
	}
	return rc;
}
