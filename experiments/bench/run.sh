#!/bin/sh
# run.sh — ctrain vs PyTorch on CPU, side by side, in one invocation.
#
#   sh experiments/bench/run.sh [BENCH_STEP]     # from the repo root; `make bench`
#
# BENCH_STEP defaults to build/bench/bench_step and is compiled against
# build/libctrain.a when missing.  For each thread count (1, 2) the OpenBLAS,
# OpenMP and MKL thread variables are set identically for both programs, with
# OMP_WAIT_POLICY=PASSIVE (no spinning threads stealing the other side's core);
# then for each model x batch x optimizer duel.py runs ctrain, PyTorch and the
# step's sgemm calls alone window by window (see duel.py), and with 2 threads
# also ctrain with train.deterministic = false.  Then the checkpoint costs
# (1 thread).  Raw JSON lines go to $OUT/bench_raw.jsonl; report.py writes
# $OUT/bench.md and $OUT/bench.svg.  About 6 minutes on 2 cores.
#
# Environment: BENCH_OUT (default experiments/results), BENCH_QUICK=1 (one
# configuration, short windows: a smoke test of the pipeline), BENCH_CKPT_DIR
# (where checkpoint files go; default a fresh directory under /var/tmp).
set -eu

BIN=${1:-build/bench/bench_step}
HERE=$(dirname "$0")
OUT=${BENCH_OUT:-experiments/results}
PY=/usr/bin/python3
PKGS="openblas hdf5-serial jansson libzip zlib"

if [ ! -x "$BIN" ]; then
	[ -f build/libctrain.a ] || { echo "run.sh: build/libctrain.a missing: run make first" >&2; exit 1; }
	mkdir -p "$(dirname "$BIN")"
	cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	   -Wstrict-prototypes -Wmissing-prototypes $(pkg-config --cflags $PKGS) \
	   -o "$BIN" "$HERE"/*.c build/libctrain.a $(pkg-config --libs $PKGS) -lpthread -lm
fi
"$PY" -c 'import torch' 2>/dev/null || { echo "run.sh: /usr/bin/python3 cannot import torch (apt-get install python3-torch)" >&2; exit 1; }

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	THREADS="1"; MODELS="784,256,10"; BATCHES="32"; OPTIMS="sgd"
	DUEL="--rounds 3 --window-sec 0.1 --warmup-sec 0.1"; REPS=2
	WIN="--windows 3 --window-sec 0.1 --warmup-sec 0.1"
else
	THREADS="1 2"; MODELS="784,256,10 784,1024,1024,10"; BATCHES="32 128 512"; OPTIMS="sgd adam"
	DUEL="--rounds 12 --window-sec 0.5 --warmup-sec 0.3"; REPS=9
	WIN="--windows 5 --window-sec 0.25 --warmup-sec 0.3"
fi

mkdir -p "$OUT"
RAW="$OUT/bench_raw.jsonl"
TMP="$RAW.tmp"
: > "$TMP"

# Machine state: /proc/stat before and after lets report.py tell how much CPU
# other processes used during the run (total busy time minus ours).
machine() {
	printf '{"kind":"machine","when":"%s","date":"%s","loadavg":"%s","uptime":"%s","cpu":"%s","nproc":%s,"kernel":"%s","vm":%s,"stat_cpu":"%s"}\n' \
		"$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(cut -d' ' -f1-3 /proc/loadavg)" \
		"$(uptime | sed 's/^ *//')" \
		"$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')" "$(nproc)" \
		"$(uname -sr)" "$(grep -qw hypervisor /proc/cpuinfo && echo true || echo false)" \
		"$(grep -m1 '^cpu ' /proc/stat)" >> "$TMP"
}

# Which library was measured: HEAD, and how many files of it were modified.
# (-1: not a git work tree, e.g. a `git archive` export with its commit in ./COMMIT.)
if COMMIT=$(git rev-parse --short HEAD 2>/dev/null); then
	DIRTY=$(git status --porcelain -- nn data ckpt train util | wc -l)
else
	COMMIT=$(cat COMMIT 2>/dev/null || echo unknown); DIRTY=-1
fi
printf '{"kind":"build","commit":"%s","modified_files":%s,"bench_step":"%s"}\n' \
	"$COMMIT" "$DIRTY" "$BIN" >> "$TMP"
machine start
for T in $THREADS; do
	export OPENBLAS_NUM_THREADS=$T OMP_NUM_THREADS=$T MKL_NUM_THREADS=$T OMP_WAIT_POLICY=PASSIVE
	"$BIN" info --threads "$T" >> "$TMP"
	"$PY" "$HERE/bench_torch.py" info --threads "$T" >> "$TMP"
	ND=""; [ "$T" = 1 ] || ND="--nondet"
	for L in $MODELS; do
		for B in $BATCHES; do
			for O in $OPTIMS; do
				echo "run.sh: threads $T  $L  batch $B  $O" >&2
				"$PY" "$HERE/duel.py" --bench "$BIN" --layers "$L" --optim "$O" \
					--batch "$B" --threads "$T" $DUEL $ND >> "$TMP"
			done
		done
	done
	# The largest product set alone, with and without the input's gradient.
	"$BIN" sgemm --layers "${MODELS##* }" --batch "${BATCHES##* }" --threads "$T" $WIN >> "$TMP"
	machine "after-threads-$T"
done

export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
CK=${BENCH_CKPT_DIR:-$(mktemp -d /var/tmp/ctrain-bench.XXXXXX)}
echo "run.sh: checkpoint costs in $CK" >&2
for O in adam sgd; do
	mkdir -p "$CK/$O"
	"$BIN" ckpt --dir "$CK/$O" --layers 784,1024,1024,10 --optim "$O" --reps "$REPS" >> "$TMP"
done
[ -n "${BENCH_CKPT_DIR:-}" ] || rm -rf "$CK"
machine end
# CPU seconds used by this script's children (the benchmark itself).
times > "$TMP.times"
tail -1 "$TMP.times" | { read -r u s; printf '{"kind":"self_cpu","user":"%s","sys":"%s"}\n' "$u" "$s"; } >> "$TMP"
rm -f "$TMP.times"

mv "$TMP" "$RAW"
"$PY" "$HERE/report.py" "$RAW" "$OUT"
