/* dist_check.c — the driver of tests/e2e/e2e_mpi.sh: runs the building blocks of
 * issue 17 (dist/) under mpirun -np P, or alone, and prints what the script
 * compares.  Rank 0 prints; every rank returns the same status.
 *
 *     dist_check reduce S FLOATS SEED       # root hash of S synthetic leaves
 *     dist_check stop S STEPS RANK STEP     # RANK votes to stop at STEP
 *     dist_check digest STEPS [RANK STEP]   # RANK's parameters flip a bit at STEP
 *     dist_check maps                       # is libmpi mapped in this process?
 * The perturbation of `digest` is this test's own doing (no hook in dist/). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dist/comm.h"
#include "../dist/replica.h"
#include "../dist/shards.h"

static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Leaf i: floats over 2^-12 .. 2^12 in magnitude, so the order of the sums
 * shows in the bits; a loss sum; two counters. */
static void fill_leaf(const ct_shard_layout *l, void *node, int i, uint64_t seed)
{
	float *f = ct_shard_floats(l, node);
	for (size_t j = 0; j < l->nf; j++) {
		uint64_t h = mix(seed ^ mix((uint64_t)i << 32 ^ j));
		float u = (float)(h >> 40) * 0x1.0p-24f - 0.5f;
		f[j] = ldexpf(u, (int)(h % 25) - 12);
	}
	ct_shard_doubles(l, node)[0] = (double)(mix(seed + (uint64_t)i) >> 11) * 0x1.0p-40;
	ct_shard_ints(l, node)[0] = 100 + i;
	ct_shard_ints(l, node)[1] = 1;
}

/* This rank's leaves of S, their tree and the exchange of its root. */
typedef struct rank_tree {
	ct_shard_layout l;
	int first, count;
	ct_shard_tree t;
	ct_dist_exchange x;
} rank_tree;

static int rank_tree_init(rank_tree *r, ct_comm *c, int shards, size_t nf, int nd, int ni,
			  ct_err *e)
{
	ct_shard_layout_init(&r->l, nf, nd, ni);
	ct_shard_owned(shards, c->size, c->rank, &r->first, &r->count);
	int rc = ct_shard_tree_init(&r->t, &r->l, r->count, e);
	if (rc == 0 && (rc = ct_dist_exchange_init(&r->x, &r->l, c->size, e)) < 0)
		ct_shard_tree_release(&r->t);
	return rc;
}

static void rank_tree_release(rank_tree *r)
{
	ct_dist_exchange_release(&r->x);
	ct_shard_tree_release(&r->t);
}

/* The tree emptied, then this rank's leaves filled with seed and pushed. */
static void rank_tree_fill(rank_tree *r, uint64_t seed)
{
	ct_shard_tree_reset(&r->t);
	for (int i = r->first; i < r->first + r->count; i++) {
		fill_leaf(&r->l, ct_shard_tree_leaf(&r->t), i, seed);
		ct_shard_tree_push(&r->t);
	}
}

static int cmd_reduce(ct_comm *c, int shards, size_t nf, uint64_t seed, ct_err *e)
{
	if (!ct_shard_count_valid(shards) || shards % c->size)
		return ct_errf(e, CT_EUSAGE, "S = %d must be a power of two that %d ranks divide",
			       shards, c->size);
	rank_tree r;
	int rc = rank_tree_init(&r, c, shards, nf, 1, 2, e);
	if (rc < 0)
		return rc;
	rank_tree_fill(&r, seed);
	void *root;
	rc = ct_dist_step_exchange(c, &r.x, ct_shard_tree_root(&r.t), 0, &root, e);
	if (rc == 0 && c->rank == 0)
		printf("reduce S=%d P=%d floats=%zu hash=%016" PRIx64 " loss=%a count=%" PRId64
		       " leaves=%" PRId64 "\n",
		       shards, c->size, nf, ct_dist_digest(root, r.l.bytes),
		       ct_shard_doubles(&r.l, root)[0], ct_shard_ints(&r.l, root)[0],
		       ct_shard_ints(&r.l, root)[1]);
	rank_tree_release(&r);
	return rc;
}

