/* Synthetic Gaussian-blob classification data (see dataset.h).
 *
 * Why this shape: a test or a quick start needs data that a small MLP learns
 * to >= 95% in a few epochs for any (d, n_classes), yet that is not separable
 * by chance at initialisation.  Random centroids alone fail in few dimensions
 * (two of ten points on a line can nearly coincide), so centroids are drawn
 * with a minimum distance that is relaxed until they fit, and the noise is
 * then sized from the closest pair: every pair of classes is at least
 * SYN_SEPARATION noise standard deviations apart, so the Bayes error per
 * neighbouring pair is at most Phi(-SYN_SEPARATION / 2) (0.13% for 6).
 *
 * Two generators of the noise (config data.generator):
 *   1  sequential, ctrain 0.1.0's: one xoshiro stream drawn row after row, Box-Muller in
 *      double (about 19 M values/s, one thread only).  Runs frozen without
 *      the key keep it, so they resume to the same bytes.
 *   2  counter: row i's noise comes from a splitmix64 sequence keyed by
 *      (seed, i) alone, turned into normals by a float ziggurat (Marsaglia and
 *      Tsang's 128 layers, layer and value from separate bits of one 64-bit
 *      draw).  Rows are independent, so any block of rows is generated
 *      anywhere, by any thread, with the same bytes. */
#include "dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../util/pool.h"

#define SYN_SEPARATION 6.0
#define SYN_TRIES 16 /* failed draws before the minimum distance shrinks */
#define SYN_SHRINK 0.9

static double dist(const double *a, const double *b, int d)
{
	double s = 0;
	for (int j = 0; j < d; j++)
		s += (a[j] - b[j]) * (a[j] - b[j]);
	return sqrt(s);
}

static double nearest(const double *c, int k, int d, const double *cand)
{
	double m = HUGE_VAL;
	for (int i = 0; i < k; i++) {
		double t = dist(c + (size_t)i * (size_t)d, cand, d);
		if (t < m)
			m = t;
	}
	return m;
}

/* Draws k centroids from N(0, I) keeping each at least r from the others,
 * shrinking r after every SYN_TRIES rejections; returns the final minimum
 * pairwise distance. */
static double place_centroids(double *c, int k, int d, ct_rng *r)
{
	double rmin = 2.0 * sqrt((double)d) + 2.0, closest = HUGE_VAL;
	for (int i = 0; i < k; i++) {
		double *cand = c + (size_t)i * (size_t)d;
		for (int fails = 1;; fails++) {
			for (int j = 0; j < d; j++)
				cand[j] = ct_rng_normal(r);
			double m = nearest(c, i, d, cand);
			if (m >= rmin) {
				closest = m < closest ? m : closest;
				break;
			}
			if (fails % SYN_TRIES == 0)
				rmin *= SYN_SHRINK;
		}
	}
	return closest;
}

/* ---- version 2: counter-based rows, float ziggurat ------------------------ */

#define ZIG_R 3.442619855899          /* start of the tail */
#define ZIG_V 9.91256303526217e-3     /* area of each layer */
#define SYN_TAG 0x53594e0000000000ull /* "SYN": row keys never meet rng.h's streams */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* splitmix64: the counter of row i's sequence, and one draw of it. */
static inline uint64_t sm_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return mix64(*s);
}

static inline double sm_uniform(uint64_t *s) /* in (0, 1] */
{
	return (double)((sm_next(s) >> 11) + 1) * 0x1.0p-53;
}

typedef struct zig {
	int32_t k[128]; /* |value| below k[i]: inside layer i's rectangle, accept */
	float w[128];   /* value * w[i] = x */
	double f[128];  /* exp(-x_i^2 / 2) at the layers' edges */
} zig;

/* The tables of Marsaglia and Tsang's RNOR (J. Stat. Soft. 5(8), 2000). */
static void zig_tables(zig *z)
{
	const double m1 = 2147483648.0;
	double dn = ZIG_R, tn = dn, q = ZIG_V / exp(-0.5 * dn * dn);
	z->k[0] = (int32_t)((dn / q) * m1);
	z->k[1] = 0;
	z->w[0] = (float)(q / m1);
	z->w[127] = (float)(dn / m1);
	z->f[0] = 1.0;
	z->f[127] = exp(-0.5 * dn * dn);
	for (int i = 126; i >= 1; i--) {
		dn = sqrt(-2.0 * log(ZIG_V / dn + exp(-0.5 * dn * dn)));
		z->k[i + 1] = (int32_t)((dn / tn) * m1);
		tn = dn;
		z->f[i] = exp(-0.5 * dn * dn);
		z->w[i] = (float)(dn / m1);
	}
}

