#!/bin/sh
# End-to-end: SIGTERM and SIGINT sent from outside at random moments of a run
# (sync and async checkpoints) exit 143 / 130 with "interrupted at step N;
# checkpoint saved; resume with: ctrain resume DIR", leave a valid checkpoint
# of step N, and resume to the uninterrupted run's bytes.  A second signal
# while the interrupt checkpoint is being written (raised by
# tests/faultinject.c at each of its I/O operations, and sent from outside
# back to back) corrupts nothing.  Measures how long SIGTERM takes to be
# honoured against one step plus one checkpoint write.
set -u
. "$(dirname "$0")/lib.sh"
t_start=$(date +%s%3N)
SHIM=$(shim faultinject) || exit 1
now_ms() { date +%s%3N; }
rows() { [ -f "$1" ] && wc -l < "$1" || echo 0; }
ms_sleep() { sleep "$(awk -v d="$1" 'BEGIN { printf "%.3f", d / 1000 }')"; }
rnd() { awk -v s="$(od -An -N4 -tu4 /dev/urandom)" -v m="$1" 'BEGIN { srand(s); print int(rand() * m) }'; }

# A run long enough to be signalled from outside: 1.2M parameters (14 MB
# checkpoints with Adam), 38 steps, a checkpoint every 4.
big=$T/big.ini
cat > "$big" <<'INI'
[model]
layers = 128,1024,1024,10
activation = relu
[optim]
name = adam
lr = 0.0005
[data]
dataset = synthetic
n_samples = 2560
n_features = 128
n_classes = 10
val_fraction = 0.0625
batch_size = 128
[train]
epochs = 2
seed = 9
log_every = 1
[checkpoint]
every_steps = 4
keep_last = 2
INI

# Reference, traced: step time from metrics.csv (batch / samples_per_sec over
# rows without a checkpoint), checkpoint write time from the trace (flush of
# metrics.csv to the last operation of the write, retention included).
mkdir "$T/ref"
CTRAIN_FAULT_DIR=$T/ref CTRAIN_FAULT_TRACE=$T/ref.trace LD_PRELOAD=$SHIM \
	"$CTRAIN" train --config "$big" --run-dir "$T/ref" --set checkpoint.async=false >/dev/null 2>&1 ||
	fail "reference run failed"
step_ms=$(awk -F, 'NR > 1 && $1 % 4 != 1 && $7 > 0 { print 128000 / $7 }' "$T/ref/metrics.csv" |
	sort -n | awk '{ v[NR] = $1 } END { printf "%d", v[int((NR + 1) / 2)] }')
