#!/usr/bin/env bash
# Standby replicas of a windowed join's buffers (num.standby.replicas=1): examples/click_join.so
# (a windowed outer join of disordered impressions and clicks, 3 partitions) on two instances
# while input flows. The second instance keeps warm copies of the first's join tasks (their lag
# shows on its /metrics); after a kill -9 of the first, it takes every task over with its join
# buffers from copies: a's tasks from those, its own (revoked by the eager rebalance after their
# checkpoint) from the copies they became, so the takeover reads none of the changelog. Under
# read_committed every pair within the window and every record that matched nothing appears
# exactly once, as computed offline.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/stream.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(dirname "$0")
trap 'rc=$?; set +e; for q in ${a:-} ${b:-} ${producer:-}; do kill -9 "$q" 2>/dev/null; done; (exit $rc); cleanup' EXIT
CJ=$PWD/$SLUICE_BUILD/examples/click_join.so
for t in impressions:3 clicks:3 ad-clicks:1 ad-clicks-late:1; do
  "$SLUICE" topic create "${t%:*}" -p "${t#*:}" -b "$BROKER" >/dev/null
done
run() { # run INSTANCE: starts an instance with standbys in the background ($! is its pid)
  "$SLUICE" run "$CJ" --app-id cjsb --instance-id "$1" -b "$BROKER" --admin 127.0.0.1:0 \
    --set commit.interval.ms=200 --set num.standby.replicas=1 \
    -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 \
    -- impressions clicks ad-clicks 200 500 500 >>"$T/$1.log" 2>&1 &
}
# 12,000 records at 500/s: the kill below lands mid-stream, with pairs waiting in both buffers.
$PY "$HERE/stream_join.py" click-produce "$BROKER" 500 >"$T/prod.log" 2>&1 &
producer=$!
run a; a=$!
wait_committed ad-clicks 100
run b; b=$!
# b holds tasks of its own and copies of a's once the two-member assignment is in place.
lagged=$(wait_standbys "$T/b.log" cjsb "0_[0-2]") || exit 1
echo "b's standbys: $lagged"
kill -0 "$producer" 2>/dev/null || echo "note: the input ended before the kill"
kill -9 "$a"; wait "$a" 2>/dev/null || true
# After a's session expires, b takes all 3 tasks, every changelog partition from a copy.
line=$(wait_log "$T/b.log" "tasks=3 msg=\"restored [0-9]+ changelog records from ([0-9]+) partitions \([0-9]+ resumed from local state, \1 from a standby\)" "b did not take every join task over from a copy") || exit 1
echo "takeover: $line"
wait "$producer" || { cat "$T/prod.log"; fail "producer failed"; }
$PY "$HERE/stream_join.py" click-verify "$BROKER" ad-clicks ad-clicks-late $((180 * mult)) ||
  { tail -n 20 "$T"/a.log "$T"/b.log; fail "join results differ from the offline reference"; }
kill -TERM "$b"
wait "$b" || fail "instance b did not stop cleanly"
broker_stop
echo ok
