#!/bin/sh
# End-to-end: `ctrain plot` through gnuplot.  The SVG of two runs (one
# interrupted and resumed) parses as XML and holds every series with one point
# per metrics row (validation: per evaluated row), a legend entry per series
# and a "resume" mark in each of the 4 panels; the PNG is 1200x800; train and
# resume refresh DIR/curves.svg, or say with an INFO line that gnuplot is
# missing; a failing gnuplot is an error, not a silent empty file.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
command -v gnuplot >/dev/null || fail "gnuplot not installed (make deps installs gnuplot-nox)"

cfg=$T/run.ini
cat > "$cfg" <<'INI'
[model]
layers = 16,32,4
activation = relu
[optim]
name = adam
lr = 0.01
[schedule]
name = cosine
[data]
dataset = synthetic
n_samples = 800
n_features = 16
n_classes = 4
val_fraction = 0.25
batch_size = 20
[train]
epochs = 3
seed = 5
log_every = 5
eval_every = 10
[checkpoint]
every_steps = 10
INI
"$CTRAIN" train --config "$cfg" --run-dir "$T/a" >/dev/null 2>"$T/err" || fail "train a"
grep -q "^INFO wrote $T/a/curves.svg" "$T/err" || fail "train did not refresh curves.svg: $(cat "$T/err")"
[ -s "$T/a/curves.svg" ] || fail "no $T/a/curves.svg"
mkdir -p "$T/b"
interrupted_run "$cfg" "$T/b" "--set optim.lr=0.003" 33
grep -q "^INFO wrote $T/b/curves.svg" "$T/b.err" || fail "an interrupted train must refresh curves.svg too"
"$CTRAIN" resume "$T/b" -q >/dev/null || fail "resume b"
ls -a "$T/a" "$T/b" | grep -q '^\.tmp-' && fail "temporary files left"
ok "train and resume refresh DIR/curves.svg"

"$CTRAIN" plot "$T/a" "$T/b" -o "$T/c.svg" 2>"$T/err" || fail "plot svg: $(cat "$T/err")"
$PY - "$T/c.svg" "$T/a/metrics.csv" "$T/b/metrics.csv" <<'PYEOF' || fail "SVG content"
import re, sys, csv
import xml.etree.ElementTree as ET
svg = sys.argv[1]
root = ET.parse(svg).getroot()  # well-formed XML
ns = "{http://www.w3.org/2000/svg}"
groups = {}
for g in root.iter(ns + "g"):
    gid = g.get("id") or ""
    if gid.startswith("gnuplot_plot_"):
        t = g.find(ns + "title")
        paths = [p.get("d") for p in g.iter(ns + "path") if p.get("d")]
        uses = len(list(g.iter(ns + "use")))
        groups[t.text] = (paths, uses)
def vertices(paths):
    return sum(len(re.findall(r"[ML]\s*-?[0-9.]+,-?[0-9.]+", d)) for d in paths)
for name, path in (("a", sys.argv[2]), ("b", sys.argv[3])):
    rows = list(csv.DictReader(open(path)))
    nval = sum(1 for r in rows if r["val_loss"])
    for series, n in (("raw", len(rows)), ("smoothed", len(rows)), ("lr", len(rows)),
                      ("val_loss", nval), ("val_accuracy", nval)):
        paths, uses = groups["%s (%s)" % (name, series)]
        got = vertices(paths) - 2  # the legend sample is a 2-point line
        assert got == n, (name, series, got, n)
        if series.startswith("val"):
            assert uses - 1 == n, (name, series, uses, n)  # one marker per point + the legend's
    print("ok   e2e_plot: run %s: %d rows, %d evaluations, all 5 series complete" % (name, len(rows), nval))
texts = ["".join(t.itertext()).strip() for t in root.iter(ns + "text")]
assert texts.count("resume") == 4, texts.count("resume")  # run b's resume at 33, in 4 panels
assert {"e1", "e2", "e3"} <= set(texts), texts
PYEOF
ok "SVG: 10 series, 4 resume marks, epoch ticks e1..e3"

"$CTRAIN" plot "$T/a" "$T/b" -o "$T/c.png" 2>/dev/null || fail "plot png"
$PY -c "
import struct, sys
b = open(sys.argv[1], 'rb').read(24)
assert b[:8] == b'\x89PNG\r\n\x1a\n', b[:8]
w, h = struct.unpack('>II', b[16:24]); assert (w, h) == (1200, 800), (w, h)" "$T/c.png" || fail "PNG"
ok "PNG: 1200x800"

"$CTRAIN" plot "$T/a" -o "$T/c.pdf" >/dev/null 2>&1; [ $? -eq 2 ] || fail ".pdf: expected 2"
"$CTRAIN" plot -o "$T/d.svg" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no DIR: expected 2"
"$CTRAIN" plot "$T/nowhere" -o "$T/d.svg" >/dev/null 2>&1; [ $? -eq 1 ] || fail "missing run: expected 1"
printf '#!/bin/sh\ncat >/dev/null\nexit 3\n' > "$T/badgp"; chmod +x "$T/badgp"
CTRAIN_GNUPLOT=$T/badgp "$CTRAIN" plot "$T/a" -o "$T/d.svg" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "badgp failed (status 3)" "$T/err" || fail "failing gnuplot: rc $rc: $(cat "$T/err")"
[ -e "$T/d.svg" ] && fail "a failed plot must leave no picture"
ls -a "$T" | grep -q '^\.tmp-d\.svg' && fail "a failed plot left its temporary file"
ok "usage errors exit 2; missing run, failing gnuplot (exit 3) exit 1, nothing left"

rm -f "$T/a/curves.svg"
CTRAIN_GNUPLOT=$T/no-gnuplot "$CTRAIN" resume "$T/a" --set train.epochs=4 >/dev/null 2>"$T/err" || fail "resume without gnuplot: $(cat "$T/err")"
grep -q "^INFO $T/a/curves.svg not refreshed: gnuplot not found" "$T/err" || fail "no INFO line: $(cat "$T/err")"
[ -e "$T/a/curves.svg" ] && fail "curves.svg without gnuplot?"
ok "without gnuplot: training completes, one INFO line"
finish
