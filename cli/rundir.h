/* rundir.h — what protects a run directory: the one-writer lock, the test
 * "does this directory hold a run", and the durable removal of a run's files.
 *
 * The lock protocol (shared with `ctrain status`): DIR/.lock is created if
 * needed, locked with flock(LOCK_EX | LOCK_NB), and holds the holder's pid as
 * decimal text and a newline.  The kernel drops the lock when the process
 * dies, so a lock never outlives its writer (kill -9 included); a stale pid in
 * the file means nothing without the flock.
 *
 *     int fd;
 *     rc = rundir_lock("runs/x", &fd, &e);  // CT_EIO "held by pid N" if taken
 *     ... train ...
 *     rundir_unlock(fd);                    // or just exit
 */
#ifndef CT_RUNDIR_H
#define CT_RUNDIR_H

#include "../util/err.h"

#define RUNDIR_LOCK_NAME ".lock"

/* Takes the exclusive lock of an existing directory; *fd holds it.  When
 * another process holds it: CT_EIO naming the directory and the holder's pid. */
int rundir_lock(const char *dir, int *fd, ct_err *e);
void rundir_unlock(int fd);

/* 1 if dir holds any file of a run (config.ini, metrics.csv,
 * model.safetensors, checkpoints/), else 0. */
int rundir_holds_run(const char *dir);
/* Removes a run's files (those above, curves.svg, train.log, and every file in
 * checkpoints/ then the directory itself), then fsyncs dir. */
int rundir_clear(const char *dir, ct_err *e);
/* Unlinks DIR/name if it exists and fsyncs dir; 1 if removed, 0 if absent. */
int rundir_remove(const char *dir, const char *name, ct_err *e);

#endif
