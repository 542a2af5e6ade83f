#!/usr/bin/python3
"""Time to the first training step and peak RSS: ctrain (CSV, HDF5 in memory,
HDF5 streamed) against the PyTorch equivalents (numpy.loadtxt; an h5py-backed
torch Dataset with a DataLoader, 0 and 2 workers).

usage: /usr/bin/python3 experiments/bench/data_first_step.py CTRAIN [MB...]
Writes its files under $TMPDIR and deletes them.  Prints a Markdown table.
ctrain's first step is the first metrics line on stderr with log_every = 1.
"""
import os, shutil, subprocess, sys, tempfile, time

import h5py
import numpy as np

CTRAIN = sys.argv[1]
SIZES = [int(a) for a in sys.argv[2:]] or [100, 500]
T = tempfile.mkdtemp(prefix="ctrain-first-step.", dir=os.environ.get("TMPDIR") or None)


def child(argv):
    """(seconds to the first 'step ' line on stderr, peak RSS MB) of a process."""
    t = time.time()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = None
    for line in p.stderr:
        if first is None and " step " in line:
            first = time.time() - t
            p.kill()
            break
    _, _, ru = os.wait4(p.pid, 0)
    p.returncode = 0
    return first, ru.ru_maxrss / 1024


def py_child(code):
    """Runs code in a fresh interpreter; it prints its own seconds; peak RSS of it."""
    t = time.time()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if r.returncode:
        sys.exit(r.stderr)
    return float(r.stdout.strip() or time.time() - t)


def ini(path, data, features):
    with open(path, "w") as f:
        f.write(f"[model]\nlayers = {features},64,10\n[optim]\nname = sgd\nlr = 0.01\n"
                f"[data]\n{data}\nval_fraction = 0.01\nbatch_size = 128\n"
                "[train]\nepochs = 1\nlog_every = 1\n[checkpoint]\nevery_steps = 0\n")


rows_out = []
try:
    # the 100 MB CSV of the issue: 100,000 x 100 features + label
    n, d = 100_000, 100
    g = np.random.default_rng(0)
    X = g.standard_normal((n, d)).astype(np.float32)
    y = np.arange(n) % 10
    csv = f"{T}/d.csv"
    np.savetxt(csv, np.column_stack([X, y]), delimiter=",", fmt="%.7g")
    ini(f"{T}/csv.ini", f"dataset = csv\npath = {csv}", d)
    s, rss = child([CTRAIN, "train", "--config", f"{T}/csv.ini", "--run-dir", f"{T}/rcsv"])
    rows_out.append(("CSV %d MB" % (os.path.getsize(csv) >> 20), "ctrain", s, rss))
    t = py_child(f"import time, numpy as np; t = time.time(); np.loadtxt('{csv}', delimiter=',', dtype=np.float32); print(time.time() - t)")
    rows_out.append(("CSV %d MB" % (os.path.getsize(csv) >> 20), "numpy.loadtxt", t, float("nan")))
    for mb in SIZES:
        d = 784
        n = mb * 2**20 // (4 * d)
        h5 = f"{T}/d{mb}.h5"
        with h5py.File(h5, "w") as f:
            Xd = f.create_dataset("features", (n, d), "f4", chunks=(256, d))
            f["labels"] = np.arange(n) % 10
            for r in range(0, n, 32768):
                k = min(32768, n - r)
                Xd[r:r + k] = g.standard_normal((k, d), dtype=np.float32)
        for mode, budget in (("in memory", 0), ("streamed", max(1, mb // 8))):
            ini(f"{T}/h5.ini", f"dataset = hdf5\npath = {h5}\nmemory_mb = {budget}", d)
            s, rss = child([CTRAIN, "train", "--config", f"{T}/h5.ini", "--run-dir", f"{T}/r{mb}{budget}"])
            rows_out.append((f"HDF5 {mb} MB", f"ctrain, {mode}", s, rss))
        for workers in (0, 2):
            code = f"""
import time, h5py, torch
t = time.time()
class D(torch.utils.data.Dataset):
    def __init__(s): s.f = None; s.n = h5py.File('{h5}', 'r')['labels'].shape[0]
    def __len__(s): return s.n
    def __getitem__(s, i):
        if s.f is None: s.f = h5py.File('{h5}', 'r')
        return torch.from_numpy(s.f['features'][i]), int(s.f['labels'][i])
dl = torch.utils.data.DataLoader(D(), batch_size=128, shuffle=True, num_workers={workers})
next(iter(dl)); print(time.time() - t)"""
            rows_out.append((f"HDF5 {mb} MB", f"h5py Dataset + DataLoader, {workers} workers", py_child(code), float("nan")))
finally:
    shutil.rmtree(T, ignore_errors=True)

print("| input | reader | seconds to the first step | peak RSS MB |")
print("| --- | --- | --- | --- |")
for a, b, s, r in rows_out:
    print(f"| {a} | {b} | {s:.2f} | {'' if r != r else '%.0f' % r} |")
