/* Tests for train/config: INI parsing, every key's range, messages, --set,
 * the resume allow-list, round-trips of the frozen config, shipped examples. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "../../util/atomic.h"
#include "../../train/config.h"

/* Asserts that rc is CT_ECONFIG and the message contains want. */
static void expect_err(int rc, const ct_err *e, const char *want)
{
	if (rc != CT_ECONFIG || !strstr(e->msg, want))
		fail_msg("rc=%d msg=\"%s\", wanted CT_ECONFIG with \"%s\"", rc, e->msg, want);
}

static void parse_ok(ct_config *c, const char *text)
{
	ct_err e = {0};
	ct_config_defaults(c);
	int rc = ct_config_parse_string(c, text, "run.ini", &e);
	if (rc != 0)
		fail_msg("parse failed: %s", e.msg);
}

/* Parses text into defaults, expects an error containing want, and checks the
 * config was left exactly as it was (parsing is all-or-nothing). */
static void parse_err(const char *text, const char *want)
{
	ct_config c, before;
	ct_err e = {0};
	ct_config_defaults(&c);
	before = c;
	expect_err(ct_config_parse_string(&c, text, "run.ini", &e), &e, want);
	assert_memory_equal(&c, &before, sizeof c);
}

static void set_err(const char *assignment, const char *want)
{
	ct_config c, before;
	ct_err e = {0};
	ct_config_defaults(&c);
	before = c;
	expect_err(ct_config_set(&c, assignment, &e), &e, want);
	assert_memory_equal(&c, &before, sizeof c);
}

static void set_ok(ct_config *c, const char *assignment)
{
	ct_err e = {0};
	if (ct_config_set(c, assignment, &e) != 0)
		fail_msg("--set %s failed: %s", assignment, e.msg);
}

/* Field-by-field equality (strings compared as strings). */
static void assert_config_equal(const ct_config *a, const ct_config *b)
{
	assert_int_equal(a->n_layers, b->n_layers);
	for (int i = 0; i < a->n_layers; i++)
		assert_int_equal(a->layers[i], b->layers[i]);
	assert_string_equal(a->activation, b->activation);
	assert_memory_equal(&a->dropout, &b->dropout, sizeof(double));
	assert_string_equal(a->optim, b->optim);
	assert_memory_equal(&a->lr, &b->lr, sizeof(double));
	assert_memory_equal(&a->momentum, &b->momentum, sizeof(double));
	assert_int_equal(a->nesterov, b->nesterov);
	assert_memory_equal(&a->weight_decay, &b->weight_decay, sizeof(double));
	assert_memory_equal(&a->beta1, &b->beta1, sizeof(double));
	assert_memory_equal(&a->beta2, &b->beta2, sizeof(double));
	assert_memory_equal(&a->eps, &b->eps, sizeof(double));
	assert_memory_equal(&a->grad_clip, &b->grad_clip, sizeof(double));
	assert_string_equal(a->schedule, b->schedule);
	assert_int_equal(a->warmup_steps, b->warmup_steps);
	assert_int_equal(a->step_size, b->step_size);
	assert_memory_equal(&a->gamma, &b->gamma, sizeof(double));
	assert_memory_equal(&a->min_lr, &b->min_lr, sizeof(double));
	assert_string_equal(a->dataset, b->dataset);
	assert_string_equal(a->path, b->path);
	assert_int_equal(a->n_samples, b->n_samples);
	assert_int_equal(a->n_features, b->n_features);
	assert_int_equal(a->n_classes, b->n_classes);
	assert_int_equal(a->label_column, b->label_column);
	assert_memory_equal(&a->val_fraction, &b->val_fraction, sizeof(double));
	assert_string_equal(a->val_split, b->val_split);
	assert_int_equal(a->batch_size, b->batch_size);
	assert_int_equal(a->shuffle, b->shuffle);
	assert_int_equal(a->epochs, b->epochs);
	assert_true(a->seed == b->seed);
	assert_int_equal(a->threads, b->threads);
	assert_int_equal(a->log_every, b->log_every);
	assert_int_equal(a->eval_every, b->eval_every);
	assert_string_equal(a->kernel, b->kernel);
	assert_int_equal(a->deterministic, b->deterministic);
	assert_int_equal(a->every_steps, b->every_steps);
	assert_memory_equal(&a->every_seconds, &b->every_seconds, sizeof(double));
	assert_int_equal(a->keep_last, b->keep_last);
	assert_int_equal(a->keep_every, b->keep_every);
	assert_int_equal(a->async, b->async);
	assert_string_equal(a->on_error, b->on_error);
	assert_int_equal(a->every_epoch, b->every_epoch);
	assert_int_equal(a->keep_best, b->keep_best);
	assert_string_equal(a->monitor, b->monitor);
	assert_int_equal(a->patience, b->patience);
	/* ct_config_defaults zeroes padding and setters zero string tails, so the
	 * raw bytes agree too. */
	assert_memory_equal(a, b, sizeof *a);
}

