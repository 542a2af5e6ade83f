#!/bin/sh
# End-to-end: power loss at every fsync, resume, same bytes.
# A kill -9 keeps the page cache (e2e_crash); a power loss keeps only what
# fsync made durable.  tests/powerloss.c (LD_PRELOAD) records what each fsync
# of a run under $T/p made durable and SIGKILLs the run at its N-th fsync;
# tests/powerloss_rebuild.py builds three states a power loss may leave at
# that point (fsync: durable names and bytes; zerofill: the same with each
# file grown to its size at the stop, zeros past the durable bytes; names:
# every name as at the stop, durable bytes); `ctrain resume` runs on each.
# Required of every state: the checkpoint ctrain had completed (renamed and
# its directory fsynced) is resumed from or a later one is (0 lost), and the
# result equals an uninterrupted run (model.safetensors and metrics.csv
# without the timing columns).  A state without config.ini (the run never
# became durable) must be refused with exit 2, then `ctrain train` again must
# give the same result.  Every fsync of a small run, sync and async, and of
# the resume of that run interrupted at step 5 (its files durable at start).
#   PL_WHEN=before|after (default after)   PL_CFG=FILE (default: the small run)
#   PL_MODES="sync async resume"   PL_QUIET=1: only the summary line
#   PL_SIM_ONLY=1: only the simulator
set -u
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then TMPDIR=/dev/shm; export TMPDIR; fi
. "$(dirname "$0")/lib.sh"
t_start=$(date +%s)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
[ -x $PY ] || fail "$PY is missing (Debian python3)"
REBUILD=$SRC/tests/powerloss_rebuild.py
SHIM=$(shim powerloss) || exit 1
WHEN=${PL_WHEN:-after}

cfg=${PL_CFG:-$T/pl.ini}
[ -n "${PL_CFG:-}" ] || cat > "$cfg" <<'INI'
[model]
layers = 8,16,3
activation = tanh
dropout = 0.1
[optim]
name = adam
lr = 0.01
[data]
dataset = synthetic
n_samples = 150
n_features = 8
n_classes = 3
val_fraction = 0.2
batch_size = 30
[train]
epochs = 2
seed = 11
log_every = 1
[checkpoint]
every_steps = 3
keep_last = 1
INI
"$CTRAIN" train --config "$cfg" --run-dir "$T/ref" >/dev/null 2>&1 || fail "reference run failed"

# Resume before the first checkpoint, and without a readable config.ini
# (PL_SIM_ONLY=1 skips this part, e.g. to count the states an old binary loses).
[ "${PL_SIM_ONLY:-0}" = 1 ] || {
"$CTRAIN" train --config "$cfg" --run-dir "$T/r0" >/dev/null 2>&1 || fail "second reference run failed"
rm -rf "$T/r0/checkpoints" "$T/r0/model.safetensors"
echo "step,epoch,loss,lr,val_loss,val_accuracy,samples_per_sec,elapsed_sec" > "$T/r0/metrics.csv"
echo partial > "$T/r0/.tmp-metrics.csv-999999999-3"
"$CTRAIN" resume "$T/r0" >/dev/null 2>"$T/err" || fail "resume without checkpoints/: $(cat "$T/err")"
[ "$(grep -c 'starting it again from step 0' "$T/err")" -eq 1 ] || fail "no step-0 INFO line: $(cat "$T/err")"
grep -q "^INFO removed 1 temporary file(s) left in $T/r0 " "$T/err" || fail "run-dir temporary file not reported removed: $(cat "$T/err")"
[ ! -e "$T/r0/.tmp-metrics.csv-999999999-3" ] || fail "temporary file of a dead writer left in the run directory"
cmp -s "$T/ref/model.safetensors" "$T/r0/model.safetensors" && same_metrics "$T/ref/metrics.csv" "$T/r0/metrics.csv" ||
	fail "resume from step 0 differs from the uninterrupted run"
printf '[model\nlayers = 8,\0' > "$T/r0/config.ini"
"$CTRAIN" resume "$T/r0" >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 2 ] && grep -q "config.ini is missing or damaged; every checkpoint holds a copy (h5dump -a /meta/config $T/r0/checkpoints/" "$T/err" ||
	fail "damaged config.ini: exit $rc: $(cat "$T/err")"
