#!/usr/bin/python3
"""duel.py - ctrain and PyTorch on one configuration, window by window.

    duel.py --bench build/bench/bench_step --layers 784,256,10 --optim sgd \\
            --batch 32 --threads 1 [--rounds 8] [--window-sec 0.25] [--nondet]

Starts `bench_step serve` and `bench_torch.py serve` (and, with --nondet, a
second bench_step with --deterministic 0), warms each up, then runs --rounds
rounds; a round is one timed window of each program, one after the other,
plus one window of the step's sgemm calls alone ("g": the sgemm-bound rate),
the order reversed every other round.  Programs wait on stdin between
windows, so only one runs at a time, and windows compared with each other are
a fraction of a second apart: load from other processes that comes and goes
hits both sides alike.  The machine this was written on is shared, and a
per-round ratio turned out far steadier than comparing runs seconds apart.

Prints JSON lines (run.sh appends them to bench_raw.jsonl): a "step" record
per program and a "sgemm" record, in bench_step's format plus cpu_rates, and
a "pair" record with the per-round ratios ctrain/torch (wall clock and CPU
time) and ctrain/sgemm-bound.  Thread variables come from the environment.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", required=True)
    ap.add_argument("--layers", required=True)
    ap.add_argument("--optim", required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--window-sec", type=float, default=0.25)
    ap.add_argument("--warmup-sec", type=float, default=0.3)
    ap.add_argument("--nondet", action="store_true")
    return ap.parse_args()


class Server:
    def __init__(self, name, argv):
        self.name = name
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1)
        self.wins = []

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise SystemExit(f"duel.py: {self.name} exited (status {self.p.wait()})")
        out = json.loads(line)
        if "error" in out:
            raise SystemExit(f"duel.py: {self.name}: {out['error']}")
        return out

    def finish(self):
        end = self.ask("q")
        if self.p.wait() != 0:
            raise SystemExit(f"duel.py: {self.name} failed")
        return end


def common(a):
    return ["--layers", a.layers, "--optim", a.optim, "--batch", str(a.batch),
            "--threads", str(a.threads), "--window-sec", str(a.window_sec),
            "--warmup-sec", str(a.warmup_sec)]


def rates(wins, clock):
    return [w["samples"] / w[clock] for w in wins]


def step_record(a, impl, wins, end, extra):
    r = {"kind": "step", "impl": impl, "layers": a.layers, "optim": a.optim,
         "batch": a.batch, "threads": a.threads}
    r.update(extra)
    r.update({k: v for k, v in end.items() if k != "kind"})
    wall = rates(wins, "wall")
    r.update({"rates": [round(x, 3) for x in wall],
              "cpu_rates": [round(x, 3) for x in rates(wins, "cpu")],
              "median_sps": statistics.median(wall)})
    return r


def main():
    a = parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    c = Server("ctrain", [a.bench, "serve"] + common(a))
    t = Server("torch", [sys.executable, os.path.join(here, "bench_torch.py"), "serve"]
               + common(a))
    n = Server("ctrain --deterministic 0", [a.bench, "serve", "--deterministic", "0"]
               + common(a)) if a.nondet else None
    players = [(c, "s"), (t, "s"), (c, "g")] + ([(n, "s")] if n else [])
    gemm = []
    for s in [c, t] + ([n] if n else []):
        s.ask("w")
    for i in range(a.rounds):
        for s, cmd in (players if i % 2 == 0 else players[::-1]):
            (gemm if cmd == "g" else s.wins).append(s.ask(cmd))
    ends = {s.name: s.finish() for s in [c, t] + ([n] if n else [])}

    print(json.dumps(step_record(a, "ctrain", c.wins, ends["ctrain"], {"deterministic": 1})))
    print(json.dumps(step_record(a, "torch", t.wins, ends["torch"], {})))
    if n:
        print(json.dumps(step_record(a, "ctrain", n.wins, ends[n.name], {"deterministic": 0})))
    g = rates(gemm, "wall")
    print(json.dumps({"kind": "sgemm", "impl": "ctrain", "layers": a.layers, "batch": a.batch,
                      "threads": a.threads, "optim": a.optim, "rates": [round(x, 3) for x in g],
                      "median_sps": statistics.median(g)}))
    cw, tw = rates(c.wins, "wall"), rates(t.wins, "wall")
    cc, tc = rates(c.wins, "cpu"), rates(t.wins, "cpu")
    print(json.dumps({"kind": "pair", "layers": a.layers, "optim": a.optim, "batch": a.batch,
                      "threads": a.threads,
                      "ratios": [round(x / y, 4) for x, y in zip(cw, tw)],
                      "cpu_ratios": [round(x / y, 4) for x, y in zip(cc, tc)],
                      "bound_ratios": [round(x / y, 4) for x, y in zip(cw, g)]}))


if __name__ == "__main__":
    main()
