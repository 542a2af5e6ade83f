/* snapshot.h — the full checkpoint of a train_state (the CLI's run): which
 * fields it holds, and a copy of them taken between steps, written as an
 * HDF5 image with a checksum trailer (ckpt/h5c.h) through the atomic writer,
 * and read back into a train_state.
 *
 *     snapshot sn; snapshot_init(&sn, &state, &e);     // registers the fields once
 *     snapshot_take(&sn, &state);                      // memcpy only: cheap, in the loop
 *     snapshot_write(&sn, "DIR/checkpoints/ckpt-0000000100.h5", &e);  // any thread
 *     ...
 *     snapshot_read(&sn, path, &e);                    // verify checksum, parse, check shapes
 *     snapshot_apply(&sn, &state, &e);                 // state continues bit-exactly
 *     snapshot_release(&sn);
 * The fields are one table (train/ckpt_fields.h) filled by snapshot_register,
 * which the checkpointer's ckpt_manager uses too, so every saved field is
 * also restored.  Layout (for h5py; see also ckpt/README.md):
 *   /@format = "ctrain-checkpoint", /@format_version = 1
 *   /model/<name>       float32, the parameters (same names/shapes as the export)
 *   /optim/m/<name>, /optim/v/<name>   float32 moments (momentum buffer in m)
 *   /optim/step, /optim/lr, attribute /optim@name
 *   /rng/init, /rng/dropout            uint64[4] xoshiro256** states
 *   /data/epoch, /data/cursor, /data/shuffle_rng   loader position
 *   /meta/step, /meta/epoch, /meta/threads, /meta/loss_sum, /meta/loss_count,
 *   /meta/elapsed, /meta/samples_seen, /meta/best_metric, /meta/evals_since_best,
 *   /meta/best_count, /meta/best_steps int64[32], /meta/best_values float64[32]
 *   (keep_best: the steps of the kept best checkpoints, best first, -1 padded;
 *   absent in checkpoints of earlier versions, which still resume)
 *   attributes /meta@config (the frozen config.ini text), /meta@version,
 *   /meta@blas_core (strings are attributes: HDF5 1.10 cannot store a
 *   variable-length string dataset without a fill value)
 */
#ifndef CT_SNAPSHOT_H
#define CT_SNAPSHOT_H

#include "ckpt_fields.h"
#include "state.h"

typedef struct snapshot {
	ckpt_fields f;
	train_state *s; /* the state the fields point into */
	/* After snapshot_read: the file's values (after take: the state's). */
	int64_t step, epoch, threads;
	char *optim_name, *config_text, *version, *blas_core;
} snapshot;

/* Registers every field of s in f (the layout above, after f's header).
 * s must stay where it is while f is used. */
int snapshot_register(ckpt_fields *f, train_state *s, ct_err *e);

int snapshot_init(snapshot *sn, train_state *s, ct_err *e);
void snapshot_release(snapshot *sn);
void snapshot_take(snapshot *sn, const train_state *s);
int snapshot_write(snapshot *sn, const char *path, ct_err *e);
/* The file's bytes (HDF5 image + trailer) in one malloc'ed buffer. */
int snapshot_serialize(snapshot *sn, void **buf, size_t *len, ct_err *e);
int snapshot_read(snapshot *sn, const char *path, ct_err *e);
int snapshot_apply(snapshot *sn, train_state *s, ct_err *e);

#endif