rm "$T/r0/config.ini"
"$CTRAIN" resume "$T/r0" >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 2 ] && grep -q "config.ini is missing or damaged" "$T/err" || fail "missing config.ini: exit $rc: $(cat "$T/err")"
rm -rf "$T/r0/checkpoints"
"$CTRAIN" resume "$T/r0" >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 2 ] && grep -q "no config.ini, no checkpoint): start it with ctrain train --config FILE --run-dir $T/r0" "$T/err" ||
	fail "no config.ini nor checkpoint: exit $rc: $(cat "$T/err")"
ok "resume before any checkpoint starts from step 0 (one INFO line, leftovers removed, identical); config.ini missing or damaged: exit 2 saying what to do"
}

points=0 states=0 unique=0 identical=0 from0=0 refused=0 lost=0 bad=0
: > "$T/seen"
# Each state gets a verdict: words among from0 refused identical lost bad.
problem() {
	verdict="$verdict bad"
	bad_msgs=$((bad_msgs + 1))
	[ $bad_msgs -le 5 ] && echo "  $*" >&2
	return 0
}
bad_msgs=0
count() {
	for w in $1; do
		case $w in
		from0) from0=$((from0 + 1)) ;;
		refused) refused=$((refused + 1)) ;;
		identical) identical=$((identical + 1)) ;;
		lost) lost=$((lost + 1)) ;;
		bad) bad=$((bad + 1)) ;;
		esac
	done
}

# check_state NAME DIR COMPLETED: resumes (or refuses and trains again) the
# run in DIR/run and compares it with the reference; sets $verdict.
check_state() {
	d=$2/run
	verdict=""
	if [ -f "$d/config.ini" ]; then
		"$CTRAIN" resume "$d" >/dev/null 2>"$T/err"
		rc=$?
		if [ $rc -ne 0 ]; then
			[ "$3" -ge 0 ] && verdict=lost
			problem "$1: resume exit $rc (checkpoint $3 completed): $(tail -1 "$T/err")"
			return
		fi
		if grep -q 'starting it again from step 0' "$T/err"; then
			got=-1 verdict=from0
		else
			got=$(sed -n 's/.*INFO resuming from .*(step \([0-9]*\),.*/\1/p' "$T/err" | head -1)
			[ -n "$got" ] || { problem "$1: no resume line: $(cat "$T/err")"; return; }
		fi
		if [ "$got" -lt "$3" ]; then
			verdict=lost
			problem "$1: resumed from step $got, but checkpoint $3 was completed"
			return
		fi
	else
		if [ "$3" -ge 0 ]; then
			verdict=lost
			problem "$1: no config.ini, but checkpoint $3 was completed"
			return
		fi
		if [ -d "$d" ]; then
			"$CTRAIN" resume "$d" >/dev/null 2>"$T/err"
			rc=$?
			[ $rc -eq 2 ] && grep -q 'ctrain train --config FILE --run-dir' "$T/err" ||
				{ problem "$1: resume without config.ini: exit $rc: $(tail -1 "$T/err")"; return; }
		fi
		verdict=refused
		rm -rf "$d"
		"$CTRAIN" train --config "$cfg" --run-dir "$d" >/dev/null 2>"$T/err" ||
			{ problem "$1: train again failed: $(tail -1 "$T/err")"; return; }
	fi
	if ! cmp -s "$T/ref/model.safetensors" "$d/model.safetensors"; then
		problem "$1: weights differ from the uninterrupted run"
	elif ! same_metrics "$T/ref/metrics.csv" "$d/metrics.csv"; then
		problem "$1: metrics.csv differs: $(diff "$T/m1" "$T/m2" | head -3 | tr '\n' ' ')"
	else
		verdict="$verdict identical"
	fi
}