/* The rare path: the wedge of layer i, or the tail beyond ZIG_R (layer 0). */
static float zig_slow(const zig *z, uint64_t *s, int32_t hz, int i)
{
	for (;;) {
		float x = (float)hz * z->w[i];
		if (i == 0) {
			double tx, ty;
			do {
				tx = -log(sm_uniform(s)) / ZIG_R;
				ty = -log(sm_uniform(s));
			} while (ty + ty < tx * tx);
			return (float)(hz > 0 ? ZIG_R + tx : -ZIG_R - tx);
		}
		if (z->f[i] + sm_uniform(s) * (z->f[i - 1] - z->f[i]) <
		    exp(-0.5 * (double)x * (double)x))
			return x;
		uint64_t u = sm_next(s);
		i = (int)(u & 127);
		hz = (int32_t)(uint32_t)(u >> 32);
		if ((hz < 0 ? -(int64_t)hz : hz) < z->k[i])
			return (float)hz * z->w[i];
	}
}

static inline float zig_normal(const zig *z, uint64_t *s)
{
	uint64_t u = sm_next(s);
	int i = (int)(u & 127);
	int32_t hz = (int32_t)(uint32_t)(u >> 32);
	if ((hz < 0 ? -(int64_t)hz : hz) < z->k[i])
		return (float)hz * z->w[i];
	return zig_slow(z, s, hz, i);
}

typedef struct gen2 {
	zig z;
	uint64_t key;
	const float *c; /* centroids * scale, n_classes x d */
	float sig;      /* sigma * scale */
	int d, n_classes;
	float *x;
	int32_t *y;
	int64_t first, rows, per_task;
} gen2;

static void gen2_rows(const gen2 *g, int64_t from, int64_t to)
{
	int d = g->d;
	for (int64_t i = from; i < to; i++) {
		int64_t row = g->first + i;
		int k = (int)(row % g->n_classes);
		const float *ck = g->c + (size_t)k * (size_t)d;
		float *x = g->x + i * d;
		uint64_t s = mix64(g->key ^ mix64((uint64_t)row));
		for (int j = 0; j < d; j++)
			x[j] = ck[j] + g->sig * zig_normal(&g->z, &s);
		if (g->y)
			g->y[i] = k;
	}
}

static void gen2_task(void *ctx, int task)
{
	const gen2 *g = ctx;
	int64_t from = (int64_t)task * g->per_task;
	int64_t to = from + g->per_task < g->rows ? from + g->per_task : g->rows;
	gen2_rows(g, from, to);
}

/* ---- the generator --------------------------------------------------------- */

struct ct_synthetic {
	int version, d, n_classes;
	double *c; /* centroids, n_classes x d */
	float *cs; /* version 2: centroids * scale */
	double sigma, scale;
	ct_rng r; /* version 1: the stream, positioned at row `next` */
	int64_t next;
	zig *z; /* version 2 */
	uint64_t key;
};

int ct_synthetic_new(ct_synthetic **out, uint64_t seed, int64_t n, int d, int n_classes,
		     int version, ct_err *e)
{
	*out = NULL;
	CT_ASSERT(version == 1 || version == 2);
	if (n < 1 || d < 1 || n_classes < 2)
		return ct_errf(e, CT_ECONFIG,
			       "synthetic data needs n_samples >= 1, n_features >= 1 and "
			       "n_classes >= 2 (got %lld, %d, %d)",
			       (long long)n, d, n_classes);
	ct_synthetic *g = calloc(1, sizeof *g);
	size_t cells = (size_t)n_classes * (size_t)d;
	if (g) {
		g->c = malloc(cells * sizeof *g->c);
		g->cs = malloc(cells * sizeof *g->cs);
		g->z = malloc(sizeof *g->z);
	}
	if (!g || !g->c || !g->cs || !g->z) {
		ct_synthetic_free(g);
		return ct_errf(e, CT_ENOMEM, "synthetic data: out of memory for %d centroids of %d",
			       n_classes, d);
	}
	g->version = version;
	g->d = d;
	g->n_classes = n_classes;
	ct_rng_seed(&g->r, seed, CT_RNG_STREAM_DATA);
	g->sigma = place_centroids(g->c, n_classes, d, &g->r) / SYN_SEPARATION;
	g->scale = 1.0 / sqrt(1.0 + g->sigma * g->sigma); /* unit variance per feature */
	for (size_t i = 0; i < cells; i++)
		g->cs[i] = (float)(g->c[i] * g->scale);
	zig_tables(g->z);
	g->key = mix64(seed ^ SYN_TAG);
	*out = g;
	return 0;
}

