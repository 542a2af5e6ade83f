#!/bin/sh
# Same bytes on any thread count (train.deterministic = true, the default): the
# same run at threads = 1, 2, 3, 4 gives byte-identical model.safetensors and
# metrics; a run checkpointed at 2 threads and resumed at 1 ends identical.
# Shapes are chosen so every product is cut into several blocks (batch 512 ->
# 2 row blocks; 512 hidden units -> 2 blocks of weight-gradient rows; at
# batch 64, 2 column blocks).
set -u
. "$(dirname "$0")/lib.sh"
cat > "$T/run.ini" <<'INI'
[model]
layers = 48,512,512,6
activation = tanh
dropout = 0.1
[optim]
name = adamw
lr = 0.002
weight_decay = 0.01
[data]
dataset = synthetic
n_samples = 3000
n_features = 48
n_classes = 6
batch_size = 512
[train]
epochs = 2
seed = 11
log_every = 2
[checkpoint]
every_steps = 4
INI
for t in 1 2 3 4; do
	"$CTRAIN" train --config "$T/run.ini" --run-dir "$T/t$t" --set train.threads=$t >/dev/null 2>"$T/err" \
		|| fail "threads=$t: $(cat "$T/err")"
done
for t in 2 3 4; do
	cmp "$T/t1/model.safetensors" "$T/t$t/model.safetensors" || fail "threads=$t gives other weights than threads=1"
	same_metrics "$T/t1/metrics.csv" "$T/t$t/metrics.csv" || fail "threads=$t gives other metrics"
done
ok "threads = 1, 2, 3, 4: identical model.safetensors and metrics"
# Batch 64: too few rows for two blocks, so the forward and input-gradient
# products through the 512-wide layers are cut into column blocks.
for t in 1 3; do
	"$CTRAIN" train --config "$T/run.ini" --run-dir "$T/c$t" --set train.threads=$t \
		--set data.batch_size=64 --set train.epochs=1 >/dev/null 2>"$T/err" || fail "batch 64, threads=$t: $(cat "$T/err")"
done
cmp "$T/c1/model.safetensors" "$T/c3/model.safetensors" || fail "batch 64: threads=3 gives other weights than threads=1"
same_metrics "$T/c1/metrics.csv" "$T/c3/metrics.csv" || fail "batch 64: threads=3 gives other metrics"
ok "batch 64 (column blocks), threads = 1, 3: identical model.safetensors and metrics"

CTRAIN_TEST_SIGNAL_AT_STEP=5 "$CTRAIN" train --config "$T/run.ini" --run-dir "$T/mix" --set train.threads=2 >/dev/null 2>&1
[ $? -eq 143 ] || fail "interrupt at 2 threads"
"$CTRAIN" resume "$T/mix" --set train.threads=1 >/dev/null 2>"$T/err" || fail "resume at 1 thread: $(cat "$T/err")"
grep -q "WARN" "$T/err" && fail "a thread-count change must not warn in deterministic mode: $(cat "$T/err")"
cmp "$T/t1/model.safetensors" "$T/mix/model.safetensors" || fail "checkpointed at 2 threads, resumed at 1: differs"
ok "checkpointed at threads=2, resumed at threads=1: identical"
# Kernel pinning: Sandybridge rounds differently from Haswell/Zen.  A run
# checkpointed under Sandybridge and resumed under the default kernel re-executes
# with OPENBLAS_CORETYPE=Sandybridge and ends identical to an uninterrupted
# Sandybridge run; train.kernel pins a new run the same way.
OPENBLAS_CORETYPE=Sandybridge "$CTRAIN" train --config "$T/run.ini" --run-dir "$T/sb" >/dev/null 2>&1 || fail "Sandybridge run"
cmp -s "$T/t1/model.safetensors" "$T/sb/model.safetensors" && fail "Sandybridge and the default kernel agree: this test proves nothing here"
OPENBLAS_CORETYPE=Sandybridge CTRAIN_TEST_SIGNAL_AT_STEP=5 "$CTRAIN" train --config "$T/run.ini" --run-dir "$T/pin" >/dev/null 2>&1
[ $? -eq 143 ] || fail "interrupt under Sandybridge"
env -u OPENBLAS_CORETYPE "$CTRAIN" resume "$T/pin" >/dev/null 2>"$T/err" || fail "pinned resume: $(cat "$T/err")"
grep -q "INFO re-executing with OPENBLAS_CORETYPE=Sandybridge" "$T/err" || fail "no re-exec: $(cat "$T/err")"
cmp "$T/sb/model.safetensors" "$T/pin/model.safetensors" || fail "resume under another kernel is not identical"
ok "resume re-executes with the recorded kernel (Sandybridge) and ends identical"
env -u OPENBLAS_CORETYPE "$CTRAIN" train --config "$T/run.ini" --run-dir "$T/kset" --set train.kernel=Sandybridge >/dev/null 2>&1 \
	|| fail "train.kernel run"
cmp "$T/sb/model.safetensors" "$T/kset/model.safetensors" || fail "train.kernel=Sandybridge differs from OPENBLAS_CORETYPE=Sandybridge"
"$CTRAIN" train --config "$T/run.ini" --run-dir "$T/kbad" --set train.kernel=NoSuchCore --set train.epochs=1 >/dev/null 2>"$T/err" \
	|| fail "unknown kernel should only warn"
grep -q "WARN .*NoSuchCore, which ctrain does not know" "$T/err" || fail "unknown kernel warning: $(cat "$T/err")"
ok "train.kernel pins a new run; an unknown kernel warns and continues"
finish
