#!/usr/bin/env bash
# A stop during a restore: word count under two instances while input flows into 6 partitions; a
# third instance is started and stopped (SIGTERM) as soon as it begins restoring its tasks' state,
# again and again. (Static members, which hit this most, are left out: with group.instance.id one
# loss shape is still open, docs/stream.md "Static membership".)
# Before the fix a lane stopped mid-restore still ran and checkpointed its half-restored tasks:
# their changelogs got counts from a partial image, and the next owner restored those (counts went
# back, words were lost: found with static members, whose quick joins put restores under such
# stops). Every word's count updates must be exactly 1, 2, ..., total under read_committed.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/stream.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(dirname "$0")
trap 'rc=$?; set +e; for q in ${a:-} ${b:-} ${c:-} ${producer:-}; do kill -9 "$q" 2>/dev/null; done; (exit $rc); cleanup' EXIT
WC=$PWD/$SLUICE_BUILD/examples/wordcount.so
"$SLUICE" topic create text -p 6 -b "$BROKER" >/dev/null
run() { # run INSTANCE: starts an instance in the background ($! is its pid)
  "$SLUICE" run "$WC" --app-id wcs --instance-id "$1" -b "$BROKER" --set commit.interval.ms=500 \
    -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 >>"$T/$1.log" 2>&1 &
}
LINES=3000
( for seed in 1 2 3 4; do
    $PY "$HERE/stream_wordcount.py" produce "$BROKER" text $seed $LINES 1000 || exit 1
  done ) &
producer=$!
run a; a=$!
run b; b=$!
wait_committed word-counts 500
caught=0
for try in 1 2 3 4 5 6; do
  : >"$T/c.log"
  run c; c=$!
  for _ in $(seq $((3000 * mult))); do  # every 10 ms, up to 30 s: its restore begins
    grep -q 'msg="restoring"' "$T/c.log" && break
    kill -0 "$c" 2>/dev/null || break
    sleep 0.01
  done
  kill -TERM "$c"; wait "$c" || fail "instance c did not stop cleanly"
  cat "$T/c.log" >>"$T/c-all.log"
  if grep -q "stopped while restoring" "$T/c.log"; then caught=$((caught + 1)); fi
  (( caught >= 2 )) && break
done
(( caught >= 1 )) || { tail -n 30 "$T/c-all.log"; fail "no stop landed in a restore in $try tries"; }
echo "stops during a restore: $caught of $try"
wait "$producer" || fail "producer failed"
$PY "$HERE/stream_wordcount.py" expect 1 2 3 4 $LINES >"$T/totals.json"
$PY "$HERE/stream_wordcount.py" verify "$BROKER" word-counts "$T/totals.json" $((90 * mult)) ||
  { tail -n 20 "$T"/a.log "$T"/b.log "$T"/c-all.log; fail "word counts not exactly once"; }
kill -TERM "$a" "$b"
wait "$a" || fail "instance a did not stop cleanly"
wait "$b" || fail "instance b did not stop cleanly"
broker_stop
echo ok
