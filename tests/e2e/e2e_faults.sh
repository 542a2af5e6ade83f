#!/bin/sh
# End-to-end: a full disk (ENOSPC, EDQUOT) or an I/O error (EIO) at EVERY I/O
# operation of a checkpoint write, sync and async, injected at the libc
# boundary by tests/faultinject.c (LD_PRELOAD), so the real code runs.
#
# The shim watches the whole run directory, so the operations of "one
# checkpoint write" are the ones ckpt_manager_save causes: the flush and fsync
# of metrics.csv (rows must be durable before the checkpoint that refers to
# them, so their failure is a failed checkpoint too), the temporary file's
# open/write/fsync/close/rename, the open/fsync/close of checkpoints/ that make
# the rename durable, and retention (checks of older checkpoints, fsync of the
# directory after deleting one).  They are read from a trace of a clean run.
#
# For each operation N of the write at step $S (two checkpoints exist before):
#   on_error=stop: exit 1 with an ERROR naming the file and the errno text (a
#     retention fault only warns: the new checkpoint is durable, exit 0), no
#     .tmp-* left, every checkpoint present passes `ctrain inspect`, the ones
#     from before are still there, `ctrain resume` completes, and
#     model.safetensors and metrics.csv equal the uninterrupted run's;
#   on_error=warn: a WARN, training goes on, exit 0, identical bytes.
# Plus: half-done writes (a short write, then the error), and a disk that stays
# full from an operation on (exit 1, nothing lost, resume once space is back).
set -u
# The faults are about ctrain's reactions, not the disk's: on tmpfs each fsync
# is free and the ~240 runs take about 20 s.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then TMPDIR=/dev/shm; export TMPDIR; fi
. "$(dirname "$0")/lib.sh"
t_start=$(date +%s%3N)

SHIM=$(shim faultinject) || exit 1
with_faults() { # DIR CMD...: CMD with the shim watching DIR (CTRAIN_FAULT_* from the caller)
	fdir=$1; shift
	CTRAIN_FAULT_DIR=$fdir LD_PRELOAD="$SHIM${LD_PRELOAD:+:$LD_PRELOAD}" "$@"
}
no_tmp() { ! ls -a "$1" "$1/checkpoints" 2>/dev/null | grep -q '^\.tmp-'; }
all_valid() { # every checkpoint in DIR passes `ctrain inspect`
	for c in "$1"/checkpoints/ckpt-*.h5; do
		[ -f "$c" ] || continue
		"$CTRAIN" inspect "$c" >/dev/null 2>&1 || { echo "$c"; return 1; }
	done
}
errno_text() {
	case $1 in
	ENOSPC) echo "No space left on device" ;;
	EIO) echo "Input/output error" ;;
	EDQUOT) echo "Disk quota exceeded" ;;
	esac
}
ckpt_name() { printf 'ckpt-%010d.h5' "$1"; }

# ckpt_ops TRACE STEP: the operations of the checkpoint write at STEP as
# "N phase kind path" lines.  The write starts at the flush of metrics.csv
# before the open of its temporary file and ends before the next such flush.
ckpt_ops() {
	awk -v S="$(ckpt_name "$2")" '
	{ n[NR] = $1; k[NR] = $3; p[NR] = $4 }
	function is_flush(i) { return k[i] == "fflush" && p[i] ~ /\/metrics\.csv$/ }
	END {
		for (o = 1; o <= NR; o++)
			if (k[o] == "open" && index(p[o], "/.tmp-" S "-")) break
		if (o > NR) exit 1
		for (s = o; s > 0 && !is_flush(s); s--) ;
		for (t = o; t <= NR && !is_flush(t); t++) ;
		dirs = 0
		for (i = s; i < t; i++) {
			if (p[i] ~ /\/metrics\.csv$/) ph = "metrics"
			else if (index(p[i], "/.tmp-")) ph = "write"
			else if (p[i] ~ /\/checkpoints$/) { ph = dirs < 3 ? "dirsync" : "retain"; dirs++ }
			else ph = "retain"
			print n[i], ph, k[i], p[i]
		}
	}' "$1"
}

cfg=$T/f.ini
cat > "$cfg" <<'INI'
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
seed = 3
log_every = 2
[checkpoint]
every_steps = 3
keep_last = 2
INI
S=9                        # the write under test (epoch 2); 3 and 6 exist before it
BEFORE="3 6"

"$CTRAIN" train --config "$cfg" --run-dir "$T/ref" >/dev/null 2>&1 || fail "reference run failed"

