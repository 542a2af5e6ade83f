#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../util/atomic.h"

/* ---- the key table ------------------------------------------------------- */

enum key_type { K_INT, K_I64, K_U64, K_DBL, K_BOOL, K_ENUM, K_STR, K_LAYERS };

typedef struct key_spec {
	const char *section, *key;
	enum key_type type;
	size_t off, size; /* where the field lives in ct_config */
	const char *def;  /* default as INI text; NULL = required, no default */
	int64_t ilo, ihi; /* integer range, inclusive */
	double dlo, dhi;  /* double range; ends open when lo_open/hi_open */
	int lo_open, hi_open;
	const char *choices; /* enum values, '|'-separated */
	int ident;           /* string restricted to [A-Za-z0-9_] */
	int resumable;       /* may change on `resume --set` */
	const char *help;
} key_spec;

#define FLD(f) .off = offsetof(ct_config, f), .size = sizeof(((ct_config *)0)->f)
#define INTK(lo, hi) .type = K_INT, .ilo = (lo), .ihi = (hi)
#define I64K(lo) .type = K_I64, .ilo = (lo), .ihi = INT64_MAX
#define DBLK(lo, lopen, hi, hopen) \
	.type = K_DBL, .dlo = (lo), .lo_open = (lopen), .dhi = (hi), .hi_open = (hopen)
#define ENUMK(ch) .type = K_ENUM, .choices = (ch)
#define NOLIM HUGE_VAL

static const char *const sections[] = {"model", "optim", "schedule", "data", "train", "checkpoint"};
#define N_SECTIONS ((int)(sizeof sections / sizeof sections[0]))

