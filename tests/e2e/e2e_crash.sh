#!/bin/sh
# End-to-end: kill -9 anywhere, resume, same bytes.
#  1. Deterministic: tests/faultinject.c SIGKILLs the process right after
#     each I/O operation (on the run directory) of: the start of `train`
#     (config.ini, metrics.csv), one full checkpoint write (metrics fsync,
#     temporary file, rename, directory fsync, retention), the start of a
#     `resume` (checkpoint checks, metrics.csv rewrite) and the end of the run
#     (metrics close, export of model.safetensors); sync and async.  After
#     each kill: no checkpoint present is invalid, and `ctrain resume` (or
#     `ctrain train` when no checkpoint exists yet) completes with
#     model.safetensors and metrics.csv identical to an uninterrupted run.
#  2. Random: experiments/crash_campaign.sh with a small N (8 kills).
set -u
# Part 1 runs on tmpfs when there is one (a SIGKILL leaves the page cache
# alone, so the disk adds only fsync time); the campaign runs where TMPDIR says.
CAMPAIGN_TMPDIR=${TMPDIR:-/tmp}
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then TMPDIR=/dev/shm; export TMPDIR; fi
. "$(dirname "$0")/lib.sh"
t_start=$(date +%s%3N)
SRC=$(cd "$(dirname "$0")/../.." && pwd)

SHIM=$(shim faultinject) || exit 1

cfg=$T/k.ini
cat > "$cfg" <<'INI'
[model]
layers = 16,32,4
activation = tanh
dropout = 0.1
[optim]
name = sgd
lr = 0.05
momentum = 0.9
nesterov = true
[data]
dataset = synthetic
n_samples = 400
n_features = 16
n_classes = 4
val_fraction = 0.2
batch_size = 40
[train]
epochs = 2
seed = 5
log_every = 1
[checkpoint]
every_steps = 3
keep_last = 2
INI
S=9 # the checkpoint write whose every operation is killed
"$CTRAIN" train --config "$cfg" --run-dir "$T/ref" >/dev/null 2>&1 || fail "reference run failed"

