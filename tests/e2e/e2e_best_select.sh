#!/bin/sh
# End-to-end: `--best` of export, eval and predict picks the checkpoint that
# keep_best recorded as best by checkpoint.monitor (the step computed here
# from metrics.csv), for val_loss and val_accuracy; without keep_best, or for
# a file, it refuses.
set -u
. "$(dirname "$0")/lib.sh"

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
log_every = 1000
eval_every = 10
[checkpoint]
every_steps = 10
keep_last = 1
keep_best = 2
INI
awk 'BEGIN { srand(3); for (i = 0; i < 7; i++) { l = ""; for (j = 0; j < 16; j++) l = l (j ? "," : "") rand() * 4 - 2; print l } }' > "$T/x.csv"

# the best evaluation step by val_loss (column 5; ties: the earliest)
"$CTRAIN" train --config "$cfg" --run-dir "$T/a" -q >/dev/null || fail "train"
best=$(awk -F, 'NR > 1 && $5 != "" {print $5, $1}' "$T/a/metrics.csv" | sort -g -k1,1 -k2,2n | head -1)
bstep=${best#* } bval=${best% *}
last=$(tail -1 "$T/a/metrics.csv" | cut -d, -f1)
[ "$bstep" != "$last" ] || fail "test premise: the best step ($bstep) must not be the last"
bfile=$T/a/checkpoints/$(printf 'ckpt-%010d.h5' "$bstep")

"$CTRAIN" export "$T/a" --best -o "$T/best.safetensors" 2>"$T/err" || fail "export --best: $(cat "$T/err")"
grep -q "using $bfile: best checkpoint (step $bstep" "$T/err" || fail "export --best log: $(cat "$T/err")"
"$CTRAIN" compare "$bfile" "$T/best.safetensors" >/dev/null 2>&1 || fail "export --best is not step $bstep"
"$CTRAIN" compare "$T/a/model.safetensors" "$T/best.safetensors" >/dev/null 2>&1
[ $? -eq 1 ] || fail "export --best equals the final model"
ok "export --best: step $bstep (val_loss $bval), not the final step $last"

got=$("$CTRAIN" eval --model "$T/a" --best 2>/dev/null) || fail "eval --best"
want=$(awk -v v="$bval" 'BEGIN { printf "loss=%.6f", v }')
echo "$got" | grep -q "$want" || fail "eval --best: $got, expected $want"
ok "eval --best: $got (the recorded val_loss)"

"$CTRAIN" predict --model "$T/a" --best --input "$T/x.csv" -o "$T/p1.csv" 2>/dev/null || fail "predict --best"
"$CTRAIN" predict --model "$bfile" --input "$T/x.csv" -o "$T/p2.csv" 2>/dev/null || fail "predict ckpt"
"$CTRAIN" predict --model "$T/a" --input "$T/x.csv" -o "$T/p3.csv" 2>/dev/null || fail "predict final"
cmp -s "$T/p1.csv" "$T/p2.csv" || fail "predict --best differs from the best checkpoint"
cmp -s "$T/p1.csv" "$T/p3.csv" && fail "predict --best equals the final model"
ok "predict --best: the best checkpoint's logits"

# monitor = val_accuracy: the highest accuracy, earliest on ties
"$CTRAIN" train --config "$cfg" --run-dir "$T/acc" --set checkpoint.monitor=val_accuracy -q >/dev/null || fail "train acc"
astep=$(awk -F, 'NR > 1 && $6 != "" {print $6, $1}' "$T/acc/metrics.csv" | sort -k1,1gr -k2,2n | head -1 | cut -d' ' -f2)
"$CTRAIN" export "$T/acc" --best -o "$T/acc.safetensors" 2>"$T/err" || fail "export acc"
grep -q "best checkpoint (step $astep," "$T/err" || fail "val_accuracy best: expected step $astep: $(cat "$T/err")"
ok "monitor = val_accuracy: step $astep"

"$CTRAIN" train --config "$cfg" --run-dir "$T/nb" --set checkpoint.keep_best=0 -q >/dev/null || fail "train nb"
"$CTRAIN" export "$T/nb" --best -o "$T/nb.safetensors" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "no best checkpoint recorded (checkpoint.keep_best = 0" "$T/err" \
	|| fail "keep_best = 0: expected exit 1 and a reason, got $rc: $(cat "$T/err")"
[ -e "$T/nb.safetensors" ] && fail "nothing must be written without a best checkpoint"
"$CTRAIN" eval --model "$bfile" --best >/dev/null 2>&1; [ $? -eq 2 ] || fail "--best of a file: expected 2"
ok "--best without keep_best: exit 1 with the reason; of a file: exit 2"
finish
