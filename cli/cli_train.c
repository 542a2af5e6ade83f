/* cli_train.c — `ctrain train` and `ctrain resume`. */
#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../dist/comm.h"
#include "../util/atomic.h"
#include "../ckpt/discover.h"
#include "../ckpt/h5c.h"
#include "../util/log.h"
#include "cli.h"
#include "events.h"
#include "fingerprint.h"
#include "kernel.h"
#include "plot.h"
#include "resume_from.h"
#include "rundir.h"
#include "../train/signals.h"
#include "supervise.h"
#include "../train/state_ckpt.h"
#include "source.h"
#include "../train/trainer.h"

static int g_interrupt_signal;
/* The processes of the job (dist/comm.h): one, unless a launcher (mpirun)
 * started this one.  Rank 0 writes the run's files; every failure of a rank
 * ends the whole job (comm_end), so no rank waits for a dead peer. */
static ct_comm g_comm = {.size = 1};

/* 1 on the process that owns the run directory. */
static int rank0(void) { return g_comm.rank == 0; }

/* After kernel pinning (it may re-execute: never after MPI_Init): joins the
 * job, quiets ranks > 0 (WARN and ERROR only) and checks that every rank
 * runs rank 0's OpenBLAS core (another one rounds differently). */
static int comm_start(ct_err *e)
{
	int rc = ct_comm_init(&g_comm, e);
	if (rc < 0 || g_comm.size == 1)
		return rc;
	if (g_comm.rank > 0 && ct_log_get_level() < CT_LOG_WARN)
		ct_log_set_level(CT_LOG_WARN);
	char mine[64] = {0};
	snprintf(mine, sizeof mine, "%s", ct_blas_core_name());
	char *all = calloc((size_t)g_comm.size, sizeof mine);
	if (!all)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	rc = ct_comm_allgather(&g_comm, mine, all, sizeof mine, e);
	for (int r = 1; rc == 0 && r < g_comm.size; r++)
		if (strcmp(all + (size_t)r * sizeof mine, all) != 0)
			rc = ct_errf(e, CT_ECONFIG,
				     "rank %d runs OpenBLAS core %s but rank 0 runs %s: every rank "
				     "must compute with the same kernel (set train.kernel = %s, or "
				     "OPENBLAS_CORETYPE=%s for every rank)",
				     r, all + (size_t)r * sizeof mine, all, all, all);
	free(all);
	return rc;
}

/* Ends the job: a failure on any rank aborts every rank (MPI_Abort), else
 * MPI_Finalize.  A single process returns rc. */
static int comm_end(int rc, ct_err *e)
{
	if (g_comm.size > 1 && rc < 0 && rc != CT_EINTERRUPTED) {
		ct_log_error("rank %d of %d: %s", g_comm.rank, g_comm.size, e->msg);
		(void)fflush(stdout);
		ct_comm_abort(&g_comm, rc == CT_EUSAGE || rc == CT_ECONFIG ? 2 : 1);
	}
	ct_err fe = {0};
	if (g_comm.mpi && ct_comm_finalize(&g_comm, &fe) < 0 && rc >= 0) {
		*e = fe;
		rc = fe.code;
	}
	return rc;
}

/* Rank 0's bytes to every rank: *buf (malloc'ed, *len bytes) on rank 0; the
 * others receive a malloc'ed copy (NUL-terminated, so text may be parsed). */
static int bcast_bytes(char **buf, size_t *len, ct_err *e)
{
	uint64_t n = rank0() ? (uint64_t)*len : 0;
	int rc = ct_comm_bcast(&g_comm, &n, sizeof n, 0, e);
	if (rc < 0 || (rank0() && n == 0))
		return rc;
	if (rank0())
		return ct_comm_bcast(&g_comm, *buf, *len, 0, e);
	*len = (size_t)n;
	*buf = malloc(*len + 1);
	if (!*buf)
		return ct_errf(e, CT_ENOMEM, "out of memory for %zu bytes from rank 0", *len);
	(*buf)[*len] = '\0';
	return *len ? ct_comm_bcast(&g_comm, *buf, *len, 0, e) : 0;
}

int cli_interrupt_signal(void) { return g_interrupt_signal; }

