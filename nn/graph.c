#include "graph.h"
#include "../util/philox.h"
#include "../util/util.h"

#include <stdlib.h>
#include <string.h>

typedef enum {
	OP_INPUT,
	OP_LINEAR,
	OP_ACT,
	OP_DROPOUT,
	OP_ADD,
	OP_CONCAT,
	OP_XENT,
	OP_MSE
} op_kind;

typedef struct node {
	op_kind op;
	int a, b;       /* input nodes, -1 if unused */
	int w, bias;    /* parameter views (linear), -1 if unused */
	int act;        /* activation kind */
	float p;        /* dropout probability */
	int cols;       /* output width (1 for losses) */
	int needs_grad; /* gradient flows into this node's output */
	int consumed;   /* some later node reads this one (else its grad is never written) */
	int accum_a, accum_b, accum_w, accum_bias; /* backward: add instead of overwrite */
	float *val, *grad, *aux;                   /* aux: dropout mask or softmax probabilities */
	const int32_t *labels;
	double loss;
} node;

struct ct_graph {
	ct_params *ps;
	int max_rows, rows;
	node *nodes;
	int n;
	size_t cap;
	float *arena;
	int training;
	ct_rng *dropout_rng;
	int counter_dropout; /* masks by (seed, step, node, global row): ct_graph_set_dropout_counter */
	philox_key dropout_key;
	uint64_t dropout_step, dropout_row0;
	int finalized;
};

ct_graph *ct_graph_new(ct_params *ps, int max_rows)
{
	CT_ASSERT(max_rows > 0);
	ct_graph *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	g->ps = ps;
	g->max_rows = g->rows = max_rows;
	g->training = 1;
	return g;
}

void ct_graph_free(ct_graph *g)
{
	if (!g)
		return;
	free(g->nodes);
	free(g->arena);
	free(g);
}

static int push(ct_graph *g, node nd)
{
	CT_ASSERT(!g->finalized);
	int grown = ct_grow(&g->nodes, &g->cap, (size_t)g->n + 1, sizeof *g->nodes, 16);
	CT_ASSERT(grown == 0);
	g->nodes[g->n] = nd;
	return g->n++;
}

static node blank(op_kind op, int a, int b, int cols)
{
	node nd;
	memset(&nd, 0, sizeof nd);
	nd.op = op;
	nd.a = a;
	nd.b = b;
	nd.w = nd.bias = -1;
	nd.cols = cols;
	return nd;
}

static node *at(ct_graph *g, int id)
{
	CT_ASSERT(id >= 0 && id < g->n);
	return &g->nodes[id];
}

int ct_graph_input(ct_graph *g, int cols) { return push(g, blank(OP_INPUT, -1, -1, cols)); }

void ct_graph_input_grad(ct_graph *g, int id)
{
	CT_ASSERT(at(g, id)->op == OP_INPUT);
	at(g, id)->needs_grad = 1;
}

int ct_graph_linear(ct_graph *g, int x, int w, int b)
{
	const ct_param_view *pw = &g->ps->v[w];
	CT_ASSERT(pw->ndim == 2 && pw->shape[1] == at(g, x)->cols);
	CT_ASSERT(b < 0 || (g->ps->v[b].ndim == 1 && g->ps->v[b].shape[0] == pw->shape[0]));
	node nd = blank(OP_LINEAR, x, -1, (int)pw->shape[0]);
	nd.w = w;
	nd.bias = b;
	nd.needs_grad = 1;
	return push(g, nd);
}

int ct_graph_act(ct_graph *g, int x, int kind)
{
	CT_ASSERT(kind >= CT_ACT_RELU && kind <= CT_ACT_GELU);
	node nd = blank(OP_ACT, x, -1, at(g, x)->cols);
	nd.act = kind;
	nd.needs_grad = at(g, x)->needs_grad;
	return push(g, nd);
}

int ct_graph_dropout(ct_graph *g, int x, float p)
{
	CT_ASSERT(p >= 0.0f && p < 1.0f);
	node nd = blank(OP_DROPOUT, x, -1, at(g, x)->cols);
	nd.p = p;
	nd.needs_grad = at(g, x)->needs_grad;
	return push(g, nd);
}

