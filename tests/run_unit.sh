#!/bin/sh
# Runs every cmocka test binary in $1/tests and prints one closing line.
build=${1:-build}
pass=0; fail=0; failed=""
for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	case "$t" in *.d) continue ;; esac
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $(basename "$t")"; fi
done
[ -n "$failed" ] && echo "failed test binaries:$failed"
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
