#!/bin/sh
# End-to-end: `--restarts N`.  A supervised run whose training process is
# SIGKILLed three times from outside finishes by itself under --restarts 5
# with the bytes of an uninterrupted run, each restart logged in events.csv
# and counted by status; a config error (exit 2) is not retried; a run that
# keeps failing stops after exactly N restarts; SIGTERM to the supervisor is
# forwarded and not retried.
set -u
. "$(dirname "$0")/lib.sh"

cfg=$T/run.ini
cat > "$cfg" <<'INI'
[model]
layers = 32,256,256,4
activation = relu
[optim]
name = adam
lr = 0.001
[data]
dataset = synthetic
n_samples = 6000
n_features = 32
n_classes = 4
val_fraction = 0.2
batch_size = 16
[train]
epochs = 10
seed = 7
log_every = 50
eval_every = 300
[checkpoint]
every_steps = 25
keep_last = 2
INI
"$CTRAIN" train --config "$cfg" --run-dir "$T/ref" -q >/dev/null || fail "reference run"

# newest checkpoint step in $1, 0 if none
newest() { ls "$1/checkpoints" 2>/dev/null | sed -n 's/^ckpt-0*\([0-9][0-9]*\)\.h5$/\1/p' | sort -n | tail -1; }
"$CTRAIN" train --config "$cfg" --run-dir "$T/s" --restarts 5 -q >"$T/s.out" 2>"$T/s.err" &
sup=$!
last=0 kills=0 tries=0
while [ $kills -lt 3 ] && [ $tries -lt 3000 ]; do
	tries=$((tries + 1))
	n=$(newest "$T/s"); n=${n:-0}
	child=$(pgrep -P $sup 2>/dev/null | head -1)
	if [ -n "$child" ] && [ "$n" -ge $((last + 200)) ]; then
		kill -9 "$child" 2>/dev/null && kills=$((kills + 1)) && last=$n
	fi
	sleep 0.01
done
wait $sup; rc=$?
[ $kills -eq 3 ] || fail "could kill the training process only $kills times"
[ $rc -eq 0 ] || fail "supervised run: exit $rc: $(cat "$T/s.err")"
cmp "$T/ref/model.safetensors" "$T/s/model.safetensors" || fail "killed 3x under --restarts: weights differ"
same_metrics "$T/ref/metrics.csv" "$T/s/metrics.csv" || fail "killed 3x under --restarts: metrics differ"
[ "$(grep -c ',restart,' "$T/s/events.csv")" -eq 3 ] || fail "expected 3 restart events: $(cat "$T/s/events.csv")"
grep ',restart,' "$T/s/events.csv" | grep -q 'killed by signal 9' || fail "restart reason: $(cat "$T/s/events.csv")"
[ "$(grep -c '^WARN --restarts: training process ended with killed by signal 9; restart [1-3] of 5' "$T/s.err")" -eq 3 ] \
	|| fail "restart WARN lines: $(cat "$T/s.err")"
"$CTRAIN" status "$T/s" | grep -qx "events      3 resume(s), 3 restart(s)" || fail "status: $("$CTRAIN" status "$T/s")"
ok "SIGKILLed 3 times (at checkpoints >= 200 apart): finished alone, same bytes, 3 restarts logged"

# a config error is not retried
printf '[model]\nlayers = 4,2\n[bogus]\nx = 1\n' > "$T/bad.ini"
"$CTRAIN" train --config "$T/bad.ini" --run-dir "$T/b" --restarts 5 >/dev/null 2>"$T/b.err"; rc=$?
[ $rc -eq 2 ] || fail "config error: expected 2, got $rc: $(cat "$T/b.err")"
grep -q "restart" "$T/b.err" && fail "a config error was retried: $(cat "$T/b.err")"
ok "config error: exit 2, no restart"

# a run that always fails (every checkpoint corrupt: resume exits 1) stops after N restarts
"$CTRAIN" train --config "$cfg" --run-dir "$T/f" --set train.epochs=1 -q >/dev/null || fail "train f"
for f in "$T"/f/checkpoints/ckpt-*.h5; do printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null; done
rm "$T/f/model.safetensors"
"$CTRAIN" resume "$T/f" --restarts 2 >/dev/null 2>"$T/f.err"; rc=$?
[ $rc -eq 1 ] || fail "always failing: expected exit 1, got $rc"
[ "$(grep -c ',restart,' "$T/f/events.csv")" -eq 2 ] || fail "expected exactly 2 restarts: $(cat "$T/f/events.csv")"
grep -q "giving up after 2 restart(s); the last run ended with exit status 1" "$T/f.err" || fail "no give-up line: $(cat "$T/f.err")"
ok "always failing: 1 + 2 attempts, then exit 1 (budget respected)"

# SIGTERM to the supervisor reaches the child, which saves and exits 143: no restart
"$CTRAIN" train --config "$cfg" --run-dir "$T/t" --restarts 5 >/dev/null 2>"$T/t.err" &
sup=$!
tries=0
while [ -z "$(newest "$T/t")" ] && [ $tries -lt 2000 ]; do sleep 0.01; tries=$((tries + 1)); done
kill -TERM $sup
wait $sup; rc=$?
[ $rc -eq 143 ] || fail "SIGTERM: expected 143, got $rc: $(cat "$T/t.err")"
grep -q "restart" "$T/t/events.csv" && fail "restarted after SIGTERM"
grep -q "interrupted at step" "$T/t.err" || fail "the child did not save on SIGTERM: $(cat "$T/t.err")"
ok "SIGTERM: forwarded, checkpoint saved, exit 143, no restart"
finish
