/* cli_status.c — `ctrain status [--json] DIR...`: what a run is doing, from
 * its files and its lock, without touching either.
 *
 * State, in this order:
 *   running      another process holds DIR/.lock (flock); its pid is the
 *                file's text.  Probed with LOCK_SH|LOCK_NB, released at once.
 *   finished     DIR/model.safetensors exists and the last event (events.csv)
 *                is not start/resume (a newer run is not under way)
 *   failed       the last event is "failed" (train/resume stopped on an error)
 *   interrupted  anything else with a config.ini: killed, or stopped by a
 *                signal; resumable with the command shown
 * A DIR without config.ini is a parent: every direct subdirectory holding a
 * config.ini is a run, listed one line each. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../ckpt/discover.h"
#include "../ckpt/h5c.h"
#include "../util/log.h"
#include "../ckpt/best.h"
#include "cli.h"
#include "../train/config.h"
#include "events.h"
#include "../util/util.h"

typedef struct run_status {
	char dir[4096];
	const char *state;
	long pid;                         /* running: the lock holder, 0 if its file was empty */
	int64_t step, total_steps, epoch; /* -1 unknown */
	int has_row;
	double loss, lr, samples_per_sec;
	int has_val;
	int64_t val_step;
	double val_loss, val_accuracy;
	double eta_sec; /* < 0 unknown */
	/* newest checkpoint, and the newest valid one (what resume uses) */
	int n_ckpt;
	int64_t ck_step, ck_bytes;
	double ck_age;
	int ck_valid;
	char ck_path[4200], ck_reason[512];
	int64_t valid_step;
	char valid_path[4200];
	/* keep_best, from the newest valid checkpoint */
	int64_t n_best;
	int64_t best_step[CT_BEST_MAX];
	double best_value[CT_BEST_MAX];
	char monitor[16];
	int64_t disk_bytes;
	int resumes, restarts;
	char failure[512];
	char last_event[16]; /* of events.csv, "" without one */
	char resume_cmd[4300];
} run_status;

/* ---- metrics.csv ----------------------------------------------------------- */

/* A metrics.csv line without its end of line, split into at most 32 fields. */
static int split_line(char *line, char **f)
{
	line[strcspn(line, "\r\n")] = '\0';
	return ct_split_fields(line, f, 32);
}

static int num(char **f, int nf, int col, double *out)
{
	if (col < 0 || col >= nf || !f[col][0])
		return 0;
	char *end;
	*out = strtod(f[col], &end);
	return *end == '\0';
}

static void read_metrics(run_status *st)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/metrics.csv", st->dir);
	FILE *fp = fopen(path, "r");
	if (!fp)
		return;
	char head[1024], line[1024];
	char *h[32], *f[32];
	int nh = fgets(head, sizeof head, fp) ? split_line(head, h) : 0;
	int c_step = ct_index_of(h, nh, "step"), c_epoch = ct_index_of(h, nh, "epoch"),
	    c_loss = ct_index_of(h, nh, "loss"), c_lr = ct_index_of(h, nh, "lr"),
	    c_vl = ct_index_of(h, nh, "val_loss"), c_va = ct_index_of(h, nh, "val_accuracy"),
	    c_sps = ct_index_of(h, nh, "samples_per_sec");
	while (nh > 0 && fgets(line, sizeof line, fp)) {
		if (!strchr(line, '\n'))
			break; /* a torn last line */
		int nf = split_line(line, f);
		double step, epoch, loss, v;
		if (!num(f, nf, c_step, &step) || !num(f, nf, c_epoch, &epoch) ||
		    !num(f, nf, c_loss, &loss))
			continue;
		st->has_row = 1;
		st->step = (int64_t)step;
		st->epoch = (int64_t)epoch;
		st->loss = loss;
		st->lr = num(f, nf, c_lr, &v) ? v : (double)NAN;
		st->samples_per_sec = num(f, nf, c_sps, &v) ? v : (double)NAN;
		double vl, va;
		if (num(f, nf, c_vl, &vl) && num(f, nf, c_va, &va)) {
			st->has_val = 1;
			st->val_step = st->step;
			st->val_loss = vl;
			st->val_accuracy = va;
		}
	}
	(void)fclose(fp); /* read only */
}

