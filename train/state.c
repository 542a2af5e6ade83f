#include "state.h"

#include <string.h>

static int load_all(const ct_config *c, int test, dataset *all, ct_err *e)
{
	if (strcmp(c->dataset, "synthetic") == 0)
		return synthetic_make(c->seed, c->n_samples, c->n_features, c->n_classes, all, e);
	if (strcmp(c->dataset, "csv") == 0)
		return csv_load(c->path, c->label_column, all, e);
	return mnist_load(c->path, !test, all, e);
}

static split_kind split_kind_of(const char *name)
{
	if (strcmp(name, "random") == 0)
		return SPLIT_RANDOM;
	if (strcmp(name, "permuted") == 0)
		return SPLIT_PERMUTED;
	CT_ASSERT(strcmp(name, "tail") == 0); /* the config checked the name */
	return SPLIT_TAIL;
}

int data_load(const ct_config *c, int test, dataset *train, dataset *val, ct_err *e)
{
	memset(train, 0, sizeof *train);
	memset(val, 0, sizeof *val);
	dataset all;
	memset(&all, 0, sizeof all);
	int is_mnist = strcmp(c->dataset, "mnist") == 0 || strcmp(c->dataset, "fashion-mnist") == 0;
	int rc = load_all(c, test && is_mnist, &all, e);
	if (rc < 0)
		return rc;
	if (test && is_mnist) {
		*train = all; /* the whole test set */
		return 0;
	}
	rc = dataset_split_by(&all, c->val_fraction, split_kind_of(c->val_split), c->seed, train,
			      val, e);
	dataset_release(&all);
	return rc;
}

static optim_hparams hparams_of(const ct_config *c)
{
	optim_hparams hp = {
		.momentum = c->momentum,
		.weight_decay = c->weight_decay,
		.beta1 = c->beta1,
		.beta2 = c->beta2,
		.eps = c->eps,
		.nesterov = c->nesterov,
	};
	return hp;
}

int64_t train_total_steps(const train_state *s) { return s->steps_per_epoch * s->cfg.epochs; }

int train_state_init(train_state *s, const ct_config *cfg, const char *name, ct_err *e)
{
	memset(s, 0, sizeof *s);
	s->cfg = *cfg;
	const ct_config *c = &s->cfg;
	int rc = data_load(c, 0, &s->train, &s->val, e);
	if (rc == 0)
		rc = config_check_data(c, name, s->train.d, s->train.n_classes, e);
	if (rc == 0 && c->keep_best > BEST_MAX)
		rc = ct_errf(e, CT_ECONFIG,
			     "%s: checkpoint.keep_best = %d: at most %d best checkpoints "
			     "can be kept",
			     name, c->keep_best, BEST_MAX);
	if (rc == 0)
		rc = mlp_init(&s->model, c->layers, c->n_layers, act_from_name(c->activation),
			      (float)c->dropout, c->batch_size, e);
	if (rc == 0) {
		optim_hparams hp = hparams_of(c);
		/* the names were checked when the config was parsed: never -1 here */
		rc = optim_init(&s->opt, (optim_kind)optim_from_name(c->optim), s->model.ps.n, &hp,
				e);
	}
	if (rc == 0)
		rc = loader_init(&s->ld, &s->train, c->batch_size, c->shuffle, c->seed, e);
	if (rc < 0) {
		train_state_release(s);
		return rc;
	}
	rng_seed(&s->init_rng, c->seed, RNG_STREAM_INIT);
	rng_seed(&s->dropout_rng, c->seed, RNG_STREAM_DROPOUT);
	mlp_init_weights(&s->model, &s->init_rng);
	graph_set_dropout_rng(s->model.train.g, &s->dropout_rng);
	s->steps_per_epoch = loader_batches_per_epoch(&s->ld);
	s->sched = (schedule){
		.kind = (sched_kind)sched_from_name(c->schedule),
		.lr = c->lr,
		.gamma = c->gamma,
		.min_lr = c->min_lr,
		.warmup = c->warmup_steps,
		.step_size = c->step_size,
	};
	s->sched.total_steps = train_total_steps(s);
	best_init(&s->best, c->keep_best, c->patience,
		  strcmp(c->monitor, "val_accuracy") == 0 ? BEST_HIGHER : BEST_LOWER);
	return 0;
}

void train_state_release(train_state *s)
{
	loader_release(&s->ld);
	optim_release(&s->opt);
	mlp_release(&s->model);
	dataset_release(&s->train);
	dataset_release(&s->val);
	memset(s, 0, sizeof *s);
}
