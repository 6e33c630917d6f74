#!/usr/bin/env bash
# Nexmark in SQL (bench/nexmark/q0, q1, q2, q5, q7 .sql under `sluice run`, over `sluice bench
# --nexmark`): each query's output, read under read_committed, equals its batch equivalent run by
# SQLite on the same events (nexmark_sql_check.py), row for row and each row exactly once. q5 is
# one statement, a grouped query over a windowed subquery (the per-auction hopping-window counts),
# planned as two aggregates in one pipeline: its per-window maxima are checked.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(cd "$(dirname "$0")" && pwd)
NX=$HERE/../../bench/nexmark
# 12,000 events over 60 s of event time: 30 windows of q5, 6 of q7.
"$SLUICE" bench --nexmark -b "$BROKER" --partitions 4 --rate 0 --count 12000 \
  --set progress=false --set payload.seed=7 --set nexmark.event.rate=200 >"$T/gen.log" ||
  { cat "$T/gen.log"; fail "generator"; }
check() { $PY "$HERE/nexmark_sql_check.py" "$@"; }
# Flush 1 closes every window over the real events (q5's outer windows close once the
# subquery's windows of flush 1 reach them, which flush 2 makes sure of, below).
check flush "$BROKER" nexmark 200
for t in q0 q1 q2 q5 q7; do
  "$SLUICE" topic create "nexmark-sql-$t" -p 1 -b "$BROKER" >/dev/null
done
pids=()
trap 'rc=$?; set +e; kill -9 "${pids[@]}" 2>/dev/null; (exit $rc); cleanup' EXIT
for q in q0 q1 q2 q5 q7; do
  "$SLUICE" run "$NX/$q.sql" --app-id "nxsql-$q" -b "$BROKER" --set commit.interval.ms=200 \
    >>"$T/$q.log" 2>&1 &
  pids+=($!)
done
rc=0
verify() { # verify QUERY: compares topic nexmark-sql-QUERY with the reference
  check verify "$BROKER" nexmark "$1" "nexmark-sql-$1" $((90 * mult)) ||
    { tail -n 5 "$T/$1.log"; rc=1; }
}
for q in q0 q1 q2 q7; do verify "$q"; done
check flush "$BROKER" nexmark 400
verify q5
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || fail "a processor did not stop cleanly"; done
pids=()
[[ $rc == 0 ]] || fail "a SQL query's output differs from the SQLite reference"
grep -h "sluice run:" "$T"/q*.log
broker_stop
echo ok
