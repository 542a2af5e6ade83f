/* cli_model.c — commands that use a trained model: eval, predict, export,
 * inspect, convert. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../ckpt/convert.h"
#include "../ckpt/h5c.h"
#include "../ckpt/pth.h"
#include "../ckpt/safetensors.h"
#include "../data/dataset.h"
#include "../util/log.h"
#include "cli.h"
#include "export.h"
#include "snapshot.h"
#include "source.h"
#include "state.h"

/* --data SPEC: "mnist:DIR", "fashion-mnist:DIR", "csv:FILE", "hdf5:FILE" or "synthetic". */
static int apply_data_spec(ct_config *c, const char *spec, ct_err *e)
{
	const char *colon = strchr(spec, ':');
	size_t klen = colon ? (size_t)(colon - spec) : strlen(spec);
	static const char *kinds[] = {"mnist", "fashion-mnist", "csv", "hdf5", "synthetic"};
	for (size_t i = 0; i < 5; i++) {
		if (strlen(kinds[i]) != klen || strncmp(spec, kinds[i], klen) != 0)
			continue;
		snprintf(c->dataset, sizeof c->dataset, "%s", kinds[i]);
		if (colon)
			snprintf(c->path, sizeof c->path, "%s", colon + 1);
		else if (i != 4)
			return ct_errf(e, CT_EUSAGE, "--data %s needs a path: %s:PATH", spec,
				       kinds[i]);
		return 0;
	}
	return ct_errf(e, CT_EUSAGE,
		       "--data %s: expected mnist:DIR, fashion-mnist:DIR, csv:FILE, hdf5:FILE or "
		       "synthetic",
		       spec);
}

int cli_eval(int argc, char **argv, ct_err *e)
{
	const char *model = NULL, *data = NULL;
	const char *sets[64];
	int n_sets = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
			model = argv[++i];
		else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
			data = argv[++i];
		else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && n_sets < 64)
			sets[n_sets++] = argv[++i];
		else
			return ct_errf(e, CT_EUSAGE,
				       "unexpected argument '%s' (see ctrain eval --help)",
				       argv[i]);
	}
	if (!model)
		return ct_errf(e, CT_EUSAGE, "missing --model SRC (see ctrain eval --help)");
	mlp m;
	ct_config cfg;
	int has_cfg;
	norm_stats ns;
	int rc = model_load_source_norm(model, &m, &cfg, &has_cfg, &ns, e);
	if (rc < 0)
		return rc;
	if (!has_cfg)
		config_defaults(&cfg);
	if (data)
		rc = apply_data_spec(&cfg, data, e);
	for (int i = 0; rc == 0 && i < n_sets; i++)
		rc = config_set(&cfg, sets[i], e);
	if (rc == 0 && !has_cfg && !data && n_sets == 0)
		rc = ct_errf(e, CT_EUSAGE,
			     "%s carries no data description: name the data with "
			     "--data SPEC or --set data.dataset=... (see ctrain eval --help)",
			     model);
	dataset test, val;
	memset(&test, 0, sizeof test);
	memset(&val, 0, sizeof val);
	if (rc == 0)
		rc = data_load(&cfg, 1, &test, &val, e);
	const dataset *ds = val.n > 0 ? &val : &test;
	if (rc == 0 && ds->d != m.sizes[0])
		rc = ct_errf(e, CT_EMISMATCH, "the data has %d features but the model expects %d",
			     ds->d, m.sizes[0]);
	if (rc == 0 && ds->n_classes > m.sizes[m.n_sizes - 1])
		rc = ct_errf(e, CT_EMISMATCH,
			     "the data has labels up to %d but the model has %d classes",
			     ds->n_classes - 1, m.sizes[m.n_sizes - 1]);
	if (rc == 0) {
		double loss;
		int64_t correct;
		if (ns.d > 0)
			log_info(
				"inputs standardized with the model's normalize_mean/normalize_std");
		norm_apply(&ns, ds->x, ds->n); /* the training transform (none if ns.d = 0) */
		mlp_eval(&m, ds->x, ds->y, ds->n, NULL, &loss, &correct);
		log_info("evaluated on %s %s (%lld samples)", cfg.dataset,
			 val.n > 0 ? "validation split" : "test set", (long long)ds->n);
		printf("accuracy=%.4f loss=%.6f n=%lld\n",
		       ds->n ? (double)correct / (double)ds->n : 0.0, loss, (long long)ds->n);
	}
	dataset_release(&val);
	dataset_release(&test);
	norm_release(&ns);
	mlp_release(&m);
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