typedef struct train_args {
	const char *config, *run_dir, *init_from, *from;
	const char *sets[CLI_MAX_REPEAT], *renames[CLI_MAX_REPEAT];
	int n_sets, non_strict, with_optimizer, restarts, overwrite, n_renames;
	int accept_data_change; /* resume: go on although the data's fingerprint changed */
	char **launcher;        /* after `--`: runs each attempt of --restarts (supervise.h) */
	int n_launcher, has_launcher, has_restarts;
} train_args;

static int need_value(int argc, char **argv, int i, ct_err *e)
{
	if (i + 1 >= argc)
		return ct_errf(e, CT_EUSAGE, "%s needs a value", argv[i]);
	return 0;
}

static int parse_train_args(int argc, char **argv, int resume, train_args *a, ct_err *e)
{
	memset(a, 0, sizeof *a);
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i];
		int rc = 0;
		if (strcmp(o, "--") == 0) { /* the rest is the launcher of --restarts */
			a->has_launcher = 1;
			a->launcher = argv + i + 1;
			a->n_launcher = argc - i - 1;
			break;
		}
		if (!resume && strcmp(o, "--config") == 0 &&
		    (rc = need_value(argc, argv, i, e)) == 0)
			a->config = argv[++i];
		else if (!resume && strcmp(o, "--run-dir") == 0 &&
			 (rc = need_value(argc, argv, i, e)) == 0)
			a->run_dir = argv[++i];
		else if (!resume && strcmp(o, "--init-from") == 0 &&
			 (rc = need_value(argc, argv, i, e)) == 0)
			a->init_from = argv[++i];
		else if (!resume && strcmp(o, "--non-strict") == 0)
			a->non_strict = 1;
		else if (!resume && strcmp(o, "--with-optimizer") == 0)
			a->with_optimizer = 1;
		else if (strcmp(o, "--restarts") == 0 && (rc = need_value(argc, argv, i, e)) == 0) {
			char *end;
			long n = strtol(argv[++i], &end, 10);
			if (*end || end == argv[i] || n < 0 || n > 1000)
				return ct_errf(e, CT_EUSAGE, "--restarts %s: expected 0 to 1000",
					       argv[i]);
			a->restarts = (int)n;
			a->has_restarts = 1;
		} else if (resume && strcmp(o, "--from") == 0 &&
			   (rc = need_value(argc, argv, i, e)) == 0)
			a->from = argv[++i];
		else if (!resume && strcmp(o, "--overwrite") == 0)
			a->overwrite = 1;
		else if (resume && strcmp(o, "--accept-data-change") == 0)
			a->accept_data_change = 1;
		else if (!resume && strcmp(o, "--rename") == 0 &&
			 (rc = need_value(argc, argv, i, e)) == 0) {
			rc = cli_repeat(a->renames, &a->n_renames, "--rename", argv[++i], e);
			if (rc == 0)
				rc = source_check_rename(argv[i], e);
		} else if (strcmp(o, "--set") == 0 && (rc = need_value(argc, argv, i, e)) == 0) {
			rc = cli_repeat(a->sets, &a->n_sets, "--set", argv[++i], e);
		} else if (resume && o[0] != '-' && !a->run_dir)
			a->run_dir = o;
		else if (rc == 0)
			return ct_errf(e, CT_EUSAGE, "unknown argument '%s' (see ctrain %s --help)",
				       o, resume ? "resume" : "train");
		if (rc < 0)
			return rc;
	}
	if (!resume && !a->config)
		return ct_errf(e, CT_EUSAGE, "missing --config FILE (see ctrain train --help)");
	if (!a->run_dir)
		return ct_errf(e, CT_EUSAGE,
			       resume ? "missing run directory: ctrain resume DIR"
				      : "missing --run-dir DIR (see ctrain train --help)");
	if (a->has_launcher && !a->has_restarts)
		return ct_errf(e, CT_EUSAGE,
			       "'-- LAUNCHER...' goes with --restarts N (e.g. ctrain resume DIR "
			       "--restarts 3 -- mpirun -np 4)");
	if (a->has_launcher && a->n_launcher == 0)
		return ct_errf(
			e, CT_EUSAGE,
			"'--' must be followed by a launcher command (e.g. -- mpirun -np 4)");
	if ((a->non_strict || a->n_renames) && !a->init_from)
		return ct_errf(e, CT_EUSAGE, "--non-strict and --rename go with --init-from");
	if (a->with_optimizer && !a->init_from)
		return ct_errf(e, CT_EUSAGE, "--with-optimizer goes with --init-from CKPT.h5");
	return 0;
}

