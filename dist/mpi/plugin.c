/* plugin.c — libctrain_mpi.so: the MPI side of comm.h (see comm_plugin.h).
 * Built by the Makefile against the system MPI (pkg-config ompi-c); the one
 * exported symbol is ctrain_mpi_plugin().  Errors return instead of
 * aborting (MPI_ERRORS_RETURN), so the caller can name the step. */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "../comm_plugin.h"

const ct_comm_plugin *ctrain_mpi_plugin(void);

static int fail(int rc, const char *what, char *err, size_t len)
{
	char text[MPI_MAX_ERROR_STRING];
	int n = 0;
	if (MPI_Error_string(rc, text, &n) != MPI_SUCCESS)
		snprintf(text, sizeof text, "MPI error %d", rc);
	snprintf(err, len, "%s: %s", what, text);
	return rc ? rc : -1;
}

static int p_init(int *rank, int *size, char *version, size_t version_len, char *err,
		  size_t err_len)
{
	int rc = MPI_Init(NULL, NULL);
	if (rc != MPI_SUCCESS)
		return fail(rc, "MPI_Init", err, err_len);
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	if ((rc = MPI_Comm_rank(MPI_COMM_WORLD, rank)) != MPI_SUCCESS ||
	    (rc = MPI_Comm_size(MPI_COMM_WORLD, size)) != MPI_SUCCESS)
		return fail(rc, "MPI_Comm_rank/size", err, err_len);
	char v[MPI_MAX_LIBRARY_VERSION_STRING];
	int n = 0;
	if (MPI_Get_library_version(v, &n) == MPI_SUCCESS) {
		v[strcspn(v, ",\n")] = '\0';
		snprintf(version, version_len, "%s", v);
	}
	return 0;
}

static int p_allgather(const void *send, void *recv, size_t bytes, char *err, size_t err_len)
{
	if (bytes > INT_MAX) {
		snprintf(err, err_len, "MPI_Allgather: %zu bytes per rank is over %d", bytes,
			 INT_MAX);
		return -1;
	}
	int rc = MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE,
			       MPI_COMM_WORLD);
	return rc == MPI_SUCCESS ? 0 : fail(rc, "MPI_Allgather", err, err_len);
}

static int p_allreduce_u64(uint64_t *v, int n, int op, char *err, size_t err_len)
{
	MPI_Op ops[] = {MPI_MIN, MPI_MAX, MPI_SUM, MPI_BOR};
	if (op < 0 || op > CT_COMM_OP_BOR) {
		snprintf(err, err_len, "MPI_Allreduce: unknown op %d", op);
		return -1;
	}
	int rc = MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_UINT64_T, ops[op], MPI_COMM_WORLD);
	return rc == MPI_SUCCESS ? 0 : fail(rc, "MPI_Allreduce", err, err_len);
}

static int p_bcast(void *buf, size_t bytes, int root, char *err, size_t err_len)
{
	if (bytes > INT_MAX) {
		snprintf(err, err_len, "MPI_Bcast: %zu bytes is over %d", bytes, INT_MAX);
		return -1;
	}
	int rc = MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD);
	return rc == MPI_SUCCESS ? 0 : fail(rc, "MPI_Bcast", err, err_len);
}

static int p_barrier(char *err, size_t err_len)
{
	int rc = MPI_Barrier(MPI_COMM_WORLD);
	return rc == MPI_SUCCESS ? 0 : fail(rc, "MPI_Barrier", err, err_len);
}

static void p_abort(int status) { MPI_Abort(MPI_COMM_WORLD, status); }

static int p_finalize(char *err, size_t err_len)
{
	int rc = MPI_Finalize();
	return rc == MPI_SUCCESS ? 0 : fail(rc, "MPI_Finalize", err, err_len);
}

const ct_comm_plugin *ctrain_mpi_plugin(void)
{
	static const ct_comm_plugin p = {
		CT_COMM_PLUGIN_ABI, p_init,  p_allgather, p_allreduce_u64, p_bcast,
		p_barrier,          p_abort, p_finalize};
	return &p;
}
