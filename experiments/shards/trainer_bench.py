#!/usr/bin/env python3
"""The price of shards in the real trainer (issue 17): `ctrain train --set
train.shards=S` on synthetic data (784 features, 10 classes), P = 1, 1 thread,
OPENBLAS_NUM_THREADS=1, no checkpoints but the final one, no validation.

The rate of one configuration is samples per CPU second of the training
alone: each configuration runs for 1 and for 2 epochs of the same data, and
the difference of the two runs' CPU times (getrusage of the children) is one
epoch of steps, without the start, the data generation and the final writes.
Every configuration once per round, the rounds side by side; one JSON line
per run pair, with the 1-minute load average.
usage: trainer_bench.py CTRAIN [ROUNDS] [OUT.jsonl]"""
import json
import os
import resource
import subprocess
import sys
import tempfile

ctrain = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
out = sys.argv[3] if len(sys.argv) > 3 else "experiments/results/scaling_trainer_raw.jsonl"
ROWS = {"784,256,10": 32768, "784,1024,1024,10": 8192}
env = dict(os.environ, OPENBLAS_NUM_THREADS="1")


def cpu_of(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run(tmp, layers, batch, shards, epochs):
    ini = os.path.join(tmp, "run.ini")
    with open(ini, "w") as f:
        f.write(f"[model]\nlayers = {layers}\n[data]\ndataset = synthetic\n"
                f"n_samples = {ROWS[layers]}\nn_features = 784\nn_classes = 10\n"
                f"val_fraction = 0\nbatch_size = {batch}\n[train]\nepochs = {epochs}\n"
                f"threads = 1\nlog_every = 1000000\nshards = {shards}\n"
                f"[checkpoint]\nevery_steps = 0\n")
    return cpu_of([ctrain, "train", "--config", ini, "--run-dir", os.path.join(tmp, "r"),
                   "--overwrite"])


with open(out, "w") as f, tempfile.TemporaryDirectory() as tmp:
    for rnd in range(1, rounds + 1):
        for layers in ROWS:
            for batch in (32, 128, 512):
                for shards in (1, 2, 4, 8):
                    c1 = run(tmp, layers, batch, shards, 1)
                    c2 = run(tmp, layers, batch, shards, 2)
                    line = {"kind": "trainer", "layers": layers, "batch": batch,
                            "shards": shards, "rows": ROWS[layers], "cpu_1": round(c1, 3),
                            "cpu_2": round(c2, 3),
                            "cpu_sps": round(ROWS[layers] / max(c2 - c1, 1e-9), 1),
                            "load1": float(open("/proc/loadavg").read().split()[0]),
                            "round": rnd, "openblas_num_threads": 1}
                    print(json.dumps(line), flush=True)
                    f.write(json.dumps(line) + "\n")
                    f.flush()
