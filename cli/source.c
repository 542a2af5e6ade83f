#include "source.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../ckpt/discover.h"
#include "../ckpt/h5c.h"
#include "../formats/pth.h"
#include "../formats/safetensors.h"
#include "../util/log.h"
#include "../train/export.h"

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* a + sep + b, malloc'ed */
static char *join(const char *a, const char *sep, const char *b)
{
	size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
	char *p = malloc(n);
	CT_ASSERT(p);
	snprintf(p, n, "%s%s%s", a, sep, b);
	return p;
}

static int resolve_dir(const char *dir, char **path, source_kind *kind, ct_err *e)
{
	char *st = join(dir, "/", "model.safetensors");
	if (exists(st)) {
		ct_log_info("using %s (training completed)", st);
		*path = st;
		*kind = SRC_SAFETENSORS;
		return 0;
	}
	free(st);
	char *ck = join(dir, "/", "checkpoints");
	int64_t step;
	int rc = ct_ckpt_find_latest(ck, path, &step, e);
	free(ck);
	if (rc < 0)
		return ct_err_prefix(e, "%s has no model.safetensors", dir);
	ct_log_info("using %s: newest valid checkpoint (step %lld; %s/model.safetensors does not "
		    "exist yet)",
		    *path, (long long)step, dir);
	*kind = SRC_CHECKPOINT;
	return 0;
}

/* A file without a known extension (e.g. a checkpoint moved aside as
 * *.corrupt): tell the kind from its first bytes. */
static int sniff(const char *src, char **path, source_kind *kind, ct_err *e)
{
	unsigned char head[8] = {0};
	FILE *f = fopen(src, "rb");
	size_t n = f ? fread(head, 1, sizeof head, f) : 0;
	if (f)
		(void)fclose(f); /* read only: closing cannot lose data */
	if (n >= 4 && memcmp(head, "\x89HDF", 4) == 0)
		*kind = SRC_CHECKPOINT;
	else if (n >= 2 && head[0] == 'P' && head[1] == 'K')
		*kind = SRC_PTH;
	else if (n == 8)
		*kind = SRC_SAFETENSORS; /* the strict reader will say if it is not */
	else
		return ct_errf(e, CT_ECORRUPT, "%s: too short to be a model file", src);
	*path = strdup(src);
	return 0;
}

int source_resolve(const char *src, char **path, source_kind *kind, ct_err *e)
{
	if (is_dir(src))
		return resolve_dir(src, path, kind, e);
	if (ends_with(src, ".h5") || ends_with(src, ".safetensors") || ends_with(src, ".pth") ||
	    ends_with(src, ".pt")) {
		if (!exists(src))
			return ct_errf(e, CT_ENOTFOUND, "%s: no such file", src);
		*path = strdup(src);
		*kind = ends_with(src, ".h5")            ? SRC_CHECKPOINT
			: ends_with(src, ".safetensors") ? SRC_SAFETENSORS
							 : SRC_PTH;
		return 0;
	}
	char *st = join(src, "", ".safetensors");
	char *pth = join(src, "", ".pth");
	int rc = 0;
	if (exists(st)) {
		ct_log_info("using %s (preferred over .pth)", st);
		*path = st;
		*kind = SRC_SAFETENSORS;
		st = NULL;
	} else if (exists(pth)) {
		ct_log_info("using %s (no %s)", pth, st);
		*path = pth;
		*kind = SRC_PTH;
		pth = NULL;
	} else if (exists(src)) {
		rc = sniff(src, path, kind, e);
	} else {
		rc = ct_errf(e, CT_ENOTFOUND, "%s: no such file or directory (nor %s or %s)", src,
			     st, pth);
	}
	free(st);
	free(pth);
	return rc;
}

/* Reads a checkpoint's frozen config text (/meta/config). */
static int checkpoint_read_config(const char *path, ct_config *cfg, ct_err *e)
{
	char *text = NULL;
	ct_h5c_field f = {"/meta@config", CT_H5C_STR, 0, {0}, &text};
	ct_h5c_reader *r;
	int rc = ct_h5c_open(path, &r, e);
	if (rc == 0) {
		rc = ct_h5c_read(r, &f, e);
		ct_h5c_close(r);
	}
	if (rc == 0) {
		ct_config_defaults_frozen(cfg);
		rc = ct_config_parse_string(cfg, text, path, e);
	}
	free(text); /* NULL unless read */
	return rc;
}

static int read_ckpt_model(const char *path, ct_tdict *d, ct_err *e)
{
	ct_h5c_reader *r;
	int rc = ct_h5c_open(path, &r, e);
	if (rc < 0)
		return rc;
	char **names = NULL;
	size_t n = 0;
	rc = ct_h5c_list(r, "/model", &names, &n, e);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char full[512];
		snprintf(full, sizeof full, "/model/%s", names[i]);
		ct_h5c_field f = {full, CT_H5C_F32, 0, {0}, NULL};
		rc = ct_h5c_shape(r, full, &f.ndim, f.shape, e);
		int64_t numel = rc == 0 ? ct_h5c_numel(&f) : 0;
		float *buf = rc == 0 ? malloc((size_t)(numel ? numel : 1) * sizeof(float)) : NULL;
		if (rc == 0 && !buf)
			rc = ct_errf(e, CT_ENOMEM, "out of memory");
		f.data = buf;
		if (rc == 0)
			rc = ct_h5c_read(r, &f, e);
		if (rc == 0)
			rc = ct_tdict_add(d, names[i], CT_DT_F32, f.ndim, f.shape, buf, 1, e);
		free(buf);
	}
	ct_h5c_list_free(names, n);
	ct_h5c_close(r);
	return rc;
}

