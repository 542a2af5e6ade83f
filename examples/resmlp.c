/* resmlp.c — a residual MLP on Fashion-MNIST trained by a hand-written loop
 * that checkpoints and resumes.  Kill it at any moment (kill -9 included) and
 * run the same command again: it continues from the newest valid checkpoint
 * and ends with the same bytes as a run that was never interrupted.
 *
 *   resmlp DATA RUN_DIR [EPOCHS]    DATA: a Fashion-MNIST directory (make data),
 *                                   or synthetic:N (N rows, 784 features, 10 classes)
 * Checkpoints go to RUN_DIR/checkpoints (every 20 steps, in the background,
 * the last 2 and the best); the weights to RUN_DIR/model.safetensors.
 */
#include <ctrain.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { D = 784, H = 128, K = 10, BATCH = 64, BLOCKS = 2, SEED = 7 };

typedef struct model {
	ct_params ps;
	ct_linear_layer layer[BLOCKS + 2]; /* stem, blocks..., head */
	ct_graph *g;
	int x, logits, loss;
	ct_rng dropout;
} model;

/* stem -> relu -> BLOCKS x (h + relu(fc(h))) -> dropout -> head.
 * Keys: stem.weight, blocks.0.fc.weight, ..., head.bias. */
static int model_build(model *m, ct_err *e)
{
	ct_linear_layer *L = m->layer;
	ct_params_init(&m->ps);
	ct_module root = ct_module_root(&m->ps), blocks = ct_module_child(&root, "blocks");
	L[0] = ct_module_linear(&root, "stem", D, H, 1);
	for (int i = 1; i <= BLOCKS; i++) {
		ct_module blk = ct_module_item(&blocks, i - 1);
		L[i] = ct_module_linear(&blk, "fc", H, H, 1);
	}
	L[BLOCKS + 1] = ct_module_linear(&root, "head", H, K, 1);
	if (ct_params_alloc(&m->ps, e) < 0)
		return e->code;
	ct_rng init;
	ct_rng_seed(&init, SEED, CT_RNG_STREAM_INIT);
	for (int i = 0; i < BLOCKS + 2; i++)
		ct_linear_init(&m->ps, &L[i], &init);

	ct_graph *g = m->g = ct_graph_new(&m->ps, BATCH);
	m->x = ct_graph_input(g, D);
	int h = ct_graph_act(g, ct_graph_linear(g, m->x, L[0].weight, L[0].bias), CT_ACT_RELU);
	for (int i = 1; i <= BLOCKS; i++) /* the residual connections */
		h = ct_graph_add(g, h,
				 ct_graph_act(g, ct_graph_linear(g, h, L[i].weight, L[i].bias),
					      CT_ACT_RELU));
	h = ct_graph_dropout(g, h, 0.1f);
	m->logits = ct_graph_linear(g, h, L[BLOCKS + 1].weight, L[BLOCKS + 1].bias);
	m->loss = ct_graph_softmax_xent(g, m->logits);
	ct_rng_seed(&m->dropout, SEED, CT_RNG_STREAM_DROPOUT);
	ct_graph_set_dropout_rng(g, &m->dropout);
	return ct_graph_finalize(g, e);
}

/* Mean loss on a data set, in eval mode (no dropout, no rng drawn). */
static double evaluate(model *m, const ct_dataset *ds)
{
	ct_graph_set_training(m->g, 0);
	double total = 0;
	for (int64_t i = 0; i < ds->n; i += BATCH) {
		int rows = (int)(ds->n - i < BATCH ? ds->n - i : BATCH);
		ct_graph_set_rows(m->g, rows);
		memcpy(ct_graph_value(m->g, m->x), ds->x + i * D, (size_t)rows * D * sizeof(float));
		ct_graph_set_labels(m->g, m->loss, ds->y + i);
		ct_graph_forward(m->g);
		total += ct_graph_loss(m->g, m->loss) * rows;
	}
	ct_graph_set_training(m->g, 1);
	return total / (double)ds->n;
}

