/* supervise.h — `ctrain train|resume ... --restarts N [-- LAUNCHER...]`: the
 * process stays a small supervisor (no data, no BLAS threads) and runs the
 * training in a child (posix_spawn of /proc/self/exe with CTRAIN_SUPERVISED=1
 * in its environment, and without --restarts in its arguments, so the child
 * trains instead of supervising).  With a launcher (`-- mpirun -np 4 ...`)
 * each attempt is `LAUNCHER... /abs/path/ctrain ARGS` (the launcher found on
 * PATH) and "child" below is the launcher.  When the child fails — killed by
 * a signal (SIGKILL, the OOM killer, a crash), exit 1 (an I/O error) or any
 * other status but 0 and 2 (mpirun exits 137 when a rank was SIGKILLed) — it
 * runs `ctrain resume DIR`, which continues bit-exactly from the newest valid
 * checkpoint, after a back-off of 100 ms doubling up to 5 s, at most N times.
 * It never restarts after exit 0, exit 2 (usage, config or data error), a
 * stop on a non-finite loss (the attempt's last event in DIR/events.csv is
 * "failed" with "non-finite" or "NaN" in its message), an attempt whose
 * training process was interrupted by a signal sent to it and saved (its last
 * event is "interrupted"), or once SIGINT, SIGTERM or SIGHUP reached the
 * supervisor, which forwards them to the child.  Every restart is one
 * "restart" line in DIR/events.csv (step: the checkpoint it restarts from;
 * detail: why, naming the launcher) and one WARN line.
 *
 *     if ((restarts > 0 || launcher) && !supervise_is_child())
 *             return supervise_run(first_argv, resume_argv, launcher, dir, restarts, &e);
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
/* argv vectors start with the program name (the launcher's when launcher is
 * nonzero), end with NULL. */
int supervise_run(char **first_argv, char **restart_argv, int launcher, const char *run_dir,
		  int max_restarts, ct_err *e);

#endif