# 1. count and list the operations of one checkpoint write, sync and async
for mode in sync async; do
	async=false; [ $mode = async ] && async=true
	mkdir "$T/count-$mode"
	CTRAIN_FAULT_TRACE=$T/trace-$mode CTRAIN_FAULT_COUNT=$T/total-$mode \
		with_faults "$T/count-$mode" "$CTRAIN" train --config "$cfg" --run-dir "$T/count-$mode" \
		--set checkpoint.async=$async >/dev/null 2>&1 || fail "$mode: traced run failed"
	cmp "$T/ref/model.safetensors" "$T/count-$mode/model.safetensors" || fail "$mode: the shim changed the result"
	[ "$(cat "$T/total-$mode")" -eq "$(wc -l < "$T/trace-$mode")" ] || fail "$mode: count and trace disagree"
	ckpt_ops "$T/trace-$mode" $S > "$T/ops-$mode" || fail "$mode: no write of step $S in the trace"
	for ph in metrics write dirsync; do
		grep -q " $ph " "$T/ops-$mode" || fail "$mode: no $ph operation in: $(cat "$T/ops-$mode")"
	done
	grep -q ' retain fsync ' "$T/ops-$mode" || fail "$mode: retention deleted nothing at step $S"
	ok "$mode: one checkpoint write = $(wc -l < "$T/ops-$mode") operations (of $(cat "$T/total-$mode") in the run): $(awk '{printf "%s%s", sep, $3; sep=","}' "$T/ops-$mode")"
done

injected=0
identical=0

# check_after NAME DIR PHASE: the state a failed write leaves.
check_after() {
	no_tmp "$2" || fail "$1: temporary file left: $(ls -a "$2" "$2/checkpoints")"
	bad=$(all_valid "$2") || fail "$1: invalid checkpoint $bad"
	for b in $BEFORE; do
		[ -f "$2/checkpoints/$(ckpt_name $b)" ] || [ "$3" = retain ] ||
			fail "$1: checkpoint of step $b lost: $(ls "$2/checkpoints")"
	done
	case $3 in
	write) [ ! -f "$2/checkpoints/$(ckpt_name $S)" ] || fail "$1: a failed write left ckpt $S" ;;
	dirsync) [ -f "$2/checkpoints/$(ckpt_name $S)" ] || fail "$1: the renamed checkpoint is gone" ;;
	esac
}

# same_as_ref NAME DIR: final weights and metrics equal the uninterrupted run's.
same_as_ref() {
	cmp -s "$T/ref/model.safetensors" "$2/model.safetensors" || fail "$1: weights differ from the uninterrupted run"
	same_metrics "$T/ref/metrics.csv" "$2/metrics.csv" ||
		fail "$1: metrics differ: $(diff "$T/m1" "$T/m2" | head -5)"
	identical=$((identical + 1))
}

# inject MODE POLICY ERRNO N PHASE KIND PATH [extra env assignments...]
inject() {
	mode=$1 policy=$2 err=$3 n=$4 phase=$5 kind=$6 opath=$7
	shift 7
	name="$mode/$policy/$err op $n ($kind $(basename "$opath"))${1:+ $*}"
	async=false; [ $mode = async ] && async=true
	d=$T/run
	rm -rf "$d"; mkdir "$d"
	env CTRAIN_FAULT_AT=$n CTRAIN_FAULT_ERRNO=$err "$@" CTRAIN_FAULT_DIR="$d" LD_PRELOAD="$SHIM" \
		"$CTRAIN" train -v --config "$cfg" --run-dir "$d" --set checkpoint.async=$async \
		--set checkpoint.on_error=$policy >/dev/null 2>"$T/err"
	rc=$?
	injected=$((injected + 1))
	text=$(errno_text "$err")
	if [ $policy = warn ] || [ $phase = retain ]; then
		[ $rc -eq 0 ] || fail "$name: exit $rc, expected 0: $(cat "$T/err")"
		if [ $phase != retain ]; then
			grep -q "^WARN checkpoint failed, training continues.*$text" "$T/err" ||
				fail "$name: no WARN with '$text': $(cat "$T/err")"
			grep -q "^DEBUG checkpoint .*/$(ckpt_name $((S + 3))) written" "$T/err" ||
				fail "$name: no retry at the next cadence point (step $((S + 3))): $(cat "$T/err")"
		elif [ $kind = fsync ]; then
			grep -q "^WARN retention in .*checkpoints failed: .*$text" "$T/err" ||
				fail "$name: no retention WARN: $(cat "$T/err")"
		fi
		check_after "$name" "$d" retain
	else
		[ $rc -eq 1 ] || fail "$name: exit $rc, expected 1: $(cat "$T/err")"
		case $phase in
		metrics) what="$d/metrics.csv" ;;
		*) what="$d/checkpoints/$(ckpt_name $S)" ;;
		esac
		grep -q "^ERROR $what: .*$text\$" "$T/err" || fail "$name: error does not name $what and '$text': $(cat "$T/err")"
		check_after "$name" "$d" $phase
		"$CTRAIN" resume "$d" >/dev/null 2>"$T/err" || fail "$name: resume failed: $(cat "$T/err")"
	fi
	same_as_ref "$name" "$d"
}

