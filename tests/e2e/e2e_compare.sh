#!/bin/sh
# End-to-end: `ctrain compare` on a run and its twice-interrupted twin
# (identical: exit 0), on runs whose learning rate schedule diverges at step
# 40 (exit 1, first differing step and the one differing config key), on a
# checkpoint against a safetensors file, and usage errors (exit 2).
set -u
. "$(dirname "$0")/lib.sh"

cfg=$T/run.ini
cat > "$cfg" <<'INI'
[model]
layers = 16,32,4
activation = relu
[optim]
name = adam
lr = 0.01
[schedule]
name = step
step_size = 40
gamma = 0.5
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
keep_last = 0
INI

"$CTRAIN" train --config "$cfg" --run-dir "$T/a" -q >/dev/null || fail "train a"

interrupted_run "$cfg" "$T/b" "" 23 61
"$CTRAIN" resume "$T/b" -q >/dev/null || fail "resume b"
out=$("$CTRAIN" compare "$T/a" "$T/b"); rc=$?
[ $rc -eq 0 ] || fail "identical runs: exit $rc: $out"
echo "$out" | grep -q "^weights   identical: 4 tensors, " || fail "identical: $out"
rows=$(($(wc -l < "$T/a/metrics.csv") - 1))
echo "$out" | grep -qx "metrics   identical: $rows rows (timing columns excepted)" || fail "metrics: $out"
echo "$out" | grep -qx "config    identical" || fail "config: $out"
ok "uninterrupted vs interrupted twice: identical weights, $rows metric rows, config (exit 0)"

# gamma 0.25 instead of 0.5: the same lr, so the same bytes, up to step 40
"$CTRAIN" train --config "$cfg" --run-dir "$T/c" --set schedule.gamma=0.25 -q >/dev/null || fail "train c"
out=$("$CTRAIN" compare "$T/a" "$T/c"); rc=$?
[ $rc -eq 1 ] || fail "different runs: exit $rc: $out"
echo "$out" | grep -q "^weights   DIFFER" || fail "differ: $out"
echo "$out" | grep -Eq "^  layers\.0\.weight: [1-9][0-9]* of 512 values differ, max \|diff\| [0-9.e-]+ at index" \
	|| fail "per-tensor diff: $out"
# expected first differing step, from the files (all but the timing columns)
exp=$(strip_timing "$T/a/metrics.csv" > "$T/ma"; strip_timing "$T/c/metrics.csv" > "$T/mc";
	paste -d'|' "$T/ma" "$T/mc" | awk -F'|' '$1 != $2 { split($1, f, ","); print f[1]; exit }')
[ "$exp" -ge 40 ] && [ "$exp" -le 45 ] || fail "test premise: runs should part at step 40-45, got $exp"
echo "$out" | grep -q "^metrics   first differ at step $exp: " || fail "first step ($exp): $out"
echo "$out" | grep -qx "config    schedule.gamma = 0.5 | 0.25" || fail "config key: $out"
[ "$(echo "$out" | grep -c ' = ')" -eq 1 ] || fail "only schedule.gamma differs: $out"
ok "schedule diverging after step 40: exit 1, first differing step $exp, schedule.gamma"

# files: the final checkpoint holds the same weights as the export
out=$("$CTRAIN" compare "$T/a/checkpoints/ckpt-0000000090.h5" "$T/b/model.safetensors"); rc=$?
[ $rc -eq 0 ] || fail "checkpoint vs safetensors: exit $rc: $out"
echo "$out" | grep -q "^metrics" && fail "files have no metrics to compare: $out"
"$CTRAIN" compare "$T/a/checkpoints/ckpt-0000000040.h5" "$T/a/model.safetensors" >/dev/null; rc=$?
[ $rc -eq 1 ] || fail "step 40 vs final: expected exit 1, got $rc"
ok "checkpoint vs safetensors: 0 when equal, 1 when not"

"$CTRAIN" compare "$T/a" >/dev/null 2>&1; [ $? -eq 2 ] || fail "one argument: expected 2"
"$CTRAIN" compare "$T/a" "$T/nowhere" >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing SRC: expected 2"
ok "usage errors: exit 2"
finish
