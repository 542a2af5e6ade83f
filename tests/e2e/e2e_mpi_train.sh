#!/bin/sh
# `ctrain train|resume` under mpirun (issue 17): train.shards = 4 on one
# config with dropout, shuffle, Adam and a cosine schedule:
# (a) one process without mpirun, and mpirun -np 1, 2, 4 x train.threads 1, 2:
#     the same model.safetensors bytes and the same metrics rows;
# (b) kill -9 of a random rank at a random instant, and of rank 0 inside a
#     checkpoint write: mpirun exits nonzero without hanging; a resume on
#     another number of processes ends identical to the uninterrupted run;
# (c) SIGTERM to mpirun: every rank stops after the same step, one checkpoint,
#     (each rank exits 143; mpirun reports 1); the resume is identical;
# (d) one rank's parameters perturbed (CTRAIN_TEST_PERTURB): the replica
#     digest at the next checkpoint stops the job, naming the step;
# and 3 processes for train.shards = 4 is a config error naming both; a rank
# on another OpenBLAS core than rank 0 stops the job, naming it.
set -u
. "$(dirname "$0")/lib.sh"
B=$(dirname "$CTRAIN")
CTRAIN_MPI_LIB=$B/libctrain_mpi.so; export CTRAIN_MPI_LIB
command -v mpirun >/dev/null || fail "mpirun not installed (make deps)"
# LeakSanitizer off for the ranks only (see e2e_mpi.sh)
mpi() {
	_np=$1
	shift
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 timeout 90 mpirun --allow-run-as-root --oversubscribe --bind-to none --mca plm isolated \
		--mca btl self,vader --mca btl_vader_single_copy_mechanism none -np "$_np" "$@"
}
cat >"$T/c.ini" <<EOF
[model]
layers = 20,48,32,4
dropout = 0.2
[optim]
name = adam
lr = 0.01
[schedule]
name = cosine
warmup_steps = 5
[data]
dataset = synthetic
n_samples = 2000
n_features = 20
n_classes = 4
batch_size = 60
shuffle = true
[train]
epochs = 3
shards = 4
log_every = 5
[checkpoint]
every_steps = 10
EOF
same_run() { # DIR REF: identical model bytes and metrics rows
	cmp -s "$1/model.safetensors" "$2/model.safetensors" || fail "$1: model.safetensors differs from $2's"
	same_metrics "$1/metrics.csv" "$2/metrics.csv" || fail "$1: metrics rows differ from $2's: $(diff "$T/m1" "$T/m2" | head -5)"
}
# (a) the reference, one process without a launcher
"$CTRAIN" train --config "$T/c.ini" --run-dir "$T/ref" >/dev/null 2>"$T/ref.err" || fail "reference: $(cat "$T/ref.err")"
"$CTRAIN" train --config "$T/c.ini" --run-dir "$T/ref2" --set train.threads=2 >/dev/null 2>"$T/err" || fail "threads 2: $(cat "$T/err")"
same_run "$T/ref2" "$T/ref"
for p in 1 2 4; do
	for t in 1 2; do
		mpi $p "$CTRAIN" train --config "$T/c.ini" --run-dir "$T/p$p-t$t" --set train.threads=$t \
			>"$T/out" 2>"$T/err" || fail "-np $p threads $t: $(cat "$T/err")"
		same_run "$T/p$p-t$t" "$T/ref"
	done
done
grep -q "INFO 4 processes (.*), train.shards = 4: 1 shard(s) and 15 rows of each batch of 60 per process" "$T/err" \
	|| fail "-np 4: no INFO line with P, S and the rows per process: $(cat "$T/err")"
[ "$(grep -c '^done ' "$T/out")" -eq 1 ] || fail "-np 4: not exactly one summary line (rank 0's): $(cat "$T/out")"
ok "S=4: one process and mpirun -np 1, 2, 4 x threads 1, 2 give the same model bytes and metrics rows"

