#!/bin/sh
# The price of shards and of the exchange (issue 17); results in
# experiments/results/scaling_raw.jsonl, summarised by hand in scaling.md.
#     sh experiments/shards/run.sh [build]        # about 5 minutes
# P = 1: today's step (S = 0) and S = 1, 2, 4, 8 for two models at batch
# 32, 128, 512, 1 thread.  Then, for 784-1024-1024-10 at batch 512, S = 2 and
# 4: 1 rank x 2 threads vs 2 ranks x 1 thread (mpirun), with the exchange's
# share of the step.  OPENBLAS_NUM_THREADS=1 (ctrain's deterministic kernels
# run OpenBLAS single-threaded on their own pool).
set -eu
B=${1:-build}
X=$B/bench/bench_shards
OUT=experiments/results/scaling_raw.jsonl
SEC=${SEC:-0.4}
OPENBLAS_NUM_THREADS=1; export OPENBLAS_NUM_THREADS
CTRAIN_MPI_LIB=$(cd "$B" && pwd)/libctrain_mpi.so; export CTRAIN_MPI_LIB
MPI="mpirun --allow-run-as-root --oversubscribe --bind-to none --mca plm isolated --mca btl self,vader --mca btl_vader_single_copy_mechanism none"
: > "$OUT"
for round in 1 2; do # two rounds: the machine is shared, the spread shows the noise
	for layers in 784,256,10 784,1024,1024,10; do
		for batch in 32 128 512; do
			for s in 0 1 2 4 8; do
				"$X" $layers $batch $s 1 "$SEC" | tee -a "$OUT"
			done
		done
	done
done
for s in 2 4; do
	"$X" 784,1024,1024,10 512 $s 2 "$SEC" | tee -a "$OUT"
	$MPI -np 2 "$X" 784,1024,1024,10 512 $s 1 "$SEC" | tee -a "$OUT"
done
for layers in 784,256,10 784,1024,1024,10; do
	$MPI -np 2 "$X" $layers 512 -1 1 | tee -a "$OUT"
done
