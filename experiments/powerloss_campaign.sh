#!/bin/sh
# powerloss_campaign.sh — tests/e2e/e2e_powerloss.sh at full size: a power loss at
# every fsync of larger runs, stopped before and after each fsync, sync and
# async checkpoints, three rebuilt states per point (see the test's header and
# tests/powerloss.c for the model).
#
#   CTRAIN=build/ctrain sh experiments/powerloss_campaign.sh
#
# Runs: "suite", the run of tests/e2e/e2e_crash.sh (16 steps, a checkpoint every
# 3, keep_last 2, dropout: about 31 fsyncs); "crash", the run of
# experiments/crash_campaign.sh (300k parameters, AdamW, cosine schedule,
# 84 steps, a 3.6 MB checkpoint every 3 steps, keep_last 3: about 115 fsyncs).
# Prints one line per (run, before|after) with the counts of the test and
# exits 1 if any state lost a completed checkpoint or did not end identical
# to the uninterrupted run.  Work happens under $TMPDIR (tmpfs /dev/shm by
# default); CAMPAIGN_RUNS="suite" limits the runs.
set -u
here=$(cd "$(dirname "$0")" && pwd)
CTRAIN=${CTRAIN:-$here/../build/ctrain}
[ -x "$CTRAIN" ] || { echo "powerloss_campaign: no $CTRAIN (make first)" >&2; exit 2; }
CTRAIN=$(cd "$(dirname "$CTRAIN")" && pwd)/$(basename "$CTRAIN")
export CTRAIN
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then TMPDIR=/dev/shm; export TMPDIR; fi
W=$(mktemp -d "${TMPDIR:-/tmp}/ctrain-powerloss.XXXXXX")
trap 'rm -rf "$W"' EXIT

cat > "$W/suite.ini" <<'INI'
[model]
layers = 16,32,4
activation = tanh
dropout = 0.1
[optim]
name = sgd
lr = 0.05
momentum = 0.9
nesterov = true
[data]
dataset = synthetic
n_samples = 400
n_features = 16
n_classes = 4
val_fraction = 0.2
batch_size = 40
[train]
epochs = 2
seed = 5
log_every = 1
[checkpoint]
every_steps = 3
keep_last = 2
INI
cp "$here/configs/campaign.ini" "$W/crash.ini"

rc=0
for run in ${CAMPAIGN_RUNS:-suite crash}; do
	for when in before after; do
		t0=$(date +%s)
		out=$(PL_CFG=$W/$run.ini PL_WHEN=$when PL_QUIET=1 sh "$here/../tests/e2e/e2e_powerloss.sh" 2>&1)
		[ $? -eq 0 ] || rc=1
		echo "$run, $when: $(echo "$out" | grep '^fsync points' | tail -1) [$(($(date +%s) - t0)) s]"
		echo "$out" | grep -E '^  |^FAIL' | head -8
	done
done
exit $rc
