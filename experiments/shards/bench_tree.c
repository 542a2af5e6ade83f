/* bench_tree.c — the shard tree's own cost at P = 1 (issue 17): the pushes
 * of one step of S leaves, for the node of a model of NF floats.
 *
 *     bench_tree NF [LABEL]      e.g. 203530 (784-256-10), 1863690 (784-1024-1024-10)
 *
 * For S = 2, 4, 8, alternately in one process on the same nodes: "before",
 * the tree as first written (each merge one pass of left += right, the loop
 * compiled for SSE2), and "after", the library's ct_shard_tree_push (the
 * cascade of merges a push completes in one pass, in chunks that stay in L1,
 * AVX2 when the CPU has it).  Each leaf is first written by a memcpy, as
 * ct_graph_backward writes it from the weights, not timed (leaf i: the
 * source shifted by i floats, so the leaves differ but touch one node's
 * worth of source, as the weights are one node).  The roots must have the same
 * bytes (checked).  Against them: memcpy of a node and z = x + y over three
 * nodes, the machine's bandwidth in the same process.  CPU time, medians of
 * 41 steps.  One JSON line per S. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../dist/shards.h"

enum { REPS = 41 };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *t)
{
	qsort(t, REPS, sizeof(double), cmp_double);
	return t[REPS / 2];
}

/* The tree as first written: one merge per pass. */
static void before_combine(const ct_shard_layout *l, void *left, void *right)
{
	float *a = ct_shard_floats(l, left);
	const float *b = ct_shard_floats(l, right);
	for (size_t j = 0; j < l->nf; j++)
		a[j] = a[j] + b[j];
	double *da = ct_shard_doubles(l, left), *db = ct_shard_doubles(l, right);
	for (int j = 0; j < l->nd; j++)
		da[j] = da[j] + db[j];
	int64_t *ia = ct_shard_ints(l, left), *ib = ct_shard_ints(l, right);
	for (int j = 0; j <= l->ni; j++)
		ia[j] += ib[j];
}

static unsigned char *slot(ct_shard_tree *t, int i) { return t->slots + (size_t)i * t->l.bytes; }

static void before_push(ct_shard_tree *t)
{
	t->level[t->depth++] = 0;
	t->pushed++;
	while (t->depth >= 2 && t->level[t->depth - 1] == t->level[t->depth - 2]) {
		before_combine(&t->l, slot(t, t->depth - 2), slot(t, t->depth - 1));
		t->depth--;
		t->level[t->depth - 1]++;
	}
}

/* One step: the S pushes' CPU time; the root copied to root. */
static double step(ct_shard_tree *t, int s, const float *src, int after, unsigned char *root)
{
	double sec = 0.0;
	ct_shard_tree_reset(t);
	for (int i = 0; i < s; i++) {
		void *leaf = ct_shard_tree_leaf(t);
		memcpy(leaf, src + i, t->l.nf * sizeof(float)); /* one source, as the weights */
		ct_shard_ints(&t->l, leaf)[0] = 1;
		double t0 = now();
		if (after)
			ct_shard_tree_push(t);
		else
			before_push(t);
		sec += now() - t0;
	}
	memcpy(root, ct_shard_tree_root(t), t->l.bytes);
	return sec;
}

int main(int argc, char **argv)
{
	if (argc < 2 || atol(argv[1]) <= 0) {
		fprintf(stderr, "usage: bench_tree NF [LABEL]\n");
		return 2;
	}
	size_t nf = (size_t)atol(argv[1]);
	const char *label = argc > 2 ? argv[2] : argv[1];
	ct_shard_layout l;
	ct_shard_layout_init(&l, nf, 1, 1);
	float *src = ct_aligned_alloc(64, 3 * l.bytes);
	unsigned char *r0 = ct_aligned_alloc(64, l.bytes), *r1 = ct_aligned_alloc(64, l.bytes);
	if (!src || !r0 || !r1) {
		fprintf(stderr, "bench_tree: out of memory\n");
		return 1;
	}
	for (size_t j = 0; j < 3 * nf; j++) /* values whose sums round */
		src[j] = (float)(j % 997) * 0.001f + (float)(j % 13) * 1e-7f;
	double tc[REPS], ta[REPS];
	for (int r = 0; r < REPS; r++) {
		double t0 = now();
		memcpy(src + nf, src, nf * sizeof(float));
		tc[r] = now() - t0;
		t0 = now();
		for (size_t j = 0; j < nf; j++)
			src[2 * nf + j] = src[j] + src[nf + j];
		ta[r] = now() - t0;
	}
	for (size_t j = 0; j < 3 * nf; j++)
		src[j] = (float)(j % 997) * 0.001f + (float)(j % 13) * 1e-7f;
	double mb = (double)nf * sizeof(float) / 1e6, t_copy = median(tc), t_add = median(ta);
	int rc = 0;
	for (int s = 2; s <= 8; s *= 2) {
		ct_shard_tree t;
		ct_err e = {0};
		if (ct_shard_tree_init(&t, &l, s, &e) < 0) {
			fprintf(stderr, "bench_tree: %s\n", e.msg);
			return 1;
		}
		double tb[REPS], tn[REPS];
		(void)step(&t, s, src, 0, r0);
		(void)step(&t, s, src, 1, r1);
		for (int r = 0; r < REPS; r++) {
			tb[r] = step(&t, s, src, 0, r0);
			tn[r] = step(&t, s, src, 1, r1);
		}
		ct_shard_tree_release(&t);
		int same = memcmp(r0, r1, l.bytes) == 0;
		rc |= !same;
		double b = median(tb), n = median(tn);
		/* Node transfers: before 3 per merge; after, a push completing k
		 * merges reads k + 1 nodes and writes 1. */
		double tr_before = 3.0 * (s - 1), tr_after = 2.0 * s - 1.0;
		printf("{\"kind\":\"tree\",\"layers\":\"%s\",\"nf\":%zu,\"shards\":%d,\"blas_core\":\"%s\","
		       "\"before_ms\":%.3f,\"after_ms\":%.3f,\"before_gbps\":%.1f,\"after_gbps\":%.1f,"
		       "\"copy_gbps\":%.1f,\"add_gbps\":%.1f,\"same_bytes\":%s}\n",
		       label, nf, s, openblas_get_corename(), 1e3 * b, 1e3 * n,
		       tr_before * mb / 1e3 / b, tr_after * mb / 1e3 / n, 2.0 * mb / 1e3 / t_copy,
		       3.0 * mb / 1e3 / t_add, same ? "true" : "false");
	}
	free(src);
	free(r0);
	free(r1);
	return rc;
}
