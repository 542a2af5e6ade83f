/* shards.h — fixed micro-shards and one fixed reduction tree, so that a
 * step's summed gradient has the same bytes whether one process or P ranks
 * computed it (issue 17).
 *
 * A global batch of B rows is cut into S shards (S a power of two, fixed for
 * the run: train.shards).  Every shard's contribution (its gradient, its loss
 * sum, its integer counters) is one *node*: a payload of `nf` floats, `nd`
 * doubles and `ni` int64 counters (plus one reserved stop word), laid out by
 * shard_layout.  Nodes are combined by one balanced binary tree over the S
 * leaves, left + right, element by element: leaves (0,1) (2,3) ... then
 * (01,23) ... up to the root.  Floats and doubles are added in that order;
 * counters are integer sums (any order gives the same result).
 *
 * One process (P = 1), the leaves in order, O(log S) nodes of memory:
 *     shard_layout l; shard_layout_init(&l, ps.n, 1, 2);
 *     shard_tree t;   shard_tree_init(&t, &l, S, &e);
 *     for (int i = 0; i < S; i++) {
 *             void *leaf = shard_tree_leaf(&t);     // write leaf i here, e.g.
 *             ps.grad = shard_floats(&l, leaf);     // ct_graph_backward writes into it
 *             ... forward/backward of rows shard_rows(B, S, i, ...) ...
 *             shard_doubles(&l, leaf)[0] = loss_sum;
 *             shard_tree_push(&t);                  // merges completed subtrees
 *     }
 *     void *root = shard_tree_root(&t);
 * P ranks (P divides S; comm.h): rank r owns the S/P contiguous leaves
 * shard_owned(S, P, r, &first, &count), builds its subtree the same way
 * (shard_tree_init(&t, &l, count, ...)), and dist_step_exchange (replica.h)
 * gathers the P subtree roots in rank order and applies the upper levels with
 * shard_reduce_levels.  Because L = S/P is a power of two and the subtrees are
 * aligned, the nodes of the upper levels are exactly those of the one-process
 * tree: the root has the same bytes for every P that divides S.
 */
#ifndef CT_SHARDS_H
#define CT_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#include "../util/err.h"

#define SHARDS_MAX 4096 /* 2^12 leaves: 13 tree levels */

typedef struct shard_layout {
	size_t nf;           /* floats (the gradient buffer: params.n) */
	int nd, ni;          /* doubles (loss sums) and int64 counters */
	size_t off_d, off_i; /* byte offsets of the doubles and the counters */
	size_t bytes;        /* one node, a multiple of 64 */
} shard_layout;

/* 1 if s is a power of two in [1, SHARDS_MAX]. */
int shard_count_valid(int64_t s);
void shard_layout_init(shard_layout *l, size_t nf, int nd, int ni);
float *shard_floats(const shard_layout *l, void *node);
double *shard_doubles(const shard_layout *l, void *node);
/* ni counters, then the stop word at index ni. */
int64_t *shard_ints(const shard_layout *l, void *node);
/* Sets this rank's vote to stop (0 or 1) on the node it contributes; after the
 * reduction shard_stop() of the root is nonzero if any rank voted. */
void shard_set_stop(const shard_layout *l, void *node, int stop);
int shard_stop(const shard_layout *l, void *node);
/* left = left + right, element by element. */
void shard_combine(const shard_layout *l, void *left, const void *right);
/* The balanced tree over `count` (a power of two) contiguous nodes, in place;
 * the result is node 0, the others are clobbered. */
void shard_reduce_levels(const shard_layout *l, void *nodes, int count);

/* Rows of shard i of a batch of `rows`: [*start, *start + *n).  Shard i gets
 * floor((i+1)·rows/S) - floor(i·rows/S) rows, so a short last batch is cut the
 * same way on every rank (shards may be empty when rows < S). */
void shard_rows(int64_t rows, int shards, int i, int64_t *start, int64_t *n);
/* Leaves owned by rank `rank` of `ranks` (ranks divides shards). */
void shard_owned(int shards, int ranks, int rank, int *first, int *count);

/* The incremental tree: leaves are written in order into the buffer that
 * shard_tree_leaf returns, and shard_tree_push merges every completed pair. */
typedef struct shard_tree {
	shard_layout l;
	int leaves, pushed, depth;
	int level[16];        /* level of the node in each stack slot */
	unsigned char *slots; /* (log2(leaves) + 1) nodes, 64-byte aligned */
} shard_tree;

int shard_tree_init(shard_tree *t, const shard_layout *l, int leaves, ct_err *e);
void shard_tree_release(shard_tree *t);
/* Starts a new step (keeps the memory). */
void shard_tree_reset(shard_tree *t);
/* The node to write the next leaf into.  Its doubles, counters and stop word
 * are zeroed; its floats hold an old node's values and the caller overwrites
 * every float it uses (ct_graph_backward does: padding floats stay zero), or
 * calls shard_node_zero first. */
void *shard_tree_leaf(shard_tree *t);
void shard_node_zero(const shard_layout *l, void *node);
void shard_tree_push(shard_tree *t);
/* The root, once all leaves are pushed. */
void *shard_tree_root(shard_tree *t);

#endif
