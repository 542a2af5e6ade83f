#!/bin/sh
# Hostile checkpoints (issue 22, ckpt/README.md "Hostile files"): structure-blind
# mutants of the committed format-1 fixture and of a checkpoint this build
# writes, each with a recomputed trailer so that it reaches libhdf5
# (tests/h5_mutants.py, fixed seeds), go through `ctrain inspect` and
# `ctrain export`, each bounded by a timeout.  Exit 0, 1 or 2 is fine; a
# signal (segmentation fault, abort, sanitizer trap) or a timeout fails.  Then
# the committed reproducers of the crashes and hangs libhdf5 1.10.8 had
# (tests/fixtures/hostile/) must each be refused with exit 1 and a message
# naming the file.
# H5_MUTANTS (default 100 per seed file) and H5_TIMEOUT (seconds, default 20)
# tune the campaign; H5_KEEP=DIR keeps the failing mutants there.
set -u
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")/.." && pwd)
N=${H5_MUTANTS:-100}
TO=${H5_TIMEOUT:-20}

cp "$HERE/fixtures/ckpt_v1/run.ini" "$T/run.ini"
"$CTRAIN" train --config "$T/run.ini" --run-dir "$T/r" --set train.epochs=1 >/dev/null 2>"$T/err" ||
	fail "train: $(cat "$T/err")"
cur=$(ls "$T/r/checkpoints/"ckpt-*.h5 | tail -1)

# run_one FILE: "ok", "hang" or "signal N" for inspect and export of FILE
run_one() {
	for _cmd in inspect export; do
		if [ $_cmd = inspect ]; then
			timeout -k 2 "$TO" "$CTRAIN" inspect "$1" >/dev/null 2>"$T/one.err"
		else
			timeout -k 2 "$TO" "$CTRAIN" export "$1" -o "$T/one.safetensors" >/dev/null 2>"$T/one.err"
		fi
		_rc=$?
		case $_rc in
		0 | 1 | 2) ;;
		124 | 137) echo "hang $_cmd"; return ;;
		*) echo "signal $_cmd $_rc"; return ;;
		esac
	done
	echo ok
}

total=0 bad=0
for src in "$HERE/fixtures/ckpt_v1/run/checkpoints/ckpt-0000000009.h5" "$cur"; do
	rm -rf "$T/m" && mkdir "$T/m"
	/usr/bin/python3 "$HERE/h5_mutants.py" "$src" "$T/m" "$N" 22 || fail "h5_mutants.py"
	for m in "$T/m"/*.h5; do
		total=$((total + 1))
		res=$(run_one "$m")
		[ "$res" = ok ] && continue
		bad=$((bad + 1))
		echo "$NAME: $(basename "$src") $(basename "$m"): $res: $(head -c 300 "$T/one.err")" >&2
		[ -n "${H5_KEEP:-}" ] && cp "$m" "$H5_KEEP/$(basename "$src" .h5)-$(basename "$m")"
	done
done
[ $bad -eq 0 ] || fail "$bad of $total mutants crashed or hung"
ok "$total mutants (fixed seed) of the v1 fixture and a current checkpoint: no crash, no hang"

n=0
for f in "$HERE"/fixtures/hostile/*.h5; do
	[ -e "$f" ] || continue
	n=$((n + 1))
	timeout -k 2 "$TO" "$CTRAIN" inspect "$f" >/dev/null 2>"$T/err"
	rc=$?
	[ $rc -eq 1 ] || fail "inspect $(basename "$f"): exit $rc, expected 1: $(head -c 300 "$T/err")"
	grep -q "$(basename "$f")" "$T/err" || fail "inspect $(basename "$f"): message does not name it: $(cat "$T/err")"
	timeout -k 2 "$TO" "$CTRAIN" export "$f" -o "$T/x.safetensors" >/dev/null 2>"$T/err"
	rc=$?
	[ $rc -eq 1 ] || fail "export $(basename "$f"): exit $rc, expected 1: $(head -c 300 "$T/err")"
done
[ $n -gt 0 ] || fail "no reproducers in tests/fixtures/hostile"
ok "$n committed reproducers of libhdf5 crashes and hangs are refused with exit 1"
finish
