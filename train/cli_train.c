/* cli_train.c — `ctrain train` and `ctrain resume`. */
#include <cblas.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ckpt/atomic.h"
#include "../ckpt/discover.h"
#include "../ckpt/h5c.h"
#include "../util/log.h"
#include "cli.h"
#include "kernel.h"
#include "snapshot.h"
#include "source.h"
#include "trainer.h"

static int g_interrupt_signal;

int cli_interrupt_signal(void) { return g_interrupt_signal; }

typedef struct train_args {
	const char *config, *run_dir, *init_from;
	const char *sets[64];
	int n_sets, non_strict;
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
		else if (strcmp(o, "--set") == 0 && (rc = need_value(argc, argv, i, e)) == 0) {
			if (a->n_sets == 64)
				return ct_errf(e, CT_EUSAGE, "too many --set options (64 at most)");
			a->sets[a->n_sets++] = argv[++i];
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
	if (a->non_strict && !a->init_from)
		return ct_errf(e, CT_EUSAGE, "--non-strict goes with --init-from");
	return 0;
}

static int mkdir_p(const char *dir, ct_err *e)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return ct_errno(e, CT_EIO, errno, "%s: cannot create directory", tmp);
		*p = '/';
	}
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
		return ct_errno(e, CT_EIO, errno, "%s: cannot create directory", tmp);
	return 0;
}

static int apply_threads(const ct_config *c, ct_err *e)
{
	if (ops_set_threads(c->threads, c->deterministic) < 0)
		return ct_errf(e, CT_ENOMEM, "cannot start %d worker threads", c->threads);
	log_debug("OpenBLAS core %s, %d thread(s), %s", blas_core_name(), c->threads,
		  c->deterministic ? "deterministic partition" : "OpenBLAS threading");
	return 0;
}

static void print_summary(const trainer_result *r)
{
	printf("done steps=%lld epochs=%lld loss=%.6f", (long long)r->steps, (long long)r->epochs,
	       r->loss);
	if (r->has_val)
		printf(" val_loss=%.6f val_accuracy=%.4f", r->val_loss, r->val_accuracy);
	printf(" samples_per_sec=%.1f seconds=%.2f\n", r->samples_per_sec, r->seconds);
	(void)fflush(stdout); /* stdout's errors are checked at exit (main.c) */
}

static int run(train_state *s, const char *dir, int64_t resume_step, ct_err *e)
{
	trainer_result r;
	int rc = trainer_run(s, dir, resume_step, &r, e);
	if (rc == CT_EINTERRUPTED)
		g_interrupt_signal = r.signal;
	if (rc == 0)
		print_summary(&r);
	return rc;
}

static int has_checkpoints(const char *dir)
{
	char ck[4200];
	snprintf(ck, sizeof ck, "%s/checkpoints", dir);
	ckpt_entry *ents = NULL;
	size_t n = 0;
	if (ckpt_list(ck, &ents, &n, NULL) < 0)
		return 0;
	ckpt_list_free(ents, n);
	return n > 0;
}

static int init_from(train_state *s, const char *file, int non_strict, ct_err *e)
{
	char *path = NULL;
	source_kind kind;
	int rc = source_resolve(file, &path, &kind, e);
	tdict d;
	tdict_init(&d);
	if (rc == 0)
		rc = source_read_tdict(path, kind, &d, e);
	char report[8192];
	if (rc == 0)
		rc = params_load_tdict(&s->model.ps, &d, !non_strict, report, sizeof report, e);
	if (rc == 0 && non_strict)
		log_info("--init-from %s (non-strict): %s", path, report);
	else if (rc == 0)
		log_info("initialised all %d tensors from %s", s->model.ps.nv, path);
	else
		ct_err_prefix(e, "--init-from %s", file);
	tdict_release(&d);
	free(path);
	return rc;
}