void ct_synthetic_free(ct_synthetic *g)
{
	if (!g)
		return;
	free(g->c);
	free(g->cs);
	free(g->z);
	free(g);
}

void ct_synthetic_rows(ct_synthetic *g, int64_t first, int64_t rows, float *x, int32_t *y, pool *p)
{
	int d = g->d;
	if (g->version == 1) {
		CT_ASSERT(first == g->next); /* one stream: rows come in order */
		for (int64_t i = 0; i < rows; i++) {
			int k = (int)((first + i) % g->n_classes);
			const double *ck = g->c + (size_t)k * (size_t)d;
			float *xi = x + i * d;
			for (int j = 0; j < d; j++)
				xi[j] = (float)((ck[j] + g->sigma * ct_rng_normal(&g->r)) *
						g->scale);
			if (y)
				y[i] = k;
		}
		g->next += rows;
		return;
	}
	gen2 job = {.key = g->key,
		    .c = g->cs,
		    .sig = (float)(g->sigma * g->scale),
		    .d = d,
		    .n_classes = g->n_classes,
		    .x = x,
		    .y = y,
		    .first = first,
		    .rows = rows};
	memcpy(&job.z, g->z, sizeof job.z);
	int threads = p ? pool_threads(p) : 1;
	if (threads <= 1 || rows < 64) {
		gen2_rows(&job, 0, rows);
		return;
	}
	/* Blocks of rows, several per thread so that a slow thread is not waited
	 * for; how they are cut changes nothing in the bytes. */
	int64_t tasks = (int64_t)threads * 8;
	job.per_task = (rows + tasks - 1) / tasks;
	pool_run(p, (int)((rows + job.per_task - 1) / job.per_task), gen2_task, &job);
}

/* Asks for transparent huge pages over a large buffer about to be written
 * whole: on a VM with THP in "madvise" mode, faulting 411 MB in 4 KiB pages
 * took longer (1.1 s) than generating its values.  Advice only: a kernel that
 * declines changes nothing but the time. */
static void hugepages(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
	const uintptr_t huge = (uintptr_t)2 << 20;
	uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), end = (uintptr_t)p + len;
	if (len >= 4 * huge && end > a)
		(void)madvise((void *)a, (end - a) & ~(huge - 1), MADV_HUGEPAGE); /* advice */
#else
	(void)p;
	(void)len;
#endif
}

int ct_synthetic_generate(uint64_t seed, int64_t n, int d, int n_classes, int version, int threads,
			  ct_dataset *ds, ct_err *e)
{
	ct_synthetic *g;
	int rc = ct_synthetic_new(&g, seed, n, d, n_classes, version, e);
	if (rc < 0)
		return rc;
	rc = ct_dataset_alloc(ds, n, d, 1, "synthetic data", e);
	pool *p = NULL;
	if (rc == 0 && version == 2 && threads > 1 && !(p = pool_new(threads)))
		rc = ct_errf(e, CT_ENOMEM, "synthetic data: cannot start %d threads", threads);
	if (rc == 0) {
		hugepages(ds->x, (size_t)n * (size_t)d * sizeof(float));
		ct_synthetic_rows(g, 0, n, ds->x, ds->y, p);
		ds->n_classes = n_classes;
	} else {
		ct_dataset_release(ds);
	}
	pool_free(p);
	ct_synthetic_free(g);
	return rc;
}

int ct_synthetic_make(uint64_t seed, int64_t n, int d, int n_classes, ct_dataset *ds, ct_err *e)
{
	return ct_synthetic_generate(seed, n, d, n_classes, CT_SYNTHETIC_VERSION, 1, ds, e);
}
