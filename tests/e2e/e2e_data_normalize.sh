#!/bin/sh
# data.normalize = standard with data.val_path / data.test_path: features
# around 1e5 train well only with it; the statistics are the training rows'
# (checked against NumPy), stored in the checkpoint (/data/norm_mean,
# /data/norm_std) and in model.safetensors' __metadata__, so that a resumed
# run gives identical bytes, eval and predict apply the same transform, and a
# PyTorch user who applies (x - mean) / std gets ctrain's logits.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c 'import torch, h5py, numpy' 2>/dev/null \
	|| fail "python3-torch/h5py/numpy missing: run make deps"

$PY - "$T" <<'PYEOF' || fail "could not write the data"
import sys, h5py, numpy as np
t = sys.argv[1]
r = np.random.RandomState(3)
def make(n):
    y = r.randint(0, 3, n)
    X = r.standard_normal((n, 6)) * 0.3
    X[:, 0] += y; X[:, 1] -= y
    X = X * 2e4 + 1e5 * np.arange(1, 7)      # features around 1e5
    return X.astype("f4"), y
for name, n in (("train", 1500), ("val", 300), ("test", 400)):
    X, y = make(n)
    with h5py.File(f"{t}/{name}.h5", "w") as f:
        f["features"] = X; f["labels"] = y
    if name == "test":
        np.savetxt(f"{t}/test_x.csv", X, delimiter=",", fmt="%.9g")
PYEOF

cat > "$T/n.ini" <<INI
[model]
layers = 6,32,3
[optim]
name = sgd
lr = 0.05
momentum = 0.9
[data]
dataset = hdf5
path = $T/train.h5
val_path = $T/val.h5
test_path = $T/test.h5
normalize = standard
batch_size = 50
[train]
epochs = 4
seed = 9
[checkpoint]
every_steps = 10
keep_last = 0
INI
"$CTRAIN" train --config "$T/n.ini" --run-dir "$T/n" >"$T/n.out" 2>"$T/n.err" || fail "train: $(cat "$T/n.err")"
acc=$(sed -n 's/.*val_accuracy=\([0-9.]*\).*/\1/p' "$T/n.out")
sed 's/^normalize = standard/normalize = none/' "$T/n.ini" > "$T/raw.ini"
"$CTRAIN" train --config "$T/raw.ini" --run-dir "$T/raw" >"$T/raw.out" 2>"$T/raw.err" || fail "train raw: $(cat "$T/raw.err")"
raw=$(sed -n 's/.*val_accuracy=\([0-9.]*\).*/\1/p' "$T/raw.out")
$PY -c "import sys; sys.exit(0 if float('$acc') >= 0.95 and float('$raw') < 0.8 else 1)" \
	|| fail "val_accuracy standard $acc (want >= 0.95), none $raw (want < 0.8)"
ok "features ~1e5, val from val_path: val_accuracy $acc standardized, $raw raw"

# statistics = NumPy's of the training rows; checkpoint and export hold the same floats
$PY - "$T" <<'PYEOF' || fail "statistics check"
import sys, json, struct, glob, h5py, numpy as np
t = sys.argv[1]
with h5py.File(f"{t}/train.h5", "r") as f:
    X = f["features"][:].astype(np.float64)
mean, std = X.mean(0), X.std(0)
raw = open(f"{t}/n/model.safetensors", "rb").read()
meta = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])["__metadata__"]
m = np.array(meta["normalize_mean"].split(","), dtype=np.float32)
s = np.array(meta["normalize_std"].split(","), dtype=np.float32)
assert np.allclose(m, mean, rtol=1e-6), (m, mean)
assert np.allclose(s, std, rtol=1e-5), (s, std)
for ck in sorted(glob.glob(f"{t}/n/checkpoints/*.h5")):
    with h5py.File(ck, "r") as f:
        assert (f["data/norm_mean"][:] == m).all() and (f["data/norm_std"][:] == s).all(), ck
print("ok")
PYEOF
ok "mean/std equal NumPy's over the training rows; checkpoints hold the exported floats"

