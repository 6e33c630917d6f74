#!/usr/bin/env bash
# Standby replicas (num.standby.replicas=1): word count under two instances that keep warm copies
# of each other's tasks from the changelogs while input flows into 4 partitions. After a kill -9
# of one, the other takes its tasks over from those copies: its restore reads only the
# changelogs' tails (fewer records than a cold restore of the same partitions, which reads them
# whole), and every word's count updates are still exactly 1, 2, ..., total under read_committed.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/stream.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(dirname "$0")
trap 'rc=$?; set +e; for q in ${a:-} ${b:-} ${producer:-}; do kill -9 "$q" 2>/dev/null; done; (exit $rc); cleanup' EXIT
WC=$PWD/$SLUICE_BUILD/examples/wordcount.so
"$SLUICE" topic create text -p 4 -b "$BROKER" >/dev/null
run() { # run INSTANCE: starts an instance with standbys in the background ($! is its pid)
  "$SLUICE" run "$WC" --app-id wsb --instance-id "$1" -b "$BROKER" --set commit.interval.ms=500 \
    --set num.standby.replicas=1 -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 \
    >>"$T/$1.log" 2>&1 &
}
LINES=2000
( for seed in 1 2 3 4 5; do
    $PY "$HERE/stream_wordcount.py" produce "$BROKER" text $seed $LINES 1000 || exit 1
  done ) &
producer=$!
run a; a=$!
wait_committed word-counts 200
run b; b=$!
# b holds tasks of its own and copies of a's once the two-member assignment is in place.
wait_log "$T/b.log" "restored .* changelog records" "b never restored" >/dev/null
wait_committed word-counts 20000
kill -9 "$a"; wait "$a" 2>/dev/null || true
# After a's session expires, b takes every task: the line of that restore names its standbys.
line=$(wait_log "$T/b.log" "tasks=8 msg=\"restored [0-9]+ changelog records from [0-9]+ partitions \([0-9]+ resumed from local state, [1-9][0-9]* from a standby\)" "b did not take a's tasks over from its standbys") || exit 1
echo "takeover: $line"
wait "$producer" || fail "producer failed"
$PY "$HERE/stream_wordcount.py" expect 1 2 3 4 5 $LINES >"$T/totals.json"
$PY "$HERE/stream_wordcount.py" verify "$BROKER" word-counts "$T/totals.json" $((90 * mult)) ||
  { tail -n 20 "$T"/a.log "$T"/b.log; fail "word counts not exactly once"; }
# A cold restore of the moved partitions reads every record they hold; the standbys' takeover read
# only their tails. The moved partitions hold about half the changelog.
warm=$(sed -E 's/.*restored ([0-9]+) changelog records.*/\1/' <<<"$line")
total=$(committed_lines wsb-counts-changelog)
echo "takeover read $warm changelog records; the changelog holds $total"
(( total > 0 && warm * 4 < total )) || fail "the takeover read $warm records of $total: not warm"
kill -TERM "$b"
wait "$b" || fail "instance b did not stop cleanly"
broker_stop
echo ok
