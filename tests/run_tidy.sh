#!/bin/sh
# Runs clang-tidy (checks in .clang-tidy) on the files given after "--",
# two at a time, with the compiler flags given before it; prints the findings
# and one closing line; fails on any finding.
#   tests/run_tidy.sh -std=c11 -D... -I... -- util/err.c nn/ops.c ...
# (`make tidy` calls it with the build's flags.)
flags=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	flags="$flags $1"
	shift
done
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "usage: $0 FLAGS... -- FILES..." >&2; exit 2; }
out=$(mktemp "${TMPDIR:-/tmp}/ctrain-tidy.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
n=$#
# One file per clang-tidy process; $flags is split into words on purpose.
# shellcheck disable=SC2086
printf '%s\n' "$@" | xargs -P2 -I{} clang-tidy --quiet {} -- $flags >"$out" 2>&1
rc=$?
grep -v -E '^[0-9]+ warnings? generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^Error while processing' "$out"
if [ $rc -ne 0 ]; then
	echo "clang-tidy: findings in the files above ($n files checked)"
	exit 1
fi
echo "clang-tidy: $n files clean"
