#include "comm.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ct_comm_launched(char *name, size_t len)
{
	static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		if (getenv(vars[i])) {
			if (name)
				snprintf(name, len, "%s", vars[i]);
			return 1;
		}
	return 0;
}

/* dlopen of the first candidate that loads; the last dlerror in tried. */
static void *open_plugin(char *tried, size_t len)
{
	char cand[3][PATH_MAX + 32];
	int n = 0;
	const char *env = getenv("CTRAIN_MPI_LIB");
	if (env && *env) {
		snprintf(cand[n++], sizeof cand[0], "%s", env);
	} else {
		char exe[PATH_MAX];
		ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (k > 0) {
			exe[k] = '\0';
			char *slash = strrchr(exe, '/');
			if (slash)
				*slash = '\0';
			snprintf(cand[n++], sizeof cand[0], "%s/libctrain_mpi.so", exe);
			snprintf(cand[n++], sizeof cand[0], "%s/../lib/libctrain_mpi.so", exe);
		}
		snprintf(cand[n++], sizeof cand[0], "libctrain_mpi.so");
	}
	tried[0] = '\0';
	for (int i = 0; i < n; i++) {
		/* RTLD_GLOBAL: Open MPI's components resolve libmpi's symbols. */
		void *dl = dlopen(cand[i], RTLD_NOW | RTLD_GLOBAL);
		if (dl)
			return dl;
		const char *why = dlerror();
		if (!why)
			why = cand[i];
		size_t k = strlen(why) < len ? strlen(why) : len - 1; /* truncation is fine */
		memcpy(tried, why, k);
		tried[k] = '\0';
	}
	return NULL;
}

int ct_comm_init(ct_comm *c, ct_err *e)
{
	memset(c, 0, sizeof *c);
	c->size = 1;
	if (!ct_comm_launched(c->launcher, sizeof c->launcher))
		return 0;
	char tried[512];
	c->dl = open_plugin(tried, sizeof tried);
	if (!c->dl)
		return ct_errf(
			e, CT_EUNSUPPORTED,
			"started by an MPI launcher (%s is set) but libctrain_mpi.so does not "
			"load (%s); build it with make or set CTRAIN_MPI_LIB",
			c->launcher, tried);
	ct_comm_plugin_fn fn;
	void *sym = dlsym(c->dl, CT_COMM_PLUGIN_SYMBOL);
	memcpy(&fn, &sym, sizeof fn); /* POSIX: a data pointer to a function pointer */
	c->p = sym ? fn() : NULL;
	if (!c->p || c->p->abi != CT_COMM_PLUGIN_ABI) {
		(void)dlclose(c->dl); /* nothing was initialised through it */
		c->dl = NULL;
		return ct_errf(e, CT_EUNSUPPORTED, "libctrain_mpi.so: no %s of ABI %d",
			       CT_COMM_PLUGIN_SYMBOL, CT_COMM_PLUGIN_ABI);
	}
	char msg[512] = "";
	if (c->p->init(&c->rank, &c->size, c->version, sizeof c->version, msg, sizeof msg) != 0)
		return ct_errf(e, CT_EIO, "%s", msg);
	c->mpi = 1;
	return 0;
}

static int check(int rc, const char *msg, ct_err *e)
{
	return rc == 0 ? 0 : ct_errf(e, CT_EIO, "%s", msg);
}

int ct_comm_allgather(ct_comm *c, const void *send, void *recv, size_t bytes, ct_err *e)
{
	if (!c->mpi) {
		if (recv != send)
			memmove(recv, send, bytes);
		return 0;
	}
	char msg[512] = "";
	return check(c->p->allgather(send, recv, bytes, msg, sizeof msg), msg, e);
}

int ct_comm_allreduce_u64(ct_comm *c, uint64_t *v, int n, int op, ct_err *e)
{
	CT_ASSERT(op >= CT_COMM_OP_MIN && op <= CT_COMM_OP_BOR && n >= 0);
	if (!c->mpi)
		return 0;
	char msg[512] = "";
	return check(c->p->allreduce_u64(v, n, op, msg, sizeof msg), msg, e);
}

int ct_comm_bcast(ct_comm *c, void *buf, size_t bytes, int root, ct_err *e)
{
	CT_ASSERT(root >= 0 && root < c->size);
	if (!c->mpi)
		return 0;
	char msg[512] = "";
	return check(c->p->bcast(buf, bytes, root, msg, sizeof msg), msg, e);
}

int ct_comm_barrier(ct_comm *c, ct_err *e)
{
	if (!c->mpi)
		return 0;
	char msg[512] = "";
	return check(c->p->barrier(msg, sizeof msg), msg, e);
}

void ct_comm_abort(ct_comm *c, int status)
{
	if (c->mpi)
		c->p->abort_job(status);
}

int ct_comm_finalize(ct_comm *c, ct_err *e)
{
	int rc = 0;
	if (c->mpi) {
		char msg[512] = "";
		rc = check(c->p->finalize(msg, sizeof msg), msg, e);
	}
	/* The plugin stays mapped: Open MPI registers atexit handlers in it. */
	c->mpi = 0;
	return rc;
}