# ops MODE: "N label" for each operation to kill after, from a traced run:
# everything before the first checkpoint write, the write at step $S, the
# tail after the last write, and (prefix "r") the start of a resume.
ops() {
	async=false; [ $1 = async ] && async=true
	d=$T/trace-$1
	mkdir "$d"
	CTRAIN_FAULT_DIR=$d CTRAIN_FAULT_TRACE=$T/tr-$1 LD_PRELOAD=$SHIM "$CTRAIN" train --config "$cfg" \
		--run-dir "$d" --set checkpoint.async=$async >/dev/null 2>&1 || fail "$1: traced run failed"
	cmp -s "$T/ref/model.safetensors" "$d/model.safetensors" || fail "$1: tracing changed the result"
	awk -v S="$(printf 'ckpt-%010d.h5' $S)" '
	{ n[NR] = $1; k[NR] = $3; p[NR] = $4 }
	function is_flush(i) { return k[i] == "fflush" && p[i] ~ /\/metrics\.csv$/ }
	function base(s) { sub(/.*\//, "", s); return s }
	END {
		for (first = 1; first <= NR && !is_flush(first); first++) print n[first], k[first], base(p[first])
		for (o = 1; o <= NR; o++) if (k[o] == "open" && index(p[o], "/.tmp-" S "-")) break
		for (s = o; !is_flush(s); s--) ;
		for (t = o + 1; t <= NR && !is_flush(t); t++) ;
		for (i = s; i < t; i++) print n[i], k[i], base(p[i])
		for (last = NR; last > 0 && !(k[last] == "open" && index(p[last], "/.tmp-ckpt-")); last--) ;
		for (; last <= NR && !is_flush(last); last++) ;
		for (i = last; i <= NR; i++) print n[i], k[i], base(p[i])
	}' "$T/tr-$1" > "$T/ops-$1"
}

killed=0 recovered=0
# after_kill NAME DIR: checks the directory a kill left, then finishes the run.
after_kill() {
	if ls "$2/checkpoints" 2>/dev/null | grep -q '^ckpt-'; then
		"$CTRAIN" resume "$2" >/dev/null 2>"$T/err" || fail "$1: resume failed: $(cat "$T/err")"
		! grep -q 'skipping' "$T/err" || fail "$1: a kill left a bad checkpoint: $(cat "$T/err")"
	else # killed before its first checkpoint: train again into the same directory (it may hold config.ini)
		"$CTRAIN" train --config "$cfg" --run-dir "$2" --overwrite >/dev/null 2>"$T/err" ||
			fail "$1: train again failed: $(cat "$T/err")"
	fi
	cmp -s "$T/ref/model.safetensors" "$2/model.safetensors" || fail "$1: weights differ from the uninterrupted run"
	same_metrics "$T/ref/metrics.csv" "$2/metrics.csv" || fail "$1: metrics differ: $(diff "$T/m1" "$T/m2" | head -4)"
	recovered=$((recovered + 1))
}

for mode in sync async; do
	ops $mode
	async=false; [ $mode = async ] && async=true
	while read -r n kind path; do
		d=$T/k; rm -rf "$d"; mkdir "$d"
		CTRAIN_FAULT_AT=$n CTRAIN_FAULT_ACTION=kill-after CTRAIN_FAULT_DIR=$d LD_PRELOAD=$SHIM \
			"$CTRAIN" train --config "$cfg" --run-dir "$d" --set checkpoint.async=$async >/dev/null 2>&1
		rc=$?
		[ $rc -eq 137 ] || fail "$mode: kill after op $n ($kind $path): exit $rc, not killed"
		killed=$((killed + 1))
		after_kill "$mode: kill after op $n ($kind $path)" "$d"
	done < "$T/ops-$mode"
	ok "$mode: killed after each of $(wc -l < "$T/ops-$mode") operations (start, checkpoint $S, end): identical after resume"
done

# the start of a resume: interrupted at step 7, resumed, killed after each
# operation until its first checkpoint write
CTRAIN_TEST_SIGNAL_AT_STEP=7 "$CTRAIN" train --config "$cfg" --run-dir "$T/base" >/dev/null 2>&1
[ $? -eq 143 ] || fail "resume start: could not interrupt at step 7"
cp -r "$T/base" "$T/r"
CTRAIN_FAULT_DIR=$T/r CTRAIN_FAULT_TRACE=$T/tr-resume LD_PRELOAD=$SHIM "$CTRAIN" resume "$T/r" >/dev/null 2>&1 ||
	fail "resume start: traced resume failed"
nres=$(awk '$3 == "fflush" && $4 ~ /metrics\.csv$/ { print $1 - 1; exit }' "$T/tr-resume")
[ "$nres" -gt 5 ] || fail "resume start: only $nres operations before the first checkpoint"
n=1
while [ $n -le "$nres" ]; do
	rm -rf "$T/r"; cp -r "$T/base" "$T/r"
	CTRAIN_FAULT_AT=$n CTRAIN_FAULT_ACTION=kill-after CTRAIN_FAULT_DIR=$T/r LD_PRELOAD=$SHIM \
		"$CTRAIN" resume "$T/r" >/dev/null 2>&1
	[ $? -eq 137 ] || fail "resume start: op $n not killed"
	killed=$((killed + 1))
	after_kill "resume killed after op $n ($(sed -n "${n}p" "$T/tr-resume" | cut -d' ' -f3-))" "$T/r"
	n=$((n + 1))
done
ok "resume killed after each of its $nres start-up operations: identical after resume"
echo "kills at operations: $killed, $recovered identical"

# 2. random instants
out=$(CTRAIN=$CTRAIN TMPDIR=$CAMPAIGN_TMPDIR sh "$SRC/experiments/crash_campaign.sh" 8 2>&1) || fail "crash campaign: $out"
echo "$out" | grep -q '^8 kills, 8 identical' || fail "crash campaign: $out"
ok "random kills: $(echo "$out" | tail -1)"
t_end=$(date +%s%3N)
echo "e2e_crash: $(( (t_end - t_start) / 1000 )) s"
finish