# 3 processes do not divide 4 shards
mpi 3 "$CTRAIN" train --config "$T/c.ini" --run-dir "$T/p3" >/dev/null 2>"$T/err" && fail "-np 3 with 4 shards ran"
grep -q "3 processes do not divide train.shards = 4" "$T/err" || fail "-np 3: $(cat "$T/err")"
ok "-np 3 for train.shards = 4: a config error naming both"
# a rank on another OpenBLAS core (MPMD: each rank its OPENBLAS_CORETYPE) is named
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 timeout 90 mpirun --allow-run-as-root --oversubscribe --bind-to none --mca plm isolated \
	--mca btl self,vader --mca btl_vader_single_copy_mechanism none \
	-np 1 -x OPENBLAS_CORETYPE=Sandybridge "$CTRAIN" train --config "$T/c.ini" --run-dir "$T/core" : \
	-np 1 -x OPENBLAS_CORETYPE=Nehalem "$CTRAIN" train --config "$T/c.ini" --run-dir "$T/core" >/dev/null 2>"$T/err" \
	&& fail "ranks on two OpenBLAS cores ran"
grep -q "rank 1 runs OpenBLAS core Nehalem but rank 0 runs Sandybridge" "$T/err" || fail "two cores: $(cat "$T/err")"
ok "rank 1 on another OpenBLAS core than rank 0: the job stops naming rank 1"

# (b) kill -9 of a random rank at a random instant, then resume on another
# P; a longer run of a wider model (40 epochs, 1080 steps, about 1 s alone on
# an idle machine, so that the kill lands inside it), its own single-process
# reference
sed 's/^epochs = 3/epochs = 40/; s/^layers = 20,48,32,4/layers = 20,256,256,4/' "$T/c.ini" >"$T/long.ini"
grep -q '^layers = 20,256,256,4' "$T/long.ini" || fail "long.ini: the layers line was not replaced"
"$CTRAIN" train --config "$T/long.ini" --run-dir "$T/refl" >/dev/null 2>"$T/err" || fail "long reference: $(cat "$T/err")"
ranks_of() { # the rank processes of the run in DIR $1 (their command line starts with $CTRAIN)
	pgrep -f "^$CTRAIN train --config $T/long.ini --run-dir $1\$"
}
seed=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
for round in 1 2; do
	d=$T/kill$round
	np=$((2 * round))
	mpi $np "$CTRAIN" train --config "$T/long.ini" --run-dir "$d" >/dev/null 2>"$d.err" &
	job=$!
	# wait for the first checkpoint (any: retention removes ckpt 10 once ckpt
	# 40 exists), then a random 0-400 ms
	i=0
	while ! ls "$d"/checkpoints/ckpt-*.h5 >/dev/null 2>&1 && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
	sleep "0.$(((seed + round * 7919) % 4))$(((seed / 10 + round) % 10))"
	ranks=$(ranks_of "$d" | tr '\n' ' ')
	victim=$(echo $ranks | awk -v r=$(((seed + round) % np)) '{ print $(r + 1) }')
	[ -n "$victim" ] && kill -9 "$victim" 2>/dev/null
	wait $job
	rc=$?
	[ -n "$victim" ] || fail "kill -9: no rank process of $d found (the run ended before the kill)"
	[ $rc -ne 0 ] || fail "kill -9 of rank pid $victim: mpirun exited 0"
	[ $rc -ne 124 ] || fail "kill -9 of a rank: mpirun hung (timeout)"
	# mpirun may return while Open MPI still ends a surviving rank (SIGTERM,
	# then SIGKILL after odls_base_sigkill_timeout = 1 s); the run directory's
	# lock refuses a resume until then
	for pid in $ranks; do
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -0 "$pid" 2>/dev/null && fail "rank pid $pid still alive 10 s after mpirun exited"
	done
	np2=$((np == 2 ? 4 : 1))
	if [ $np2 -eq 1 ]; then
		"$CTRAIN" resume "$d" >/dev/null 2>"$d.err2" || fail "resume alone after kill -9: $(cat "$d.err2")"
	else
		mpi $np2 "$CTRAIN" resume "$d" >/dev/null 2>"$d.err2" || fail "-np $np2 resume after kill -9: $(cat "$d.err2")"
	fi
	same_run "$d" "$T/refl"
	ok "kill -9 of one of $np ranks (exit $rc), resumed on $np2: identical to the single-process run"
