#!/bin/sh
# What MPI costs a process that does not use it (issue 17, how ctrain runs
# with and without mpirun).  Median wall time of N starts of:
#   plain      a C program with no MPI
#   linked     the same linked with -lmpi (the loader maps libmpi and its
#              dependencies; MPI_Init never called)
#   singleton  MPI_Init + MPI_Finalize without mpirun (Open MPI's singleton)
#   dist       build/tests/dist_check maps: libctrain's comm_init without a
#              launcher (dlopens nothing)
#   mpirun-1   mpirun -np 1 of dist_check maps (dlopen of libctrain_mpi.so +
#              MPI_Init), and of the linked hello with MPI_Init
#     sh experiments/shards/startup.sh [build] [N]
set -eu
B=${1:-build}
N=${2:-20}
W=$(mktemp -d "${TMPDIR:-/tmp}/startup.XXXXXX")
trap 'rm -rf "$W"' EXIT
CTRAIN_MPI_LIB=$(cd "$B" && pwd)/libctrain_mpi.so; export CTRAIN_MPI_LIB
MPI="mpirun --allow-run-as-root --oversubscribe --bind-to none --mca plm isolated --mca btl self,vader --mca btl_vader_single_copy_mechanism none"
printf 'int main(void) { return 0; }\n' > "$W/plain.c"
printf '#include <mpi.h>\nint main(void) { MPI_Init(0, 0); MPI_Finalize(); return 0; }\n' > "$W/init.c"
cc -O2 -o "$W/plain" "$W/plain.c"
mpicc -O2 -Wl,--no-as-needed -o "$W/linked" "$W/plain.c"
mpicc -O2 -o "$W/init" "$W/init.c"
median_ms() { # command...
	i=0
	while [ $i -lt "$N" ]; do
		t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
		echo $(( (t1 - t0) / 1000 ))
		i=$((i + 1))
	done | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f | %.2f", v[1] / 1000, v[int((NR + 1) / 2)] / 1000 }'
}
echo "| start | min ms | median ms (N=$N) | shared libraries (ldd) |"
echo "| --- | ---: | ---: | ---: |"
echo "| plain C program | $(median_ms "$W/plain") | $(ldd "$W/plain" | wc -l) |"
echo "| linked with -lmpi, no MPI_Init | $(median_ms "$W/linked") | $(ldd "$W/linked" | wc -l) |"
echo "| MPI_Init without mpirun (singleton) | $(median_ms "$W/init") | $(ldd "$W/init" | wc -l) |"
echo "| dist_check maps, no launcher (comm_init: nothing loaded) | $(median_ms "$B/tests/dist_check" maps) | $(ldd "$B/tests/dist_check" | wc -l) |"
echo "| ctrain --version | $(median_ms "$B/ctrain" --version) | $(ldd "$B/ctrain" | wc -l) |"
echo "| mpirun -np 1 linked MPI_Init program | $(median_ms $MPI -np 1 "$W/init") | |"
echo "| mpirun -np 1 dist_check maps (dlopen plugin + MPI_Init) | $(median_ms $MPI -np 1 "$B/tests/dist_check" maps) | |"
