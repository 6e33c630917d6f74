#!/usr/bin/env bash
# The fraud rule end to end (examples/fraud.so): per-user payments (top-level amounts and the
# demo's decimal strings in "body") against the user's running average in 20 s windows. The
# alerts equal those computed offline from the same events, in the same per-user order, exactly
# once through a kill -9 of the processor (running averages restored from the changelog).
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
p= producer=
# A failing check exits at once: take the processor and the producer down with the broker.
trap 'rc=$?; set +e; kill -9 ${p:-} ${producer:-} 2>/dev/null; (exit $rc); cleanup' EXIT
HERE=$(dirname "$0")
SO=$PWD/$SLUICE_BUILD/examples/fraud.so
for t in payments:3 fraud-alerts:1; do
  "$SLUICE" topic create "${t%:*}" -p "${t#*:}" -b "$BROKER" >/dev/null
done
run() {
  "$SLUICE" run "$SO" --app-id fraud -b "$BROKER" --set commit.interval.ms=300 \
    -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 -- payments fraud-alerts 20000 3 3 >>"$T/run.log" 2>&1 &
}
$PY "$HERE/stream_examples.py" produce "$BROKER" payments fraud 1000 &
producer=$!
run; p=$!
for _ in $(seq $((300 * mult))); do  # wait for the first results, then crash mid-stream
  (( $(timeout 10 "$SLUICE" consume fraud-alerts -b "$BROKER" -o beginning -e \
       -X isolation.level=read_committed 2>/dev/null | wc -l) >= 5 )) && break
  sleep 0.2
done
kill -9 "$p"; wait "$p" 2>/dev/null || true
run; p=$!
wait "$producer" || fail "producer failed"
producer=
$PY "$HERE/stream_examples.py" verify "$BROKER" fraud-alerts fraud $((120 * mult)) ||
  { tail -n 20 "$T/run.log"; fail "fraud differ from the offline reference"; }
kill -TERM "$p"
wait "$p" || fail "the processor did not stop cleanly"
p=
grep "sluice run:" "$T/run.log" | tail -n 1
broker_stop
echo ok