static void test_defaults(void **state)
{
	(void)state;
	ct_config c;
	ct_config_defaults(&c);
	assert_int_equal(c.n_layers, 0);
	assert_string_equal(c.activation, "relu");
	assert_true(c.dropout == 0.0);
	assert_string_equal(c.optim, "adam");
	assert_true(c.lr == 0.001);
	assert_true(c.momentum == 0.0);
	assert_int_equal(c.nesterov, 0);
	assert_true(c.weight_decay == 0.0);
	assert_true(c.beta1 == 0.9);
	assert_true(c.beta2 == 0.999);
	assert_true(c.eps == 1e-8);
	assert_true(c.grad_clip == 0.0);
	assert_string_equal(c.schedule, "constant");
	assert_int_equal(c.warmup_steps, 0);
	assert_int_equal(c.step_size, 1000);
	assert_true(c.gamma == 0.1);
	assert_true(c.min_lr == 0.0);
	assert_string_equal(c.dataset, "synthetic");
	assert_string_equal(c.path, "");
	assert_int_equal(c.n_samples, 2000);
	assert_int_equal(c.n_features, 20);
	assert_int_equal(c.n_classes, 4);
	assert_int_equal(c.label_column, -1);
	assert_true(c.val_fraction == 0.1);
	assert_string_equal(c.val_split, "tail");
	assert_int_equal(c.batch_size, 64);
	assert_int_equal(c.shuffle, 1);
	assert_int_equal(c.epochs, 10);
	assert_true(c.seed == 42);
	assert_int_equal(c.threads, 1);
	assert_int_equal(c.log_every, 50);
	assert_int_equal(c.eval_every, 0);
	assert_string_equal(c.kernel, "");
	assert_int_equal(c.deterministic, 1);
	assert_int_equal(c.every_steps, 1000);
	assert_true(c.every_seconds == 0.0);
	assert_int_equal(c.keep_last, 3);
	assert_int_equal(c.keep_every, 0);
	assert_int_equal(c.async, 1);
	assert_string_equal(c.on_error, "stop");
	assert_int_equal(c.every_epoch, 0);
	assert_int_equal(c.keep_best, 0);
	assert_string_equal(c.monitor, "val_loss");
	assert_int_equal(c.patience, 0);

	/* Without layers the defaults do not validate, and say why. */
	ct_err e = {0};
	expect_err(ct_config_validate(&c, "run.ini", &e), &e, "run.ini: model.layers is required");
}

/* A config frozen by ctrain 0.1.0 has no data.val_split: read as frozen, it
 * keeps 0.1.0's permuted split (tests/fixtures/ckpt_v1 resumes through this);
 * a frozen config that names the key keeps it, and a new config gets tail. */
static void test_frozen_defaults(void **state)
{
	(void)state;
	const char *old = "[model]\nlayers = 4,6,3\n[data]\nval_fraction = 0.2\nshuffle = true\n";
	ct_config c, d;
	ct_config_defaults_frozen(&c);
	assert_int_equal(ct_config_parse_string(&c, old, "config.ini", &(ct_err){0}), 0);
	assert_string_equal(c.val_split, "permuted");
	assert_string_equal(c.generator, "sequential");
	ct_config_defaults(&d);
	assert_int_equal(ct_config_parse_string(&d, old, "run.ini", &(ct_err){0}), 0);
	assert_string_equal(d.val_split, "tail");
	assert_string_equal(d.generator, "counter");
	/* only val_split and generator differ from the plain defaults */
	strcpy(d.val_split, "permuted");
	strcpy(d.generator, "sequential");
	assert_memory_equal(&c, &d, sizeof c);
	/* a frozen config written now names its generator, so it reads back as written */
	for (int k = 0; k < 2; k++) {
		const char *gens[] = {"counter", "sequential"};
		strcpy(d.generator, gens[k]);
		char *text = ct_config_to_string(&d);
		assert_non_null(text);
		ct_config_defaults_frozen(&c);
		assert_int_equal(ct_config_parse_string(&c, text, "config.ini", &(ct_err){0}), 0);
		assert_string_equal(c.generator, gens[k]);
		free(text);
	}
	assert_int_equal(ct_config_key_resumable("data.generator"), 0);
	/* a frozen config written now names its split, so it reads back as written */
	for (int k = 0; k < 3; k++) {
		const char *kinds[] = {"tail", "random", "permuted"};
		strcpy(d.val_split, kinds[k]);
		char *text = ct_config_to_string(&d);
		assert_non_null(text);
		ct_config_defaults_frozen(&c);
		assert_int_equal(ct_config_parse_string(&c, text, "config.ini", &(ct_err){0}), 0);
		assert_string_equal(c.val_split, kinds[k]);
		free(text);
	}
	/* and it is not a key resume may change */
	assert_int_equal(ct_config_key_resumable("data.val_split"), 0);
}

/* Every key set to a non-default value. */
static const char *all_keys_ini =
	"[model]\nlayers = 10, 32,16 ,3\nactivation = gelu\ndropout = 0.25\n"
	"[optim]\nname = sgd\nlr = 0.05\nmomentum = 0.9\nnesterov = yes\nweight_decay = 5e-4\n"
	"beta1 = 0.8\nbeta2 = 0.99\neps = 1e-6\ngrad_clip = 1.5\n"
	"[schedule]\nname = cosine\nwarmup_steps = 100\nstep_size = 7\ngamma = 0.5\nmin_lr = 1e-5\n"
	"[data]\ndataset = csv\npath = /tmp/some data.csv\nn_samples = 123456789012\n"
	"n_features = 10\nn_classes = 3\nlabel_column = 0\nval_fraction = 0\nval_split = random\n"
	"batch_size = 32\nshuffle = off\ngenerator = sequential\n"
	"[train]\nepochs = 3\nseed = 18446744073709551615\nthreads = 256\nlog_every = 1\n"
	"eval_every = 500\nkernel = SkylakeX\ndeterministic = false\n"
	"[checkpoint]\nevery_steps = 0\nevery_seconds = 30.5\nkeep_last = 0\nkeep_every = 10000\n"
	"async = 0\non_error = warn\nevery_epoch = ON\nkeep_best = 2\nmonitor = val_accuracy\n"
	"patience = 5\n";