static int cmd_stop(ct_comm *c, int shards, int steps, int vote_rank, int vote_step, ct_err *e)
{
	rank_tree r;
	int rc = rank_tree_init(&r, c, shards, 16, 1, 1, e);
	if (rc < 0)
		return rc;
	int step = 0, stopped = -1;
	for (; step < steps && rc == 0 && stopped < 0; step++) {
		rank_tree_fill(&r, (uint64_t)step);
		void *root;
		int vote = c->rank == vote_rank && step >= vote_step;
		rc = ct_dist_step_exchange(c, &r.x, ct_shard_tree_root(&r.t), vote, &root, e);
		if (rc == 0 && ct_shard_stop(&r.l, root))
			stopped = step;
	}
	/* Every rank reports; the script checks they agree. */
	if (rc == 0)
		printf("stop rank=%d stopped_at=%d\n", c->rank, stopped);
	rank_tree_release(&r);
	return rc;
}

static int cmd_digest(ct_comm *c, int steps, int bad_rank, int bad_step, ct_err *e)
{
	enum { N = 100003 };
	float *w = malloc(N * sizeof *w);
	if (!w)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	for (int j = 0; j < N; j++)
		w[j] = (float)j * 0.5f;
	int rc = 0;
	for (int step = 1; step <= steps && rc == 0; step++) {
		for (int j = 0; j < N; j++) /* the same "update" on every rank */
			w[j] = w[j] * 0.999f + 0.001f;
		if (c->rank == bad_rank && step == bad_step) {
			uint32_t bits;
			memcpy(&bits, &w[N / 2], 4);
			bits ^= 1u; /* one ulp of one parameter */
			memcpy(&w[N / 2], &bits, 4);
		}
		rc = ct_dist_check_replicas(c, ct_dist_digest(w, N * sizeof *w), step, e);
	}
	if (rc == 0 && c->rank == 0)
		printf("digest: %d steps, replicas agree\n", steps);
	free(w);
	return rc;
}

static int cmd_maps(const ct_comm *c)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int loaded = 0;
	char line[4096];
	while (f && fgets(line, sizeof line, f))
		if (strstr(line, "libmpi") || strstr(line, "libctrain_mpi"))
			loaded = 1;
	if (f)
		(void)fclose(f); /* read-only */
	if (c->rank == 0)
		printf("maps: size=%d mpi=%d libmpi_mapped=%d launcher=%s version=%s\n", c->size,
		       c->mpi, loaded, c->launcher[0] ? c->launcher : "-",
		       c->version[0] ? c->version : "-");
	return 0;
}

static int run(ct_comm *c, int argc, char **argv, ct_err *e)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	if (strcmp(cmd, "reduce") == 0 && argc == 5)
		return cmd_reduce(c, atoi(argv[2]), (size_t)atol(argv[3]),
				  strtoull(argv[4], NULL, 10), e);
	if (strcmp(cmd, "stop") == 0 && argc == 6)
		return cmd_stop(c, atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), e);
	if (strcmp(cmd, "digest") == 0 && (argc == 3 || argc == 5))
		return cmd_digest(c, atoi(argv[2]), argc == 5 ? atoi(argv[3]) : -1,
				  argc == 5 ? atoi(argv[4]) : -1, e);
	if (strcmp(cmd, "maps") == 0)
		return cmd_maps(c);
	return ct_errf(e, CT_EUSAGE, "usage: dist_check reduce|stop|digest|maps ...");
}

int main(int argc, char **argv)
{
	ct_comm c;
	ct_err e = {0};
	int rc = ct_comm_init(&c, &e);
	if (rc == 0)
		rc = run(&c, argc, argv, &e);
	if (rc < 0)
		fprintf(stderr, "dist_check: rank %d: %s\n", c.rank, e.msg);
	ct_err fe = {0};
	if (ct_comm_finalize(&c, &fe) < 0 && rc == 0) {
		fprintf(stderr, "dist_check: %s\n", fe.msg);
		rc = fe.code;
	}
	return rc == CT_EUSAGE ? 2 : rc < 0 ? 1 : 0;
}
