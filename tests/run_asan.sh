#!/bin/sh
# Runs the whole test suite (unit + end-to-end) against a build made with
# -fsanitize=address,undefined (`make asan` builds $1 and calls this).
#
# Every sanitizer report (ASan, UBSan, LeakSanitizer at exit) goes to a file
# under $1/sanitizer/ rather than to stderr, because the end-to-end tests
# redirect the CLI's stderr and a test that expects exit 1 would not notice
# a leak report's exit 1.  The run fails when any test fails or when any
# report was written, and prints the reports.
#
# The LD_PRELOAD shim of the fault tests is not instrumented and comes after
# the ASan runtime (linked statically into every binary), so those tests run
# unchanged; e2e_examples builds the examples with $CC $EXTRA (clang and the
# sanitizer flags, exported by `make asan`).
build=${1:-build-asan}
logs=$(cd "$build" && pwd)/sanitizer
rm -rf "$logs" && mkdir -p "$logs" || exit 1
ASAN_OPTIONS=detect_leaks=1:log_path=$logs/asan:exitcode=99:abort_on_error=0
UBSAN_OPTIONS=print_stacktrace=1:log_path=$logs/ubsan:exitcode=99
export ASAN_OPTIONS UBSAN_OPTIONS

rc=0
sh tests/run_unit.sh "$build" >"$build/unit.log" 2>&1 || rc=1
tail -1 "$build/unit.log"
[ $rc -eq 0 ] || grep -E '^\[  (FAILED|ERROR) |failed test binaries' "$build/unit.log"
sh tests/run_e2e.sh "$build" >"$build/e2e.log" 2>&1 || rc=1
grep -E '^(FAIL|e2e:|failed)' "$build/e2e.log"

n=$(ls "$logs" | wc -l)
if [ "$n" -gt 0 ]; then
	for f in "$logs"/*; do
		echo "== $f"
		head -40 "$f"
	done
	echo "asan: $n sanitizer reports in $logs"
	rc=1
else
	echo "asan: no sanitizer reports (ASan, UBSan, LeakSanitizer)"
fi
exit $rc
