/* resume_from.h — continuing a run from a checkpoint of one's choosing, and
 * fine-tuning from another run's checkpoint with its optimizer state.
 *
 *   ctrain resume DIR --from ckpt-0000000400.h5
 *     resume_from_select(DIR, "ckpt-0000000400.h5", &e);   // before restoring
 *   verifies DIR/checkpoints/ckpt-0000000400.h5, then renames every later
 *   checkpoint to <name>.aside-<step> (and DIR/model.safetensors, if any, to
 *   model.safetensors.aside-<step>), oldest first, fsyncing the directories:
 *   nothing is deleted, discovery no longer sees them, and the ordinary
 *   resume continues from the chosen step (metrics.csv is cut back to it as
 *   after any crash).  A crash half-way leaves the newest original checkpoint
 *   in place, so a plain resume still continues the original run.
 *
 *   ctrain train --config NEW.ini --run-dir NEW --init-from CKPT.h5 --with-optimizer
 *     optimizer_load_checkpoint(&state, "CKPT.h5", &e);   // after the weights
 *   loads the optimizer state (momentum / Adam moments and Adam's step count)
 *   of a checkpoint into a fresh run; the optimizer must be the same kind
 *   (CT_EMISMATCH otherwise).  The new run starts at step 0 with its own
 *   schedule, data order and config.
 */
#ifndef CT_RESUME_FROM_H
#define CT_RESUME_FROM_H

#include "../util/err.h"
#include "../train/state.h"

int resume_from_select(const char *run_dir, const char *from, ct_err *e);
int optimizer_load_checkpoint(ct_train_state *s, const char *path, ct_err *e);

#endif