static int apply_threads(const ct_config *c, ct_err *e)
{
	if (ct_ops_set_threads(c->threads, c->deterministic) < 0)
		return ct_errf(e, CT_ENOMEM, "cannot start %d worker threads", c->threads);
	ct_log_debug("OpenBLAS core %s, %d thread(s), %s", ct_blas_core_name(), c->threads,
		     c->deterministic ? "deterministic partition" : "OpenBLAS threading");
	return 0;
}

static void print_summary(const ct_trainer_result *r)
{
	printf("done steps=%lld epochs=%lld loss=%.6f", (long long)r->steps, (long long)r->epochs,
	       r->loss);
	if (r->has_val)
		printf(" val_loss=%.6f val_accuracy=%.4f", r->val_loss, r->val_accuracy);
	printf(" samples_per_sec=%.1f seconds=%.2f\n", r->samples_per_sec, r->seconds);
	/* stdout's errors are checked at exit (main.c), except a reader gone
	 * away (`| head`): the run is complete and durable, its line is dropped. */
	if (fflush(stdout) != 0 && errno == EPIPE && !freopen("/dev/null", "w", stdout))
		ct_log_warn("stdout is a closed pipe: summary line dropped");
}

/* DIR/events.csv is advisory (status, plot): a failure to record is a warning. */
static void record_event(const char *dir, const char *ev, int64_t step, int64_t total,
			 const char *detail)
{
	ct_err we = {0};
	if (events_append(dir, ev, step, total, detail, &we) < 0)
		ct_log_warn("%s", we.msg);
}

/* Test-only (listed with every other at the top of tests/lib.sh), read
 * here, once, before any thread starts; the library only sees a
 * trainer_opts.after_step callback:
 * CTRAIN_TEST_SIGNAL_AT_STEP=N[:SIG] makes `ctrain train/resume` signal
 * itself (SIGTERM by default) right after step N, so that tests interrupt at
 * an exact step;
 * CTRAIN_TEST_PERTURB=RANK:STEP adds 1 to the first parameter on rank
 * RANK of a data-parallel job after step STEP (the replicas then differ: the
 * digest check at the next checkpoint must stop the job). */
typedef struct test_hooks {
	int64_t at;
	int sig;
	int perturb_rank;
	int64_t perturb_step;
	ct_train_state *s;
} test_hooks;

static void test_after_step(void *ctx, int64_t step)
{
	const test_hooks *t = ctx;
	if (t->sig && step == t->at)
		raise(t->sig);
	if (t->perturb_rank == g_comm.rank && step == t->perturb_step)
		t->s->model.ps.data[0] += 1.0f; /* a one-ulp change may round away by the check */
}

static int test_hooks_get(test_hooks *t, ct_train_state *s)
{
	memset(t, 0, sizeof *t);
	t->s = s;
	t->perturb_rank = -1;
	const char *v = getenv("CTRAIN_TEST_SIGNAL_AT_STEP");
	if (v) {
		const char *colon = strchr(v, ':');
		t->at = strtoll(v, NULL, 10);
		t->sig = colon ? (int)strtol(colon + 1, NULL, 10) : SIGTERM;
	}
	const char *p = getenv("CTRAIN_TEST_PERTURB");
	if (p && strchr(p, ':')) {
		t->perturb_rank = (int)strtol(p, NULL, 10);
		t->perturb_step = strtoll(strchr(p, ':') + 1, NULL, 10);
	}
	return v || p;
}

