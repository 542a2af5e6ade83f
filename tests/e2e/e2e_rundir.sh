#!/bin/sh
# End-to-end: a run directory is never damaged (issue 20): one writer per run
# directory (flock on DIR/.lock with the holder's pid).
set -u
. "$(dirname "$0")/lib.sh"

cfg=$T/run.ini
cat > "$cfg" <<'INI'
[model]
layers = 8,16,3
[optim]
name = sgd
lr = 0.05
[data]
dataset = synthetic
n_samples = 300
n_features = 8
n_classes = 3
batch_size = 30
[train]
epochs = 3
seed = 5
log_every = 5
[checkpoint]
every_steps = 10
keep_last = 2
INI

# 1. one writer: while a train runs, a second train and a resume of the same
#    directory exit 1 naming its pid; kill -9 leaves no stale lock.
"$CTRAIN" train --config "$cfg" --run-dir "$T/w" --set train.epochs=100000 -q >/dev/null 2>"$T/w.err" &
pid=$!
trap 'kill -9 $pid 2>/dev/null; rm -rf "$T"' EXIT
i=0
while [ $i -lt 200 ] && ! ls "$T/w/checkpoints" 2>/dev/null | grep -q '^ckpt-'; do sleep 0.05; i=$((i + 1)); done
[ "$(cat "$T/w/.lock" 2>/dev/null)" = "$pid" ] || fail "DIR/.lock holds '$(cat "$T/w/.lock" 2>/dev/null)', not the pid $pid"
"$CTRAIN" train --config "$cfg" --run-dir "$T/w" --set optim.lr=0.002 >/dev/null 2>"$T/w2.err"
rc=$?
[ $rc -eq 1 ] || fail "second train into a running run dir exited $rc, not 1: $(cat "$T/w2.err")"
grep -q "pid $pid" "$T/w2.err" || fail "second train does not name the holder's pid $pid: $(cat "$T/w2.err")"
"$CTRAIN" resume "$T/w" >/dev/null 2>"$T/w3.err"
rc=$?
[ $rc -eq 1 ] || fail "resume of a running run dir exited $rc, not 1: $(cat "$T/w3.err")"
grep -q "pid $pid" "$T/w3.err" || fail "resume does not name the holder's pid $pid: $(cat "$T/w3.err")"
grep -q 'lr = 0.05$' "$T/w/config.ini" || fail "the second writer changed config.ini"
kill -9 $pid
wait $pid 2>/dev/null
"$CTRAIN" resume "$T/w" --set train.epochs=1 >/dev/null 2>"$T/w4.err" \
	|| fail "resume after kill -9 refused (stale lock?): $(cat "$T/w4.err")"
ok "second train/resume exit 1 naming pid $pid; no stale lock after kill -9"

# 2. train never overwrites a run: a finished run whose checkpoints were
#    deleted is refused (exit 2, pointing at resume and --overwrite), its files
#    untouched; --overwrite removes the old run first.
"$CTRAIN" train --config "$cfg" --run-dir "$T/f" --set checkpoint.every_steps=4 -q >/dev/null 2>&1 || fail "train f"
rm -r "$T/f/checkpoints"
cp "$T/f/model.safetensors" "$T/f.model"
cp "$T/f/metrics.csv" "$T/f.metrics"
"$CTRAIN" train --config "$cfg" --run-dir "$T/f" --set optim.lr=0.01 >/dev/null 2>"$T/f.err"
rc=$?
[ $rc -eq 2 ] || fail "train into a finished run (no checkpoints/) exited $rc, not 2"
grep -q 'ctrain resume' "$T/f.err" && grep -q -- '--overwrite' "$T/f.err" || fail "no hint to resume/--overwrite: $(cat "$T/f.err")"
cmp -s "$T/f/model.safetensors" "$T/f.model" && cmp -s "$T/f/metrics.csv" "$T/f.metrics" || fail "refused train changed the run's files"
for name in metrics.csv config.ini; do
	mkdir "$T/g_$name"
	echo x > "$T/g_$name/$name"
	"$CTRAIN" train --config "$cfg" --run-dir "$T/g_$name" >/dev/null 2>&1
	[ $? -eq 2 ] || fail "train into a directory holding only $name did not exit 2"
	[ "$(cat "$T/g_$name/$name")" = x ] || fail "$name overwritten"