static const key_spec keys[] = {
	{"model", "layers", .type = K_LAYERS, FLD(layers), .def = NULL,
	 .help = "layer widths, input features first and classes last"},
	{"model", "activation", ENUMK("relu|tanh|sigmoid|gelu"), FLD(activation), .def = "relu",
	 .help = "hidden-layer activation"},
	{"model", "dropout", DBLK(0, 0, 1, 1), FLD(dropout), .def = "0.0",
	 .help = "dropout probability after each hidden activation"},

	{"optim", "name", ENUMK("sgd|adam|adamw"), FLD(optim), .def = "adam", .help = "optimizer"},
	{"optim", "lr", DBLK(0, 1, NOLIM, 0), FLD(lr), .def = "0.001",
	 .help = "peak learning rate"},
	{"optim", "momentum", DBLK(0, 0, 1, 1), FLD(momentum), .def = "0.0",
	 .help = "SGD momentum"},
	{"optim", "nesterov", .type = K_BOOL, FLD(nesterov), .def = "false",
	 .help = "Nesterov momentum (SGD, needs momentum > 0)"},
	{"optim", "weight_decay", DBLK(0, 0, NOLIM, 0), FLD(weight_decay), .def = "0.0",
	 .help = "L2 penalty (sgd, adam) or decoupled decay (adamw)"},
	{"optim", "beta1", DBLK(0, 0, 1, 1), FLD(beta1), .def = "0.9",
	 .help = "Adam first-moment decay"},
	{"optim", "beta2", DBLK(0, 0, 1, 1), FLD(beta2), .def = "0.999",
	 .help = "Adam second-moment decay"},
	{"optim", "eps", DBLK(0, 1, NOLIM, 0), FLD(eps), .def = "1e-8",
	 .help = "Adam denominator term"},
	{"optim", "grad_clip", DBLK(0, 0, NOLIM, 0), FLD(grad_clip), .def = "0",
	 .help = "clip gradients to this global L2 norm; 0 = off"},

	{"schedule", "name", ENUMK("constant|step|cosine"), FLD(schedule), .def = "constant",
	 .help = "learning-rate schedule after warm-up"},
	{"schedule", "warmup_steps", I64K(0), FLD(warmup_steps), .def = "0",
	 .help = "steps of linear warm-up from 0 to lr"},
	{"schedule", "step_size", I64K(1), FLD(step_size), .def = "1000",
	 .help = "step schedule: multiply lr by gamma every step_size steps"},
	{"schedule", "gamma", DBLK(0, 1, NOLIM, 0), FLD(gamma), .def = "0.1",
	 .help = "step schedule decay factor"},
	{"schedule", "min_lr", DBLK(0, 0, NOLIM, 0), FLD(min_lr), .def = "0",
	 .help = "cosine schedule: final learning rate"},

	{"data", "dataset", ENUMK("synthetic|mnist|fashion-mnist|csv|hdf5"), FLD(dataset),
	 .def = "synthetic", .help = "data source"},
	{"data", "path", .type = K_STR, FLD(path), .def = "",
	 .help = "directory (mnist, fashion-mnist) or file (csv, hdf5)"},
	{"data", "n_samples", I64K(1), FLD(n_samples), .def = "2000", .help = "synthetic: samples"},
	{"data", "n_features", INTK(1, INT_MAX), FLD(n_features), .def = "20",
	 .help = "synthetic: features"},
	{"data", "n_classes", INTK(2, INT_MAX), FLD(n_classes), .def = "4",
	 .help = "synthetic: classes"},
	{"data", "label_column", INTK(INT_MIN, INT_MAX), FLD(label_column), .def = "-1",
	 .help = "csv: label column, negative counts from the end"},
	{"data", "header", ENUMK("auto|true|false"), FLD(header), .def = "auto",
	 .help = "csv: first row is a header (auto: if none of its cells is a number)"},
	{"data", "val_fraction", DBLK(0, 0, 1, 1), FLD(val_fraction), .def = "0.1",
	 .help = "fraction of the training data held out for validation"},
	{"data", "val_split", ENUMK("tail|random|permuted"), FLD(val_split), .def = "tail",
	 .help = "validation rows: the file's last val_fraction (tail, as Keras), or drawn with "
		 "train.seed (random); permuted = ctrain 0.1.0's order, which a run frozen "
		 "without this key keeps"},
	{"data", "batch_size", INTK(1, INT_MAX), FLD(batch_size), .def = "64",
	 .help = "samples per step"},
	{"data", "shuffle", .type = K_BOOL, FLD(shuffle), .def = "true",
	 .help = "reshuffle the training data every epoch; false = the file's order, every epoch "
		 "(with val_split tail or random)"},
	{"data", "x", .type = K_STR, FLD(x_name), .def = "features",
	 .help = "hdf5: dataset of the features, [rows, features] float32, float64 or uint8"},
	{"data", "y", .type = K_STR, FLD(y_name), .def = "labels",
	 .help = "hdf5: dataset of the labels, [rows] integers"},
	{"data", "val_path", .type = K_STR, FLD(val_path), .def = "",
	 .help = "validation rows from this file (same format as path) instead of a split "
		 "of path; val_fraction is then not used"},
	{"data", "test_path", .type = K_STR, FLD(test_path), .def = "",
	 .help = "file (same format as path) that ctrain eval uses as the test set"},
	{"data", "normalize", ENUMK("none|standard"), FLD(normalize), .def = "none",
	 .help = "standard: subtract each feature's training mean and divide by its standard "
		 "deviation (saved in checkpoints and model.safetensors)"},
	{"data", "memory_mb", I64K(0), FLD(memory_mb), .def = "0",
	 .help = "memory budget for the data; an hdf5 training set larger than it is streamed "
		 "from the file (another row order, same rows per epoch); 0 = half the RAM, "
		 "frozen as that number"},
	{"data", "generator", ENUMK("counter|sequential"), FLD(generator), .def = "counter",
	 .help = "synthetic: noise generator; counter = rows drawn in parallel, the same bytes "
		 "for any thread count; sequential = ctrain 0.1.0's, which a run frozen "
		 "without this key keeps"},

	{"train", "epochs", I64K(1), FLD(epochs), .def = "10", .resumable = 1,
	 .help = "passes over the training data"},
	{"train", "seed", .type = K_U64, FLD(seed), .def = "42",
	 .help = "seed of every random stream (init, shuffle, dropout, data)"},
	{"train", "threads", INTK(1, 256), FLD(threads), .def = "1", .resumable = 1,
	 .help = "compute threads"},
	{"train", "log_every", I64K(1), FLD(log_every), .def = "50", .resumable = 1,
	 .help = "steps between metrics rows"},
	{"train", "eval_every", I64K(0), FLD(eval_every), .def = "0", .resumable = 1,
	 .help = "steps between validations; 0 = at the end of each epoch"},
	{"train", "kernel", .type = K_STR, .ident = 1, FLD(kernel), .def = "",
	 .help = "OpenBLAS core to pin (e.g. Haswell); empty = as detected"},
	{"train", "deterministic", .type = K_BOOL, FLD(deterministic), .def = "true",
	 .help = "same bytes for any thread count"},
	{"train", "shards", INTK(1, 4096), FLD(shards), .def = "1",
	 .help = "micro-shards of each batch (a power of two), summed by one fixed tree: the same "
		 "bytes on any number of MPI processes dividing it (README: several processes)"},
	{"train", "on_nonfinite", ENUMK("stop|warn|skip_batch"), FLD(on_nonfinite), .def = "stop",
	 .resumable = 1,
	 .help = "a NaN/inf loss or gradient stops the run (exit 1), only warns, or skips the batch"},

	{"checkpoint", "every_steps", I64K(0), FLD(every_steps), .def = "1000", .resumable = 1,
	 .help = "steps between checkpoints; 0 = off"},
	{"checkpoint", "every_seconds", DBLK(0, 0, NOLIM, 0), FLD(every_seconds), .def = "0",
	 .resumable = 1, .help = "seconds between checkpoints; 0 = off"},
	{"checkpoint", "keep_last", INTK(0, INT_MAX), FLD(keep_last), .def = "3", .resumable = 1,
	 .help = "newest checkpoints kept; 0 = keep all"},
	{"checkpoint", "keep_every", INTK(0, INT_MAX), FLD(keep_every), .def = "0", .resumable = 1,
	 .help = "also keep checkpoints whose step is a multiple of this; 0 = none"},
	{"checkpoint", "async", .type = K_BOOL, FLD(async), .def = "true", .resumable = 1,
	 .help = "write checkpoints in the background"},
	{"checkpoint", "on_error", ENUMK("stop|warn"), FLD(on_error), .def = "stop", .resumable = 1,
	 .help = "a failed checkpoint write stops training or only warns"},
	{"checkpoint", "every_epoch", .type = K_BOOL, FLD(every_epoch), .def = "false",
	 .resumable = 1, .help = "also checkpoint at the end of each epoch"},
	{"checkpoint", "keep_best", INTK(0, 32), FLD(keep_best), .def = "0", .resumable = 1,
	 .help = "also keep the N best checkpoints by monitor"},
	{"checkpoint", "monitor", ENUMK("val_loss|val_accuracy"), FLD(monitor), .def = "val_loss",
	 .resumable = 1, .help = "metric for keep_best and patience"},
	{"checkpoint", "patience", INTK(0, INT_MAX), FLD(patience), .def = "0", .resumable = 1,
	 .help = "stop after this many evaluations without improvement; 0 = never"},
};
#define N_KEYS ((int)(sizeof keys / sizeof keys[0]))

