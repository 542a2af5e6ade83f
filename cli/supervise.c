/* supervise.c — `--restarts N` of train/resume (see supervise.h). */
#include "supervise.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../ckpt/discover.h"
#include "../util/log.h"
#include "events.h"

static volatile sig_atomic_t g_child;  /* pid of the running child, 0 between */
static volatile sig_atomic_t g_signal; /* a user signal received by the supervisor */

static void on_signal(int sig)
{
	if (!g_signal)
		g_signal = sig;
	if (g_child > 0)
		(void)kill((pid_t)g_child, sig); /* async-signal-safe; the child saves and exits */
}

int supervise_is_child(void) { return getenv(SUPERVISE_ENV) != NULL; }

/* Step of the newest valid checkpoint, -1 if none (never renames anything). */
static int64_t newest_valid_step(const char *run_dir)
{
	char ck[4200];
	snprintf(ck, sizeof ck, "%s/checkpoints", run_dir);
	ct_ckpt_entry *v = NULL;
	size_t n = 0;
	int64_t step = -1;
	if (ct_ckpt_list(ck, &v, &n, NULL) < 0)
		return -1;
	for (size_t i = 0; i < n && step < 0; i++)
		if (ct_ckpt_check(&v[i]) == 1)
			step = v[i].step;
	ct_ckpt_list_free(v, n);
	return step;
}

/* The run's events: how many there are, and whether the last one of those
 * after the first `since` is a stop on a non-finite loss ("failed" with
 * "non-finite" or "NaN") or an interrupt the training process saved
 * ("interrupted": a user's signal sent to it directly).  Events older than
 * the current attempt never decide about it. */
static size_t events_since(const char *run_dir, size_t since, int *nonfinite, int *interrupted)
{
	run_event *v = NULL;
	size_t n = 0;
	*nonfinite = *interrupted = 0;
	if (events_read(run_dir, &v, &n, NULL) < 0)
		n = 0;
	if (n > since) {
		const run_event *l = &v[n - 1];
		*nonfinite = strcmp(l->event, "failed") == 0 &&
			     (strstr(l->detail, "non-finite") || strstr(l->detail, "NaN"));
		*interrupted = strcmp(l->event, "interrupted") == 0;
	}
	free(v);
	return n;
}

/* launcher: argv[0] is a command found on PATH (mpirun...), not ctrain. */
static int spawn_wait(char **argv, int launcher, int *status, ct_err *e)
{
	pid_t pid;
	int rc = launcher ? posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ)
			  : posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ);
	if (rc != 0)
		return ct_errno(e, CT_EIO, rc, "--restarts: cannot start %s", argv[0]);
	g_child = (sig_atomic_t)pid;
	if (g_signal) /* arrived between the spawn and the store above */
		(void)kill(pid, g_signal);
	pid_t w;
	while ((w = waitpid(pid, status, 0)) < 0 && errno == EINTR)
		;
	g_child = 0;
	if (w < 0)
		return ct_errno(e, CT_EIO, errno, "--restarts: waiting for pid %ld", (long)pid);
	return 0;
}

/* Sleeps ms milliseconds unless a user signal arrives. */
static void backoff(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (!g_signal && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int supervise_run(char **first_argv, char **restart_argv, int launcher, const char *run_dir,
		  int max_restarts, ct_err *e)
{
	const char *base = strrchr(first_argv[0], '/');
	char via[160] = ""; /* names the launcher in every message */
	if (launcher)
		snprintf(via, sizeof via, " (launcher %s)", base ? base + 1 : first_argv[0]);
	if (setenv(SUPERVISE_ENV, "1", 1) != 0)
		return ct_errno(e, CT_EIO, errno, "--restarts: setenv");
	struct sigaction sa, old[3];
	const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++)
		(void)sigaction(sigs[i], &sa, &old[i]);
	long delay_ms = SUPERVISE_BACKOFF_MS;
	int restarts = 0, rc = 0, result = 1;
	char **argv = first_argv;
	for (;;) {
		int st = 0, nonfinite, interrupted;
		size_t n_events = events_since(run_dir, 0, &nonfinite, &interrupted);
		rc = spawn_wait(argv, launcher, &st, e);
		if (rc < 0)
			break;
		(void)events_since(run_dir, n_events, &nonfinite, &interrupted);
		char why[256];
		if (WIFEXITED(st)) {
			result = WEXITSTATUS(st);
			snprintf(why, sizeof why, "exit status %d%s", result, via);
		} else {
			result = 128 + WTERMSIG(st);
			snprintf(why, sizeof why, "killed by signal %d%s", WTERMSIG(st), via);
		}
		if (WIFEXITED(st) && (result == 0 || result == 2))
			break; /* done, or a usage/config/data error */
		if (g_signal) {
			ct_log_info("--restarts: not restarting after %s (signal %d from the user)",
				    why, (int)g_signal);
			break;
		}
		if (nonfinite) {
			ct_log_info(
				"--restarts: not restarting a run stopped on a non-finite loss");
			break;
		}
		if (interrupted) { /* the user signalled the training process itself */
			ct_log_info("--restarts: not restarting after %s: the training process was "
				    "interrupted by a signal and saved its checkpoint",
				    why);
			break;
		}
		if (restarts == max_restarts) {
			ct_log_error(
				"--restarts: giving up after %d restart(s); the last run ended with "
				"%s",
				restarts, why);
			break;
		}
		restarts++;
		int64_t step = newest_valid_step(run_dir);
		char detail[400];
		snprintf(detail, sizeof detail, "restart %d of %d after %s; back-off %ld ms",
			 restarts, max_restarts, why, delay_ms);
		ct_log_warn(
			"--restarts: training process ended with %s; restart %d of %d from step "
			"%lld in %ld ms",
			why, restarts, max_restarts, (long long)(step < 0 ? 0 : step), delay_ms);
		ct_err we = {0};
		if (events_append(run_dir, "restart", step < 0 ? 0 : step, -1, detail, &we) < 0)
			ct_log_warn("%s", we.msg);
		backoff(delay_ms);
		if (g_signal)
			break;
		delay_ms = delay_ms * 2 > SUPERVISE_BACKOFF_MAX_MS ? SUPERVISE_BACKOFF_MAX_MS
								   : delay_ms * 2;
		argv = restart_argv;
	}
	for (int i = 0; i < 3; i++)
		(void)sigaction(sigs[i], &old[i], NULL);
	(void)unsetenv(SUPERVISE_ENV);
	return rc < 0 ? rc : result;
}
