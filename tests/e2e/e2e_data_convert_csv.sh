#!/bin/sh
# ctrain data convert IN.csv streams the CSV: its rows are counted by a pass
# that only splits lines, then parsed and written a block of rows at a time,
# so the peak RSS does not grow with the file (a 40 MB CSV of 19.2 M floats:
# the loader held all 77 MB of them, 105 MB peak); the rows are csv_load's
# (the values, and training on OUT = training on the CSV, with a header,
# blank lines, CRLF, quotes, gzip); a bad cell after several blocks were
# written exits 1 naming file, line and column, leaves OUT as it was and no
# temporary file; a damaged gzip after a bad cell reports the cell, as the
# loader did.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c 'import h5py, numpy' 2>/dev/null || fail "python3-h5py/numpy missing: run make deps"

# 10000 distinct rows of 32 one-digit features and a label, repeated
awk 'BEGIN { srand(7); for (i = 0; i < 10000; i++) {
	for (j = 0; j < 32; j++) printf "%d,", int(rand() * 10)
	print int(rand() * 5) } }' >"$T/chunk.csv" || fail "awk"
: >"$T/big.csv"
i=0
while [ $i -lt 60 ]; do
	cat "$T/chunk.csv" "$T/chunk.csv" "$T/chunk.csv" "$T/chunk.csv" "$T/chunk.csv" >>"$T/big.csv"
	i=$((i + 5))
done
/usr/bin/time -f "%M %e" -o "$T/rss" "$CTRAIN" data convert "$T/big.csv" "$T/big.h5" \
	>"$T/c.out" 2>"$T/c.err" || fail "convert: $(cat "$T/c.err")"
grep -q "rows=600000 features=32 classes=5" "$T/c.out" || fail "convert: $(cat "$T/c.out")"
read -r rss secs <<EOF
$(tail -1 "$T/rss")
EOF
mb=$(($(stat -c %s "$T/big.csv") / 1000000))
if [ -n "${ASAN_OPTIONS:-}" ]; then
	echo "note $NAME: peak RSS ($rss KB) not bounded under ASan (its shadow memory is not the program's)"
else
	[ "$rss" -lt 60000 ] ||
		fail "peak RSS $rss KB converting a $mb MB CSV of 77 MB of floats (limit 60000 KB)"
fi
ls -a "$T" | grep -q '^\.tmp-' && fail "a temporary file was left: $(ls -a "$T")"
$PY -c "
import h5py, numpy as np
c = np.loadtxt('$T/chunk.csv', delimiter=',', dtype=np.float64)
f = h5py.File('$T/big.h5', 'r')
X, y = f['features'], f['labels']
assert X.shape == (600000, 32) and X.dtype == np.float32 and y.dtype == np.int32
want = c[:, :32].astype(np.float32)
for r in range(0, 600000, 60000):  # every block boundary lies inside one of these
    assert np.array_equal(X[r:r + 60000].reshape(6, 10000, 32), np.broadcast_to(want, (6, 10000, 32))), r
assert np.array_equal(y[:].reshape(60, 10000), np.broadcast_to(c[:, 32].astype(np.int32), (60, 10000)))
" || fail "the converted rows differ from the CSV's"
rm -f "$T/big.h5"
ok "$mb MB CSV (600000 x 32, 77 MB of floats) converted in $secs s with a peak RSS of $rss KB; its values and labels"

# the rows training reads: a header, blank lines, CRLF, quotes, blanks, the
# label first, no final newline; and the same file gzipped
$PY - "$T/odd.csv" <<'PYEOF' || fail "could not write odd.csv"
import sys, random
r = random.Random(3)
lines = ['"label", "x1",x2,x3,x4']
for i in range(1200):
    v = [f"{r.uniform(-5, 5):.7g}" for _ in range(4)]
    if i % 7 == 0: v[1] = f' "{v[1]}" '
    if i % 11 == 0: v[2] = v[2] + "e0"
    lines.append(f"{i % 3}," + ",".join(v) + ("\r" if i % 5 == 0 else ""))
    if i % 97 == 0: lines.append("   ")
open(sys.argv[1], "w", newline="").write("\n".join(lines))
PYEOF
gzip -c "$T/odd.csv" >"$T/odd.csv.gz"
ini() { # ini FILE DATA-LINES
	printf '[model]\nlayers = 4,8,3\n[data]\n%s\nval_fraction = 0.2\nbatch_size = 50\n[train]\nepochs = 2\n' "$2" >"$1"
}
for f in odd.csv odd.csv.gz; do
	"$CTRAIN" data convert "$T/$f" "$T/$f.h5" --set data.label_column=0 --set data.header=true \
		>"$T/o.out" 2>"$T/o.err" || fail "convert $f: $(cat "$T/o.err")"
	grep -q "rows=1200 features=4 classes=3" "$T/o.out" || fail "convert $f: $(cat "$T/o.out")"
	ini "$T/csv.ini" "dataset = csv