int cli_train(int argc, char **argv, ct_err *e)
{
	train_args a;
	int rc = parse_train_args(argc, argv, 0, &a, e);
	if (rc < 0)
		return rc;
	ct_config cfg;
	config_defaults(&cfg);
	rc = config_load_file(&cfg, a.config, e);
	for (int i = 0; rc == 0 && i < a.n_sets; i++)
		rc = config_set(&cfg, a.sets[i], e);
	if (rc == 0)
		rc = config_validate(&cfg, a.config, e);
	if (rc < 0)
		return rc;
	if (cfg.kernel[0]) /* train.kernel: pin the kernel for this run (may re-execute) */
		kernel_ensure(cfg.kernel, "train.kernel", e);
	if (has_checkpoints(a.run_dir))
		return ct_errf(e, CT_EUSAGE,
			       "%s already holds checkpoints; continue it with: ctrain resume %s",
			       a.run_dir, a.run_dir);
	rc = mkdir_p(a.run_dir, e);
	if (rc < 0)
		return rc;
	rc = apply_threads(&cfg, e);
	if (rc < 0)
		return rc;
	train_state s;
	rc = train_state_init(&s, &cfg, a.config, e);
	if (rc < 0)
		return rc;
	if (a.init_from)
		rc = init_from(&s, a.init_from, a.non_strict, e);
	char path[4200];
	snprintf(path, sizeof path, "%s/config.ini", a.run_dir);
	if (rc == 0)
		rc = config_write(&s.cfg, path, e);
	if (rc == 0) {
		log_info(
			"training %s: %lld samples (%lld validation), %lld steps/epoch x %lld epochs",
			a.run_dir, (long long)s.train.n, (long long)s.val.n,
			(long long)s.steps_per_epoch, (long long)cfg.epochs);
		rc = run(&s, a.run_dir, -1, e);
	}
	train_state_release(&s);
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
	h5c_reader *r = NULL;
	if (ckpt_find_latest(ck, &path, &step, &e) == 0 && h5c_open(path, &r, &e) == 0) {
		h5c_field f = {"/meta@blas_core", H5C_STR, 0, {0}, &core};
		if (h5c_read(r, &f, &e) == 0) {
			h5c_close(r);
			r = NULL;
			kernel_ensure(core, path, &e);
		}
	}
	h5c_close(r);
	free(core);
	free(path);
}

/* A hand-edited config.ini must not silently change what the checkpoint was
 * trained with. */
static int check_frozen_config(const snapshot *sn, const train_state *s, const char *dir, ct_err *e)
{
	ct_config frozen;
	config_defaults_frozen(&frozen);
	char ini[4200];
	snprintf(ini, sizeof ini, "%s/config.ini", dir);
	int rc = config_parse_string(&frozen, sn->config_text, "checkpoint config", e);
	if (rc == 0)
		rc = config_check_continuation(&frozen, &s->cfg, ini, e);
	return rc;
}

/* Restores s from the newest valid checkpoint of dir; *step receives its step. */
static int restore_latest(train_state *s, const char *dir, int64_t *step, ct_err *e)
{
	char ck[4200];
	snprintf(ck, sizeof ck, "%s/checkpoints", dir);
	int removed = atomic_cleanup_tmp(ck, NULL);
	if (removed > 0)
		log_info("removed %d temporary file(s) left in %s by an interrupted write", removed,
			 ck);
	char *path = NULL;
	int rc = ckpt_find_latest(ck, &path, step, e);
	if (rc < 0)
		return rc;
	snapshot sn;
	rc = snapshot_init(&sn, s, e);
	if (rc == 0)
		rc = snapshot_read(&sn, path, e);
	if (rc == 0)
		rc = check_frozen_config(&sn, s, dir, e);
	if (rc == 0)
		rc = snapshot_apply(&sn, s, e);
	if (rc == 0) {
		log_info("resuming from %s (step %lld, epoch %lld)", path, (long long)sn.step,
			 (long long)sn.epoch + 1);
		if (strcmp(sn.blas_core, blas_core_name()) != 0)
			log_warn(
				"checkpoint was written with OpenBLAS core %s, this process uses %s: "
				"results may differ in the last bits from an uninterrupted run",
				sn.blas_core, blas_core_name());
		if (sn.threads != s->cfg.threads && !s->cfg.deterministic)
			log_warn("checkpoint was written with %lld thread(s), now %d: results may "
				 "differ in the last bits from an uninterrupted run",
				 (long long)sn.threads, s->cfg.threads);
	}
	snapshot_release(&sn);
	free(path);
	return rc;
}

int cli_resume(int argc, char **argv, ct_err *e)
{
	train_args a;
	int rc = parse_train_args(argc, argv, 1, &a, e);
	if (rc < 0)
		return rc;
	char ini[4200];
	snprintf(ini, sizeof ini, "%s/config.ini", a.run_dir);
	ct_config cfg;
	config_defaults_frozen(&cfg);
	rc = config_load_file(&cfg, ini, e);
	if (rc == CT_ECONFIG && access(ini, F_OK) != 0)
		return ct_errf(
			e, CT_EUSAGE,
			"%s: not a run directory (no config.ini); start one with ctrain train",
			a.run_dir);
	for (int i = 0; rc == 0 && i < a.n_sets; i++)
		rc = config_set_on_resume(&cfg, a.sets[i], e);
	if (rc == 0)
		rc = config_validate(&cfg, ini, e);
	if (rc < 0)
		return rc;
	pin_checkpoint_kernel(a.run_dir);
	rc = apply_threads(&cfg, e);
	if (rc < 0)
		return rc;
	train_state s;
	rc = train_state_init(&s, &cfg, ini, e);
	if (rc < 0)
		return rc;
	int64_t step = -1;
	rc = restore_latest(&s, a.run_dir, &step, e);
	if (rc == 0 && a.n_sets > 0)
		rc = config_write(&s.cfg, ini, e);
	if (rc == 0)
		rc = run(&s, a.run_dir, step, e);
	train_state_release(&s);
	return rc;
}