done
"$CTRAIN" train --config "$cfg" --run-dir "$T/f2" -q >/dev/null 2>&1 || fail "train f2"
"$CTRAIN" train --config "$cfg" --run-dir "$T/f" --set checkpoint.every_steps=4 --set checkpoint.keep_last=0 --overwrite -q >/dev/null 2>&1 || fail "retrain f"
"$CTRAIN" train --config "$cfg" --run-dir "$T/f" --overwrite >/dev/null 2>"$T/f.err" || fail "--overwrite refused: $(cat "$T/f.err")"
cmp -s "$T/f/model.safetensors" "$T/f2/model.safetensors" || fail "--overwrite run differs from a fresh run"
cmp -s "$T/f/config.ini" "$T/f2/config.ini" || fail "--overwrite config differs from a fresh run"
same_metrics "$T/f/metrics.csv" "$T/f2/metrics.csv" || fail "--overwrite metrics differ from a fresh run"
[ "$(ls "$T/f/checkpoints")" = "$(ls "$T/f2/checkpoints")" ] || fail "--overwrite left old checkpoints: $(ls "$T/f/checkpoints")"
ok "train refuses a run without checkpoints/ (exit 2); --overwrite = a fresh run"

# 3. --run-dir must not be the folder of --config's own file, unless that file
#    is a run's frozen config.
mkdir "$T/u"
{ echo "; my notes"; cat "$cfg"; } > "$T/u/config.ini"
cp "$T/u/config.ini" "$T/u.orig"
for c in config.ini; do
	"$CTRAIN" train --config "$T/u/$c" --run-dir "$T/u" >/dev/null 2>"$T/u.err"
	[ $? -eq 2 ] || fail "train --config DIR/$c --run-dir DIR did not exit 2"
	grep -q 'folder of --config' "$T/u.err" || fail "no reason given: $(cat "$T/u.err")"
done
cp "$cfg" "$T/u/my.ini"
rm "$T/u/config.ini"
"$CTRAIN" train --config "$T/u/my.ini" --run-dir "$T/u/" >/dev/null 2>"$T/u.err"
[ $? -eq 2 ] || fail "train --config DIR/my.ini --run-dir DIR/ did not exit 2"
[ ! -e "$T/u/config.ini" ] || fail "config.ini written beside the user's config"
"$CTRAIN" train --config "$T/f/config.ini" --run-dir "$T/f" --overwrite -q >/dev/null 2>"$T/f.err" || fail "retrain from the frozen config refused: $(cat "$T/f.err")"
cmp -s "$T/f/model.safetensors" "$T/f2/model.safetensors" || fail "retrain from the frozen config differs"
ok "refuses --run-dir = folder of --config (exit 2) unless it is the frozen config"

# 4. train.on_nonfinite: a CSV with one row of 3e38 (the loss of its batch is
#    not finite).  stop (default): exit 1 naming the step, no model, every kept
#    checkpoint finite; skip_batch: finishes with finite weights; warn: no
#    non-finite checkpoint is ever written (keep_last=1 keeps a finite one).
#    eval of a model with NaN weights exits 1.
awk 'BEGIN { for (i = 0; i < 300; i++) { c = i % 3; printf "%.3f,%.3f,%.3f,%.3f,%d\n", c + sin(i), c - cos(i * 7), sin(i * 3), cos(i * 5), c } }' > "$T/good.csv"
awk 'NR == 150 { print "3e38,3e38,3e38,3e38,1"; next } { print }' "$T/good.csv" > "$T/bad.csv"
cat > "$T/csv.ini" <<INI
[model]
layers = 4,16,3
[optim]
name = sgd
lr = 0.1
[data]
dataset = csv
path = $T/bad.csv
batch_size = 20
; file order: the 3e38 row (line 150) is in step 8's batch, after the
; checkpoints of steps 3 and 6
shuffle = false
[train]
epochs = 4
log_every = 5
[checkpoint]
every_steps = 3
keep_last = 1
INI
finite_ckpt() { # the newest checkpoint of run $1 evaluates to a finite loss on good.csv
	_ck=$(ls "$1/checkpoints"/ckpt-*.h5 | tail -1)
	"$CTRAIN" eval --model "$_ck" --set data.path="$T/good.csv" 2>"$T/fe.err" | grep -Eq ' loss=[0-9.]+ ' \
		|| fail "$1: newest checkpoint $_ck does not evaluate finite: $(cat "$T/fe.err")"
}
"$CTRAIN" train --config "$T/csv.ini" --run-dir "$T/n1" >/dev/null 2>"$T/n1.err"
rc=$?
[ $rc -eq 1 ] || fail "non-finite loss: exit $rc, not 1"
grep -Eq 'ERROR non-finite (loss|gradient) .*at step [0-9]+' "$T/n1.err" || fail "no step named: $(cat "$T/n1.err")"
[ ! -e "$T/n1/model.safetensors" ] || fail "model.safetensors written by a run that went non-finite"
finite_ckpt "$T/n1"
"$CTRAIN" train --config "$T/csv.ini" --run-dir "$T/n2" --set train.on_nonfinite=skip_batch >/dev/null 2>"$T/n2.err" \
	|| fail "skip_batch run failed: $(cat "$T/n2.err")"
