#!/usr/bin/env bash
# An idle input partition does not stall event time: all events go to partition 0 of a
# 3-partition topic; partitions 1 and 2 are caught up and quiet, so after the source's
# idle.timeout.ms (5 s in user_windows.so) their tasks mark themselves idle, the watermark
# crosses the repartition topic on partition 0's events alone, and the windows it closes are
# emitted with their exact counts (without idleness the empty partitions would hold every window
# open forever).
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(dirname "$0")
UW=$PWD/$SLUICE_BUILD/examples/user_windows.so
"$SLUICE" topic create events -p 3 -b "$BROKER" >/dev/null
"$SLUICE" topic create user-counts -p 1 -b "$BROKER" >/dev/null
$PY "$HERE/stream_idle.py" produce "$BROKER" events || fail "producer failed"
"$SLUICE" run "$UW" --app-id idle -b "$BROKER" --set commit.interval.ms=200 \
  -- events user-counts 10000 1000 2000 >>"$T/run.log" 2>&1 &
p=$!
trap 'rc=$?; set +e; kill -9 "$p" 2>/dev/null; (exit $rc); cleanup' EXIT
$PY "$HERE/stream_idle.py" verify "$BROKER" user-counts $((60 * mult)) ||
  { tail -n 20 "$T/run.log"; fail "an idle partition stalled the windows"; }
kill -TERM "$p"
wait "$p" || fail "the processor did not stop cleanly"
broker_stop
echo ok