int source_check_rename(const char *pair, ct_err *e)
{
	const char *eq = strchr(pair, '=');
	if (!eq || eq == pair || (size_t)(eq - pair) >= 512)
		return ct_errf(e, CT_EUSAGE,
			       "--rename %s: expected OLD=NEW, OLD a non-empty name prefix (e.g. "
			       "--rename 0.=layers.0.)",
			       pair);
	return 0;
}

static const char *const *g_renames;
static int g_n_renames;

void source_set_renames(const char *const *pairs, int n)
{
	g_renames = pairs;
	g_n_renames = n;
}

int source_rename(const char *path, ct_tdict *d, const char *const *pairs, int n, ct_err *e)
{
	for (int i = 0; i < n; i++) {
		const char *eq = strchr(pairs[i], '=');
		CT_ASSERT(eq); /* checked by the command line */
		char from[512];
		snprintf(from, sizeof from, "%.*s", (int)(eq - pairs[i]), pairs[i]);
		int rc = ct_tdict_rename_prefix(d, from, eq + 1, e);
		if (rc < 0)
			return ct_err_prefix(e, "%s: --rename %s", path, pairs[i]);
		if (rc == 0)
			return ct_errf(
				e, CT_EMISMATCH,
				"%s: --rename %s: no tensor name starts with '%s' (the first "
				"is '%s')",
				path, pairs[i], from, d->n ? d->v[0].name : "none");
		ct_log_info("%s: --rename %s: %d tensor(s) renamed", path, pairs[i], rc);
	}
	return 0;
}

static int read_tdict(const char *path, source_kind kind, ct_tdict *d, ct_err *e);

int source_read_tdict(const char *path, source_kind kind, ct_tdict *d, ct_err *e)
{
	int rc = read_tdict(path, kind, d, e);
	if (rc == 0)
		rc = source_rename(path, d, g_renames, g_n_renames, e);
	return rc;
}

static int read_tdict(const char *path, source_kind kind, ct_tdict *d, ct_err *e)
{
	switch (kind) {
	case SRC_SAFETENSORS: return ct_st_read(path, d, e);
	case SRC_PTH: {
		char **skipped = NULL;
		size_t n_skipped = 0;
		int rc = pth_read_state_dict(path, d, &skipped, &n_skipped, e);
		for (size_t i = 0; i < n_skipped; i++) {
			ct_log_info("%s: skipping non-tensor entry %s", path, skipped[i]);
			free(skipped[i]);
		}
		free(skipped);
		return rc;
	}
	default: return read_ckpt_model(path, d, e);
	}
}

static int read_ckpt_norm(const char *path, int d, ct_norm_stats *ns, ct_err *e)
{
	ct_h5c_reader *r;
	int rc = ct_h5c_open(path, &r, e);
	if (rc < 0)
		return rc;
	rc = ct_norm_alloc(ns, d, e);
	ct_h5c_field f[2] = {{"/data/norm_mean", CT_H5C_F32, 1, {d}, ns->mean},
			     {"/data/norm_std", CT_H5C_F32, 1, {d}, ns->std}};
	for (int i = 0; i < 2 && rc == 0; i++)
		rc = ct_h5c_read(r, &f[i], e);
	ct_h5c_close(r);
	if (rc < 0)
		ct_norm_release(ns);
	return rc;
}

int model_load_source(const char *src, ct_mlp *m, ct_config *cfg, int *has_cfg, ct_err *e)
{
	return model_load_source_norm(src, m, cfg, has_cfg, NULL, e);
}

int model_load_source_norm(const char *src, ct_mlp *m, ct_config *cfg, int *has_cfg,
			   ct_norm_stats *ns, ct_err *e)
{
	if (ns)
		memset(ns, 0, sizeof *ns);
	char *path = NULL;
	source_kind kind;
	*has_cfg = 0;
	int rc = source_resolve(src, &path, &kind, e);
	if (rc < 0)
		return rc;
	if (is_dir(src)) { /* the run's frozen config describes its data */
		char *ini = join(src, "/", "config.ini");
		ct_config_defaults_frozen(cfg);
		if (ct_config_load_file(cfg, ini, e) == 0)
			*has_cfg = 1;
		free(ini);
	}
	if (kind == SRC_CHECKPOINT && !*has_cfg) {
		rc = checkpoint_read_config(path, cfg, e);
		*has_cfg = rc == 0;
	}
	ct_tdict d;
	ct_tdict_init(&d);
	if (rc == 0)
		rc = source_read_tdict(path, kind, &d, e);
	if (rc == 0 && kind == SRC_CHECKPOINT) {
		char layers[512] = "";
		for (int i = 0; i < cfg->n_layers; i++)
			snprintf(layers + strlen(layers), sizeof layers - strlen(layers), "%s%d",
				 i ? "," : "", cfg->layers[i]);
		ct_tdict_set_meta(&d, "layers", layers, NULL);
		ct_tdict_set_meta(&d, "activation", ct_act_name((int)cfg->activation), NULL);
	}
	if (rc == 0)
		rc = ct_model_from_tdict(m, &d, path, 1, e);
	int loaded = rc == 0;
	if (rc == 0 && ns && kind != SRC_CHECKPOINT)
		rc = ct_norm_from_tdict(&d, m->sizes[0], ns, path, e);
	else if (rc == 0 && ns && cfg->normalize == CT_NORMALIZE_STANDARD)
		rc = read_ckpt_norm(path, m->sizes[0], ns, e);
	if (rc < 0 && ns)
		ct_norm_release(ns);
	if (rc < 0 && loaded)
		ct_mlp_release(m);
	ct_tdict_release(&d);
	free(path);
	return rc;
}
