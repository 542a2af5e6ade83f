/* cli_model.c — commands that use a trained model: eval, predict, export,
 * inspect, convert. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../util/atomic.h"
#include "../formats/convert.h"
#include "../ckpt/h5c.h"
#include "../formats/pth.h"
#include "../formats/safetensors.h"
#include "../data/dataset.h"
#include "../util/log.h"
#include "cli.h"
#include "../train/export.h"
#include "../ckpt/fields.h"
#include "source.h"
#include "../train/state.h"

/* --data SPEC: "mnist:DIR", "fashion-mnist:DIR", "csv:FILE", "hdf5:FILE" or "synthetic". */
static int apply_data_spec(ct_config *c, const char *spec, ct_err *e)
{
	const char *colon = strchr(spec, ':');
	size_t klen = colon ? (size_t)(colon - spec) : strlen(spec);
	for (const ct_config_choice *k = ct_config_choices("data.dataset"); k->name; k++) {
		if (strlen(k->name) != klen || strncmp(spec, k->name, klen) != 0)
			continue;
		c->dataset = (ct_data_kind)k->value;
		if (colon)
			snprintf(c->path, sizeof c->path, "%s", colon + 1);
		else if (c->dataset != CT_DATA_SYNTHETIC)
			return ct_errf(e, CT_EUSAGE, "--data %s needs a path: %s:PATH", spec,
				       k->name);
		return 0;
	}
	return ct_errf(e, CT_EUSAGE,
		       "--data %s: expected mnist:DIR, fashion-mnist:DIR, csv:FILE, hdf5:FILE or "
		       "synthetic",
		       spec);
}

/* model_load_source_norm, or with --best the best checkpoint of a run
 * directory. */
/* A model as eval, predict and export load it: weights, the config it was
 * trained with (has_cfg = 0 if none came with it) and its input normalization. */
typedef struct loaded_model {
	ct_mlp m;
	ct_config cfg;
	int has_cfg;
	ct_norm_stats ns;
} loaded_model;

static int load_model(const char *src, int best, loaded_model *lm, ct_err *e)
{
	char *path = NULL;
	if (best) {
		int rc = source_best(src, &path, e);
		if (rc < 0)
			return rc;
	}
	int rc = model_load_source_norm(path ? path : src, &lm->m, &lm->cfg, &lm->has_cfg, &lm->ns,
					e);
	free(path);
	return rc;
}

/* Validates --rename pairs and makes model loading apply them. */
static int check_renames(const char *const *renames, int n, ct_err *e)
{
	for (int i = 0; i < n; i++) {
		int rc = source_check_rename(renames[i], e);
		if (rc < 0)
			return rc;
	}
	source_set_renames(renames, n);
	return 0;
}

/* The options of the commands that read a model: --model SRC (eval and
 * predict: with_model), --best and --rename OLD=NEW. */
typedef struct model_opts {
	int with_model;
	const char *model;
	int best;
	const char *renames[CLI_MAX_REPEAT];
	int n_renames;
	int rc; /* CT_EUSAGE once --rename was given too often: parsing stops */
} model_opts;

/* Takes argv[*i] if it is one of o's options: 1 (*i on its value), else 0. */
static int model_opt(model_opts *o, int argc, char **argv, int *i, ct_err *e)
{
	if (o->with_model && strcmp(argv[*i], "--model") == 0 && *i + 1 < argc)
		o->model = argv[++*i];
	else if (strcmp(argv[*i], "--best") == 0)
		o->best = 1;
	else if (strcmp(argv[*i], "--rename") == 0 && *i + 1 < argc) {
		if (cli_repeat(o->renames, &o->n_renames, "--rename", argv[++*i], e) < 0)
			o->rc = CT_EUSAGE;
	} else
		return 0;
	return 1;
}

/* After the arguments: the --rename error, or the pairs checked and set. */
static int model_opts_done(const model_opts *o, ct_err *e)
{
	return o->rc < 0 ? o->rc : check_renames(o->renames, o->n_renames, e);
}

