#!/bin/sh
# End-to-end: a run directory interrupted at step 9 of 18 by a format_version 1
# ctrain (tests/fixtures/ckpt_v1/run, committed; see its README) resumes with
# today's ctrain and ends with the weights and metrics of the uninterrupted
# version-1 run (tests/fixtures/ckpt_v1/expected).  The run pinned OpenBLAS's
# Prescott kernel (SSE3, any x86-64), so resume re-selects it and the bytes are
# the same on any machine; a CPU that cannot run it gets a WARN and only the
# byte comparison is skipped.
set -u
. "$(dirname "$0")/lib.sh"
FIX=$(cd "$(dirname "$0")/../fixtures/ckpt_v1" && pwd)
CK=checkpoints/ckpt-0000000009.h5

# The fixture is history: it must be the file version 1 wrote.
sha=$(sha256sum "$FIX/run/$CK" | cut -d' ' -f1)
grep -q "$sha" "$FIX/README.md" || fail "$FIX/run/$CK changed (sha256 $sha is not in its README)"

"$CTRAIN" inspect "$FIX/run/$CK" >"$T/inspect" 2>"$T/err" || fail "inspect: $(cat "$T/err")"
grep -q "valid ctrain checkpoint (checksum ok), step 9, epoch 2, ctrain 0.1.0, OpenBLAS core Prescott" \
	"$T/inspect" || fail "inspect summary: $(head -1 "$T/inspect")"
grep -q "layers.1.bias .*F32 .*\[3\] .*min -0.07196 max 0.2886 mean 0.137" "$T/inspect" ||
	fail "inspect values: $(cat "$T/inspect")"
ok "the version-1 checkpoint verifies and reads: step 9, epoch 2, Prescott, layers.1.bias values"

cp -R "$FIX/run" "$T/run"
"$CTRAIN" resume "$T/run" >/dev/null 2>"$T/err" || fail "resume: $(cat "$T/err")"
# the fixture predates grad_norm (its resumed rows have it, its old ones are empty)
STRIP_ALSO=grad_norm same_metrics "$FIX/expected/metrics.csv" "$T/run/metrics.csv" ||
	fail "metrics differ from the uninterrupted run: $(diff "$T/m1" "$T/m2" | head -5)"
# its 8-column metrics.csv is upgraded: the new header, old rows padded with two empty cells
[ "$(head -1 "$T/run/metrics.csv")" = "step,epoch,loss,lr,val_loss,val_accuracy,samples_per_sec,elapsed_sec,grad_norm,ckpt_sec" ] \
	|| fail "metrics.csv header not upgraded: $(head -1 "$T/run/metrics.csv")"
n_old=$(($(wc -l < "$FIX/run/metrics.csv") - 1))
[ "$(sed -n "2,$((n_old + 1))p" "$T/run/metrics.csv" | grep -c ',,$')" -eq "$n_old" ] \
	|| fail "the $n_old old rows must end with two empty cells: $(cat "$T/run/metrics.csv")"
awk -F, 'NF != 10 { exit 1 }' "$T/run/metrics.csv" || fail "upgraded metrics.csv: not 10 cells per row"
if grep -q "^WARN .*Prescott" "$T/err"; then
	echo "note $NAME: this CPU cannot run the Prescott kernel: byte comparison skipped"
else
	cmp "$FIX/expected/model.safetensors" "$T/run/model.safetensors" ||
		fail "resumed weights differ from the uninterrupted version-1 run"
fi
cmp -s "$FIX/run/$CK" "$T/run/$CK" 2>/dev/null || [ ! -e "$T/run/$CK" ] ||
	fail "resume modified the old checkpoint"
ok "resumed to step 18: model.safetensors and metrics.csv equal the uninterrupted version-1 run"
finish