int cli_predict(int argc, char **argv, ct_err *e)
{
	const char *model = NULL, *input = NULL, *output = NULL;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
			model = argv[++i];
		else if (strcmp(argv[i], "--input") == 0 && i + 1 < argc)
			input = argv[++i];
		else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			output = argv[++i];
		else
			return ct_errf(e, CT_EUSAGE,
				       "unexpected argument '%s' (see ctrain predict --help)",
				       argv[i]);
	}
	if (!model || !input)
		return ct_errf(e, CT_EUSAGE, "predict needs --model SRC and --input FILE.csv");
	mlp m;
	ct_config cfg;
	int has_cfg;
	norm_stats ns;
	int rc = model_load_source_norm(model, &m, &cfg, &has_cfg, &ns, e);
	if (rc < 0)
		return rc;
	dataset ds;
	memset(&ds, 0, sizeof ds);
	rc = csv_load(input, CSV_NO_LABEL, &ds, e);
	int k = m.sizes[m.n_sizes - 1];
	if (rc == 0 && ds.d != m.sizes[0])
		rc = ct_errf(e, CT_EMISMATCH, "%s: rows have %d features but the model expects %d",
			     input, ds.d, m.sizes[0]);
	float *logits = rc == 0 ? malloc((size_t)ds.n * (size_t)k * sizeof(float) + 1) : NULL;
	if (rc == 0 && !logits)
		rc = ct_errf(e, CT_ENOMEM, "out of memory");
	if (rc == 0) {
		norm_apply(&ns, ds.x, ds.n); /* the training transform (none if ns.d = 0) */
		mlp_eval(&m, ds.x, NULL, ds.n, logits, NULL, NULL);
		FILE *out = output ? fopen(output, "w") : stdout;
		if (!out)
			rc = ct_errno(e, CT_EIO, errno, "%s: cannot create", output);
		else if (write_predictions(out, logits, ds.n, k) < 0 || fflush(out) != 0)
			rc = ct_errno(e, CT_EIO, errno, "%s: write failed",
				      output ? output : "stdout");
		if (out && output && fclose(out) != 0 && rc == 0)
			rc = ct_errno(e, CT_EIO, errno, "%s: close failed", output);
		if (rc == 0 && output)
			log_info("wrote %lld predictions to %s", (long long)ds.n, output);
	}
	free(logits);
	norm_release(&ns);
	dataset_release(&ds);
	mlp_release(&m);
	return rc;
}

/* Logits of a fixed probe batch (deterministic pseudo-random inputs in [0,1)). */
static float *probe_logits(mlp *m, int rows)
{
	int d = m->sizes[0], k = m->sizes[m->n_sizes - 1];
	float *x = malloc((size_t)rows * (size_t)d * sizeof(float));
	float *z = malloc((size_t)rows * (size_t)k * sizeof(float));
	CT_ASSERT(x && z);
	rng r;
	rng_seed(&r, 12345, 77);
	for (size_t i = 0; i < (size_t)rows * (size_t)d; i++)
		x[i] = rng_float(&r);
	mlp_eval(m, x, NULL, rows, z, NULL, NULL);
	free(x);
	return z;
}