static void *field(ct_config *c, const key_spec *k) { return (char *)c + k->off; }
static const void *cfield(const ct_config *c, const key_spec *k)
{
	return (const char *)c + k->off;
}

static int find_section(const char *name)
{
	for (int i = 0; i < N_SECTIONS; i++)
		if (strcmp(sections[i], name) == 0)
			return i;
	return -1;
}

static const key_spec *find_key(const char *section, const char *key)
{
	for (int i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
			return &keys[i];
	return NULL;
}

/* ---- suggestions ---------------------------------------------------------- */

/* Optimal-string-alignment distance (edits plus adjacent swaps), so "lr" is one
 * edit from "rl".  Long strings are never close to a key: they return a big
 * number without allocating. */
static int edit_distance(const char *a, const char *b)
{
	enum { MAXLEN = 64 };
	size_t n = strlen(a), m = strlen(b);
	if (n >= MAXLEN || m >= MAXLEN)
		return INT_MAX;
	int d[MAXLEN + 1][MAXLEN + 1];
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= n; i++) {
		for (size_t j = 1; j <= m; j++) {
			int cost = a[i - 1] != b[j - 1];
			int best = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[n][m];
}

/* Closest key to `key` within distance 2, preferring the given section on ties
 * (a key typed in the wrong section is found at distance 0).  A distance as
 * large as the typed name itself ("x" vs "lr") is no resemblance. */
static const key_spec *suggest_key(const char *section, const char *key)
{
	const key_spec *best = NULL;
	int best_d = 3;
	for (int i = 0; i < N_KEYS; i++) {
		int d = edit_distance(key, keys[i].key);
		if (d != 0 && (size_t)d >= strlen(key))
			continue;
		int same = strcmp(keys[i].section, section) == 0;
		if (d < best_d ||
		    (d == best_d && best && same && strcmp(best->section, section) != 0)) {
			best = &keys[i];
			best_d = d;
		}
	}
	return best;
}

static const char *suggest_section(const char *name)
{
	const char *best = NULL;
	int best_d = 3;
	for (int i = 0; i < N_SECTIONS; i++) {
		int d = edit_distance(name, sections[i]);
		if (d < best_d) {
			best = sections[i];
			best_d = d;
		}
	}
	return best;
}

static int unknown_section(const char *name, ct_err *e)
{
	const char *s = suggest_section(name);
	if (s)
		return ct_errf(e, CT_ECONFIG, "unknown section [%s] (did you mean [%s]?)", name, s);
	char list[256];
	size_t len = 0;
	for (int i = 0; i < N_SECTIONS; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
					sections[i]);
	return ct_errf(e, CT_ECONFIG, "unknown section [%s] (sections: %s)", name, list);
}

static int unknown_key(const char *section, const char *key, ct_err *e)
{
	const key_spec *s = suggest_key(section, key);
	if (s)
		return ct_errf(e, CT_ECONFIG, "unknown key %s.%s (did you mean %s.%s?)", section,
			       key, s->section, s->key);
	char list[512] = "";
	size_t len = 0;
	for (int i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].section, section) == 0)
			len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
						len ? ", " : "", keys[i].key);
	return ct_errf(e, CT_ECONFIG, "unknown key %s.%s (keys in [%s]: %s)", section, key, section,
		       list);
}

/* ---- values: describe, check, parse, format ------------------------------ */

/* What a key accepts, as a noun phrase for "(expected ...)". */
static void describe(const key_spec *k, char *buf, size_t n)
{
	int64_t tmax = k->type == K_INT ? INT_MAX : INT64_MAX;
	int64_t tmin = k->type == K_INT ? INT_MIN : INT64_MIN;
	switch (k->type) {
	case K_INT:
	case K_I64:
		if (k->ilo == tmin && k->ihi == tmax)
			snprintf(buf, n, "an integer");
		else if (k->ihi == tmax)
			snprintf(buf, n, "an integer >= %" PRId64, k->ilo);
		else
			snprintf(buf, n, "an integer in [%" PRId64 ", %" PRId64 "]", k->ilo,
				 k->ihi);
		break;
	case K_U64: snprintf(buf, n, "an integer in [0, %" PRIu64 "]", UINT64_MAX); break;
	case K_DBL:
		if (k->dhi == NOLIM)
			snprintf(buf, n, "a number %s %g", k->lo_open ? ">" : ">=", k->dlo);
		else
			snprintf(buf, n, "a number in %c%g, %g%c", k->lo_open ? '(' : '[', k->dlo,
				 k->dhi, k->hi_open ? ')' : ']');
		break;
	case K_BOOL: snprintf(buf, n, "true or false (also yes/no, on/off, 1/0)"); break;
	case K_ENUM: snprintf(buf, n, "one of %s", k->choices); break;
	case K_STR:
		if (k->ident)
			snprintf(buf, n, "letters, digits and '_' only, at most %zu, or \"\"",
				 k->size - 1);
		else
			snprintf(
				buf, n,
				"text of at most %zu characters without '\"' or control characters",
				k->size - 1);
		break;
	case K_LAYERS:
		snprintf(buf, n, "2 to %d comma-separated positive integers, e.g. 784,256,10",
			 CT_CFG_MAX_LAYERS);
		break;
	}
}