# 2. every operation x {sync, async} x {ENOSPC, EIO, EDQUOT} x {stop, warn}
for mode in sync async; do
	for err in ENOSPC EIO EDQUOT; do
		for policy in stop warn; do
			while read -r n phase kind opath; do
				inject $mode $policy $err "$n" $phase $kind "$opath"
			done < "$T/ops-$mode"
		done
	done
	ok "$mode: every operation x ENOSPC/EIO/EDQUOT x stop/warn: nothing lost, identical bytes"
done

# 2b. on_error=warn when the write that fails is the last one before the end
#     (async: still in flight when training ends): warned, the final
#     checkpoint is written, exit 0, identical bytes
for mode in sync async; do
	async=false; [ $mode = async ] && async=true
	n=$(awk -v S="$(ckpt_name 15)" '$3 == "write" && index($4, "/.tmp-" S "-") { print $1; exit }' "$T/trace-$mode")
	[ -n "$n" ] || fail "$mode: no write of step 15 in the trace"
	d=$T/last; rm -rf "$d"; mkdir "$d"
	CTRAIN_FAULT_AT=$n with_faults "$d" "$CTRAIN" train --config "$cfg" --run-dir "$d" \
		--set checkpoint.async=$async --set checkpoint.on_error=warn >/dev/null 2>"$T/err"
	rc=$?
	injected=$((injected + 1))
	[ $rc -eq 0 ] || fail "$mode: warn, failed write of step 15: exit $rc: $(cat "$T/err")"
	grep -q "^WARN checkpoint failed, training continues.*$(ckpt_name 15)" "$T/err" || fail "$mode: no WARN: $(cat "$T/err")"
	[ -f "$d/checkpoints/$(ckpt_name 16)" ] || fail "$mode: no final checkpoint"
	same_as_ref "$mode: warn, last write before the end" "$d"
done
ok "warn: the last write before the end fails: WARN, final checkpoint written, exit 0"

# 3. a filling disk: the write gets half its bytes out, then ENOSPC
for mode in sync async; do
	while read -r n phase kind opath; do
		inject $mode stop ENOSPC "$n" $phase $kind "$opath" CTRAIN_FAULT_SHORT=1
	done <<EOF
$(grep ' write write ' "$T/ops-$mode")
EOF
done
ok "short write then ENOSPC: temporary file removed, identical bytes after resume"

# 4. the disk stays full from one operation on (each phase's first operation):
#    exit 1, the old checkpoints intact, resume once there is space again
for mode in sync async; do
	async=false; [ $mode = async ] && async=true
	for ph in metrics write dirsync; do
		set -- $(grep " $ph " "$T/ops-$mode" | head -1)
		d=$T/full; rm -rf "$d"; mkdir "$d"
		CTRAIN_FAULT_AT=$1 CTRAIN_FAULT_STICKY=1 with_faults "$d" "$CTRAIN" train --config "$cfg" \
			--run-dir "$d" --set checkpoint.async=$async >/dev/null 2>"$T/err"
		rc=$?
		injected=$((injected + 1))
		[ $rc -eq 1 ] || fail "full disk from op $1 ($mode): exit $rc: $(cat "$T/err")"
		grep -q "^ERROR .*No space left on device" "$T/err" || fail "full disk ($mode): $(cat "$T/err")"
		check_after "full disk from op $1 ($mode)" "$d" $ph
		"$CTRAIN" resume "$d" >/dev/null 2>"$T/err" || fail "full disk ($mode): resume: $(cat "$T/err")"
		same_as_ref "full disk from op $1 ($mode)" "$d"
	done
done
ok "disk full for good: exit 1, earlier checkpoints intact, resume identical"

t_end=$(date +%s%3N)
echo "faults: $injected injected, $identical recovered identical ($(( (t_end - t_start) / 1000 )).$(( (t_end - t_start) % 1000 / 100 )) s)"
[ $injected -eq $identical ] || fail "$injected injected but $identical identical"
finish
