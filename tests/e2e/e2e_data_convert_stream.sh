#!/bin/sh
# ctrain data convert streams: synthetic, IDX (MNIST) and HDF5 inputs are read
# a block of rows at a time and appended to OUT.h5, so the peak RSS does not
# grow with the data (41 MB of features: the in-memory converter held them
# plus the compressed image, > 80 MB); the rows are those training reads
# (training on OUT = training on the input, and the same bytes for 1 and 3
# generator threads); a progress bar is drawn on a terminal and not with -q;
# kill -9 mid-convert leaves OUT as it was (the temporary file is removed
# by the next convert); a truncated IDX file exits 1 leaving nothing.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c 'import h5py, numpy' 2>/dev/null || fail "python3-h5py/numpy missing: run make deps"
SYN="--set data.n_samples=40000 --set data.n_features=256 --set data.n_classes=5"

# peak RSS of a 41 MB conversion
/usr/bin/time -f "%M" -o "$T/rss" "$CTRAIN" data convert synthetic "$T/s1.h5" $SYN \
	>"$T/c.out" 2>"$T/c.err" || fail "convert: $(cat "$T/c.err")"
grep -q "rows=40000 features=256 classes=5" "$T/c.out" || fail "convert: $(cat "$T/c.out")"
rss=$(tail -1 "$T/rss")
if [ -n "${ASAN_OPTIONS:-}" ]; then
	echo "note $NAME: peak RSS ($rss KB) not bounded under ASan (its shadow memory is not the program's)"
else
	[ "$rss" -lt 40000 ] || fail "peak RSS $rss KB converting 41 MB of features (limit 40000 KB)"
fi
ls -a "$T" | grep -q '^\.tmp-' && fail "a temporary file was left: $(ls -a "$T")"
"$CTRAIN" data convert synthetic "$T/s3.h5" $SYN --set train.threads=3 >/dev/null 2>"$T/c3.err" \
	|| fail "convert, 3 threads: $(cat "$T/c3.err")"
$PY -c "
import h5py, numpy as np
a, b = h5py.File('$T/s1.h5', 'r'), h5py.File('$T/s3.h5', 'r')
assert a['features'].shape == (40000, 256) and a['features'].compression == 'gzip'
assert np.array_equal(a['features'][:], b['features'][:]) and np.array_equal(a['labels'][:], b['labels'][:])
" || fail "1 and 3 threads gave other rows"
ok "synthetic 40000 x 256 (41 MB) converted with a peak RSS of $rss KB; 1 and 3 threads: same rows"

ini() { # ini FILE DATA-LINES
	printf '[model]\nlayers = 16,8,3\n[data]\n%s\nval_fraction = 0.2\nbatch_size = 50\n[train]\nepochs = 1\n' "$2" > "$1"
}
ini "$T/syn.ini" "dataset = synthetic
n_samples = 1000
n_features = 16
n_classes = 3"
ini "$T/h5.ini" "dataset = hdf5
path = $T/small.h5"
"$CTRAIN" data convert synthetic "$T/small.h5" --set data.n_samples=1000 --set data.n_features=16 \
	--set data.n_classes=3 >/dev/null 2>"$T/sm.err" || fail "convert small: $(cat "$T/sm.err")"
for f in syn h5; do
	"$CTRAIN" train --config "$T/$f.ini" --run-dir "$T/r$f" >/dev/null 2>"$T/$f.err" ||
		fail "train $f: $(cat "$T/$f.err")"
done
cmp -s "$T/rsyn/model.safetensors" "$T/rh5/model.safetensors" || fail "training on the HDF5 copy differs"
# an HDF5 input is streamed too: re-converting it gives the same rows
"$CTRAIN" data convert "$T/small.h5" "$T/again.h5" >/dev/null 2>"$T/ag.err" || fail "$(cat "$T/ag.err")"
$PY -c "
import h5py, numpy as np
a, b = h5py.File('$T/small.h5', 'r'), h5py.File('$T/again.h5', 'r')
assert np.array_equal(a['features'][:], b['features'][:]) and np.array_equal(a['labels'][:], b['labels'][:])
" || fail "HDF5 -> HDF5 changed the rows"
ok "training on a converted synthetic set = training on the synthetic set; HDF5 -> HDF5 keeps the rows"

# IDX (MNIST layout, gzip) -> HDF5: pixels / 255, labels
mkdir "$T/idx"
$PY - "$T/idx" <<'PYEOF' || fail "could not write the IDX files"
import sys, gzip, struct, numpy as np
d = sys.argv[1]
r = np.random.RandomState(1)
X = r.randint(0, 256, (700, 28, 28)).astype(np.uint8)
y = (np.arange(700) * 7 % 10).astype(np.uint8)
with gzip.open(f"{d}/train-images-idx3-ubyte.gz", "wb") as f:
    f.write(struct.pack(">IIII", 0x803, 700, 28, 28) + X.tobytes())
