#!/usr/bin/env bash
# bench/stream_probe.py latency, the measurement behind `make bench-stream`'s latency table, on a
# windowed query (examples/nexmark.so q7: highest bid per 10 s tumbling window, watermark_delay
# 4 s, exactly once) fed live at 2,000 events/s: every window result finds its trigger (the input
# record whose watermark advance closed the window: at window end + 4 s), none was emitted before
# that trigger, and "window end to result" exceeds "trigger to result" by the 4 s wait, record
# for record (so the two medians differ by it). A wait overstated by 4 s flags every result as
# emitted before its trigger: the check can fail.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NX=$PWD/$SLUICE_BUILD/examples/nexmark.so
"$SLUICE" topic create lat-in -p 4 -b "$BROKER" >/dev/null
"$SLUICE" topic create lat-out -p 4 -b "$BROKER" >/dev/null
"$SLUICE" run "$NX" --app-id lat -b "$BROKER" --threads 1 \
  --set processing.guarantee=exactly_once_v2 --set commit.interval.ms=100 \
  -- q7 lat-in lat-out >"$T/run.log" 2>&1 &
rpid=$!
trap 'rc=$?; set +e; kill -9 $rpid 2>/dev/null; (exit $rc); cleanup' EXIT
# 20 s of events: every run holds a window end (epoch-aligned, 10 s) more than 8 s before its
# last event, so one window at least closes with either wait.
"$SLUICE" bench --nexmark -b "$BROKER" --topic lat-in --partitions 4 --rate 2000 --duration 20 \
  --acks 1 --set progress=false --set linger.ms=1 >"$T/gen.log" || { cat "$T/gen.log"; fail "generator"; }
touch "$T/stop" # the probe reads until 3 s pass without a record
ok=$($PY "$ROOT/bench/stream_probe.py" latency "$BROKER" lat-in lat-out "$T/stop" 0 4000)
echo "wait 4000: $ok"
over=$($PY "$ROOT/bench/stream_probe.py" latency "$BROKER" lat-in lat-out "$T/stop" 0 8000)
echo "wait 8000: $over"
kill -TERM $rpid
wait $rpid || { tail -n 5 "$T/run.log"; fail "the processor did not stop cleanly"; }
f() { sed -n "s/\(.* \|^\)$2=\([^ ]*\).*/\2/p" <<<"$1"; }
n=$(f "$ok" n)
[[ $n =~ ^[0-9]+$ ]] && ((n >= 1)) || fail "no window result measured: $ok"
[[ $(f "$ok" early) == 0 && $(f "$ok" untriggered) == 0 ]] ||
  fail "with the plan's wait, results before or without a trigger: $ok"
awk -v a="$(f "$ok" p50_ms)" -v b="$(f "$ok" end_p50_ms)" -v m="$(f "$ok" min_ms)" \
  'BEGIN { exit !(b - a >= 4000 && b - a <= 4050 && m >= -10) }' ||
  fail "window end to result is not trigger to result plus the 4 s wait: $ok"
# 8000: windows whose end + 8 s is past the last event have no trigger; the others all come early.
[[ $(f "$over" n) -ge 1 && $(f "$over" early) == $(f "$over" n) ]] ||
  fail "an overstated wait went unnoticed: $over"
broker_stop
echo ok