/* ---- checkpoints ----------------------------------------------------------- */

static void read_best(run_status *st)
{
	ct_h5c_reader *r = NULL;
	ct_err e = {0};
	if (ct_h5c_open(st->valid_path, &r, &e) < 0)
		return;
	int64_t n = 0;
	ct_h5c_field fc = {"/meta/best_count", CT_H5C_I64, 0, {0}, &n};
	ct_h5c_field fs = {"/meta/best_steps", CT_H5C_I64, 1, {CT_BEST_MAX}, st->best_step};
	ct_h5c_field fv = {"/meta/best_values", CT_H5C_F64, 1, {CT_BEST_MAX}, st->best_value};
	if (ct_h5c_read(r, &fc, &e) == 0 && n > 0 && n <= CT_BEST_MAX &&
	    ct_h5c_read(r, &fs, &e) == 0 && ct_h5c_read(r, &fv, &e) == 0)
		st->n_best = n;
	ct_h5c_close(r);
}

static void read_checkpoints(run_status *st)
{
	char ck[4200];
	snprintf(ck, sizeof ck, "%s/checkpoints", st->dir);
	ct_ckpt_entry *v = NULL;
	size_t n = 0;
	if (ct_ckpt_list(ck, &v, &n, NULL) < 0)
		return;
	st->n_ckpt = (int)n;
	for (size_t i = 0; i < n; i++) {
		int ok = ct_ckpt_check(&v[i]);
		if (i == 0) {
			struct stat sb;
			st->ck_step = v[i].step;
			snprintf(st->ck_path, sizeof st->ck_path, "%s", v[i].path);
			st->ck_valid = ok == 1;
			snprintf(st->ck_reason, sizeof st->ck_reason, "%s",
				 v[i].reason ? v[i].reason : "");
			if (stat(v[i].path, &sb) == 0) {
				st->ck_bytes = (int64_t)sb.st_size;
				st->ck_age = difftime(time(NULL), sb.st_mtime);
			}
		}
		if (ok == 1) {
			st->valid_step = v[i].step;
			snprintf(st->valid_path, sizeof st->valid_path, "%s", v[i].path);
			break;
		}
	}
	ct_ckpt_list_free(v, n);
	if (st->valid_step >= 0)
		read_best(st);
}

/* ---- the rest -------------------------------------------------------------- */

static int64_t g_disk;
static int add_size(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)p, (void)ftw;
	if (flag == FTW_F)
		g_disk += (int64_t)sb->st_blocks * 512;
	return 0;
}

/* 1 and *pid when another process holds DIR/.lock. */
static int probe_lock(const char *dir, long *pid)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/.lock", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int held = 0;
	if (flock(fd, LOCK_SH | LOCK_NB) != 0)
		held = errno == EWOULDBLOCK;
	else
		(void)flock(fd, LOCK_UN); /* closing releases it anyway */
	*pid = 0;
	if (held) {
		char buf[32] = {0};
		ssize_t r = read(fd, buf, sizeof buf - 1);
		if (r > 0)
			*pid = strtol(buf, NULL, 10);
	}
	(void)close(fd); /* read only */
	return held;
}

static void read_events(run_status *st)
{
	run_event *v = NULL;
	size_t n = 0;
	ct_err e = {0};
	if (events_read(st->dir, &v, &n, &e) < 0)
		ct_log_warn("%s", e.msg);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].event, "resume") == 0)
			st->resumes++;
		if (strcmp(v[i].event, "restart") == 0)
			st->restarts++;
		if (v[i].total_steps > 0)
			st->total_steps = v[i].total_steps;
	}
	if (n > 0) {
		snprintf(st->last_event, sizeof st->last_event, "%s", v[n - 1].event);
		if (strcmp(st->last_event, "failed") == 0)
			snprintf(st->failure, sizeof st->failure, "%s", v[n - 1].detail);
	}
	free(v);
}

