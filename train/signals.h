/* signals.h — SIGINT/SIGTERM/SIGHUP become a flag the training loop polls
 * between steps; the loop then writes a checkpoint and exits 128 + the signal
 * number (130/143/129).  The handler only stores the signal number
 * (async-signal-safe); a second signal while the checkpoint is being written
 * changes nothing.  SIGPIPE is ignored: a closed stdout or stderr (`| head`,
 * a terminal gone) shows as EPIPE on the write, and training goes on.
 */
#ifndef CT_SIGNALS_H
#define CT_SIGNALS_H

/* Handlers for SIGINT, SIGTERM, SIGHUP; ignores SIGPIPE. */
void signals_install(void);
/* Only ignores SIGPIPE (before the training loop installs the rest). */
void signals_ignore_pipe(void);
/* The first signal received (SIGINT, SIGTERM or SIGHUP), or 0. */
int signals_pending(void);

#endif