grep -q 'batch skipped' "$T/n2.err" || fail "skip_batch: no warning"
"$CTRAIN" eval --model "$T/n2" --set data.path="$T/good.csv" 2>/dev/null | grep -Eq ' loss=[0-9.]+ ' || fail "skip_batch model not finite"
"$CTRAIN" train --config "$T/csv.ini" --run-dir "$T/n3" --set train.on_nonfinite=warn >/dev/null 2>"$T/n3.err"
[ $? -eq 1 ] || fail "warn run ending non-finite should exit 1"
finite_ckpt "$T/n3"
/usr/bin/python3 - "$T/n2/model.safetensors" "$T/nan.safetensors" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
b[8 + n:] = struct.pack("<f", float("nan")) * ((len(b) - 8 - n) // 4)
open(sys.argv[2], "wb").write(b)
PY
"$CTRAIN" eval --model "$T/nan.safetensors" --set data.dataset=csv --set data.path="$T/good.csv" >/dev/null 2>"$T/nan.err"
rc=$?
[ $rc -eq 1 ] || fail "eval of a NaN model exited $rc, not 1: $(cat "$T/nan.err")"
ok "non-finite: stop exits 1 naming the step with finite checkpoints; skip_batch, warn; eval exits 1"

# 5. an interrupted extension of a finished run leaves no stale model: eval
#    then uses the newest checkpoint, and the completed extension writes it.
"$CTRAIN" train --config "$cfg" --run-dir "$T/x" -q >/dev/null 2>&1 || fail "train x"
CTRAIN_TEST_SIGNAL_AT_STEP=40 "$CTRAIN" resume "$T/x" --set train.epochs=6 >/dev/null 2>"$T/x.err"
rc=$?
[ $rc -eq 143 ] || fail "interrupted extension exited $rc: $(cat "$T/x.err")"
[ ! -e "$T/x/model.safetensors" ] || fail "model.safetensors of the first end is still there after an interrupted extension"
"$CTRAIN" eval --model "$T/x" >/dev/null 2>"$T/xe.err" || fail "eval of the extended run: $(cat "$T/xe.err")"
grep -q 'INFO using .*ckpt-0000000040.h5' "$T/xe.err" || fail "eval did not use the step-40 checkpoint: $(cat "$T/xe.err")"
"$CTRAIN" resume "$T/x" >/dev/null 2>&1 && [ -s "$T/x/model.safetensors" ] || fail "completed extension wrote no model"
ok "interrupted extension: stale model.safetensors removed, eval uses ckpt-40"

# 6. signals: SIGHUP saves a checkpoint and exits 129 (then resumes to the
#    same bytes); a closed stdout/stderr never kills a run: under `| head -1`
#    it completes (exit 0) and the rest of the log goes to DIR/train.log;
#    SIGTERM under a dead reader still exits 143 and logs the resume line there.
"$CTRAIN" train --config "$cfg" --run-dir "$T/ref" -q >/dev/null 2>&1 || fail "train ref"
CTRAIN_TEST_SIGNAL_AT_STEP=13:1 "$CTRAIN" train --config "$cfg" --run-dir "$T/h" >/dev/null 2>"$T/h.err"
rc=$?
[ $rc -eq 129 ] || fail "SIGHUP: exit $rc, not 129: $(cat "$T/h.err")"
grep -q "interrupted at step 13; checkpoint saved; resume with: ctrain resume $T/h" "$T/h.err" || fail "SIGHUP: no interrupt message"
"$CTRAIN" resume "$T/h" >/dev/null 2>&1 || fail "resume after SIGHUP"
cmp -s "$T/h/model.safetensors" "$T/ref/model.safetensors" || fail "SIGHUP + resume: different weights"
{ "$CTRAIN" train --config "$cfg" --run-dir "$T/p" --set train.log_every=1; echo $? > "$T/p.rc"; } 2>&1 | head -1 >/dev/null
[ "$(cat "$T/p.rc")" = 0 ] || fail "train | head -1 exited $(cat "$T/p.rc"), not 0"
cmp -s "$T/p/model.safetensors" "$T/ref/model.safetensors" || fail "train | head -1: different weights"
grep -q "INFO wrote $T/p/model.safetensors" "$T/p/train.log" || fail "train | head -1: the log did not go on in train.log"
{ CTRAIN_TEST_SIGNAL_AT_STEP=20 "$CTRAIN" train --config "$cfg" --run-dir "$T/q" --set train.log_every=1; echo $? > "$T/q.rc"; } 2>&1 | true
[ "$(cat "$T/q.rc")" = 143 ] || fail "SIGTERM under a dead pipe exited $(cat "$T/q.rc"), not 143"
grep -q "interrupted at step 20; checkpoint saved; resume with: ctrain resume $T/q" "$T/q/train.log" \
	|| fail "SIGTERM under a dead pipe: no resume line in train.log"
"$CTRAIN" resume "$T/q" >/dev/null 2>&1 && cmp -s "$T/q/model.safetensors" "$T/ref/model.safetensors" || fail "resume q"
ok "SIGHUP exits 129 and resumes identical; | head -1 completes (exit 0, log in train.log); SIGTERM | dead reader exits 143"

# 7. outputs outside a run directory: predict -o is atomic (killed right
#    after opening its output, the old file is intact), -o - is stdout, and an
#    output that is also an input is refused (predict, export, convert).
SHIM=$(shim faultinject) || exit 1
cut -d, -f1-4 "$T/good.csv" > "$T/x.csv"
mkdir "$T/po"
echo "old predictions" > "$T/po/p.csv"
CTRAIN_FAULT_DIR=$T/po CTRAIN_FAULT_AT=1 CTRAIN_FAULT_ACTION=kill-after LD_PRELOAD="$SHIM" \
	"$CTRAIN" predict --model "$T/n2" --input "$T/x.csv" -o "$T/po/p.csv" >/dev/null 2>&1
[ "$(cat "$T/po/p.csv")" = "old predictions" ] || fail "predict killed mid-write damaged the old output: $(head -c 80 "$T/po/p.csv")"
"$CTRAIN" predict --model "$T/n2" --input "$T/x.csv" -o "$T/po/p.csv" 2>/dev/null || fail "predict -o"
(cd "$T/po" && "$CTRAIN" predict --model "$T/n2" --input "$T/x.csv" -o - >"$T/stdout.csv" 2>/dev/null) || fail "predict -o -"
[ ! -e "$T/po/-" ] || fail "predict -o - wrote a file named '-'"
cmp -s "$T/stdout.csv" "$T/po/p.csv" || fail "predict -o - differs from -o FILE"
cp "$T/x.csv" "$T/x.orig"
"$CTRAIN" predict --model "$T/n2" --input "$T/x.csv" -o "$T/x.csv" >/dev/null 2>&1
[ $? -eq 2 ] && cmp -s "$T/x.csv" "$T/x.orig" || fail "predict -o INPUT not refused"
ln -s "$T/n2/model.safetensors" "$T/link.safetensors"
cp "$T/n2/model.safetensors" "$T/m.orig"
"$CTRAIN" export "$T/n2" -o "$T/link.safetensors" --dtype f16 >/dev/null 2>&1
[ $? -eq 2 ] && cmp -s "$T/n2/model.safetensors" "$T/m.orig" || fail "export over its own source (via a symlink) not refused"
cp "$(dirname "$0")/../fixtures/pth/wrap_state_dict.pth" "$T/w.pth"
cp "$T/w.pth" "$T/w.orig"
"$CTRAIN" convert "$T/w.pth" "$T/w.pth" >/dev/null 2>&1
[ $? -eq 2 ] && cmp -s "$T/w.pth" "$T/w.orig" || fail "convert x.pth x.pth not refused"
"$CTRAIN" convert "$T/w.pth" "$T/w.safetensors" >/dev/null 2>&1 || fail "convert"
ok "predict -o atomic and -o - = stdout; predict/export/convert refuse output = input"

# 8. CSV headers: a first row of text is a header (logged); a first row mixing
#    numbers and text is an error naming line and column; data.header forces
#    either way.  eval --data csv:FILE scores every row of FILE.
hdr() { _n=$1; shift; "$CTRAIN" train --config "$T/csv.ini" --run-dir "$T/hd$_n" --set data.path="$T/h$_n.csv" "$@" >/dev/null 2>"$T/hd$_n.err"; }
{ echo "1,abc,2,3,0"; cat "$T/good.csv"; } > "$T/h1.csv"
hdr 1
rc=$?
[ $rc -eq 1 ] || fail "a partly numeric first row: exit $rc, not 1"
grep -q "h1.csv: line 1, column 2: not a number" "$T/hd1.err" || fail "no line/column: $(cat "$T/hd1.err")"
{ echo "a,b,c,d,label"; cat "$T/good.csv"; } > "$T/h2.csv"
hdr 2 || fail "text header refused: $(cat "$T/hd2.err")"
grep -q "INFO .*h2.csv: line 1 taken as a header" "$T/hd2.err" || fail "header skip not logged: $(cat "$T/hd2.err")"
cp "$T/h1.csv" "$T/h3.csv"
hdr 3 --set data.header=true || fail "data.header=true: $(cat "$T/hd3.err")"
cp "$T/h2.csv" "$T/h4.csv"
hdr 4 --set data.header=false
[ $? -eq 1 ] || fail "data.header=false with a text first row should fail"
grep -q "line 1, column 1" "$T/hd4.err" || fail "data.header=false: $(cat "$T/hd4.err")"
ev=$("$CTRAIN" eval --model "$T/hd2" --data "csv:$T/good.csv" 2>"$T/ev.err") || fail "eval --data: $(cat "$T/ev.err")"
echo "$ev" | grep -q ' n=300$' || fail "eval --data csv:FILE did not score all 300 rows: $ev"
ok "csv header auto/true/false; partly numeric first row names line 1 column 2; eval --data scores all rows"

# 9. --init-from --non-strict that matches nothing is an error; --rename
#    OLD=NEW maps nn.Sequential names (0.weight, 2.weight) for --init-from,
#    convert and --model.
awk -F, '$5 < 2' "$T/good.csv" > "$T/two.csv"
seq_args="--config $T/csv.ini --set model.layers=4,3,2 --set data.path=$T/two.csv --init-from $T/w.pth"
"$CTRAIN" train $seq_args --run-dir "$T/r1" --non-strict >/dev/null 2>"$T/r1.err"
rc=$?
[ $rc -eq 1 ] || fail "--non-strict matching nothing: exit $rc, not 1"
grep -q 'no tensor of the file matches the model' "$T/r1.err" || fail "no reason: $(cat "$T/r1.err")"
"$CTRAIN" train $seq_args --run-dir "$T/r2" --rename 0.=layers.0. --rename 2.=layers.1. >/dev/null 2>"$T/r2.err" \
	|| fail "--init-from --rename: $(cat "$T/r2.err")"
grep -q 'initialised all 4 tensors' "$T/r2.err" || fail "--rename did not load every tensor: $(cat "$T/r2.err")"
"$CTRAIN" convert "$T/w.pth" "$T/wr.safetensors" --rename 0.=layers.0. --rename 2.=layers.1. >/dev/null 2>"$T/c.err" || fail "convert --rename: $(cat "$T/c.err")"
"$CTRAIN" inspect "$T/wr.safetensors" | grep -q 'layers\.1\.weight' || fail "convert --rename: names not mapped"
"$CTRAIN" eval --model "$T/w.safetensors" --data "csv:$T/two.csv" >/dev/null 2>&1 && fail "eval of unmapped names should fail"
"$CTRAIN" eval --model "$T/w.safetensors" --rename 0.=layers.0. --rename 2.=layers.1. --data "csv:$T/two.csv" >/dev/null 2>"$T/e.err" \
	|| fail "eval --model --rename: $(cat "$T/e.err")"
"$CTRAIN" eval --model "$T/w.safetensors" --rename x.=layers.0. --data "csv:$T/two.csv" >/dev/null 2>"$T/e.err"
[ $? -eq 1 ] && grep -q "no tensor name starts with 'x.'" "$T/e.err" || fail "a --rename matching nothing: $(cat "$T/e.err")"
ok "--non-strict with no match exits 1; --rename maps names for --init-from, convert, --model"

# 10. export --verify: a correct f16/bf16 export passes and says so; one whose
#     weights overflow f16 fails with exit 1 and the max abs/rel error.
for dt in f16 bf16; do
	"$CTRAIN" export "$T/n2" -o "$T/v-$dt.safetensors" --dtype $dt --verify >"$T/v.out" 2>"$T/v.err" \
		|| fail "export --verify $dt failed: $(cat "$T/v.err")"
	grep -q "passed: weights are the f32 weights rounded to $dt exactly" "$T/v.out" || fail "verify $dt: $(cat "$T/v.out")"
done
/usr/bin/python3 - "$T/n2/model.safetensors" "$T/big.safetensors" <<'PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
vals = struct.unpack("<%df" % ((len(b) - 8 - n) // 4), bytes(b[8 + n:]))
b[8 + n:] = struct.pack("<%df" % len(vals), *[v * 1e6 for v in vals])
open(sys.argv[2], "wb").write(b)
PY
"$CTRAIN" export "$T/big.safetensors" -o "$T/big16.safetensors" --dtype f16 --verify >"$T/v.out" 2>"$T/v.err"
rc=$?
[ $rc -eq 1 ] || fail "export --verify of an f16 overflow exited $rc, not 1: $(cat "$T/v.out")"
grep -q 'max abs error .* max rel error' "$T/v.err" || fail "verify failure without errors: $(cat "$T/v.err")"
ok "export --verify: f16/bf16 pass (exact rounding, logits within rounding); an f16 overflow exits 1"

# 11. data fingerprint: resume refuses data rewritten at the same path (unless
#     --accept-data-change), and accepts --set data.path= for the same content
#     at a new place (finishing with the uninterrupted run's bytes).
mkdir "$T/dd"
cp "$T/two.csv" "$T/dd/d.csv"
fp_args="--config $T/csv.ini --set data.path=$T/dd/d.csv --set model.layers=4,8,2"
"$CTRAIN" train $fp_args --run-dir "$T/fref" -q >/dev/null 2>&1 || fail "train fref"
CTRAIN_TEST_SIGNAL_AT_STEP=7 "$CTRAIN" train $fp_args --run-dir "$T/fp" -q >/dev/null 2>&1
[ $? -eq 143 ] || fail "fingerprint run: interrupt"
[ -s "$T/fp/data.fingerprint" ] || fail "no data.fingerprint in the run directory"
cp -r "$T/fp" "$T/fp2"
cp -r "$T/fp" "$T/fp3"
sed '5s/^-0\./0./' "$T/two.csv" > "$T/dd/d.csv"
cmp -s "$T/two.csv" "$T/dd/d.csv" && fail "test data not changed"
"$CTRAIN" resume "$T/fp" >/dev/null 2>"$T/fp.err"
rc=$?
[ $rc -eq 1 ] || fail "resume on rewritten data exited $rc, not 1: $(cat "$T/fp.err")"
grep -q 'the data changed since training started' "$T/fp.err" || fail "no reason: $(cat "$T/fp.err")"
"$CTRAIN" resume "$T/fp" --accept-data-change >/dev/null 2>"$T/fp.err" || fail "--accept-data-change: $(cat "$T/fp.err")"
grep -q 'WARN .*data changed' "$T/fp.err" || fail "--accept-data-change did not warn"
"$CTRAIN" resume "$T/fp2" --set data.path="$T/dd/d.csv" >/dev/null 2>"$T/fp.err"
[ $? -eq 1 ] || fail "--set data.path to different content accepted"
cp "$T/two.csv" "$T/moved.csv"
"$CTRAIN" resume "$T/fp3" --set data.path="$T/moved.csv" >/dev/null 2>"$T/fp.err" || fail "--set data.path to the same content refused: $(cat "$T/fp.err")"
cmp -s "$T/fp3/model.safetensors" "$T/fref/model.safetensors" || fail "moved data: weights differ from the uninterrupted run"
ok "resume refuses rewritten data (exit 1; --accept-data-change overrides); --set data.path to the same content resumes identical"

finish