/* 10% of the rows are held out for validation. */
static int load_data(const char *spec, ct_dataset *train, ct_dataset *val, ct_err *e)
{
	ct_dataset all = {0};
	int rc = strncmp(spec, "synthetic:", 10) == 0
			 ? ct_synthetic_make(SEED, strtoll(spec + 10, NULL, 10), D, K, &all, e)
			 : ct_mnist_load(spec, 1, &all, e);
	rc = rc < 0 ? rc : ct_dataset_split(&all, 0.1, SEED, train, val, e);
	ct_dataset_release(&all);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return (void)fprintf(stderr, "usage: resmlp DATA RUN_DIR [EPOCHS]\n"), 2;
	int64_t epochs = argc > 3 ? strtoll(argv[3], NULL, 10) : 5, step = 0, at;
	char path[4096];
	ct_err e = {0};
	ct_dataset train = {0}, val = {0};
	model m = {0};
	ct_optim opt;
	ct_loader ld;         /* the model, its optimizer, the batches */
	ct_best_tracker best; /* keep the best checkpoint; stop after 3 epochs without progress */
	ct_best_init(&best, 1, 3, CT_BEST_LOWER);
	ct_optim_hparams hp = {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-4};
	if (load_data(argv[1], &train, &val, &e) < 0 || model_build(&m, &e) < 0 ||
	    ct_optim_init(&opt, CT_OPT_ADAMW, m.ps.n, &hp, &e) < 0 ||
	    ct_loader_init(&ld, &train, BATCH, 1, SEED, &e) < 0)
		return (void)fprintf(stderr, "resmlp: %s\n", e.msg), 1;

	/* Everything the loop needs to continue bit-exactly goes in the checkpoint. */
	snprintf(path, sizeof path, "%s/checkpoints", argv[2]);
	ct_ckpt_manager_opts o = {.every_steps = 20, .keep_last = 2, .async = 1};
	ct_ckpt_manager *cm = ct_ckpt_manager_new(path, &o, &e);
	int rc = cm ? 0 : -1;
	rc = rc < 0 ? rc : ct_ckpt_manager_add_params(cm, "model", &m.ps, &e);
	rc = rc < 0 ? rc : ct_ckpt_manager_add_optim(cm, "optim", &opt, &m.ps, &e);
	rc = rc < 0 ? rc : ct_ckpt_manager_add_loader(cm, "data", &ld, &e);
	rc = rc < 0 ? rc : ct_ckpt_manager_add_rng(cm, "rng/dropout", &m.dropout, &e);
	rc = rc < 0 ? rc : ct_ckpt_manager_add_i64(cm, "train/step", &step, &e);
	rc = rc < 0 ? rc : ct_ckpt_manager_add_best(cm, &best, &e);
	rc = rc < 0 ? rc : ct_ckpt_manager_restore_latest(cm, &at, &e); /* 1: resumed, 0: new */
	if (rc > 0)
		(void)fprintf(stderr, "resumed at step %lld\n", (long long)step);

	int32_t labels[BATCH];
	while (rc >= 0 && ld.st.epoch < (uint64_t)epochs && !ct_best_should_stop(&best)) {
		int rows = ct_loader_next(&ld, ct_graph_value(m.g, m.x), labels);
		if (rows == 0) { /* an epoch ended: validate; the best checkpoint is kept */
			double vl = evaluate(&m, &val);
			rc = ct_ckpt_manager_observe(cm, step, vl, &e);
			printf("epoch %llu val_loss %.6f\n", (unsigned long long)ld.st.epoch, vl);
			continue;
		}
		ct_graph_set_rows(m.g, rows);
		ct_graph_set_labels(m.g, m.loss, labels); /* evaluate() pointed it elsewhere */
		ct_graph_forward(m.g);
		ct_graph_backward(m.g, m.loss);
		ct_grad_clip_norm(m.ps.grad, m.ps.n, 5.0);
		ct_optim_step(&opt, m.ps.data, m.ps.grad, 1e-3);
		step++;
		rc = ct_ckpt_manager_maybe_save(cm, step, &e);
	}
	rc = rc < 0 ? rc : ct_ckpt_manager_finish(cm, step, &e); /* durable on return */
	snprintf(path, sizeof path, "%s/model.safetensors", argv[2]);
	rc = rc < 0 ? rc
		    : ct_state_dict_save(path, &m.ps, (const char *[]){"arch", "resmlp", NULL}, &e);
	if (rc < 0)
		(void)fprintf(stderr, "resmlp: %s\n", e.msg);
	else
		printf("done step %lld, best val_loss %.6f at step %lld\n", (long long)step,
		       best.best_metric, (long long)best.kept_step[0]);
	ct_ckpt_manager_free(cm);
	ct_loader_release(&ld);
	ct_optim_release(&opt);
	ct_graph_free(m.g);
	ct_params_release(&m.ps);
	ct_dataset_release(&train);
	ct_dataset_release(&val);
	return rc < 0;
}
