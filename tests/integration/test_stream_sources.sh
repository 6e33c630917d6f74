#!/usr/bin/env bash
# Sources over a topic list and a topic pattern (examples/user_windows.so with INPUT "ev-a,ev-b"
# and "^ev-.*"): every (topic, partition) is a task with its own watermark, and the windows behind
# the rekey wait for the slowest of them, so ev-b's events, produced after ev-a's whole span with
# the same event times, are on time. ev-c, created while the jobs run, is picked up by the
# pattern (librdkafka's metadata refresh, then a rebalance) and not by the list; its tasks join
# the minimum that the windows wait for before its first event arrives. Every window
# equals the offline count of the topics each job reads, exactly once, with nothing late.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/stream.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(dirname "$0")
trap 'rc=$?; set +e; for q in ${pl:-} ${pp:-}; do kill -9 "$q" 2>/dev/null; done; (exit $rc); cleanup' EXIT
UW=$PWD/$SLUICE_BUILD/examples/user_windows.so
for t in ev-a:2 ev-b:3 out-list:1 out-list-late:1 out-pat:1 out-pat-late:1; do
  "$SLUICE" topic create "${t%:*}" -p "${t#*:}" -b "$BROKER" >/dev/null
done
# Idle after 120 s, not 5: on a loaded machine ev-b's partitions wait longer than 5 s for their
# events (behind ev-a's, and between the two phases while the pattern's job rebalances for
# ev-c), and an idle partition lets the others' watermark close the windows its events fall in.
run() { # APP INPUT OUTPUT
  "$SLUICE" run "$UW" --app-id "$1" -b "$BROKER" --set commit.interval.ms=200 \
    -X topic.metadata.refresh.interval.ms=500 -- "$2" "$3" 10000 1000 2000 120000 >>"$T/$1.log" 2>&1 &
}
run srcl ev-a,ev-b out-list; pl=$!
run srcp '^ev-.*' out-pat; pp=$!
$PY "$HERE/stream_sources.py" produce "$BROKER" 1 || fail "producer failed"
results() { wait_committed "$1" "$2"; }
results out-list 20   # both jobs run and close windows of ev-a and ev-b
results out-pat 20
"$SLUICE" topic create ev-c -p 2 -b "$BROKER" >/dev/null
# The pattern's job finds ev-c; its new tasks tell the windows' tasks they exist (a marker)
# before any of ev-c's events, so the far-ahead events below cannot close windows ev-c feeds.
$PY "$HERE/stream_sources.py" await "$BROKER" srcp-by-user-repartition ev-c/0,ev-c/1 \
  $((30 * mult)) || { tail -n 20 "$T/srcp.log"; fail "the pattern did not pick up ev-c"; }
$PY "$HERE/stream_sources.py" produce "$BROKER" 2 || fail "producer failed"
$PY "$HERE/stream_sources.py" verify "$BROKER" out-list out-list-late ev-a,ev-b $((30 * mult)) ||
  { tail -n 20 "$T/srcl.log"; fail "the list source's windows differ from the reference"; }
$PY "$HERE/stream_sources.py" verify "$BROKER" out-pat out-pat-late ev-a,ev-b,ev-c $((30 * mult)) ||
  { tail -n 20 "$T/srcp.log"; fail "the pattern source's windows differ from the reference"; }
for q in $pl $pp; do
  kill -TERM "$q"
  wait "$q" || fail "a processor did not stop cleanly"
done
pl= pp=
grep "sluice run:" "$T/srcp.log" | tail -n 1
broker_stop
echo ok