static int run(ct_train_state *s, const char *dir, int64_t resume_step, ct_err *e)
{
	ct_trainer_result r;
	int64_t total = ct_train_total_steps(s);
	if (rank0())
		record_event(dir, resume_step < 0 ? "start" : "resume",
			     resume_step < 0 ? 0 : resume_step, total, "");
	if (g_comm.size > 1)
		ct_log_info("%d processes (%s), train.shards = %d: %d shard(s) and %d rows of each "
			    "batch of %d per process",
			    g_comm.size, g_comm.version, s->cfg.shards, s->cfg.shards / g_comm.size,
			    s->cfg.batch_size / g_comm.size, s->cfg.batch_size);
	test_hooks th;
	int hooks = test_hooks_get(&th, s);
	ct_trainer_opts o = {hooks ? test_after_step : NULL, &th, &g_comm};
	int rc = ct_trainer_run(s, dir, resume_step, &o, &r, e);
	if (rank0())
		record_event(dir,
			     rc == 0                 ? "finished"
			     : rc == CT_EINTERRUPTED ? "interrupted"
						     : "failed",
			     s->step, total, rc < 0 && rc != CT_EINTERRUPTED ? e->msg : "");
	if (rank0() && (rc == 0 || rc == CT_EINTERRUPTED))
		plot_refresh(dir); /* DIR/curves.svg; an INFO line without gnuplot */
	if (rc == CT_EINTERRUPTED)
		g_interrupt_signal = r.signal;
	if (rc == 0 && rank0())
		print_summary(&r);
	return rc;
}

static int init_from(ct_train_state *s, const train_args *a, ct_err *e)
{
	const char *file = a->init_from;
	int non_strict = a->non_strict;
	char *path = NULL;
	source_kind kind;
	int rc = source_resolve(file, &path, &kind, e);
	ct_tdict d;
	ct_tdict_init(&d);
	source_set_renames(a->renames, a->n_renames);
	if (rc == 0)
		rc = source_read_tdict(path, kind, &d, e);
	char report[8192];
	ct_load_report lr;
	memset(&lr, 0, sizeof lr);
	if (rc == 0)
		rc = ct_params_load(&s->model.ps, &d, !non_strict, &lr, e);
	ct_load_report_format(&lr, &s->model.ps, &d, report, sizeof report);
	/* non-strict that matched nothing would train from random weights */
	if (rc == 0 && (size_t)s->model.ps.nv == lr.n_missing + lr.n_mismatched)
		rc = ct_errf(e, CT_EMISMATCH,
			     "no tensor of the file matches the model (%s); map the names with "
			     "--rename OLD=NEW",
			     report);
	ct_load_report_release(&lr);
	if (rc == 0 && non_strict)
		ct_log_info("--init-from %s (non-strict): %s", path, report);
	else if (rc == 0)
		ct_log_info("initialised all %d tensors from %s", s->model.ps.nv, path);
	else
		ct_err_prefix(e, "--init-from %s", file);
	ct_tdict_release(&d);
	free(path);
	return rc;
}

/* --restarts N: this process supervises children (supervise.h); the first
 * runs the command as given (without --restarts and the launcher), the others
 * resume DIR.  With a launcher, each is `LAUNCHER... /abs/path/ctrain ...`. */
static int supervise(int argc, char **argv, const char *cmd, const train_args *a, ct_err *e)
{
	char exe[4096];
	const char *self = "ctrain";
	if (a->has_launcher) { /* the launcher needs ctrain's own path */
		ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (len < 0 || len == (ssize_t)sizeof exe - 1)
			return ct_errno(e, CT_EIO, len < 0 ? errno : ENAMETOOLONG,
					"--restarts -- %s: cannot find ctrain's own path in "
					"/proc/self/exe",
					a->launcher[0]);
		exe[len] = '\0';
		self = exe;
	}
	size_t cap = (size_t)argc + (size_t)a->n_launcher + 8;
	char **first = calloc(cap, sizeof *first), **again = calloc(cap, sizeof *again);
	if (!first || !again) {
		free(first);
		free(again);
		return ct_errf(e, CT_ENOMEM, "out of memory");
	}
	const char *lv = ct_log_get_level() >= CT_LOG_WARN    ? "-q"
			 : ct_log_get_level() == CT_LOG_DEBUG ? "-v"
							      : NULL;
	int n = 0, m = 0;
	for (int i = 0; i < a->n_launcher; i++)
		first[n++] = again[m++] = a->launcher[i];
	first[n++] = again[m++] = (char *)(uintptr_t)self;
	first[n++] = (char *)(uintptr_t)cmd;
	for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--restarts") == 0) {
			i++;
			continue;
		}
		first[n++] = argv[i];
	}
	again[m++] = (char *)(uintptr_t) "resume";
	again[m++] = (char *)(uintptr_t)a->run_dir;
	if (lv)
		first[n++] = again[m++] = (char *)(uintptr_t)lv;
	int rc = supervise_run(first, again, a->has_launcher, a->run_dir, a->restarts, e);
	free(first);
	free(again);
	return rc;
}

