#!/bin/sh
# crash_campaign.sh [N] — kill -9 a training run at N random instants and
# prove that `ctrain resume` after each kill ends with the same bytes as a run
# that was never interrupted.
#
#   CTRAIN=build/ctrain sh experiments/crash_campaign.sh 200
#
# One uninterrupted reference run first.  Then chains: `ctrain train`, SIGKILL
# after a random delay, `ctrain resume`, SIGKILL again, ... until a process
# completes; its model.safetensors must equal the reference byte for byte and
# its metrics.csv must equal it without the two timing columns.  Chains repeat
# until N kills have landed.  After every kill: each ckpt-*.h5 present passes
# `ctrain inspect` (a kill may leave a .tmp-* file, never a bad checkpoint),
# and the next resume starts from the newest one without skipping any.
#
# The run (300k parameters, AdamW, checkpoints of 3.6 MB every 3 steps, async)
# spends roughly a third of its time with a checkpoint write in flight, so the
# uniform delays land in steps, in checkpoint writes, around renames and in
# the start-up of resume itself.  When tests/faultinject.c is built next to
# $CTRAIN (or CC can build it) it runs as a pass-through tracer, and each kill
# is classified by the last file operation the process had made.
#
# Environment: CTRAIN (default build/ctrain), SEED (delays; default: time),
# CRASH_DIR (work directory; default a new one under $TMPDIR or /tmp, removed
# at the end unless KEEP=1).  Prints "N kills, M identical"; exits 1 if any
# kill did not end identical.
set -u
N=${1:-20}
here=$(cd "$(dirname "$0")" && pwd)
CTRAIN=${CTRAIN:-$here/../build/ctrain}
[ -x "$CTRAIN" ] || { echo "crash_campaign: no $CTRAIN (make first)" >&2; exit 2; }
SEED=${SEED:-$(date +%s)}
W=${CRASH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/ctrain-crash.XXXXXX")}
mkdir -p "$W"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
say() { echo "crash_campaign: $*"; }
now_ms() { date +%s%3N; }
t0=$(now_ms)

# Pass-through tracer: which operation did each killed process do last?
. "$here/../tests/shim.sh"
SHIM=$(shim_path faultinject "$W" 2>/dev/null) || SHIM=

{ cat "$here/configs/campaign.ini"; echo "async = true"; } >"$W/run.ini"

# without the timing columns samples_per_sec, elapsed_sec, ckpt_sec (by name)
strip_timing() {
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) drop[i] = $i == "samples_per_sec" || $i == "elapsed_sec" || $i == "ckpt_sec" }
		{ o = ""; sep = ""; for (i = 1; i <= NF; i++) if (!drop[i]) { o = o sep $i; sep = "," }; print o }' "$1"
}

r0=$(now_ms)
"$CTRAIN" train --config "$W/run.ini" --run-dir "$W/ref" >/dev/null 2>"$W/ref.err" ||
	{ cat "$W/ref.err" >&2; exit 2; }
ref_ms=$(( $(now_ms) - r0 ))
strip_timing "$W/ref/metrics.csv" > "$W/ref.metrics"
say "reference run: $ref_ms ms, $(wc -l < "$W/ref.metrics") metrics rows; seed $SEED"

# rand_ms K: the K-th delay, uniform in [0, 3/4 ref_ms + 50) ms (a longer one
# would often outlive a resume, which has less to do than the first run).
rand_ms() { awk -v s="$SEED" -v k="$1" -v m="$ref_ms" 'BEGIN { srand(s + 7919 * k); print int(rand() * (m * 0.75 + 50)) }'; }

# classify TRACE: where the last operation before the kill puts the process.
classify() {
	[ -s "$1" ] || { echo "start-up"; return; }
	tail -1 "$1" | awk '{
		k = $3; p = $4
		if (p ~ /\/\.tmp-ckpt-/) print (k == "rename" ? "ckpt-renamed" : "ckpt-write")
		else if (p ~ /\/checkpoints$/) print "ckpt-dirsync"
		else if (p ~ /\/checkpoints\/ckpt-/) print "retention"
		else if (p ~ /\/\.tmp-/) print "other-write"
		else print "steps"
	}'
}

# check_dir DIR: every checkpoint present is valid.
check_dir() {
	for c in "$1"/checkpoints/ckpt-*.h5; do
		[ -f "$c" ] || continue
		"$CTRAIN" inspect "$c" >/dev/null 2>&1 || { echo "invalid checkpoint after a kill: $c"; return 1; }
	done
}

