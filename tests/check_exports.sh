#!/bin/sh
# libctrain.so exports its API and nothing else: every defined dynamic symbol
# starts with ct_ (the library is built with -fvisibility=hidden and the
# declarations in the public headers carry CT_API, util/api.h).  Prints the
# count; fails on any other name, or when nothing is exported.
#     sh tests/check_exports.sh build/libctrain.so
so=${1:-build/libctrain.so}
[ -f "$so" ] || { echo "exports: $so not built (make shared)"; exit 1; }
syms=$(nm -D --defined-only "$so" | awk '{print $NF}' | sort -u) || exit 1
n=$(printf '%s\n' "$syms" | grep -c '^ct_')
bad=$(printf '%s\n' "$syms" | grep -v '^ct_' | grep -v '^$')
if [ -n "$bad" ]; then
	printf '%s\n' "$bad" | sed 's/^/exports: not ct_: /' | head -50
	echo "exports: $(printf '%s\n' "$bad" | wc -l) symbols without the ct_ prefix ($n with it)"
	exit 1
fi
[ "$n" -gt 0 ] || { echo "exports: no ct_ symbol in $so"; exit 1; }
echo "exports: $n symbols, all ct_ ($(nm -D --defined-only "$so" | grep -c ' T ') functions)"
