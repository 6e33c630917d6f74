#!/usr/bin/env bash
# serial: measures rates, memory, descriptors or timing; runs alone
# Issue 2: many partitions under a small open-file limit (hard RLIMIT_NOFILE 1024).
#   1. max.partitions defaults to the open-file limit (1024 here) and segment descriptors are
#      pooled, so a 900-partition topic is created (3 files per partition would need 2,700
#      descriptors), takes an acks=all record on every partition, and transactions still work;
#      no partition or coordinator file goes FAILED.
#   2. Past the limit, CreateTopics and CreatePartitions get POLICY_VIOLATION, and nothing of
#      them is recorded or left on disk.
#   3. The broker restarts and serves all of it.
#   4. A partition that cannot be opened at start-up (its directory replaced by a file) is served
#      offline: the broker starts, Metadata reports an error for that partition only, and the
#      others take records.
source "$(dirname "$0")/lib/broker.sh"
MP="$PY $(dirname "$0")/many_partitions.py"
printf '#!/bin/sh\nulimit -n 1024\nexec %s "$@"\n' "$SLUICE" > "$T/sluice-1024"
chmod +x "$T/sluice-1024"

SLUICE="$T/sluice-1024" broker_start
grep -q "max_partitions=1024 " "$T/broker.log" || { cat "$T/broker.log"; fail "partition limit not derived from nofile"; }
[[ $($MP create "$BROKER" big 900) == NO_ERROR ]] || fail "900-partition topic not created"
$MP produce "$BROKER" big 900 || fail "produce to every partition"
$MP txn "$BROKER" big || fail "transaction after creating 900 partitions"
[[ $($MP create "$BROKER" over 200 2>"$T/over.err") == POLICY_VIOLATION ]] || fail "CreateTopics over the limit: $(cat "$T/over.err")"
grep -q "max.partitions" "$T/over.err" || fail "no message naming max.partitions: $(cat "$T/over.err")"
[[ $($MP grow "$BROKER" big 1200 2>/dev/null) == POLICY_VIOLATION ]] || fail "CreatePartitions over the limit"
[[ ! -e "$T/data/over-0" && ! -e "$T/data/big-900" ]] || fail "a refused request left partition directories"
! grep -q "FAILED\|not synced\|not persisted" "$T/broker.log" || { grep "FAILED\|not synced\|not persisted" "$T/broker.log" | head; fail "storage marked failed"; }
broker_stop

SLUICE="$T/sluice-1024" broker_start
grep -q "partitions=900$" "$T/broker.log" || fail "restart did not open the 900 partitions"
$MP count "$BROKER" big 900 || fail "records after restart"
[[ $($MP create "$BROKER" over 124) == NO_ERROR ]] || fail "a topic up to the limit after restart"
[[ $($MP create "$BROKER" one-more 1 2>/dev/null) == POLICY_VIOLATION ]] || fail "the limit counts every topic"
broker_stop

rm -rf "$T/data/big-7" && echo garbage > "$T/data/big-7"
SLUICE="$T/sluice-1024" broker_start
$MP offline "$BROKER" big 7 || fail "partition big-7 not served offline"
ALLOW_LOG_ERRORS="big-7\|partition=7 " broker_stop
echo ok
