#!/bin/sh
# End-to-end: `resume DIR --from ckpt-<step>.h5` (later checkpoints and the
# final model set aside, never deleted; the run continues from the chosen
# step to the same bytes, also when interrupted again) and `train --init-from
# CKPT.h5 [--with-optimizer]` (fine-tuning with or without the Adam moments
# and step count, each resumable bit-exactly).
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

cfg=$T/run.ini
cat > "$cfg" <<'INI'
[model]
layers = 16,32,4
activation = relu
[optim]
name = adam
lr = 0.01
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
cp "$T/a/model.safetensors" "$T/a.model"
cp "$T/a/metrics.csv" "$T/a.metrics"
"$CTRAIN" resume "$T/a" --from ckpt-0000000040.h5 -q >/dev/null 2>"$T/err" || fail "resume --from: $(cat "$T/err")"
cmp "$T/a/model.safetensors" "$T/a.model" || fail "resume --from 40: weights differ from the original run"
same_metrics "$T/a/metrics.csv" "$T/a.metrics" || fail "resume --from 40: metrics differ"
n=$(ls "$T/a/checkpoints" | grep -c '^ckpt-00000000[5-9]0\.h5\.aside-40$')
[ "$n" -eq 5 ] || fail "expected the 5 later checkpoints set aside: $(ls "$T/a/checkpoints")"
[ -f "$T/a/model.safetensors.aside-40" ] || fail "the earlier final model must be set aside"
cmp -s "$T/a/model.safetensors.aside-40" "$T/a.model" || fail "the model set aside changed"
ok "resume --from 40: same bytes; 5 later checkpoints and the model set aside"

# again from 20, interrupted at 33 and resumed: same bytes, both generations kept
cp -r "$T/a" "$T/b"
CTRAIN_TEST_SIGNAL_AT_STEP=33 "$CTRAIN" resume "$T/b" --from "$T/b/checkpoints/ckpt-0000000020.h5" >/dev/null 2>"$T/err"
[ $? -eq 143 ] || fail "resume --from 20, interrupted: $(cat "$T/err")"
"$CTRAIN" resume "$T/b" -q >/dev/null || fail "resume b"
cmp "$T/b/model.safetensors" "$T/a.model" || fail "--from 20 + interrupt: weights differ"
same_metrics "$T/b/metrics.csv" "$T/a.metrics" || fail "--from 20 + interrupt: metrics differ"
[ "$(ls "$T/b/checkpoints" | grep -c 'aside')" -eq 12 ] || fail "expected 5 + 7 set aside: $(ls "$T/b/checkpoints")"
ok "resume --from 20, interrupted at 33, resumed: same bytes; 12 files set aside"

"$CTRAIN" resume "$T/a" --from ckpt-0000000045.h5 >/dev/null 2>&1; [ $? -eq 2 ] || fail "no such checkpoint: expected 2"
f=$T/a/checkpoints/ckpt-0000000030.h5
printf 'X' | dd of="$f" bs=1 seek=$(($(stat -c %s "$f") / 2)) conv=notrunc 2>/dev/null
before=$(ls "$T/a/checkpoints" | sort)
"$CTRAIN" resume "$T/a" --from ckpt-0000000030.h5 >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "ckpt-0000000030.h5" "$T/err" || fail "corrupt --from: expected exit 1 naming it, got $rc: $(cat "$T/err")"
[ "$(ls "$T/a/checkpoints" | sort)" = "$before" ] || fail "a refused --from must not move anything"
ok "--from a missing checkpoint: exit 2; a corrupt one: exit 1, nothing moved"

# fine-tuning from a checkpoint of run a, with new settings
cat > "$T/ft.ini" <<'INI'
[model]
layers = 16,32,4
activation = relu
[optim]
name = adam
lr = 0.002
[data]
dataset = synthetic
n_samples = 800
n_features = 16
n_classes = 4
val_fraction = 0.25
batch_size = 20
[train]
epochs = 2
seed = 9
log_every = 5
[checkpoint]
every_steps = 10
keep_last = 0
INI
src=$T/a.model.h5
cp "$T/a/checkpoints/ckpt-0000000090.h5" "$src"
for opt in "" "--with-optimizer"; do
	tag=${opt:+w}; tag=${tag:-n}
	"$CTRAIN" train --config "$T/ft.ini" --run-dir "$T/f$tag" --init-from "$src" $opt -q >/dev/null 2>"$T/err" \
		|| fail "fine-tune $opt: $(cat "$T/err")"
	interrupted_run "$T/ft.ini" "$T/g$tag" "--init-from $src $opt" 17 44
	"$CTRAIN" resume "$T/g$tag" -q >/dev/null || fail "resume g$tag"
	cmp "$T/f$tag/model.safetensors" "$T/g$tag/model.safetensors" || fail "fine-tune $opt: interrupted run differs"
	same_metrics "$T/f$tag/metrics.csv" "$T/g$tag/metrics.csv" || fail "fine-tune $opt: metrics differ"
done
ok "fine-tuning with and without --with-optimizer: interrupted twice, same bytes"
steps=$($PY -c "
import h5py, sys
print(*[int(h5py.File(p, 'r')['optim/step'][()]) for p in sys.argv[1:]])" \
	"$T/fn/checkpoints/ckpt-0000000010.h5" "$T/fw/checkpoints/ckpt-0000000010.h5") || fail "h5py"
[ "$steps" = "10 100" ] || fail "Adam step counts at step 10: [$steps], expected [10 100]"
$PY -c "
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], 'r'), h5py.File(sys.argv[2], 'r')
for k in a['optim/m']:
    assert np.array_equal(a['optim/m'][k][()], b['optim/m'][k][()]), k
    assert np.array_equal(a['optim/v'][k][()], b['optim/v'][k][()]), k
" "$src" "$T/fw/checkpoints/ckpt-0000000010.h5" 2>/dev/null && fail "moments did not move in 10 steps"
cmp -s "$T/fn/model.safetensors" "$T/fw/model.safetensors" && fail "--with-optimizer made no difference"
ok "--with-optimizer continues Adam at step 90 (step 100 after 10 updates, vs 10 without)"

sed 's/name = adam/name = sgd\nmomentum = 0.9/' "$T/ft.ini" > "$T/sgd.ini"
"$CTRAIN" train --config "$T/sgd.ini" --run-dir "$T/s" --init-from "$src" --with-optimizer >/dev/null 2>"$T/err"
[ $? -ne 0 ] && grep -q "with-optimizer" "$T/err" || fail "adam state into sgd must be refused: $(cat "$T/err")"
"$CTRAIN" train --config "$T/ft.ini" --run-dir "$T/u" --with-optimizer >/dev/null 2>&1
[ $? -eq 2 ] || fail "--with-optimizer without --init-from: expected 2"
ok "--with-optimizer refuses another optimizer kind, and needs --init-from"
finish
