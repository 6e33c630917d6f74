#!/usr/bin/env bash
# Event-time windows end to end (examples/user_windows.so): disordered JSON events through a
# repartition topic into 10 s tumbling windows per user. Every window's final count equals the
# count computed offline from the same events, exactly once through three kill -9s of the
# processor (state and watermark restored from the changelog) and a kill -9 of the broker while
# the processor runs; events far behind the watermark land in the late topic, exactly once,
# never counted.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/stream.sh"
broker_start --set group.initial.rebalance.delay.ms=0
port=${BROKER##*:}
HERE=$(dirname "$0")
# A failing check exits at once: stop the processes this test started, then the broker.
trap 'rc=$?; set +e; for q in ${p:-} ${producer:-}; do kill -9 "$q" 2>/dev/null; done; (exit $rc); cleanup' EXIT
UW=$PWD/$SLUICE_BUILD/examples/user_windows.so
for t in events:3 user-counts:1 user-counts-late:1; do
  "$SLUICE" topic create "${t%:*}" -p "${t#*:}" -b "$BROKER" >/dev/null
done
run() {
  "$SLUICE" run "$UW" --app-id uw -b "$BROKER" --set commit.interval.ms=500 \
    -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 >>"$T/uw.log" 2>&1 &
}
results() { wait_committed user-counts "$1"; } # until N final window counts are committed
# 20,000 events at 2,000/s: about 30 windows close per second, so every crash below lands
# mid-stream, with results emitted but not yet committed.
$PY "$HERE/stream_windows.py" produce "$BROKER" events 2000 &
producer=$!
run; p=$!
results 30
kill -9 "$p"; wait "$p" 2>/dev/null || true
run; p=$!
results 60
broker_kill  # the broker too, mid-transaction; it comes back on the same port
sleep 0.5
broker_start --listen "127.0.0.1:$port" --set group.initial.rebalance.delay.ms=0
results 90
kill -9 "$p"; wait "$p" 2>/dev/null || true
run; p=$!
results 150
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
