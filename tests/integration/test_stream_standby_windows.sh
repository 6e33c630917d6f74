#!/usr/bin/env bash
# Standby replicas of windowed state (num.standby.replicas=1): examples/user_windows.so (per-user
# 10 s tumbling counts behind a repartition topic) on two instances that keep warm copies of each
# other's window stores and watermarks while disordered events flow into 4 partitions. After a
# kill -9 of one, the other takes every task over from its copies: its restore reads only the
# changelog's tail, /metrics showed the copies' lag, and every window's final count is still
# exactly once and equal to the offline reference under read_committed (no window fired twice or
# lost after the takeover; the too-late events in the late topic exactly once).
# SL_STANDBY_STORE=rocksDB runs the same with RocksDB stores (test_stream_standby_rocksdb.sh):
# the copies then live in each lane's own standby directory, which the takeover moves into place.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/stream.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(dirname "$0")
trap 'rc=$?; set +e; for q in ${a:-} ${b:-} ${producer:-}; do kill -9 "$q" 2>/dev/null; done; (exit $rc); cleanup' EXIT
UW=$PWD/$SLUICE_BUILD/examples/user_windows.so
STORE=${SL_STANDBY_STORE:-in_memory}
for t in events:4 user-counts:1 user-counts-late:1; do
  "$SLUICE" topic create "${t%:*}" -p "${t#*:}" -b "$BROKER" >/dev/null
done
run() { # run INSTANCE: starts an instance with standbys in the background ($! is its pid)
  "$SLUICE" run "$UW" --app-id uwsb --instance-id "$1" -b "$BROKER" --state-dir "$T/state" \
    --admin 127.0.0.1:0 --set default.dsl.store="$STORE" --set commit.interval.ms=500 \
    --set num.standby.replicas=1 -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 \
    >>"$T/$1.log" 2>&1 &
}
# 20,000 events at 1,000/s: the kill below lands mid-stream, with windows open on both sides.
$PY "$HERE/stream_windows.py" produce "$BROKER" events 1000 &
producer=$!
run a; a=$!
wait_committed user-counts 30
run b; b=$!
# b holds tasks of its own and copies of a's once the two-member assignment is in place; the
# copies of a's windowed tasks show their lag on b's /metrics.
lagged=$(wait_standbys "$T/b.log" uwsb "1_[0-3]") || exit 1
echo "b's standbys: $lagged"
if [[ $STORE == rocksDB ]]; then
  ls "$T"/state/uwsb/b/standby-0/1_*/per-user/CURRENT >/dev/null ||
    fail "no RocksDB copy under b's standby directory"
fi
wait_committed user-counts 120
kill -9 "$a"; wait "$a" 2>/dev/null || true
# After a's session expires, b takes all 8 tasks (4 windowed): the line of that restore says every
# window store partition came from a copy.
line=$(wait_log "$T/b.log" "tasks=8 msg=\"restored [0-9]+ changelog records from 4 partitions \([0-9]+ resumed from local state, 4 from a standby\)" "b did not take a's windowed tasks over from its standbys") || exit 1
echo "takeover: $line"
wait "$producer" || fail "producer failed"
$PY "$HERE/stream_windows.py" verify "$BROKER" user-counts user-counts-late $((120 * mult)) ||
  { tail -n 20 "$T"/a.log "$T"/b.log; fail "windowed counts differ from the offline reference"; }
# A cold restore of the moved partitions reads every record they hold; the takeover read only
# their tails.
warm=$(sed -E 's/.*restored ([0-9]+) changelog records.*/\1/' <<<"$line")
total=$(committed_lines uwsb-per-user-changelog)
echo "takeover read $warm changelog records; the changelog holds $total"
(( total > 0 && warm * 4 < total )) || fail "the takeover read $warm records of $total: not warm"
if [[ $STORE == rocksDB ]]; then
  # The copies' directories became the tasks' own; b, running every task, keeps no copy.
  for p in 0 1 2 3; do
    [[ -f $T/state/uwsb/b/1_$p/per-user/CURRENT ]] || fail "task 1_$p has no RocksDB store"
  done
  ! ls -d "$T"/state/uwsb/b/standby-0/1_* 2>/dev/null || fail "standby directories left behind"
fi
kill -TERM "$b"
wait "$b" || fail "instance b did not stop cleanly"
broker_stop
echo ok
