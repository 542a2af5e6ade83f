/* comm_plugin.h — the table of functions libctrain_mpi.so gives comm.c.
 *
 * libctrain and the ctrain binary never link libmpi: comm.c dlopens
 * libctrain_mpi.so (dist/mpi/plugin.c, compiled against the MPI that runs
 * the job) only when the environment says a launcher started the process,
 * and calls through this table.  No MPI type crosses it, so the same
 * libctrain works with Open MPI's or MPICH's build of the plugin.
 * Every function returns 0 or an MPI error code, with the MPI error text
 * in err.
 */
#ifndef CT_COMM_PLUGIN_H
#define CT_COMM_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define CT_COMM_PLUGIN_ABI 1
#define CT_COMM_PLUGIN_SYMBOL "ctrain_mpi_plugin"

enum { CT_COMM_OP_MIN = 0, CT_COMM_OP_MAX = 1, CT_COMM_OP_SUM = 2, CT_COMM_OP_BOR = 3 };

typedef struct ct_comm_plugin {
	int abi; /* CT_COMM_PLUGIN_ABI */
	int (*init)(int *rank, int *size, char *version, size_t version_len, char *err,
		    size_t err_len);
	/* recv holds size * bytes; rank i's block at i * bytes. */
	int (*allgather)(const void *send, void *recv, size_t bytes, char *err, size_t err_len);
	int (*allreduce_u64)(uint64_t *v, int n, int op, char *err, size_t err_len);
	int (*bcast)(void *buf, size_t bytes, int root, char *err, size_t err_len);
	int (*barrier)(char *err, size_t err_len);
	void (*abort_job)(int status);
	int (*finalize)(char *err, size_t err_len);
} ct_comm_plugin;

typedef const ct_comm_plugin *(*ct_comm_plugin_fn)(void);

#endif
