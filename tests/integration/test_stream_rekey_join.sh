#!/usr/bin/env bash
# A windowed outer join fed by two re-keys (examples/click_join.so ... rekey): impressions and
# clicks in 4-partition topics keyed by their own ids, both re-keyed by ad through repartition
# topics into the joining tasks. Partitions 0 and 1 of both topics bring their whole time span
# first, partitions 2 and 3 theirs afterwards: the joining task's watermark is the minimum over
# the upstream tasks' markers of both repartition topics, so the later partitions' records still
# pair (with the records' own times driving it, they were all dropped as late). Every pair and
# every unmatched record exactly once, as the offline reference; nothing late.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/stream.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(dirname "$0")
trap 'rc=$?; set +e; [[ -n ${p:-} ]] && kill -9 "$p" 2>/dev/null; (exit $rc); cleanup' EXIT
for t in rk-imps:4 rk-clicks:4 rk-out:1 rk-out-late:1; do
  "$SLUICE" topic create "${t%:*}" -p "${t#*:}" -b "$BROKER" >/dev/null
done
"$SLUICE" run "$PWD/$SLUICE_BUILD/examples/click_join.so" --app-id rkj -b "$BROKER" \
  --set commit.interval.ms=200 -- rk-imps rk-clicks rk-out 200 500 500 rekey >>"$T/rkj.log" 2>&1 &
p=$!
$PY "$HERE/stream_join.py" rekey-produce "$BROKER" rk-imps rk-clicks 1 || fail "producer failed"
wait_committed rk-out 50 # pairs of partitions 0 and 1 are out: the join ran ahead on them
$PY "$HERE/stream_join.py" rekey-produce "$BROKER" rk-imps rk-clicks 2 || fail "producer failed"
$PY "$HERE/stream_join.py" click-verify "$BROKER" rk-out rk-out-late $((60 * mult)) ||
  { tail -n 20 "$T/rkj.log"; fail "the join over two repartitions differs from the reference"; }
kill -TERM "$p"
wait "$p" || fail "the processor did not stop cleanly"
p=
grep "sluice run:" "$T/rkj.log" | tail -n 1
broker_stop
echo ok