/* The run directory must not be the folder of the user's config file (its
 * config.ini would be replaced, comments and all), unless that file is a
 * run's frozen config (written by ctrain, nothing of the user's in it). */
static int check_config_folder(const train_args *a, ct_err *e)
{
	char *cdir = realpath(a->config, NULL), *rdir = realpath(a->run_dir, NULL);
	int rc = 0;
	char *slash = cdir ? strrchr(cdir, '/') : NULL;
	if (slash)
		*slash = '\0';
	if (slash && rdir && strcmp(cdir[0] ? cdir : "/", rdir) == 0) {
		char *text = NULL;
		size_t len = 0;
		int frozen = ct_file_read_all(a->config, 1u << 20, &text, &len, NULL) == 0 &&
			     strncmp(text, CT_CONFIG_FROZEN_HEADER,
				     strlen(CT_CONFIG_FROZEN_HEADER)) == 0;
		free(text);
		if (!frozen)
			rc = ct_errf(e, CT_EUSAGE,
				     "--run-dir %s is the folder of --config %s: training would "
				     "write its files beside (and over) yours; choose another "
				     "--run-dir",
				     a->run_dir, a->config);
	}
	free(cdir);
	free(rdir);
	return rc;
}

/* A directory holding a run is refused unless --overwrite, which first
 * removes that run's files (durably). */
static int check_run_files(const train_args *a, ct_err *e)
{
	if (!rundir_holds_run(a->run_dir))
		return 0;
	if (!a->overwrite)
		return ct_errf(
			e, CT_EUSAGE,
			"%s already holds a run; continue it with: ctrain resume %s (or start "
			"it afresh with --overwrite, which deletes its files)",
			a->run_dir, a->run_dir);
	int rc = rundir_clear(a->run_dir, e);
	if (rc == 0)
		ct_log_info("--overwrite: removed the earlier run's files from %s", a->run_dir);
	return rc;
}

static int train_in(int argc, char **argv, int *lock, ct_err *e)
{
	train_args a;
	int rc = parse_train_args(argc, argv, 0, &a, e);
	if (rc < 0)
		return rc;
	if ((a.restarts > 0 || a.has_launcher) && !supervise_is_child())
		return supervise(argc, argv, "train", &a, e);
	ct_config cfg;
	ct_config_defaults(&cfg);
	rc = ct_config_load_file(&cfg, a.config, e);
	for (int i = 0; rc == 0 && i < a.n_sets; i++)
		rc = ct_config_set(&cfg, a.sets[i], e);
	if (rc == 0)
		rc = ct_config_validate(&cfg, a.config, e);
	if (rc == 0)
		rc = check_config_folder(&a, e);
	if (rc < 0)
		return rc;
	if (cfg.kernel[0]) /* train.kernel: pin the kernel for this run (may re-execute) */
		kernel_ensure(cfg.kernel, "train.kernel", e);
	if ((rc = comm_start(e)) < 0)
		return rc;
	if (cfg.shards % g_comm.size != 0)
		return ct_errf(e, CT_ECONFIG,
			       "%s: %d processes do not divide train.shards = %d: run on a number "
			       "of processes that divides it",
			       a.config, g_comm.size, cfg.shards);
	if (rank0()) /* the run directory is rank 0's */
		rc = ct_atomic_mkdir_p(a.run_dir, e);
	if (rc == 0 && rank0())
		rc = rundir_lock(a.run_dir, lock, e);
	if (rc == 0 && rank0())
		rc = check_run_files(&a, e);
	if (rc < 0)
		return rc;
	rc = apply_threads(&cfg, e);
	if (rc < 0)
		return rc;
	ct_train_state s;
	rc = ct_train_state_init(&s, &cfg, a.config, e);
	if (rc < 0)
		return rc;
	if (a.init_from)
		rc = init_from(&s, &a, e);
	if (rc == 0 && a.with_optimizer)
		rc = optimizer_load_checkpoint(&s, a.init_from, e);
	char path[4200];
	snprintf(path, sizeof path, "%s/config.ini", a.run_dir);
	if (rc == 0 && rank0())
		rc = ct_config_write(&s.cfg, path, e);
	if (rc == 0 && rank0())
		rc = fingerprint_record(a.run_dir, &s.cfg, e);
	if (rc == 0) {
		ct_log_info(
			"training %s: %lld samples (%lld validation), %lld steps/epoch x %lld epochs",
			a.run_dir, (long long)s.train.n, (long long)s.val.n,
			(long long)s.steps_per_epoch, (long long)cfg.epochs);
		rc = run(&s, a.run_dir, -1, e);
	}
	ct_train_state_release(&s);
	return rc;
}

