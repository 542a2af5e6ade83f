#include "mlp.h"

#include <stdio.h>
#include <string.h>

/* layers.<i>, i counting the linear layers from 0. */
static void add_layer_params(ct_mlp *m)
{
	ct_module root = ct_module_root(&m->ps);
	ct_module layers = ct_module_child(&root, "layers");
	for (int i = 0; i + 1 < m->n_sizes; i++) {
		char idx[16];
		snprintf(idx, sizeof idx, "%d", i);
		m->lin[i] = ct_module_linear(&layers, idx, m->sizes[i], m->sizes[i + 1], 1);
	}
}

static int build_graph(ct_mlp *m, ct_mlp_graph *mg, int rows, int with_dropout, ct_err *e)
{
	mg->g = ct_graph_new(&m->ps, rows);
	if (!mg->g)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	ct_graph *g = mg->g;
	int h = mg->in = ct_graph_input(g, m->sizes[0]);
	int n_linear = m->n_sizes - 1;
	for (int i = 0; i < n_linear; i++) {
		h = ct_graph_linear(g, h, m->lin[i].weight, m->lin[i].bias);
		if (i + 1 == n_linear)
			break;
		h = ct_graph_act(g, h, m->act);
		if (with_dropout && m->dropout > 0.0f)
			h = ct_graph_dropout(g, h, m->dropout);
	}
	mg->logits = h;
	mg->loss = ct_graph_softmax_xent(g, h);
	return ct_graph_finalize(g, e);
}

int ct_mlp_init(ct_mlp *m, const int *sizes, int n_sizes, int act, float dropout, int batch,
		ct_err *e)
{
	memset(m, 0, sizeof *m);
	CT_ASSERT(n_sizes >= 2 && n_sizes <= CT_MLP_MAX_LAYERS && batch > 0);
	memcpy(m->sizes, sizes, (size_t)n_sizes * sizeof *sizes);
	m->n_sizes = n_sizes;
	m->act = act;
	m->dropout = dropout;
	ct_params_init(&m->ps);
	add_layer_params(m);
	int rc = ct_params_alloc(&m->ps, e);
	if (rc == 0)
		rc = build_graph(m, &m->train, batch, 1, e);
	if (rc == 0)
		rc = build_graph(m, &m->eval, CT_MLP_EVAL_ROWS, 0, e);
	if (rc < 0)
		ct_mlp_release(m);
	else
		ct_graph_set_training(m->eval.g, 0);
	return rc;
}

void ct_mlp_release(ct_mlp *m)
{
	ct_graph_free(m->train.g);
	ct_graph_free(m->eval.g);
	ct_params_release(&m->ps);
	memset(m, 0, sizeof *m);
}

void ct_mlp_init_weights(ct_mlp *m, ct_rng *r)
{
	/* Layer by layer, weight then bias, as nn.Linear.reset_parameters does. */
	for (int i = 0; i + 1 < m->n_sizes; i++)
		ct_linear_init(&m->ps, &m->lin[i], r);
}

static int argmax(const float *v, int n)
{
	int best = 0;
	for (int j = 1; j < n; j++)
		if (v[j] > v[best])
			best = j;
	return best;
}

void ct_mlp_eval(ct_mlp *m, const float *x, const int32_t *y, int64_t n, float *logits_out,
		 double *loss, int64_t *correct)
{
	ct_mlp_graph *mg = &m->eval;
	int d = m->sizes[0], k = m->sizes[m->n_sizes - 1];
	double total = 0.0;
	int64_t right = 0;
	static const int32_t zeros[CT_MLP_EVAL_ROWS];
	for (int64_t start = 0; start < n; start += CT_MLP_EVAL_ROWS) {
		int rows = (int)(n - start < CT_MLP_EVAL_ROWS ? n - start : CT_MLP_EVAL_ROWS);
		ct_graph_set_rows(mg->g, rows);
		memcpy(ct_graph_value(mg->g, mg->in), x + start * d,
		       (size_t)rows * (size_t)d * sizeof *x);
		ct_graph_set_labels(mg->g, mg->loss, y ? y + start : zeros);
		ct_graph_forward(mg->g);
		const float *z = ct_graph_value(mg->g, mg->logits);
		if (logits_out)
			memcpy(logits_out + start * k, z, (size_t)rows * (size_t)k * sizeof *z);
		if (!y)
			continue;
		total += ct_graph_loss(mg->g, mg->loss) * rows;
		for (int r = 0; r < rows; r++)
			right += argmax(z + (size_t)r * (size_t)k, k) == y[start + r];
	}
	if (loss)
		*loss = n ? total / (double)n : 0.0;
	if (correct)
		*correct = right;
}

void ct_mlp_layers_string(const ct_mlp *m, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < m->n_sizes && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "," : "", m->sizes[i]);
}
