/* bench_shards.c — the price of fixed micro-shards (issue 17), measured on
 * the step that train/trainer.c runs (graph forward/backward of nn/mlp.c,
 * then the optimizer), prototype for the wiring of dist/ into the trainer.
 *
 *     bench_shards LAYERS BATCH S THREADS [SECONDS]
 *         S = 0: today's step (one graph of BATCH rows, no tree)
 *         S > 0: the batch cut in S shards (shards.h); each shard's forward and
 *                backward on a graph of BATCH/S rows writes its gradient
 *                straight into a leaf of the tree (ps.grad points at it), the
 *                tree combines the leaves, the optimizer applies the root.
 *     under mpirun -np P: rank r computes its S/P shards, then
 *                ct_dist_step_exchange (one MPI_Allgather + the upper levels).
 *         S = -1: the exchange alone (MPI_Barrier, then ct_dist_step_exchange of
 *                one node of the model's size), 50 times: its median time,
 *                without the wait for a slower rank that a step includes.
 * Prints one JSON line (rank 0): samples/s (wall, and per CPU second of
 * all ranks together; medians of 5 windows), the exchange's share of the
 * step, the OpenBLAS core. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../dist/comm.h"
#include "../../dist/replica.h"
#include "../../dist/shards.h"
#include "../../nn/mlp.h"
#include "../../nn/ops.h"
#include "../../nn/optim.h"

typedef struct bench {
	ct_comm c;
	ct_mlp m;
	ct_optim opt;
	int sizes[16], n_sizes, batch, shards, first, count;
	float *x, *grad0;
	int32_t *y;
	int64_t rows, cursor;
	ct_shard_layout l;
	ct_shard_tree t;
	ct_dist_exchange xc;
	double t_exchange;
	double loss;
} bench;

static double now(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void run_rows(bench *b, int64_t start, int rows)
{
	ct_mlp_graph *mg = &b->m.train;
	int d = b->sizes[0];
	int64_t at = (b->cursor + start) % (b->rows - b->batch);
	ct_graph_set_rows(mg->g, rows);
	memcpy(ct_graph_value(mg->g, mg->in), b->x + at * d,
	       (size_t)rows * (size_t)d * sizeof(float));
	ct_graph_set_labels(mg->g, mg->loss, b->y + at);
	ct_graph_forward(mg->g);
	b->loss = ct_graph_loss(mg->g, mg->loss);
	ct_graph_backward(mg->g, mg->loss);
}

static int step(bench *b, ct_err *e)
{
	if (b->shards == 0) {
		run_rows(b, 0, b->batch);
		ct_optim_step(&b->opt, b->m.ps.data, b->m.ps.grad, 0.01);
	} else {
		ct_shard_tree_reset(&b->t);
		for (int i = b->first; i < b->first + b->count; i++) {
			int64_t start, n;
			ct_shard_rows(b->batch, b->shards, i, &start, &n);
			void *leaf = ct_shard_tree_leaf(&b->t);
			b->m.ps.grad = ct_shard_floats(&b->l, leaf);
			run_rows(b, start, (int)n);
			ct_shard_doubles(&b->l, leaf)[0] = b->loss * (double)n;
			ct_shard_ints(&b->l, leaf)[0] = n;
			ct_shard_tree_push(&b->t);
		}
		b->m.ps.grad = b->grad0;
		void *root;
		double t0 = now(CLOCK_MONOTONIC);
		int rc = ct_dist_step_exchange(&b->c, &b->xc, ct_shard_tree_root(&b->t), 0, &root,
					       e);
		b->t_exchange += now(CLOCK_MONOTONIC) - t0;
		if (rc < 0)
			return rc;
		/* Each shard's loss is its mean, so the root is S x the batch mean
		 * gradient: lr / S keeps the update the same (the wiring scales
		 * the loss seed by rows/batch instead). */
		ct_optim_step(&b->opt, b->m.ps.data, ct_shard_floats(&b->l, root),
			      0.01 / b->shards);
	}
	b->cursor += b->batch;
	return 0;
}

