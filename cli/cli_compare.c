/* cli_compare.c — `ctrain compare SRC1 SRC2`: did two runs end with the same
 * bytes?  The question a user asks after a resume ("did it really match?").
 *
 * Weights: each SRC is resolved as eval does (a run directory gives its
 * model.safetensors, else its newest valid checkpoint); tensors are matched by
 * name and compared byte for byte; for a differing F32 tensor the largest
 * absolute difference is printed.  For two run directories, metrics.csv is
 * compared row by row without the timing columns (samples_per_sec,
 * elapsed_sec, ckpt_sec) and the first differing step named, and config.ini
 * key by key.  Returns 1 (exit 1) when the weights differ, 0 when they are
 * bit-identical, CT_EUSAGE for arguments that are not two models. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../formats/tdict.h"
#include "../util/log.h"
#include "cli.h"
#include "source.h"
#include "../util/util.h"

static int load(const char *src, ct_tdict *d, char **path, ct_err *e)
{
	source_kind kind;
	int rc = source_resolve(src, path, &kind, e);
	if (rc < 0) { /* not a model at all: like cmp, "trouble" is not "different" */
		ct_err_prefix(e, "compare");
		e->code = CT_EUSAGE;
		return CT_EUSAGE;
	}
	rc = source_read_tdict(*path, kind, d, e);
	if (rc < 0)
		ct_err_prefix(e, "compare");
	return rc;
}

/* Prints the per-tensor verdict; returns 1 if anything differs. */
static int compare_weights(const ct_tdict *a, const ct_tdict *b, ct_err *e)
{
	int differ = 0;
	size_t same = 0, bytes = 0;
	for (size_t i = 0; i < a->n; i++) {
		const ct_tdict_entry *x = &a->v[i];
		const ct_tdict_entry *y = ct_tdict_find(b, x->name);
		if (!y) {
			printf("  %s: only in the first\n", x->name);
			differ = 1;
			continue;
		}
		if (x->dtype != y->dtype || x->ndim != y->ndim ||
		    memcmp(x->shape, y->shape, (size_t)x->ndim * sizeof x->shape[0]) != 0) {
			printf("  %s: dtype or shape differ (%s vs %s)\n", x->name,
			       ct_dtype_name(x->dtype), ct_dtype_name(y->dtype));
			differ = 1;
			continue;
		}
		if (x->nbytes == y->nbytes && memcmp(x->data, y->data, x->nbytes) == 0) {
			same++;
			bytes += x->nbytes;
			continue;
		}
		differ = 1;
		int64_t n = ct_shape_numel(x->ndim, x->shape);
		float *fx = malloc((size_t)n * sizeof *fx), *fy = malloc((size_t)n * sizeof *fy);
		if (!fx || !fy) {
			free(fx);
			free(fy);
			return ct_errf(e, CT_ENOMEM, "compare: out of memory");
		}
		if (ct_tdict_entry_to_f32(x, fx, e) == 0 && ct_tdict_entry_to_f32(y, fy, e) == 0) {
			double maxd = 0;
			int64_t at = 0, ndiff = 0;
			for (int64_t k = 0; k < n; k++) {
				double d = fabs((double)fx[k] - (double)fy[k]);
				uint32_t bx, by; /* bits: -0.0 vs 0.0 and NaN payloads count */
				memcpy(&bx, &fx[k], sizeof bx);
				memcpy(&by, &fy[k], sizeof by);
				ndiff += bx != by;
				if (d > maxd || (isnan(d) && !isnan(maxd))) {
					maxd = d;
					at = k;
				}
			}
			printf("  %s: %lld of %lld values differ, max |diff| %.6g at index %lld\n",
			       x->name, (long long)ndiff, (long long)n, maxd, (long long)at);
		} else
			printf("  %s: bytes differ\n", x->name);
		free(fx);
		free(fy);
	}
	for (size_t i = 0; i < b->n; i++)
		if (!ct_tdict_find(a, b->v[i].name)) {
			printf("  %s: only in the second\n", b->v[i].name);
			differ = 1;
		}
	if (!differ)
		printf("weights   identical: %zu tensors, %zu bytes\n", same, bytes);
	return differ;
}