interrupted_run "$T/n.ini" "$T/b" "" 13 41
"$CTRAIN" resume "$T/b" >/dev/null 2>"$T/b.err" || fail "resume: $(cat "$T/b.err")"
cmp -s "$T/n/model.safetensors" "$T/b/model.safetensors" || fail "resumed run differs"
same_metrics "$T/n/metrics.csv" "$T/b/metrics.csv" || fail "resumed metrics differ"
ok "interrupted at steps 13 and 41, resumed: identical weights and metrics"

# eval: the test file, standardized, whether from the export or a checkpoint
"$CTRAIN" eval --model "$T/n" >"$T/e1" 2>"$T/e1.err" || fail "eval: $(cat "$T/e1.err")"
grep -q "n=400" "$T/e1" || fail "eval did not use test_path: $(cat "$T/e1")"
last=$(ls "$T/n/checkpoints" | tail -1)
"$CTRAIN" eval --model "$T/n/checkpoints/$last" >"$T/e2" 2>"$T/e2.err" || fail "eval ckpt: $(cat "$T/e2.err")"
cmp -s "$T/e1" "$T/e2" || fail "eval from the checkpoint differs: $(cat "$T/e1" "$T/e2")"
tacc=$(sed -n 's/accuracy=\([0-9.]*\).*/\1/p' "$T/e1")
$PY -c "import sys; sys.exit(0 if float('$tacc') >= 0.95 else 1)" || fail "test accuracy $tacc"
ok "eval: test_path's 400 rows, accuracy $tacc, same from model.safetensors and $last"

# predict on raw features = PyTorch with (x - mean) / std from the metadata
"$CTRAIN" predict --model "$T/n" --input "$T/test_x.csv" -o "$T/pred.csv" 2>"$T/p.err" || fail "predict: $(cat "$T/p.err")"
"$CTRAIN" export "$T/n/checkpoints/$last" -o "$T/from_ckpt.safetensors" 2>"$T/x.err" || fail "export: $(cat "$T/x.err")"
$PY - "$T" <<'PYEOF' || fail "PyTorch check"
import sys, json, struct, numpy as np, torch
t = sys.argv[1]
def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n]); meta = h.pop("__metadata__")
    ts = {k: torch.from_numpy(np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                                            dtype=np.float32).reshape(v["shape"]).copy()) for k, v in h.items()}
    return meta, ts
meta, ts = load(f"{t}/n/model.safetensors")
meta2, _ = load(f"{t}/from_ckpt.safetensors")
assert meta2["normalize_mean"] == meta["normalize_mean"] and meta2["normalize_std"] == meta["normalize_std"]
mean = torch.tensor(np.array(meta["normalize_mean"].split(","), dtype=np.float32))
std = torch.tensor(np.array(meta["normalize_std"].split(","), dtype=np.float32))
x = torch.tensor(np.loadtxt(f"{t}/test_x.csv", delimiter=",", dtype=np.float32))
h = (x - mean) / std
h = torch.relu(h @ ts["layers.0.weight"].T + ts["layers.0.bias"])
z = h @ ts["layers.1.weight"].T + ts["layers.1.bias"]
ours = np.loadtxt(f"{t}/pred.csv", delimiter=",", skiprows=1)
assert (ours[:, 0] == z.argmax(1).numpy()).all()
d = np.abs(ours[:, 1:] - z.numpy()).max()
assert d < 1e-4, d
print(f"max |logit difference| {d:.3g}")
PYEOF
ok "predict = PyTorch with (x - mean) / std from __metadata__; export of a checkpoint carries it"

# val_path with other features: refused naming both files
$PY -c "
import h5py, numpy as np
with h5py.File('$T/val5.h5', 'w') as f: f['features'] = np.zeros((10, 5), 'f4'); f['labels'] = np.zeros(10, 'i4')"
sed "s|^val_path = .*|val_path = $T/val5.h5|" "$T/n.ini" > "$T/bad.ini"
"$CTRAIN" train --config "$T/bad.ini" --run-dir "$T/bad" >/dev/null 2>"$T/bad.err"
[ $? -eq 1 ] || fail "val_path of 5 features: not exit 1"
grep -q "val5.h5: 5 features per row, but .*train.h5 (data.path) has 6" "$T/bad.err" || fail "$(cat "$T/bad.err")"
ok "val_path with 5 features against 6: exit 1 naming both files"
finish
