#!/bin/sh
# End-to-end: results on stdout that cannot be written (a full disk, here
# /dev/full) make the command fail with exit 1 and an error naming stdout,
# instead of exiting 0 with the results lost (cli/main.c checks stdout once,
# at exit).
set -u
. "$(dirname "$0")/lib.sh"
[ -w /dev/full ] || { echo "SKIP $NAME: no /dev/full"; exit 0; }
"$CTRAIN" --version >/dev/full 2>"$T/err"
rc=$?
[ $rc -eq 1 ] || fail "--version > /dev/full: exit $rc, expected 1"
grep -q "^ERROR stdout: write failed: No space left on device" "$T/err" || fail "no error naming stdout: $(cat "$T/err")"
"$CTRAIN" --version >/dev/null 2>"$T/err" || fail "--version > /dev/null failed: $(cat "$T/err")"
[ -s "$T/err" ] && fail "--version > /dev/null wrote to stderr: $(cat "$T/err")"
ok "--version to a full disk: exit 1, ERROR names stdout; to /dev/null: exit 0, silent"

cat > "$T/run.ini" <<'INI'
[model]
layers = 6,8,3
[data]
dataset = synthetic
n_samples = 120
n_features = 6
n_classes = 3
[train]
epochs = 1
INI
"$CTRAIN" train -q --config "$T/run.ini" --run-dir "$T/r" >/dev/null 2>"$T/err" || fail "train: $(cat "$T/err")"
"$CTRAIN" eval --model "$T/r" >/dev/full 2>"$T/err"
rc=$?
[ $rc -eq 1 ] || fail "eval > /dev/full: exit $rc, expected 1"
grep -q "^ERROR stdout: write failed" "$T/err" || fail "eval: no error naming stdout: $(cat "$T/err")"
"$CTRAIN" train --help >/dev/full 2>"$T/err"
[ $? -eq 1 ] || fail "train --help > /dev/full: not exit 1"
ok "eval and train --help to a full disk: exit 1 with the error"
finish
