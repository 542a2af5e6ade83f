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
 *     ct_shard_layout l; ct_shard_layout_init(&l, ps.n, 1, 2);
 *     ct_shard_tree t;   ct_shard_tree_init(&t, &l, S, &e);
 *     for (int i = 0; i < S; i++) {
 *             void *leaf = ct_shard_tree_leaf(&t);     // write leaf i here, e.g.
 *             ps.grad = ct_shard_floats(&l, leaf);     // ct_graph_backward writes into it
 *             ... forward/backward of rows ct_shard_rows(B, S, i, ...) ...
 *             ct_shard_doubles(&l, leaf)[0] = loss_sum;
 *             ct_shard_tree_push(&t);                  // merges completed subtrees
 *     }
 *     void *root = ct_shard_tree_root(&t);
 * P ranks (P divides S; comm.h): rank r owns the S/P contiguous leaves
 * ct_shard_owned(S, P, r, &first, &count), builds its subtree the same way
 * (ct_shard_tree_init(&t, &l, count, ...)), and ct_dist_step_exchange (replica.h)
 * gathers the P subtree roots in rank order and applies the upper levels with
 * ct_shard_reduce_levels.  Because L = S/P is a power of two and the subtrees are
 * aligned, the nodes of the upper levels are exactly those of the one-process
 * tree: the root has the same bytes for every P that divides S.
 */
#ifndef CT_SHARDS_H
#define CT_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#include "../util/api.h"
#include "../util/err.h"

#define CT_SHARDS_MAX 4096 /* 2^12 leaves: 13 tree levels */

typedef struct ct_shard_layout {
	size_t nf;           /* floats (the gradient buffer: params.n) */
	int nd, ni;          /* doubles (loss sums) and int64 counters */
	size_t off_d, off_i; /* byte offsets of the doubles and the counters */
	size_t bytes;        /* one node, a multiple of 64 */
} ct_shard_layout;

/* 1 if s is a power of two in [1, CT_SHARDS_MAX]. */
CT_API int ct_shard_count_valid(int64_t s);
CT_API void ct_shard_layout_init(ct_shard_layout *l, size_t nf, int nd, int ni);
CT_API float *ct_shard_floats(const ct_shard_layout *l, void *node);
CT_API double *ct_shard_doubles(const ct_shard_layout *l, void *node);
/* ni counters, then the stop word at index ni. */
CT_API int64_t *ct_shard_ints(const ct_shard_layout *l, void *node);
/* Sets this rank's vote to stop (0 or 1) on the node it contributes; after the
 * reduction ct_shard_stop() of the root is nonzero if any rank voted. */
CT_API void ct_shard_set_stop(const ct_shard_layout *l, void *node, int stop);
CT_API int ct_shard_stop(const ct_shard_layout *l, void *node);
/* left = left + right, element by element. */
CT_API void ct_shard_combine(const ct_shard_layout *l, void *left, const void *right);
/* The balanced tree over `count` (a power of two) contiguous nodes, in place;
 * the result is node 0, the others are clobbered.  Like ct_shard_tree_push,
 * each cascade of merges is one pass (chunks that stay in L1): every node is
 * read once, and the additions are those of the tree, in its order. */
CT_API void ct_shard_reduce_levels(const ct_shard_layout *l, void *nodes, int count);

/* Rows of shard i of a batch of `rows`: [*start, *start + *n).  Shard i gets
 * floor((i+1)·rows/S) - floor(i·rows/S) rows, so a short last batch is cut the
 * same way on every rank (shards may be empty when rows < S). */
CT_API void ct_shard_rows(int64_t rows, int shards, int i, int64_t *start, int64_t *n);
/* Leaves owned by rank `rank` of `ranks` (ranks divides shards). */
CT_API void ct_shard_owned(int shards, int ranks, int rank, int *first, int *count);

/* The incremental tree: leaves are written in order into the buffer that
 * ct_shard_tree_leaf returns, and ct_shard_tree_push merges every completed pair. */
typedef struct ct_shard_tree {
	ct_shard_layout l;
	int leaves, pushed, depth;
	int level[16];        /* level of the node in each stack slot */
	unsigned char *slots; /* (log2(leaves) + 1) nodes, 64-byte aligned */
} ct_shard_tree;

CT_API int ct_shard_tree_init(ct_shard_tree *t, const ct_shard_layout *l, int leaves, ct_err *e);
CT_API void ct_shard_tree_release(ct_shard_tree *t);
/* Starts a new step (keeps the memory). */
CT_API void ct_shard_tree_reset(ct_shard_tree *t);
/* The node to write the next leaf into.  Its doubles, counters and stop word
 * are zeroed; its floats hold an old node's values and the caller overwrites
 * every float it uses (ct_graph_backward does: padding floats stay zero), or
 * calls ct_shard_node_zero first. */
CT_API void *ct_shard_tree_leaf(ct_shard_tree *t);
CT_API void ct_shard_node_zero(const ct_shard_layout *l, void *node);
CT_API void ct_shard_tree_push(ct_shard_tree *t);
/* The root, once all leaves are pushed. */
CT_API void *ct_shard_tree_root(ct_shard_tree *t);

#endif