int cli_eval(int argc, char **argv, ct_err *e)
{
	const char *data = NULL, *sets[CLI_MAX_REPEAT];
	int n_sets = 0;
	model_opts o = {.with_model = 1};
	for (int i = 0; i < argc && o.rc == 0; i++) {
		if (model_opt(&o, argc, argv, &i, e))
			continue;
		if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
			if (cli_repeat(sets, &n_sets, "--set", argv[++i], e) < 0)
				return CT_EUSAGE;
		} else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
			data = argv[++i];
		else
			return cli_unexpected(argv[i], "eval", e);
	}
	int rrc = model_opts_done(&o, e);
	if (rrc == 0 && !o.model)
		rrc = ct_errf(e, CT_EUSAGE, "missing --model SRC (see ctrain eval --help)");
	if (rrc != 0)
		return rrc;
	const char *model = o.model;
	loaded_model L;
	int rc = load_model(model, o.best, &L, e);
	if (rc < 0)
		return rc;
	if (!L.has_cfg)
		ct_config_defaults(&L.cfg);
	if (data) {
		rc = apply_data_spec(&L.cfg, data, e);
		L.cfg.val_fraction = 0.0; /* --data names a test file: score all of it */
	}
	for (int i = 0; rc == 0 && i < n_sets; i++)
		rc = ct_config_set(&L.cfg, sets[i], e);
	if (rc == 0 && !L.has_cfg && !data && n_sets == 0)
		rc = ct_errf(e, CT_EUSAGE,
			     "%s carries no data description: name the data with "
			     "--data SPEC or --set data.dataset=... (see ctrain eval --help)",
			     model);
	ct_dataset test, val;
	memset(&test, 0, sizeof test);
	memset(&val, 0, sizeof val);
	if (rc == 0)
		rc = ct_data_load(&L.cfg, 1, &test, &val, e);
	const ct_dataset *ds = val.n > 0 ? &val : &test;
	if (rc == 0 && ds->d != L.m.sizes[0])
		rc = ct_errf(e, CT_EMISMATCH, "the data has %d features but the model expects %d",
			     ds->d, L.m.sizes[0]);
	if (rc == 0 && ds->n_classes > L.m.sizes[L.m.n_sizes - 1])
		rc = ct_errf(e, CT_EMISMATCH,
			     "the data has labels up to %d but the model has %d classes",
			     ds->n_classes - 1, L.m.sizes[L.m.n_sizes - 1]);
	if (rc == 0) {
		double loss;
		int64_t correct;
		if (L.ns.d > 0)
			ct_log_info(
				"inputs standardized with the model's normalize_mean/normalize_std");
		ct_norm_apply(&L.ns, ds->x,
			      ds->n); /* the training transform (none if L.ns.d = 0) */
		ct_mlp_eval(&L.m, ds->x, ds->y, ds->n, NULL, &loss, &correct);
		ct_log_info("evaluated on %s %s (%lld samples)",
			    ct_config_choice_name("data.dataset", (int)L.cfg.dataset),
			    val.n > 0 ? "validation split" : "test set", (long long)ds->n);
		printf("accuracy=%.4f loss=%.6f n=%lld\n",
		       ds->n ? (double)correct / (double)ds->n : 0.0, loss, (long long)ds->n);
		if (!isfinite(loss))
			rc = ct_errf(e, CT_ECORRUPT,
				     "%s: the loss is not finite (%g): the model's weights or the "
				     "data hold NaN or infinite values, or their product overflows",
				     model, loss);
	}
	ct_dataset_release(&val);
	ct_dataset_release(&test);
	ct_norm_release(&L.ns);
	ct_mlp_release(&L.m);
	return rc;
}

/* An output that is also an input (the same file by device and inode: a
 * symlink or hard link included) would be destroyed by the write. */