static int verify_export(mlp *m, const char *out, ct_dtype dt, ct_err *e)
{
	enum { PROBE = 64 };
	mlp m2;
	ct_config cfg;
	int has_cfg;
	int rc = model_load_source(out, &m2, &cfg, &has_cfg, e);
	if (rc < 0)
		return ct_err_prefix(e, "--verify: reloading failed");
	int k = m->sizes[m->n_sizes - 1];
	float *a = probe_logits(m, PROBE), *b = probe_logits(&m2, PROBE);
	double max_dev = 0.0;
	for (size_t i = 0; i < (size_t)PROBE * (size_t)k; i++)
		max_dev = fmax(max_dev, fabs((double)a[i] - (double)b[i]));
	int same = memcmp(a, b, (size_t)PROBE * (size_t)k * sizeof(float)) == 0;
	free(a);
	free(b);
	mlp_release(&m2);
	if (dt == DT_F32 && !same)
		return ct_errf(e, CT_EMISMATCH,
			       "--verify: %s gives different logits (max deviation %g)", out,
			       max_dev);
	printf("verify: %s logits on a %d-sample probe batch %s (max deviation %g)\n", out, PROBE,
	       same ? "bit-identical" : "differ", max_dev);
	return 0;
}

int cli_export(int argc, char **argv, ct_err *e)
{
	const char *src = NULL, *out = NULL, *dtype = "f32";
	int verify = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
			out = argv[++i];
		else if (strcmp(argv[i], "--dtype") == 0 && i + 1 < argc)
			dtype = argv[++i];
		else if (strcmp(argv[i], "--verify") == 0)
			verify = 1;
		else if (argv[i][0] != '-' && !src)
			src = argv[i];
		else
			return ct_errf(e, CT_EUSAGE,
				       "unexpected argument '%s' (see ctrain export --help)",
				       argv[i]);
	}
	if (!src || !out)
		return ct_errf(e, CT_EUSAGE, "export needs SRC and -o OUT.safetensors");
	ct_dtype dt = strcmp(dtype, "f32") == 0    ? DT_F32
		      : strcmp(dtype, "f16") == 0  ? DT_F16
		      : strcmp(dtype, "bf16") == 0 ? DT_BF16
						   : DT_COUNT;
	if (dt == DT_COUNT)
		return ct_errf(e, CT_EUSAGE, "--dtype %s: expected f32, f16 or bf16", dtype);
	mlp m;
	ct_config cfg;
	int has_cfg;
	norm_stats ns;
	int rc = model_load_source_norm(src, &m, &cfg, &has_cfg, &ns, e);
	if (rc < 0)
		return rc;
	double max_err = 0.0;
	rc = model_export_norm(&m, &ns, out, dt, &max_err, e);
	norm_release(&ns);
	if (rc == 0) {
		log_info("wrote %s (%s, %zu parameters%s)", out, dtype, params_count(&m.ps),
			 dt == DT_F32 ? "" : "; see max conversion error below");
		if (dt != DT_F32)
			log_info("max abs conversion error to %s: %g", dtype, max_err);
	}
	if (rc == 0 && verify)
		rc = verify_export(&m, out, dt, e);
	mlp_release(&m);
	return rc;
}

int cli_convert(int argc, char **argv, ct_err *e)
{
	if (argc != 2 || argv[0][0] == '-' || argv[1][0] == '-')
		return ct_errf(e, CT_EUSAGE, "usage: ctrain convert IN.pth OUT.safetensors");
	convert_summary s;
	memset(&s, 0, sizeof s);
	int rc = convert_pth_to_safetensors(argv[0], argv[1], &s, e);
	if (rc == 0) {
		if (s.n_skipped) {
			char list[4096] = "";
			for (size_t i = 0; i < s.n_skipped; i++)
				snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
					 i ? ", " : "", s.skipped[i]);
			log_info("skipped %zu non-tensor entr%s: %s", s.n_skipped,
				 s.n_skipped == 1 ? "y" : "ies", list);
		}
		printf("converted %s -> %s: %zu tensors, %zu bytes, verified\n", argv[0], argv[1],
		       s.n_tensors, s.n_bytes);
	}
	convert_summary_release(&s);
	return rc;
}
