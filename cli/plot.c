/* plot.c — training curves through gnuplot (see plot.h). */
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/atomic.h"
#include "../util/log.h"
#include "../train/config.h"
#include "events.h"
#include "../util/util.h"

typedef struct pt {
	double step, epoch, loss, lr, vl, va;
	int has_val;
} pt;

typedef struct run_data {
	char name[256];
	pt *p;
	size_t n;
	double marks[64]; /* steps of resume / restart events */
	int mark_restart[64];
	int n_marks;
	int64_t total_steps, epochs;
} run_data;

static int ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* The gnuplot to run: $CTRAIN_GNUPLOT, else "gnuplot" found on PATH. */
static int find_gnuplot(char *out, size_t cap)
{
	const char *env = getenv("CTRAIN_GNUPLOT");
	if (env && env[0]) {
		snprintf(out, cap, "%s", env);
		return access(out, X_OK) == 0;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		snprintf(out, cap, "%.*s/gnuplot", (int)len, path);
		if (len > 0 && access(out, X_OK) == 0)
			return 1;
		path += len + (path[len] == ':');
	}
	return 0;
}

/* A metrics.csv line without its end of line, split into at most max fields. */
static int split(char *line, char **f, int max)
{
	line[strcspn(line, "\r\n")] = '\0';
	return ct_split_fields(line, f, max);
}

static int cell(char **f, int nf, int c, double *v)
{
	if (c < 0 || c >= nf || !f[c][0])
		return 0;
	char *end;
	*v = strtod(f[c], &end);
	return *end == '\0' && isfinite(*v);
}

