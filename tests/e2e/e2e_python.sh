#!/bin/sh
# Cross-language: h5py reads our checkpoints and /model equals the export;
# PyTorch loads model.safetensors with load_state_dict(strict=True) and gives the
# logits of `ctrain predict`; a torch.save'd .pth converts bit-exactly and
# initialises training with --init-from.  The set-up (make deps) installs
# python3-torch and python3-h5py; without them this test cannot run and fails.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
CHK="$PY $(cd "$(dirname "$0")/.." && pwd)/py_crosscheck.py"
$PY -c 'import torch, h5py, numpy' 2>/dev/null || fail "python3-torch/h5py/numpy missing: run make deps"

cat > "$T/run.ini" <<'INI'
[model]
layers = 12,24,24,3
activation = gelu
[optim]
name = sgd
lr = 0.05
momentum = 0.9
[data]
dataset = synthetic
n_samples = 600
n_features = 12
n_classes = 3
[train]
epochs = 2
seed = 3
[checkpoint]
every_steps = 10
keep_last = 0
INI
"$CTRAIN" train --config "$T/run.ini" --run-dir "$T/r" >/dev/null 2>"$T/err" || fail "train: $(cat "$T/err")"
last=$(ls "$T/r/checkpoints" | tail -1)
$CHK ckpt_vs_export "$T/r/checkpoints/$last" "$T/r/model.safetensors" || fail "h5py check"
ok "h5py opens $last; /model equals model.safetensors"

# features-only CSV, then predict and compare with torch
$PY -c "
import numpy as np; np.random.seed(1)
np.savetxt('$T/x.csv', np.random.randn(50, 12).astype(np.float32), delimiter=',', fmt='%.8g')"
"$CTRAIN" predict --model "$T/r" --input "$T/x.csv" -o "$T/pred.csv" 2>"$T/err" || fail "predict: $(cat "$T/err")"
head -1 "$T/pred.csv" | grep -qx 'class,logit_0,logit_1,logit_2' || fail "predict header: $(head -1 "$T/pred.csv")"
$CHK torch_logits "$T/r/model.safetensors" "$T/x.csv" "$T/pred.csv" || fail "torch logits"
for dt in f16 bf16; do
	"$CTRAIN" export "$T/r" -o "$T/m-$dt.safetensors" --dtype $dt --verify >"$T/v.out" 2>"$T/err" || fail "export $dt: $(cat "$T/err")"
	grep -q "max abs conversion error to $dt" "$T/err" || fail "export $dt did not report its error"
done
"$CTRAIN" export "$T/r/checkpoints/$last" -o "$T/m32.safetensors" --verify >"$T/v.out" 2>"$T/err" || fail "export f32"
grep -q 'bit-identical' "$T/v.out" || fail "export --verify f32: $(cat "$T/v.out")"
ok "torch load_state_dict(strict=True) + logits match predict; f16/bf16/f32 export --verify"

# .pth from torch -> convert -> bit-exact; --init-from .pth (strict) trains
$CHK make_pth "$T/w.pth" 12,24,24,3 || fail "make_pth"
"$CTRAIN" inspect "$T/w.pth" >"$T/insp.out" 2>"$T/err" || fail "inspect pth: $(cat "$T/err")"
grep -q 'epoch' "$T/insp.out" || fail "inspect pth lists no non-tensor entry: $(cat "$T/insp.out")"
"$CTRAIN" convert "$T/w.pth" "$T/w.safetensors" >"$T/conv.out" 2>"$T/err" || fail "convert: $(cat "$T/err")"
grep -q 'verified' "$T/conv.out" || fail "convert summary: $(cat "$T/conv.out")"
$CHK pth_vs_st "$T/w.pth" "$T/w.safetensors" || fail "convert not bit-exact"
"$CTRAIN" train --config "$T/run.ini" --run-dir "$T/ft" --init-from "$T/w.pth" >/dev/null 2>"$T/err" \
	|| fail "--init-from pth: $(cat "$T/err")"
grep -q 'initialised all 6 tensors' "$T/err" || fail "--init-from did not say what it loaded"
"$CTRAIN" train --config "$T/run.ini" --run-dir "$T/ft2" --init-from "$T/w.safetensors" >/dev/null 2>&1 \
	|| fail "--init-from safetensors"
cmp "$T/ft/model.safetensors" "$T/ft2/model.safetensors" || fail "--init-from .pth and its conversion differ"
ok "convert .pth bit-exact; --init-from .pth == --init-from converted safetensors"

# a base path prefers NAME.safetensors and falls back to NAME.pth, saying which
cp "$T/w.pth" "$T/base.pth"
"$CTRAIN" eval --model "$T/base" --data synthetic --set data.n_features=12 --set data.n_classes=3 >/dev/null 2>"$T/err" \
	|| fail "eval of a base path with only .pth: $(cat "$T/err")"
grep -q "INFO using $T/base.pth" "$T/err" || fail "no INFO naming the .pth: $(cat "$T/err")"
cp "$T/w.safetensors" "$T/base.safetensors"
"$CTRAIN" eval --model "$T/base" --data synthetic --set data.n_features=12 --set data.n_classes=3 >/dev/null 2>"$T/err" \
	|| fail "eval of a base path with both: $(cat "$T/err")"
grep -q "INFO using $T/base.safetensors (preferred over .pth)" "$T/err" || fail "no preference INFO: $(cat "$T/err")"
ok "a base path prefers .safetensors, falls back to .pth, and logs which"

# strict vs non-strict init
sed 's/^layers = .*/layers = 12,24,3/' "$T/run.ini" > "$T/small.ini"
"$CTRAIN" train --config "$T/small.ini" --run-dir "$T/bad" --init-from "$T/w.safetensors" >/dev/null 2>"$T/err"
[ $? -eq 1 ] || fail "strict --init-from with mismatched keys should exit 1"
grep -q 'unexpected keys: \[layers.2.weight, layers.2.bias\]' "$T/err" || fail "strict lists: $(cat "$T/err")"
"$CTRAIN" train --config "$T/small.ini" --run-dir "$T/ns" --init-from "$T/w.safetensors" --non-strict >/dev/null 2>"$T/err" \
	|| fail "non-strict --init-from should train: $(cat "$T/err")"
grep -q 'mismatched: \[layers.1.weight' "$T/err" || fail "non-strict report: $(cat "$T/err")"
ok "strict --init-from lists missing/unexpected/mismatched keys; non-strict reports them"
finish
