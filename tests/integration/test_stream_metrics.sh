#!/usr/bin/env bash
# serial: measures rates, memory, descriptors or timing; runs alone
# The stream engine's admin port: examples/wordcount.so under `sluice run --admin`. /health and
# /ready answer 200 once the lane runs with its tasks restored; /metrics counts exactly the
# records fed (lines in, word-count updates out), the three stage-latency histograms count every
# output, the input lag falls to 0, and the adaptive commit interval goes below its start when
# the input is idle and above its minimum under a burst, staying within its bounds. A restart
# shows its restore progress, and is ready only after it.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
trap 'rc=$?; kill -9 "${run:-none}" 2>/dev/null || true; set +e; (exit $rc); cleanup' EXIT
HERE=$(dirname "$0")
WC=$PWD/$SLUICE_BUILD/examples/wordcount.so
SM="$PY $HERE/stream_metrics.py"
"$SLUICE" topic create text -p 3 -b "$BROKER" >/dev/null
LINES=2000
$PY "$HERE/stream_wordcount.py" produce "$BROKER" text 1 $LINES || fail "producer failed"
"$SLUICE" run "$WC" --app-id wm -b "$BROKER" --admin 127.0.0.1:0 \
  --set commit.interval.min.ms=20 --set commit.interval.max.ms=2000 >>"$T/run.log" 2>&1 &
run=$!
for _ in $(seq $((200 * mult))); do
  grep -q "admin listening on" "$T/run.log" && break
  kill -0 $run 2>/dev/null || { cat "$T/run.log"; fail "sluice run exited"; }
  sleep 0.05
done
A=127.0.0.1:$(sed -n 's/.*admin listening on [0-9.]*:\([0-9]*\)$/\1/p' "$T/run.log")
[[ $A != 127.0.0.1: ]] || fail "no admin port in the log"
$SM wait-status "http://$A/ready" 200 $((60 * mult)) || fail "/ready never answered 200"
$SM wait-status "http://$A/health" 200 5 || fail "/health is not 200"
$SM wait-status "http://$A/nothing" 404 5 || fail "an unknown path is not 404"

$PY "$HERE/stream_wordcount.py" expect 1 $LINES >"$T/totals.json"
WORDS=$($PY -c "import json,sys; print(sum(json.load(open(sys.argv[1])).values()))" "$T/totals.json")
$PY "$HERE/stream_wordcount.py" verify "$BROKER" word-counts "$T/totals.json" $((120 * mult)) ||
  fail "word counts not exactly once"
# Lines in (sub-topology 0 reads text), words through the repartition topic and out as counts.
S=sluice_stream_stage_latency_seconds_count
$SM wait "$A" $((30 * mult)) "
m('sluice_stream_records_in_total', task='0_*') == $LINES and
m('sluice_stream_records_out_total', task='0_*') == $WORDS and
m('sluice_stream_records_in_total', task='1_*') == $WORDS and
m('sluice_stream_records_out_total', task='1_*') == $WORDS and
m('$S', stage='process') == $WORDS and m('$S', stage='produce_broker') == $WORDS and
m('$S', stage='commit_wait') == $WORDS and
m('sluice_stream_consumer_lag_records', topic='text') == 0 and
len(series('sluice_stream_consumer_lag_records')) >= 6 and
m('sluice_stream_checkpoints_total') > 0 and m('sluice_stream_commit_latency_seconds_count') > 0 and
m('sluice_stream_state_entries', task='1_*') >= 40 and m('sluice_stream_ready') == 1 and
m('sluice_stream_dead_lettered_records_total') == 0 and m('sluice_stream_late_records_total') == 0 and
len(series('sluice_stream_watermark_delay_seconds')) == 6" ||
  fail "the metrics do not match the records fed"

# Idle input: few records per checkpoint, so the interval shrinks from its start (100 ms).
$SM wait "$A" $((30 * mult)) "0.02 <= m('sluice_stream_commit_interval_seconds') < 0.1" ||
  fail "the commit interval did not shrink under light input"
# A burst: the interval must leave its minimum while it lasts, and stay within the bounds.
$SM sample "$A" $((15 * mult)) "$T/burst.json" &
sampler=$!
pids=()
for seed in 2 3 4 5; do
  $PY "$HERE/stream_wordcount.py" produce "$BROKER" text $seed 20000 & pids+=($!)
done
wait $sampler
for p in "${pids[@]}"; do wait "$p" || fail "producer failed"; done
$PY - "$T/burst.json" <<'PY' || fail "the commit interval did not grow under a burst"
import json, sys
mx = json.load(open(sys.argv[1]))
iv = mx.get("sluice_stream_commit_interval_seconds", 0)
print("max commit interval under the burst: %.3f s" % iv)
sys.exit(0 if 0.02 < iv <= 2.0 else 1)
PY
kill -TERM $run
wait $run || { tail -n 20 "$T/run.log"; fail "sluice run did not stop cleanly"; }
grep -q "sluice run: latency ms p50/p99 produce_broker=" "$T/run.log" || fail "no latency exit line"
# A restart restores the counts from the changelog: the progress shows on /metrics, and /ready
# turns 200 only after it.
: >"$T/run.log"
"$SLUICE" run "$WC" --app-id wm -b "$BROKER" --admin 127.0.0.1:0 >>"$T/run.log" 2>&1 &
run=$!
for _ in $(seq $((200 * mult))); do
  grep -q "admin listening on" "$T/run.log" && break
  sleep 0.05
done
A=127.0.0.1:$(sed -n 's/.*admin listening on [0-9.]*:\([0-9]*\)$/\1/p' "$T/run.log")
$SM wait-status "http://$A/ready" 200 $((60 * mult)) || fail "/ready never answered 200 after a restart"
$SM wait "$A" 5 "m('sluice_stream_restoring') == 0 and
0 < m('sluice_stream_restore_records_total') <= m('sluice_stream_restore_records_to_restore_total')" ||
  fail "no restore progress on /metrics"
kill -TERM $run
wait $run || { tail -n 20 "$T/run.log"; fail "sluice run did not stop cleanly"; }
broker_stop
echo ok
