#!/usr/bin/python3
"""Time to the first training step and peak RSS, side by side in one run:
ctrain (Fashion-MNIST IDX.gz, the 100 MB CSV, synthetic data, HDF5 files in memory
and streamed) against the PyTorch equivalents (the IDX files read with numpy into a
TensorDataset; numpy.loadtxt; an h5py-backed torch Dataset with a DataLoader, 0 and
2 workers), every reader ending with one SGD step of the same MLP at batch 128.

usage: /usr/bin/python3 experiments/bench/data_first_step.py CTRAIN [--old OLD_CTRAIN] [MB...]
  MB: HDF5 file sizes (default 100 500 1000 2000).  --old: a ctrain built from an
  earlier commit, run on the synthetic row for a before/after comparison.
Writes its files under $TMPDIR and deletes them.  Prints Markdown tables.
Every process is started fresh (imports and library loading count) with
OPENBLAS_NUM_THREADS=1; the clock stops at its first step (ctrain: the first
"step" log line with log_every = 1; Python: a line it prints after optimizer.step()).
Peak RSS is the VmHWM of the process at its first step (a DataLoader's worker
processes are not counted).
"""
import ctypes, os, shutil, subprocess, sys, tempfile, time

import h5py
import numpy as np

args = sys.argv[1:]
CTRAIN = args.pop(0)
OLD = None
if args and args[0] == "--old":
    args.pop(0)
    OLD = args.pop(0)
SIZES = [int(a) for a in args] or [100, 500, 1000, 2000]
FM = "/usr/share/datasets/fashion-mnist"
T = tempfile.mkdtemp(prefix="ctrain-first-step.", dir=os.environ.get("TMPDIR") or None)
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")


