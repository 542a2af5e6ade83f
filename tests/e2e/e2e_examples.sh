#!/bin/sh
# End-to-end: ctrain as an installed C library.  `make install` into a temporary
# PREFIX; every installed header compiles on its own; the examples, copied
# outside the source tree, build with nothing but `pkg-config --cflags --libs
# ctrain` (shared, and static); xor learns; the residual MLP's hand-written
# loop is killed (SIGKILL, twice, once with a write in flight) and restarted
# and ends with the same bytes as an uninterrupted run, with keys PyTorch
# loads strictly; serve answers stdin with the classes `ctrain predict` gives;
# dataparallel gives the same weights alone and under mpirun -np 2 and 4,
# resumes on 2 ranks what 1 wrote, and stops all ranks at one step when one
# rank gets SIGTERM, to the same bytes after a resume on 1.
set -u
. "$(dirname "$0")/lib.sh"
build=$(dirname "$CTRAIN")
TESTS_DIR=$(cd "$(dirname "$0")/.." && pwd)
P=$T/prefix
PY=/usr/bin/python3
# `make asan` exports CC=clang and EXTRA=<sanitizer flags>: the examples are
# then built and run instrumented like the library they link.
XCC="${CC:-cc} ${EXTRA:-}"

make -s BUILD="$build" install PREFIX="$P" >"$T/install.log" 2>&1 || fail "make install: $(tail -5 "$T/install.log")"
for f in bin/ctrain lib/libctrain.a lib/libctrain.so lib/libctrain.so.0 include/ctrain.h \
	include/ctrain/nn/module.h include/ctrain/ckpt/manager.h lib/pkgconfig/ctrain.pc; do
	[ -e "$P/$f" ] || fail "make install did not install $f"
done
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
CF=$(pkg-config --cflags ctrain) && LIBS=$(pkg-config --libs ctrain) || fail "pkg-config ctrain failed"
echo "$CF" | grep -q -- "-I$P/include" || fail "pkg-config --cflags: $CF"
n=0
for h in ctrain.h $(cd "$P/include" && find ctrain -name '*.h' | sort); do
	# in $T: with EXTRA=--coverage the compiler leaves a note file in the cwd
	(cd "$T" && printf '#include <%s>\n' "$h" | $XCC -std=c11 -Wall -Wextra -Werror $CF -fsyntax-only \
		-x c - 2>"$T/h.err") || fail "installed $h does not compile on its own: $(head -3 "$T/h.err")"
	n=$((n + 1))
done
ok "installed into PREFIX; $n headers each compile on their own with pkg-config --cflags"
# ctrain's names must not collide with the system's: <syslog.h> defines
# LOG_INFO, LOG_DEBUG, ... (ctrain's levels are CT_LOG_*).
printf '%s\n' '#include <syslog.h>' '#include <ctrain.h>' \
	'int main(void) { ct_log_set_level(CT_LOG_WARN); syslog(LOG_INFO | LOG_USER, "x"); return LOG_DEBUG - CT_LOG_DEBUG; }' >"$T/syslog.c"
(cd "$T" && $XCC -std=c11 -Wall -Wextra -Werror $CF -fsyntax-only syslog.c 2>"$T/h.err") \
	|| fail "<syslog.h> then <ctrain.h> does not compile: $(head -3 "$T/h.err")"
ok "<syslog.h> included before <ctrain.h> compiles (no LOG_* collision)"