/* Holds the run directory's lock (rundir.h) from before it is looked at to
 * the end of training. */
int cli_train(int argc, char **argv, ct_err *e)
{
	signals_ignore_pipe(); /* a closed stdout/stderr never kills a run */
	int lock = -1;
	int rc = train_in(argc, argv, &lock, e);
	rundir_unlock(lock);
	return comm_end(rc, e);
}

/* Re-executes under the OpenBLAS kernel the newest valid checkpoint was
 * written with, before anything heavy happens (OpenBLAS picks its kernel at
 * load time).  Problems here are left for restore_latest to report. */
static void pin_checkpoint_kernel(const char *dir)
{
	char ck[4200];
	snprintf(ck, sizeof ck, "%s/checkpoints", dir);
	char *path = NULL, *core = NULL;
	int64_t step;
	ct_err e = {0};
	ct_h5c_reader *r = NULL;
	if (ct_ckpt_find_latest(ck, &path, &step, &e) == 0 && ct_h5c_open(path, &r, &e) == 0) {
		ct_h5c_field f = {"/meta@blas_core", CT_H5C_STR, 0, {0}, &core};
		if (ct_h5c_read(r, &f, &e) == 0) {
			ct_h5c_close(r);
			r = NULL;
			kernel_ensure(core, path, &e);
		}
	}
	ct_h5c_close(r);
	free(core);
	free(path);
}

typedef struct frozen_check {
	const ct_train_state *s;
	const char *dir;
	int data_checked; /* data.path moved: its content matched the run's fingerprint */
} frozen_check;

/* check_restore of the run's checkpoint manager: a hand-edited config.ini
 * must not silently change what the checkpoint was trained with. */
static int check_frozen_config(void *ctx, const ct_ckpt_fields *f, const char *path, ct_err *e)
{
	const frozen_check *fc = ctx;
	const ct_train_state *s = fc->s;
	ct_config frozen;
	ct_config_defaults_frozen(&frozen);
	char ini[4200];
	snprintf(ini, sizeof ini, "%s/config.ini", fc->dir);
	const char *text = ct_ckpt_fields_find(f, "/meta@config")->copy;
	int rc = ct_config_parse_string(&frozen, text, "checkpoint config", e);
	if (rc == 0 && fc->data_checked)
		memcpy(frozen.path, s->cfg.path, sizeof frozen.path);
	if (rc == 0)
		rc = ct_config_check_continuation(&frozen, &s->cfg, ini, e);
	const ct_ckpt_field *sh = ct_ckpt_fields_find(f, "/meta/shards");
	if (rc == 0 && sh && sh->present && *(const int64_t *)sh->copy != s->cfg.shards)
		rc = ct_errf(e, CT_ECONFIG,
			     "%s was written with train.shards = %lld, %s says %d: the shards are "
			     "fixed for a run",
			     path, (long long)*(const int64_t *)sh->copy, ini, s->cfg.shards);
	int64_t threads = *(const int64_t *)ct_ckpt_fields_find(f, "/meta/threads")->copy;
	if (rc == 0 && threads != s->cfg.threads && !s->cfg.deterministic)
		ct_log_warn("%s was written with %lld thread(s), now %d: results may differ in the "
			    "last bits from an uninterrupted run",
			    path, (long long)threads, s->cfg.threads);
	return rc;
}

/* Restores s from the newest valid checkpoint of dir (ckpt/resume.c, the
 * library's one restore path); *step receives its step, -1 if there is none. */
static int restore_latest(ct_train_state *s, const char *dir, int data_checked, int64_t *step,
			  ct_err *e)
{
	char ck[4200];
	snprintf(ck, sizeof ck, "%s/checkpoints", dir);
	frozen_check fc = {s, dir, data_checked};
	ct_ckpt_manager_opts o = {.check_restore = check_frozen_config, .hook_ctx = &fc};
	ct_ckpt_manager *m = state_ckpt_manager(ck, s, &o, e);
	int rc = m ? ct_ckpt_manager_restore_latest(m, step, e) : e->code;
	ct_ckpt_manager_free(m);
	return rc < 0 ? rc : 0;
}

