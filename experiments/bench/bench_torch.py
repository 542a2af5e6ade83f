#!/usr/bin/python3
"""bench_torch.py - the PyTorch side of experiments/bench (run with /usr/bin/python3).

    bench_torch.py info --threads 1
    bench_torch.py step --layers 784,256,10 --optim sgd --batch 32 --threads 1
    bench_torch.py serve ...same options...     # windows on demand, for duel.py

Does what bench_step does, the way a PyTorch user writes it: nn.Sequential of
Linear/ReLU, CrossEntropyLoss, torch.optim.SGD(momentum=0.9, lr=0.01) or
Adam(lr=1e-3) with their defaults, a shuffled batch gathered from a random
data set of --rows rows each step (index_select with a new randperm per epoch,
as ctrain's loader copies rows in a shuffled order), zero_grad(set_to_none=True),
forward, loss, backward, step, loss.item() (the trainer sums the loss every
step too).  Same timing protocol as bench_step (bench.h): warm-up, then
--windows windows of >= --window-sec seconds and >= --min-steps steps; one
JSON line on stdout with every window's samples/s and the median.  `serve`
speaks bench_step serve's protocol on stdin/stdout (w = warm-up, s = one
window, q = quit), so duel.py can alternate the two programs window by window.

Threads: torch.set_num_threads(--threads); OMP/OpenBLAS/MKL thread variables
are set by run.sh before this process starts, identically for both sides.
"""
import argparse
import ctypes
import json
import math
import statistics
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cmd", choices=["info", "step", "serve"])
    ap.add_argument("--layers", default="784,256,10")
    ap.add_argument("--optim", choices=["sgd", "adam"], default="sgd")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--windows", type=int, default=7)
    ap.add_argument("--window-sec", type=float, default=0.3)
    ap.add_argument("--warmup-sec", type=float, default=0.3)
    ap.add_argument("--min-steps", type=int, default=3)
    ap.add_argument("--rows", type=int, default=8192)
    return ap.parse_args()


def openblas_info():
    """Core name and thread count of the OpenBLAS that torch loaded (if any)."""
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "libopenblas" in line}
    for path in sorted(libs):
        lib = ctypes.CDLL(path)
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        return {"openblas_path": path,
                "blas_core": lib.openblas_get_corename().decode(),
                "blas_config": lib.openblas_get_config().decode(),
                "blas_threads": lib.openblas_get_num_threads()}
    return {"openblas_path": None, "blas_core": "none"}


def info(args, torch):
    cfg = torch.__config__.show()
    keep = [ln.strip() for ln in cfg.splitlines()
            if any(k in ln for k in ("BLAS", "LAPACK", "MKL", "OpenMP", "CPU capability"))]
    # BLAS_INFO=generic means "whatever libblas.so.3 is": on Debian the
    # alternatives link, normally OpenBLAS (pthread variant).
    keep = [k if len(k) < 200 else ", ".join(p for p in k.split(", ")
                                            if "BLAS" in p or "LAPACK" in p) for k in keep]
    out = {"kind": "info", "impl": "torch", "torch": torch.__version__,
           "torch_threads": torch.get_num_threads(),
           "mkldnn": torch.backends.mkldnn.is_available(),
           "torch_config": keep}
    out.update(openblas_info())
    print(json.dumps(out))


def build(args, torch):
    sizes = [int(s) for s in args.layers.split(",")]
    mods = []
    for i in range(len(sizes) - 1):
        mods.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            mods.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*mods)
    if args.optim == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(args.rows, sizes[0], generator=g) * 2 - 1
    y = torch.randint(0, sizes[-1], (args.rows,), generator=g)
    return model, opt, x, y


class Loader:
    """Shuffled batches: a new permutation per epoch, rows gathered (copied)."""

    def __init__(self, torch, x, y, batch):
        self.torch, self.x, self.y, self.batch = torch, x, y, batch
        self.g = torch.Generator().manual_seed(2)
        self.perm, self.cursor = None, len(x)

    def next(self):
        if self.cursor >= len(self.x):
            self.perm = self.torch.randperm(len(self.x), generator=self.g)
            self.cursor = 0
        idx = self.perm[self.cursor:self.cursor + self.batch]
        self.cursor += self.batch
        return self.x.index_select(0, idx), self.y.index_select(0, idx)


class Stepper:
    """The model, optimizer and loader; one training step per call."""

    def __init__(self, args, torch):
        torch.manual_seed(1)
        self.model, self.opt, x, y = build(args, torch)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.loader = Loader(torch, x, y, args.batch)
        self.args, self.steps, self.first, self.loss = args, 0, None, None

    def step(self):
        xb, yb = self.loader.next()
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(xb), yb)
        loss.backward()
        self.opt.step()
        self.loss = loss.item()
        if self.first is None:
            self.first = self.loss
        self.steps += 1
        return len(xb)

    def warm(self):
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < self.args.warmup_sec:
            self.step()

    def window(self):
        """One window: wall and process CPU seconds, samples, steps."""
        t0, c0, n, samples = time.perf_counter(), time.process_time(), 0, 0
        while True:
            samples += self.step()
            n += 1
            t = time.perf_counter()
            if t - t0 >= self.args.window_sec and n >= self.args.min_steps:
                break
        return {"wall": t - t0, "cpu": time.process_time() - c0, "samples": samples,
                "units": n}

    def check(self):
        if not math.isfinite(self.loss):
            raise SystemExit(f"bench_torch.py: loss is {self.loss} after {self.steps} steps")


def step_bench(args, torch):
    s = Stepper(args, torch)
    s.warm()
    wins = [s.window() for _ in range(args.windows)]
    s.check()
    rates = [w["samples"] / w["wall"] for w in wins]
    print(json.dumps({"kind": "step", "impl": "torch", "layers": args.layers,
                      "optim": args.optim, "batch": args.batch, "threads": args.threads,
                      "torch_threads": torch.get_num_threads(), "steps": s.steps,
                      "loss_first": s.first, "loss_last": s.loss,
                      "rates": [round(r, 3) for r in rates],
                      "cpu_rates": [round(w["samples"] / w["cpu"], 3) for w in wins],
                      "median_sps": statistics.median(rates)}))


def serve(args, torch):
    s = Stepper(args, torch)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "q":
            break
        if cmd == "w":
            s.warm()
            out = {"ok": 1}
        elif cmd == "s":
            out = s.window()
        else:
            out = {"error": "unknown command"}
        print(json.dumps(out), flush=True)
    s.check()
    print(json.dumps({"kind": "end", "torch_threads": torch.get_num_threads(),
                      "steps": s.steps, "loss_first": s.first, "loss_last": s.loss}),
          flush=True)


def main():
    args = parse_args()
    import torch
    torch.set_num_threads(args.threads)
    {"info": info, "step": step_bench, "serve": serve}[args.cmd](args, torch)


if __name__ == "__main__":
    main()