static void shell_quote(char *out, size_t cap, const char *s)
{
	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=+:,@") ==
	    strlen(s)) {
		snprintf(out, cap, "%s", s);
		return;
	}
	size_t o = 0;
	if (cap < 3)
		return;
	out[o++] = '\'';
	for (; *s && o + 5 < cap; s++) {
		if (*s == '\'') {
			memcpy(out + o, "'\\''", 4);
			o += 4;
		} else
			out[o++] = *s;
	}
	out[o++] = '\'';
	out[o] = '\0';
}

static void run_status_read(run_status *st, const char *dir)
{
	memset(st, 0, sizeof *st);
	snprintf(st->dir, sizeof st->dir, "%s", dir);
	st->step = st->total_steps = st->epoch = st->ck_step = st->valid_step = -1;
	st->val_step = -1;
	st->eta_sec = -1;
	st->loss = st->lr = st->samples_per_sec = (double)NAN;
	read_metrics(st);
	read_checkpoints(st);
	if (st->valid_step > st->step)
		st->step = st->valid_step;
	read_events(st);
	const char *last = st->last_event;
	ct_config cfg;
	ct_config_defaults(&cfg);
	char ini[4200];
	snprintf(ini, sizeof ini, "%s/config.ini", dir);
	ct_err e = {0};
	int have_cfg = ct_config_load_file(&cfg, ini, &e) == 0;
	snprintf(st->monitor, sizeof st->monitor, "%s",
		 ct_config_choice_name("checkpoint.monitor",
				       have_cfg ? (int)cfg.monitor : CT_MONITOR_VAL_LOSS));
	g_disk = 0;
	(void)nftw(dir, add_size, 16, FTW_PHYS); /* a vanished file only shrinks the sum */
	st->disk_bytes = g_disk;
	char mdl[4200];
	snprintf(mdl, sizeof mdl, "%s/model.safetensors", dir);
	int has_model = access(mdl, F_OK) == 0;
	int in_progress = (strcmp(last, "start") == 0 || strcmp(last, "resume") == 0);
	if (probe_lock(dir, &st->pid))
		st->state = "running";
	else if (strcmp(last, "failed") == 0)
		st->state = "failed";
	else if (has_model && !in_progress)
		st->state = "finished";
	else
		st->state = "interrupted";
	if (strcmp(st->state, "finished") == 0 && st->total_steps > st->step)
		st->step = st->total_steps; /* early-stopped runs end before it */
	if (strcmp(st->state, "running") == 0 && st->total_steps > 0 && st->step >= 0 && have_cfg &&
	    st->samples_per_sec > 0)
		st->eta_sec =
			(double)(st->total_steps - st->step) * cfg.batch_size / st->samples_per_sec;
	if (strcmp(st->state, "interrupted") == 0 || strcmp(st->state, "failed") == 0) {
		char q[4200];
		shell_quote(q, sizeof q, dir);
		snprintf(st->resume_cmd, sizeof st->resume_cmd, "ctrain resume %s", q);
	}
}

/* ---- output ---------------------------------------------------------------- */

static const char *human_bytes(int64_t b, char *buf, size_t cap)
{
	const char *u[] = {"B", "KB", "MB", "GB", "TB"};
	double x = (double)b;
	int i = 0;
	while (x >= 1024 && i < 4) {
		x /= 1024;
		i++;
	}
	snprintf(buf, cap, i ? "%.1f %s" : "%.0f %s", x, u[i]);
	return buf;
}