with gzip.open(f"{d}/train-labels-idx1-ubyte.gz", "wb") as f:
    f.write(struct.pack(">II", 0x801, 700) + y.tobytes())
np.save(f"{d}/X.npy", X); np.save(f"{d}/y.npy", y)
PYEOF
"$CTRAIN" data convert "$T/idx" "$T/m.h5" >"$T/m.out" 2>"$T/m.err" || fail "convert IDX: $(cat "$T/m.err")"
grep -q "rows=700 features=784 classes=10" "$T/m.out" || fail "convert IDX: $(cat "$T/m.out")"
$PY -c "
import h5py, numpy as np
f = h5py.File('$T/m.h5', 'r')
X = np.load('$T/idx/X.npy').reshape(700, 784).astype(np.float32) / np.float32(255)
assert np.array_equal(f['features'][:], X) and np.array_equal(f['labels'][:], np.load('$T/idx/y.npy'))
" || fail "IDX -> HDF5: other values"
mkdir "$T/cut"
cp "$T/idx/train-labels-idx1-ubyte.gz" "$T/cut/"
gzip -dc "$T/idx/train-images-idx3-ubyte.gz" | head -c 300000 | gzip > "$T/cut/train-images-idx3-ubyte.gz"
"$CTRAIN" data convert "$T/cut" "$T/cut.h5" >/dev/null 2>"$T/cut.err"
[ $? -eq 1 ] || fail "a truncated IDX file did not exit 1"
grep -q "train-images-idx3-ubyte.gz: truncated" "$T/cut.err" || fail "$(cat "$T/cut.err")"
[ ! -e "$T/cut.h5" ] && ! ls -a "$T" | grep -q '^\.tmp-' || fail "a failed convert left files: $(ls -a "$T")"
ok "IDX.gz -> HDF5: pixels / 255 and labels; a truncated IDX exits 1 and writes nothing"

# progress bar on a terminal (script gives the command a pty), none with -q
script -qec "'$CTRAIN' data convert synthetic '$T/p.h5' $SYN" /dev/null >"$T/tty.out" 2>&1 ||
	fail "convert on a pty: $(cat "$T/tty.out")"
grep -q "convert \[#*\] 100% 40000/40000 rows" "$T/tty.out" || fail "no progress bar: $(cat "$T/tty.out")"
grep -q "$(printf '\r')" "$T/tty.out" || fail "the bar is not redrawn in place"
rm -f "$T/p.h5"
script -qec "'$CTRAIN' data convert -q synthetic '$T/p.h5' $SYN" /dev/null >"$T/ttyq.out" 2>&1 ||
	fail "convert -q on a pty: $(cat "$T/ttyq.out")"
grep -q "convert \[" "$T/ttyq.out" && fail "-q still drew the bar: $(cat "$T/ttyq.out")"
ok "a progress bar on a terminal, redrawn in place; none with -q"

# kill -9 mid-convert: OUT keeps its old bytes; the next convert removes the temporary file
cp "$T/small.h5" "$T/out.h5"
"$CTRAIN" data convert synthetic "$T/out.h5" --set data.n_samples=400000 --set data.n_features=256 \
	>/dev/null 2>&1 &
pid=$!
i=0
until [ -n "$(find "$T" -maxdepth 1 -name '.tmp-out.h5-*' -size +2000k)" ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || { kill -9 $pid; fail "no growing temporary file after 60 s"; }
	sleep 0.1
done
kill -9 $pid
wait $pid 2>/dev/null
cmp -s "$T/small.h5" "$T/out.h5" || fail "kill -9 mid-convert changed OUT"
ls -a "$T" | grep -q '^\.tmp-out.h5-' || fail "expected the killed convert's temporary file"
"$CTRAIN" data convert synthetic "$T/out.h5" --set data.n_samples=300 --set data.n_features=16 \
	>/dev/null 2>"$T/re.err" || fail "convert after the kill: $(cat "$T/re.err")"
grep -q "removed .*\.tmp-out.h5-$pid-0, left by a convert that was stopped" "$T/re.err" ||
	fail "stale temporary file not reported: $(cat "$T/re.err")"
ls -a "$T" | grep -q '^\.tmp-' && fail "temporary file left: $(ls -a "$T")"
"$CTRAIN" data inspect "$T/out.h5" | grep -qx "rows=300" || fail "OUT after the kill and a new convert"
ok "kill -9 mid-convert: OUT unchanged, the next convert removes the temporary file"
finish