static void test_every_key_parsed(void **state)
{
	(void)state;
	ct_config c;
	parse_ok(&c, all_keys_ini);
	assert_int_equal(c.n_layers, 4);
	assert_int_equal(c.layers[0], 10);
	assert_int_equal(c.layers[1], 32);
	assert_int_equal(c.layers[2], 16);
	assert_int_equal(c.layers[3], 3);
	assert_int_equal(c.layers[4], 0);
	assert_string_equal(c.activation, "gelu");
	assert_true(c.dropout == 0.25);
	assert_string_equal(c.optim, "sgd");
	assert_true(c.lr == 0.05);
	assert_true(c.momentum == 0.9);
	assert_int_equal(c.nesterov, 1);
	assert_true(c.weight_decay == 5e-4);
	assert_true(c.beta1 == 0.8);
	assert_true(c.beta2 == 0.99);
	assert_true(c.eps == 1e-6);
	assert_true(c.grad_clip == 1.5);
	assert_string_equal(c.schedule, "cosine");
	assert_int_equal(c.warmup_steps, 100);
	assert_int_equal(c.step_size, 7);
	assert_true(c.gamma == 0.5);
	assert_true(c.min_lr == 1e-5);
	assert_string_equal(c.dataset, "csv");
	assert_string_equal(c.path, "/tmp/some data.csv");
	assert_true(c.n_samples == 123456789012LL);
	assert_int_equal(c.n_features, 10);
	assert_int_equal(c.n_classes, 3);
	assert_int_equal(c.label_column, 0);
	assert_true(c.val_fraction == 0.0);
	assert_string_equal(c.val_split, "random");
	assert_string_equal(c.generator, "sequential");
	assert_int_equal(c.batch_size, 32);
	assert_int_equal(c.shuffle, 0);
	assert_int_equal(c.epochs, 3);
	assert_true(c.seed == UINT64_MAX);
	assert_int_equal(c.threads, 256);
	assert_int_equal(c.log_every, 1);
	assert_int_equal(c.eval_every, 500);
	assert_string_equal(c.kernel, "SkylakeX");
	assert_int_equal(c.deterministic, 0);
	assert_int_equal(c.every_steps, 0);
	assert_true(c.every_seconds == 30.5);
	assert_int_equal(c.keep_last, 0);
	assert_int_equal(c.keep_every, 10000);
	assert_int_equal(c.async, 0);
	assert_string_equal(c.on_error, "warn");
	assert_int_equal(c.every_epoch, 1);
	assert_int_equal(c.keep_best, 2);
	assert_string_equal(c.monitor, "val_accuracy");
	assert_int_equal(c.patience, 5);

	/* It also passes validation except for keep_best without a validation split. */
	ct_err e = {0};
	expect_err(ct_config_validate(&c, "run.ini", &e), &e,
		   "run.ini: checkpoint.keep_best and checkpoint.patience need a validation split");
	c.val_fraction = 0.2;
	assert_int_equal(ct_config_validate(&c, "run.ini", &e), 0);
}

