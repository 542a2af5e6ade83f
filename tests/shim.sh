# The LD_PRELOAD shims (sourced by tests/e2e/lib.sh and experiments/*.sh; no side
# effects).  shim_path NAME DIR prints the path of libNAME.so built from
# tests/NAME.c (faultinject, powerloss): the one make built beside $CTRAIN,
# else one built here into DIR; returns 1 if it cannot be built.
# The sources are found by walking up from the sourcing script to the tree's top
# (tests/e2e/*.sh and experiments/*.sh both source this file).
SHIM_SRC=${SHIM_SRC:-$(
	cd "$(dirname "$0")" && while [ ! -f tests/shim.sh ] && [ "$(pwd)" != / ]; do cd ..; done
	pwd
)/tests}
shim_path() {
	_so=$(dirname "$CTRAIN")/lib$1.so
	if [ ! -f "$_so" ]; then # not built by make: build it here
		_so=$2/lib$1.so
		${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -fPIC -shared -o "$_so" "$SHIM_SRC/$1.c" \
			-ldl -lpthread >&2 || return 1
	fi
	echo "$_so"
}
