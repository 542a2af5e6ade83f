/* bench_util.c — option parsing, clock, median and JSON helpers of bench_step. */
#include "bench.h"

#include <cblas.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../nn/ops.h"

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

bench_window bench_run_window(bench_unit_fn fn, void *ctx, double sec, int min_units)
{
	bench_window w = {0};
	double t0 = bench_now(), c0 = bench_cpu_now(), t;
	do {
		w.samples += fn(ctx);
		w.units++;
		t = bench_now();
	} while (t - t0 < sec || w.units < min_units);
	w.cpu = bench_cpu_now() - c0;
	w.wall = t - t0;
	return w;
}

void bench_warm(bench_unit_fn fn, void *ctx, double sec)
{
	for (double t0 = bench_now(); bench_now() - t0 < sec;)
		fn(ctx);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
	if (n <= 0)
		return 0.0;
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void bench_json_array(FILE *f, const char *key, const double *v, int n)
{
	fprintf(f, "\"%s\":[", key);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%.6g", i ? "," : "", v[i]);
	fputc(']', f);
}

const char *bench_blas_setup(int threads)
{
	openblas_set_num_threads(threads);
	return openblas_get_corename();
}

const char *bench_threads_setup(int threads, int deterministic)
{
	/* Once, before any step, as `ctrain train` does (cli/cli_train.c). */
	if (ct_ops_set_threads(threads, deterministic) < 0)
		return NULL;
	return openblas_get_corename();
}

int bench_parse_layers(bench_opts *o, const char *s, ct_err *e)
{
	o->layers = s;
	o->n_sizes = 0;
	const char *p = s;
	while (*p) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || v <= 0 || v > 1 << 20 || o->n_sizes == BENCH_MAX_LAYERS)
			return ct_errf(e, CT_EUSAGE, "--layers %s: expected widths like 784,256,10", s);
		o->sizes[o->n_sizes++] = (int)v;
		p = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return ct_errf(e, CT_EUSAGE, "--layers %s: expected widths like 784,256,10", s);
	}
	if (o->n_sizes < 2)
		return ct_errf(e, CT_EUSAGE, "--layers %s: need at least input and output", s);
	return 0;
}

static void defaults(bench_opts *o)
{
	memset(o, 0, sizeof *o);
	o->optim = "sgd";
	o->batch = 32;
	o->threads = 1;
	o->deterministic = 1;
	o->windows = 7;
	o->min_steps = 3;
	o->window_sec = 0.3;
	o->warmup_sec = 0.3;
	o->rows = 8192;
	o->reps = 5;
}

static const struct option g_long[] = {
	{"layers", required_argument, 0, 'l'},   {"optim", required_argument, 0, 'o'},
	{"batch", required_argument, 0, 'b'},    {"threads", required_argument, 0, 't'},
	{"windows", required_argument, 0, 'w'},  {"window-sec", required_argument, 0, 's'},
	{"warmup-sec", required_argument, 0, 'u'}, {"min-steps", required_argument, 0, 'm'},
	{"rows", required_argument, 0, 'r'},     {"steps", required_argument, 0, 'n'},
	{"dir", required_argument, 0, 'd'},      {"reps", required_argument, 0, 'R'},
	{"deterministic", required_argument, 0, 'D'},
	{0, 0, 0, 0},
};

/* One option's value into o; CT_EUSAGE if out of range. */
static int set_opt(bench_opts *o, int c, const char *v, ct_err *e)
{
	long n = strtol(v, NULL, 10);
	double x = strtod(v, NULL);
	switch (c) {
	case 'l': return bench_parse_layers(o, v, e);
	case 'o': o->optim = v; break;
	case 'b': o->batch = (int)n; break;
	case 't': o->threads = (int)n; break;
	case 'w': o->windows = (int)n; break;
	case 's': o->window_sec = x; break;
	case 'u': o->warmup_sec = x; break;
	case 'm': o->min_steps = (int)n; break;
	case 'r': o->rows = n; break;
	case 'n': o->fixed_steps = n; break;
	case 'd': o->dir = v; break;
	case 'R': o->reps = (int)n; break;
	case 'D': o->deterministic = n != 0; break;
	default: return ct_errf(e, CT_EUSAGE, "unknown option (see experiments/bench/bench.h)");
	}
	return 0;
}

static int check_opts(const bench_opts *o, ct_err *e)
{
	if (strcmp(o->optim, "sgd") != 0 && strcmp(o->optim, "adam") != 0)
		return ct_errf(e, CT_EUSAGE, "--optim %s: expected sgd or adam", o->optim);
	if (o->batch < 1 || o->threads < 1 || o->reps < 1 || o->min_steps < 1)
		return ct_errf(e, CT_EUSAGE, "--batch, --threads, --reps and --min-steps must be >= 1");
	if (o->windows < 1 || o->windows > BENCH_MAX_WINDOWS)
		return ct_errf(e, CT_EUSAGE, "--windows must be in 1..%d", BENCH_MAX_WINDOWS);
	if (o->rows < o->batch)
		return ct_errf(e, CT_EUSAGE, "--rows must be >= --batch");
	return 0;
}

int bench_parse(bench_opts *o, int argc, char **argv, ct_err *e)
{
	defaults(o);
	if (argc < 2)
		return ct_errf(e, CT_EUSAGE, "usage: bench_step info|step|sgemm|ckpt [options]");
	o->cmd = argv[1];
	int rc = bench_parse_layers(o, "784,256,10", e);
	optind = 2;
	int c;
	while (rc == 0 && (c = getopt_long(argc, argv, "", g_long, NULL)) != -1)
		rc = set_opt(o, c, optarg, e);
	if (rc == 0 && optind < argc)
		rc = ct_errf(e, CT_EUSAGE, "unexpected argument %s", argv[optind]);
	return rc == 0 ? check_opts(o, e) : rc;
}

int bench_cmd_info(const bench_opts *o, ct_err *e)
{
	const char *core = bench_threads_setup(o->threads, o->deterministic);
	if (!core)
		return ct_errf(e, CT_ENOMEM, "cannot start %d worker threads", o->threads);
	printf("{\"kind\":\"info\",\"impl\":\"ctrain\",\"blas_core\":\"%s\",\"blas_config\":\"%s\","
	       "\"threads\":%d,\"deterministic\":%d,\"blas_threads\":%d,\"blas_parallel\":%d}\n",
	       core, openblas_get_config(), ct_ops_threads(), ct_ops_deterministic(),
	       openblas_get_num_threads(), openblas_get_parallel());
	return 0;
}
