#!/bin/sh
# The set-up path of the Makefile on a machine where none of its Debian
# packages is installed yet (issue 15): `make demo`, `make bench` and
# `make test` install them (`make deps`) and then build, reading the
# pkg-config flags only after the install; plain `make` and `make install`
# stop with one line saying what to run, never with a compiler error.
#
# Simulated, never installing or removing anything: the repository's Makefile,
# copied unchanged into a small source tree whose files include every
# library's header (hdf5.h is found only through pkg-config's -I) and call into
# each library (so the link needs pkg-config's --libs), with the test runners
# and the demo and benchmark scripts replaced by stubs that record their calls.
# PATH starts with stand-ins: `dpkg-query` reports every package missing and
# `pkg-config` behaves as not installed until the stand-in `apt-get install`
# has run (it only writes a marker file and logs its arguments; anything but
# update/install is refused); from then on dpkg-query reports "install ok
# installed" and pkg-config is the real one.  The compilers, cppcheck and
# clang-format are the real ones.
set -u
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REAL_PKGCONFIG=$(command -v pkg-config) || fail "pkg-config missing: run make deps"
# make's variables and the asan run's CC, EXTRA, LDFLAGS and sanitizer options (its
# report directory) must not leak into the small tree's builds
unset CC OPT EXTRA LDFLAGS BUILD MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES PREFIX DESTDIR \
	ASAN_OPTIONS UBSAN_OPTIONS
# The stand-ins only catch commands called by name: an absolute path would reach the real ones.
grep -nE '(/|sudo +)(apt-get|apt|dpkg-query|dpkg|pkg-config)( |$)' "$ROOT/Makefile" \
	&& fail "the Makefile calls a package tool by path or through sudo: the stand-ins cannot stand in"

S=$T/bin
mkdir -p "$S"
cat >"$S/apt-get" <<EOF
#!/bin/sh
echo "apt-get \$*" >>"$T/apt.log"
case "\$1" in
update) exit 0 ;;
install) : >"$T/installed"; exit 0 ;;
*) echo "stand-in apt-get: refusing \$1" >&2; exit 1 ;;
esac
EOF
cat >"$S/dpkg-query" <<EOF
#!/bin/sh
pkg=""; for a in "\$@"; do pkg=\$a; done
if [ -f "$T/installed" ]; then printf 'install ok installed'; exit 0; fi
echo "dpkg-query: no packages found matching \$pkg" >&2
exit 1
EOF
cat >"$S/pkg-config" <<EOF
#!/bin/sh
[ -f "$T/installed" ] && exec "$REAL_PKGCONFIG" "\$@"
echo "sh: 1: pkg-config: not found" >&2
exit 127
EOF
chmod +x "$S/apt-get" "$S/dpkg-query" "$S/pkg-config"

# The small source tree, in the layout the Makefile finds by directory.
W=$T/src
mkdir -p "$W/util" "$W/formats" "$W/nn" "$W/data" "$W/ckpt" "$W/train" "$W/cli" "$W/include" \
	"$W/tests/unit" "$W/tests/fuzz" "$W/examples" "$W/experiments/bench"
cp "$ROOT/Makefile" "$ROOT/.clang-format" "$W/"
cat >"$W/util/probe.h" <<'EOF'
/* probe.h: one call into every library the build links. */
#ifndef PROBE_H
#define PROBE_H
int probe_libs(void);
#endif
EOF
cat >"$W/util/probe.c" <<'EOF'
#include "probe.h"

#include <cblas.h>
#include <hdf5.h>
#include <jansson.h>
#include <zip.h>
#include <zlib.h>

int probe_libs(void)
{
	float a[2] = {1.0f, 2.0f};
	json_t *j = json_integer(3);
	int ok = j != NULL && H5open() >= 0 && zlibVersion()[0] != '\0' &&
		 zip_libzip_version()[0] != '\0' && cblas_sdot(2, a, 1, a, 1) == 5.0f;
	json_decref(j);
	return ok ? 0 : -1;
}
EOF
cat >"$W/cli/main.c" <<'EOF'
#include <stdio.h>

#include "../util/probe.h"

int main(void)
{
	if (probe_libs() < 0)
		return 1;
	return puts("stand-in ctrain: linked and ran") < 0;
}
EOF
cat >"$W/include/ctrain.h" <<'EOF'
#include "ctrain/util/probe.h"
EOF
cat >"$W/examples/ex.c" <<'EOF'
#include <ctrain.h>

int main(void) { return probe_libs() < 0; }
EOF
cat >"$W/tests/unit/test_probe.c" <<'EOF'
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../util/probe.h"

