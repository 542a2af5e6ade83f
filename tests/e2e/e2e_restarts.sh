#!/bin/sh
# End-to-end: `--restarts N`.  A supervised run whose training process is
# SIGKILLed three times from outside finishes by itself under --restarts 5
# with the bytes of an uninterrupted run, each restart logged in events.csv
# and counted by status; a config error (exit 2) is not retried; a run that
# keeps failing stops after exactly N restarts; SIGTERM to the supervisor is
# forwarded and not retried, and so is SIGTERM sent to the training process
# itself.  Around a launcher (`--restarts N -- LAUNCHER...`): a stand-in
# launcher that SIGKILLs its ctrain twice and exits 137 like mpirun is run
# again with `resume DIR` and the absolute path of ctrain, and the run ends
# with the bytes of an uninterrupted run; a launcher passing on exit 2 is not
# retried; `--` without --restarts is a usage error; and a real
# `mpirun -np 1` (when installed) completes under the supervisor.
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
		kill -9 "$child" 2>/dev/null && kills=$((kills + 1))
		# the child may have gone on past $n before the kill: count from its
		# last checkpoint, once the supervisor has reaped it
		while kill -0 "$child" 2>/dev/null; do sleep 0.01; done
		last=$(newest "$T/s"); last=${last:-0}
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
# SIGTERM sent to the training process itself (the pid status shows): it
# saves and exits 143; the user stopped it, so no restart
"$CTRAIN" train --config "$cfg" --run-dir "$T/u" --restarts 5 >/dev/null 2>"$T/u.err" &
sup=$!
tries=0
while [ -z "$(newest "$T/u")" ] && [ $tries -lt 2000 ]; do sleep 0.01; tries=$((tries + 1)); done
kill -TERM "$(pgrep -P $sup | head -1)"
wait $sup; rc=$?
[ $rc -eq 143 ] || fail "SIGTERM to the child: expected 143, got $rc: $(cat "$T/u.err")"
grep -q ",restart," "$T/u/events.csv" && fail "restarted after SIGTERM to the child: $(cat "$T/u/events.csv")"
grep -q "not restarting after exit status 143" "$T/u.err" || fail "no reason given: $(cat "$T/u.err")"
ok "SIGTERM to the training process: saved, exit 143, no restart"

# A stand-in launcher (like mpirun): records its arguments in $ARGV_LOG, runs
# them as its child and, on its first $KILLS runs, SIGKILLs that child once
# DIR ($RUN) holds a checkpoint 200 steps past the one it started from, then
# exits 137 as mpirun does when a rank was killed.
cat > "$T/launcher.sh" <<'SH'
#!/bin/sh
newest() { ls "$RUN/checkpoints" 2>/dev/null | sed -n 's/^ckpt-0*\([0-9][0-9]*\)\.h5$/\1/p' | sort -n | tail -1; }
printf '%s\n' "$*" >> "$ARGV_LOG"
"$@" &
child=$!
if [ "$(wc -l < "$ARGV_LOG")" -le "${KILLS:-0}" ]; then
	start=$(newest); start=${start:-0}
	while kill -0 $child 2>/dev/null; do
		n=$(newest); n=${n:-0}
		if [ "$n" -ge $((start + 200)) ]; then
			kill -9 $child; wait $child; exit 137
		fi
		sleep 0.01
	done
fi
wait $child
SH
chmod +x "$T/launcher.sh"
abs=$(readlink -f "$CTRAIN")
RUN=$T/l ARGV_LOG=$T/l.argv KILLS=2 "$CTRAIN" train --config "$cfg" --run-dir "$T/l" --restarts 5 -q \
	-- "$T/launcher.sh" >"$T/l.out" 2>"$T/l.err"; rc=$?
[ $rc -eq 0 ] || fail "launcher run: exit $rc: $(cat "$T/l.err")"
printf '%s\n' "$abs train --config $cfg --run-dir $T/l -q" "$abs resume $T/l -q" "$abs resume $T/l -q" > "$T/l.want"
cmp -s "$T/l.want" "$T/l.argv" || fail "launcher arguments: $(cat "$T/l.argv")"
cmp "$T/ref/model.safetensors" "$T/l/model.safetensors" || fail "launcher killed 2x: weights differ"
same_metrics "$T/ref/metrics.csv" "$T/l/metrics.csv" || fail "launcher killed 2x: metrics differ"
[ "$(grep -c ',restart,' "$T/l/events.csv")" -eq 2 ] || fail "expected 2 restart events: $(cat "$T/l/events.csv")"
[ "$(grep -c ',restart,.*after exit status 137 (launcher launcher.sh)' "$T/l/events.csv")" -eq 2 ] \
	|| fail "restart events do not name the launcher's status: $(cat "$T/l/events.csv")"