/* ---- metrics.csv and config.ini of run directories ------------------------- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 65536;
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				(void)fclose(f); /* read only */
				return NULL;
			}
			buf = nb;
		}
		size_t r = fread(buf + len, 1, cap - len, f);
		len += r;
		if (r == 0)
			break;
	}
	int bad = ferror(f);
	(void)fclose(f); /* read only */
	if (bad) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static int is_timing(const char *col)
{
	return strcmp(col, "samples_per_sec") == 0 || strcmp(col, "elapsed_sec") == 0 ||
	       strcmp(col, "ckpt_sec") == 0;
}

static char *next_line(char **p)
{
	if (!*p || !**p)
		return NULL;
	char *s = *p, *nl = strchr(s, '\n');
	if (nl) {
		*nl = '\0';
		*p = nl + 1;
	} else
		*p = s + strlen(s);
	return s;
}

/* Reads dir/name (NULL if unreadable, or if the path is too long: then p
 * holds the message naming it); p (4200 bytes) receives the path. */
static char *slurp_in(const char *dir, const char *name, char *p)
{
	ct_err e;
	if (ct_path_join_e(p, 4200, dir, name, &e) == 0)
		return slurp(p);
	snprintf(p, 4200, "%s", e.msg);
	return NULL;
}

/* Reads d1/name and d2/name into *t1, *t2 (NULL if unreadable); p1 and p2
 * (4200 bytes each) receive the paths. */
static void slurp_both(const char *d1, const char *d2, const char *name, char *p1, char *p2,
		       char **t1, char **t2)
{
	*t1 = slurp_in(d1, name, p1);
	*t2 = slurp_in(d2, name, p2);
}

static void compare_metrics(const char *d1, const char *d2)
{
	char p1[4200], p2[4200], *t1, *t2;
	slurp_both(d1, d2, "metrics.csv", p1, p2, &t1, &t2);
	if (!t1 || !t2) {
		printf("metrics   not compared: %s unreadable\n", !t1 ? p1 : p2);
		free(t1);
		free(t2);
		return;
	}
	char *c1 = t1, *c2 = t2;
	char *h1 = next_line(&c1), *h2 = next_line(&c2);
	char *hf1[32], *hf2[32], *f1[32], *f2[32];
	int nh1 = h1 ? ct_split_fields(h1, hf1, 32) : 0,
	    nh2 = h2 ? ct_split_fields(h2, hf2, 32) : 0;
	long rows = 0;
	int done = 0;
	while (!done) {
		char *l1 = next_line(&c1), *l2 = next_line(&c2);
		if (!l1 && !l2)
			break;
		if (!l1 || !l2) {
			printf("metrics   differ: the %s run has more rows, from step %.*s on\n",
			       l1 ? "first" : "second", (int)strcspn(l1 ? l1 : l2, ","),
			       l1 ? l1 : l2);
			done = 2;
			break;
		}
		rows++;
		int n1 = ct_split_fields(l1, f1, 32), n2 = ct_split_fields(l2, f2, 32);
		for (int i = 0; i < nh1 && !done; i++) {
			if (is_timing(hf1[i]))
				continue;
			int j = 0;
			while (j < nh2 && strcmp(hf2[j], hf1[i]) != 0)
				j++;
			const char *v1 = i < n1 ? f1[i] : "", *v2 = j < n2 ? f2[j] : "";
			if (j == nh2 || strcmp(v1, v2) != 0) {
				printf("metrics   first differ at step %s: %s %s vs %s\n", f1[0],
				       hf1[i], v1, j == nh2 ? "(no such column)" : v2);
				done = 1;
			}
		}
	}
	if (!done)
		printf("metrics   identical: %ld rows (timing columns excepted)\n", rows);
	free(t1);
	free(t2);
}