static int parse_layers(bench *b, const char *s)
{
	b->n_sizes = 0;
	for (const char *p = s; *p && b->n_sizes < 16;) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || v <= 0)
			return -1;
		b->sizes[b->n_sizes++] = (int)v;
		p = *end == ',' ? end + 1 : end;
	}
	return b->n_sizes >= 2 ? 0 : -1;
}

static int setup(bench *b, int threads, ct_err *e)
{
	int k = b->shards > 0 ? b->batch / b->shards : b->batch;
	if (b->shards > 0 &&
	    (!ct_shard_count_valid(b->shards) || b->batch % b->shards || b->shards % b->c.size))
		return ct_errf(e, CT_EUSAGE,
			       "S must be a power of two dividing the batch, and P S");
	if (!b->shards && b->c.size > 1)
		return ct_errf(e, CT_EUSAGE, "S = 0 (no shards) runs on one rank only");
	if (ct_ops_set_threads(threads, 1) < 0)
		return ct_errf(e, CT_ENOMEM, "threads");
	int rc = ct_mlp_init(&b->m, b->sizes, b->n_sizes, CT_ACT_RELU, 0.0f, k, e);
	ct_optim_hparams hp = {.momentum = 0.9};
	if (rc == 0)
		rc = ct_optim_init(&b->opt, CT_OPT_SGD, b->m.ps.n, &hp, e);
	if (rc < 0)
		return rc;
	ct_rng r;
	ct_rng_seed(&r, 1, CT_RNG_STREAM_INIT);
	ct_mlp_init_weights(&b->m, &r);
	b->grad0 = b->m.ps.grad;
	int d = b->sizes[0], classes = b->sizes[b->n_sizes - 1];
	b->rows = 4 * (int64_t)b->batch + 1;
	b->x = malloc((size_t)b->rows * (size_t)d * sizeof(float));
	b->y = malloc((size_t)b->rows * sizeof(int32_t));
	if (!b->x || !b->y)
		return ct_errf(e, CT_ENOMEM, "data");
	ct_rng_seed(&r, 1, CT_RNG_STREAM_DATA);
	for (int64_t i = 0; i < b->rows * d; i++)
		b->x[i] = 2.0f * ct_rng_float(&r) - 1.0f;
	for (int64_t i = 0; i < b->rows; i++)
		b->y[i] = (int32_t)ct_rng_below(&r, (uint64_t)classes);
	if (b->shards <= 0)
		return 0;
	ct_shard_layout_init(&b->l, b->m.ps.n, 1, 1);
	ct_shard_owned(b->shards, b->c.size, b->c.rank, &b->first, &b->count);
	rc = ct_shard_tree_init(&b->t, &b->l, b->count, e);
	if (rc == 0)
		rc = ct_dist_exchange_init(&b->xc, &b->l, b->c.size, e);
	return rc;
}

static int cmp_double(const void *a, const void *b);