# Out of the source tree, with only pkg-config.
S=$T/src; mkdir -p "$S"; cp examples/*.c "$S/"
cd "$S" || fail "cd $S"
for x in xor resmlp serve dataparallel; do
	$XCC -std=c11 -O2 -Wall -Wextra -Werror $CF "$x.c" -o "$x" $LIBS 2>"$T/cc.err" \
		|| fail "$x does not build with pkg-config: $(head -5 "$T/cc.err")"
done
STATIC=$(pkg-config --libs --static ctrain | sed 's/-lctrain/-l:libctrain.a/')
$XCC -std=c11 -O2 -Wall -Werror $CF resmlp.c -o resmlp-static $STATIC 2>"$T/cc.err" \
	|| fail "static build: $(head -5 "$T/cc.err")"
ldd ./resmlp-static | grep -q libctrain && fail "resmlp-static still needs libctrain.so"
ldd ./resmlp | grep -q "$P/lib/libctrain.so" && fail "resmlp found libctrain.so without LD_LIBRARY_PATH?"
export LD_LIBRARY_PATH="$P/lib"
ldd ./resmlp | grep -q "$P/lib/libctrain.so.0" || fail "resmlp does not use the installed libctrain.so"
ok "xor, resmlp, serve, dataparallel build outside the tree with pkg-config (shared); resmlp also static"

./xor "$T/xor.safetensors" >"$T/xor.out" 2>&1 || fail "xor: $(cat "$T/xor.out")"
grep -q 'accuracy 4/4' "$T/xor.out" || fail "xor did not learn: $(cat "$T/xor.out")"
"$build/examples/xor" >/dev/null 2>&1 || fail "the in-tree build of xor (make examples) fails"
ok "xor learns XOR (installed and in-tree builds)"

# Residual MLP: uninterrupted vs killed twice and restarted.  The kills come
# from outside the program (tests/faultinject.c, no hook in the library):
# SIGKILL just before the first operation on the temporary file of the step
# 34 and then the step 40 checkpoint, each written by the background thread
# while training goes on.
DATA=synthetic:1200
SHIM=$build/libfaultinject.so
if [ ! -f "$SHIM" ]; then # not built by make: build it here
	SHIM=$T/libfaultinject.so
	${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -fPIC -shared -o "$SHIM" "$TESTS_DIR/faultinject.c" \
		-ldl -lpthread || fail "cannot build $SHIM"
fi
./resmlp $DATA "$T/a" 4 >"$T/a.out" 2>"$T/a.err" || fail "resmlp: $(cat "$T/a.err")"
grep -q '^done step' "$T/a.out" || fail "resmlp summary: $(cat "$T/a.out")"
mkdir -p "$T/b/checkpoints"
for k in 34 40; do
	CTRAIN_FAULT_DIR="$T/b/checkpoints" CTRAIN_FAULT_MATCH=$(printf 'ckpt-%010d' $k) CTRAIN_FAULT_AT=1 \
		CTRAIN_FAULT_ACTION=kill-before LD_PRELOAD=$SHIM ./resmlp-static $DATA "$T/b" 4 >/dev/null 2>"$T/b.err"
	rc=$?
	[ $rc -eq 137 ] || fail "resmlp killed at step $k: exit $rc, expected 137: $(cat "$T/b.err")"
done
grep -q 'resuming from .*ckpt-0000000020.h5' "$T/b.err" || fail "the second run did not resume from step 20: $(cat "$T/b.err")"
./resmlp-static $DATA "$T/b" 4 >"$T/b.out" 2>"$T/b.err" || fail "resmlp restart: $(cat "$T/b.err")"
grep -q 'resuming from .*ckpt-0000000034.h5' "$T/b.err" || fail "restart did not resume from step 34: $(cat "$T/b.err")"
cmp "$T/a/model.safetensors" "$T/b/model.safetensors" || fail "killed + restarted resmlp: weights differ"
[ "$(ls "$T/a/checkpoints")" = "$(ls "$T/b/checkpoints")" ] || fail "different checkpoints kept: $(ls "$T/b/checkpoints")"
[ "$(tail -1 "$T/a.out")" = "$(tail -1 "$T/b.out")" ] || fail "summaries differ: $(tail -1 "$T/b.out")"
ok "resmlp killed -9 in the writes of steps 34 and 40, restarted: same model.safetensors bytes ($(tail -1 "$T/b.out"))"

$PY - "$TESTS_DIR" "$T/a/model.safetensors" "$T/xor.safetensors" <<'EOF' || fail "PyTorch could not load the examples' weights strictly"
import sys
sys.path.insert(0, sys.argv[1])
import torch
from py_crosscheck import read_st

class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(128, 128)

class ResMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Linear(784, 128)
        self.blocks = torch.nn.ModuleList([Block(), Block()])
        self.head = torch.nn.Linear(128, 10)

class Xor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(2, 8)
        self.out = torch.nn.Linear(8, 2)

for model, path in ((ResMLP(), sys.argv[2]), (Xor(), sys.argv[3])):
    meta, tensors = read_st(path)
    assert meta["format"] == "pt", meta
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()}, strict=True)
print("torch: resmlp and xor state dicts load with strict=True")
EOF
ok "PyTorch loads both state dicts with strict=True"

# dataparallel: the same bytes for P = 1 (no launcher), 2 and 4 ranks, and
# across P through a checkpoint (rank 0 reads it and broadcasts it).
command -v mpirun >/dev/null || fail "mpirun not installed (make deps)"
CTRAIN_MPI_LIB=$P/lib/libctrain_mpi.so; export CTRAIN_MPI_LIB
mpi() { # LeakSanitizer off for the ranks only: see e2e_mpi.sh
	_np=$1
	shift
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 timeout 120 mpirun --allow-run-as-root --oversubscribe \
		--bind-to none --mca plm isolated --mca btl self,vader --mca btl_vader_single_copy_mechanism none -np "$_np" "$@"
}
./dataparallel "$T/dp1" 60 >"$T/dp1.out" 2>&1 || fail "dataparallel alone: $(cat "$T/dp1.out")"
grep -q '^done step 60 on 1 rank(s)' "$T/dp1.out" || fail "dataparallel alone: $(cat "$T/dp1.out")"
for np in 2 4; do
	mpi $np ./dataparallel "$T/dp$np" 60 >"$T/dp$np.out" 2>&1 || fail "mpirun -np $np dataparallel: $(cat "$T/dp$np.out")"
	grep -q "^done step 60 on $np rank(s)" "$T/dp$np.out" || fail "-np $np: $(cat "$T/dp$np.out")"
	cmp "$T/dp1/model.safetensors" "$T/dp$np/model.safetensors" || fail "dataparallel: P = $np differs from one process"
done
./dataparallel "$T/dpr" 30 >/dev/null 2>&1 || fail "dataparallel 30 steps"
mpi 2 ./dataparallel "$T/dpr" 60 >"$T/dpr.out" 2>&1 || fail "resume on 2 ranks: $(cat "$T/dpr.out")"
grep -q 'resuming from .*ckpt-0000000030.h5' "$T/dpr.out" && grep -q '^done step 60 on 2 rank(s)' "$T/dpr.out" \
	|| fail "no resume on 2 ranks: $(cat "$T/dpr.out")"
cmp "$T/dp1/model.safetensors" "$T/dpr/model.safetensors" || fail "30 steps on 1 rank + 30 on 2 differ from 60 on 1"
ok "dataparallel: one model.safetensors for P = 1, 2, 4 and for 30 steps on 1 rank resumed on 2 ($(sha256sum <"$T/dp1/model.safetensors" | cut -c1-16))"
# The stop vote: SIGTERM to rank 1 alone (once rank 0 has a checkpoint) of a
# run too long to end first; both ranks stop after the same step, rank 0
# saves it; one process resumes it to 10 steps further, against one process
# that ran those steps without a stop.
mpi 2 ./dataparallel "$T/dpb" 10000000 >"$T/dpb.out" 2>&1 &
mp=$!
i=0
until ls "$T/dpb/checkpoints" 2>/dev/null | grep -q '^ckpt-.*\.h5$' || [ $i -ge 1200 ]; do sleep 0.05; i=$((i + 1)); done
descendants() { for _c in $(pgrep -P "$1"); do echo "$_c"; descendants "$_c"; done; }
rank1="" # a process under mpirun (via the subshell and timeout) with rank 1 in its environment
for c in $(descendants $mp); do
	tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && rank1=$c
done
[ -n "$rank1" ] || { kill $mp; fail "rank 1 of mpirun $mp not found: $(cat "$T/dpb.out")"; }
kill -TERM "$rank1"
wait $mp
grep -q '^done step [0-9]* on 2 rank(s), loss .*, stopped by a signal' "$T/dpb.out" || fail "no stop vote: $(cat "$T/dpb.out")"
at=$(sed -n 's/^done step \([0-9]*\) .*/\1/p' "$T/dpb.out")
[ -e "$T/dpb/checkpoints/$(printf 'ckpt-%010d.h5' "$at")" ] || fail "stopped at $at without its checkpoint"
./dataparallel "$T/dpa" $((at + 10)) >"$T/dpa.out" 2>&1 || fail "dataparallel $((at + 10)): $(cat "$T/dpa.out")"
./dataparallel "$T/dpb" $((at + 10)) >"$T/dpb2.out" 2>&1 || fail "resume after the vote: $(cat "$T/dpb2.out")"
grep -q "resuming from .*$(printf 'ckpt-%010d.h5' "$at")" "$T/dpb2.out" || fail "resume: $(cat "$T/dpb2.out")"
cmp "$T/dpa/model.safetensors" "$T/dpb/model.safetensors" || fail "stopped by SIGTERM on rank 1 and resumed: weights differ"
ok "dataparallel: SIGTERM to rank 1 stopped both ranks at step $at with a checkpoint; resumed on 1 rank: the same bytes"