static const char *human_secs(double s, char *buf, size_t cap)
{
	if (s < 0)
		snprintf(buf, cap, "?");
	else if (s < 120)
		snprintf(buf, cap, "%.0fs", s);
	else if (s < 7200)
		snprintf(buf, cap, "%.0fm", s / 60);
	else
		snprintf(buf, cap, "%.1fh", s / 3600);
	return buf;
}

static void print_state(const run_status *st)
{
	if (strcmp(st->state, "running") == 0)
		printf("running (pid %ld)", st->pid);
	else
		printf("%s", st->state);
}

static void print_long(const run_status *st)
{
	char b1[64];
	printf("run         %s\nstate       ", st->dir);
	print_state(st);
	printf("\n");
	if (st->failure[0])
		printf("error       %s\n", st->failure);
	printf("progress    step %" PRId64, st->step < 0 ? 0 : st->step);
	if (st->total_steps > 0)
		printf(" of %" PRId64 " (%.1f%%)", st->total_steps,
		       100.0 * (double)(st->step < 0 ? 0 : st->step) / (double)st->total_steps);
	if (st->epoch >= 0)
		printf(", epoch %" PRId64, st->epoch);
	printf("\n");
	if (st->has_row)
		printf("loss        %.6f  lr %g\n", st->loss, st->lr);
	if (st->has_val)
		printf("validation  val_loss %.6f  val_accuracy %.4f (step %" PRId64 ")\n",
		       st->val_loss, st->val_accuracy, st->val_step);
	if (st->samples_per_sec > 0)
		printf("speed       %.1f samples/s, ETA %s\n", st->samples_per_sec,
		       human_secs(st->eta_sec, b1, sizeof b1));
	if (st->n_ckpt == 0)
		printf("checkpoint  none\n");
	else {
		char b2[64];
		printf("checkpoint  %s: step %" PRId64 ", %s old, %s, ", st->ck_path, st->ck_step,
		       human_secs(st->ck_age, b1, sizeof b1),
		       human_bytes(st->ck_bytes, b2, sizeof b2));
		if (st->ck_valid)
			printf("valid\n");
		else
			printf("INVALID: %s\n", st->ck_reason);
		if (!st->ck_valid && st->valid_step >= 0)
			printf("resumes at  %s (step %" PRId64 ", newest valid)\n", st->valid_path,
			       st->valid_step);
		else if (!st->ck_valid)
			printf("resumes at  no valid checkpoint: step 0\n");
	}
	if (st->n_best > 0) {
		printf("best        by %s:", st->monitor);
		for (int64_t i = 0; i < st->n_best; i++)
			printf(" step %" PRId64 " (%g)", st->best_step[i], st->best_value[i]);
		printf("\n");
	}
	printf("events      %d resume(s), %d restart(s)\n", st->resumes, st->restarts);
	printf("disk        %s\n", human_bytes(st->disk_bytes, b1, sizeof b1));
	if (st->resume_cmd[0])
		printf("resume with %s\n", st->resume_cmd);
}

static void print_short(const run_status *st)
{
	printf("%s  ", st->dir);
	print_state(st);
	printf("  step %" PRId64, st->step < 0 ? 0 : st->step);
	if (st->total_steps > 0)
		printf("/%" PRId64, st->total_steps);
	if (st->has_row)
		printf("  loss %.4f", st->loss);
	if (st->has_val)
		printf("  val_acc %.4f", st->val_accuracy);
	if (st->n_ckpt > 0)
		printf("  ckpt %" PRId64 "%s", st->ck_step, st->ck_valid ? "" : " INVALID");
	if (st->eta_sec >= 0) {
		char b1[64];
		printf("  ETA %s", human_secs(st->eta_sec, b1, sizeof b1));
	}
	printf("\n");
}

static json_t *jnum(double x) { return isfinite(x) ? json_real(x) : json_null(); }
static json_t *jint(int64_t x) { return x >= 0 ? json_integer((json_int_t)x) : json_null(); }
static json_t *jstr(const char *s) { return s && s[0] ? json_string(s) : json_null(); }

