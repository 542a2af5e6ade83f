#!/bin/sh
# Larger than memory: a 2 GB HDF5 training set (generated here, deleted at the
# end) trained with data.memory_mb = 256 streams from the file: peak RSS under
# 400 MB, and a run killed with SIGKILL and resumed gives the bytes of an
# uninterrupted run.  A NaN met while streaming exits 1 naming file, dataset
# and row.  (Same rows per epoch as in memory, order, resume at any position:
# test_data_scale's test_stream_order.)  Under ASan the file is 64 MB and
# memory_mb 16, and RSS is not measured (shadow memory is not the program's).
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c 'import h5py, numpy' 2>/dev/null || fail "python3-h5py/numpy missing: run make deps"

# kill at step $kill, checkpoints every $every steps
if [ -n "${ASAN_OPTIONS:-}" ]; then
	mb=64 budget=16 kill=70 every=30
else
	mb=2048 budget=256 kill=700 every=300
fi
$PY - "$T/big.h5" $mb <<'PYEOF' || fail "could not write the data"
import sys, h5py, numpy as np
path, mb = sys.argv[1], int(sys.argv[2])
d = 256
n = mb * 2**20 // (4 * d)
g = np.random.default_rng(1)
with h5py.File(path, "w") as f:
    X = f.create_dataset("features", (n, d), dtype="f4", chunks=(1024, d))
    Y = f.create_dataset("labels", (n,), dtype="i8", chunks=(65536,))
    step = 65536
    for r in range(0, n, step):
        k = min(step, n - r)
        y = np.arange(r, r + k) % 4
        x = g.standard_normal((k, d), dtype=np.float32)
        x[:, 0] += 2 * y; x[:, 1] -= 2 * y
        X[r:r + k] = x; Y[r:r + k] = y
PYEOF
ls -l "$T/big.h5" | awk '{print "file: " $5 " bytes"}'

cat > "$T/s.ini" <<INI
[model]
layers = 256,32,4
[optim]
name = sgd
lr = 0.05
[data]
dataset = hdf5
path = $T/big.h5
memory_mb = $budget
val_fraction = 0.005
batch_size = 512
[train]
epochs = 1
seed = 3
log_every = 200
[checkpoint]
every_steps = $every
keep_last = 2
INI
peak() { # peak DIR EXTRA-ENV...: ctrain train, prints peak RSS in KiB
	_d=$1; shift
	env "$@" $PY -c '
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=open(sys.argv[-1] + ".err", "w"))
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)' \
		"$CTRAIN" train --config "$T/s.ini" --run-dir "$_d"
}
t0=$(date +%s)
set -- $(peak "$T/a")
[ "$2" -eq 0 ] || fail "train: $(cat "$T/a.err")"
grep -q "streaming .*big.h5" "$T/a.err" || fail "not streamed: $(cat "$T/a.err")"
t1=$(date +%s)
if [ -n "${ASAN_OPTIONS:-}" ]; then
	ok "streamed $mb MB with memory_mb = $budget in $((t1 - t0)) s"
else
	[ "$1" -lt 409600 ] || fail "peak RSS $1 KiB >= 400 MB"
	ok "streamed $mb MB with memory_mb = $budget in $((t1 - t0)) s: peak RSS $(($1 / 1024)) MB"
fi
acc=$(grep -o "val_accuracy=[0-9.]*" "$T/a.err" | tail -1)

# kill -9 after step $kill, resume: the same bytes
set -- $(peak "$T/b" CTRAIN_TEST_SIGNAL_AT_STEP=$kill:9)
[ "$2" -eq -9 ] || [ "$2" -eq 137 ] || fail "expected death by SIGKILL, got $2: $(cat "$T/b.err")"
"$CTRAIN" resume "$T/b" >/dev/null 2>"$T/b2.err" || fail "resume: $(cat "$T/b2.err")"
# the newest durable checkpoint: $from, or an earlier one when the kill came
# before the background write of $from was done (seen under ASan)
ck=$(grep -o "ckpt-[0-9]*" "$T/b2.err" | head -1)
[ -n "$ck" ] || fail "did not resume from a checkpoint: $(cat "$T/b2.err")"
from=$(echo "$ck" | sed 's/ckpt-0*//')
[ "$from" -gt 0 ] && [ "$from" -lt "$kill" ] || fail "resumed from $ck"
cmp -s "$T/a/model.safetensors" "$T/b/model.safetensors" || fail "killed and resumed run differs"
same_metrics "$T/a/metrics.csv" "$T/b/metrics.csv" || fail "metrics differ after resume"
ok "kill -9 at step $kill, resumed from step $from: identical weights and metrics"
rm -f "$T/big.h5"

# a NaN met while streaming: exit 1 naming file, dataset and row
$PY -c "
import h5py, numpy as np
X = np.ones((40000, 64), 'f4'); X[31234, 5] = np.nan
with h5py.File('$T/nan.h5', 'w') as f: f['features'] = X; f['labels'] = np.arange(40000) % 2"
sed -e "s|^path = .*|path = $T/nan.h5|" -e "s|^layers = .*|layers = 64,8,2|" -e "s|^memory_mb = .*|memory_mb = 4|" "$T/s.ini" > "$T/nan.ini"
"$CTRAIN" train --config "$T/nan.ini" --run-dir "$T/nan" >/dev/null 2>"$T/nan.err"
rc=$?
[ $rc -eq 1 ] || fail "NaN while streaming: exit $rc: $(cat "$T/nan.err")"
grep -q "nan.h5: dataset 'features': row 31234, feature 5 is NaN" "$T/nan.err" || fail "$(cat "$T/nan.err")"
ok "NaN at row 31234 met while streaming: exit 1, named"
finish
