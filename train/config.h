/* config.h — the run configuration: an INI file, `--set section.key=value`
 * overrides, validation, and the frozen copy written into the run directory.
 *
 * One table in config.c lists every key with its field, type, default, allowed
 * range or values and whether it may change on resume; parsing, defaults,
 * writing, validation, the --help reference and the resume allow-list all walk
 * that table, so a key cannot be parsed but forgotten when written.
 *
 * Calling sequence for `ctrain train`:
 *
 *     ct_config c;
 *     ct_config_defaults(&c);
 *     if (ct_config_load_file(&c, "run.ini", &e) < 0) ...          // CT_ECONFIG
 *     for each --set:  ct_config_set(&c, "optim.lr=0.01", &e)
 *     ct_config_validate(&c, "run.ini", &e);                       // cross-field
 *     ... load the data ...
 *     ct_config_check_data(&c, "run.ini", n_features, n_classes, &e);
 *     ct_config_write(&c, "DIR/config.ini", &e);                   // frozen, atomic
 *
 * and for `ctrain resume DIR`: ct_config_defaults_frozen, ct_config_load_file of the frozen
 * DIR/config.ini, then ct_config_set_on_resume for each --set (it rejects keys
 * whose change would break bit-exact continuation), then ct_config_validate.
 *
 * Every error is CT_ECONFIG with a one-line message naming the file (or
 * "--set"), the line when there is one, and the key, e.g.
 *     run.ini:7: unknown key optim.lerning_rate (did you mean optim.lr?)
 *     run.ini:3: optim.lr = abc: not a number (expected a number > 0)
 * Parsing and --set are all-or-nothing: on error the struct is unchanged.
 *
 * INI syntax: `[section]` headers, `key = value` lines, blank lines, comments
 * starting with ';' or '#' on their own line or after whitespace.  A value may
 * be wrapped in double quotes (then ';' and '#' inside it are literal); string
 * values cannot contain '"' or control characters.  Booleans accept
 * true/false, yes/no, on/off, 1/0.  Numbers must be the whole value, finite,
 * and in range.  ct_config_to_string writes every key, so a frozen config does
 * not depend on the defaults of the ctrain version that reads it.
 */
#ifndef CT_CONFIG_H
#define CT_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "../util/api.h"
#include "../util/err.h"

#define CT_CFG_MAX_LAYERS 32

typedef struct ct_config {
	/* [model] */
	int layers[CT_CFG_MAX_LAYERS]; /* widths, input first, classes last */
	int n_layers;                  /* 0 until set: layers is required */
	char activation[16];           /* relu|tanh|sigmoid|gelu */
	double dropout;                /* [0,1) */
	/* [optim] */
	char optim[16]; /* key "name": sgd|adam|adamw */
	double lr, momentum;
	int nesterov;
	double weight_decay, beta1, beta2, eps, grad_clip; /* grad_clip 0 = off */
	/* [schedule] */
	char schedule[16]; /* key "name": constant|step|cosine */
	int64_t warmup_steps, step_size;
	double gamma, min_lr;
	/* [data] */
	char dataset[32]; /* synthetic|mnist|fashion-mnist|csv|hdf5 */
	char path[4096];
	char x_name[256], y_name[256];           /* hdf5: dataset names (keys x, y) */
	char val_path[4096], test_path[4096];    /* "" = split of path / no test file */
	char normalize[16];                      /* none|standard */
	int64_t memory_mb;                       /* data budget; 0 = automatic */
	int64_t n_samples;                       /* synthetic only, as n_features/n_classes */
	char generator[16];                      /* synthetic: counter|sequential (0.1.0's) */
	int n_features, n_classes, label_column; /* label_column < 0 counts from the end */
	char header[8];                          /* csv: auto|true|false */
	double val_fraction;
	char val_split[16]; /* tail|random|permuted (data/dataset.h split_kind) */
	int batch_size, shuffle;
	/* [train] */
	int64_t epochs;
	uint64_t seed;
	int threads;
	int64_t log_every, eval_every; /* eval_every 0 = at the end of each epoch */
	char kernel[64];               /* OpenBLAS core name to pin; "" = as detected */
	int deterministic;
	int shards;            /* power of two; 1 = today's step (no tree) */
	char on_nonfinite[16]; /* stop|warn|skip_batch */
	/* [checkpoint] */
	int64_t every_steps;              /* 0 = off */
	double every_seconds;             /* 0 = off */
	int keep_last, keep_every, async; /* keep_last 0 = keep all */
	char on_error[8];                 /* stop|warn */
	int every_epoch, keep_best;
	char monitor[16]; /* val_loss|val_accuracy */
	int patience;     /* 0 = no early stopping */
} ct_config;

