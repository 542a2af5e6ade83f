#!/bin/sh
# Same bytes on any thread count (train.deterministic = true, the default): the
# same run at threads = 1, 2, 3, 4 gives byte-identical model.safetensors and
# metrics; a run checkpointed at 2 threads and resumed at 1 ends identical.
# Shapes are chosen so every product is cut into several blocks (batch 512 ->
# 2 row blocks; 512 hidden units -> 2 blocks of weight-gradient rows).
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

CTRAIN_TEST_SIGNAL_AT_STEP=5 "$CTRAIN" train --config "$T/run.ini" --run-dir "$T/mix" --set train.threads=2 >/dev/null 2>&1
[ $? -eq 143 ] || fail "interrupt at 2 threads"
"$CTRAIN" resume "$T/mix" --set train.threads=1 >/dev/null 2>"$T/err" || fail "resume at 1 thread: $(cat "$T/err")"
grep -q "WARN" "$T/err" && fail "a thread-count change must not warn in deterministic mode: $(cat "$T/err")"
cmp "$T/t1/model.safetensors" "$T/mix/model.safetensors" || fail "checkpointed at 2 threads, resumed at 1: differs"
ok "checkpointed at threads=2, resumed at threads=1: identical"
finish
