#!/bin/sh
# HDF5 input as h5py writes it: training, resume and eval from a .h5 file;
# bad inputs (wrong type, wrong shape, NaN, bad label, truncated) exit 1 naming
# the file, the dataset and the problem, and damage nothing in the run
# directory; in-memory data costs at most 1.1x its float32 bytes (the split
# copies no rows), measured as the peak RSS of `ctrain train` over the same
# run on a tiny file.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c 'import h5py, numpy' 2>/dev/null || fail "python3-h5py/numpy missing: run make deps"

# make_h5 FILE ROWS FEATURES [kind]: a learnable 4-class set; kind breaks it
make_h5() {
	$PY - "$@" <<'PYEOF'
import sys, h5py, numpy as np
path, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
kind = sys.argv[4] if len(sys.argv) > 4 else "ok"
r = np.random.RandomState(7)
y = np.arange(n) % 4
X = (r.standard_normal((n, d)) * 0.5).astype("f4")
X[:, 0] += 2 * y; X[:, 1] -= 2 * y
with h5py.File(path, "w") as f:
    if kind == "int":
        f["features"] = (X * 10).astype("i4"); f["labels"] = y
    elif kind == "rank":
        f["features"] = X.reshape(-1); f["labels"] = y
    elif kind == "nan":
        X[n // 2, d - 1] = np.nan; f["features"] = X; f["labels"] = y
    elif kind == "label":
        y = y.astype("i8"); y[3] = -2; f["features"] = X; f["labels"] = y
    elif kind == "chunked":
        f.create_dataset("features", data=X.astype("f8"), chunks=(256, d), compression="gzip", shuffle=True)
        f.create_dataset("labels", data=y.astype("u1"), chunks=(256,), compression="gzip")
    else:
        f["features"] = X; f["labels"] = y
PYEOF
}

cfg() { # cfg FILE EXTRA-LINES
	cat > "$1" <<INI
[model]
layers = 16,32,4
[optim]
name = sgd
lr = 0.1
momentum = 0.9
[data]
dataset = hdf5
path = $T/train.h5
batch_size = 32
$2
[train]
epochs = 3
seed = 5
[checkpoint]
every_steps = 7
keep_last = 0
INI
}

make_h5 "$T/train.h5" 2000 16 || fail "h5py could not write the data"
make_h5 "$T/chunked.h5" 2000 16 chunked || fail "h5py could not write the data"
cfg "$T/a.ini" "val_split = random"
"$CTRAIN" train --config "$T/a.ini" --run-dir "$T/a" >"$T/a.out" 2>"$T/a.err" || fail "train: $(cat "$T/a.err")"
acc=$(sed -n 's/.*val_accuracy=\([0-9.]*\).*/\1/p' "$T/a.out")
$PY -c "import sys; sys.exit(0 if float('$acc') >= 0.9 else 1)" || fail "val_accuracy $acc < 0.9"
grep -q "^memory_mb = [1-9][0-9]*$" "$T/a/config.ini" || fail "memory_mb = 0 frozen as is: $(grep memory_mb "$T/a/config.ini")"
ok "trained from h5py's file: val_accuracy $acc; automatic memory_mb frozen as $(sed -n 's/^memory_mb = //p' "$T/a/config.ini") MB"

# the same data as float64 in gzip+shuffle chunks and uint8 labels: same bytes
cfg "$T/c.ini" "val_split = random
path = $T/chunked.h5"
sed -i "0,/^path = .*train.h5/{/^path = .*train.h5/d}" "$T/c.ini"
"$CTRAIN" train --config "$T/c.ini" --run-dir "$T/c" >/dev/null 2>"$T/c.err" || fail "train chunked: $(cat "$T/c.err")"
cmp -s "$T/a/model.safetensors" "$T/c/model.safetensors" || fail "float64 gzip chunks train differently from float32"
ok "float64 + gzip + shuffle chunks, uint8 labels: identical weights"

# interrupted twice, resumed: the bytes of the uninterrupted run
interrupted_run "$T/a.ini" "$T/b" "" 20 50
"$CTRAIN" resume "$T/b" >/dev/null 2>"$T/b.err" || fail "resume: $(cat "$T/b.err")"
cmp -s "$T/a/model.safetensors" "$T/b/model.safetensors" || fail "resumed run differs"
same_metrics "$T/a/metrics.csv" "$T/b/metrics.csv" || fail "resumed metrics differ"
ok "interrupted at steps 20 and 50, resumed: identical weights and metrics"

"$CTRAIN" eval --model "$T/a" --data "hdf5:$T/train.h5" >"$T/ev.out" 2>"$T/ev.err" || fail "eval: $(cat "$T/ev.err")"
grep -q "accuracy=.* n=200" "$T/ev.out" || fail "eval: $(cat "$T/ev.out")"
ok "eval --data hdf5:FILE"

# bad inputs: exit 1, file + dataset + problem named; a run directory's files untouched
snap() { (cd "$1" && find . -type f -exec sha256sum {} + | sort); }
bad() { # bad KIND EXPECTED-TEXT
	make_h5 "$T/bad_$1.h5" 400 16 "$1" || fail "h5py could not write $1"
	sed "s|^path = .*|path = $T/bad_$1.h5|" "$T/a.ini" > "$T/bad.ini"
	"$CTRAIN" train --config "$T/bad.ini" --run-dir "$T/bad_$1" >/dev/null 2>"$T/bad.err"
	rc=$?
	[ $rc -eq 1 ] || fail "$1: exit $rc, expected 1: $(cat "$T/bad.err")"
	grep -q "bad_$1.h5: $2" "$T/bad.err" || fail "$1: message: $(cat "$T/bad.err")"
	# the finished run in $T/a, resumed on the bad file, is left as it was
	before=$(snap "$T/a")
	"$CTRAIN" eval --model "$T/a" --data "hdf5:$T/bad_$1.h5" >/dev/null 2>"$T/bad.err"
	[ $? -eq 1 ] || fail "$1: eval did not exit 1"
	[ "$(snap "$T/a")" = "$before" ] || fail "$1: the run directory changed"
	ok "$1: exit 1, '$(tail -1 "$T/bad.err" | cut -c1-110)'"
}
bad int "dataset 'features': type integer of 4 bytes is not supported"
bad rank "dataset 'features' has 1 dimension, expected 2"
bad nan "dataset 'features': row 200, feature 15 is NaN"
bad label "dataset 'labels': row 3: label -2 is outside"
head -c 3000 "$T/train.h5" > "$T/bad_trunc.h5"
sed "s|^path = .*|path = $T/bad_trunc.h5|" "$T/a.ini" > "$T/bad.ini"
"$CTRAIN" train --config "$T/bad.ini" --run-dir "$T/bad_trunc" >/dev/null 2>"$T/bad.err"
[ $? -eq 1 ] || fail "truncated: not exit 1: $(cat "$T/bad.err")"
grep -q "bad_trunc.h5: cannot open (truncated or damaged HDF5 file?)" "$T/bad.err" || fail "truncated: $(cat "$T/bad.err")"
ok "truncated: exit 1, '$(tail -1 "$T/bad.err" | cut -c1-110)'"
sed "s|^path = .*|path = $T/train.h5\nx = X|" "$T/a.ini" > "$T/bad.ini"
"$CTRAIN" train --config "$T/bad.ini" --run-dir "$T/bad_name" >/dev/null 2>"$T/bad.err"
[ $? -eq 1 ] || fail "missing dataset: not exit 1"
grep -q "train.h5: no dataset 'X'" "$T/bad.err" || fail "missing dataset: $(cat "$T/bad.err")"
ok "data.x names a missing dataset: exit 1"

# memory: peak RSS of a 102 MB float32 data set over a 0.5 MB one, same run
if [ -n "${ASAN_OPTIONS:-}" ]; then
	echo "note $NAME: peak RSS not measured under ASan (its shadow memory is not the program's)"
else
	rows=200000
	make_h5 "$T/big.h5" $rows 128 || fail "h5py could not write the big file"
	make_h5 "$T/small.h5" 1000 128 || fail "h5py could not write the small file"
	for which in big small; do
		cat > "$T/$which.ini" <<INI
[model]
layers = 128,8,4
[data]
dataset = hdf5
path = $T/$which.h5
batch_size = 1000
val_split = random
[train]
epochs = 1
[checkpoint]
every_steps = 0
INI
	done
	peak() { # peak NAME: KiB of peak RSS of ctrain train
		$PY -c '
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
if r.returncode: sys.exit("train failed: " + r.stderr.decode())
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' \
			"$CTRAIN" train --config "$T/$1.ini" --run-dir "$T/rss_$1"
	}
	kb_big=$(peak big) || fail "big run: $kb_big"
	kb_small=$(peak small) || fail "small run: $kb_small"
	data_kb=$((rows * 128 * 4 / 1024))
	extra=$((kb_big - kb_small))
	echo "peak RSS: $kb_big KiB with $data_kb KiB of float32 data, $kb_small KiB with 1000 rows"
	[ $((extra * 10)) -le $((data_kb * 11)) ] || fail "data costs $extra KiB for $data_kb KiB of floats (> 1.1x)"
	ok "in-memory data costs $extra KiB for $data_kb KiB of float32 ($(($extra * 100 / $data_kb))%)"
	rm -f "$T/big.h5"
fi
finish
