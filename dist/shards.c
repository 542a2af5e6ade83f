#include "shards.h"

#include <string.h>

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

int ct_shard_count_valid(int64_t s) { return s >= 1 && s <= CT_SHARDS_MAX && (s & (s - 1)) == 0; }

void ct_shard_layout_init(ct_shard_layout *l, size_t nf, int nd, int ni)
{
	CT_ASSERT(nd >= 0 && ni >= 0);
	l->nf = nf;
	l->nd = nd;
	l->ni = ni;
	l->off_d = round_up(nf * sizeof(float), 8);
	l->off_i = l->off_d + (size_t)nd * sizeof(double);
	l->bytes = round_up(l->off_i + (size_t)(ni + 1) * sizeof(int64_t), 64);
}

float *ct_shard_floats(const ct_shard_layout *l, void *node)
{
	(void)l;
	return node;
}

double *ct_shard_doubles(const ct_shard_layout *l, void *node)
{
	return (double *)(void *)((unsigned char *)node + l->off_d);
}

int64_t *ct_shard_ints(const ct_shard_layout *l, void *node)
{
	return (int64_t *)(void *)((unsigned char *)node + l->off_i);
}

void ct_shard_set_stop(const ct_shard_layout *l, void *node, int stop)
{
	ct_shard_ints(l, node)[l->ni] = stop ? 1 : 0;
}

int ct_shard_stop(const ct_shard_layout *l, void *node)
{
	return ct_shard_ints(l, node)[l->ni] != 0;
}

/* The element-wise sums, in chunks that stay in L1.  AVX2 doubles the width
 * of the adds; each add is correctly rounded, so both clones give the same
 * bytes (-std=c11 keeps the compiler from reassociating or contracting). */
enum { CHUNK = 512 }; /* floats: 2 KiB (8 KiB was slower: 4K aliasing with the nodes) */

__attribute__((target_clones("avx2", "default"))) static void
add_into(float *restrict a, const float *restrict b, size_t n)
{
	for (size_t j = 0; j < n; j++)
		a[j] = a[j] + b[j];
}

__attribute__((target_clones("avx2", "default"))) static void
add_pair(float *restrict t, const float *restrict a, const float *restrict b, size_t n)
{
	for (size_t j = 0; j < n; j++)
		t[j] = a[j] + b[j];
}

/* t = a + t: a is the left operand. */
__attribute__((target_clones("avx2", "default"))) static void
add_left(float *restrict t, const float *restrict a, size_t n)
{
	for (size_t j = 0; j < n; j++)
		t[j] = a[j] + t[j];
}

/* node[0] = node[0] + (node[1] + (... + (node[n-2] + node[n-1]))), element
 * by element, in one pass: the k = n - 1 merges of a cascade read n nodes and
 * write one (k merges one after the other read 2k nodes and write k).  The
 * additions and their order are those of the k merges, so the same bytes. */
static void fold_right(const ct_shard_layout *l, unsigned char *const *node, int n)
{
	CT_ASSERT(n >= 2);
	float *f0 = (float *)(void *)node[0];
	if (n == 2) {
		add_into(f0, (const float *)(const void *)node[1], l->nf);
	} else {
		float tmp[CHUNK];
		for (size_t c = 0; c < l->nf; c += CHUNK) {
			size_t m = l->nf - c < CHUNK ? l->nf - c : CHUNK;
			add_pair(tmp, (const float *)(const void *)node[n - 2] + c,
				 (const float *)(const void *)node[n - 1] + c, m);
			for (int k = n - 3; k >= 1; k--)
				add_left(tmp, (const float *)(const void *)node[k] + c, m);
			add_into(f0 + c, tmp, m);
		}
	}
	for (int j = 0; j < l->nd; j++) {
		double v = ct_shard_doubles(l, node[n - 1])[j];
		for (int k = n - 2; k >= 0; k--)
			v = ct_shard_doubles(l, node[k])[j] + v;
		ct_shard_doubles(l, node[0])[j] = v;
	}
	int64_t *i0 = ct_shard_ints(l, node[0]);
	for (int k = 1; k < n; k++)
		for (int j = 0; j <= l->ni; j++)
			i0[j] += ct_shard_ints(l, node[k])[j];
}

void ct_shard_combine(const ct_shard_layout *l, void *left, const void *right)
{
	unsigned char *pair[2] = {left, (unsigned char *)(uintptr_t)right};
	fold_right(l, pair, 2);
}

