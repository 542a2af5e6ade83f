#!/usr/bin/env python3
"""Tables of experiments/results/scaling_raw.jsonl (experiments/shards/run.sh)
in Markdown, and with --dat DIR the data files that plot.sh draws.

Throughput is samples/s per CPU second of the whole job (every thread of
every rank: bench_shards sums the ranks' CPU times), which preemption by the
neighbours of a shared machine does not inflate, and samples/s of wall time;
each figure is the median over the rounds (run.sh measures every
configuration once per round, side by side).  Under mpirun the exchange's
wait is busy polling, so it counts as CPU.
usage: report.py [scaling_raw.jsonl] [--dat DIR]"""
import json
import os
import statistics
import sys

args = [a for a in sys.argv[1:] if not a.startswith("--")]
dat = sys.argv[sys.argv.index("--dat") + 1] if "--dat" in sys.argv else None
if dat and dat in args:
    args.remove(dat)
path = args[0] if args else "experiments/results/scaling_raw.jsonl"
rows = [json.loads(line) for line in open(path) if line.strip()]
steps = [r for r in rows if "kind" not in r]
med = statistics.median
MODELS = ("784,256,10", "784,1024,1024,10")


def sel(**kw):
    return [r for r in steps if all(r[k] == v for k, v in kw.items())]


def m(rs, key):
    return med(r[key] for r in rs) if rs else float("nan")


def loads(rs):
    v = [r["load1"] for r in rs if "load1" in r]
    return f"{min(v):.1f}-{max(v):.1f}" if v else "?"


machine = [r for r in rows if r.get("kind") == "machine"]
if machine:
    mc = machine[0]
    print(f"Machine: {mc['nproc']} CPUs ({mc['cpu']}), {mc['mpirun']}; at the start: {mc['uptime']}")
print(f"OpenBLAS core: {', '.join(sorted({r['blas_core'] for r in steps}))}; "
      f"OPENBLAS_NUM_THREADS={sorted({r.get('openblas_num_threads', 1) for r in steps})[0]}; "
      f"rounds: {max(r.get('round', 1) for r in steps)}; 1-minute load average during "
      f"the measurements: {loads(steps)}\n")

