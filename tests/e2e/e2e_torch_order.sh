#!/bin/sh
# With data.shuffle = false the training rows are used in the file's order, so
# one epoch from PyTorch's initial weights (--init-from a safetensors file
# written from torch) ends at PyTorch's own weights after the same batches in
# the same order: SGD-momentum and Adam, max |difference| <= 1e-6
# (tests/py_crosscheck.py parity_check); file order survives interrupts and
# resumes; `ctrain train --help` says which rows are validation rows.  The set-up
# (make deps) installs python3-torch; without it this test cannot run and fails.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
CHK="$PY $(cd "$(dirname "$0")/.." && pwd)/py_crosscheck.py"
$PY -c 'import torch, numpy' 2>/dev/null || fail "python3-torch/numpy missing: run make deps"

$CHK parity_setup "$T" 16,64,4 640 || fail "parity_setup"
cat > "$T/run.ini" <<INI
[model]
layers = 16,64,4
activation = relu
[optim]
name = sgd
lr = 0.05
momentum = 0.9
[data]
dataset = csv
path = $T/data.csv
val_fraction = 0
batch_size = 32
shuffle = false
[train]
epochs = 1
seed = 9
threads = 1
INI
# sgd: lr 0.05 momentum 0.9; adam: lr 0.002 (torch's defaults for the rest)
for o in "sgd 0.05 0.9" "adam 0.002 0"; do
	set -- $o
	"$CTRAIN" train --config "$T/run.ini" --run-dir "$T/$1" --init-from "$T/init.safetensors" \
		--set optim.name=$1 --set optim.lr=$2 --set optim.momentum=$3 >/dev/null 2>"$T/err" \
		|| fail "train $1: $(cat "$T/err")"
	grep -q 'initialised all 4 tensors' "$T/err" || fail "$1: --init-from did not load: $(cat "$T/err")"
	$CHK parity_check "$T" $1 $2 $3 32 "$T/$1/model.safetensors" || fail "$1 differs from torch"
done
ok "shuffle = false: one epoch of SGD-momentum and Adam equals torch's loop in file order"

# 4 epochs, interrupted twice, resumed at another thread count: same bytes as
# an uninterrupted run (file order does not depend on the epoch or the resume)
sed 's/^epochs = 1/epochs = 4/; s/^seed = 9/seed = 9\nlog_every = 1/' "$T/run.ini" > "$T/long.ini"
printf '[checkpoint]\nevery_steps = 7\n' >> "$T/long.ini"
"$CTRAIN" train --config "$T/long.ini" --run-dir "$T/ref" >/dev/null 2>"$T/err" || fail "ref: $(cat "$T/err")"
interrupted_run "$T/long.ini" "$T/int" "" 23 51
"$CTRAIN" resume "$T/int" --set train.threads=2 >/dev/null 2>"$T/err" || fail "resume: $(cat "$T/err")"
cmp "$T/ref/model.safetensors" "$T/int/model.safetensors" || fail "interrupted file-order run differs"
same_metrics "$T/ref/metrics.csv" "$T/int/metrics.csv" || fail "metrics differ after resume"
ok "file order survives two interrupts and a resume at 2 threads bit-exactly"

"$CTRAIN" train --help >"$T/help" 2>&1 || fail "train --help"
grep -q "the LAST" "$T/help" && grep -q "round(rows \* data.val_fraction) rows of the data file" "$T/help" \
	&& grep -q "data.shuffle = false takes them in that order every epoch" "$T/help" \
	|| fail "train --help does not say which rows are validation rows: $(cat "$T/help")"
ok "train --help says: validation = the last val_fraction of the rows; shuffle = false = file order"
finish
