/* replica.h — what keeps the replicas of a data-parallel job in step:
 * each step's exchange (gradients, losses, counters and the stop vote in one
 * MPI_Allgather, then the upper tree levels on every rank), and a 64-bit
 * digest of the parameters compared across ranks at every checkpoint.
 *
 *     ct_dist_exchange x; ct_dist_exchange_init(&x, &layout, c.size, &e);
 *     each step:
 *         ... this rank's subtree root `mine` (shards.h) ...
 *         void *root;
 *         ct_dist_step_exchange(&c, &x, mine, stop_requested, &root, &e);
 *         // root: the same bytes on every rank and for every P dividing S;
 *         // ct_shard_stop(&layout, root): some rank voted to stop at this step,
 *         // so every rank stops after it (the same step everywhere)
 *     at a checkpoint:
 *         ct_dist_check_replicas(&c, ct_dist_digest(ps.data, ps.n * 4), step, &e);
 *     ct_dist_exchange_release(&x);
 * A single process (c.size == 1) exchanges nothing: root is `mine`.
 */
#ifndef CT_REPLICA_H
#define CT_REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include "../util/api.h"
#include "comm.h"
#include "shards.h"

typedef struct ct_dist_exchange {
	ct_shard_layout l;
	int ranks;
	unsigned char *gathered; /* ranks nodes (NULL for one rank) */
} ct_dist_exchange;

CT_API int ct_dist_exchange_init(ct_dist_exchange *x, const ct_shard_layout *l, int ranks,
				 ct_err *e);
CT_API void ct_dist_exchange_release(ct_dist_exchange *x);
/* Sets this rank's stop vote on `mine`, gathers every rank's node in rank
 * order and reduces them by the upper tree levels; *root points into x (or
 * is mine for one rank). */
CT_API int ct_dist_step_exchange(ct_comm *c, ct_dist_exchange *x, void *mine, int stop, void **root,
				 ct_err *e);

/* A 64-bit digest of bytes (four multiply-rotate lanes, then a final mix):
 * any changed byte changes it, at memory speed. */
CT_API uint64_t ct_dist_digest(const void *buf, size_t bytes);
/* Compares digest across ranks (one MPI_Allreduce of MIN over {d, ~d}, so
 * the minimum and the maximum); CT_EMISMATCH naming the step when they
 * differ.  Every rank gets the same answer. */
CT_API int ct_dist_check_replicas(ct_comm *c, uint64_t digest, int64_t step, ct_err *e);

#endif
