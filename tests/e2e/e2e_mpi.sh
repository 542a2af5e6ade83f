#!/bin/sh
# The building blocks of data-parallel training (issue 17, dist/) under
# Open MPI's mpirun, with the driver build/tests/dist_check:
# - the shard reduction gives the same bytes (hash of the root node: floats,
#   the loss sum, counters) alone, and on 1, 2, 4 and 8 ranks (oversubscribed);
# - a stop vote by one rank at step 5 stops every rank at step 5;
# - a one-ulp difference in one rank's parameters at step 7 fails the digest
#   check on every rank with a message naming step 7 (exit 1, no hang);
# - without a launcher, neither ctrain nor the driver maps libmpi.
set -u
. "$(dirname "$0")/lib.sh"
B=$(dirname "$CTRAIN")
D=$B/tests/dist_check
[ -x "$D" ] || fail "$D not built"
CTRAIN_MPI_LIB=$B/libctrain_mpi.so; export CTRAIN_MPI_LIB
command -v mpirun >/dev/null || fail "mpirun not installed (make deps)"
# Under make asan, LeakSanitizer is off for the ranks only: Open MPI leaves
# allocations at MPI_Finalize, many from components it has already unloaded
# (frames "<unknown module>", which no suppression can name).  ASan and UBSan
# still check them, and the single-process runs keep leak detection.
mpi() {
	_np=$1
	shift
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 timeout 60 mpirun --allow-run-as-root --oversubscribe --bind-to none --mca plm isolated \
		--mca btl self,vader --mca btl_vader_single_copy_mechanism none -np "$_np" "$@"
}

# 1. no launcher: one process, libmpi not mapped, and ctrain does not link it
out=$("$D" maps) || fail "dist_check maps: $out"
[ "$out" = "maps: size=1 mpi=0 libmpi_mapped=0 launcher=- version=-" ] || fail "without mpirun: $out"
ldd "$CTRAIN" >"$T/ldd" || fail "ldd $CTRAIN failed"
grep -q libmpi "$T/ldd" && fail "ctrain links libmpi: $(ldd "$CTRAIN" | grep mpi)"
ok "no launcher: rank 0 of 1, libmpi neither linked nor loaded"
out=$(mpi 2 "$D" maps) || fail "mpirun dist_check maps: $out"
echo "$out" | grep -q "^maps: size=2 mpi=1 libmpi_mapped=1 launcher=OMPI_COMM_WORLD_SIZE" \
	|| fail "under mpirun -np 2: $out"
ok "under mpirun: $(echo "$out" | sed 's/.*version=//')"

# 2. identical reduced bytes for P = 1 (no MPI), 1, 2, 4, 8 ranks
ref=$("$D" reduce 8 50001 11 | sed 's/ P=[0-9]*//') || fail "reduce alone"
echo "$ref" | grep -q "count=828 leaves=8" || fail "counters: $ref"
for p in 1 2 4 8; do
	got=$(mpi $p "$D" reduce 8 50001 11 2>"$T/err" | sed 's/ P=[0-9]*//') \
		|| fail "reduce on $p ranks: $(cat "$T/err")"
	[ "$got" = "$ref" ] || fail "reduce on $p ranks: $got, alone: $ref"
done
ok "reduce S=8: one hash for P=1 (no MPI) and 1, 2, 4, 8 ranks: $(echo "$ref" | sed 's/.*hash=//')"
# another seed gives another hash (the comparison can fail)
other=$("$D" reduce 8 50001 12 | sed 's/ P=[0-9]*//')
[ "$other" != "$ref" ] || fail "seed 12 gives the same line as seed 11"

# 3. stop agreement: rank 2 of 4 votes at step 5; every rank stops at 5
out=$(mpi 4 "$D" stop 8 50 2 5 2>"$T/err") || fail "stop: $(cat "$T/err")"
[ "$(echo "$out" | grep -c 'stopped_at=5$')" -eq 4 ] || fail "stop: $out"
ok "stop vote of rank 2 at step 5: all 4 ranks stopped at step 5"

# 4. replica digest: agreement passes, a one-ulp change on rank 1 at step 7 fails
out=$(mpi 2 "$D" digest 12 2>"$T/err") || fail "digest: $(cat "$T/err")"
mpi 2 "$D" digest 12 1 7 >"$T/out" 2>"$T/err" && fail "a perturbed replica passed the digest check"
[ "$(grep -c 'step 7: parameter replicas differ across 2 ranks' "$T/err")" -eq 2 ] \
	|| fail "digest mismatch not reported by both ranks at step 7: $(cat "$T/err")"
ok "digest: identical replicas pass; one ulp on rank 1 at step 7 fails on both ranks naming step 7"
finish