/* Each row: an assignment that must be rejected and a substring of the message. */
static const struct {
	const char *set, *want;
} bad_values[] = {
	{"model.layers=784",
	 "--set model.layers=784: wrong number of layers (expected 2 to 32 comma-separated positive integers"},
	{"model.layers=784,0,10", "layer widths must be positive"},
	{"model.layers=784,-3,10", "layer widths must be positive"},
	{"model.layers=784,,10", "empty item in list"},
	{"model.layers=784,10,", "empty item in list"},
	{"model.layers=784,2x,10", "item is not an integer"},
	{"model.layers=784,3000000000,10", "layer widths must be positive"},
	{"model.layers=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33",
	 "too many layers"},
	{"model.layers=", "empty value"},
	{"model.activation=relux",
	 "--set model.activation=relux: not an allowed value (expected one of relu|tanh|sigmoid|gelu)"},
	{"model.activation=ReLU", "expected one of relu|tanh|sigmoid|gelu"},
	{"model.activation=averyveryverylongname", "not an allowed value"},
	{"model.dropout=1", "out of range (expected a number in [0, 1))"},
	{"model.dropout=-0.1", "out of range (expected a number in [0, 1))"},
	{"optim.name=rmsprop", "expected one of sgd|adam|adamw"},
	{"optim.lr=0", "--set optim.lr=0: out of range (expected a number > 0)"},
	{"optim.lr=-1", "out of range (expected a number > 0)"},
	{"optim.lr=abc", "not a number (expected a number > 0)"},
	{"optim.lr=0.1x", "not a number"},
	{"optim.lr=", "empty value"},
	{"optim.lr=nan", "NaN and infinity are not allowed"},
	{"optim.lr=inf", "NaN and infinity are not allowed"},
	{"optim.lr=-Infinity", "NaN and infinity are not allowed"},
	{"optim.lr=1e999", "out of range"},
	{"optim.momentum=1", "expected a number in [0, 1)"},
	{"optim.nesterov=maybe",
	 "not a boolean (expected true or false (also yes/no, on/off, 1/0))"},
	{"optim.nesterov=", "empty value"},
	{"optim.weight_decay=-1e-9", "expected a number >= 0"},
	{"optim.beta1=1.0", "expected a number in [0, 1)"},
	{"optim.beta2=-0.5", "expected a number in [0, 1)"},
	{"optim.eps=0", "expected a number > 0"},
	{"optim.grad_clip=-1", "expected a number >= 0"},
	{"schedule.name=linear", "expected one of constant|step|cosine"},
	{"schedule.warmup_steps=-1", "out of range (expected an integer >= 0)"},
	{"schedule.step_size=0", "expected an integer >= 1"},
	{"schedule.step_size=1.5", "not an integer"},
	{"schedule.gamma=0", "expected a number > 0"},
	{"schedule.min_lr=-1", "expected a number >= 0"},
	{"data.dataset=imagenet", "expected one of synthetic|mnist|fashion-mnist|csv"},
	{"data.path=a\"b", "contains '\"' or a control character"},
	{"data.path=a\tb", "contains '\"' or a control character"},
	{"data.n_samples=0", "expected an integer >= 1"},
	{"data.n_samples=99999999999999999999", "out of range"},
	{"data.n_features=0", "expected an integer >= 1"},
	{"data.n_features=2147483648", "out of range"},
	{"data.n_classes=1", "expected an integer >= 2"},
	{"data.label_column=x", "not an integer (expected an integer)"},
	{"data.val_fraction=1", "expected a number in [0, 1)"},
	{"data.batch_size=0", "expected an integer >= 1"},
	{"data.batch_size=64 32", "not an integer"},
	{"data.shuffle=2", "not a boolean"},
	{"train.epochs=0", "expected an integer >= 1"},
	{"train.epochs=1e3", "not an integer"},
	{"train.seed=-1", "not a non-negative integer"},
	{"train.seed=18446744073709551616", "out of range"},
	{"train.threads=0", "expected an integer in [1, 256]"},
	{"train.threads=257", "expected an integer in [1, 256]"},
	{"train.log_every=0", "expected an integer >= 1"},
	{"train.eval_every=-5", "expected an integer >= 0"},
	{"train.kernel=Has-well", "bad character in name (expected letters, digits and '_' only"},
	{"train.kernel=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	 "too long"},
	{"train.deterministic=nope", "not a boolean"},
	{"checkpoint.every_steps=-1", "expected an integer >= 0"},
	{"checkpoint.every_seconds=-0.5", "expected a number >= 0"},
	{"checkpoint.keep_last=-1", "expected an integer >= 0"},
	{"checkpoint.keep_every=-1", "expected an integer >= 0"},
	{"checkpoint.async=maybe", "not a boolean"},
	{"checkpoint.on_error=ignore", "expected one of stop|warn"},
	{"checkpoint.every_epoch=2", "not a boolean"},
	{"checkpoint.keep_best=-2", "expected an integer in [0, 32]"},
	{"checkpoint.keep_best=33", "expected an integer in [0, 32]"},
	{"checkpoint.monitor=accuracy", "expected one of val_loss|val_accuracy"},
	{"checkpoint.patience=-1", "expected an integer >= 0"},
};

static void test_ranges(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++)
		set_err(bad_values[i].set, bad_values[i].want);

	/* The edges that are allowed. */
	ct_config c;
	ct_config_defaults(&c);
	set_ok(&c, "model.dropout=0");
	set_ok(&c, "model.dropout=0.999999");
	set_ok(&c, "optim.lr=1e-300");
	set_ok(&c, "optim.beta2=0");
	set_ok(&c, "data.label_column=-2147483648");
	assert_int_equal(c.label_column, INT32_MIN);
	set_ok(&c, "train.seed=0");
	assert_true(c.seed == 0);
	set_ok(&c, "train.seed=+7");
	assert_true(c.seed == 7);
	set_ok(&c, "train.kernel=");
	assert_string_equal(c.kernel, "");
	set_ok(&c, "data.n_samples=9223372036854775807");
	assert_true(c.n_samples == INT64_MAX);
	set_ok(&c, "model.layers=1,1");
	assert_int_equal(c.n_layers, 2);
	set_ok(&c,
	       "model.layers=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32");
	assert_int_equal(c.n_layers, 32);
	assert_int_equal(c.layers[31], 32);
	set_ok(&c, "model.layers=5,6");
	assert_int_equal(c.n_layers, 2);
	assert_int_equal(c.layers[2], 0); /* the old tail is cleared */
	set_ok(&c, "optim.nesterov=TRUE");
	assert_int_equal(c.nesterov, 1);
	set_ok(&c, "optim.nesterov=Off");
	assert_int_equal(c.nesterov, 0);
	set_ok(&c, "optim.lr=0x1p-4"); /* strtod's hex floats are exact */
	assert_true(c.lr == 0.0625);
}

static void test_file_errors(void **state)
{
	(void)state;
	parse_err("[model]\nlayers = 4,2\n\n[optim]\nlerning_rate = 0.1\n",
		  "run.ini:5: unknown key optim.lerning_rate");
	parse_err("[optim]\nlrr = 0.1\n",
		  "run.ini:2: unknown key optim.lrr (did you mean optim.lr?)");
	parse_err("[optim]\nrl = 0.1\n", "(did you mean optim.lr?)");
	parse_err("[optim]\nepochs = 3\n", "unknown key optim.epochs (did you mean train.epochs?)");
	parse_err("[schedule]\nwarmup = 3\n",
		  "run.ini:2: unknown key schedule.warmup "
		  "(keys in [schedule]: name, warmup_steps, step_size, gamma, min_lr)");
	parse_err("[optim]\nlr = 0.1\nname = sgd\nlr = 0.2\n",
		  "run.ini:4: duplicate key optim.lr (first set on line 2)");
	parse_err("; comment\n[optim]\nlr = abc\n",
		  "run.ini:3: optim.lr = abc: not a number (expected a number > 0)");
	parse_err(
		"[model]\nactivation = swish\n",
		"run.ini:2: model.activation = swish: not an allowed value (expected one of relu|tanh|sigmoid|gelu)");
	parse_err("[model]\nlayers 784,10\n",
		  "run.ini:2: expected \"key = value\" or \"[section]\", got \"layers 784,10\"");
	parse_err(
		"lr = 0.1\n[optim]\n",
		"run.ini:1: key lr is outside a section (put it under a [section] header, e.g. [optim])");
	parse_err("[optimizer]\n", "run.ini:1: unknown section [optimizer] "
				   "(sections: model, optim, schedule, data, train, checkpoint)");
	parse_err("\n\n[modle]\n", "run.ini:3: unknown section [modle] (did you mean [model]?)");
	parse_err("[model\n", "run.ini:1: section header [model is missing its ']'");
	parse_err("[model] layers = 1,2\n", "run.ini:1: unexpected text after ']'");
	parse_err("[model]\n= 5\n", "run.ini:2: missing key before '='");
	parse_err("[data]\npath = \"/x/y\n",
		  "run.ini:2: data.path = \"/x/y: unterminated quoted value");
	parse_err("[train]\nthreads = 0\n",
		  "run.ini:2: train.threads = 0: out of range (expected an integer in [1, 256])");
	/* The error comes from the first bad line; later lines are not applied. */
	parse_err("[train]\nepochs = 7\nthreads = x\n", "run.ini:3:");
}