# The scenarios: train (sync, async) from an empty directory, and resume
# (sync) of a run interrupted at step 5, whose files are durable at the start.
CTRAIN_TEST_SIGNAL_AT_STEP=5 "$CTRAIN" train --config "$cfg" --run-dir "$T/base/run" >/dev/null 2>&1
[ $? -eq 143 ] || fail "could not interrupt the base run at step 5"
# under_shim SCENARIO AT: runs the scenario in $T/p/run, journal in $T/j,
# stopped at fsync AT (0: never); returns its exit status.
under_shim() {
	rm -rf "$T/p" "$T/j" "$T"/s.*
	mkdir "$T/j"
	if [ $1 = resume ]; then cp -r "$T/base" "$T/p"; else mkdir "$T/p"; fi
	(
		export CTRAIN_PL_DIR="$T/p" CTRAIN_PL_JOURNAL="$T/j" CTRAIN_PL_AT=$2 CTRAIN_PL_WHEN=$WHEN \
			LD_PRELOAD="$SHIM"
		if [ $1 = resume ]; then
			exec "$CTRAIN" resume "$T/p/run"
		else
			async=false; [ $1 = async ] && async=true
			exec "$CTRAIN" train --config "$cfg" --run-dir "$T/p/run" --set checkpoint.async=$async
		fi
	) >/dev/null 2>&1
}

for mode in ${PL_MODES:-sync async resume}; do
	# a traced run: how many fsyncs, and the shim changes nothing
	under_shim $mode 0 || fail "$mode: traced run failed"
	cmp -s "$T/ref/model.safetensors" "$T/p/run/model.safetensors" || fail "$mode: tracing changed the result"
	n_fsync=$(grep -vc '^b' "$T/j/log")
	[ "$n_fsync" -gt 10 ] || fail "$mode: only $n_fsync fsyncs recorded"
	n=1
	while [ $n -le "$n_fsync" ]; do
		{ under_shim $mode $n; } 2>/dev/null # the shell's "Killed"
		rc=$?
		# async: the last fsyncs may come in another order; a run that ends first is fine
		[ $rc -eq 137 ] || [ $rc -eq 0 ] || fail "$mode: fsync $n: exit $rc, not killed"
		points=$((points + 1))
		at=$(awk -v n=$n '$1 == n { print $2, $4 }' "$T/j/log" | sed "s|$T/p/||")
		$PY "$REBUILD" "$T/j" "$T/p" "$T/s" > "$T/states" || fail "$mode: rebuild failed at fsync $n"
		while read -r variant completed digest; do
			states=$((states + 1))
			key="k$completed-$digest"
			seen=$(grep "^$key " "$T/seen")
			if [ -n "$seen" ]; then # the same state again: the same verdict
				count "${seen#* }"
				continue
			fi
			unique=$((unique + 1))
			check_state "$mode: stopped $WHEN fsync $n ($at), $variant" "$T/s.$variant" "$completed"
			echo "$key $verdict" >> "$T/seen"
			count "$verdict"
		done < "$T/states"
		n=$((n + 1))
	done
	[ "${PL_QUIET:-0}" = 1 ] || echo "     $mode: $n_fsync fsync points"
done
t_end=$(date +%s)
summary="fsync points: $points ($WHEN), states: $states ($unique distinct), identical after resume: $identical, of which refused (no config.ini, trained again): $refused, started from step 0: $from0; lost checkpoints: $lost, failed states: $bad, $((t_end - t_start)) s"
echo "$summary"
[ $bad -eq 0 ] && [ $lost -eq 0 ] || fail "$summary"
ok "power loss at every fsync of train (sync, async) and resume: every state resumes to the uninterrupted result"
finish