write_ms=$(awk '
	$3 == "fflush" && $4 ~ /metrics\.csv$/ { if (start) w = last - start; if (w > max) max = w; start = $2 }
	$3 == "fsync" && $4 ~ /metrics\.csv$/ { next }
	{ last = $2 }
	END { printf "%d", max * 1000 }' "$T/ref.trace")
ok "reference: step ~${step_ms} ms (median), checkpoint write up to ${write_ms} ms"

# signal_run NAME SIG ASYNC: a run signalled from outside after a random number
# of steps (and a random extra delay).  Its stderr goes through a fifo that
# stamps each line, so $lat is the time from the signal to "checkpoint saved"
# (the checkpoint is durable then) and $lat_exit the time to the exit.
signal_run() {
	name=$1 sig=$2 async=$3
	d=$T/$name
	mkfifo "$d.fifo"
	while IFS= read -r l; do echo "$(now_ms) $l"; done < "$d.fifo" > "$d.err" &
	rpid=$!
	"$CTRAIN" train --config "$big" --run-dir "$d" --set checkpoint.async=$async >/dev/null 2>"$d.fifo" &
	pid=$!
	target=$((3 + $(rnd 24)))
	while [ "$(rows "$d/metrics.csv")" -le $target ] && kill -0 $pid 2>/dev/null; do sleep 0.005; done
	ms_sleep "$(rnd 60)"
	t_kill=$(now_ms)
	kill -$sig $pid 2>/dev/null || fail "$name: the run ended before the signal"
	wait $pid
	rc=$?
	lat_exit=$(( $(now_ms) - t_kill ))
	wait $rpid
	exp=143; [ $sig = INT ] && exp=130
	[ $rc -eq $exp ] || fail "$name: exit $rc, expected $exp: $(cat "$d.err")"
	msg=$(sed -n 's/^\([0-9]*\) INFO interrupted at step \([0-9]*\); checkpoint saved; resume with: ctrain resume \(.*\)$/\1 \2 \3/p' "$d.err")
	set -- $msg
	[ $# -eq 3 ] && [ "$3" = "$d" ] || fail "$name: no interrupt message: $(cat "$d.err")"
	lat=$(($1 - t_kill)) n=$2
	c=$d/checkpoints/$(printf 'ckpt-%010d.h5' "$n")
	"$CTRAIN" inspect "$c" >/dev/null 2>&1 || fail "$name: checkpoint of step $n missing or invalid"
	! ls -a "$d/checkpoints" | grep -q '^\.tmp-' || fail "$name: temporary file left"
	"$CTRAIN" resume "$d" >/dev/null 2>"$d.err" || fail "$name: resume failed: $(cat "$d.err")"
	grep -q "resuming from $c " "$d.err" || fail "$name: did not resume from step $n: $(cat "$d.err")"
	cmp -s "$T/ref/model.safetensors" "$d/model.safetensors" || fail "$name: weights differ after resume"
	same_metrics "$T/ref/metrics.csv" "$d/metrics.csv" || fail "$name: metrics differ after resume"
	echo "$name: signal after $target+ steps: checkpoint of step $n saved after $lat ms, exit $rc after $lat_exit ms" >> "$T/log"
}

# 1. SIGTERM from outside, sync and async, twice each; SIGINT once each
max_sync=0 max_async=0 max_exit=0
for i in 1 2; do
	for async in false true; do
		signal_run term-$async-$i TERM $async
		if [ $async = true ]; then
			[ $lat -gt $max_async ] && max_async=$lat
		else
			[ $lat -gt $max_sync ] && max_sync=$lat
		fi
		[ $lat_exit -gt $max_exit ] && max_exit=$lat_exit
	done
done
ok "SIGTERM (sync, async): exit 143, checkpoint of step N valid, resume identical"
signal_run int-false INT false
signal_run int-true INT true
ok "SIGINT (sync, async): exit 130, resume identical"

# 2. latency: the signal lands anywhere in a step or a checkpoint write; sync
#    needs at most the rest of the step plus one write, async may also finish
#    the write in flight.  The slack covers a busy machine.
slack=300
echo "SIGTERM to 'checkpoint saved': sync max $max_sync ms, async max $max_async ms (one step ~$step_ms ms + one write ~$write_ms ms = $((step_ms + write_ms)) ms); to exit: max $max_exit ms"
[ $max_sync -le $((step_ms + write_ms + slack)) ] || fail "sync: SIGTERM took $max_sync ms"
[ $max_async -le $((step_ms + 2 * write_ms + slack)) ] || fail "async: SIGTERM took $max_async ms"

# 3. a second SIGINT (or a SIGTERM) at each I/O operation of the interrupt
#    checkpoint's write: raised from inside by the shim (first SIGINT by the
#    test hook after step 7, which is not a cadence step, so the interrupt
#    checkpoint is a new write)
small=$T/small.ini
cat > "$small" <<'INI'
[model]
layers = 16,32,4
activation = relu
dropout = 0.1
[optim]
name = adam
lr = 0.01
[data]
dataset = synthetic
n_samples = 400
n_features = 16
n_classes = 4
val_fraction = 0.2
batch_size = 40
[train]
epochs = 2
seed = 4
log_every = 1
[checkpoint]
every_steps = 3
keep_last = 2
INI
"$CTRAIN" train --config "$small" --run-dir "$T/sref" >/dev/null 2>&1 || fail "small reference failed"
seconds=0
for async in false true; do
	d=$T/trd-$async; mkdir "$d"
	CTRAIN_TEST_SIGNAL_AT_STEP=7:2 CTRAIN_FAULT_DIR=$d CTRAIN_FAULT_TRACE=$T/tr-$async LD_PRELOAD=$SHIM \
		"$CTRAIN" train --config "$small" --run-dir "$d" --set checkpoint.async=$async >/dev/null 2>&1
	[ $? -eq 130 ] || fail "async=$async: hook SIGINT did not give 130"
	# the interrupt checkpoint's write: from the flush before .tmp-ckpt-7 to the end
	first=$(awk '$3 == "fflush" && $4 ~ /metrics\.csv$/ { f = $1 } index($4, "/.tmp-ckpt-0000000007.h5-") { print f; exit }' "$T/tr-$async")
	last=$(awk '$3 == "close" && $4 ~ /\/checkpoints$/ { l = $1 } END { print l }' "$T/tr-$async")
	[ -n "$first" ] && [ "$last" -gt "$first" ] || fail "async=$async: no interrupt write in the trace"
	n=$first
	while [ $n -le $last ]; do
		for second in sigint sigterm; do
			[ $second = sigterm ] && [ $((n % 3)) -ne 0 ] && continue # a sample suffices
			d=$T/second; rm -rf "$d"; mkdir "$d"
			CTRAIN_TEST_SIGNAL_AT_STEP=7:2 CTRAIN_FAULT_AT=$n CTRAIN_FAULT_ACTION=$second CTRAIN_FAULT_DIR=$d \
				LD_PRELOAD=$SHIM "$CTRAIN" train --config "$small" --run-dir "$d" \
				--set checkpoint.async=$async >/dev/null 2>"$T/err"
			rc=$?
			name="async=$async: $second at op $n of the interrupt write"
			[ $rc -eq 130 ] || fail "$name: exit $rc: $(cat "$T/err")"
			grep -q "^INFO interrupted at step 7; checkpoint saved; resume with: ctrain resume $d\$" "$T/err" ||
				fail "$name: $(cat "$T/err")"
			"$CTRAIN" inspect "$d/checkpoints/ckpt-0000000007.h5" >/dev/null 2>&1 || fail "$name: checkpoint 7 invalid"
			"$CTRAIN" resume "$d" >/dev/null 2>"$T/err" || fail "$name: resume: $(cat "$T/err")"
			cmp -s "$T/sref/model.safetensors" "$d/model.safetensors" || fail "$name: weights differ"
			same_metrics "$T/sref/metrics.csv" "$d/metrics.csv" || fail "$name: metrics differ"
			seconds=$((seconds + 1))
		done
		n=$((n + 1))
	done
done
ok "second signal at each operation of the interrupt checkpoint write ($seconds runs): exit 130, nothing corrupted"

# 4. two signals back to back from outside: the checkpoint is intact, resume
#    identical.  Exit status: 130 for INT+INT; for a mixed pair 130 or 143,
#    because two threads may take the two signals at once and on_signal's
#    "first one wins" (train/signals.c) is a check-then-set, not atomic.
for pair in "INT INT 130" "INT TERM 130|143" "TERM INT 130|143"; do
	set -- $pair
	d=$T/pair-$1-$2
	"$CTRAIN" train --config "$big" --run-dir "$d" >/dev/null 2>"$d.err" &
	pid=$!
	while [ "$(rows "$d/metrics.csv")" -le $((4 + $(rnd 8))) ] && kill -0 $pid 2>/dev/null; do sleep 0.005; done
	kill -$1 $pid; kill -$2 $pid
	wait $pid
	rc=$?
	case "|$3|" in *"|$rc|"*) ;; *) fail "SIG$1+SIG$2: exit $rc, expected $3: $(cat "$d.err")" ;; esac
	grep -q "interrupted at step [0-9]*; checkpoint saved" "$d.err" || fail "SIG$1+SIG$2: $(cat "$d.err")"
	"$CTRAIN" resume "$d" >/dev/null 2>"$d.err" || fail "SIG$1+SIG$2: resume: $(cat "$d.err")"
	! grep -q skipping "$d.err" || fail "SIG$1+SIG$2: $(cat "$d.err")"
	cmp -s "$T/ref/model.safetensors" "$d/model.safetensors" || fail "SIG$1+SIG$2: weights differ"
done
ok "two signals back to back: exit 130/143, nothing corrupted, resume identical"
sed 's/^/     /' "$T/log"
echo "e2e_signals: $(( ($(now_ms) - t_start) / 1000 )) s"
finish
