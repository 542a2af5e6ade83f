/* comm.h — the ranks of a data-parallel job, and a single process without
 * MPI, behind one interface (issue 17).
 *
 * `ctrain` and libctrain never link libmpi.  ct_comm_init looks at the
 * environment: when a launcher started the process (Open MPI's mpirun sets
 * OMPI_COMM_WORLD_SIZE, MPICH's hydra PMI_SIZE, PMIx launchers and srun
 * PMIX_RANK) it dlopens libctrain_mpi.so and calls MPI_Init through it;
 * otherwise it is rank 0 of 1 and loads nothing (no libmpi mapped, no
 * MPI_Init: a singleton MPI_Init costs 0.8 s here).  The plugin is looked for
 * in $CTRAIN_MPI_LIB, next to the executable, in ../lib from it, then by the
 * dynamic linker's search path.
 *
 * Kernel pinning (train.kernel, which may re-execute the process) must
 * happen before ct_comm_init: re-executing after MPI_Init breaks the job.
 *
 *     ct_comm c; if (ct_comm_init(&c, &e) < 0) ...      // c.rank, c.size
 *     ct_comm_allgather(&c, mine, all, bytes, &e);   // all = size * bytes, rank order
 *     ct_comm_allreduce_u64(&c, v, n, CT_COMM_OP_MIN, &e);
 *     ct_comm_bcast(&c, buf, bytes, 0, &e);
 *     ct_comm_finalize(&c, &e);                      // or ct_comm_abort(&c, status) on failure
 * Every call is collective: every rank makes the same calls in the same order.
 */
#ifndef CT_COMM_H
#define CT_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "../util/api.h"
#include "../util/err.h"
#include "comm_plugin.h"

typedef struct ct_comm {
	int rank, size;
	int mpi;           /* 1 when the plugin is loaded and MPI_Init'ed */
	char launcher[32]; /* the variable that showed the launcher, or "" */
	char version[128]; /* MPI library version, or "" */
	void *dl;
	const ct_comm_plugin *p;
} ct_comm;

/* 1 (and the variable's name in name) when a launcher started the process. */
CT_API int ct_comm_launched(char *name, size_t len);
CT_API int ct_comm_init(ct_comm *c, ct_err *e);
CT_API int ct_comm_allgather(ct_comm *c, const void *send, void *recv, size_t bytes, ct_err *e);
CT_API int ct_comm_allreduce_u64(ct_comm *c, uint64_t *v, int n, int op, ct_err *e);
CT_API int ct_comm_bcast(ct_comm *c, void *buf, size_t bytes, int root, ct_err *e);
CT_API int ct_comm_barrier(ct_comm *c, ct_err *e);
/* Ends every rank of the job with `status` (MPI_Abort); a single process
 * returns and the caller exits. */
CT_API void ct_comm_abort(ct_comm *c, int status);
CT_API int ct_comm_finalize(ct_comm *c, ct_err *e);

#endif