int ct_graph_add(ct_graph *g, int a, int b)
{
	CT_ASSERT(at(g, a)->cols == at(g, b)->cols);
	node nd = blank(OP_ADD, a, b, at(g, a)->cols);
	nd.needs_grad = at(g, a)->needs_grad || at(g, b)->needs_grad;
	return push(g, nd);
}

int ct_graph_concat(ct_graph *g, int a, int b)
{
	node nd = blank(OP_CONCAT, a, b, at(g, a)->cols + at(g, b)->cols);
	nd.needs_grad = at(g, a)->needs_grad || at(g, b)->needs_grad;
	return push(g, nd);
}

int ct_graph_softmax_xent(ct_graph *g, int logits)
{
	node nd = blank(OP_XENT, logits, -1, 1);
	nd.needs_grad = at(g, logits)->needs_grad;
	return push(g, nd);
}

int ct_graph_mse(ct_graph *g, int pred, int target)
{
	CT_ASSERT(at(g, pred)->cols == at(g, target)->cols);
	node nd = blank(OP_MSE, pred, target, 1);
	nd.needs_grad = at(g, pred)->needs_grad || at(g, target)->needs_grad;
	return push(g, nd);
}

/* Backward runs nodes in reverse; the first writer of a gradient (in that
 * order) overwrites it and later ones accumulate.  Walk the tape backwards
 * once to record which edge is first. */
static void plan_accumulation(ct_graph *g)
{
	int *seen_node = calloc((unsigned)g->n + 1u, sizeof *seen_node);
	int *seen_param = calloc((unsigned)g->ps->nv + 1u, sizeof *seen_param);
	CT_ASSERT(seen_node && seen_param);
	for (int i = g->n - 1; i >= 0; i--) {
		node *nd = &g->nodes[i];
		if (nd->a >= 0) {
			nd->accum_a = seen_node[nd->a];
			seen_node[nd->a] = 1;
		}
		if (nd->b >= 0) {
			nd->accum_b = seen_node[nd->b];
			seen_node[nd->b] = 1;
		}
		if (nd->w >= 0) {
			nd->accum_w = seen_param[nd->w];
			seen_param[nd->w] = 1;
		}
		if (nd->bias >= 0) {
			nd->accum_bias = seen_param[nd->bias];
			seen_param[nd->bias] = 1;
		}
	}
	for (int i = 0; i < g->n; i++)
		g->nodes[i].consumed = seen_node[i];
	free(seen_node);
	free(seen_param);
}

static size_t buf_floats(const ct_graph *g, const node *nd)
{
	return ((size_t)g->max_rows * (size_t)nd->cols + 15) / 16 * 16;
}

int ct_graph_finalize(ct_graph *g, ct_err *e)
{
	CT_ASSERT(!g->finalized && g->ps->data);
	size_t total = 0;
	for (int i = 0; i < g->n; i++) {
		node *nd = &g->nodes[i];
		size_t f = buf_floats(g, nd);
		total += f; /* value */
		if (nd->needs_grad)
			total += f;
		if (nd->op == OP_DROPOUT || nd->op == OP_XENT)
			total += buf_floats(g, &g->nodes[nd->a]);
	}
	g->arena = ct_aligned_alloc(64, total * sizeof(float));
	if (!g->arena)
		return ct_errf(e, CT_ENOMEM, "out of memory for %zu activation floats", total);
	memset(g->arena, 0, total * sizeof(float));
	float *p = g->arena;
	for (int i = 0; i < g->n; i++) {
		node *nd = &g->nodes[i];
		size_t f = buf_floats(g, nd);
		nd->val = p;
		p += f;
		if (nd->needs_grad) {
			nd->grad = p;
			p += f;
		}
		if (nd->op == OP_DROPOUT || nd->op == OP_XENT) {
			nd->aux = p;
			p += buf_floats(g, &g->nodes[nd->a]);
		}
	}
	plan_accumulation(g);
	/* A node whose output reaches no loss would leave stale gradients in the
	 * overwrite/accumulate plan: that is a model-building mistake. */
	for (int i = 0; i < g->n; i++) {
		const node *nd = &g->nodes[i];
		if (!nd->consumed && nd->op != OP_XENT && nd->op != OP_MSE)
			return ct_errf(e, CT_EMISMATCH,
				       "graph node %d is not used by any later node", i);
	}
	g->finalized = 1;
	return 0;
}

