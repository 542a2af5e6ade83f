#include "state.h"

#include <string.h>

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "../data/h5stream.h"
#include "../data/hdf5in.h"
#include "../util/log.h"

/* One file (or directory, or synthetic set) of the kind cfg names. */
static int load_file(const ct_config *c, const char *path, int test, ct_dataset *all, ct_err *e)
{
	if (c->dataset == CT_DATA_SYNTHETIC)
		return ct_synthetic_generate(c->seed, c->n_samples, c->n_features, c->n_classes,
					     (int)c->generator, c->threads, all, e);
	if (c->dataset == CT_DATA_CSV)
		return ct_csv_load_header(path, c->label_column, c->header, all, e);
	if (c->dataset == CT_DATA_HDF5)
		return hdf5_load(path, c->x_name, c->y_name, all, e);
	return ct_mnist_load(path, !test, all, e);
}

/* val from data.val_path, beside train from data.path. */
static int load_val_file(const ct_config *c, ct_dataset *train, ct_dataset *val, ct_err *e)
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

int ct_data_load(const ct_config *c, int test, ct_dataset *train, ct_dataset *val, ct_err *e)
{
	memset(train, 0, sizeof *train);
	memset(val, 0, sizeof *val);
	ct_dataset all;
	memset(&all, 0, sizeof all);
	int is_mnist = c->dataset == CT_DATA_MNIST || c->dataset == CT_DATA_FASHION_MNIST;
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
		rc = ct_dataset_split_move(&all, c->val_fraction, c->val_split, c->seed, train, val,
					   e);
		ct_dataset_release(&all);
	}
	if (rc < 0) {
		ct_dataset_release(val);
		ct_dataset_release(train);
	}
	return rc;
}

uint64_t ct_data_memory_budget(const ct_config *c)
{
	if (c->memory_mb > 0)
		return (uint64_t)c->memory_mb << 20;
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page / 2 : (uint64_t)1 << 30;
}

/* An hdf5 training set larger than the budget: the training rows stay in
 * the file (s->stream), the validation rows (the file's tail, or val_path)
 * are read into memory.  *streamed = 0 when the data fits. */
static int data_stream(ct_train_state *s, int *streamed, ct_err *e)
{
	const ct_config *c = &s->cfg;
	*streamed = 0;
	if (c->dataset != CT_DATA_HDF5)
		return 0;
	/* Frozen as resolved: a resume on a machine with other RAM must make the
	 * same choice between memory and streaming (they give other orders). */
	if (s->cfg.memory_mb == 0)
		s->cfg.memory_mb = (int64_t)(ct_data_memory_budget(c) >> 20);
	h5in h;
	int rc = h5in_open(&h, c->path, c->x_name, c->y_name, e);
	if (rc < 0)
		return rc;
	int64_t n = h.n;
	int d = h.d;
	uint64_t budget = ct_data_memory_budget(c);
	double bytes = (double)n * (double)d * 4.0;
	if (bytes <= (double)budget) {
		h5in_close(&h);
		return 0;
	}
	*streamed = 1;
	int64_t nval = c->val_path[0] ? 0 : (int64_t)llround((double)n * c->val_fraction);
	if (!c->val_path[0] && c->val_split != CT_SPLIT_TAIL)
		rc = ct_errf(e, CT_ECONFIG,
			     "%s: %.0f MB of features do not fit data.memory_mb = %llu: streaming "
			     "needs data.val_split = tail or data.val_path",
			     c->path, bytes / 1e6, (unsigned long long)(budget >> 20));
	else if (c->normalize != CT_NORMALIZE_NONE)
		rc = ct_errf(e, CT_ECONFIG,
			     "%s: data.normalize = %s is not supported when the data is streamed "
			     "(%.0f MB > data.memory_mb = %llu)",
			     c->path, ct_config_choice_name("data.normalize", (int)c->normalize),
			     bytes / 1e6, (unsigned long long)(budget >> 20));
	else if (n - nval < 1)
		rc = ct_errf(e, CT_ECONFIG, "val_fraction %g leaves no training rows out of %lld",
			     c->val_fraction, (long long)n);
	else if ((double)nval * d * 4.0 > (double)budget / 2)
		rc = ct_errf(
			e, CT_ECONFIG,
			"%s: the %lld validation rows do not fit half of data.memory_mb = %llu "
			"(streaming keeps them in memory): lower data.val_fraction",
			c->path, (long long)nval, (unsigned long long)(budget >> 20));
	int64_t *lab = NULL;
	if (rc == 0 && nval > 0) {
		rc = ct_dataset_alloc(&s->val, nval, d, 1, c->path, e);
		lab = rc == 0 ? malloc((size_t)nval * sizeof *lab) : NULL;
		if (rc == 0 && !lab)
			rc = ct_errf(e, CT_ENOMEM, "out of memory");
		if (rc == 0)
			rc = h5in_read(&h, n - nval, nval, s->val.x, s->val.y, lab, e);
		for (int64_t i = 0; rc == 0 && i < nval; i++)
			s->val.n_classes = s->val.y[i] >= s->val.n_classes ? s->val.y[i] + 1
									   : s->val.n_classes;
	}
	free(lab);
	h5in_close(&h);
	if (rc == 0 && c->val_path[0])
		rc = load_file(c, c->val_path, 0, &s->val, e);
	if (rc == 0 && c->val_path[0] && s->val.d != d)
		rc = ct_errf(e, CT_EMISMATCH,
			     "%s: %d features per row, but %s (data.path) has %d (data.val_path)",
			     c->val_path, s->val.d, c->path, d);
	int k = 0;
	if (rc == 0)
		rc = h5stream_open(&s->stream, c->path, c->x_name, c->y_name, n - nval,
				   (size_t)(budget / 4), &k, e);
	if (rc < 0)
		return rc;
	s->train = (ct_dataset){.n = n - nval, .d = d, .view = 1};
	s->train.n_classes = k > s->val.n_classes ? k : s->val.n_classes;
	s->val.n_classes = s->train.n_classes;
	ct_log_info("streaming %s: %.0f MB of features > data.memory_mb = %llu; windows of %d "
		    "blocks of %lld rows, read ahead on a thread",
		    c->path, bytes / 1e6, (unsigned long long)(budget >> 20),
		    h5stream_window_blocks(s->stream), (long long)h5stream_block_rows(s->stream));
	return 0;
}

