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
wc_start wcs 6 500
wc_produce 3000 1000 1 2 3 4
wc_run a; a=$!
wc_run b; b=$!
wait_committed word-counts 500
caught=0
for try in 1 2 3 4 5 6; do
  : >"$T/c.log"
  wc_run c; c=$!
  for _ in $(seq $((3000 * mult))); do  # every 10 ms, up to 30 s: its restore begins
    grep -q 'msg="restoring"' "$T/c.log" && break
    kill -0 "$c" 2>/dev/null || break
    sleep 0.01
  done
  wc_stop c
  cat "$T/c.log" >>"$T/c-all.log"
  if grep -q "stopped while restoring" "$T/c.log"; then caught=$((caught + 1)); fi
  (( caught >= 2 )) && break
done
(( caught >= 1 )) || { tail -n 30 "$T/c-all.log"; fail "no stop landed in a restore in $try tries"; }
echo "stops during a restore: $caught of $try"
wait "$producer" || fail "producer failed"
wc_verify $((90 * mult)) "$T"/a.log "$T"/b.log "$T"/c-all.log
wc_stop a b
broker_stop
echo ok
