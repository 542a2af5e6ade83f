/* bench.h — the ctrain side of the side-by-side benchmark against PyTorch
 * (experiments/bench/run.sh drives it; bench_torch.py is the PyTorch side).
 *
 * One program, bench_step, with one subcommand per measurement; each prints
 * one JSON object per line on stdout, which run.sh collects and report.py
 * turns into experiments/results/bench.md and bench.svg:
 *
 *     bench_step info                                    # OpenBLAS core, threads
 *     bench_step step  --layers 784,256,10 --optim sgd --batch 32 --threads 1
 *                      [--deterministic 0|1]          # default 1, as train.deterministic
 *     bench_step sgemm --layers 784,1024,1024,10 --batch 512 --threads 1
 *     bench_step ckpt  --dir /var/tmp/x --layers 784,1024,1024,10 --reps 5
 *     bench_step serve --layers 784,256,10 --optim sgd --batch 32   # for duel.py
 *
 * `serve` keeps a warmed-up step (and the step's sgemm calls) in memory and
 * runs one timed window per command read from stdin, so that duel.py can
 * alternate windows of ctrain and PyTorch a fraction of a second apart:
 *     w  -> warm-up (--warmup-sec of steps, then of sgemm calls)   {"ok":1}
 *     s  -> one window of training steps       {"wall":..,"cpu":..,"samples":..,"units":..}
 *     g  -> one window of the step's sgemm calls only (the sgemm-bound rate)
 *     q or end of input -> {"kind":"end", blas core, losses, step count}
 *
 * Timing protocol (the same in bench_torch.py): a warm-up of --warmup-sec,
 * then --windows windows of at least --window-sec and --min-steps steps each;
 * every window gives samples/s and the median is the figure reported.
 * `step --steps N` runs exactly N steps in run_steps() instead (for callgrind
 * --toggle-collect=run_steps).
 *
 * The calling sequence inside: bench_parse() fills a bench_opts, the
 * subcommand's function runs it and returns 0 or a negative ct_err code.
 */
#ifndef CT_BENCH_H
#define CT_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../../util/err.h"

#define BENCH_MAX_LAYERS 16
#define BENCH_MAX_WINDOWS 64

typedef struct bench_opts {
	const char *cmd;
	int sizes[BENCH_MAX_LAYERS];
	int n_sizes;
	const char *layers;   /* as given, for the output */
	const char *optim;    /* "sgd" (momentum 0.9) or "adam" */
	int batch, threads;
	int deterministic;    /* train.deterministic: 1 = ctrain's fixed partition
			       * over its own pool, 0 = OpenBLAS's threading */
	int windows, min_steps;
	double window_sec, warmup_sec;
	int64_t rows;         /* rows of random data the loader cycles through */
	int64_t fixed_steps;  /* > 0: run exactly this many timed steps */
	const char *dir;      /* ckpt: directory written to */
	int reps;             /* ckpt: repetitions of each measurement */
} bench_opts;

/* Parses argv (argv[1] is the subcommand); CT_EUSAGE with a message on error. */
int bench_parse(bench_opts *o, int argc, char **argv, ct_err *e);
/* "784,256,10" into o->sizes; CT_EUSAGE if malformed. */
int bench_parse_layers(bench_opts *o, const char *s, ct_err *e);

/* Monotonic wall clock in seconds. */
double bench_now(void);
/* Median of v[0..n) (sorts v in place); 0 for n == 0. */
double bench_median(double *v, int n);
/* Writes `"key":[v0,v1,...]` (no leading comma) to f. */
void bench_json_array(FILE *f, const char *key, const double *v, int n);

/* Sets the kernels' threading as `ctrain train` does (ct_ops_set_threads) and
 * returns the OpenBLAS core name; NULL if the worker pool cannot start. */
const char *bench_threads_setup(int threads, int deterministic);
/* OpenBLAS alone with its own threads (the sgemm-bound measurement). */
const char *bench_blas_setup(int threads);

/* One timed window of a repeated unit of work: at least `sec` seconds and
 * `min_units` units.  cpu is the CPU time of the whole process (all threads),
 * which preemption by other processes does not inflate. */
typedef int64_t (*bench_unit_fn)(void *ctx); /* runs one unit, returns its samples */
typedef struct bench_window {
	double wall, cpu;
	int64_t samples, units;
} bench_window;
bench_window bench_run_window(bench_unit_fn fn, void *ctx, double sec, int min_units);
/* Runs units for `sec` seconds (warm-up). */
void bench_warm(bench_unit_fn fn, void *ctx, double sec);
double bench_cpu_now(void);

/* The sgemm calls of one step with the step's shapes (bench_gemm.c). */
typedef struct gemm_set gemm_set;
gemm_set *gemm_set_new(const bench_opts *o, ct_err *e);
void gemm_set_free(gemm_set *g);
int64_t gemm_set_unit(void *g);        /* the step's products; returns the batch */
int64_t gemm_set_unit_all_dx(void *g); /* the same plus the first layer's dX */
double bench_step_flops(const bench_opts *o, int all_dx);

/* Subcommands. */
int bench_cmd_info(const bench_opts *o, ct_err *e);
int bench_cmd_step(const bench_opts *o, ct_err *e);
int bench_cmd_sgemm(const bench_opts *o, ct_err *e);
int bench_cmd_ckpt(const bench_opts *o, ct_err *e);
int bench_cmd_serve(const bench_opts *o, ct_err *e);

#endif
