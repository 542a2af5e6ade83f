# Shared helpers for tests/e2e_*.sh (sourced).  $CTRAIN is the binary under test.
: "${CTRAIN:?set CTRAIN to the ctrain binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/ctrain-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
NAME=$(basename "$0" .sh)
fail() { echo "FAIL $NAME: $*" >&2; exit 1; }
ok() { echo "ok   $NAME: $*"; }
finish() { echo "PASS $NAME"; }
# metrics.csv without the timing columns (the last two)
strip_timing() { awk -F, 'BEGIN{OFS=","} {NF=NF-2; print}' "$1"; }
same_metrics() { strip_timing "$1" > "$T/m1"; strip_timing "$2" > "$T/m2"; cmp -s "$T/m1" "$T/m2"; }