# serve: a model trained and exported by the installed CLI, requests on stdin
cat > "$T/run.ini" <<'INI'
[model]
layers = 12,16,3
[data]
dataset = synthetic
n_samples = 300
n_features = 12
n_classes = 3
[train]
epochs = 2
INI
"$P/bin/ctrain" train --config "$T/run.ini" --run-dir "$T/r" >/dev/null 2>"$T/r.err" || fail "ctrain train: $(cat "$T/r.err")"
awk 'BEGIN { s = 12345; for (i = 0; i < 40; i++) { line = "";
	for (j = 0; j < 12; j++) { s = (s * 1103515245 + 12345) % 2147483648;
		line = line (j ? "," : "") sprintf("%.5f", s / 2147483648 * 6 - 3) } print line } }' > "$T/x.csv"
"$P/bin/ctrain" predict --model "$T/r" --input "$T/x.csv" -o "$T/pred.csv" 2>"$T/p.err" || fail "predict: $(cat "$T/p.err")"
{ head -3 "$T/x.csv"; echo "1,2,oops"; tail -n +4 "$T/x.csv"; } | ./serve "$T/r/model.safetensors" >"$T/served" 2>"$T/s.err" \
	|| fail "serve: $(cat "$T/s.err")"
grep -q "^error: line 4: expected 12 numbers" "$T/served" || fail "serve did not reject the bad line: $(sed -n 4p "$T/served")"
grep -v '^error' "$T/served" | cut -d, -f1 > "$T/served.cls"
tail -n +2 "$T/pred.csv" | cut -d, -f1 > "$T/pred.cls"
[ "$(wc -l < "$T/served.cls")" -eq 40 ] || fail "serve answered $(wc -l < "$T/served.cls") of 40 requests"
cmp -s "$T/served.cls" "$T/pred.cls" || fail "serve and ctrain predict disagree on classes"
awk -F, '!/^error/ { s = 0; m = 0; for (i = 2; i <= NF; i++) { s += $i; if ($i > $(m + 2)) m = i - 2 }
	if (s < 0.999 || s > 1.001 || m != $1) { print "row " NR ": " $0; exit 1 } }' "$T/served" \
	|| fail "probabilities do not sum to 1 or argmax != class"
ok "serve: 40 answers with the classes of ctrain predict, probabilities sum to 1, a bad line gets an error"
finish