/* 1 if dir/checkpoints holds any checkpoint file, valid, damaged or renamed
 * *.corrupt. */
static int any_checkpoint(const char *dir)
{
	char ck[4200];
	snprintf(ck, sizeof ck, "%s/checkpoints", dir);
	return ct_ckpt_dir_has_any(ck);
}

/* The error for a config.ini that resume cannot read: what happened and what
 * to do about it. */
static int frozen_config_error(const char *dir, const char *ini, ct_err *e)
{
	if (access(ini, F_OK) != 0 && !any_checkpoint(dir))
		return ct_errf(e, CT_EUSAGE,
			       "%s: not a run directory, or a run stopped before its config.ini "
			       "was written (no config.ini, no checkpoint): start it with ctrain "
			       "train --config FILE --run-dir %s",
			       dir, dir);
	return ct_err_prefix(e,
			     "%s: config.ini is missing or damaged; every checkpoint holds a copy "
			     "(h5dump -a /meta/config %s/checkpoints/ckpt-<step>.h5): restore it "
			     "from there and resume again",
			     dir, dir);
}

/* A resume that extends a finished run (train.epochs raised) makes its
 * model.safetensors stale: removed before training goes on, so that eval,
 * export and predict use the newest checkpoint until the new end. */
static int drop_stale_model(const ct_train_state *s, const char *dir, ct_err *e)
{
	if (s->ld.st.epoch >= (uint64_t)s->cfg.epochs || ct_best_should_stop(&s->best))
		return 0;
	int rc = rundir_remove(dir, "model.safetensors", e);
	if (rc == 1)
		ct_log_info("removed %s/model.safetensors of the earlier end of training; it is "
			    "written again when training completes",
			    dir);
	return rc < 0 ? rc : 0;
}

/* Rank 0's part of resume_in: the run's config (*cfg) with the --set
 * overrides, checked against the run's data. */
static int resume_config(const train_args *a, int *lock, ct_config *cfg, int *data_same, ct_err *e)
{
	char ini[4200];
	snprintf(ini, sizeof ini, "%s/config.ini", a->run_dir);
	int rc;
	if (access(ini, F_OK) == 0 && (rc = rundir_lock(a->run_dir, lock, e)) < 0)
		return rc;
	ct_config_defaults_frozen(cfg);
	rc = ct_config_load_file(cfg, ini, e);
	if (rc < 0)
		return frozen_config_error(a->run_dir, ini, e);
	int path_set = 0;
	for (int i = 0; rc == 0 && i < a->n_sets; i++) {
		/* data.path may move to the same data (checked just below) */
		int moves = strncmp(a->sets[i], "data.path=", 10) == 0;
		path_set |= moves;
		rc = moves ? ct_config_set(cfg, a->sets[i], e)
			   : ct_config_set_on_resume(cfg, a->sets[i], e);
	}
	if (rc == 0)
		rc = ct_config_validate(cfg, ini, e);
	if (rc == 0)
		rc = fingerprint_check(a->run_dir, cfg, a->accept_data_change, data_same, e);
	if (rc == 0 && path_set && !*data_same && !a->accept_data_change)
		rc = ct_errf(e, CT_ECONFIG,
			     "--set data.path: %s recorded no data fingerprint (%s) to show that "
			     "%s holds the same data; pass --accept-data-change to use it anyway",
			     a->run_dir, FP_FILE, cfg->path);
	if (rc == 0 && a->from)
		rc = resume_from_select(a->run_dir, a->from, e);
	return rc;
}

/* Several processes: rank 0's config to every rank (the others may not see
 * the run directory). */
static int share_config(ct_config *cfg, ct_err *e)
{
	if (g_comm.size == 1)
		return 0;
	char *text = rank0() ? ct_config_to_string(cfg) : NULL;
	size_t len = text ? strlen(text) : 0;
	if (rank0() && !text)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	int rc = bcast_bytes(&text, &len, e);
	if (rc == 0 && !rank0()) {
		ct_config_defaults_frozen(cfg);
		rc = ct_config_parse_string(cfg, text, "rank 0's config", e);
	}
	free(text);
	return rc;
}