done
# rank 0 killed inside the write of checkpoint 20 (its 2nd operation)
d=$T/killw
FI=$(shim faultinject)
mkdir -p "$d"
LD_PRELOAD=$FI CTRAIN_FAULT_DIR=$d CTRAIN_FAULT_MATCH=ckpt-0000000020 CTRAIN_FAULT_AT=2 \
	CTRAIN_FAULT_ACTION=kill-before mpi 2 "$CTRAIN" train --config "$T/c.ini" --run-dir "$d" >/dev/null 2>"$d.err"
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "rank 0 killed in a checkpoint write: mpirun exit $rc"
[ -e "$d/checkpoints/ckpt-0000000020.h5" ] && fail "checkpoint 20 exists although its write was killed"
mpi 4 "$CTRAIN" resume "$d" >/dev/null 2>"$d.err2" || fail "-np 4 resume after the killed write: $(cat "$d.err2")"
grep -q "resuming from .*ckpt-0000000010.h5" "$d.err2" || fail "did not resume from step 10: $(cat "$d.err2")"
same_run "$d" "$T/ref"
ok "rank 0 killed inside a checkpoint write (mpirun exit $rc), resumed on 4 from step 10: identical"

# (c) SIGTERM to mpirun right after the first checkpoint: every rank stops
# after the same step, one checkpoint.  mpirun takes about 1.1 s (more under
# load) to pass SIGTERM on, so this run must last well beyond that after its
# first checkpoint: 120 epochs (3600 steps) of a wider model, about 3.4 s alone
# on an idle machine (the test model's 60 epochs took 0.55 s and ended before
# mpirun passed the signal on); mpirun is started directly so that $! is its
# pid (a watchdog ends a hung job)
sed 's/^epochs = 3/epochs = 120/; s/^layers = 20,48,32,4/layers = 20,256,256,4/' "$T/c.ini" >"$T/term.ini"
grep -q '^layers = 20,256,256,4' "$T/term.ini" || fail "term.ini: the layers line was not replaced"
"$CTRAIN" train --config "$T/term.ini" --run-dir "$T/reft" >/dev/null 2>"$T/err" || fail "reference of 120 epochs: $(cat "$T/err")"
d=$T/term
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 mpirun --allow-run-as-root --oversubscribe --bind-to none --mca plm isolated \
	--mca btl self,vader --mca btl_vader_single_copy_mechanism none -np 2 \
	"$CTRAIN" train --config "$T/term.ini" --run-dir "$d" >/dev/null 2>"$d.err" &
mp=$!
(sleep 90 && kill -9 $mp) 2>/dev/null &
dog=$!
i=0
# any checkpoint (retention removes ckpt 10 once ckpt 40 exists: waiting for
# that one file missed it on an idle machine and the run went to its end)
while ! ls "$d"/checkpoints/ckpt-*.h5 >/dev/null 2>&1 && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -TERM $mp
wait $mp
rc=$?
kill $dog 2>/dev/null
# every rank exits 143; Open MPI's mpirun itself reports 1 for a job it was told to end
[ $rc -ne 0 ] && [ $rc -ne 137 ] || fail "SIGTERM to mpirun: exit $rc: $(cat "$d.err")"
[ -e "$d/model.safetensors" ] && fail "SIGTERM to mpirun: the run went on to the end"
[ "$(grep -c 'interrupted at step' "$d.err")" -eq 1 ] || fail "SIGTERM: not one interrupt line: $(cat "$d.err")"
step=$(sed -n 's/.*interrupted at step \([0-9]*\);.*/\1/p' "$d.err")
[ -e "$d/checkpoints/ckpt-$(printf %010d "$step").h5" ] || fail "no checkpoint at step $step"
"$CTRAIN" resume "$d" >/dev/null 2>"$d.err2" || fail "resume after SIGTERM: $(cat "$d.err2")"
same_run "$d" "$T/reft"
ok "SIGTERM to mpirun: stopped at step $step with one checkpoint (mpirun exit $rc); resumed by one process: identical"

# (d) one rank's parameters perturbed after step 7: the checkpoint at 10 stops the job
d=$T/perturb
CTRAIN_TEST_PERTURB=1:7 mpi 2 "$CTRAIN" train --config "$T/c.ini" --run-dir "$d" >/dev/null 2>"$d.err"
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "perturbed replica: mpirun exit $rc"
grep -q "step 10: parameter replicas differ across 2 ranks" "$d.err" || fail "perturbed replica: $(cat "$d.err")"
[ -e "$d/checkpoints/ckpt-0000000010.h5" ] && fail "a checkpoint of differing replicas was written"
ok "one rank perturbed after step 7: the digest check stops the job at step 10 (exit $rc)"
finish
