#!/bin/sh
# ctrain data convert: a CSV (label first, header, gzip) becomes an HDF5 file
# h5py reads with the same values, chunked and gzip-compressed, written
# atomically; training on it gives the weights of training on the CSV.
# ctrain data inspect prints rows, features, classes and label counts, and
# rejects a file training would reject.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c 'import h5py, numpy' 2>/dev/null || fail "python3-h5py/numpy missing: run make deps"
$PY - "$T" <<'PYEOF' || fail "could not write the CSV"
import sys, gzip, numpy as np
t = sys.argv[1]
r = np.random.RandomState(4)
y = np.arange(900) % 3
X = (r.standard_normal((900, 10)) * 0.5).astype("f4"); X[:, 0] += 2 * y
with gzip.open(f"{t}/d.csv.gz", "wt") as f:
    f.write("label," + ",".join(f"f{j}" for j in range(10)) + "\n")
    for i in range(900):
        f.write(str(y[i]) + "," + ",".join("%.9g" % v for v in X[i]) + "\n")
np.save(f"{t}/X.npy", X); np.save(f"{t}/y.npy", y)
PYEOF
"$CTRAIN" data convert "$T/d.csv.gz" "$T/d.h5" --set data.label_column=0 >"$T/c.out" 2>"$T/c.err" \
	|| fail "convert: $(cat "$T/c.err")"
grep -q "rows=900 features=10 classes=3" "$T/c.out" || fail "convert: $(cat "$T/c.out")"
ls "$T" | grep -q tmp && fail "a temporary file was left: $(ls "$T")"
$PY -c "
import h5py, numpy as np
with h5py.File('$T/d.h5', 'r') as f:
    X, y = f['features'], f['labels']
    assert X.dtype == np.float32 and y.dtype == np.int32, (X.dtype, y.dtype)
    assert X.compression == 'gzip' and X.shuffle and X.chunks is not None
    assert (X[:] == np.load('$T/X.npy')).all() and (y[:] == np.load('$T/y.npy')).all()
" || fail "h5py sees other values"
ok "CSV.gz -> HDF5: h5py reads the same float32 values and labels, gzip + shuffle chunks"

"$CTRAIN" data inspect "$T/d.h5" >"$T/i.out" 2>"$T/i.err" || fail "inspect: $(cat "$T/i.err")"
for l in "rows=900" "features=10" "classes=3" "label 0: 300" "label 2: 300"; do
	grep -qx "$l" "$T/i.out" || fail "inspect: no '$l' in $(cat "$T/i.out")"
done
ok "inspect: rows, features, classes, label counts"

ini() { # ini FILE DATA-LINES
	printf '[model]\nlayers = 10,16,3\n[data]\n%s\nval_fraction = 0.2\nbatch_size = 30\n[train]\nepochs = 2\n' "$2" > "$1"
}
ini "$T/csv.ini" "dataset = csv
path = $T/d.csv.gz
label_column = 0"
ini "$T/h5.ini" "dataset = hdf5
path = $T/d.h5"
for f in csv h5; do
	"$CTRAIN" train --config "$T/$f.ini" --run-dir "$T/r$f" >/dev/null 2>"$T/$f.err" || fail "train $f: $(cat "$T/$f.err")"
done
cmp -s "$T/rcsv/model.safetensors" "$T/rh5/model.safetensors" || fail "training on the HDF5 copy differs"
ok "training on the converted file = training on the CSV (identical weights)"

head -c 2000 "$T/d.h5" > "$T/cut.h5"
"$CTRAIN" data inspect "$T/cut.h5" >/dev/null 2>"$T/cut.err"
[ $? -eq 1 ] || fail "inspect of a truncated file did not exit 1"
grep -q "cut.h5" "$T/cut.err" || fail "$(cat "$T/cut.err")"
"$CTRAIN" data convert "$T/nonexistent.csv" "$T/x.h5" >/dev/null 2>"$T/ne.err"
[ $? -eq 1 ] && [ ! -e "$T/x.h5" ] || fail "convert of a missing file: $(cat "$T/ne.err")"
ok "truncated file: inspect exits 1; missing input: convert exits 1, writes nothing"
finish
