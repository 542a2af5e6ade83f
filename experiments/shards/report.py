#!/usr/bin/env python3
"""Tables of experiments/results/scaling_raw.jsonl (experiments/shards/run.sh)
in Markdown: the price of shards at P = 1, ranks vs threads, the exchange.
Throughput is samples/s of CPU time (the whole process, all threads) and of
wall time; the best of the rounds.  Under mpirun the CPU time is rank 0's,
so "all ranks" divides its rate by P (each rank does 1/P of the work); the
exchange's wait is busy polling, so it counts as CPU (the machine is shared, so the slower
rounds measure the neighbours).  usage: report.py [scaling_raw.jsonl]"""
import json
import sys

rows = [json.loads(l) for l in open(sys.argv[1] if len(sys.argv) > 1 else
                                     "experiments/results/scaling_raw.jsonl") if l.strip()]
steps = [r for r in rows if r.get("kind") != "exchange"]
core = sorted({r["blas_core"] for r in steps})
print(f"OpenBLAS core: {', '.join(core)}; OPENBLAS_NUM_THREADS=1; "
      f"rounds per configuration: {max(1, len(steps) // 30)}\n")


def best(sel, key):
    return max(r[key] for r in sel) if sel else float("nan")


print("### Price of shards at P = 1, 1 thread (S = 0: today's step, no tree)\n")
print("| layers | batch | S=0 cpu sps | S=1 | S=2 | S=4 | S=8 | S=4 vs S=0 (cpu) | S=4 vs S=0 (wall) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for layers in ("784,256,10", "784,1024,1024,10"):
    for batch in (32, 128, 512):
        sel = {s: [r for r in steps if r["layers"] == layers and r["batch"] == batch and
                   r["shards"] == s and r["ranks"] == 1 and r["threads"] == 1]
               for s in (0, 1, 2, 4, 8)}
        c = {s: best(v, "cpu_sps") for s, v in sel.items()}
        w = {s: best(v, "sps") for s, v in sel.items()}
        print(f"| {layers} | {batch} | {c[0]:.0f} | " +
              " | ".join(f"{c[s]:.0f}" for s in (1, 2, 4, 8)) +
              f" | {100 * (c[4] / c[0] - 1):+.1f}% | {100 * (w[4] / w[0] - 1):+.1f}% |")

print("\n### 784-1024-1024-10, batch 512: 1 rank x 2 threads vs 2 ranks x 1 thread\n")
print("| S | P x threads | wall sps | cpu sps (all ranks) | exchange share of the step | exchange ms/step |")
print("| ---: | --- | ---: | ---: | ---: | ---: |")
for r in steps:
    if r["layers"] == "784,1024,1024,10" and r["batch"] == 512 and \
            (r["ranks"] == 2 or r["threads"] == 2):
        print(f"| {r['shards']} | {r['ranks']} x {r['threads']} | {r['sps']:.0f} | "
              f"{r['cpu_sps'] / r['ranks']:.0f} | {100 * r['exchange_share']:.1f}% | {r['exchange_ms']:.2f} |")

print("\n### The exchange alone on 2 ranks (MPI_Barrier, then ct_dist_step_exchange; 50 times)\n")
print("| layers | node bytes | min ms | median ms | GB/s at the median |")
print("| --- | ---: | ---: | ---: | ---: |")
for r in rows:
    if r.get("kind") == "exchange":
        print(f"| {r['layers']} | {r['node_bytes']} | {r['exchange_ms_min']:.2f} | "
              f"{r['exchange_ms_median']:.2f} | {r['gbytes_per_s']:.2f} |")
