#!/usr/bin/env bash
# Nexmark on the stream engine (examples/nexmark.so over `sluice bench --nexmark`): q0, q1, q2,
# q3 (the person-auction join), q5 and q7 each produce exactly the records an offline reference computes from the same input
# topic, read under read_committed. q5 and q7 aggregate in two steps across a repartition topic,
# so they also check that a window's results reach the next step before the watermark that
# closes them there (a marker sent ahead of the results made them late).
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(dirname "$0")
NX=$PWD/$SLUICE_BUILD/examples/nexmark.so
"$SLUICE" bench --nexmark -b "$BROKER" --partitions 4 --rate 0 --count 60000 \
  --set progress=false --set payload.seed=42 >"$T/gen.log" || { cat "$T/gen.log"; fail "generator"; }
grep -q "60000 events (1200 persons, 3600 auctions, 55200 bids)" "$T/gen.log" ||
  { cat "$T/gen.log"; fail "the generator's mix is not 1:3:46"; }
$PY "$HERE/nexmark_check.py" flush "$BROKER" nexmark
pids=()
# A failing check exits at once: take the processors down with the broker.
trap 'rc=$?; set +e; kill -9 "${pids[@]}" 2>/dev/null; (exit $rc); cleanup' EXIT
for q in q0 q1 q2 q3 q5 q7; do
  "$SLUICE" topic create "nexmark-$q" -p 1 -b "$BROKER" >/dev/null
  "$SLUICE" run "$NX" --app-id "nx-$q" -b "$BROKER" --set commit.interval.ms=200 \
    -- "$q" >>"$T/$q.log" 2>&1 &
  pids+=($!)
done
rc=0
for q in q0 q1 q2 q3 q5 q7; do
  $PY "$HERE/nexmark_check.py" verify "$BROKER" nexmark "$q" "nexmark-$q" $((120 * mult)) ||
    { tail -n 5 "$T/$q.log"; rc=1; }
done
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || fail "a processor did not stop cleanly"; done
pids=()
[[ $rc == 0 ]] || fail "a query's output differs from the offline reference"
grep -h "sluice run:" "$T"/q*.log
broker_stop
echo ok