static int value_error(const key_spec *k, const char *reason, ct_err *e)
{
	char want[256];
	describe(k, want, sizeof want);
	return ct_errf(e, CT_ECONFIG, "%s (expected %s)", reason, want);
}

static int is_choice(const char *choices, const char *v)
{
	size_t n = strlen(v);
	for (const char *p = choices; *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, v, n) == 0)
			return 1;
		p += len + (bar != NULL);
	}
	return 0;
}

/* Reason why a string field's bytes are not acceptable, or NULL. */
static const char *string_problem(const key_spec *k, const char *s)
{
	if (strnlen(s, k->size) == k->size)
		return "too long";
	if (k->type == K_ENUM)
		return is_choice(k->choices, s) ? NULL : "not an allowed value";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (k->ident && !(isalnum(*p) || *p == '_'))
			return "bad character in name";
		if (*p == '"' || *p < 0x20 || *p == 0x7f)
			return "contains '\"' or a control character";
	}
	return NULL;
}

static const char *layers_problem(const ct_config *c)
{
	if (c->n_layers < 2 || c->n_layers > CT_CFG_MAX_LAYERS)
		return "wrong number of layers";
	for (int i = 0; i < c->n_layers; i++)
		if (c->layers[i] <= 0)
			return "layer widths must be positive";
	return NULL;
}

/* Why the value stored in c for k is out of its range, or NULL.  The one place
 * ranges are enforced, for parsed values and for configs built in code alike. */
static const char *field_problem(const ct_config *c, const key_spec *k)
{
	const void *f = cfield(c, k);
	switch (k->type) {
	case K_INT: {
		int v = *(const int *)f;
		return v < k->ilo || v > k->ihi ? "out of range" : NULL;
	}
	case K_I64: {
		int64_t v = *(const int64_t *)f;
		return v < k->ilo || v > k->ihi ? "out of range" : NULL;
	}
	case K_U64: return NULL;
	case K_DBL: {
		double v = *(const double *)f;
		if (!isfinite(v))
			return "NaN and infinity are not allowed";
		if (v < k->dlo || (k->lo_open && v == k->dlo) || v > k->dhi ||
		    (k->hi_open && v == k->dhi))
			return "out of range";
		return NULL;
	}
	case K_BOOL: {
		int v = *(const int *)f;
		return v != 0 && v != 1 ? "not a boolean" : NULL;
	}
	case K_ENUM:
	case K_STR: return string_problem(k, f);
	case K_LAYERS: return layers_problem(c);
	}
	return NULL;
}

/* Whole-string base-10 integer. */
static const char *parse_i64(const char *s, int64_t *out)
{
	if (!*s)
		return "empty value";
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end || isspace((unsigned char)*s))
		return "not an integer";
	if (errno == ERANGE)
		return "out of range";
	*out = v;
	return NULL;
}

static const char *parse_u64(const char *s, uint64_t *out)
{
	if (!*s)
		return "empty value";
	if (*s == '-' || isspace((unsigned char)*s))
		return "not a non-negative integer";
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || *end)
		return "not an integer";
	if (errno == ERANGE)
		return "out of range";
	*out = v;
	return NULL;
}

static const char *parse_double(const char *s, double *out)
{
	if (!*s)
		return "empty value";
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || isspace((unsigned char)*s))
		return "not a number";
	if (!isfinite(v))
		return errno == ERANGE ? "out of range" : "NaN and infinity are not allowed";
	/* Underflow to a subnormal or zero is kept: the value is as close as a
	 * double gets, and rejecting it would break round-trips of tiny values. */
	*out = v;
	return NULL;
}

static const char *parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};
	if (!*s)
		return "empty value";
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return NULL;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return NULL;
		}
	}
	return "not a boolean";
}

/* "784, 256,10" -> widths; the count and positivity are checked afterwards by
 * field_problem like every other range. */
static const char *parse_layers(const char *s, ct_config *c)
{
	if (!*s)
		return "empty value";
	int vals[CT_CFG_MAX_LAYERS], n = 0;
	char item[32];
	for (const char *p = s;; p++) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		for (; len && isspace((unsigned char)*p); len--)
			p++;
		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (n == CT_CFG_MAX_LAYERS)
			return "too many layers";
		if (len == 0)
			return "empty item in list";
		if (len >= sizeof item)
			return "item is not an integer";
		memcpy(item, p, len);
		item[len] = '\0';
		int64_t v;
		if (parse_i64(item, &v))
			return "item is not an integer";
		if (v <= 0 || v > INT_MAX)
			return "layer widths must be positive";
		vals[n++] = (int)v;
		if (!comma)
			break;
		p = comma;
	}
	memset(c->layers, 0, sizeof c->layers);
	memcpy(c->layers, vals, (size_t)n * sizeof vals[0]);
	c->n_layers = n;
	return NULL;
}

