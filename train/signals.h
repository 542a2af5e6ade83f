/* signals.h — SIGINT/SIGTERM become a flag the training loop polls between
 * steps; the loop then writes a checkpoint and exits 130/143.  The handler
 * only stores the signal number (async-signal-safe); a second signal while
 * the checkpoint is being written changes nothing.
 */
#ifndef CT_SIGNALS_H
#define CT_SIGNALS_H

void signals_install(void);
/* The first signal received (SIGINT or SIGTERM), or 0. */
int signals_pending(void);

#endif
