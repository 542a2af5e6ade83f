#!/bin/sh
# Runs every tests/e2e/e2e_*.sh with CTRAIN pointing at the built binary.
build=${1:-build}
CTRAIN=$(cd "$build" && pwd)/ctrain; export CTRAIN
pass=0; fail=0; failed=""
for t in tests/e2e/e2e_*.sh; do
	[ -f "$t" ] || continue
	echo "== $t"
	if sh "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $t"; fi
done
[ -n "$failed" ] && echo "failed end-to-end tests:$failed"
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
