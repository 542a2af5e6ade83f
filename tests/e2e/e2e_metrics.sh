#!/bin/sh
# End-to-end: metrics.csv's trailing columns grad_norm and ckpt_sec.
# grad_norm is checked against the weights: with plain SGD the update of step
# N is lr * gradient, so ||w_N - w_{N-1}|| / lr (from the checkpoints of steps
# N-1 and N, via h5py) must equal the row's grad_norm; it is the same in an
# interrupted run.  ckpt_sec is set exactly on the rows after a checkpoint.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

cfg=$T/run.ini
cat > "$cfg" <<'INI'
[model]
layers = 16,32,4
activation = tanh
[optim]
name = sgd
lr = 0.05
momentum = 0
[data]
dataset = synthetic
n_samples = 800
n_features = 16
n_classes = 4
val_fraction = 0.25
batch_size = 20
[train]
epochs = 2
seed = 3
log_every = 5
eval_every = 10
[checkpoint]
every_steps = 1
keep_last = 0
async = false
INI
"$CTRAIN" train --config "$cfg" --run-dir "$T/a" -q >/dev/null || fail "train"
[ "$(head -1 "$T/a/metrics.csv")" = "step,epoch,loss,lr,val_loss,val_accuracy,samples_per_sec,elapsed_sec,grad_norm,ckpt_sec" ] \
	|| fail "header: $(head -1 "$T/a/metrics.csv")"
awk -F, 'NF != 10 { exit 1 }' "$T/a/metrics.csv" || fail "every row must have 10 cells"
$PY - "$T/a" <<'PYEOF' || fail "grad_norm does not match the weight updates"
import h5py, numpy as np, sys, csv
d = sys.argv[1]
rows = list(csv.DictReader(open(d + "/metrics.csv")))
def w(step):
    f = h5py.File("%s/checkpoints/ckpt-%010d.h5" % (d, step), "r")
    return np.concatenate([f["model"][k][()].astype(np.float64).ravel() for k in sorted(f["model"])])
n = 0
for r in rows:
    s = int(r["step"])
    if s < 2:
        continue
    want = np.linalg.norm(w(s) - w(s - 1)) / 0.05
    got = float(r["grad_norm"])
    assert abs(got - want) <= 1e-3 * want + 1e-6, (s, got, want)
    n += 1
assert n == len(rows) == 12, (n, len(rows))
print("ok   e2e_metrics: grad_norm of %d rows = ||w_N - w_N-1|| / lr (rel. 1e-3)" % n)
PYEOF

# ckpt_sec: checkpoints every 10 steps (sync), rows every 5: a row follows a
# save exactly when its step is 5 past a multiple of 10 (from 15 on)
"$CTRAIN" train --config "$cfg" --run-dir "$T/b" --set checkpoint.every_steps=10 -q >/dev/null || fail "train b"
awk -F, 'NR > 1 { has = $10 != ""; want = ($1 % 10 == 5 && $1 > 10); if (has != want || (has && $10 + 0 <= 0)) { print "step " $1 ": ckpt_sec [" $10 "]"; bad = 1 } } END { exit bad }' \
	"$T/b/metrics.csv" || fail "ckpt_sec on the wrong rows"
ok "ckpt_sec > 0 on the rows after a checkpoint write, empty elsewhere"

mkdir -p "$T/c"
interrupted_run "$cfg" "$T/c" "--set checkpoint.every_steps=10" 23 47
"$CTRAIN" resume "$T/c" -q >/dev/null || fail "resume c"
STRIP_ALSO= same_metrics "$T/b/metrics.csv" "$T/c/metrics.csv" || fail "interrupted: metrics differ (grad_norm included)"
cut -d, -f9 "$T/c/metrics.csv" | grep -qx "" && fail "interrupted: a row without grad_norm"
ok "interrupted twice: the same grad_norm column"
finish
