#!/usr/bin/env bash
# The stream engine end to end: examples/wordcount.so under `sluice run`, exactly once through
# kill -9 of the processor twice (state restored from the changelog, open transactions fenced and
# aborted) and a scale-out from one instance to three and back to two while input flows: every
# word's count updates are exactly 1, 2, ..., total under read_committed.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/stream.sh"
broker_start --set group.initial.rebalance.delay.ms=0
# A 1 s checkpoint interval: a kill then always finds processed but uncommitted work (outputs
# sent, offsets not committed), which at-least-once would replay as duplicates.
wc_start wc 3 1000
progress() { wait_committed word-counts "$1"; } # until the output holds N committed updates
# Input keeps arriving (1,500 lines/s over 6 chunks) for the whole test, so every kill lands while
# records are in flight: between outputs and their offsets there is always something to lose.
wc_produce 3000 1500 1 2 3 4 5 6
wc_run a; a=$!
progress 1000
kill -9 "$a"; wait "$a" 2>/dev/null || true
wc_run a; a=$!
wc_run b; b=$!      # scale out to three instances while records flow
wc_run c; c=$!
progress 6000
wc_stop c  # and back to two: c checkpoints and leaves, its tasks move
progress 9000
kill -9 "$a"; wait "$a" 2>/dev/null || true
wc_run a; a=$!
wait "$producer" || fail "producer failed"
wc_verify $((120 * mult)) "$T"/a.log "$T"/b.log "$T"/c.log
grep -q "restored [1-9][0-9]* changelog records" "$T/a.log" || fail "no state was restored"
# Caught up, the app's group has no lag: its positions on the transactional repartition topic
# move past the commit markers (they stayed one short of each partition's end before).
for _ in $(seq $((60 * mult))); do
  "$SLUICE" group lag wc -b "$BROKER" >"$T/lag" 2>&1 && grep -qx "total lag 0" "$T/lag" && break
  sleep 1
done
grep -qx "total lag 0" "$T/lag" || { cat "$T/lag"; fail "the caught-up app still shows lag"; }
wc_stop a b
grep -h "sluice run:" "$T/a.log" "$T/b.log" | tail -n 2
broker_stop
echo ok
