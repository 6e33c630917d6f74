#!/usr/bin/env bash
# The stream engine end to end: examples/wordcount.so under `sluice run`, exactly once through
# kill -9 of the processor twice (state restored from the changelog, open transactions fenced and
# aborted) and a scale-out from one instance to three and back to two while input flows: every
# word's count updates are exactly 1, 2, ..., total under read_committed.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/stream.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(dirname "$0")
# A failing check exits at once: stop the processes this test started, then the broker.
trap 'rc=$?; set +e; for q in ${a:-} ${b:-} ${c:-} ${producer:-}; do kill -9 "$q" 2>/dev/null; done; (exit $rc); cleanup' EXIT
WC=$PWD/$SLUICE_BUILD/examples/wordcount.so
"$SLUICE" topic create text -p 3 -b "$BROKER" >/dev/null
# A 1 s checkpoint interval: a kill then always finds processed but uncommitted work (outputs
# sent, offsets not committed), which at-least-once would replay as duplicates.
run() { # run INSTANCE: starts an instance in the background ($! is its pid)
  "$SLUICE" run "$WC" --app-id wc --instance-id "$1" -b "$BROKER" --set commit.interval.ms=1000 \
    -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 >>"$T/$1.log" 2>&1 &
}
progress() { wait_committed word-counts "$1"; } # until the output holds N committed updates
LINES=3000
# Input keeps arriving (1,500 lines/s over 6 chunks) for the whole test, so every kill lands while
# records are in flight: between outputs and their offsets there is always something to lose.
( for seed in 1 2 3 4 5 6; do
    $PY "$HERE/stream_wordcount.py" produce "$BROKER" text $seed $LINES 1500 || exit 1
  done ) &
producer=$!
run a; a=$!
progress 1000
kill -9 "$a"; wait "$a" 2>/dev/null || true
run a; a=$!
run b; b=$!      # scale out to three instances while records flow
run c; c=$!
progress 6000
kill -TERM "$c"  # and back to two: c checkpoints and leaves, its tasks move
wait "$c" || fail "instance c did not stop cleanly"
progress 9000
kill -9 "$a"; wait "$a" 2>/dev/null || true
run a; a=$!
wait "$producer" || fail "producer failed"
$PY "$HERE/stream_wordcount.py" expect 1 2 3 4 5 6 $LINES >"$T/totals.json"
$PY "$HERE/stream_wordcount.py" verify "$BROKER" word-counts "$T/totals.json" $((120 * mult)) ||
  { tail -n 20 "$T"/a.log "$T"/b.log "$T"/c.log; fail "word counts not exactly once"; }
grep -q "restored [1-9][0-9]* changelog records" "$T/a.log" || fail "no state was restored"
# Caught up, the app's group has no lag: its positions on the transactional repartition topic
# move past the commit markers (they stayed one short of each partition's end before).
for _ in $(seq $((60 * mult))); do
  "$SLUICE" group lag wc -b "$BROKER" >"$T/lag" 2>&1 && grep -qx "total lag 0" "$T/lag" && break
  sleep 1
done
grep -qx "total lag 0" "$T/lag" || { cat "$T/lag"; fail "the caught-up app still shows lag"; }
kill -TERM "$a" "$b"
wait "$a" || fail "instance a did not stop cleanly"
wait "$b" || fail "instance b did not stop cleanly"
grep -h "sluice run:" "$T/a.log" "$T/b.log" | tail -n 2
broker_stop
echo ok