/* Several processes: rank 0 restored s from the run's newest valid
 * checkpoint; the same state, as a checkpoint image in memory, to every
 * other rank (which parses it as it would the file). */
static int share_state(ct_train_state *s, int64_t *step, ct_err *e)
{
	if (g_comm.size == 1)
		return 0;
	int rc = ct_comm_bcast(&g_comm, step, sizeof *step, 0, e);
	if (rc < 0 || *step < 0)
		return rc;
	ct_ckpt_fields f;
	ct_h5c_image im;
	ct_h5c_image_init(&im);
	char *buf = NULL;
	size_t len = 0;
	rc = ct_ckpt_fields_init(&f, e);
	if (rc == 0)
		rc = state_ckpt_register(&f, s, e);
	if (rc == 0 && rank0()) {
		ct_ckpt_fields_take(&f, *step);
		rc = ct_ckpt_fields_serialize(&f, &im, e);
		void *b = NULL;
		if (rc == 0)
			rc = ct_h5c_image_gather(&im, &b, &len, e);
		buf = b;
	}
	if (rc == 0)
		rc = bcast_bytes(&buf, &len, e);
	if (rc == 0 && !rank0())
		rc = ct_ckpt_fields_read_buffer(&f, buf, len, "rank 0's checkpoint", e);
	if (rc == 0 && !rank0())
		rc = ct_ckpt_fields_apply(&f, e);
	free(buf);
	ct_h5c_image_release(&im);
	ct_ckpt_fields_release(&f);
	return rc;
}

static int resume_in(int argc, char **argv, int *lock, ct_err *e)
{
	train_args a;
	int rc = parse_train_args(argc, argv, 1, &a, e);
	if (rc < 0)
		return rc;
	if ((a.restarts > 0 || a.has_launcher) && !supervise_is_child())
		return supervise(argc, argv, "resume", &a, e);
	char name[32];
	int launched = ct_comm_launched(name, sizeof name);
	if (launched) { /* before MPI_Init: ranks that see the run directory pin its kernel */
		pin_checkpoint_kernel(a.run_dir);
		if ((rc = comm_start(e)) < 0)
			return rc;
	}
	char ini[4200];
	snprintf(ini, sizeof ini, "%s/config.ini", a.run_dir);
	ct_config cfg;
	ct_config_defaults_frozen(&cfg); /* ranks > 0: replaced by rank 0's */
	int data_same = 0;
	if (rank0())
		rc = resume_config(&a, lock, &cfg, &data_same, e);
	if (rc == 0)
		rc = share_config(&cfg, e);
	if (rc == 0 && cfg.shards % g_comm.size != 0)
		rc = ct_errf(e, CT_ECONFIG,
			     "%s: %d processes do not divide train.shards = %d: resume on a "
			     "number of processes that divides it",
			     ini, g_comm.size, cfg.shards);
	if (rc < 0)
		return rc;
	if (!launched)
		pin_checkpoint_kernel(a.run_dir);
	if (!launched && (rc = comm_start(e)) < 0)
		return rc;
	rc = apply_threads(&cfg, e);
	if (rc < 0)
		return rc;
	ct_train_state s;
	rc = ct_train_state_init(&s, &cfg, ini, e);
	if (rc < 0)
		return rc;
	int64_t step = -1;
	if (rank0())
		rc = restore_latest(&s, a.run_dir, data_same || a.accept_data_change, &step, e);
	if (rc == 0)
		rc = share_state(&s, &step, e);
	if (rc == 0 && step < 0)
		ct_log_info(
			"%s: no checkpoint was made durable before the run stopped; starting it "
			"again from step 0 with its config.ini",
			a.run_dir);
	if (rc == 0 && a.n_sets > 0 && rank0())
		rc = ct_config_write(&s.cfg, ini, e);
	if (rc == 0 && rank0())
		rc = drop_stale_model(&s, a.run_dir, e);
	if (rc == 0)
		rc = run(&s, a.run_dir, step, e);
	ct_train_state_release(&s);
	return rc;
}

/* Holds the run directory's lock (rundir.h) from before it is read to the
 * end of training. */
int cli_resume(int argc, char **argv, ct_err *e)
{
	signals_ignore_pipe(); /* a closed stdout/stderr never kills a run */
	int lock = -1;
	int rc = resume_in(argc, argv, &lock, e);
	rundir_unlock(lock);
	return comm_end(rc, e);
}