static void test_comments_whitespace(void **state)
{
	(void)state;
	ct_config c;
	parse_ok(&c, "\xEF\xBB\xBF# leading comment\r\n"
		     "  ; indented comment\r\n"
		     "\r\n"
		     "  [ model ]   # header comment\r\n"
		     "\tlayers\t=\t784 , 256 , 10\t; trailing comment\r\n"
		     "[data]\n"
		     "dataset = mnist\n"
		     "path = /data/a#b;c ; '#' and ';' without whitespace before them are kept\n"
		     "[optim]\n"
		     "lr = 0.01 # comment\n"
		     "[train]\n"
		     "kernel = \"\"\n"
		     "   \t   \n");
	assert_int_equal(c.n_layers, 3);
	assert_int_equal(c.layers[0], 784);
	assert_int_equal(c.layers[1], 256);
	assert_int_equal(c.layers[2], 10);
	assert_string_equal(c.path, "/data/a#b;c");
	assert_string_equal(c.activation, "relu");
	assert_true(c.lr == 0.01);
	assert_string_equal(c.kernel, "");
	/* So this activation is "tanh;trailing", caught rather than guessed at. */
	parse_err("[model]\nactivation=tanh;trailing\t; comment\n",
		  "run.ini:2: model.activation = tanh;trailing: not an allowed value");
	/* Inside quotes ';' and '#' are literal even after whitespace. */
	parse_ok(&c, "[data]\npath = \"/data/a ;b #c\"   ; comment\n");
	assert_string_equal(c.path, "/data/a ;b #c");
	parse_ok(&c, "[optim]\nlr = \"0.5\"\n");
	assert_true(c.lr == 0.5);

	/* An empty text and a comments-only text change nothing. */
	ct_config d, def;
	ct_config_defaults(&def);
	parse_ok(&d, "");
	assert_memory_equal(&d, &def, sizeof d);
	parse_ok(&d, "# nothing\n;\n\n");
	assert_memory_equal(&d, &def, sizeof d);
	/* Parsing applies on top of what is there (e.g. two files). */
	parse_ok(&d, "[train]\nepochs = 4\n");
	ct_err e = {0};
	assert_int_equal(ct_config_parse_string(&d, "[train]\nseed = 9\n", "b.ini", &e), 0);
	assert_int_equal(d.epochs, 4);
	assert_true(d.seed == 9);
}

static void test_set(void **state)
{
	(void)state;
	ct_config c;
	ct_config_defaults(&c);
	set_ok(&c, "model.layers=784,256,10");
	set_ok(&c, "optim.lr=0.01");
	set_ok(&c, " train.epochs = 12 ");
	set_ok(&c, "data.path=/a b/c=d"); /* only the first '=' splits */
	assert_int_equal(c.n_layers, 3);
	assert_int_equal(c.layers[2], 10);
	assert_true(c.lr == 0.01);
	assert_int_equal(c.epochs, 12);
	assert_string_equal(c.path, "/a b/c=d");
	set_ok(&c, "data.path=\" /q ;a \"");
	assert_string_equal(c.path, " /q ;a ");
	set_ok(&c, "train.kernel=\"\"");
	assert_string_equal(c.kernel, "");
	set_err("data.path=\"/q", "--set data.path=\"/q: unterminated quoted value");

	set_err("optim.lr", "--set optim.lr: expected section.key=value");
	set_err("lr=0.1", "--set lr=0.1: expected section.key=value (did you mean optim.lr?)");
	set_err("nosuchkey=0.1", "--set nosuchkey=0.1: expected section.key=value");
	/* One letter is not close to "lr" even though it is 2 edits away. */
	set_err("optim.q=1", "--set optim.q=1: unknown key optim.q (keys in [optim]: name, lr,");
	set_err("optimizer.lr=0.1", "--set optimizer.lr=0.1: unknown section [optimizer]");
	set_err("optim.lrr=0.1",
		"--set optim.lrr=0.1: unknown key optim.lrr (did you mean optim.lr?)");
	/* "lrate" is 3 edits from "lr": no guess, the section's keys instead. */
	set_err("optim.lrate=0.1",
		"--set optim.lrate=0.1: unknown key optim.lrate (keys in [optim]: "
		"name, lr, momentum, nesterov, weight_decay, beta1, beta2, eps, grad_clip)");
	set_err("model.layers=784,x,10",
		"--set model.layers=784,x,10: item is not an integer (expected 2 to 32 comma-separated positive integers, e.g. 784,256,10)");

	/* A NULL ct_err still gives the right code. */
	assert_int_equal(ct_config_set(&c, "optim.lr=-1", NULL), CT_ECONFIG);
	assert_int_equal(ct_config_set(&c, "optim.xx=1", NULL), CT_ECONFIG);
	assert_int_equal(ct_config_parse_string(&c, "[x]\n", "a", NULL), CT_ECONFIG);
	assert_true(c.lr == 0.01);
}