static int read_run(const char *dir, run_data *r, ct_err *e)
{
	memset(r, 0, sizeof *r);
	r->total_steps = -1;
	const char *base = strrchr(dir, '/');
	while (base && base[1] == '\0' && base > dir) { /* "runs/x/" */
		const char *q = base - 1;
		while (q > dir && *q != '/')
			q--;
		base = *q == '/' ? q : NULL;
	}
	snprintf(r->name, sizeof r->name, "%s", base ? base + 1 : dir);
	r->name[strcspn(r->name, "/")] = '\0';
	for (char *c = r->name; *c; c++) /* quoted in the script */
		if (*c == '"' || *c == '\\' || *c < ' ')
			*c = '_';
	char path[4200];
	snprintf(path, sizeof path, "%s/metrics.csv", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return ct_errno(e, CT_ENOTFOUND, errno, "%s: cannot open", path);
	char head[1024], line[1024];
	char *h[32], *c[32];
	int nh = fgets(head, sizeof head, f) ? split(head, h, 32) : 0;
	int cs = ct_index_of(h, nh, "step"), ce = ct_index_of(h, nh, "epoch"),
	    cl = ct_index_of(h, nh, "loss"), clr = ct_index_of(h, nh, "lr"),
	    cvl = ct_index_of(h, nh, "val_loss"), cva = ct_index_of(h, nh, "val_accuracy");
	size_t cap = 0;
	int rc = 0;
	while (nh > 0 && fgets(line, sizeof line, f)) {
		if (!strchr(line, '\n'))
			break; /* torn last line */
		int nf = split(line, c, 32);
		pt p = {0};
		if (!cell(c, nf, cs, &p.step) || !cell(c, nf, cl, &p.loss))
			continue;
		if (!cell(c, nf, ce, &p.epoch))
			p.epoch = 0;
		if (!cell(c, nf, clr, &p.lr))
			p.lr = (double)NAN;
		p.has_val = cell(c, nf, cvl, &p.vl) && cell(c, nf, cva, &p.va);
		if (r->n == cap) {
			cap = cap ? 2 * cap : 256;
			pt *np = realloc(r->p, cap * sizeof *np);
			if (!np) {
				rc = ct_errf(e, CT_ENOMEM, "%s: out of memory", path);
				break;
			}
			r->p = np;
		}
		r->p[r->n++] = p;
	}
	(void)fclose(f); /* read only */
	if (rc < 0)
		return rc;
	if (r->n == 0)
		return ct_errf(e, CT_ENOTFOUND, "%s: no rows to plot yet", path);
	run_event *ev = NULL;
	size_t nev = 0;
	ct_err we = {0};
	if (events_read(dir, &ev, &nev, &we) < 0)
		ct_log_warn("%s", we.msg);
	for (size_t i = 0; i < nev; i++) {
		int restart = strcmp(ev[i].event, "restart") == 0;
		if ((restart || strcmp(ev[i].event, "resume") == 0) && r->n_marks < 64) {
			r->mark_restart[r->n_marks] = restart;
			r->marks[r->n_marks++] = (double)ev[i].step;
		}
		if (ev[i].total_steps > 0)
			r->total_steps = ev[i].total_steps;
	}
	free(ev);
	ct_config cfg;
	ct_config_defaults(&cfg);
	snprintf(path, sizeof path, "%s/config.ini", dir);
	r->epochs = ct_config_load_file(&cfg, path, &we) == 0 ? cfg.epochs : 0;
	return 0;
}

static const char *COLORS[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
			       "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
#define N_COLORS (sizeof COLORS / sizeof COLORS[0])

/* The whole script; fprintf errors are caught by ferror at the end. */
static void write_script(FILE *g, const run_data *r, size_t n, const char *tmp, int png)
{
	if (png)
		(void)fprintf(g, "set terminal pngcairo size 1200,800 font 'sans,10'\n");
	else
		(void)fprintf(
			g, "set terminal svg size 1200,800 font 'sans,10' background '#ffffff'\n");
	(void)fprintf(g, "set output \"%s\"\nset encoding utf8\n", tmp);
	int any_val = 0, any_lr = 0;
	for (size_t i = 0; i < n; i++) {
		double ema = r[i].p[0].loss;
		(void)fprintf(g, "$t%zu << EOD\n", i);
		for (size_t k = 0; k < r[i].n; k++) {
			const pt *p = &r[i].p[k];
			ema = 0.9 * ema + 0.1 * p->loss;
			(void)fprintf(g, "%.17g %.9g %.9g %.9g\n", p->step, p->loss, ema,
				      isfinite(p->lr) ? p->lr : 0.0);
			any_lr |= isfinite(p->lr);
		}
		(void)fprintf(g, "EOD\n$v%zu << EOD\n", i);
		for (size_t k = 0; k < r[i].n; k++)
			if (r[i].p[k].has_val) {
				(void)fprintf(g, "%.17g %.9g %.9g\n", r[i].p[k].step, r[i].p[k].vl,
					      r[i].p[k].va);
				any_val = 1;
			}
		(void)fprintf(g, "EOD\n");
	}
	/* epoch boundaries of the first run, on the top axis */
	if (r[0].total_steps > 0 && r[0].epochs > 0 && r[0].epochs <= 200) {
		double spe = (double)r[0].total_steps / (double)r[0].epochs;
		(void)fprintf(g, "set x2tics (");
		for (int64_t k = 1; k <= r[0].epochs; k++)
			(void)fprintf(g, "%s\"e%lld\" %.17g", k > 1 ? ", " : "", (long long)k,
				      spe * (double)k);
		(void)fprintf(
			g,
			")\nset x2tics scale 0.5 font ',8'\nset grid x2tics lt 0 lc rgb '#bbbbbb'\n");
	}
	(void)fprintf(g, "set grid xtics ytics lc rgb '#e0e0e0'\nset key top right noenhanced "
			 "font ',8'\nset xlabel 'step'\nset link x2\n");
	for (size_t i = 0; i < n; i++)
		for (int m = 0; m < r[i].n_marks; m++) {
			(void)fprintf(
				g,
				"set arrow from %.17g, graph 0 to %.17g, graph 1 nohead dt 2 lc "
				"rgb '%s'\n",
				r[i].marks[m], r[i].marks[m], COLORS[i % N_COLORS]);
			(void)fprintf(g,
				      "set label \"%s\" at %.17g, graph 0.98 rotate by 90 right "
				      "font ',7' tc rgb '%s' noenhanced\n",
				      r[i].mark_restart[m] ? "restart" : "resume", r[i].marks[m],
				      COLORS[i % N_COLORS]);
		}
	(void)fprintf(g, "set multiplot layout 2,2 title 'ctrain training curves' font ',12'\n");
	/* training loss */
	(void)fprintf(g, "set title 'training loss (thin: raw, thick: smoothed)'\nplot ");
	for (size_t i = 0; i < n; i++)
		(void)fprintf(g,
			      "%s$t%zu using 1:2 with lines lw 0.6 lc rgb '%s' title \"%s (raw)\", "
			      "$t%zu using 1:3 with lines lw 2 lc rgb '%s' title \"%s (smoothed)\"",
			      i ? ", " : "", i, COLORS[i % N_COLORS], r[i].name, i,
			      COLORS[i % N_COLORS], r[i].name);
	(void)fprintf(g, "\n");
	const char *vt[2] = {"validation loss", "validation accuracy"};
	for (int v = 0; v < 2; v++) {
		(void)fprintf(g, "set title '%s'\n", vt[v]);
		if (!any_val) {
			(void)fprintf(g, "plot 0 with lines lc rgb '#ffffff' title 'no validation "
					 "data'\n");
			continue;
		}
		(void)fprintf(g, "plot ");
		int first = 1;
		for (size_t i = 0; i < n; i++) {
			int has = 0;
			for (size_t k = 0; k < r[i].n && !has; k++)
				has = r[i].p[k].has_val;
			if (!has)
				continue;
			(void)fprintf(
				g,
				"%s$v%zu using 1:%d with linespoints pt 7 ps 0.4 lw 1.5 lc rgb "
				"'%s' title \"%s (%s)\"",
				first ? "" : ", ", i, v + 2, COLORS[i % N_COLORS], r[i].name,
				v ? "val_accuracy" : "val_loss");
			first = 0;
		}
		(void)fprintf(g, "\n");
	}
	(void)fprintf(g, "set title 'learning rate'\nset yrange [0:*]\nplot ");
	for (size_t i = 0; i < n; i++)
		(void)fprintf(g,
			      "%s$t%zu using 1:4 with lines lw 1.5 lc rgb '%s' title \"%s (lr)\"",
			      i ? ", " : "", i, COLORS[i % N_COLORS], r[i].name);
	(void)fprintf(g, "\nunset multiplot\nset output\n");
	(void)any_lr;
}

/* gnuplot with its stdin a pipe (*g, our end) and its stdout and stderr efd;
 * no shell involved. */
static int start_gnuplot(const char *gp, int efd, pid_t *pid, FILE **g, ct_err *e)
{
	int fd[2];
	if (pipe2(fd, O_CLOEXEC) != 0)
		return ct_errno(e, CT_EIO, errno, "pipe for gnuplot");
	posix_spawn_file_actions_t fa;
	int rc = posix_spawn_file_actions_init(&fa);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, fd[0], 0);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, efd, 1);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(&fa, efd, 2);
	/* our environment without the fault-injection settings of the tests
	 * (tests/faultinject.c), which are about ctrain's own I/O, not gnuplot's */
	size_t ne = 0;
	while (environ[ne])
		ne++;
	char **env = rc == 0 ? calloc(ne + 1, sizeof *env) : NULL;
	if (rc == 0 && !env)
		rc = ENOMEM;
	for (size_t i = 0, k = 0; env && i < ne; i++)
		if (strncmp(environ[i], "CTRAIN_FAULT_", 13) != 0)
			env[k++] = environ[i];
	if (rc == 0) {
		char prog[4200];
		snprintf(prog, sizeof prog, "%s", gp);
		char *argv[] = {prog, NULL};
		rc = posix_spawn(pid, gp, &fa, NULL, argv, env);
	}
	free(env);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)close(fd[0]); /* the child's end */
	if (rc != 0) {
		(void)close(fd[1]); /* nothing was written */
		return ct_errno(e, CT_EIO, rc, "%s: cannot start", gp);
	}
	*g = fdopen(fd[1], "w");
	if (!*g) {
		int err = errno;
		(void)close(fd[1]); /* gnuplot sees EOF and exits */
		int st;
		while (waitpid(*pid, &st, 0) < 0 && errno == EINTR)
			;
		return ct_errno(e, CT_ENOMEM, err, "fdopen for gnuplot");
	}
	return 0;
}