typedef struct kv {
	char key[128], val[512];
} kv;

/* "section.key" = "value" pairs of an INI text, comments and blanks dropped. */
static size_t ini_pairs(char *text, kv *out, size_t max)
{
	char sec[64] = "";
	size_t n = 0;
	char *p = text, *l;
	while ((l = next_line(&p)) != NULL && n < max) {
		l[strcspn(l, ";#\r")] = '\0';
		while (*l == ' ' || *l == '\t')
			l++;
		size_t len = strlen(l);
		while (len > 0 && (l[len - 1] == ' ' || l[len - 1] == '\t'))
			l[--len] = '\0';
		if (l[0] == '[') {
			snprintf(sec, sizeof sec, "%.*s", (int)strcspn(l + 1, "]"), l + 1);
			continue;
		}
		char *eq = strchr(l, '=');
		if (!eq)
			continue;
		char *k = l, *v = eq + 1;
		*eq = '\0';
		size_t kl = strlen(k);
		while (kl > 0 && (k[kl - 1] == ' ' || k[kl - 1] == '\t'))
			k[--kl] = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		snprintf(out[n].key, sizeof out[n].key, "%s.%s", sec, k);
		snprintf(out[n].val, sizeof out[n].val, "%s", v);
		n++;
	}
	return n;
}

static const char *lookup(const kv *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return v[i].val;
	return NULL;
}

static void compare_config(const char *d1, const char *d2)
{
	char p1[4200], p2[4200], *t1, *t2;
	slurp_both(d1, d2, "config.ini", p1, p2, &t1, &t2);
	enum { MAXKV = 256 };
	kv *a = calloc(MAXKV, sizeof *a), *b = calloc(MAXKV, sizeof *b);
	if (!t1 || !t2 || !a || !b) {
		printf("config    not compared: %s unreadable\n", !t1 ? p1 : p2);
		goto out;
	}
	size_t na = ini_pairs(t1, a, MAXKV), nb = ini_pairs(t2, b, MAXKV);
	int nd = 0;
	for (size_t i = 0; i < na; i++) {
		const char *v = lookup(b, nb, a[i].key);
		if (!v || strcmp(v, a[i].val) != 0) {
			printf("%s%s = %s | %s\n", nd++ ? "          " : "config    ", a[i].key,
			       a[i].val, v ? v : "(absent)");
		}
	}
	for (size_t i = 0; i < nb; i++)
		if (!lookup(a, na, b[i].key))
			printf("%s%s = (absent) | %s\n", nd++ ? "          " : "config    ",
			       b[i].key, b[i].val);
	if (nd == 0)
		printf("config    identical\n");
out:
	free(a);
	free(b);
	free(t1);
	free(t2);
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int cli_compare(int argc, char **argv, ct_err *e)
{
	if (argc != 2 || argv[0][0] == '-' || argv[1][0] == '-')
		return ct_errf(e, CT_EUSAGE, "usage: ctrain compare SRC1 SRC2 (see --help)");
	ct_tdict a, b;
	ct_tdict_init(&a);
	ct_tdict_init(&b);
	char *pa = NULL, *pb = NULL;
	int rc = load(argv[0], &a, &pa, e);
	if (rc == 0)
		rc = load(argv[1], &b, &pb, e);
	int differ = 0;
	if (rc == 0) {
		printf("first     %s\nsecond    %s\n", pa, pb);
		(void)fflush(stdout); /* checked at exit */
		rc = compare_weights(&a, &b, e);
		differ = rc == 1;
		if (differ)
			printf("weights   DIFFER (above)\n");
	}
	if (rc >= 0 && is_dir(argv[0]) && is_dir(argv[1])) {
		compare_metrics(argv[0], argv[1]);
		compare_config(argv[0], argv[1]);
	}
	ct_tdict_release(&a);
	ct_tdict_release(&b);
	free(pa);
	free(pb);
	if (rc < 0)
		return rc;
	return differ;
}
