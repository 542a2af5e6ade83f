# Shared helpers for tests/e2e/e2e_*.sh (sourced).  $CTRAIN is the binary under test.
#
# Test-only variables: the one list (CONTRIBUTING.md points here).  The
# library reads none of them; a test interrupts, kills or breaks a run from
# outside it.
#   CTRAIN_TEST_SIGNAL_AT_STEP=N[:SIG]  `ctrain train|resume` raises SIG (default
#       SIGTERM) right after step N.  Read once by the CLI (cli/cli_train.c),
#       which hands the library a trainer_opts.after_step callback.
#   CTRAIN_TEST_PERTURB=RANK:STEP  under mpirun, rank RANK adds 1 to its first
#       parameter after step STEP (cli/cli_train.c, the same callback): the
#       replica digest at the next checkpoint must stop the job.
#   CTRAIN_FAULT_DIR, _MATCH, _AT, _STICKY, _ERRNO, _ACTION, _SHORT, _COUNT,
#   _TRACE, _VERBOSE  tests/faultinject.c (LD_PRELOAD): the N-th I/O operation
#       under DIR (and on a path containing MATCH) fails, or SIGKILLs / signals
#       the process there (any program: ctrain, the examples).
#   CTRAIN_PL_DIR, _JOURNAL, _AT, _WHEN  tests/powerloss.c (LD_PRELOAD):
#       records what each fsync made durable, for tests/powerloss_rebuild.py.
: "${CTRAIN:?set CTRAIN to the ctrain binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/ctrain-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
NAME=$(basename "$0" .sh)
fail() { echo "FAIL $NAME: $*" >&2; exit 1; }
ok() { echo "ok   $NAME: $*"; }
finish() { echo "PASS $NAME"; }
. "$(dirname "$0")/../shim.sh"
# shim NAME: shim_path NAME $T, or the test fails
shim() { shim_path "$1" "$T" || fail "cannot build lib$1.so from tests/$1.c"; }
# metrics.csv without the timing columns (samples_per_sec, elapsed_sec,
# ckpt_sec, found by name in the header) and without those named in
# $STRIP_ALSO (space-separated)
strip_timing() {
	awk -F, -v also="${STRIP_ALSO:-}" 'NR == 1 { n = split("samples_per_sec elapsed_sec ckpt_sec " also, t, " ")
		for (i = 1; i <= NF; i++) for (j = 1; j <= n; j++) if ($i == t[j]) drop[i] = 1 }
		{ o = ""; sep = ""; for (i = 1; i <= NF; i++) if (!drop[i]) { o = o sep $i; sep = "," }; print o }' "$1"
}
same_metrics() { strip_timing "$1" > "$T/m1"; strip_timing "$2" > "$T/m2"; cmp -s "$T/m1" "$T/m2"; }
# interrupted_run CONFIG DIR EXTRA STEP...: `ctrain train --config CONFIG
# --run-dir DIR EXTRA`, then `ctrain resume DIR` once per further STEP, each
# run sent SIGTERM at its STEP by the test hook; every one must exit 143 with
# the interrupt message.  The last stderr is left in DIR.err.
interrupted_run() {
	_cfg=$1 _d=$2 _extra=$3
	shift 3
	_first=1
	for _s in "$@"; do
		if [ $_first -eq 1 ]; then
			_first=0
			CTRAIN_TEST_SIGNAL_AT_STEP=$_s "$CTRAIN" train --config "$_cfg" --run-dir "$_d" $_extra >/dev/null 2>"$_d.err"
		else
			CTRAIN_TEST_SIGNAL_AT_STEP=$_s "$CTRAIN" resume "$_d" >/dev/null 2>"$_d.err"
		fi
		_rc=$?
		[ $_rc -eq 143 ] || fail "$_d: expected exit 143 at step $_s, got $_rc: $(cat "$_d.err")"
		grep -q "interrupted at step $_s; checkpoint saved; resume with: ctrain resume $_d" "$_d.err" \
			|| fail "$_d: no interrupt message: $(cat "$_d.err")"
	done
}