kills=0 identical=0 chains=0 bad=0 k=0
: > "$W/where"
while [ $kills -lt $N ]; do
	chains=$((chains + 1))
	d=$W/run$chains
	chain_kills=0 chain_ok=1 newest=-1
	cmd="train --config $W/run.ini --run-dir $d"
	while :; do
		k=$((k + 1))
		rm -f "$W/trace"
		if [ $kills -ge $N ]; then
			delay=-1 # enough kills: let this process finish
		else
			delay=$(rand_ms $k)
		fi
		if [ -n "$SHIM" ]; then
			mkdir -p "$d"
			CTRAIN_FAULT_DIR=$d CTRAIN_FAULT_TRACE=$W/trace LD_PRELOAD=$SHIM \
				"$CTRAIN" $cmd >/dev/null 2>"$W/err" &
		else
			"$CTRAIN" $cmd >/dev/null 2>"$W/err" &
		fi
		pid=$!
		if [ $delay -ge 0 ]; then
			sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
			kill -KILL $pid 2>/dev/null
		fi
		wait $pid 2>/dev/null # (no "Killed" line from the shell)
		rc=$?
		if [ $rc -eq 137 ]; then
			kills=$((kills + 1))
			chain_kills=$((chain_kills + 1))
			where=$(classify "$W/trace")
			[ -n "$(ls -a "$d/checkpoints" 2>/dev/null | grep '^\.tmp-')" ] && where="$where+tmp"
			echo "$where" >> "$W/where"
			check_dir "$d" || chain_ok=0
		elif [ $rc -ne 0 ]; then
			say "chain $chains: '$cmd' exited $rc: $(tail -3 "$W/err")"
			chain_ok=0
			break
		else
			break
		fi
		cmd="resume $d"
		# the resume after this kill: never from an older checkpoint than
		# the newest one present, never skipping an invalid one
		cat "$W/err" >> "$W/chain.err"
		step=$(ls "$d/checkpoints" 2>/dev/null | sed -n 's/^ckpt-0*\([0-9][0-9]*\)\.h5$/\1/p' | sort -n | tail -1)
		if [ -z "$step" ]; then
			[ $newest -lt 0 ] || { say "chain $chains: checkpoints vanished"; chain_ok=0; }
			# killed before its first checkpoint: train again, as a user would
			cmd="train --config $W/run.ini --run-dir $d --overwrite"
		else
			[ "$step" -ge $newest ] || { say "chain $chains: newest checkpoint went back from $newest to $step"; chain_ok=0; }
			newest=$step
		fi
	done
	cat "$W/err" >> "$W/chain.err"
	if grep -q 'skipping invalid checkpoint' "$W/chain.err"; then
		say "chain $chains: $(grep 'skipping invalid' "$W/chain.err")"
		chain_ok=0
	fi
	rm -f "$W/chain.err"
	if [ $chain_ok -eq 1 ] && cmp -s "$W/ref/model.safetensors" "$d/model.safetensors" &&
		strip_timing "$d/metrics.csv" | cmp -s - "$W/ref.metrics"; then
		identical=$((identical + chain_kills))
	else
		bad=$((bad + 1))
		say "chain $chains ($chain_kills kills): DIFFERENT from the uninterrupted run"
		[ -f "$d/model.safetensors" ] && cmp "$W/ref/model.safetensors" "$d/model.safetensors"
		[ -f "$d/metrics.csv" ] && strip_timing "$d/metrics.csv" | diff - "$W/ref.metrics" | head -5
		KEEP=1; trap - EXIT
	fi
	left=$(ls -a "$d" "$d/checkpoints" 2>/dev/null | grep '^\.tmp-' | tr '\n' ' ')
	if [ -n "$left" ]; then # killed writers' leftovers must be gone once a resume ran
		say "chain $chains: temporary files left after completion: $left"
		bad=$((bad + 1))
	fi
	rm -rf "$d"
done
secs=$(( ($(now_ms) - t0) / 1000 ))
say "$chains chains; where the kills landed (last file operation):"
sort "$W/where" | uniq -c | sort -rn | sed 's/^/    /'
echo "$kills kills, $identical identical ($secs s)"
[ $bad -eq 0 ] && [ $identical -eq $kills ]
