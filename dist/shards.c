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

void ct_shard_combine(const ct_shard_layout *l, void *left, const void *right)
{
	void *r = (void *)(uintptr_t)right; /* the accessors take a mutable node */
	float *a = ct_shard_floats(l, left);
	const float *b = ct_shard_floats(l, r);
	for (size_t j = 0; j < l->nf; j++)
		a[j] = a[j] + b[j];
	double *da = ct_shard_doubles(l, left);
	const double *db = ct_shard_doubles(l, r);
	for (int j = 0; j < l->nd; j++)
		da[j] = da[j] + db[j];
	int64_t *ia = ct_shard_ints(l, left);
	const int64_t *ib = ct_shard_ints(l, r);
	for (int j = 0; j <= l->ni; j++)
		ia[j] += ib[j];
}

void ct_shard_reduce_levels(const ct_shard_layout *l, void *nodes, int count)
{
	CT_ASSERT(ct_shard_count_valid(count));
	unsigned char *p = nodes;
	for (int stride = 1; stride < count; stride *= 2)
		for (int i = 0; i + stride < count; i += 2 * stride)
			ct_shard_combine(l, p + (size_t)i * l->bytes,
					 p + (size_t)(i + stride) * l->bytes);
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
	/* Two nodes of the same level on top are siblings: the left one (pushed
	 * first, lower slot) absorbs the right one. */
	while (t->depth >= 2 && t->level[t->depth - 1] == t->level[t->depth - 2]) {
		ct_shard_combine(&t->l, slot(t, t->depth - 2), slot(t, t->depth - 1));
		t->depth--;
		t->level[t->depth - 1]++;
	}
}

void *ct_shard_tree_root(ct_shard_tree *t)
{
	CT_ASSERT(t->pushed == t->leaves && t->depth == 1);
	return slot(t, 0);
}