static ct_optim_hparams hparams_of(const ct_config *c)
{
	ct_optim_hparams hp = {.momentum = c->momentum,
			       .weight_decay = c->weight_decay,
			       .beta1 = c->beta1,
			       .beta2 = c->beta2,
			       .eps = c->eps,
			       .nesterov = c->nesterov};
	return hp;
}

int64_t ct_train_total_steps(const ct_train_state *s) { return s->steps_per_epoch * s->cfg.epochs; }

int ct_train_state_init(ct_train_state *s, const ct_config *cfg, const char *name, ct_err *e)
{
	memset(s, 0, sizeof *s);
	s->cfg = *cfg;
	const ct_config *c = &s->cfg;
	int streamed = 0;
	int rc = data_stream(s, &streamed, e);
	if (rc == 0 && !streamed)
		rc = ct_data_load(c, 0, &s->train, &s->val, e);
	if (rc == 0 && c->normalize == CT_NORMALIZE_STANDARD) {
		rc = ct_norm_compute(&s->train, &s->norm, e);
		ct_norm_apply(&s->norm, s->train.x, s->train.n);
		ct_norm_apply(&s->norm, s->val.x, s->val.n);
	}
	if (rc == 0)
		rc = ct_config_check_data(c, name, s->train.d, s->train.n_classes, e);
	if (rc == 0 && c->keep_best > CT_BEST_MAX)
		rc = ct_errf(e, CT_ECONFIG,
			     "%s: checkpoint.keep_best = %d: at most %d best checkpoints "
			     "can be kept",
			     name, c->keep_best, CT_BEST_MAX);
	if (rc == 0)
		rc = ct_mlp_init(&s->model, c->layers, c->n_layers, (int)c->activation,
				 (float)c->dropout, c->batch_size, e);
	if (rc == 0) {
		ct_optim_hparams hp = hparams_of(c);
		rc = ct_optim_init(&s->opt, c->optim, s->model.ps.n, &hp, e);
	}
	if (rc == 0 && s->stream)
		rc = ct_loader_init_stream(&s->ld, &s->train, s->stream, c->batch_size, c->shuffle,
					   c->seed, e);
	else if (rc == 0)
		rc = ct_loader_init(&s->ld, &s->train, c->batch_size, c->shuffle, c->seed, e);
	if (rc < 0) {
		ct_train_state_release(s);
		return rc;
	}
	ct_rng_seed(&s->init_rng, c->seed, CT_RNG_STREAM_INIT);
	ct_rng_seed(&s->dropout_rng, c->seed, CT_RNG_STREAM_DROPOUT);
	ct_mlp_init_weights(&s->model, &s->init_rng);
	ct_graph_set_dropout_rng(s->model.train.g, &s->dropout_rng);
	s->steps_per_epoch = ct_loader_batches_per_epoch(&s->ld);
	s->sched = (ct_schedule){
		.kind = c->schedule,
		.lr = c->lr,
		.gamma = c->gamma,
		.min_lr = c->min_lr,
		.warmup = c->warmup_steps,
		.step_size = c->step_size,
	};
	s->sched.total_steps = ct_train_total_steps(s);
	ct_best_init(&s->best, c->keep_best, c->patience,
		     c->monitor == CT_MONITOR_VAL_ACCURACY ? CT_BEST_HIGHER : CT_BEST_LOWER);
	return 0;
}

void ct_train_state_release(ct_train_state *s)
{
	ct_loader_release(&s->ld);
	h5stream_close(s->stream);
	ct_optim_release(&s->opt);
	ct_mlp_release(&s->model);
	ct_norm_release(&s->norm);
	ct_dataset_release(&s->val); /* a view of train's rows */
	ct_dataset_release(&s->train);
	memset(s, 0, sizeof *s);
}
