#!/bin/sh
# fault_campaign.sh — the fault-injection harness on a real file system.
#
#   CTRAIN=build/ctrain sh experiments/fault_campaign.sh [DIR]
#
# Runs tests/e2e/e2e_faults.sh (ENOSPC, EIO and EDQUOT at every I/O operation of
# a checkpoint write, sync and async, on_error=stop and warn, short writes, a
# disk that stays full; each followed by checks and a resume compared byte for
# byte with an uninterrupted run) with its work directory under DIR (default
# /tmp) instead of tmpfs, so every fsync and rename reaches a disk.  Prints
# "faults: N injected, N recovered identical (S s)"; exits 1 on any difference.
set -u
here=$(cd "$(dirname "$0")" && pwd)
CTRAIN=${CTRAIN:-$here/../build/ctrain}
[ -x "$CTRAIN" ] || { echo "fault_campaign: no $CTRAIN (make first)" >&2; exit 2; }
CTRAIN=$(cd "$(dirname "$CTRAIN")" && pwd)/$(basename "$CTRAIN")
TMPDIR=${1:-/tmp}
export CTRAIN TMPDIR
exec sh "$here/../tests/e2e/e2e_faults.sh"