def vmhwm(pid):
    """Peak RSS (MB) of a live process since its exec."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(argv):
    """(seconds to the first 'step' line on stderr, peak RSS MB until then) of a fresh
    process, which is then killed.  RSS is VmHWM read from /proc at that line (wait4's
    ru_maxrss would count the Python parent's pages at fork)."""
    t = time.time()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    first, err, rss = None, [], float("nan")
    for line in p.stderr:
        err.append(line)
        if " step " in line or line.startswith("step "):
            first = time.time() - t
            rss = vmhwm(p.pid)
            break
    p.kill()
    p.wait()
    p.stderr.close()
    if first is None:
        sys.exit("no first step from %s:\n%s" % (" ".join(argv), "".join(err[-20:])))
    return first, rss


STEP = """
import torch
torch.set_num_threads(1)
torch.manual_seed(0)
m = torch.nn.Sequential(torch.nn.Linear({d}, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
opt = torch.optim.SGD(m.parameters(), lr=0.01)
xb, yb = next(iter(dl))
loss = torch.nn.functional.cross_entropy(m(xb.float()), yb.long())
opt.zero_grad(); loss.backward(); opt.step()
import sys, time; print("step 1", file=sys.stderr, flush=True); time.sleep(60)
"""


def py(code, d):
    return child([sys.executable, "-c", code + STEP.format(d=d)])


def ini(path, data, features):
    with open(path, "w") as f:
        f.write(f"[model]\nlayers = {features},64,10\n[optim]\nname = sgd\nlr = 0.01\n"
                f"[data]\n{data}\nval_fraction = 0.01\nbatch_size = 128\n"
                "[train]\nepochs = 1\nlog_every = 1\nthreads = 1\n[checkpoint]\nevery_steps = 0\n")


def run_ctrain(binary, name, data, d, extra=()):
    ini(f"{T}/{name}.ini", data, d)
    return child([binary, "train", "--config", f"{T}/{name}.ini", "--run-dir", f"{T}/r{name}", *extra])


def corename():
    for lib in ("libopenblas.so.0", "libopenblasp.so.0", "libblas.so.3"):
        try:
            f = ctypes.CDLL(lib).openblas_get_corename
            f.restype = ctypes.c_char_p
            return f().decode()
        except (OSError, AttributeError):
            pass
    return "unknown"


tables = {"small": [], "synthetic": [], "hdf5": []}
try:
    # Fashion-MNIST, IDX.gz (60,000 training images)
    if os.path.exists(f"{FM}/train-images-idx3-ubyte.gz"):
        s, r = run_ctrain(CTRAIN, "fm", f"dataset = fashion-mnist\npath = {FM}", 784)
        tables["small"].append(("Fashion-MNIST (IDX.gz)", "ctrain", s, r))
        for w in (0, 2):
            code = f"""
import gzip, numpy as np, torch
with gzip.open('{FM}/train-images-idx3-ubyte.gz') as f: X = np.frombuffer(f.read(), np.uint8, offset=16)
with gzip.open('{FM}/train-labels-idx1-ubyte.gz') as f: y = np.frombuffer(f.read(), np.uint8, offset=8)
X = torch.from_numpy(X.reshape(-1, 784).astype(np.float32) / 255); y = torch.from_numpy(y.astype(np.int64))
dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=128, shuffle=True, num_workers={w})"""
            s, r = py(code, 784)
            tables["small"].append(("Fashion-MNIST (IDX.gz)", f"numpy + TensorDataset, DataLoader {w} workers", s, r))

    # the 100 MB CSV of the issue: 100,000 x 100 features + label
    n, d = 100_000, 100
    g = np.random.default_rng(0)
    X = g.standard_normal((n, d)).astype(np.float32)
    y = np.arange(n) % 10
    csv = f"{T}/d.csv"
    np.savetxt(csv, np.column_stack([X, y]), delimiter=",", fmt="%.7g")
    del X
    name = "CSV %d MB (100,000 x 100)" % (os.path.getsize(csv) // 10**6)
    s, r = run_ctrain(CTRAIN, "csv", f"dataset = csv\npath = {csv}", d)
    tables["small"].append((name, "ctrain", s, r))
    code = f"""
import numpy as np, torch
a = np.loadtxt('{csv}', delimiter=',', dtype=np.float32)
ds = torch.utils.data.TensorDataset(torch.from_numpy(a[:, :-1]), torch.from_numpy(a[:, -1].astype(np.int64)))
dl = torch.utils.data.DataLoader(ds, batch_size=128, shuffle=True)"""
    s, r = py(code, d)
    tables["small"].append((name, "numpy.loadtxt + TensorDataset", s, r))

    # synthetic 131,072 x 784: before (sequential generator) and after
    syn = "dataset = synthetic\nn_samples = 131072\nn_features = 784\nn_classes = 10"
    for threads in (1, 2):
        extra = ("--set", f"train.threads={threads}")
        if OLD:
            s, r = run_ctrain(OLD, f"so{threads}", syn, 784, extra)
            tables["synthetic"].append(("ctrain before (sequential generator)", threads, s, r))
        s, r = run_ctrain(CTRAIN, f"sq{threads}", syn + "\ngenerator = sequential", 784, extra)
        tables["synthetic"].append(("ctrain, generator = sequential", threads, s, r))
        s, r = run_ctrain(CTRAIN, f"sc{threads}", syn, 784, extra)
        tables["synthetic"].append(("ctrain, generator = counter", threads, s, r))

    # HDF5 files from 0.1 to 2 GB, 784 float32 features, chunks of 256 rows, no compression
    for mb in SIZES:
        d = 784
        n = mb * 10**6 // (4 * d)
        h5 = f"{T}/d{mb}.h5"
        with h5py.File(h5, "w") as f:
            Xd = f.create_dataset("features", (n, d), "f4", chunks=(256, d))
            f["labels"] = (np.arange(n) % 10).astype(np.int32)
            for r0 in range(0, n, 32768):
                k = min(32768, n - r0)
                Xd[r0:r0 + k] = g.standard_normal((k, d), dtype=np.float32)
        name = f"{mb / 1000:g} GB ({n:,} rows)"
        for mode, budget in (("ctrain, in memory", 100000), ("ctrain, streamed (memory_mb = 64)", 64)):
            s, r = run_ctrain(CTRAIN, f"h{mb}_{budget}", f"dataset = hdf5\npath = {h5}\nmemory_mb = {budget}", d)
            tables["hdf5"].append((name, mode, s, r))
        for w in (0, 2):
            code = f"""
import h5py, torch
class D(torch.utils.data.Dataset):
    def __init__(s): s.f = None; s.n = h5py.File('{h5}', 'r')['labels'].shape[0]
    def __len__(s): return s.n
    def __getitem__(s, i):
        if s.f is None: s.f = h5py.File('{h5}', 'r')
        return torch.from_numpy(s.f['features'][i]), int(s.f['labels'][i])
dl = torch.utils.data.DataLoader(D(), batch_size=128, shuffle=True, num_workers={w})"""
            s, r = py(code, d)
            tables["hdf5"].append((name, f"h5py Dataset + DataLoader, {w} workers", s, r))
        os.unlink(h5)
finally:
    shutil.rmtree(T, ignore_errors=True)

print(f"OpenBLAS core {corename()}, OPENBLAS_NUM_THREADS=1, {os.cpu_count()} CPUs, "
      f"load average {os.getloadavg()[0]:.1f} at the end\n")
print("| input | reader | seconds to the first step | peak RSS MB |")
print("| --- | --- | ---: | ---: |")
for a, b, s, r in tables["small"]:
    print(f"| {a} | {b} | {s:.2f} | {r:.0f} |")
print("\nsynthetic 131,072 x 784 (411 MB of float32), 784-64-10:\n")
print("| ctrain | train.threads | seconds to the first step | peak RSS MB |")
print("| --- | ---: | ---: | ---: |")
for a, th, s, r in tables["synthetic"]:
    print(f"| {a} | {th} | {s:.2f} | {r:.0f} |")
print("\nHDF5 (784 float32 features, chunks of 256 rows, page cache warm):\n")
print("| file | reader | seconds to the first step | peak RSS MB |")
print("| --- | --- | ---: | ---: |")
for a, b, s, r in tables["hdf5"]:
    print(f"| {a} | {b} | {s:.2f} | {r:.0f} |")