static json_t *run_json(const run_status *st)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int rc = 0;
	rc |= json_object_set_new(o, "dir", json_string(st->dir));
	rc |= json_object_set_new(o, "state", json_string(st->state));
	rc |= json_object_set_new(o, "pid", st->pid > 0 ? json_integer(st->pid) : json_null());
	rc |= json_object_set_new(o, "step", jint(st->step));
	rc |= json_object_set_new(o, "total_steps", jint(st->total_steps));
	rc |= json_object_set_new(o, "epoch", jint(st->epoch));
	rc |= json_object_set_new(o, "loss", st->has_row ? jnum(st->loss) : json_null());
	rc |= json_object_set_new(o, "lr", st->has_row ? jnum(st->lr) : json_null());
	rc |= json_object_set_new(o, "val_loss", st->has_val ? jnum(st->val_loss) : json_null());
	rc |= json_object_set_new(o, "val_accuracy",
				  st->has_val ? jnum(st->val_accuracy) : json_null());
	rc |= json_object_set_new(o, "val_step", jint(st->val_step));
	rc |= json_object_set_new(o, "samples_per_sec",
				  st->has_row ? jnum(st->samples_per_sec) : json_null());
	rc |= json_object_set_new(o, "eta_sec",
				  st->eta_sec >= 0 ? json_real(st->eta_sec) : json_null());
	json_t *ck = json_null();
	if (st->n_ckpt > 0) {
		ck = json_object();
		if (ck) {
			rc |= json_object_set_new(ck, "path", json_string(st->ck_path));
			rc |= json_object_set_new(ck, "step", json_integer(st->ck_step));
			rc |= json_object_set_new(ck, "age_sec", json_real(st->ck_age));
			rc |= json_object_set_new(ck, "bytes", json_integer(st->ck_bytes));
			rc |= json_object_set_new(ck, "valid", json_boolean(st->ck_valid));
			rc |= json_object_set_new(ck, "reason", jstr(st->ck_reason));
		}
	}
	rc |= json_object_set_new(o, "checkpoint", ck);
	rc |= json_object_set_new(o, "checkpoints", json_integer(st->n_ckpt));
	json_t *rf = json_null();
	if (st->valid_step >= 0) {
		rf = json_object();
		if (rf) {
			rc |= json_object_set_new(rf, "path", json_string(st->valid_path));
			rc |= json_object_set_new(rf, "step", json_integer(st->valid_step));
		}
	}
	rc |= json_object_set_new(o, "resume_from", rf);
	json_t *best = json_array();
	for (int64_t i = 0; best && i < st->n_best; i++) {
		json_t *b = json_object();
		if (b) {
			rc |= json_object_set_new(b, "step", json_integer(st->best_step[i]));
			rc |= json_object_set_new(b, "value", jnum(st->best_value[i]));
		}
		rc |= json_array_append_new(best, b);
	}
	rc |= json_object_set_new(o, "best", best);
	rc |= json_object_set_new(o, "monitor", json_string(st->monitor));
	rc |= json_object_set_new(o, "disk_bytes", json_integer(st->disk_bytes));
	rc |= json_object_set_new(o, "resumes", json_integer(st->resumes));
	rc |= json_object_set_new(o, "restarts", json_integer(st->restarts));
	rc |= json_object_set_new(o, "error", jstr(st->failure));
	rc |= json_object_set_new(o, "resume_command", jstr(st->resume_cmd));
	if (rc != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int is_run(const char *dir)
{
	char ini[4400];
	snprintf(ini, sizeof ini, "%s/config.ini", dir);
	return access(ini, F_OK) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends to *dirs (malloc'ed strings) the runs under arg: arg itself, or
 * its direct subdirectories that are runs, by name. */
static int collect(const char *arg, char ***dirs, size_t *n, size_t *cap, int *single, ct_err *e)
{
	char **found = NULL;
	size_t nf = 0;
	if (is_run(arg)) {
		found = malloc(sizeof *found);
		if (found && (found[0] = strdup(arg)) != NULL)
			nf = 1;
		else {
			free(found);
			return ct_errf(e, CT_ENOMEM, "out of memory");
		}
	} else {
		*single = 0;
		DIR *d = opendir(arg);
		if (!d)
			return ct_errno(e, CT_ENOTFOUND, errno, "%s: cannot open", arg);
		struct dirent *de;
		size_t fcap = 0;
		int rc = 0;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			char sub[4200];
			if (ct_path_join_e(sub, sizeof sub, arg, de->d_name, e) < 0) {
				rc = CT_EUNSUPPORTED;
				break;
			}
			if (!is_run(sub))
				continue;
			if (nf == fcap) {
				fcap = fcap ? 2 * fcap : 16;
				char **nv = realloc(found, fcap * sizeof *nv);
				if (!nv) {
					rc = ct_errf(e, CT_ENOMEM, "out of memory");
					break;
				}
				found = nv;
			}
			if ((found[nf] = strdup(sub)) == NULL) {
				rc = ct_errf(e, CT_ENOMEM, "out of memory");
				break;
			}
			nf++;
		}
		(void)closedir(d); /* read only */
		if (rc == 0 && nf == 0)
			rc = ct_errf(e, CT_ENOTFOUND,
				     "%s: not a run directory (no config.ini) and no run under it",
				     arg);
		if (rc < 0) {
			for (size_t i = 0; i < nf; i++)
				free(found[i]);
			free(found);
			return rc;
		}
		qsort(found, nf, sizeof *found, cmp_str);
	}
	for (size_t i = 0; i < nf; i++) {
		if (*n == *cap) {
			size_t nc = *cap ? 2 * *cap : 16;
			char **nv = realloc(*dirs, nc * sizeof *nv);
			if (!nv) {
				for (size_t j = i; j < nf; j++)
					free(found[j]);
				free(found);
				return ct_errf(e, CT_ENOMEM, "out of memory");
			}
			*dirs = nv;
			*cap = nc;
		}
		(*dirs)[(*n)++] = found[i];
	}
	free(found);
	return 0;
}

int cli_status(int argc, char **argv, ct_err *e)
{
	int json = 0, n_args = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (argv[i][0] == '-')
			return ct_errf(e, CT_EUSAGE,
				       "unknown argument '%s' (see ctrain status --help)", argv[i]);
		else
			n_args++;
	}
	if (n_args == 0)
		return ct_errf(e, CT_EUSAGE,
			       "missing run directory: ctrain status [--json] DIR...");
	char **dirs = NULL;
	size_t n = 0, cap = 0;
	int single = n_args == 1, rc = 0;
	for (int i = 0; rc == 0 && i < argc; i++)
		if (argv[i][0] != '-')
			rc = collect(argv[i], &dirs, &n, &cap, &single, e);
	run_status *st = rc == 0 ? malloc(sizeof *st) : NULL;
	if (rc == 0 && !st)
		rc = ct_errf(e, CT_ENOMEM, "out of memory");
	json_t *runs = json && rc == 0 ? json_array() : NULL;
	if (json && rc == 0 && !runs)
		rc = ct_errf(e, CT_ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		run_status_read(st, dirs[i]);
		if (json) {
			json_t *o = run_json(st);
			if (!o || json_array_append_new(runs, o) != 0)
				rc = ct_errf(e, CT_ENOMEM, "out of memory");
		} else if (single && n == 1)
			print_long(st);
		else
			print_short(st);
	}
	if (json && rc == 0) {
		json_t *top = json_pack("{s:i,s:o}", "schema", 1, "runs", runs);
		runs = NULL;
		if (!top || json_dumpf(top, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
			rc = ct_errf(e, CT_EIO, "stdout: cannot write the JSON");
		else
			printf("\n");
		json_decref(top);
	}
	json_decref(runs);
	free(st);
	for (size_t i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
	return rc;
}