[ "$(grep -c '^WARN --restarts: training process ended with exit status 137 (launcher launcher.sh); restart [12] of 5' "$T/l.err")" -eq 2 ] \
	|| fail "launcher WARN lines: $(cat "$T/l.err")"
ok "launcher exiting 137 twice: 'LAUNCHER $abs resume DIR' again, same bytes, 2 restarts logged"

# a launcher passing on ctrain's exit 2 (config error) is not retried
: > "$T/b2.argv"
RUN=$T/b2 ARGV_LOG=$T/b2.argv "$CTRAIN" train --config "$T/bad.ini" --run-dir "$T/b2" --restarts 5 \
	-- "$T/launcher.sh" >/dev/null 2>"$T/b2.err"; rc=$?
[ $rc -eq 2 ] || fail "launcher, config error: expected 2, got $rc: $(cat "$T/b2.err")"
[ "$(wc -l < "$T/b2.argv")" -eq 1 ] || fail "launcher, config error: retried: $(cat "$T/b2.argv")"
grep -q "restart" "$T/b2.err" && fail "launcher, config error was retried: $(cat "$T/b2.err")"
ok "launcher, config error: exit 2, launched once"

# `--` goes with --restarts, and needs a launcher
"$CTRAIN" train --config "$cfg" --run-dir "$T/n" -- "$T/launcher.sh" >/dev/null 2>"$T/n.err"; rc=$?
[ $rc -eq 2 ] || fail "-- without --restarts: expected 2, got $rc"
grep -q "ERROR '-- LAUNCHER...' goes with --restarts N" "$T/n.err" || fail "-- without --restarts: $(cat "$T/n.err")"
"$CTRAIN" resume "$T/l" --restarts 2 -- >/dev/null 2>"$T/n.err"; rc=$?
[ $rc -eq 2 ] || fail "empty launcher: expected 2, got $rc"
grep -q "ERROR '--' must be followed by a launcher command" "$T/n.err" || fail "empty launcher: $(cat "$T/n.err")"
[ -e "$T/n" ] && fail "-- without --restarts created the run directory"
ok "'--' without --restarts or without a launcher: exit 2"

# a real mpirun (-np 1: one rank, it runs once).  Under mpirun ctrain loads
# libmpi, whose components leak at exit (not ours): LeakSanitizer is off for
# the launched side, as in e2e_mpi*.sh
if command -v mpirun >/dev/null 2>&1; then
	set -- env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" mpirun --allow-run-as-root --oversubscribe --bind-to none --mca plm isolated \
		--mca btl self,vader --mca btl_vader_single_copy_mechanism none -np 1
	"$CTRAIN" train --config "$cfg" --run-dir "$T/m" --restarts 2 -q -- "$@" >"$T/m.out" 2>"$T/m.err"; rc=$?
	[ $rc -eq 0 ] || fail "mpirun -np 1: exit $rc: $(cat "$T/m.err")"
	cmp "$T/ref/model.safetensors" "$T/m/model.safetensors" || fail "mpirun -np 1: weights differ"
	same_metrics "$T/ref/metrics.csv" "$T/m/metrics.csv" || fail "mpirun -np 1: metrics differ"
	grep -q ",restart," "$T/m/events.csv" && fail "mpirun -np 1: restarted: $(cat "$T/m/events.csv")"
	"$CTRAIN" train --config "$T/bad.ini" --run-dir "$T/mb" --restarts 2 -- "$@" >/dev/null 2>"$T/mb.err"; rc=$?
	[ $rc -eq 2 ] || fail "mpirun, config error: expected 2, got $rc: $(cat "$T/mb.err")"
	grep -q "restart" "$T/mb.err" && fail "mpirun, config error was retried: $(cat "$T/mb.err")"
	ok "mpirun -np 1 under --restarts: same bytes, no restart; its config error (exit 2) not retried"
else
	ok "mpirun not installed: real-launcher case not run"
fi
finish
