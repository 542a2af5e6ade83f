#!/bin/sh
# The price of shards, ranks vs threads, the exchange and the tree (issue 17);
# raw lines in experiments/results/scaling_raw.jsonl, tables by report.py,
# the figure by plot.sh.
#     sh experiments/shards/run.sh [build]        # about 10 minutes
# Three rounds, each measuring every configuration once, side by side, so
# that the load of a shared machine hits all of them alike (each line records
# the 1-minute load average and its round; the tables take medians over the
# rounds):
#  (a) P = 1, 1 thread: today's step (S = 0) and S = 1, 2, 4, 8 for two
#      models at batch 32, 128, 512;
#  (b) 784-1024-1024-10 at batch 128 and 512, S = 2, 4, 8: 1 rank x 2
#      threads vs 2 ranks x 1 thread (mpirun), the ranks busy-polling while
#      they wait (Open MPI's default) or yielding the CPU
#      (--mca mpi_yield_when_idle 1);
#  (c) the exchange alone on 2 ranks, and the tree alone (bench_tree).
# OPENBLAS_NUM_THREADS=1: ctrain's deterministic kernels run OpenBLAS
# single-threaded on their own pool.
set -eu
B=${1:-build}
X=$B/bench/bench_shards
TR=$B/bench/bench_tree
OUT=experiments/results/scaling_raw.jsonl
SEC=${SEC:-0.4}
ROUNDS=${ROUNDS:-3}
OPENBLAS_NUM_THREADS=1; export OPENBLAS_NUM_THREADS
CTRAIN_MPI_LIB=$(cd "$B" && pwd)/libctrain_mpi.so; export CTRAIN_MPI_LIB
MPI="mpirun --allow-run-as-root --oversubscribe --bind-to none --mca plm isolated --mca btl self,vader --mca btl_vader_single_copy_mechanism none"
# Appends the load average, the round and the BLAS thread setting to each line.
tag() {
	_l=$(cut -d' ' -f1 /proc/loadavg)
	sed "s/}\$/,\"load1\":$_l,\"round\":$round,\"openblas_num_threads\":$OPENBLAS_NUM_THREADS${1:-}}/" | tee -a "$OUT"
}
: > "$OUT"
round=0
echo "{\"kind\":\"machine\",\"nproc\":$(nproc),\"cpu\":\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)\",\"uptime\":\"$(uptime | sed 's/.*load/load/')\",\"mpirun\":\"$(mpirun --version | head -1)\"}" | tag
for round in $(seq 1 "$ROUNDS"); do
	for layers in 784,256,10 784,1024,1024,10; do
		for batch in 32 128 512; do
			for s in 0 1 2 4 8; do
				"$X" $layers $batch $s 1 "$SEC" | tag
			done
		done
	done
	for batch in 128 512; do
		for s in 2 4 8; do
			"$X" 784,1024,1024,10 $batch $s 2 "$SEC" | tag
			$MPI -np 2 "$X" 784,1024,1024,10 $batch $s 1 "$SEC" | tag
			$MPI --mca mpi_yield_when_idle 1 -np 2 "$X" 784,1024,1024,10 $batch $s 1 "$SEC" \
				| tag ',"mpi_yield_when_idle":1'
		done
	done
	for layers in 784,256,10 784,1024,1024,10; do
		$MPI -np 2 "$X" $layers 512 -1 1 | tag
	done
	"$TR" 203530 784,256,10 | tag
	"$TR" 1863690 784,1024,1024,10 | tag
done