/* The merges that the n-th node (n >= 1) of a balanced tree completes: the
 * trailing zero bits of n (node 2 completes a pair, node 4 a pair and a
 * quad, ...). */
static int merges_after(int n)
{
	int k = 0;
	for (; !(n & 1); n >>= 1)
		k++;
	return k;
}

/* The balanced tree as the incremental one builds it (ct_shard_tree_push):
 * each node pushed on a stack of subtree roots, and the cascade of merges it
 * completes done by one fold_right, so each node is read once. */
void ct_shard_reduce_levels(const ct_shard_layout *l, void *nodes, int count)
{
	CT_ASSERT(ct_shard_count_valid(count));
	unsigned char *stack[16], *p = nodes;
	int depth = 0;
	for (int i = 0; i < count; i++) {
		stack[depth++] = p + (size_t)i * l->bytes;
		int k = merges_after(i + 1);
		if (k > 0) {
			fold_right(l, stack + depth - 1 - k, k + 1);
			depth -= k;
		}
	}
	CT_ASSERT(depth == 1);
}

void ct_shard_rows(int64_t rows, int shards, int i, int64_t *start, int64_t *n)
{
	CT_ASSERT(rows >= 0 && ct_shard_count_valid(shards) && i >= 0 && i < shards);
	int64_t a = rows * i / shards, b = rows * (i + 1) / shards;
	*start = a;
	*n = b - a;
}

void ct_shard_owned(int shards, int ranks, int rank, int *first, int *count)
{
	CT_ASSERT(ct_shard_count_valid(shards) && ct_shard_count_valid(ranks) && ranks <= shards);
	CT_ASSERT(rank >= 0 && rank < ranks);
	*count = shards / ranks;
	*first = rank * *count;
}

static int log2i(int n)
{
	int k = 0;
	while ((1 << k) < n)
		k++;
	return k;
}

int ct_shard_tree_init(ct_shard_tree *t, const ct_shard_layout *l, int leaves, ct_err *e)
{
	CT_ASSERT(ct_shard_count_valid(leaves));
	memset(t, 0, sizeof *t);
	t->l = *l;
	t->leaves = leaves;
	size_t n = (size_t)log2i(leaves) + 1;
	t->slots = ct_aligned_alloc(64, n * l->bytes);
	if (!t->slots)
		return ct_errf(e, CT_ENOMEM, "out of memory for %zu shard nodes of %zu bytes", n,
			       l->bytes);
	memset(t->slots, 0, n * l->bytes);
	return 0;
}

void ct_shard_tree_release(ct_shard_tree *t)
{
	free(t->slots);
	memset(t, 0, sizeof *t);
}

void ct_shard_tree_reset(ct_shard_tree *t)
{
	t->pushed = 0;
	t->depth = 0;
}

static void *slot(ct_shard_tree *t, int i) { return t->slots + (size_t)i * t->l.bytes; }

void ct_shard_node_zero(const ct_shard_layout *l, void *node) { memset(node, 0, l->bytes); }

void *ct_shard_tree_leaf(ct_shard_tree *t)
{
	CT_ASSERT(t->pushed < t->leaves);
	unsigned char *node = slot(t, t->depth);
	memset(node + t->l.off_d, 0, t->l.bytes - t->l.off_d);
	return node;
}

void ct_shard_tree_push(ct_shard_tree *t)
{
	CT_ASSERT(t->pushed < t->leaves);
	t->level[t->depth++] = 0;
	t->pushed++;
	/* The nodes of the same level on top are siblings: the left one (pushed
	 * first, lower slot) absorbs the right one, and the cascade goes on while
	 * the result meets a sibling: stack levels k, k-1, ..., 1, 0, 0. */
	int k = merges_after(t->pushed);
	if (k == 0)
		return;
	unsigned char *run[16];
	for (int j = 0; j <= k; j++) {
		CT_ASSERT(t->level[t->depth - 1 - j] == (j == 0 ? 0 : j - 1));
		run[k - j] = slot(t, t->depth - 1 - j);
	}
	fold_right(&t->l, run, k + 1);
	t->depth -= k;
	t->level[t->depth - 1] = k;
}

void *ct_shard_tree_root(ct_shard_tree *t)
{
	CT_ASSERT(t->pushed == t->leaves && t->depth == 1);
	return slot(t, 0);
}