void ct_graph_set_rows(ct_graph *g, int rows)
{
	CT_ASSERT(rows > 0 && rows <= g->max_rows);
	g->rows = rows;
}

int ct_graph_rows(const ct_graph *g) { return g->rows; }
int ct_graph_max_rows(const ct_graph *g) { return g->max_rows; }
int ct_graph_cols(const ct_graph *g, int id) { return g->nodes[id].cols; }
float *ct_graph_value(ct_graph *g, int id) { return at(g, id)->val; }
float *ct_graph_grad(ct_graph *g, int id) { return at(g, id)->grad; }
void ct_graph_set_training(ct_graph *g, int training) { g->training = training; }
void ct_graph_set_dropout_rng(ct_graph *g, ct_rng *r) { g->dropout_rng = r; }

void ct_graph_set_dropout_counter(ct_graph *g, uint64_t seed, uint64_t step, uint64_t row0)
{
	g->counter_dropout = 1;
	g->dropout_key = philox_key_from_seed(seed, CT_RNG_STREAM_DROPOUT);
	g->dropout_step = step;
	g->dropout_row0 = row0;
}

/* The masks of rows [row0, row0 + rows) of the global batch: node id is the
 * layer, so two dropout nodes never share a mask. */
static void dropout_counter_forward(ct_graph *g, node *nd, const node *a, int id)
{
	size_t cols = (size_t)nd->cols;
	for (int r = 0; r < g->rows; r++)
		philox_dropout_row(nd->aux + (size_t)r * cols, (int64_t)cols, &g->dropout_key,
				   g->dropout_step, (uint32_t)id, g->dropout_row0 + (uint64_t)r,
				   nd->p);
	size_t n = (size_t)g->rows * cols;
	for (size_t i = 0; i < n; i++)
		nd->val[i] = a->val[i] * nd->aux[i];
}

void ct_graph_set_labels(ct_graph *g, int id, const int32_t *labels)
{
	CT_ASSERT(at(g, id)->op == OP_XENT);
	at(g, id)->labels = labels;
}

double ct_graph_loss(const ct_graph *g, int id)
{
	CT_ASSERT(id >= 0 && id < g->n);
	return g->nodes[id].loss;
}

/* Every op but OP_INPUT reads input a; add, concat and mse read b too. */
static void inputs(ct_graph *g, const node *nd, node **a, node **b)
{
	int binary = nd->op == OP_ADD || nd->op == OP_CONCAT || nd->op == OP_MSE;
	CT_ASSERT(nd->op != OP_INPUT && nd->a >= 0 && (nd->b >= 0) == binary);
	*a = &g->nodes[nd->a];
	*b = binary ? &g->nodes[nd->b] : NULL;
}