int plot_runs(char *const *dirs, size_t n, const char *out, ct_err *e)
{
	int png = ends_with(out, ".png");
	if (!png && !ends_with(out, ".svg"))
		return ct_errf(e, CT_EUSAGE, "%s: the picture must be .svg or .png", out);
	if (n == 0)
		return ct_errf(e, CT_EUSAGE, "plot: no run directory given");
	char gp[4200];
	if (!find_gnuplot(gp, sizeof gp))
		return ct_errf(e, CT_ENOTFOUND,
			       "gnuplot not found (Debian: apt-get install gnuplot-nox)");
	run_data *r = calloc(n, sizeof *r);
	if (!r)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = read_run(dirs[i], &r[i], e);
	/* .tmp-<name>-<pid>-0 next to out: ct_atomic_cleanup_tmp knows the pattern */
	char tmp[4400];
	const char *slash = strrchr(out, '/');
	snprintf(tmp, sizeof tmp, "%.*s%s%s-%ld-0", slash ? (int)(slash - out + 1) : 0, out,
		 CT_ATOMIC_TMP_PREFIX, slash ? slash + 1 : out, (long)getpid());
	if (rc == 0 && strchr(tmp, '"'))
		rc = ct_errf(e, CT_EUSAGE, "%s: a '\"' in the output name", out);
	if (rc == 0) {
		/* a gnuplot that dies early must not kill us with SIGPIPE */
		struct sigaction ign, old;
		memset(&ign, 0, sizeof ign);
		ign.sa_handler = SIG_IGN;
		sigemptyset(&ign.sa_mask);
		(void)sigaction(SIGPIPE, &ign, &old);
		/* gnuplot's messages go to a file, shown only when it fails */
		const char *td = getenv("TMPDIR");
		char errf[4200];
		snprintf(errf, sizeof errf, "%s/ctrain-gnuplot-XXXXXX", td && td[0] ? td : "/tmp");
		int efd = mkstemp(errf);
		if (efd < 0)
			rc = ct_errno(e, CT_EIO, errno, "%s: cannot create", errf);
		pid_t pid = -1;
		FILE *g = NULL;
		if (rc == 0)
			rc = start_gnuplot(gp, efd, &pid, &g, e);
		if (rc == 0) {
			write_script(g, r, n, tmp, png);
			int werr = ferror(g) || fflush(g) != 0;
			werr |= fclose(g) != 0;
			int st = 0;
			pid_t w;
			while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
				;
			if (werr)
				rc = ct_errf(e, CT_EIO, "%s: writing the script to gnuplot failed",
					     gp);
			else if (w < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				char msg[300] = "";
				FILE *ef = fopen(errf, "r");
				if (ef) {
					if (!fgets(msg, sizeof msg, ef))
						msg[0] = '\0';
					(void)fclose(ef); /* read only */
				}
				msg[strcspn(msg, "\n")] = '\0';
				int code = w < 0           ? -1
					   : WIFEXITED(st) ? WEXITSTATUS(st)
							   : 128 + WTERMSIG(st);
				rc = ct_errf(e, CT_EIO, "%s failed (status %d) drawing %s%s%s", gp,
					     code, out, msg[0] ? ": " : "", msg);
			}
		}
		if (efd >= 0) {
			(void)close(efd);   /* only gnuplot wrote to it */
			(void)unlink(errf); /* a temporary file: nothing to lose */
		}
		(void)sigaction(SIGPIPE, &old, NULL);
	}
	if (rc == 0 && rename(tmp, out) != 0)
		rc = ct_errno(e, CT_EIO, errno, "%s: cannot rename to %s", tmp, out);
	if (rc < 0)
		(void)unlink(tmp); /* may not exist */
	for (size_t i = 0; i < n; i++)
		free(r[i].p);
	free(r);
	return rc;
}

void plot_refresh(const char *dir)
{
	char out[4200], gp[4200];
	if (!find_gnuplot(gp, sizeof gp)) {
		ct_log_info("%s/curves.svg not refreshed: gnuplot not found (apt-get install "
			    "gnuplot-nox)",
			    dir);
		return;
	}
	snprintf(out, sizeof out, "%s/curves.svg", dir);
	char copy[4096];
	snprintf(copy, sizeof copy, "%s", dir);
	char *dirs[1] = {copy};
	ct_err e = {0};
	if (plot_runs(dirs, 1, out, &e) < 0)
		ct_log_warn("%s not refreshed: %s", out, e.msg);
	else
		ct_log_info("wrote %s", out);
}
