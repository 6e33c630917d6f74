#!/usr/bin/env bash
# Exactly once through many rebalances: examples/wordcount.so under two to three `sluice run`
# instances that join, leave (SIGTERM) and die (kill -9) every second or two while input flows
# fast into 6 partitions, so each rebalance finds fetched but not yet processed records. With
# cooperative-sticky lanes, librdkafka 2.0.2 dropped those of the partitions a member kept and
# fetched on past them, and the lane committed past records it never processed (docs/stream.md,
# "Rebalances"; 3 of 3 runs failed then). Every word's updates must be exactly 1, 2, ..., total.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/stream.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(dirname "$0")
trap 'rc=$?; set +e; for q in ${a:-} ${b:-} ${c:-} ${producer:-}; do kill -9 "$q" 2>/dev/null; done; (exit $rc); cleanup' EXIT
WC=$PWD/$SLUICE_BUILD/examples/wordcount.so
"$SLUICE" topic create text -p 6 -b "$BROKER" >/dev/null
run() { # run INSTANCE: starts an instance in the background ($! is its pid)
  "$SLUICE" run "$WC" --app-id wcr --instance-id "$1" -b "$BROKER" --set commit.interval.ms=500 \
    -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 >>"$T/$1.log" 2>&1 &
}
LINES=4000
( for seed in 1 2 3 4; do
    $PY "$HERE/stream_wordcount.py" produce "$BROKER" text $seed $LINES 2500 || exit 1
  done ) &
producer=$!
run a; a=$!
run b; b=$!
wait_committed word-counts 500
# Joins and clean leaves: each one a rebalance while a and b hold partitions with fetched records.
for _ in 1 2 3; do
  run c; c=$!
  sleep 1.5
  kill -TERM "$c"; wait "$c" || fail "instance c did not stop cleanly"
  sleep 1
done
kill -9 "$b"; wait "$b" 2>/dev/null || true # a dies: its replacement joins under a new member id
run b; b=$!
sleep 2
run c; c=$!
sleep 1.5
kill -TERM "$c"; wait "$c" || fail "instance c did not stop cleanly"
wait "$producer" || fail "producer failed"
$PY "$HERE/stream_wordcount.py" expect 1 2 3 4 $LINES >"$T/totals.json"
$PY "$HERE/stream_wordcount.py" verify "$BROKER" word-counts "$T/totals.json" $((90 * mult)) ||
  { tail -n 20 "$T"/a.log "$T"/b.log "$T"/c.log; fail "word counts not exactly once"; }
kill -TERM "$a" "$b"
wait "$a" || fail "instance a did not stop cleanly"
wait "$b" || fail "instance b did not stop cleanly"
broker_stop
echo ok