print("### (a) Price of shards at P = 1, 1 thread (S = 0: today's step, no tree)\n")
print("CPU samples/s, median of the rounds; the last columns: S = 4 against S = 0.\n")
print("| layers | batch | S=0 | S=1 | S=2 | S=4 | S=8 | S=4 vs S=0 (cpu) | (wall) | load |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
rel = {}
for layers in MODELS:
    for batch in (32, 128, 512):
        s_ = {s: sel(layers=layers, batch=batch, shards=s, ranks=1, threads=1)
              for s in (0, 1, 2, 4, 8)}
        c = {s: m(v, "cpu_sps") for s, v in s_.items()}
        w = {s: m(v, "sps") for s, v in s_.items()}
        rel[(layers, batch)] = {s: 100 * c[s] / c[0] for s in (1, 2, 4, 8)}
        print(f"| {layers} | {batch} | {c[0]:.0f} | " +
              " | ".join(f"{c[s]:.0f}" for s in (1, 2, 4, 8)) +
              f" | {100 * (c[4] / c[0] - 1):+.1f}% | {100 * (w[4] / w[0] - 1):+.1f}% |"
              f" {loads(sum(s_.values(), []))} |")

tpath = os.path.join(os.path.dirname(path), "scaling_trainer_raw.jsonl")
trainer = [json.loads(line) for line in open(tpath) if line.strip()] if os.path.exists(tpath) else []
trel = {}
if trainer:
    print("\n### (a) in the trainer: `ctrain train --set train.shards=S` (S = 1: today's step)\n")
    print("CPU samples/s of one epoch (the difference of 1- and 2-epoch runs), median of "
          f"{max(r['round'] for r in trainer)} rounds (trainer_bench.py).\n")
    print("| layers | batch | S=1 | S=2 | S=4 | S=8 | S=4 vs S=1 | load |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for layers in MODELS:
        for batch in (32, 128, 512):
            t_ = {sh: [r for r in trainer if r["layers"] == layers and r["batch"] == batch and
                       r["shards"] == sh] for sh in (1, 2, 4, 8)}
            if not all(t_.values()):
                continue
            c = {sh: m(v, "cpu_sps") for sh, v in t_.items()}
            trel[(layers, batch)] = {sh: 100 * c[sh] / c[1] for sh in (1, 2, 4, 8)}
            print(f"| {layers} | {batch} | " + " | ".join(f"{c[sh]:.0f}" for sh in (1, 2, 4, 8)) +
                  f" | {100 * (c[4] / c[1] - 1):+.1f}% | {loads(sum(t_.values(), []))} |")

print("\n### (b) 784-1024-1024-10: 2 ranks x 1 thread against 1 rank x 2 threads\n")
print("2x1: Open MPI's default (a waiting rank busy-polls); 2x1y: `--mca mpi_yield_when_idle 1`.\n")
print("| batch | S | cpu sps 1x2 | 2x1 | 2x1y | 2x1 / 1x2 (cpu) | 2x1y / 1x2 (cpu) "
      "| wall sps 1x2 | 2x1 | 2x1y | 2x1y / 1x2 (wall) | exchange share 2x1 / 2x1y | exchange ms 2x1 / 2x1y | load |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
pvt = []
for batch in (128, 512):
    for s in (2, 4, 8):
        a = sel(layers=MODELS[1], batch=batch, shards=s, ranks=1, threads=2)
        b2 = [r for r in sel(layers=MODELS[1], batch=batch, shards=s, ranks=2, threads=1)
              if not r.get("mpi_yield_when_idle")]
        y = [r for r in sel(layers=MODELS[1], batch=batch, shards=s, ranks=2, threads=1)
             if r.get("mpi_yield_when_idle")]
        if not a or not b2:
            continue
        rc, ryc = 100 * m(b2, "cpu_sps") / m(a, "cpu_sps"), 100 * m(y, "cpu_sps") / m(a, "cpu_sps")
        rw, ryw = 100 * m(b2, "sps") / m(a, "sps"), 100 * m(y, "sps") / m(a, "sps")
        pvt.append((batch, s, rc, ryc, rw, ryw))
        print(f"| {batch} | {s} | {m(a, 'cpu_sps'):.0f} | {m(b2, 'cpu_sps'):.0f} | {m(y, 'cpu_sps'):.0f} | "
              f"{rc:.0f}% | {ryc:.0f}% | {m(a, 'sps'):.0f} | {m(b2, 'sps'):.0f} | {m(y, 'sps'):.0f} | "
              f"{ryw:.0f}% | {100 * m(b2, 'exchange_share'):.0f}% / {100 * m(y, 'exchange_share'):.0f}% | "
              f"{m(b2, 'exchange_ms'):.1f} / {m(y, 'exchange_ms'):.1f} | {loads(a + b2 + y)} |")

print("\n### (c) The exchange alone on 2 ranks (MPI_Barrier, then one ct_dist_step_exchange; 50 times per round)\n")
print("| layers | node bytes | min ms | median ms | GB/s at the median | load |")
print("| --- | ---: | ---: | ---: | ---: | --- |")
for layers in MODELS:
    x = [r for r in rows if r.get("kind") == "exchange" and r["layers"] == layers]
    if x:
        print(f"| {layers} | {x[0]['node_bytes']} | {min(r['exchange_ms_min'] for r in x):.2f} | "
              f"{m(x, 'exchange_ms_median'):.2f} | {m(x, 'gbytes_per_s'):.2f} | {loads(x)} |")

print("\n### The tree alone at P = 1 (bench_tree: the pushes of one step)\n")
print("| layers | S | before ms | after ms | after / before | before GB/s | after GB/s "
      "| memcpy GB/s | same bytes | after, share of an S-shard step at batch 128 / 512 |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
for layers in MODELS:
    for s in (2, 4, 8):
        t = [r for r in rows if r.get("kind") == "tree" and r["layers"] == layers and r["shards"] == s]
        if not t:
            continue
        share = []
        for batch in (128, 512):
            c = m(sel(layers=layers, batch=batch, shards=s, ranks=1, threads=1), "cpu_sps")
            share.append(f"{100 * m(t, 'after_ms') / (1e3 * batch / c):.1f}%")
        print(f"| {layers} | {s} | {m(t, 'before_ms'):.3f} | {m(t, 'after_ms'):.3f} | "
              f"{100 * m(t, 'after_ms') / m(t, 'before_ms'):.0f}% | {m(t, 'before_gbps'):.0f} | "
              f"{m(t, 'after_gbps'):.0f} | {m(t, 'copy_gbps'):.0f} | "
              f"{'yes' if all(r['same_bytes'] for r in t) else 'NO'} | {' / '.join(share)} |")

if dat:
    os.makedirs(dat, exist_ok=True)
    for i, layers in enumerate(MODELS):
        with open(os.path.join(dat, f"shards_{i}.dat"), "w") as f:
            f.write("# S  batch32 batch128 batch512 (% of S = 0, cpu)\n")
            for s in (1, 2, 4, 8):
                f.write(f"{s} " + " ".join(f"{rel[(layers, b)][s]:.2f}" for b in (32, 128, 512)) + "\n")
    for i, layers in enumerate(MODELS):
        with open(os.path.join(dat, f"trainer_{i}.dat"), "w") as f:
            f.write("# S  batch32 batch128 batch512 (% of S = 1, cpu; ctrain train)\n")
            for sh in (1, 2, 4, 8):
                f.write(f"{sh} " + " ".join(f"{trel[(layers, b)][sh]:.2f}" if (layers, b) in trel
                                           else "nan" for b in (32, 128, 512)) + "\n")
    with open(os.path.join(dat, "ranks.dat"), "w") as f:
        f.write("# S  then per batch 128, 512: cpu 2x1, cpu 2x1y, wall 2x1, wall 2x1y (% of 1x2)\n")
        for s in (2, 4, 8):
            v = [r for r in pvt if r[1] == s]
            f.write(f"{s} " + " ".join(f"{x:.2f}" for r in sorted(v) for x in r[2:]) + "\n")