/* Stores text `v` into c's field for k.  On error c may hold a partial value:
 * callers work on a copy and keep it only on success. */
static int set_value(ct_config *c, const key_spec *k, const char *v, ct_err *e)
{
	void *f = field(c, k);
	const char *why = NULL;
	int64_t i = 0;
	switch (k->type) {
	case K_INT:
		if (!(why = parse_i64(v, &i)) && (i < INT_MIN || i > INT_MAX))
			why = "out of range";
		if (!why)
			*(int *)f = (int)i;
		break;
	case K_I64: why = parse_i64(v, f); break;
	case K_U64: why = parse_u64(v, f); break;
	case K_DBL: why = parse_double(v, f); break;
	case K_BOOL: why = parse_bool(v, f); break;
	case K_ENUM:
	case K_STR:
		if (strlen(v) >= k->size) {
			why = k->type == K_ENUM ? "not an allowed value" : "too long";
			break;
		}
		memset(f, 0, k->size); /* zero tail: memcmp of configs stays meaningful */
		memcpy(f, v, strlen(v));
		break;
	case K_LAYERS: why = parse_layers(v, c); break;
	}
	if (!why)
		why = field_problem(c, k);
	return why ? value_error(k, why, e) : 0;
}

/* Shortest of %.15g/%.16g/%.17g that reads back to the same double: "0.001"
 * rather than "0.0010000000000000000208", yet always exact. */
static void format_double(double v, char *buf, size_t n)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* The field's value as INI text (strings quoted, so "" is expressible). */
static void format_value(const ct_config *c, const key_spec *k, char *buf, size_t n)
{
	const void *f = cfield(c, k);
	switch (k->type) {
	case K_INT: snprintf(buf, n, "%d", *(const int *)f); break;
	case K_I64: snprintf(buf, n, "%" PRId64, *(const int64_t *)f); break;
	case K_U64: snprintf(buf, n, "%" PRIu64, *(const uint64_t *)f); break;
	case K_DBL: format_double(*(const double *)f, buf, n); break;
	case K_BOOL: snprintf(buf, n, "%s", *(const int *)f ? "true" : "false"); break;
	case K_ENUM: snprintf(buf, n, "%.*s", (int)strnlen(f, k->size), (const char *)f); break;
	case K_STR: snprintf(buf, n, "\"%.*s\"", (int)strnlen(f, k->size), (const char *)f); break;
	case K_LAYERS: {
		size_t len = 0;
		buf[0] = '\0';
		int nl = c->n_layers < 0                   ? 0
			 : c->n_layers > CT_CFG_MAX_LAYERS ? CT_CFG_MAX_LAYERS
							   : c->n_layers;
		for (int i = 0; i < nl && len < n; i++)
			len += (size_t)snprintf(buf + len, n - len, "%s%d", i ? "," : "",
						c->layers[i]);
		break;
	}
	}
}

/* Big enough for any formatted value: a 4095-byte path plus quotes. */
#define VALUE_BUF 4200

/* ---- defaults ------------------------------------------------------------ */

void ct_config_defaults(ct_config *c)
{
	memset(c, 0, sizeof *c);
	for (int i = 0; i < N_KEYS; i++) {
		const key_spec *k = &keys[i];
		if (!k->def)
			continue;
		ct_err e;
		int rc = set_value(c, k, k->def, &e);
		CT_ASSERT(rc == 0); /* a bad default is a bug in the table */
	}
}

void ct_config_defaults_frozen(ct_config *c)
{
	ct_config_defaults(c);
	ct_err e;
	int rc = set_value(c, find_key("data", "val_split"), "permuted", &e);
	CT_ASSERT(rc == 0);
	rc = set_value(c, find_key("data", "generator"), "sequential", &e);
	CT_ASSERT(rc == 0);
}

/* ---- INI parsing ---------------------------------------------------------- */

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Cuts a ';' or '#' comment that starts the line or follows whitespace and is
 * not inside double quotes. */
