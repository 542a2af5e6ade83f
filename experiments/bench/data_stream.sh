#!/bin/sh
# Streaming vs in-memory training throughput and peak RSS on one HDF5 file
# (784 features, 10 classes; model 784-256-10, SGD, batch 128, 1 thread, page
# cache warm).  usage: CTRAIN=build/ctrain sh experiments/bench/data_stream.sh [MB]
# Prints one line per mode: samples/s of the training loop, wall seconds,
# peak RSS.  The file lives under $TMPDIR and is deleted at the end.
set -eu
MB=${1:-512}
CTRAIN=${CTRAIN:-build/ctrain}
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/ctrain-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
$PY - "$T/d.h5" "$MB" <<'PYEOF'
import sys, h5py, numpy as np
path, mb = sys.argv[1], int(sys.argv[2]); d = 784
n = mb * 2**20 // (4 * d); g = np.random.default_rng(0)
with h5py.File(path, "w") as f:
    X = f.create_dataset("features", (n, d), "f4", chunks=(256, d))
    Y = f.create_dataset("labels", (n,), "i4")
    for r in range(0, n, 32768):
        k = min(32768, n - r); y = np.arange(r, r + k) % 10
        x = g.standard_normal((k, d), dtype=np.float32); x[:, :10] += 3 * np.eye(10, dtype=np.float32)[y]
        X[r:r + k] = x; Y[r:r + k] = y
PYEOF
cat /dev/null "$T/d.h5" > /dev/null # page cache
for mode in memory stream; do
	budget=0; [ $mode = stream ] && budget=$((MB / 8))
	cat > "$T/$mode.ini" <<INI
[model]
layers = 784,256,10
[optim]
name = sgd
lr = 0.01
[data]
dataset = hdf5
path = $T/d.h5
memory_mb = $budget
val_fraction = 0.01
batch_size = 128
[train]
epochs = 1
[checkpoint]
every_steps = 0
INI
	$PY -c '
import resource, subprocess, sys, time, re
t = time.time()
r = subprocess.run(sys.argv[2:], capture_output=True, text=True)
w = time.time() - t
m = re.search(r"samples_per_sec=([0-9.]+)", r.stdout)
print("%-7s %s MB: %8.0f samples/s, %5.1f s wall, peak RSS %4d MB" % (sys.argv[1], sys.argv[-1].split("/")[-1] and "'$MB'",
      float(m.group(1)) if m else -1, w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024))' \
		$mode "$CTRAIN" train --config "$T/$mode.ini" --run-dir "$T/r$mode"
done
