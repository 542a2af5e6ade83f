#include "state.h"

#include <string.h>

#include "../data/hdf5in.h"

/* One file (or directory, or synthetic set) of the kind cfg names. */
static int load_file(const ct_config *c, const char *path, int test, dataset *all, ct_err *e)
{
	if (strcmp(c->dataset, "synthetic") == 0)
		return synthetic_make(c->seed, c->n_samples, c->n_features, c->n_classes, all, e);
	if (strcmp(c->dataset, "csv") == 0)
		return csv_load(path, c->label_column, all, e);
	if (strcmp(c->dataset, "hdf5") == 0)
		return hdf5_load(path, c->x_name, c->y_name, all, e);
	return mnist_load(path, !test, all, e);
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

/* val from data.val_path, beside train from data.path. */
static int load_val_file(const ct_config *c, dataset *train, dataset *val, ct_err *e)
{
	int rc = load_file(c, c->val_path, 0, val, e);
	if (rc == 0 && val->d != train->d)
		rc = ct_errf(e, CT_EMISMATCH,
			     "%s: %d features per row, but %s (data.path) has %d (data.val_path)",
			     c->val_path, val->d, c->path, train->d);
	if (rc < 0)
		return rc;
	int k = train->n_classes > val->n_classes ? train->n_classes : val->n_classes;
	train->n_classes = val->n_classes = k;
	return 0;
}

int data_load(const ct_config *c, int test, dataset *train, dataset *val, ct_err *e)
{
	memset(train, 0, sizeof *train);
	memset(val, 0, sizeof *val);
	dataset all;
	memset(&all, 0, sizeof all);
	int is_mnist = strcmp(c->dataset, "mnist") == 0 || strcmp(c->dataset, "fashion-mnist") == 0;
	const char *path = test && c->test_path[0] ? c->test_path : c->path;
	int rc = load_file(c, path, test && is_mnist, &all, e);
	if (rc < 0)
		return rc;
	if (test && (is_mnist || c->test_path[0])) {
		*train = all; /* the whole test set */
		return 0;
	}
	if (c->val_path[0]) {
		*train = all;
		rc = load_val_file(c, train, val, e);
	} else {
		/* no copy: train takes all's rows over, val is a view of its tail */
		rc = dataset_split_move(&all, c->val_fraction, split_kind_of(c->val_split), c->seed,
					train, val, e);
		dataset_release(&all);
	}
	if (rc < 0) {
		dataset_release(val);
		dataset_release(train);
	}
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
	if (rc == 0 && strcmp(c->normalize, "standard") == 0) {
		rc = norm_compute(&s->train, &s->norm, e);
		norm_apply(&s->norm, s->train.x, s->train.n);
		norm_apply(&s->norm, s->val.x, s->val.n);
	}
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
	norm_release(&s->norm);
	dataset_release(&s->val); /* a view of train's rows */
	dataset_release(&s->train);
	memset(s, 0, sizeof *s);
}
