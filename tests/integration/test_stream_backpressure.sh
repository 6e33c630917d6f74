#!/usr/bin/env bash
# serial: measures rates, memory, descriptors or timing; runs alone
# Backpressure in the stream engine: a backlog of 20,000 lines (input far faster than the
# transactional output) through examples/wordcount.so with a 10 s checkpoint interval and
# inflight.max.records=3000. Without backpressure a lane would take in the whole backlog before
# its first checkpoint; with it the lane pauses its inputs at the mark and checkpoints early, so
# the in-flight count never passes the mark plus one poll batch (500), resident memory stays
# bounded, the input lag that built up falls to 0, and every word's counts are exactly once.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
trap 'rc=$?; kill -9 "${run:-none}" "${sampler:-none}" 2>/dev/null || true; set +e; (exit $rc); cleanup' EXIT
HERE=$(dirname "$0")
WC=$PWD/$SLUICE_BUILD/examples/wordcount.so
SM="$PY $HERE/stream_metrics.py"
MAX=3000
# Resident memory allowed: ASan's quarantine and shadow memory add hundreds of MB on their own.
RSS_MAX=$([[ -n "${SLUICE_ASAN:-}" ]] && echo 1000000000 || echo 200000000)
"$SLUICE" topic create text -p 3 -b "$BROKER" >/dev/null
pids=()
for seed in 1 2 3 4; do
  $PY "$HERE/stream_wordcount.py" produce "$BROKER" text $seed 5000 & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "producer failed"; done
"$SLUICE" run "$WC" --app-id bp -b "$BROKER" --admin 127.0.0.1:0 --set commit.interval.ms=10000 \
  --set inflight.max.records=$MAX >>"$T/run.log" 2>&1 &
run=$!
for _ in $(seq $((200 * mult))); do
  grep -q "admin listening on" "$T/run.log" && break
  kill -0 $run 2>/dev/null || { cat "$T/run.log"; fail "sluice run exited"; }
  sleep 0.05
done
A=127.0.0.1:$(sed -n 's/.*admin listening on [0-9.]*:\([0-9]*\)$/\1/p' "$T/run.log")
$SM sample "$A" $((300 * mult)) "$T/max.json" &
sampler=$!
$PY "$HERE/stream_wordcount.py" expect 1 2 3 4 5000 >"$T/totals.json"
$PY "$HERE/stream_wordcount.py" verify "$BROKER" word-counts "$T/totals.json" $((240 * mult)) ||
  fail "word counts not exactly once"
$SM wait "$A" $((30 * mult)) "m('sluice_stream_records_in_total', task='0_*') == 20000 and
  m('sluice_stream_consumer_lag_records', topic='text') == 0" || fail "the backlog was not consumed"
kill "$sampler"; wait "$sampler" 2>/dev/null || true
$SM sample "$A" 0.5 "$T/last.json" # the final state, for the report below
$PY - "$T/max.json" "$T/last.json" $MAX $RSS_MAX <<'PY' || fail "backpressure did not bound the lane"
import json, sys
mx, last, cap = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
rss_max = int(sys.argv[4])
inflight = mx.get("sluice_stream_inflight_records", -1)
lag = mx.get("sluice_stream_consumer_lag_records", 0)
rss = mx.get("process_resident_memory_bytes", 0)
pauses = last.get("sluice_stream_pauses_total", 0)
ckpts = last.get("sluice_stream_checkpoints_total", 0)
print("max in flight %d (mark %d), max lag %d, max RSS %.1f MB, pauses %d, checkpoints %d"
      % (inflight, cap, lag, rss / 1e6, pauses, ckpts))
ok = 0 <= inflight <= cap + 500 and lag > cap and pauses >= 5 and ckpts >= 5 and 0 < rss < rss_max
sys.exit(0 if ok else 1)
PY
kill -TERM $run
wait $run || { tail -n 20 "$T/run.log"; fail "sluice run did not stop cleanly"; }
broker_stop
echo ok