static void strip_comment(char *s)
{
	int quoted = 0;
	for (char *p = s; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && (*p == ';' || *p == '#') &&
			 (p == s || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
	}
}

/* Removes one pair of surrounding double quotes; NULL if only one is there. */
static char *unquote(char *v)
{
	if (*v != '"')
		return v;
	size_t n = strlen(v);
	if (n < 2 || v[n - 1] != '"')
		return NULL;
	v[n - 1] = '\0';
	return v + 1;
}

typedef struct parse_ctx {
	ct_config *c;
	const char *name;
	int line;
	int section; /* index into sections[]; -1 before the first header */
	int first_line[N_KEYS];
	ct_err *e;
} parse_ctx;

static int parse_header(parse_ctx *p, char *s)
{
	char *close = strchr(s, ']');
	if (!close)
		return ct_errf(p->e, CT_ECONFIG, "%s:%d: section header %s is missing its ']'",
			       p->name, p->line, s);
	if (close[1] != '\0')
		return ct_errf(p->e, CT_ECONFIG,
			       "%s:%d: unexpected text after ']' in section header %s", p->name,
			       p->line, s);
	*close = '\0';
	char *name = trim(s + 1);
	int i = find_section(name);
	if (i < 0) {
		unknown_section(name, p->e);
		ct_err_prefix(p->e, "%s:%d", p->name, p->line);
		return CT_ECONFIG;
	}
	p->section = i;
	return 0;
}

static int parse_assignment(parse_ctx *p, char *s, char *eq)
{
	*eq = '\0';
	char *key = trim(s), *val = trim(eq + 1);
	if (!*key)
		return ct_errf(p->e, CT_ECONFIG, "%s:%d: missing key before '='", p->name, p->line);
	if (p->section < 0) {
		const key_spec *s2 = suggest_key("", key);
		return ct_errf(p->e, CT_ECONFIG,
			       "%s:%d: key %s is outside a section (put it under a "
			       "[section] header%s%s%s)",
			       p->name, p->line, key, s2 ? ", e.g. [" : "", s2 ? s2->section : "",
			       s2 ? "]" : "");
	}
	const char *sec = sections[p->section];
	const key_spec *k = find_key(sec, key);
	if (!k) {
		unknown_key(sec, key, p->e);
		ct_err_prefix(p->e, "%s:%d", p->name, p->line);
		return CT_ECONFIG;
	}
	int idx = (int)(k - keys);
	if (p->first_line[idx])
		return ct_errf(p->e, CT_ECONFIG,
			       "%s:%d: duplicate key %s.%s (first set on line %d)", p->name,
			       p->line, sec, key, p->first_line[idx]);
	p->first_line[idx] = p->line;
	char *v = unquote(val);
	if (!v)
		return ct_errf(p->e, CT_ECONFIG, "%s:%d: %s.%s = %s: unterminated quoted value",
			       p->name, p->line, sec, key, val);
	if (set_value(p->c, k, v, p->e) < 0) {
		ct_err_prefix(p->e, "%s:%d: %s.%s = %s", p->name, p->line, sec, key, val);
		return CT_ECONFIG;
	}
	return 0;
}

static int parse_line(parse_ctx *p, char *s)
{
	strip_comment(s);
	s = trim(s);
	if (!*s)
		return 0;
	if (*s == '[')
		return parse_header(p, s);
	char *eq = strchr(s, '=');
	if (!eq)
		return ct_errf(p->e, CT_ECONFIG,
			       "%s:%d: expected \"key = value\" or \"[section]\", got \"%s\"",
			       p->name, p->line, s);
	return parse_assignment(p, s, eq);
}

int ct_config_parse_string(ct_config *c, const char *text, const char *name, ct_err *e)
{
	CT_ASSERT(c && text && name);
	char *buf = strdup(text);
	if (!buf)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory", name);
	ct_config tmp = *c;
	parse_ctx p = {.c = &tmp, .name = name, .section = -1, .e = e};
	char *s = buf;
	if (strncmp(s, "\xEF\xBB\xBF", 3) == 0) /* UTF-8 byte-order mark from some editors */
		s += 3;
	int rc = 0;
	while (s && rc == 0) {
		char *nl = strchr(s, '\n');
		if (nl)
			*nl = '\0';
		p.line++;
		rc = parse_line(&p, s);
		s = nl ? nl + 1 : NULL;
	}
	free(buf);
	if (rc == 0)
		*c = tmp;
	return rc;
}

int ct_config_load_file(ct_config *c, const char *path, ct_err *e)
{
	char *buf;
	size_t len;
	if (ct_file_read_all(path, 1 << 20, &buf, &len, e) < 0) {
		if (e)
			e->code = CT_ECONFIG;
		ct_err_prefix(e, "cannot read config file");
		return CT_ECONFIG;
	}
	int rc;
	if (strlen(buf) != len)
		rc = ct_errf(e, CT_ECONFIG, "%s: contains a NUL byte (not a text file?)", path);
	else
		rc = ct_config_parse_string(c, buf, path, e);
	free(buf);
	return rc;
}

/* ---- --set ---------------------------------------------------------------- */

/* Splits "section.key=value" (copied into buf) and finds the key.  On error
 * the message starts with "--set <assignment>". */
static int split_set(const char *a, char *buf, size_t n, const key_spec **k, char **val, ct_err *e)
{
	if (strlen(a) >= n)
		return ct_errf(e, CT_ECONFIG, "--set %.60s...: assignment too long", a);
	memcpy(buf, a, strlen(a) + 1);
	char *eq = strchr(buf, '=');
	char *dot = eq ? memchr(buf, '.', (size_t)(eq - buf)) : NULL;
	if (!eq || !dot) {
		if (eq)
			*eq = '\0';
		const key_spec *s = suggest_key("", trim(buf));
		if (s && !find_key(s->section, trim(buf)))
			s = NULL; /* only suggest a section for an exact key name */
		if (s)
			return ct_errf(e, CT_ECONFIG,
				       "--set %s: expected section.key=value (did you "
				       "mean %s.%s?)",
				       a, s->section, s->key);
		return ct_errf(e, CT_ECONFIG, "--set %s: expected section.key=value", a);
	}
	*eq = *dot = '\0';
	char *sec = trim(buf), *key = trim(dot + 1);
	/* The value reads as in a file, so --set 'data.path="a b"' works too. */
	*val = unquote(trim(eq + 1));
	if (!*val)
		return ct_errf(e, CT_ECONFIG, "--set %s: unterminated quoted value", a);
	if (find_section(sec) < 0) {
		unknown_section(sec, e);
		ct_err_prefix(e, "--set %s", a);
		return CT_ECONFIG;
	}
	if (!(*k = find_key(sec, key))) {
		unknown_key(sec, key, e);
		ct_err_prefix(e, "--set %s", a);
		return CT_ECONFIG;
	}
	return 0;
}

int ct_config_set(ct_config *c, const char *assignment, ct_err *e)
{
	char buf[VALUE_BUF + 128];
	const key_spec *k;
	char *val;
	int rc = split_set(assignment, buf, sizeof buf, &k, &val, e);
	if (rc < 0)
		return rc;
	ct_config tmp = *c;
	if (set_value(&tmp, k, val, e) < 0) {
		ct_err_prefix(e, "--set %s", assignment);
		return CT_ECONFIG;
	}
	*c = tmp;
	return 0;
}

int ct_config_key_resumable(const char *section_key)
{
	if (!section_key)
		return 0;
	const char *dot = strchr(section_key, '.');
	if (!dot || (size_t)(dot - section_key) >= 32)
		return 0;
	char sec[32];
	memcpy(sec, section_key, (size_t)(dot - section_key));
	sec[dot - section_key] = '\0';
	const key_spec *k = find_key(sec, dot + 1);
	return k ? k->resumable : 0;
}

/* "train.epochs, train.threads, ..., checkpoint.*" from the table. */
static void resumable_list(char *buf, size_t n)
{
	size_t len = 0;
	buf[0] = '\0';
	for (int s = 0; s < N_SECTIONS; s++) {
		int all = 1, any = 0;
		for (int i = 0; i < N_KEYS; i++) {
			if (strcmp(keys[i].section, sections[s]) != 0)
				continue;
			if (keys[i].resumable)
				any = 1;
			else
				all = 0;
		}
		for (int i = 0; any && i < N_KEYS && len < n; i++) {
			if (strcmp(keys[i].section, sections[s]) != 0 || !keys[i].resumable)
				continue;
			len += (size_t)snprintf(buf + len, n - len, "%s%s.%s", len ? ", " : "",
						sections[s], all ? "*" : keys[i].key);
			if (all)
				break;
		}
	}
}

int ct_config_set_on_resume(ct_config *c, const char *assignment, ct_err *e)
{
	char buf[VALUE_BUF + 128];
	const key_spec *k;
	char *val;
	int rc = split_set(assignment, buf, sizeof buf, &k, &val, e);
	if (rc < 0)
		return rc;
	if (k->resumable)
		return ct_config_set(c, assignment, e);
	/* Re-stating the frozen value is harmless (scripts often repeat their
	 * --set flags on resume), so only a real change is refused. */
	ct_config tmp = *c;
	if (set_value(&tmp, k, val, NULL) == 0) {
		char a[VALUE_BUF], b[VALUE_BUF];
		format_value(c, k, a, sizeof a);
		format_value(&tmp, k, b, sizeof b);
		if (strcmp(a, b) == 0)
			return 0;
	}
	char allowed[512];
	resumable_list(allowed, sizeof allowed);
	return ct_errf(e, CT_ECONFIG,
		       "--set %s: cannot change %s.%s on resume: it would break "
		       "bit-exact continuation (allowed: %s)",
		       assignment, k->section, k->key, allowed);
}

/* ---- validation ------------------------------------------------------------ */

static int check_cross(const ct_config *c, const char *name, ct_err *e)
{
	if (strcmp(c->dataset, "synthetic") != 0 && c->path[0] == '\0')
		return ct_errf(e, CT_ECONFIG,
			       "%s: data.path is required for data.dataset = %s "
			       "(a directory for mnist/fashion-mnist, a file for csv and hdf5)",
			       name, c->dataset);
	if ((c->val_path[0] || c->test_path[0]) &&
	    (strcmp(c->dataset, "csv") != 0 && strcmp(c->dataset, "hdf5") != 0))
		return ct_errf(
			e, CT_ECONFIG,
			"%s: data.val_path and data.test_path need data.dataset = csv or hdf5 "
			"(got %s)",
			name, c->dataset);
	if (strcmp(c->dataset, "hdf5") == 0 && (c->x_name[0] == '\0' || c->y_name[0] == '\0'))
		return ct_errf(e, CT_ECONFIG, "%s: data.x and data.y must name datasets of %s",
			       name, c->path);
	if (c->nesterov && c->momentum <= 0)
		return ct_errf(e, CT_ECONFIG, "%s: optim.nesterov = true needs optim.momentum > 0",
			       name);
	if (strcmp(c->optim, "sgd") != 0 && (c->nesterov || c->momentum != 0))
		return ct_errf(e, CT_ECONFIG,
			       "%s: optim.momentum and optim.nesterov apply only to "
			       "optim.name = sgd (got %s)",
			       name, c->optim);
	if ((c->keep_best > 0 || c->patience > 0) && c->val_fraction <= 0 && !c->val_path[0])
		return ct_errf(e, CT_ECONFIG,
			       "%s: checkpoint.keep_best and checkpoint.patience need a "
			       "validation split: set data.val_fraction > 0",
			       name);
	return 0;
}

int ct_config_validate(const ct_config *c, const char *name, ct_err *e)
{
	CT_ASSERT(c && name);
	for (int i = 0; i < N_KEYS; i++) {
		const key_spec *k = &keys[i];
		if (k->type == K_LAYERS && c->n_layers == 0)
			return ct_errf(e, CT_ECONFIG,
				       "%s: model.layers is required "
				       "(e.g. layers = 784,256,10 under [model])",
				       name);
		const char *why = field_problem(c, k);
		if (why) {
			char v[VALUE_BUF];
			format_value(c, k, v, sizeof v);
			value_error(k, why, e);
			ct_err_prefix(e, "%s: %s.%s = %s", name, k->section, k->key, v);
			return CT_ECONFIG;
		}
	}
	if (c->shards & (c->shards - 1))
		return ct_errf(e, CT_ECONFIG, "%s: train.shards = %d: not a power of two", name,
			       c->shards);
	return check_cross(c, name, e);
}

int ct_config_check_data(const ct_config *c, const char *name, int n_features, int n_classes,
			 ct_err *e)
{
	if (c->n_layers < 2 || c->n_layers > CT_CFG_MAX_LAYERS)
		return ct_errf(e, CT_ECONFIG,
			       "%s: model.layers is required "
			       "(e.g. layers = 784,256,10 under [model])",
			       name);
	if (c->layers[0] != n_features)
		return ct_errf(e, CT_ECONFIG,
			       "%s: model.layers starts with %d but the data has %d "
			       "features",
			       name, c->layers[0], n_features);
	if (c->layers[c->n_layers - 1] != n_classes)
		return ct_errf(e, CT_ECONFIG,
			       "%s: model.layers ends with %d but the data has %d "
			       "classes",
			       name, c->layers[c->n_layers - 1], n_classes);
	return 0;
}

/* ---- writing --------------------------------------------------------------- */

typedef struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (n >= 0 && b->len + (size_t)n + 1 > cap)
			cap *= 2;
		char *p = n < 0 ? NULL : realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *ct_config_to_string(const ct_config *c)
{
	sbuf b = {0};
	char v[VALUE_BUF];
	sb_printf(&b, "%s\n", CT_CONFIG_FROZEN_HEADER);
	for (int s = 0; s < N_SECTIONS; s++) {
		sb_printf(&b, "\n[%s]\n", sections[s]);
		for (int i = 0; i < N_KEYS; i++) {
			const key_spec *k = &keys[i];
			if (strcmp(k->section, sections[s]) != 0)
				continue;
			if (k->type == K_LAYERS && c->n_layers == 0) {
				sb_printf(&b, "; %s is not set\n", k->key);
				continue;
			}
			format_value(c, k, v, sizeof v);
			sb_printf(&b, "%s = %s\n", k->key, v);
		}
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

int ct_config_write(const ct_config *c, const char *path, ct_err *e)
{
	char *s = ct_config_to_string(c);
	if (!s)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory formatting the config", path);
	int rc = ct_atomic_write_file(path, s, strlen(s), e);
	free(s);
	return rc;
}

void ct_config_print_reference(FILE *out)
{
	ct_config d;
	ct_config_defaults(&d);
	char v[VALUE_BUF], want[256];
	/* Errors stay on out's error indicator for the caller (main.c checks
	 * stdout at exit). */
	(void)fprintf(out,
		      "Config keys (INI; '#' or ';' comments; unknown keys are errors).\n"
		      "Format: key = default  what it is; allowed values.  [resume] = may change "
		      "with `ctrain resume --set`.\n");
	for (int s = 0; s < N_SECTIONS; s++) {
		(void)fprintf(out, "\n[%s]\n", sections[s]);
		for (int i = 0; i < N_KEYS; i++) {
			const key_spec *k = &keys[i];
			if (strcmp(k->section, sections[s]) != 0)
				continue;
			if (k->def)
				format_value(&d, k, v, sizeof v);
			else
				snprintf(v, sizeof v, "(required)");
			describe(k, want, sizeof want);
			(void)fprintf(out, "  %-13s = %-10s  %s; %s%s\n", k->key, v, k->help, want,
				      k->resumable ? " [resume]" : "");
		}
	}
}

int ct_config_check_continuation(const ct_config *frozen, const ct_config *now, const char *name,
				 ct_err *e)
{
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const key_spec *k = &keys[i];
		if (k->resumable)
			continue;
		char a[VALUE_BUF], b[VALUE_BUF];
		format_value(frozen, k, a, sizeof a);
		format_value(now, k, b, sizeof b);
		if (strcmp(a, b) != 0)
			return ct_errf(e, CT_ECONFIG,
				       "%s: %s.%s is %s but the checkpoint was trained with %s; "
				       "changing it would break bit-exact continuation",
				       name, k->section, k->key, b, a);
	}
	return 0;
}