path = $T/$f
label_column = 0
header = true"
	ini "$T/h5.ini" "dataset = hdf5
path = $T/$f.h5"
	rm -rf "$T/rcsv" "$T/rh5"
	for k in csv h5; do
		"$CTRAIN" train --config "$T/$k.ini" --run-dir "$T/r$k" >/dev/null 2>"$T/$k.err" ||
			fail "train $k ($f): $(cat "$T/$k.err")"
	done
	cmp -s "$T/rcsv/model.safetensors" "$T/rh5/model.safetensors" ||
		fail "training on the converted $f differs from training on it"
done
cmp -s "$T/odd.csv.h5" "$T/odd.csv.gz.h5" || $PY -c "
import h5py, numpy as np
a, b = h5py.File('$T/odd.csv.h5', 'r'), h5py.File('$T/odd.csv.gz.h5', 'r')
assert np.array_equal(a['features'][:], b['features'][:]) and np.array_equal(a['labels'][:], b['labels'][:])
" || fail "the CSV and its gzip gave other rows"
ok "training on the converted CSV (header, blanks, CRLF, quotes; and gzipped) = training on it"

# a bad cell on line 250001, after three blocks of 65536 rows were written
head -n 300000 "$T/big.csv" | awk -F, -v OFS=, 'NR == 250001 { $5 = "1.2.3" } { print }' \
	>"$T/bad.csv"
rm -f "$T/big.csv"
cp "$T/odd.csv.h5" "$T/keep.h5"
for out in new.h5 keep.h5; do
	"$CTRAIN" data convert "$T/bad.csv" "$T/$out" >/dev/null 2>"$T/bad.err"
	[ $? -eq 1 ] || fail "a bad cell did not exit 1 ($out)"
	grep -q "bad.csv: line 250001, column 5: not a number: \"1.2.3\"" "$T/bad.err" ||
		fail "message: $(cat "$T/bad.err")"
	grep -q "convert: 262144/300000" "$T/bad.err" && fail "rows past the error were converted"
	grep -q "convert: 196608/300000 rows (66%)" "$T/bad.err" ||
		fail "no blocks written before the bad cell: $(cat "$T/bad.err")"
done
[ ! -e "$T/new.h5" ] || fail "a failed convert created OUT"
cmp -s "$T/odd.csv.h5" "$T/keep.h5" || fail "a failed convert changed OUT"
ls -a "$T" | grep -q '^\.tmp-' && fail "a failed convert left a temporary file: $(ls -a "$T")"

# a gzip cut short (past its first 1 MiB block) after a bad cell: the cell
# is reported (the row count fails on the damage first, then the rows before
# it are parsed), as the loader did
cut_gz() { # cut_gz BAD-ROW: 60000 rows (the label of row BAD-ROW + 1 is "x"), cut
	awk -v bad="$1" 'BEGIN { srand(5); for (i = 0; i < 60000; i++) {
		for (j = 0; j < 32; j++) printf "%.3f,", rand()
		print (i == bad ? "x" : int(rand() * 5)) } }' | gzip | head -c 2000000
}
cut_gz 6 >"$T/cut.csv.gz"
[ "$(gzip -dc "$T/cut.csv.gz" 2>/dev/null | wc -c)" -gt 2000000 ] || fail "cut.csv.gz is too short"
"$CTRAIN" data convert "$T/cut.csv.gz" "$T/cut.h5" >/dev/null 2>"$T/cut.err"
[ $? -eq 1 ] || fail "a bad cell in a cut gzip did not exit 1"
grep -q "cut.csv.gz: line 7, column 33: label is not a number: \"x\"" "$T/cut.err" ||
	fail "message: $(cat "$T/cut.err")"
cut_gz -1 >"$T/cut2.csv.gz"
"$CTRAIN" data convert "$T/cut2.csv.gz" "$T/cut.h5" >/dev/null 2>"$T/cut2.err"
[ $? -eq 1 ] || fail "a cut gzip did not exit 1"
grep -q "cut2.csv.gz: corrupt or truncated gzip data" "$T/cut2.err" || fail "message: $(cat "$T/cut2.err")"
[ ! -e "$T/cut.h5" ] && ! ls -a "$T" | grep -q '^\.tmp-' || fail "a failed convert left files: $(ls -a "$T")"
ok "a bad cell on line 250001 (after 196608 rows were written): exit 1, file:line:column, OUT untouched, no temporary file; a cut gzip reports the bad cell before it"
finish
