#!/usr/bin/env bash
# Session windows end to end (examples/sessionisation.so): per-user events in bursts, with disorder
# under the watermark delay, through a repartition topic into session windows (3 s gap). Every
# session's bounds and count equal those computed offline from the same events, exactly once
# through a kill -9 of the processor (open sessions restored from the changelog).
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
p= producer=
# A failing check exits at once: take the processor and the producer down with the broker.
trap 'rc=$?; set +e; kill -9 ${p:-} ${producer:-} 2>/dev/null; (exit $rc); cleanup' EXIT
HERE=$(dirname "$0")
SO=$PWD/$SLUICE_BUILD/examples/sessionisation.so
for t in events:3 sessions:1; do
  "$SLUICE" topic create "${t%:*}" -p "${t#*:}" -b "$BROKER" >/dev/null
done
run() {
  "$SLUICE" run "$SO" --app-id sessions -b "$BROKER" --set commit.interval.ms=300 \
    -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 -- events sessions 3000 500 2000 >>"$T/run.log" 2>&1 &
}
$PY "$HERE/stream_examples.py" produce "$BROKER" events sessions 300 &
producer=$!
run; p=$!
for _ in $(seq $((300 * mult))); do  # wait for the first results, then crash mid-stream
  (( $(timeout 10 "$SLUICE" consume sessions -b "$BROKER" -o beginning -e \
       -X isolation.level=read_committed 2>/dev/null | wc -l) >= 5 )) && break
  sleep 0.2
done
kill -9 "$p"; wait "$p" 2>/dev/null || true
run; p=$!
wait "$producer" || fail "producer failed"
producer=
$PY "$HERE/stream_examples.py" verify "$BROKER" sessions sessions $((120 * mult)) ||
  { tail -n 20 "$T/run.log"; fail "sessions differ from the offline reference"; }
kill -TERM "$p"
wait "$p" || fail "the processor did not stop cleanly"
p=
grep "sluice run:" "$T/run.log" | tail -n 1
broker_stop
echo ok
