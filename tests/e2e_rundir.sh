#!/bin/sh
# End-to-end: a run directory is never damaged (issue 20): one writer per run
# directory (flock on DIR/.lock with the holder's pid).
set -u
. "$(dirname "$0")/lib.sh"

cfg=$T/run.ini
cat > "$cfg" <<'INI'
[model]
layers = 8,16,3
[optim]
name = sgd
lr = 0.05
[data]
dataset = synthetic
n_samples = 300
n_features = 8
n_classes = 3
batch_size = 30
[train]
epochs = 3
seed = 5
log_every = 5
[checkpoint]
every_steps = 10
keep_last = 2
INI

# 1. one writer: while a train runs, a second train and a resume of the same
#    directory exit 1 naming its pid; kill -9 leaves no stale lock.
"$CTRAIN" train --config "$cfg" --run-dir "$T/w" --set train.epochs=100000 -q >/dev/null 2>"$T/w.err" &
pid=$!
trap 'kill -9 $pid 2>/dev/null; rm -rf "$T"' EXIT
i=0
while [ $i -lt 200 ] && ! ls "$T/w/checkpoints" 2>/dev/null | grep -q '^ckpt-'; do sleep 0.05; i=$((i + 1)); done
[ "$(cat "$T/w/.lock" 2>/dev/null)" = "$pid" ] || fail "DIR/.lock holds '$(cat "$T/w/.lock" 2>/dev/null)', not the pid $pid"
"$CTRAIN" train --config "$cfg" --run-dir "$T/w" --set optim.lr=0.002 >/dev/null 2>"$T/w2.err"
rc=$?
[ $rc -eq 1 ] || fail "second train into a running run dir exited $rc, not 1: $(cat "$T/w2.err")"
grep -q "pid $pid" "$T/w2.err" || fail "second train does not name the holder's pid $pid: $(cat "$T/w2.err")"
"$CTRAIN" resume "$T/w" >/dev/null 2>"$T/w3.err"
rc=$?
[ $rc -eq 1 ] || fail "resume of a running run dir exited $rc, not 1: $(cat "$T/w3.err")"
grep -q "pid $pid" "$T/w3.err" || fail "resume does not name the holder's pid $pid: $(cat "$T/w3.err")"
grep -q 'lr = 0.05$' "$T/w/config.ini" || fail "the second writer changed config.ini"
kill -9 $pid
wait $pid 2>/dev/null
"$CTRAIN" resume "$T/w" --set train.epochs=1 >/dev/null 2>"$T/w4.err" \
	|| fail "resume after kill -9 refused (stale lock?): $(cat "$T/w4.err")"
ok "second train/resume exit 1 naming pid $pid; no stale lock after kill -9"

finish
