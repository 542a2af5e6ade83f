#!/bin/sh
# End-to-end: `ctrain status` of a finished, an interrupted (kill -9), a failed
# (checkpoint disk full, exit 1) and a running run (DIR/.lock held by another
# process), of a run whose newest checkpoint is corrupt, the one-line-per-run
# listing of a parent directory, and the --json schema (checked with Python).
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SHIM=$(shim faultinject) || exit 1

cfg=$T/run.ini
cat > "$cfg" <<'INI'
[model]
layers = 16,32,4
activation = relu
[optim]
name = sgd
lr = 0.3
momentum = 0.9
[data]
dataset = synthetic
n_samples = 800
n_features = 16
n_classes = 4
val_fraction = 0.25
batch_size = 20
[train]
epochs = 3
seed = 11
log_every = 5
eval_every = 10
[checkpoint]
every_steps = 10
keep_last = 0
keep_best = 2
async = false
INI
R=$T/runs
mkdir -p "$R"

# finished
"$CTRAIN" train --config "$cfg" --run-dir "$R/fin" -q >/dev/null || fail "train fin"
out=$("$CTRAIN" status "$R/fin") || fail "status fin exit $?"
echo "$out" | grep -qx "state       finished" || fail "fin: $out"
echo "$out" | grep -q "^progress    step 90 of 90 (100.0%)" || fail "fin progress: $out"
echo "$out" | grep -q "^checkpoint  .*ckpt-0000000090.h5: step 90, .*, valid$" || fail "fin ckpt: $out"
echo "$out" | grep -q "^best        by val_loss: step " || fail "fin best: $out"
echo "$out" | grep -q "^resume with" && fail "a finished run needs no resume: $out"
ok "finished: step 90 of 90, checkpoint 90 valid, best listed"

# interrupted by kill -9 after step 43 (newest checkpoint 40)
CTRAIN_TEST_SIGNAL_AT_STEP=43:9 "$CTRAIN" train --config "$cfg" --run-dir "$R/kil" -q >/dev/null 2>&1
[ $? -eq 137 ] || fail "kil: expected SIGKILL"
out=$("$CTRAIN" status "$R/kil") || fail "status kil"
echo "$out" | grep -qx "state       interrupted" || fail "kil: $out"
echo "$out" | grep -q "^progress    step 40 of 90" || fail "kil progress: $out"
echo "$out" | grep -qx "resume with ctrain resume $R/kil" || fail "kil resume: $out"
ok "kill -9: interrupted at step 40 of 90, resume command given"

# the newest checkpoint corrupted: status says why, and which one resume uses
f=$R/kil/checkpoints/ckpt-0000000040.h5
sz=$(stat -c %s "$f")
printf 'X' | dd of="$f" bs=1 seek=$((sz / 2)) conv=notrunc 2>/dev/null
out=$("$CTRAIN" status "$R/kil")
echo "$out" | grep -q "^checkpoint  .*ckpt-0000000040.h5: step 40, .*INVALID: .*" || fail "corrupt: $out"
echo "$out" | grep -q "^resumes at  .*ckpt-0000000030.h5 (step 30, newest valid)" || fail "corrupt fallback: $out"
[ -f "$f" ] || fail "status must not move a corrupt checkpoint aside"
ok "corrupt newest: INVALID with reason, resumes at 30, file left as is"

# failed: interrupted at step 43, then the resume's first checkpoint write
# (10th file operation under checkpoints/) and every later one fails: exit 1
CTRAIN_TEST_SIGNAL_AT_STEP=43 "$CTRAIN" train --config "$cfg" --run-dir "$R/bad" -q >/dev/null 2>&1
[ $? -eq 143 ] || fail "bad: expected exit 143"
CTRAIN_FAULT_AT=10 CTRAIN_FAULT_STICKY=1 CTRAIN_FAULT_DIR=$R/bad/checkpoints LD_PRELOAD=$SHIM \
	"$CTRAIN" resume "$R/bad" -q >/dev/null 2>"$T/bad.err"
[ $? -eq 1 ] || fail "bad: expected exit 1: $(cat "$T/bad.err")"
out=$("$CTRAIN" status "$R/bad")
echo "$out" | grep -qx "state       failed" || fail "bad: $out"
echo "$out" | grep -q "^error       .*No space left on device" || fail "bad error: $out"
echo "$out" | grep -qx "resume with ctrain resume $R/bad" || fail "bad resume: $out"
ok "failed (ENOSPC): state failed with the error"

