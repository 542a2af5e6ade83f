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

/* Test-only (listed with every other in tests/e2e/lib.sh):
 * CTRAIN_TEST_SIGNAL_AT_STEP=N[:SIG] makes `ctrain train/resume` signal
 * itself (SIGTERM by default) right after step N, so that tests interrupt at
 * an exact step.  Read here, once, before any thread starts; the library only
 * sees a trainer_opts.after_step callback. */
typedef struct test_signal {
	int64_t at;
	int sig;
} test_signal;

static void test_signal_after_step(void *ctx, int64_t step)
{
	const test_signal *t = ctx;
	if (step == t->at)
		raise(t->sig);
}

static int test_signal_get(test_signal *t)
{
	const char *v = getenv("CTRAIN_TEST_SIGNAL_AT_STEP");
	if (!v)
		return 0;
	const char *colon = strchr(v, ':');
	t->at = strtoll(v, NULL, 10);
	t->sig = colon ? (int)strtol(colon + 1, NULL, 10) : SIGTERM;
	return 1;
}

static int run(ct_train_state *s, const char *dir, int64_t resume_step, ct_err *e)
{
	ct_trainer_result r;
	int64_t total = ct_train_total_steps(s);
	record_event(dir, resume_step < 0 ? "start" : "resume", resume_step < 0 ? 0 : resume_step,
		     total, "");
	test_signal ts;
	ct_trainer_opts o = {test_signal_after_step, &ts};
	int rc = ct_trainer_run(s, dir, resume_step, test_signal_get(&ts) ? &o : NULL, &r, e);
	record_event(dir,
		     rc == 0                 ? "finished"
		     : rc == CT_EINTERRUPTED ? "interrupted"
					     : "failed",
		     s->step, total, rc < 0 && rc != CT_EINTERRUPTED ? e->msg : "");
	if (rc == 0 || rc == CT_EINTERRUPTED)
		plot_refresh(dir); /* DIR/curves.svg; an INFO line without gnuplot */
	if (rc == CT_EINTERRUPTED)
		g_interrupt_signal = r.signal;
	if (rc == 0)
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
	rc = ct_atomic_mkdir_p(a.run_dir, e);
	if (rc == 0)
		rc = rundir_lock(a.run_dir, lock, e);
	if (rc == 0)
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
	if (rc == 0)
		rc = ct_config_write(&s.cfg, path, e);
	if (rc == 0)
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
	return rc;
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

static int resume_in(int argc, char **argv, int *lock, ct_err *e)
{
	train_args a;
	int rc = parse_train_args(argc, argv, 1, &a, e);
	if (rc < 0)
		return rc;
	if ((a.restarts > 0 || a.has_launcher) && !supervise_is_child())
		return supervise(argc, argv, "resume", &a, e);
	char ini[4200];
	snprintf(ini, sizeof ini, "%s/config.ini", a.run_dir);
	if (access(ini, F_OK) == 0 && (rc = rundir_lock(a.run_dir, lock, e)) < 0)
		return rc;
	ct_config cfg;
	ct_config_defaults_frozen(&cfg);
	rc = ct_config_load_file(&cfg, ini, e);
	if (rc < 0)
		return frozen_config_error(a.run_dir, ini, e);
	int path_set = 0, data_same = 0;
	for (int i = 0; rc == 0 && i < a.n_sets; i++) {
		/* data.path may move to the same data (checked just below) */
		int moves = strncmp(a.sets[i], "data.path=", 10) == 0;
		path_set |= moves;
		rc = moves ? ct_config_set(&cfg, a.sets[i], e)
			   : ct_config_set_on_resume(&cfg, a.sets[i], e);
	}
	if (rc == 0)
		rc = ct_config_validate(&cfg, ini, e);
	if (rc == 0)
		rc = fingerprint_check(a.run_dir, &cfg, a.accept_data_change, &data_same, e);
	if (rc == 0 && path_set && !data_same && !a.accept_data_change)
		rc = ct_errf(e, CT_ECONFIG,
			     "--set data.path: %s recorded no data fingerprint (%s) to show that "
			     "%s holds the same data; pass --accept-data-change to use it anyway",
			     a.run_dir, FP_FILE, cfg.path);
	if (rc == 0 && a.from)
		rc = resume_from_select(a.run_dir, a.from, e);
	if (rc < 0)
		return rc;
	pin_checkpoint_kernel(a.run_dir);
	rc = apply_threads(&cfg, e);
	if (rc < 0)
		return rc;
	ct_train_state s;
	rc = ct_train_state_init(&s, &cfg, ini, e);
	if (rc < 0)
		return rc;
	int64_t step = -1;
	rc = restore_latest(&s, a.run_dir, data_same || a.accept_data_change, &step, e);
	if (rc == 0 && step < 0)
		ct_log_info(
			"%s: no checkpoint was made durable before the run stopped; starting it "
			"again from step 0 with its config.ini",
			a.run_dir);
	if (rc == 0 && a.n_sets > 0)
		rc = ct_config_write(&s.cfg, ini, e);
	if (rc == 0)
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
	return rc;
}
