#!/bin/sh
# End-to-end: checkpoint.keep_best keeps exactly the newest checkpoint plus the
# K best by the monitored metric (computed here from metrics.csv), also after
# interrupts; the kept list is in the checkpoint (/meta/best_steps, via h5py);
# early stopping (patience) stops at the same step, with the same bytes,
# whether the run was interrupted (even at the stopping step) or not, and a
# resume of a run that stopped early does not train on.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

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
eval_every = 4
[checkpoint]
every_steps = 10
keep_last = 1
keep_best = 2
async = true
INI

# steps of the checkpoints in $1, newest first
ckpts() { ls "$1/checkpoints" | sed -n 's/^ckpt-0*\([0-9][0-9]*\)\.h5$/\1/p' | sort -rn | tr '\n' ' '; }
# the K best evaluation steps by val_loss (column 5), best first
best_steps() { awk -F, 'NR > 1 && $5 != "" {print $5, $1}' "$1/metrics.csv" | sort -g -k1,1 -k2,2n \
	| head -"$2" | awk '{print $2}' | tr '\n' ' '; }

# 1. uninterrupted: newest + the 2 best, nothing else
"$CTRAIN" train --config "$cfg" --run-dir "$T/a" >"$T/a.out" 2>"$T/a.err" || fail "train: $(cat "$T/a.err")"
best=$(best_steps "$T/a" 2)
last=$(sed -n 's/^done steps=\([0-9]*\).*/\1/p' "$T/a.out")
want=$(printf '%s\n' $last $best | sort -rn | uniq | tr '\n' ' ')
got=$(ckpts "$T/a")
[ "$got" = "$want" ] || fail "keep_best=2 keep_last=1: checkpoints [$got], expected [$want] (best by val_loss: $best)"
[ "$(echo $best | wc -w)" -eq 2 ] && [ "$(echo $got | wc -w)" -eq 3 ] || fail "expected 2 best apart from the newest: $got"
ok "keeps newest ($last) + the 2 best by val_loss ($best)"

# 2. the kept list travels in the checkpoint, best first
newest=$T/a/checkpoints/$(ls "$T/a/checkpoints" | sort | tail -1)
kept=$($PY -c "
import h5py, sys
f = h5py.File(sys.argv[1], 'r'); n = int(f['meta/best_count'][()])
print(' '.join(str(int(s)) for s in f['meta/best_steps'][:n]))" "$newest") || fail "h5py could not read $newest"
[ "$kept " = "$best" ] || fail "/meta/best_steps is [$kept], expected [$best]"
ok "/meta/best_steps = [$kept]"

# 3. interrupted runs keep the same files and end with the same bytes
interrupt_and_resume() { # dir, extra --set, steps...
	interrupted_run "$cfg" "$@"
	"$CTRAIN" resume "$1" >"$1.out" 2>"$1.err" || fail "$1: final resume: $(cat "$1.err")"
}
interrupt_and_resume "$T/b" "" 13 28 49 71
[ "$(ckpts "$T/b")" = "$want" ] || fail "interrupted: checkpoints [$(ckpts "$T/b")], expected [$want]"
cmp "$T/a/model.safetensors" "$T/b/model.safetensors" || fail "interrupted keep_best run: weights differ"
same_metrics "$T/a/metrics.csv" "$T/b/metrics.csv" || fail "interrupted keep_best run: metrics differ"
ok "interrupted 4x (once at a best step): same kept files, same bytes"

# 4. early stopping: patience 3 evaluations without a better val_loss
es="--set checkpoint.patience=3"
"$CTRAIN" train --config "$cfg" --run-dir "$T/e" $es >"$T/e.out" 2>"$T/e.err" || fail "early stop train: $(cat "$T/e.err")"
stop=$(sed -n 's/.*INFO early stopping at step \([0-9]*\):.*/\1/p' "$T/e.err")
[ -n "$stop" ] || fail "no early stopping: $(tail -3 "$T/e.err")"
grep -q "^done steps=$stop " "$T/e.out" || fail "summary does not say steps=$stop: $(cat "$T/e.out")"
# expected from metrics.csv: the first evaluation that is the 3rd in a row without a new best
exp=$(awk -F, 'NR > 1 && $5 != "" { if (best == "" || $5 + 0 < best + 0) { best = $5; n = 0 } else if (++n == 3) { print $1; exit } }' "$T/e/metrics.csv")
[ "$stop" = "$exp" ] || fail "stopped at $stop, metrics.csv says $exp"
ok "early stopping at step $stop (3 evaluations without a better val_loss)"

for at in "$stop" "$((stop - 1))" "17 $((stop - 5))"; do
	d=$T/es-$(echo "$at" | tr ' ' '-')
	interrupt_and_resume "$d" "$es" $at
	grep -q "^done steps=$stop " "$d.out" || fail "$d: resumed run did not stop at $stop: $(cat "$d.out")"
	grep -q "early stopping at step $stop" "$d.err" || fail "$d: no early-stopping message: $(cat "$d.err")"
	cmp "$T/e/model.safetensors" "$d/model.safetensors" || fail "$d: weights differ"
	same_metrics "$T/e/metrics.csv" "$d/metrics.csv" || fail "$d: metrics differ"
done
ok "interrupted at the stopping step, one before, and twice earlier: stops at $stop, same bytes"

"$CTRAIN" resume "$T/e" $es >"$T/e2.out" 2>"$T/e2.err" || fail "resume of a stopped run: $(cat "$T/e2.err")"
grep -q "^done steps=$stop " "$T/e2.out" || fail "resume of a stopped run trained on: $(cat "$T/e2.out")"
cmp "$T/e/model.safetensors" "$T/es-$stop/model.safetensors" || fail "stopped run changed on resume"
ok "resume of a run that stopped early does not train on"
finish
