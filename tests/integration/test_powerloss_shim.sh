#!/usr/bin/env bash
# The power-loss emulation itself: a script makes file-system moves whose fate after a power cut
# is known (synced bytes, an unsynced tail, overwrites and a truncation of synced bytes, entries
# with and without a directory fsync, a rename over a file, O_TRUNC, unlink) under the shim, is
# killed, and powerloss_apply.py must leave exactly the expected files, under both directory
# models. Then POWERLOSS_CRASH_AT_SYNC must kill the process at the start of the chosen sync.
set -euo pipefail
cd "$(dirname "$0")/../.."
SLUICE_BUILD=${SLUICE_BUILD:-build}
SHIM=$PWD/$SLUICE_BUILD/tests/libpowerloss.so
PY=/usr/bin/python3
S=tests/integration/powerloss_scenario.py
T=$(mktemp -d /tmp/sluice-pl.XXXXXX)
trap 'rm -rf "$T"' EXIT
[[ -f $SHIM ]] || { echo "FAIL: $SHIM not built" >&2; exit 1; }

for model in strict ext4; do
  d=$T/$model
  mkdir -p "$d"
  $PY $S prepare "$d"
  rc=0
  POWERLOSS_ROOT=$d POWERLOSS_JOURNAL=$T/$model.journal LD_PRELOAD=$SHIM $PY $S run "$d" || rc=$?
  [[ $rc -eq 137 ]] || { echo "FAIL: the scenario should end by SIGKILL, got status $rc" >&2; exit 1; }
  $PY tests/integration/powerloss_apply.py "$T/$model.journal" --model $model
  $PY $S check "$d" $model
done

# A crash at the second sync: 'a' was synced once (with no directory fsync yet), so under the
# strict model nothing of the run survives and the prepared files are untouched.
d=$T/crash
mkdir -p "$d"
$PY $S prepare "$d"
rc=0
POWERLOSS_ROOT=$d POWERLOSS_JOURNAL=$T/crash.journal POWERLOSS_CRASH_AT_SYNC=2 LD_PRELOAD=$SHIM \
  $PY $S run "$d" || rc=$?
[[ $rc -eq 137 ]] || { echo "FAIL: POWERLOSS_CRASH_AT_SYNC=2 did not kill the process ($rc)" >&2; exit 1; }
grep -q " K fsync " "$T/crash.journal" || { echo "FAIL: no crash mark in the journal" >&2; exit 1; }
[[ $(grep -c " [SD] " "$T/crash.journal") -eq 1 ]] || { echo "FAIL: want exactly one sync before the crash" >&2; exit 1; }
$PY tests/integration/powerloss_apply.py "$T/crash.journal"
[[ "$(cd "$d" && find . | sort | tr '\n' ' ')" == ". ./base ./keep ./old " ]] ||
  { echo "FAIL: after a crash at sync 2: $(cd "$d" && find . | sort | tr '\n' ' ')" >&2; exit 1; }
[[ "$(cat "$d/base")" == "BASE-CONTENT-0123456789" ]] || { echo "FAIL: base changed" >&2; exit 1; }
echo ok