static void forward_node(ct_graph *g, node *nd)
{
	if (nd->op == OP_INPUT)
		return;
	int rows = g->rows;
	size_t n = (size_t)rows * (size_t)nd->cols;
	node *a, *b;
	inputs(g, nd, &a, &b);
	switch (nd->op) {
	case OP_INPUT: break;
	case OP_LINEAR:
		ct_linear_forward(nd->val, a->val, ct_params_data(g->ps, nd->w),
				  nd->bias >= 0 ? ct_params_data(g->ps, nd->bias) : NULL, rows,
				  a->cols, nd->cols);
		break;
	case OP_ACT: ct_act_forward(nd->act, nd->val, a->val, n); break;
	case OP_DROPOUT:
		if (g->training && nd->p > 0.0f && g->counter_dropout) {
			dropout_counter_forward(g, nd, a, (int)(nd - g->nodes));
		} else if (g->training && nd->p > 0.0f) {
			CT_ASSERT(g->dropout_rng);
			ct_dropout_forward(nd->val, nd->aux, a->val, n, nd->p, g->dropout_rng);
		} else {
			memcpy(nd->val, a->val, n * sizeof(float));
		}
		break;
	case OP_ADD: ct_add_forward(nd->val, a->val, b->val, n); break;
	case OP_CONCAT: ct_concat_forward(nd->val, a->val, b->val, rows, a->cols, b->cols); break;
	case OP_XENT:
		CT_ASSERT(nd->labels);
		nd->loss = ct_softmax_xent_forward(nd->aux, a->val, nd->labels, rows, a->cols);
		nd->val[0] = (float)nd->loss;
		break;
	case OP_MSE:
		nd->loss = ct_mse_forward(a->val, b->val, (size_t)rows * (size_t)a->cols);
		nd->val[0] = (float)nd->loss;
		break;
	}
}

void ct_graph_forward(ct_graph *g)
{
	CT_ASSERT(g->finalized);
	for (int i = 0; i < g->n; i++)
		forward_node(g, &g->nodes[i]);
}

static float *grad_of(node *nd) { return nd && nd->needs_grad ? nd->grad : NULL; }

static void backward_node(ct_graph *g, node *nd)
{
	if (nd->op == OP_INPUT)
		return;
	int rows = g->rows;
	size_t n = (size_t)rows * (size_t)nd->cols;
	node *a, *b;
	inputs(g, nd, &a, &b);
	float *da = grad_of(a), *db = grad_of(b);
	switch (nd->op) {
	case OP_INPUT: break;
	case OP_LINEAR:
		ct_linear_backward(da, ct_params_grad(g->ps, nd->w),
				   nd->bias >= 0 ? ct_params_grad(g->ps, nd->bias) : NULL, nd->grad,
				   a->val, ct_params_data(g->ps, nd->w), rows, a->cols, nd->cols,
				   nd->accum_a, nd->accum_w, nd->accum_bias);
		break;
	case OP_ACT:
		if (da)
			ct_act_backward(nd->act, da, nd->grad, a->val, nd->val, n, nd->accum_a);
		break;
	case OP_DROPOUT:
		if (da && g->training && nd->p > 0.0f)
			ct_dropout_backward(da, nd->grad, nd->aux, n, nd->accum_a);
		else if (da)
			ct_copy_grad(da, nd->grad, n, nd->accum_a);
		break;
	case OP_ADD:
		if (da)
			ct_copy_grad(da, nd->grad, n, nd->accum_a);
		if (db)
			ct_copy_grad(db, nd->grad, n, nd->accum_b);
		break;
	case OP_CONCAT:
		ct_concat_backward(da, db, nd->grad, rows, a->cols, b->cols, nd->accum_a,
				   nd->accum_b);
		break;
	case OP_XENT:
		if (da)
			ct_softmax_xent_backward(da, nd->aux, nd->labels, rows, a->cols,
						 nd->grad[0], nd->accum_a);
		break;
	case OP_MSE: {
		size_t m = (size_t)rows * (size_t)a->cols;
		if (da)
			ct_mse_backward(da, a->val, b->val, m, nd->grad[0], nd->accum_a);
		if (db) /* d/dtarget = -d/dpred */
			ct_mse_backward(db, a->val, b->val, m, -nd->grad[0], nd->accum_b);
		break;
	}
	}
}

void ct_graph_backward(ct_graph *g, int loss_node) { ct_graph_backward_seed(g, loss_node, 1.0f); }

void ct_graph_backward_seed(ct_graph *g, int loss_node, float seed)
{
	node *L = at(g, loss_node);
	CT_ASSERT(L->op == OP_XENT || L->op == OP_MSE);
	L->grad[0] = seed;
	for (int i = loss_node; i >= 0; i--) {
		node *nd = &g->nodes[i];
		/* Dead branches (not consumed, not the loss) have no gradient to give. */
		if (nd->needs_grad && (nd->consumed || i == loss_node))
			backward_node(g, nd);
	}
}