static int exchange_only(bench *b, ct_err *e)
{
	ct_shard_layout_init(&b->l, b->m.ps.n, 1, 1);
	int rc = ct_dist_exchange_init(&b->xc, &b->l, b->c.size, e);
	unsigned char *mine = rc == 0 ? ct_aligned_alloc(64, b->l.bytes) : NULL;
	if (rc == 0 && !mine)
		rc = ct_errf(e, CT_ENOMEM, "node");
	double t[50];
	for (int i = 0; rc == 0 && i < 50; i++) {
		ct_shard_node_zero(&b->l, mine);
		void *root;
		rc = ct_comm_barrier(&b->c, e);
		double t0 = now(CLOCK_MONOTONIC);
		if (rc == 0)
			rc = ct_dist_step_exchange(&b->c, &b->xc, mine, 0, &root, e);
		t[i] = 1e3 * (now(CLOCK_MONOTONIC) - t0);
	}
	free(mine);
	if (rc < 0)
		return rc;
	qsort(t, 50, sizeof(double), cmp_double);
	if (b->c.rank == 0) {
		char layers[128];
		ct_mlp_layers_string(&b->m, layers, sizeof layers);
		printf("{\"layers\":\"%s\",\"kind\":\"exchange\",\"ranks\":%d,\"node_bytes\":%zu,"
		       "\"exchange_ms_median\":%.3f,\"exchange_ms_min\":%.3f,\"gbytes_per_s\":%.3f}\n",
		       layers, b->c.size, b->l.bytes, t[25], t[0],
		       (double)b->l.bytes * (b->c.size - 1) / (t[25] * 1e6));
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Windows of at least `sec` seconds and 3 steps, the same step count on every
 * rank (rank 0 decides and broadcasts). */
static int measure(bench *b, double sec, int windows, ct_err *e)
{
	double wall[32], cpu[32], share[32], xms[32];
	int64_t steps = 3;
	for (int w = -1; w < windows; w++) { /* w = -1: warm-up */
		double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
		b->t_exchange = 0.0;
		for (int64_t i = 0; i < steps; i++) {
			int rc = step(b, e);
			if (rc < 0)
				return rc;
		}
		double dt = now(CLOCK_MONOTONIC) - t0, dc = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
		/* CPU time of the whole job: every rank's, summed. */
		uint64_t cpu_ns = (uint64_t)(dc * 1e9);
		int rc = ct_comm_allreduce_u64(&b->c, &cpu_ns, 1, CT_COMM_OP_SUM, e);
		if (rc < 0)
			return rc;
		if (w >= 0) {
			wall[w] = (double)(steps * b->batch) / dt;
			cpu[w] = (double)(steps * b->batch) / (1e-9 * (double)cpu_ns);
			share[w] = b->t_exchange / dt;
			xms[w] = 1e3 * b->t_exchange / (double)steps;
		}
		uint64_t next = (uint64_t)((double)steps * (sec / dt) + 1);
		if (next < 3)
			next = 3;
		rc = ct_comm_allreduce_u64(&b->c, &next, 1, CT_COMM_OP_MAX, e);
		if (rc < 0)
			return rc;
		steps = (int64_t)next;
	}
	qsort(wall, (size_t)windows, sizeof(double), cmp_double);
	qsort(cpu, (size_t)windows, sizeof(double), cmp_double);
	qsort(share, (size_t)windows, sizeof(double), cmp_double);
	qsort(xms, (size_t)windows, sizeof(double), cmp_double);
	if (b->c.rank == 0) {
		char layers[128];
		ct_mlp_layers_string(&b->m, layers, sizeof layers);
		printf("{\"layers\":\"%s\",\"batch\":%d,\"shards\":%d,\"ranks\":%d,\"threads\":%d,"
		       "\"blas_core\":\"%s\",\"sps\":%.1f,\"cpu_sps\":%.1f,\"exchange_share\":%.4f,\"exchange_ms\":%.3f,"
		       "\"node_bytes\":%zu,\"loss\":%.5g}\n",
		       layers, b->batch, b->shards, b->c.size, ct_ops_threads(),
		       openblas_get_corename(), wall[windows / 2], cpu[windows / 2],
		       share[windows / 2], xms[windows / 2], b->l.bytes, b->loss);
	}
	return 0;
}

int main(int argc, char **argv)
{
	bench b;
	memset(&b, 0, sizeof b);
	ct_err e = {0};
	if (argc < 5 || parse_layers(&b, argv[1]) < 0) {
		fprintf(stderr, "usage: bench_shards LAYERS BATCH S THREADS [SECONDS]\n");
		return 2;
	}
	b.batch = atoi(argv[2]);
	b.shards = atoi(argv[3]);
	int threads = atoi(argv[4]);
	double sec = argc > 5 ? atof(argv[5]) : 0.5;
	int rc = ct_comm_init(&b.c, &e);
	if (rc == 0)
		rc = setup(&b, threads, &e);
	if (rc == 0)
		rc = b.shards < 0 ? exchange_only(&b, &e) : measure(&b, sec, 5, &e);
	if (rc < 0) {
		fprintf(stderr, "bench_shards: rank %d: %s\n", b.c.rank, e.msg);
		ct_comm_abort(&b.c, 1);
	}
	if (b.grad0)
		b.m.ps.grad = b.grad0;
	ct_dist_exchange_release(&b.xc);
	ct_shard_tree_release(&b.t);
	ct_optim_release(&b.opt);
	ct_mlp_release(&b.m);
	free(b.x);
	free(b.y);
	(void)ct_comm_finalize(&b.c, &e); /* the figures are printed */
	return rc < 0 ? 1 : 0;
}