static void test_resume_allow_list(void **state)
{
	(void)state;
	static const char *const yes[] = {
		"train.epochs",         "train.log_every",        "train.eval_every",
		"train.threads",        "checkpoint.every_steps", "checkpoint.every_seconds",
		"checkpoint.keep_last", "checkpoint.keep_every",  "checkpoint.async",
		"checkpoint.on_error",  "checkpoint.every_epoch", "checkpoint.keep_best",
		"checkpoint.monitor",   "checkpoint.patience"};
	static const char *const no[] = {"model.layers",
					 "model.activation",
					 "model.dropout",
					 "optim.name",
					 "optim.lr",
					 "optim.momentum",
					 "optim.nesterov",
					 "optim.weight_decay",
					 "optim.beta1",
					 "optim.beta2",
					 "optim.eps",
					 "optim.grad_clip",
					 "schedule.name",
					 "schedule.warmup_steps",
					 "schedule.step_size",
					 "schedule.gamma",
					 "schedule.min_lr",
					 "data.dataset",
					 "data.path",
					 "data.n_samples",
					 "data.n_features",
					 "data.n_classes",
					 "data.label_column",
					 "data.val_fraction",
					 "data.batch_size",
					 "data.shuffle",
					 "train.seed",
					 "train.kernel",
					 "train.deterministic",
					 "train.nosuch",
					 "nosuch.epochs",
					 "epochs",
					 "",
					 "train.",
					 ".epochs"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (!ct_config_key_resumable(yes[i]))
			fail_msg("%s should be resumable", yes[i]);
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (ct_config_key_resumable(no[i]))
			fail_msg("%s should not be resumable", no[i]);
	assert_int_equal(ct_config_key_resumable(NULL), 0);

	ct_config c, before;
	ct_err e = {0};
	parse_ok(&c, "[model]\nlayers = 20,8,4\n[optim]\nlr = 0.01\n");
	before = c;
	expect_err(
		ct_config_set_on_resume(&c, "model.layers=20,16,4", &e), &e,
		"--set model.layers=20,16,4: cannot change model.layers on resume: it would break "
		"bit-exact continuation (allowed: train.epochs, train.threads, train.log_every, "
		"train.eval_every, train.on_nonfinite, checkpoint.*)");
	expect_err(ct_config_set_on_resume(&c, "optim.lr=0.02", &e), &e,
		   "cannot change optim.lr on resume");
	/* Not allowed even when the new value is itself invalid. */
	expect_err(ct_config_set_on_resume(&c, "train.seed=x", &e), &e,
		   "cannot change train.seed on resume");
	/* Unknown keys and bad syntax get the ordinary messages. */
	expect_err(ct_config_set_on_resume(&c, "train.epoch=5", &e), &e,
		   "unknown key train.epoch (did you mean train.epochs?)");
	expect_err(ct_config_set_on_resume(&c, "train.epochs=0", &e), &e,
		   "--set train.epochs=0: out of range (expected an integer >= 1)");
	assert_memory_equal(&c, &before, sizeof c);

	/* Restating a frozen value is a no-op, whatever its spelling. */
	assert_int_equal(ct_config_set_on_resume(&c, "model.layers=20, 8, 4", &e), 0);
	assert_int_equal(ct_config_set_on_resume(&c, "optim.lr=1e-2", &e), 0);
	assert_memory_equal(&c, &before, sizeof c);

	assert_int_equal(ct_config_set_on_resume(&c, "train.epochs=30", &e), 0);
	assert_int_equal(ct_config_set_on_resume(&c, "train.threads=2", &e), 0);
	assert_int_equal(ct_config_set_on_resume(&c, "checkpoint.keep_last=10", &e), 0);
	assert_int_equal(ct_config_set_on_resume(&c, "checkpoint.monitor=val_accuracy", &e), 0);
	assert_int_equal(c.epochs, 30);
	assert_int_equal(c.threads, 2);
	assert_int_equal(c.keep_last, 10);
	assert_string_equal(c.monitor, "val_accuracy");
}

static const char *expected_text =
	"# ctrain effective configuration: every key, frozen for resume\n"
	"\n[model]\nlayers = 784,256,10\nactivation = relu\ndropout = 0.2\n"
	"\n[optim]\nname = adam\nlr = 0.001\nmomentum = 0\nnesterov = false\nweight_decay = 0\n"
	"beta1 = 0.9\nbeta2 = 0.999\neps = 1e-08\ngrad_clip = 0\n"
	"\n[schedule]\nname = constant\nwarmup_steps = 0\nstep_size = 1000\ngamma = 0.1\nmin_lr = 0\n"
	"\n[data]\ndataset = fashion-mnist\npath = \"/usr/share/datasets/fashion-mnist\"\n"
	"n_samples = 2000\nn_features = 20\nn_classes = 4\nlabel_column = -1\nheader = auto\n"
	"val_fraction = 0.1\nval_split = tail\nbatch_size = 64\nshuffle = true\nx = \"features\"\n"
	"y = \"labels\"\nval_path = \"\"\ntest_path = \"\"\nnormalize = none\nmemory_mb = 0\n"
	"generator = counter\n"
	"\n[train]\nepochs = 10\nseed = 42\nthreads = 1\nlog_every = 50\neval_every = 0\n"
	"kernel = \"\"\ndeterministic = true\nshards = 1\non_nonfinite = stop\n"
	"\n[checkpoint]\nevery_steps = 1000\nevery_seconds = 0\nkeep_last = 3\nkeep_every = 0\n"
	"async = true\non_error = stop\nevery_epoch = false\nkeep_best = 0\nmonitor = val_loss\n"
	"patience = 0\n";

static void test_to_string_bytes(void **state)
{
	(void)state;
	ct_config c;
	parse_ok(&c, "[model]\nlayers=784,256,10\ndropout=0.2\n[data]\ndataset=fashion-mnist\n"
		     "path=/usr/share/datasets/fashion-mnist\n");
	char *s = ct_config_to_string(&c);
	assert_non_null(s);
	assert_string_equal(s, expected_text);
	free(s);

	/* Unset layers are written as a comment, so the text still parses. */
	ct_config_defaults(&c);
	s = ct_config_to_string(&c);
	assert_non_null(strstr(s, "\n[model]\n; layers is not set\nactivation = relu\n"));
	ct_config d;
	parse_ok(&d, s);
	assert_config_equal(&c, &d);
	free(s);
}

/* to_string -> parse gives the same struct, and to_string of that the same text. */
static void round_trip(const ct_config *c)
{
	char *s1 = ct_config_to_string(c);
	assert_non_null(s1);
	ct_config d;
	parse_ok(&d, s1);
	assert_config_equal(c, &d);
	char *s2 = ct_config_to_string(&d);
	assert_string_equal(s1, s2);
	free(s1);
	free(s2);
}

static void test_round_trip(void **state)
{
	(void)state;
	ct_config c;
	parse_ok(&c, all_keys_ini);
	round_trip(&c);

	/* Doubles that need all 17 digits, tiny and huge ones, and a subnormal. */
	ct_config_defaults(&c);
	set_ok(&c, "model.layers=3,3");
	c.lr = 1.0 / 3.0;
	c.dropout = 0.1 + 0.2; /* 0.30000000000000004 */
	c.eps = 5e-324;
	c.weight_decay = 1.7976931348623157e308;
	c.gamma = 2.0 / 3.0;
	c.min_lr = 1e-300;
	c.every_seconds = 123456789.123456789;
	c.val_fraction = 0.9999999999999999;
	c.seed = 0xfedcba9876543210ull;
	c.label_column = -7;
	c.n_samples = INT64_MAX;
	round_trip(&c);
	char *s = ct_config_to_string(&c);
	assert_non_null(strstr(s, "\ndropout = 0.30000000000000004\n"));
	assert_non_null(strstr(s, "\nlr = 0.3333333333333333\n"));
	assert_non_null(strstr(s, "\nseed = 18364758544493064720\n"));
	free(s);

	/* Every layer count up to the maximum. */
	for (int n = 2; n <= CT_CFG_MAX_LAYERS; n++) {
		ct_config_defaults(&c);
		c.n_layers = n;
		for (int i = 0; i < n; i++)
			c.layers[i] = 1 + i * 1000003 % 65536;
		round_trip(&c);
	}
}

static void test_validate(void **state)
{
	(void)state;
	ct_config c;
	ct_err e = {0};
	parse_ok(&c, "[model]\nlayers = 20,4\n");
	assert_int_equal(ct_config_validate(&c, "run.ini", &e), 0);

	set_ok(&c, "data.dataset=mnist");
	expect_err(ct_config_validate(&c, "run.ini", &e), &e,
		   "run.ini: data.path is required for data.dataset = mnist");
	set_ok(&c, "data.dataset=csv");
	expect_err(ct_config_validate(&c, "run.ini", &e), &e,
		   "data.path is required for data.dataset = csv");
	set_ok(&c, "data.path=/x.csv");
	assert_int_equal(ct_config_validate(&c, "run.ini", &e), 0);

	set_ok(&c, "optim.name=sgd");
	set_ok(&c, "optim.nesterov=true");
	expect_err(ct_config_validate(&c, "run.ini", &e), &e,
		   "run.ini: optim.nesterov = true needs optim.momentum > 0");
	set_ok(&c, "optim.momentum=0.9");
	assert_int_equal(ct_config_validate(&c, "run.ini", &e), 0);
	set_ok(&c, "optim.name=adam");
	expect_err(ct_config_validate(&c, "run.ini", &e), &e,
		   "optim.momentum and optim.nesterov apply only to optim.name = sgd (got adam)");
	set_ok(&c, "optim.name=sgd");

	set_ok(&c, "checkpoint.patience=3");
	set_ok(&c, "data.val_fraction=0");
	expect_err(ct_config_validate(&c, "run.ini", &e), &e, "need a validation split");
	set_ok(&c, "data.val_fraction=0.05");
	assert_int_equal(ct_config_validate(&c, "run.ini", &e), 0);

	/* Ranges are enforced for configs built in code too. */
	ct_config d = c;
	d.schedule[0] = 'x';
	expect_err(
		ct_config_validate(&d, "cfg", &e), &e,
		"cfg: schedule.name = xonstant: not an allowed value (expected one of constant|step|cosine)");
	d = c;
	d.warmup_steps = -1;
	expect_err(ct_config_validate(&d, "cfg", &e), &e,
		   "cfg: schedule.warmup_steps = -1: out of range (expected an integer >= 0)");
	d = c;
	strcpy(d.kernel, "Sky lake");
	expect_err(ct_config_validate(&d, "cfg", &e), &e,
		   "cfg: train.kernel = \"Sky lake\": bad character in name");
	d = c;
	d.lr = (double)NAN;
	expect_err(ct_config_validate(&d, "cfg", &e), &e, "cfg: optim.lr = ");
	expect_err(ct_config_validate(&d, "cfg", &e), &e, "NaN and infinity are not allowed");
	d = c;
	d.n_layers = 1;
	expect_err(ct_config_validate(&d, "cfg", &e), &e,
		   "cfg: model.layers = 20: wrong number of layers");
	d = c;
	d.layers[1] = 0;
	expect_err(ct_config_validate(&d, "cfg", &e), &e,
		   "cfg: model.layers = 20,0: layer widths must be positive");
	d = c;
	d.shuffle = 2;
	expect_err(ct_config_validate(&d, "cfg", &e), &e,
		   "cfg: data.shuffle = true: not a boolean");
	d = c;
	memset(d.on_error, 'a', sizeof d.on_error); /* no terminating NUL */
	expect_err(ct_config_validate(&d, "cfg", &e), &e,
		   "cfg: checkpoint.on_error = aaaaaaaa: too long");
}

static void test_check_data(void **state)
{
	(void)state;
	ct_config c;
	ct_err e = {0};
	parse_ok(&c, "[model]\nlayers = 784,256,10\n");
	assert_int_equal(ct_config_check_data(&c, "run.ini", 784, 10, &e), 0);
	expect_err(ct_config_check_data(&c, "run.ini", 20, 10, &e), &e,
		   "run.ini: model.layers starts with 784 but the data has 20 features");
	expect_err(ct_config_check_data(&c, "run.ini", 784, 4, &e), &e,
		   "run.ini: model.layers ends with 10 but the data has 4 classes");
	ct_config_defaults(&c);
	expect_err(ct_config_check_data(&c, "run.ini", 784, 10, &e), &e,
		   "run.ini: model.layers is required");
}

TESTUTIL_TMPDIR(tmp_dir, "config", make_dir, remove_dir)

static void test_files(void **state)
{
	(void)state;
	const char *dir = tmp_dir;
	char path[300], missing[300];
	snprintf(path, sizeof path, "%s/config.ini", dir);
	snprintf(missing, sizeof missing, "%s/nope.ini", dir);

	ct_config c, d;
	ct_err e = {0};
	parse_ok(&c, all_keys_ini);
	assert_int_equal(ct_config_write(&c, path, &e), 0);
	char *buf, *s = ct_config_to_string(&c);
	size_t len;
	assert_int_equal(ct_file_read_all(path, 1 << 20, &buf, &len, &e), 0);
	assert_int_equal(len, strlen(s));
	assert_memory_equal(buf, s, len);
	free(buf);
	free(s);
	ct_config_defaults(&d);
	assert_int_equal(ct_config_load_file(&d, path, &e), 0);
	assert_config_equal(&c, &d);

	/* Errors from a file name the file. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("[optim]\nlr = 0.1\nlr = 0.2\n", f);
	assert_int_equal(fclose(f), 0);
	char want[512];
	snprintf(want, sizeof want, "%s:3: duplicate key optim.lr (first set on line 2)", path);
	ct_config_defaults(&d);
	expect_err(ct_config_load_file(&d, path, &e), &e, want);

	f = fopen(path, "w");
	assert_non_null(f);
	fwrite("[optim]\nlr = 0.1\0\n", 1, 18, f);
	assert_int_equal(fclose(f), 0);
	snprintf(want, sizeof want, "%s: contains a NUL byte", path);
	expect_err(ct_config_load_file(&d, path, &e), &e, want);

	snprintf(want, sizeof want, "cannot read config file: %s: No such file or directory",
		 missing);
	expect_err(ct_config_load_file(&d, missing, &e), &e, want);
	expect_err(ct_config_load_file(&d, dir, &e), &e, "not a regular file");

	/* Writing into a missing directory fails cleanly. */
	snprintf(want, sizeof want, "%s/no/such/dir/config.ini", dir);
	assert_true(ct_config_write(&c, want, &e) < 0);
	assert_non_null(strstr(e.msg, "no/such/dir/config.ini"));

	assert_int_equal(unlink(path), 0);
}

static void test_examples(void **state)
{
	(void)state;
	static const struct {
		const char *path, *dataset;
		int in, out;
	} ex[] = {
		{"experiments/configs/synthetic.ini", "synthetic", 20, 4},
		{"experiments/configs/fashion-mnist.ini", "fashion-mnist", 784, 10},
		{"experiments/configs/mnist.ini", "mnist", 784, 10},
	};
	for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
		ct_config c;
		ct_err e = {0};
		ct_config_defaults(&c);
		if (ct_config_load_file(&c, ex[i].path, &e) ||
		    ct_config_validate(&c, ex[i].path, &e) ||
		    ct_config_check_data(&c, ex[i].path, ex[i].in, ex[i].out, &e))
			fail_msg("%s", e.msg);
		assert_string_equal(c.dataset, ex[i].dataset);
		round_trip(&c);
	}
}

static void test_reference(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	ct_config_print_reference(f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(text, "\n[model]\n  layers        = (required)  "));
	assert_non_null(
		strstr(text, "\n  lr            = 0.001       peak learning rate; a number > 0\n"));
	assert_non_null(strstr(
		text,
		"\n  epochs        = 10          passes over the training data; an integer >= 1 [resume]\n"));
	assert_non_null(strstr(text, "one of sgd|adam|adamw"));
	assert_non_null(strstr(text, "\n[checkpoint]\n"));
	assert_non_null(strstr(text, "\n  patience      = 0 "));
	assert_non_null(strstr(text,
			       "\n  val_split     = tail        validation rows: the file's last "
			       "val_fraction (tail, as Keras)"));
	assert_non_null(strstr(text, "false = the file's order, every epoch"));
	/* 6 section headers and one line per key (54 keys). */
	int lines = 0;
	for (char *p = text; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 2 + 6 * 2 + 54);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_frozen_defaults),
		cmocka_unit_test(test_every_key_parsed),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_comments_whitespace),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_resume_allow_list),
		cmocka_unit_test(test_to_string_bytes),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_check_data),
		cmocka_unit_test_setup_teardown(test_files, make_dir, remove_dir),
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
