#!/bin/sh
# profile.sh — where the 784-256-10 step at batch 32, 1 thread goes.
#
#   sh experiments/bench/profile.sh [BENCH_STEP]     # from the repo root; prints Markdown
#
# Hardware counters are not available in this VM (`perf stat -e instructions
# true` says <not supported>), so the instruction profile is callgrind's,
# collected only inside run_steps() (--toggle-collect): exactly STEPS steps,
# no set-up.  A time profile comes from perf's software clock (cpu-clock
# sampling, DWARF call graphs), keeping only samples under run_steps().
# experiments/bench/profile.py groups both into the categories of issue 8.
# Last, a time profile of 784-1024-1024-10 at batch 512 (the sgemm-bound goal).
set -eu

BIN=${1:-build/bench/bench_step}
HERE=$(dirname "$0")
PY=/usr/bin/python3
CG_STEPS=${CG_STEPS:-50}   # callgrind runs ~100x slower; steps are identical
PERF_STEPS=${PERF_STEPS:-4000}
TMP=$(mktemp -d /tmp/ctrain-profile.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
ARGS="--layers 784,256,10 --batch 32 --threads 1 --rows 2048"

# perf cpu-clock profile of `bench_step step $1 --steps $2`, grouped.
perf_profile() {
	perf record -q -e cpu-clock -F 2000 --call-graph dwarf,16384 -o "$TMP/perf" \
		"$BIN" step $1 --steps "$2" > "$TMP/perf.json" 2>/dev/null
	us=$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["batch"]/r["rates"][0]*1e6)' "$TMP/perf.json")
	"$PY" "$HERE/profile.py" perf "$TMP/perf" "$2" "$us"
	echo
}

for O in sgd adam; do
	echo "## $O: callgrind, $CG_STEPS steps (instructions)"
	echo
	valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$O" --toggle-collect=run_steps \
		"$BIN" step $ARGS --optim $O --steps "$CG_STEPS" > "$TMP/cg.$O.json" 2> "$TMP/cg.$O.log"
	echo "OpenBLAS kernel under valgrind: $(sed 's/.*"blas_core":"\([^"]*\)".*/\1/' "$TMP/cg.$O.json")"
	echo
	"$PY" "$HERE/profile.py" callgrind "$TMP/cg.$O" "$CG_STEPS"
	echo
	echo "## $O: perf cpu-clock, $PERF_STEPS steps (time)"
	echo
	perf_profile "$ARGS --optim $O" "$PERF_STEPS"
done
for O in sgd adam; do
	echo "## 784-1024-1024-10, batch 512, $O: perf cpu-clock, 60 steps (time)"
	echo
	perf_profile "--layers 784,1024,1024,10 --batch 512 --threads 1 --rows 4096 --optim $O" 60
done