static void test_libs(void **state)
{
	(void)state;
	assert_int_equal(probe_libs(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_libs)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
EOF
# The LD_PRELOAD shims the Makefile builds by name (faultinject, powerloss).
for shim in faultinject powerloss; do
	printf 'int %s_probe(void);\nint %s_probe(void) { return 0; }\n' "$shim" "$shim" \
		>"$W/tests/$shim.c"
done
cat >"$W/tests/fuzz/fuzz_none.c" <<'EOF'
int fuzz_none(void);
int fuzz_none(void) { return 0; }
EOF
# The MPI plugin, the dist/ driver and the shards benchmarks built by name.
mkdir -p "$W/dist/mpi" "$W/experiments/shards"
printf '#ifndef COMM_PLUGIN_H\n#define COMM_PLUGIN_H\n#endif\n' >"$W/dist/comm_plugin.h"
printf 'int plugin_probe(void);\nint plugin_probe(void) { return 0; }\n' >"$W/dist/mpi/plugin.c"
for m in tests/dist_check.c experiments/shards/bench_shards.c experiments/shards/bench_tree.c; do
	printf '#include "%s/util/probe.h"\n\nint main(void) { return probe_libs() < 0; }\n' \
		"$(echo "$m" | sed 's|[^/]*/|../|g; s|/[^/]*$||')" >"$W/$m"
done
cat >"$W/experiments/bench/bench.h" <<'EOF'
#include "../../util/probe.h"
EOF
cat >"$W/experiments/bench/bench_step.c" <<'EOF'
#include "bench.h"

int main(void) { return probe_libs() < 0; }
EOF
# stubs: each logs its name and arguments and runs what the build made
for s in tests/run_unit.sh:'"$1"/tests/test_probe' tests/run_e2e.sh:'"$1"/ctrain' \
	tests/run_asan.sh:'"$1"/ctrain' tests/run_tidy.sh:true tests/check_layers.sh:true \
	tests/check_exports.sh:'test -f "$1"' experiments/demo.sh:'"$1"' \
	experiments/bench/run.sh:'"$1"'; do
	printf '#!/bin/sh\necho "stub %s $*" >>"%s"\n%s >/dev/null || exit 1\n' \
		"${s%%:*}" "$T/stub.log" "${s#*:}" >"$W/${s%%:*}"
done
clang-format -i "$W"/util/*.[ch] "$W"/cli/*.c "$W"/include/*.h "$W"/tests/*.c "$W"/tests/unit/*.c \
	"$W"/tests/fuzz/*.c "$W"/examples/*.c || fail "clang-format of the tree"

# fresh_make GOAL...: make in the tree on a "fresh machine" (no package, no
# build); its exit status in $rc, stdout+stderr in $T/out.
fresh_make() {
	rm -rf "$W/build" "$W/build-asan" "$T/installed" "$T/apt.log" "$T/stub.log" "$T/inst"
	(cd "$W" && PATH="$S:$PATH" make "$@") >"$T/out" 2>&1
	rc=$?
}
no_header_error() {
	grep -qE 'No such file or directory|fatal error|undefined reference' "$T/out" \
		&& fail "$1: a compiler or linker error: $(grep -m3 -E 'error|undefined' "$T/out")"
	return 0
}

for goal in "" install; do
	fresh_make $goal PREFIX="$T/inst"
	name="make${goal:+ $goal}"
	[ $rc -ne 0 ] || fail "$name on a fresh machine succeeded without the packages"
	no_header_error "$name"
	[ "$(wc -l <"$T/out")" -eq 1 ] || fail "$name: not one line: $(cat "$T/out")"
	grep -q 'make deps' "$T/out" || fail "$name does not say to run make deps: $(cat "$T/out")"
	[ ! -e "$T/apt.log" ] || fail "$name called apt-get: $(cat "$T/apt.log")"
	[ ! -e "$W/build" ] || fail "$name started building"
done
ok "plain make and make install stop with one line: $(cat "$T/out")"

installed_then() { # GOAL STUB: apt-get ran once before the build, then STUB ran
	grep -q '^apt-get install -y -qq .*libhdf5-dev.*python3-torch' "$T/apt.log" \
		|| fail "make $1 did not install the packages: $(cat "$T/apt.log" 2>/dev/null)"
	grep -q "^stub $2 " "$T/stub.log" || fail "make $1 did not run $2: $(cat "$T/out")"
}
fresh_make demo
no_header_error "make demo"
[ $rc -eq 0 ] || fail "make demo on a fresh machine: exit $rc: $(tail -5 "$T/out")"
installed_then demo experiments/demo.sh
ok "make demo installs, then builds with pkg-config's flags and runs the demo"

fresh_make bench
no_header_error "make bench"
[ $rc -eq 0 ] || fail "make bench on a fresh machine: exit $rc: $(tail -5 "$T/out")"
installed_then bench experiments/bench/run.sh
ok "make bench installs, then builds and runs the benchmark"

fresh_make test
no_header_error "make test"
[ $rc -eq 0 ] || fail "make test on a fresh machine: exit $rc: $(tail -5 "$T/out")"
installed_then test tests/run_asan.sh
for s in tests/run_tidy.sh tests/run_unit.sh tests/run_e2e.sh; do
	grep -q "^stub $s " "$T/stub.log" || fail "make test did not run $s: $(cat "$T/stub.log")"
done
hdf5_inc=$("$REAL_PKGCONFIG" --cflags-only-I hdf5-serial | cut -d' ' -f1)
[ -n "$hdf5_inc" ] || fail "real pkg-config gives no -I for hdf5-serial"
grep "^stub tests/run_tidy.sh " "$T/stub.log" | grep -qF -- "$hdf5_inc" \
	|| fail "clang-tidy was not given pkg-config's flags ($hdf5_inc): $(cat "$T/stub.log")"
ok "make test installs, then check (tidy with $hdf5_inc), unit, e2e and asan"

# once installed: make builds, and make deps asks dpkg only (no apt-get)
rm -f "$T/apt.log"
(cd "$W" && PATH="$S:$PATH" make deps all) >"$T/out" 2>&1 || fail "make after the set-up: $(tail -5 "$T/out")"
[ ! -e "$T/apt.log" ] || fail "make deps with everything installed called apt-get: $(cat "$T/apt.log")"
[ -x "$W/build/ctrain" ] || fail "make after the set-up built no ctrain"
ok "with the packages installed, make builds and make deps installs nothing"
finish