static int refuse_same_file(const char *in, const char *out, ct_err *e)
{
	struct stat a, b;
	if (stat(in, &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return ct_errf(e, CT_EUSAGE,
			       "%s is also the input %s: writing it would destroy it; choose "
			       "another output file",
			       out, in);
	return 0;
}

/* The same for a model SRC (a run directory resolves to the file it uses). */
static int refuse_same_source(const char *src, const char *out, ct_err *e)
{
	struct stat st;
	if (stat(out, &st) != 0)
		return 0; /* nothing there to destroy */
	int rc = refuse_same_file(src, out, e);
	char *path = NULL;
	source_kind kind;
	if (rc == 0 && source_resolve(src, &path, &kind, NULL) == 0)
		rc = refuse_same_file(path, out, e);
	free(path);
	return rc;
}

/* Stops at the first row that fails; a failure of any single call also
 * leaves the stream's error indicator set, which is what the end checks. */
static int write_predictions(FILE *out, const float *logits, int64_t n, int k)
{
	(void)fprintf(out, "class");
	for (int j = 0; j < k; j++)
		(void)fprintf(out, ",logit_%d", j);
	(void)fputc('\n', out);
	for (int64_t r = 0; r < n && !ferror(out); r++) {
		const float *z = logits + r * k;
		int best = 0;
		for (int j = 1; j < k; j++)
			best = z[j] > z[best] ? j : best;
		(void)fprintf(out, "%d", best);
		for (int j = 0; j < k; j++)
			(void)fprintf(out, ",%.9g", (double)z[j]);
		(void)fputc('\n', out);
	}
	return ferror(out) ? -1 : 0;
}

/* The predictions built in memory, then written atomically (util/atomic.h):
 * an interrupted predict leaves the old file or the new one, never a part. */
static int write_predictions_file(const char *path, const float *logits, int64_t n, int k,
				  ct_err *e)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	if (!mem)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory", path);
	int bad = write_predictions(mem, logits, n, k) < 0;
	bad |= fclose(mem) != 0;
	int rc = bad ? ct_errf(e, CT_ENOMEM, "%s: out of memory formatting predictions", path)
		     : ct_atomic_write_file(path, buf, len, e);
	free(buf);
	return rc;
}

int cli_predict(int argc, char **argv, ct_err *e)
{
	const char *input = NULL, *output = NULL;
	model_opts o = {.with_model = 1};
	for (int i = 0; i < argc && o.rc == 0; i++) {
		if (model_opt(&o, argc, argv, &i, e))
			continue;
		if (strcmp(argv[i], "--input") == 0 && i + 1 < argc)
			input = argv[++i];
		else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			output = argv[++i];
		else
			return cli_unexpected(argv[i], "predict", e);
	}
	int rrc = model_opts_done(&o, e);
	if (rrc == 0 && (!o.model || !input))
		rrc = ct_errf(e, CT_EUSAGE, "predict needs --model SRC and --input FILE.csv");
	if (rrc != 0)
		return rrc;
	const char *model = o.model;
	if (output && strcmp(output, "-") == 0)
		output = NULL; /* -o - is stdout */
	int rc = output ? refuse_same_file(input, output, e) : 0;
	if (rc == 0 && output)
		rc = refuse_same_source(model, output, e);
	if (rc < 0)
		return rc;
	loaded_model L;
	rc = load_model(model, o.best, &L, e);
	if (rc < 0)
		return rc;
	ct_dataset ds;
	memset(&ds, 0, sizeof ds);
	rc = ct_csv_load(input, CT_CSV_NO_LABEL, &ds, e);
	int k = L.m.sizes[L.m.n_sizes - 1];
	if (rc == 0 && ds.d != L.m.sizes[0])
		rc = ct_errf(e, CT_EMISMATCH, "%s: rows have %d features but the model expects %d",
			     input, ds.d, L.m.sizes[0]);
	float *logits = rc == 0 ? malloc((size_t)ds.n * (size_t)k * sizeof(float) + 1) : NULL;
	if (rc == 0 && !logits)
		rc = ct_errf(e, CT_ENOMEM, "out of memory");
	if (rc == 0) {
		ct_norm_apply(&L.ns, ds.x, ds.n); /* the training transform (none if L.ns.d = 0) */
		ct_mlp_eval(&L.m, ds.x, NULL, ds.n, logits, NULL, NULL);
		rc = output ? write_predictions_file(output, logits, ds.n, k, e)
		     : write_predictions(stdout, logits, ds.n, k) < 0 || fflush(stdout) != 0
			     ? ct_errno(e, CT_EIO, errno, "stdout: write failed")
			     : 0;
		if (rc == 0 && output)
			ct_log_info("wrote %lld predictions to %s", (long long)ds.n, output);
	}
	free(logits);
	ct_norm_release(&L.ns);
	ct_dataset_release(&ds);
	ct_mlp_release(&L.m);
	return rc;
}

/* Logits of a fixed probe batch (deterministic pseudo-random inputs in [0,1)). */
static float *probe_logits(ct_mlp *m, int rows)
{
	int d = m->sizes[0], k = m->sizes[m->n_sizes - 1];
	float *x = malloc((size_t)rows * (size_t)d * sizeof(float));
	float *z = malloc((size_t)rows * (size_t)k * sizeof(float));
	CT_ASSERT(x && z);
	ct_rng r;
	ct_rng_seed(&r, 12345, 77);
	for (size_t i = 0; i < (size_t)rows * (size_t)d; i++)
		x[i] = ct_rng_float(&r);
	ct_mlp_eval(m, x, NULL, rows, z, NULL, NULL);
	free(x);
	return z;
}

/* Every tensor of the written file must hold exactly the f32 weights
 * rounded to its dtype (bit for bit). */
static const char *tname(ct_dtype dt)
{
	return dt == CT_DT_F16 ? "f16" : dt == CT_DT_BF16 ? "bf16" : "f32";
}

static int verify_weights(const ct_mlp *m, const char *out, ct_dtype dt, ct_err *e)
{
	ct_tdict src, got;
	ct_tdict_init(&src);
	ct_tdict_init(&got);
	int rc = ct_model_to_tdict(m, &src, e);
	if (rc == 0)
		rc = ct_st_read(out, &got, e);
	for (size_t i = 0; rc == 0 && i < src.n; i++) {
		const ct_tdict_entry *w = &src.v[i], *g = ct_tdict_find(&got, w->name);
		size_t n = w->nbytes / sizeof(float);
		if (!g || g->dtype != dt || g->nbytes != n * ct_dtype_size(dt)) {
			rc = ct_errf(e, CT_EMISMATCH,
				     "--verify: %s: tensor '%s' is missing or not %zu %s values",
				     out, w->name, n, tname(dt));
			break;
		}
		for (size_t j = 0; j < n; j++) {
			float f;
			memcpy(&f, (const char *)w->data + j * sizeof f, sizeof f);
			uint32_t want = 0, have = 0;
			if (dt == CT_DT_F32)
				memcpy(&want, &f, sizeof want);
			else {
				uint16_t h = dt == CT_DT_F16 ? ct_f32_to_f16(f) : ct_f32_to_bf16(f);
				want = h;
			}
			memcpy(&have, (const char *)g->data + j * ct_dtype_size(dt),
			       ct_dtype_size(dt));
			if (want != have) {
				rc = ct_errf(
					e, CT_EMISMATCH,
					"--verify: %s: tensor '%s' element %zu is 0x%x, but the "
					"f32 weight %.9g rounded to %s is 0x%x",
					out, w->name, j, have, (double)f, tname(dt), want);
				break;
			}
		}
	}
	ct_tdict_release(&got);
	ct_tdict_release(&src);
	return rc;
}

static int verify_export(ct_mlp *m, const char *out, ct_dtype dt, ct_err *e)
{
	enum { PROBE = 64 };
	int rc = verify_weights(m, out, dt, e);
	if (rc < 0)
		return rc;
	ct_mlp m2;
	ct_config cfg;
	int has_cfg;
	rc = model_load_source(out, &m2, &cfg, &has_cfg, e);
	if (rc < 0)
		return ct_err_prefix(e, "--verify: reloading failed");
	int k = m->sizes[m->n_sizes - 1];
	float *a = probe_logits(m, PROBE), *b = probe_logits(&m2, PROBE);
	double max_abs = 0.0, max_z = 0.0;
	int finite = 1;
	for (size_t i = 0; i < (size_t)PROBE * (size_t)k; i++) {
		finite &= isfinite(a[i]) && isfinite(b[i]);
		double d = fabs((double)a[i] - (double)b[i]);
		max_abs = fmax(max_abs, isnan(d) ? HUGE_VAL : d); /* NaN: an infinite error */
		max_z = fmax(max_z, fabs((double)a[i]));
	}
	int same = memcmp(a, b, (size_t)PROBE * (size_t)k * sizeof(float)) == 0;
	free(a);
	free(b);
	ct_mlp_release(&m2);
	/* The rounding unit of the stored type; the logits of weights each off by
	 * at most that relative amount may move by a few units per layer. */
	double unit = dt == CT_DT_F16 ? 0x1p-11 : dt == CT_DT_BF16 ? 0x1p-8 : 0.0;
	double scale = fmax(max_z, 1.0);
	double tol = 4.0 * unit * (double)(m->n_sizes - 1) * scale;
	double max_rel = max_abs / scale;
	int ok = finite && (dt == CT_DT_F32 ? same : max_abs <= tol);
	if (!ok)
		return ct_errf(e, CT_EMISMATCH,
			       "--verify: %s: logits on a %d-sample probe batch differ from the "
			       "f32 model's beyond %s rounding: max abs error %g, max rel error %g "
			       "(tolerance %g)%s",
			       out, PROBE, tname(dt), max_abs, max_rel, tol,
			       finite ? "" : "; some logits are not finite");
	if (dt == CT_DT_F32)
		printf("verify: %s passed: weights and logits on a %d-sample probe batch "
		       "bit-identical\n",
		       out, PROBE);
	else
		printf("verify: %s passed: weights are the f32 weights rounded to %s exactly; "
		       "logits on a %d-sample probe batch within %s rounding (max abs error %g, "
		       "max rel error %g, tolerance %g)\n",
		       out, tname(dt), PROBE, tname(dt), max_abs, max_rel, tol);
	return 0;
}

int cli_export(int argc, char **argv, ct_err *e)
{
	const char *src = NULL, *out = NULL, *dtype = "f32";
	int verify = 0;
	model_opts o = {.with_model = 0};
	for (int i = 0; i < argc && o.rc == 0; i++) {
		if (model_opt(&o, argc, argv, &i, e))
			continue;
		if (argv[i][0] != '-' && !src)
			src = argv[i];
		else if (strcmp(argv[i], "--verify") == 0)
			verify = 1;
		else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--dtype") == 0 && i + 1 < argc)
			dtype = argv[++i];
		else
			return cli_unexpected(argv[i], "export", e);
	}
	int rrc = model_opts_done(&o, e);
	if (rrc == 0 && (!src || !out))
		rrc = ct_errf(e, CT_EUSAGE, "export needs SRC and -o OUT.safetensors");
	if (rrc != 0)
		return rrc;
	ct_dtype dt = strcmp(dtype, "f32") == 0    ? CT_DT_F32
		      : strcmp(dtype, "f16") == 0  ? CT_DT_F16
		      : strcmp(dtype, "bf16") == 0 ? CT_DT_BF16
						   : CT_DT_COUNT;
	if (dt == CT_DT_COUNT)
		return ct_errf(e, CT_EUSAGE, "--dtype %s: expected f32, f16 or bf16", dtype);
	int rc = refuse_same_source(src, out, e);
	if (rc < 0)
		return rc;
	loaded_model L;
	rc = load_model(src, o.best, &L, e);
	if (rc < 0)
		return rc;
	double max_err = 0.0;
	rc = ct_model_export_norm(&L.m, &L.ns, out, dt, &max_err, e);
	ct_norm_release(&L.ns);
	if (rc == 0) {
		ct_log_info("wrote %s (%s, %zu parameters%s)", out, dtype, ct_params_count(&L.m.ps),
			    dt == CT_DT_F32 ? "" : "; see max conversion error below");
		if (dt != CT_DT_F32)
			ct_log_info("max abs conversion error to %s: %g", dtype, max_err);
	}
	if (rc == 0 && verify)
		rc = verify_export(&L.m, out, dt, e);
	ct_mlp_release(&L.m);
	return rc;
}

typedef struct rename_ctx {
	const char *path;
	const char *const *pairs;
	int n;
} rename_ctx;

static int rename_map(struct ct_tdict *d, void *ctx, ct_err *e)
{
	const rename_ctx *rx = ctx;
	return source_rename(rx->path, d, rx->pairs, rx->n, e);
}

int cli_convert(int argc, char **argv, ct_err *e)
{
	const char *files[2] = {0}, *renames[CLI_MAX_REPEAT] = {0};
	int n_files = 0, n_renames = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--rename") == 0 && i + 1 < argc) {
			if (cli_repeat(renames, &n_renames, "--rename", argv[++i], e) < 0)
				return CT_EUSAGE;
		} else if (argv[i][0] != '-' && n_files < 2)
			files[n_files++] = argv[i];
		else
			return ct_errf(e, CT_EUSAGE,
				       "usage: ctrain convert IN.pth OUT.safetensors [--rename "
				       "OLD=NEW]...");
	}
	if (n_files != 2)
		return ct_errf(
			e, CT_EUSAGE,
			"usage: ctrain convert IN.pth OUT.safetensors [--rename OLD=NEW]...");
	int rc = check_renames(renames, n_renames, e);
	if (rc == 0)
		rc = refuse_same_file(files[0], files[1], e);
	if (rc < 0)
		return rc;
	convert_summary s;
	memset(&s, 0, sizeof s);
	rename_ctx rx = {files[0], renames, n_renames};
	rc = convert_pth_to_safetensors_map(files[0], files[1], rename_map, &rx, &s, e);
	if (rc == 0) {
		if (s.n_skipped) {
			char list[4096] = "";
			for (size_t i = 0; i < s.n_skipped; i++)
				snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
					 i ? ", " : "", s.skipped[i]);
			ct_log_info("skipped %zu non-tensor entr%s: %s", s.n_skipped,
				    s.n_skipped == 1 ? "y" : "ies", list);
		}
		printf("converted %s -> %s: %zu tensors, %zu bytes, verified\n", files[0], files[1],
		       s.n_tensors, s.n_bytes);
	}
	convert_summary_release(&s);
	return rc;
}
