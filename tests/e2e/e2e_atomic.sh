#!/bin/sh
# End-to-end: the two write results of the atomic writer (util/atomic.c) that
# tests/e2e/e2e_faults.sh does not produce, injected by tests/faultinject.c at the
# first write of a checkpoint's temporary file:
#   EINTR: the write is retried; the run ends exit 0 with the bytes of an
#     uninterrupted run (a checkpoint of the same step is on disk);
#   a write that returns 0 (writes nothing): taken as a full disk, exit 1 with
#     "write of temporary file failed: No space left on device" naming the
#     checkpoint, no temporary file left, and `ctrain resume` ends identical.
set -u
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then TMPDIR=/dev/shm; export TMPDIR; fi
. "$(dirname "$0")/lib.sh"

SHIM=$(shim faultinject) || exit 1
cat > "$T/f.ini" <<'INI'
[model]
layers = 8,16,3
[optim]
name = adam
lr = 0.01
[data]
dataset = synthetic
n_samples = 200
n_features = 8
n_classes = 3
batch_size = 40
[train]
epochs = 2
seed = 5
log_every = 1
[checkpoint]
every_steps = 3
INI
ck=$(printf 'ckpt-%010d.h5' 6)

"$CTRAIN" train --config "$T/f.ini" --run-dir "$T/ref" >/dev/null 2>&1 || fail "reference run failed"
mkdir "$T/trace"
CTRAIN_FAULT_DIR=$T/trace CTRAIN_FAULT_TRACE=$T/tr LD_PRELOAD=$SHIM \
	"$CTRAIN" train --config "$T/f.ini" --run-dir "$T/trace" --set checkpoint.async=false >/dev/null 2>&1 ||
	fail "traced run failed"
n=$(awk -v c="/.tmp-$ck-" '$3 == "write" && index($4, c) { print $1; exit }' "$T/tr")
[ -n "$n" ] || fail "no write of $ck's temporary file in the trace: $(head -20 "$T/tr")"

mkdir "$T/eintr"
CTRAIN_FAULT_DIR=$T/eintr CTRAIN_FAULT_AT=$n CTRAIN_FAULT_ERRNO=4 LD_PRELOAD=$SHIM \
	"$CTRAIN" train --config "$T/f.ini" --run-dir "$T/eintr" --set checkpoint.async=false \
	>/dev/null 2>"$T/err" || fail "EINTR at op $n: $(cat "$T/err")"
[ -f "$T/eintr/checkpoints/$ck" ] || fail "EINTR: $ck not written: $(ls "$T/eintr/checkpoints")"
cmp -s "$T/ref/model.safetensors" "$T/eintr/model.safetensors" || fail "EINTR: weights differ"
ok "EINTR on the write of $ck (op $n): retried, exit 0, identical weights"

mkdir "$T/zero"
CTRAIN_FAULT_DIR=$T/zero CTRAIN_FAULT_AT=$n CTRAIN_FAULT_ACTION=zero LD_PRELOAD=$SHIM \
	"$CTRAIN" train --config "$T/f.ini" --run-dir "$T/zero" --set checkpoint.async=false \
	>/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 1 ] || fail "zero-byte write: exit $rc, expected 1: $(cat "$T/err")"
grep -q "^ERROR $T/zero/checkpoints/$ck: write of temporary file failed: No space left on device\$" "$T/err" ||
	fail "zero-byte write: $(cat "$T/err")"
ls -a "$T/zero/checkpoints" | grep -q '^\.tmp-' && fail "temporary file left: $(ls -a "$T/zero/checkpoints")"
"$CTRAIN" resume "$T/zero" >/dev/null 2>"$T/err" || fail "resume after the zero-byte write: $(cat "$T/err")"
cmp -s "$T/ref/model.safetensors" "$T/zero/model.safetensors" || fail "zero-byte write + resume: weights differ"
ok "a write that writes nothing: exit 1 naming $ck and ENOSPC, no temporary file, resume identical"
finish