# running: another process holds DIR/.lock and wrote its pid
"$CTRAIN" train --config "$cfg" --run-dir "$R/run" --set train.epochs=6 -q >/dev/null 2>&1 &
wait $!
printf '%s\n' 4242 > "$R/run/.lock"
# replace the events of the finished run by a start event: it is being trained on
echo "time_unix,event,step,total_steps,detail" > "$R/run/events.csv"
echo "$(date +%s).000,resume,180,360," >> "$R/run/events.csv"
flock "$R/run/.lock" sh -c 'echo $$ > "$0"; exec sleep 30' "$T/sleeper" &
holder=$!
for i in 1 2 3 4 5 6 7 8 9 10; do
	"$CTRAIN" status "$R/run" | grep -q "^state       running" && break
	sleep 0.2
done
out=$("$CTRAIN" status "$R/run")
echo "$out" | grep -qx "state       running (pid 4242)" || fail "run: $out"
echo "$out" | grep -q "^progress    step 180 of 360 (50.0%)" || fail "run progress: $out"
echo "$out" | grep -q "^speed       .* samples/s, ETA [0-9]" || fail "run ETA: $out"
echo "$out" | grep -q "^resume with" && fail "a running run must not be resumed: $out"
echo "$out" | grep -qx "events      1 resume(s), 0 restart(s)" || fail "run events: $out"
ok "running: pid from DIR/.lock, step 180 of 360, ETA"

# the parent directory: one line per run, sorted
out=$("$CTRAIN" status "$R") || fail "status parent"
[ "$(echo "$out" | wc -l)" -eq 4 ] || fail "parent: expected 4 lines: $out"
echo "$out" | sed -n 1p | grep -q "^$R/bad  failed  step" || fail "parent line 1: $out"
echo "$out" | sed -n 2p | grep -q "^$R/fin  finished  step 90/90  loss" || fail "parent line 2: $out"
echo "$out" | sed -n 3p | grep -q "^$R/kil  interrupted  step 40/90 .* ckpt 40 INVALID" || fail "parent line 3: $out"
echo "$out" | sed -n 4p | grep -q "^$R/run  running (pid 4242)  step 180/360 .* ETA " || fail "parent line 4: $out"
ok "parent directory: 4 runs, one line each"

# JSON: the documented schema, values agreeing with the files
"$CTRAIN" status --json "$R" > "$T/s.json" || fail "status --json"
$PY - "$T/s.json" "$R" <<'PYEOF' || fail "JSON schema"
import json, sys
d = json.load(open(sys.argv[1])); R = sys.argv[2]
assert d["schema"] == 1, d
runs = {r["dir"][len(R) + 1:]: r for r in d["runs"]}
assert sorted(runs) == ["bad", "fin", "kil", "run"], runs.keys()
keys = {"dir", "state", "pid", "step", "total_steps", "epoch", "loss", "lr", "val_loss",
        "val_accuracy", "val_step", "samples_per_sec", "eta_sec", "checkpoint", "checkpoints",
        "resume_from", "best", "monitor", "disk_bytes", "resumes", "restarts", "error",
        "resume_command"}
for n, r in runs.items():
    assert set(r) == keys, (n, set(r) ^ keys)
    assert r["disk_bytes"] > 0
f, k, b, u = runs["fin"], runs["kil"], runs["bad"], runs["run"]
assert f["state"] == "finished" and f["step"] == 90 and f["total_steps"] == 90 and f["pid"] is None
assert f["checkpoint"]["valid"] is True and f["checkpoint"]["step"] == 90 and f["checkpoint"]["reason"] is None
assert f["resume_command"] is None and len(f["best"]) == 2 and f["monitor"] == "val_loss"
rows = [l.split(",") for l in open(R + "/fin/metrics.csv").read().split("\n")[1:] if l]
vals = sorted((float(r[4]), int(r[0])) for r in rows if r[4])
assert [b_["step"] for b_ in f["best"]] == [s for _, s in vals[:2]], (f["best"], vals[:3])
assert k["state"] == "interrupted" and k["step"] == 40 and k["checkpoint"]["valid"] is False
assert k["checkpoint"]["reason"] and k["resume_from"]["step"] == 30
assert k["resume_command"] == "ctrain resume " + R + "/kil"
assert b["state"] == "failed" and "No space left on device" in b["error"]
assert u["state"] == "running" and u["pid"] == 4242 and u["total_steps"] == 360 and u["eta_sec"] > 0
assert u["resumes"] == 1
PYEOF
ok "--json: schema 1, every key, values agree with metrics.csv"

kill "$(cat "$T/sleeper")" "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
out=$("$CTRAIN" status "$R/run")
echo "$out" | grep -qx "state       interrupted" || fail "after the holder exits: $out"
ok "lock released: no longer running"

"$CTRAIN" status "$T/nowhere" >/dev/null 2>&1; [ $? -eq 1 ] || fail "missing dir: expected exit 1"
"$CTRAIN" status >/dev/null 2>&1; [ $? -eq 2 ] || fail "no args: expected exit 2"
"$CTRAIN" status --bogus "$R" >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad option: expected exit 2"
ok "usage errors exit 2, a missing directory 1"
finish