/* Zeroes c (padding included, so memcmp of two configs is meaningful) and
 * sets every key to its default; layers is left unset (n_layers = 0). */
CT_API void ct_config_defaults(ct_config *c);
/* The defaults to parse a config frozen by a run (DIR/config.ini, a
 * checkpoint's /meta@config) over: ct_config_defaults, except that keys added
 * after ctrain 0.1.0 take the value that reproduces 0.1.0 when the file does
 * not have them (data.val_split = permuted, data.generator = sequential), so
 * old runs resume bit-exactly. */
CT_API void ct_config_defaults_frozen(ct_config *c);

/* Applies INI text on top of c.  `name` (usually the file name) starts every
 * message.  Errors: unknown section or key (with the closest valid name when
 * one is within edit distance 2), duplicate key, key outside a section, line
 * without '=', bad value (with the reason and the allowed range or values). */
CT_API int ct_config_parse_string(ct_config *c, const char *text, const char *name, ct_err *e);
/* Reads and parses a file; a missing or unreadable file is CT_ECONFIG naming it. */
CT_API int ct_config_load_file(ct_config *c, const char *path, ct_err *e);

/* One override "section.key=value" from --set (messages start with "--set"). */
CT_API int ct_config_set(ct_config *c, const char *assignment, ct_err *e);
/* Is "section.key" allowed to change on resume?  1/0; 0 for unknown keys. */
CT_API int ct_config_key_resumable(const char *section_key);
/* Resume-time --set: a key not on the allow-list is rejected unless the value
 * equals the frozen one (a no-op cannot break anything); else ct_config_set. */
CT_API int ct_config_set_on_resume(ct_config *c, const char *assignment, ct_err *e);

/* Every key's range (for configs built in code) and the cross-field rules:
 * layers present, dataset path present for mnist/fashion-mnist/csv, nesterov
 * needs momentum > 0, keep_best/patience need a validation split, kernel name
 * of [A-Za-z0-9_].  `name` starts every message. */
CT_API int ct_config_validate(const ct_config *c, const char *name, ct_err *e);
/* Checks the first layer against the data's feature count and the last
 * against its class count (CT_ECONFIG naming `name` and model.layers). */
CT_API int ct_config_check_data(const ct_config *c, const char *name, int n_features, int n_classes,
				ct_err *e);

/* First line of ct_config_to_string's text: tells a frozen run config from a user's file. */
#define CT_CONFIG_FROZEN_HEADER "# ctrain effective configuration: every key, frozen for resume"

/* The config as INI text with every key (malloc'ed; NULL if out of memory).
 * Deterministic, and parsing it into a default config gives back exactly c
 * (doubles use the shortest text that reads back to the same bits). */
CT_API char *ct_config_to_string(const ct_config *c);
/* Writes ct_config_to_string(c) to path atomically (util/atomic.h). */
CT_API int ct_config_write(const ct_config *c, const char *path, ct_err *e);

/* Prints every section and key with its default, allowed values and whether
 * it may change on resume (for `ctrain train --help`).  A write error is left
 * on out's error indicator (ferror) for the caller. */
CT_API void ct_config_print_reference(FILE *out);
/* On resume: every key that ct_config_key_resumable() refuses must be equal in
 * the checkpoint's config (frozen) and the run's config.ini (now); the first
 * difference is a CT_ECONFIG naming the file (name), the key and both values. */
CT_API int ct_config_check_continuation(const ct_config *frozen, const ct_config *now,
					const char *name, ct_err *e);

#endif
