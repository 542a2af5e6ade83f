/* supervise.h — `ctrain train|resume ... --restarts N`: the process stays a
 * small supervisor (no data, no BLAS threads) and runs the training in a
 * child (posix_spawn of /proc/self/exe with CTRAIN_SUPERVISED=1 in its
 * environment, so the child trains instead of supervising).  When the child
 * dies — killed by a signal (SIGKILL, the OOM killer, a crash) or exit 1 (an
 * I/O error) — it runs `ctrain resume DIR`, which continues bit-exactly from
 * the newest valid checkpoint, after a back-off of 100 ms doubling up to 5 s,
 * at most N times.  It never restarts after exit 0, exit 2 (usage, config or
 * data error), an exit of 128 or more (the child stopped on a signal and saved
 * its checkpoint), a stop on a non-finite loss (the run's last event in
 * DIR/events.csv is "failed" with "non-finite" or "NaN" in its message), or
 * once SIGINT, SIGTERM or SIGHUP reached the supervisor, which forwards them
 * to the child.  Every restart is one "restart" line in DIR/events.csv (step:
 * the checkpoint it restarts from; detail: why) and one WARN line.
 *
 *     if (restarts > 0 && !supervise_is_child())
 *             return supervise_run(first_argv, resume_argv, dir, restarts, &e);
 * Returns the last child's exit status (128 + signal if it was killed), or a
 * negative CT_E* code when a child could not be started.
 */
#ifndef CT_SUPERVISE_H
#define CT_SUPERVISE_H

#include "../util/err.h"

#define SUPERVISE_ENV "CTRAIN_SUPERVISED"
#define SUPERVISE_BACKOFF_MS 100L
#define SUPERVISE_BACKOFF_MAX_MS 5000L

int supervise_is_child(void);
/* argv vectors start with the program name, end with NULL. */
int supervise_run(char **first_argv, char **restart_argv, const char *run_dir, int max_restarts,
		  ct_err *e);

#endif
