#!/bin/sh
# End-to-end: `ctrain report` writes one self-contained HTML file (no URL to
# fetch) that headless Chromium renders: the page's script reports, per chart,
# how many points each run's series holds (checked against metrics.csv) and
# how many canvas pixels it inked; the events table holds the resume, the
# checkpoint table every checkpoint; a screenshot is 1240x1400.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
CHROMIUM=$(command -v chromium) || fail "chromium not installed (make deps installs it)"
: "${CTRAIN_UPLOT_DIR:=$(cd "$(dirname "$0")/../.." && pwd)/build/uplot/package/dist}"
export CTRAIN_UPLOT_DIR
[ -f "$CTRAIN_UPLOT_DIR/uPlot.iife.min.js" ] || fail "uPlot missing in $CTRAIN_UPLOT_DIR (make uplot)"

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
keep_last = 3
INI
"$CTRAIN" train --config "$cfg" --run-dir "$T/a" -q >/dev/null || fail "train a"
mkdir -p "$T/b"
interrupted_run "$cfg" "$T/b" "--set optim.lr=0.003" 33
"$CTRAIN" resume "$T/b" -q >/dev/null || fail "resume b"
"$CTRAIN" report "$T/a" "$T/b" -o "$T/r.html" 2>"$T/err" || fail "report: $(cat "$T/err")"
grep -Eiq '(src|href)=["'"'"']?(https?:|//)' "$T/r.html" && fail "the page refers to the network"
grep -q 'uPlot' "$T/r.html" || fail "uPlot not embedded"
ok "report: $(wc -c < "$T/r.html") bytes, uPlot embedded, no network reference"

chrome() {
	_u=$(mktemp -d "$T/chrome.XXXXXX")
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$_u" "$@" 2>/dev/null
}
chrome --dump-dom "file://$T/r.html" > "$T/dom.html" || fail "chromium --dump-dom failed"
$PY - "$T/dom.html" "$T/a/metrics.csv" "$T/b/metrics.csv" <<'PYEOF' || fail "rendered page"
import csv, html, json, re, sys
dom = open(sys.argv[1]).read()
m = re.search(r'<pre id="ctrain-drawn">([^<]*)</pre>', dom)
assert m, "no drawn-series record: the page script did not run"
drawn = json.loads(html.unescape(m.group(1)))
for name, path in (("a", sys.argv[2]), ("b", sys.argv[3])):
    rows = list(csv.DictReader(open(path)))
    for col in ("loss", "val_loss", "val_accuracy", "lr", "grad_norm"):
        want = sum(1 for r in rows if r[col] != "")
        assert drawn[col][name] == want, (col, name, drawn[col][name], want)
for col, d in drawn.items():
    assert d["_ink"] > 1000, (col, d["_ink"])  # the canvas was drawn on
assert re.search(r"<td>resume</td><td>33</td>", dom), "no resume at step 33 in the events table"
import os
for d in (os.path.dirname(sys.argv[2]), os.path.dirname(sys.argv[3])):
    for f in os.listdir(d + "/checkpoints"):
        assert "<td>%s</td>" % f in dom, f
assert "layers = 16,32,4" in dom and "OpenBLAS kernel" in dom
print("ok   e2e_report: chromium drew 5 charts x 2 runs with every metrics point; tables present")
PYEOF
chrome --window-size=1240,1400 --screenshot="$T/shot.png" "file://$T/r.html" >/dev/null || fail "screenshot"
$PY -c "
import struct, sys
b = open(sys.argv[1], 'rb').read(24)
assert b[:8] == b'\x89PNG\r\n\x1a\n'
assert struct.unpack('>II', b[16:24]) == (1240, 1400), struct.unpack('>II', b[16:24])" "$T/shot.png" || fail "screenshot PNG"
ok "screenshot 1240x1400"

"$CTRAIN" report "$T/a" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no -o: expected 2"
"$CTRAIN" report "$T/nowhere" -o "$T/x.html" >/dev/null 2>&1; [ $? -eq 1 ] || fail "not a run: expected 1"
CTRAIN_UPLOT_DIR=$T/none "$CTRAIN" report "$T/a" -o "$T/x.html" 2>"$T/err"; [ $? -eq 1 ] || fail "no uPlot: expected 1"
grep -q "uPlot (make uplot, or set CTRAIN_UPLOT_DIR)" "$T/err" || fail "no uPlot message: $(cat "$T/err")"
[ -e "$T/x.html" ] && fail "a failed report left a file"
ok "usage 2; missing run or uPlot: exit 1, no file"
finish
