#!/usr/bin/env bash
# Event-time windows end to end (examples/user_windows.so): disordered JSON events through a
# repartition topic into 10 s tumbling windows per user. Every window's final count equals the
# count computed offline from the same events, exactly once through a kill -9 of the processor
# (state and watermark restored from the changelog); events far behind the watermark land in the
# late topic, exactly once, never counted.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(dirname "$0")
UW=$PWD/$SLUICE_BUILD/examples/user_windows.so
for t in events:3 user-counts:1 user-counts-late:1; do
  "$SLUICE" topic create "${t%:*}" -p "${t#*:}" -b "$BROKER" >/dev/null
done
run() {
  "$SLUICE" run "$UW" --app-id uw -b "$BROKER" --set commit.interval.ms=500 \
    -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 >>"$T/uw.log" 2>&1 &
}
$PY "$HERE/stream_windows.py" produce "$BROKER" events 4000 &
producer=$!
run; p=$!
for _ in $(seq $((300 * mult))); do  # wait for the first results, then crash mid-stream
  (( $(timeout 10 "$SLUICE" consume user-counts -b "$BROKER" -o beginning -e \
       -X isolation.level=read_committed 2>/dev/null | wc -l) >= 30 )) && break
  sleep 0.2
done
kill -9 "$p"; wait "$p" 2>/dev/null || true
run; p=$!
wait "$producer" || fail "producer failed"
$PY "$HERE/stream_windows.py" verify "$BROKER" user-counts user-counts-late $((120 * mult)) ||
  { tail -n 20 "$T/uw.log"; fail "windowed counts differ from the offline reference"; }
kill -TERM "$p"
wait "$p" || fail "the processor did not stop cleanly"
grep "sluice run:" "$T/uw.log" | tail -n 1
broker_stop
echo ok
