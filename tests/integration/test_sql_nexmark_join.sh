#!/usr/bin/env bash
# Nexmark's joins in SQL (bench/nexmark/q3, q8, q4, q6 .sql under `sluice run`, over `sluice bench
# --nexmark`): each query's output, read under read_committed, equals its batch equivalent run by
# SQLite on the same events (nexmark_sql_check.py), row for row and each row exactly once. q3 is
# a windowed join of auctions with people, q8 a window over such a join's output, q4 and q6 a
# window over a join of auctions with bids (their closing prices, checked too) and a running
# average over those read back from a topic.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(cd "$(dirname "$0")" && pwd)
NX=$HERE/../../bench/nexmark
# 12,000 events over 60 s of event time: 240 people, 720 auctions.
"$SLUICE" bench --nexmark -b "$BROKER" --partitions 4 --rate 0 --count 12000 \
  --set progress=false --set payload.seed=7 --set nexmark.event.rate=200 >"$T/gen.log" ||
  { cat "$T/gen.log"; fail "generator"; }
check() { $PY "$HERE/nexmark_sql_check.py" "$@"; }
for t in q3 q8 q4-closed q4 q6-closed q6; do
  "$SLUICE" topic create "nexmark-sql-$t" -p 1 -b "$BROKER" >/dev/null
done
pids=()
trap 'rc=$?; set +e; kill -9 "${pids[@]}" 2>/dev/null; (exit $rc); cleanup' EXIT
for q in q3 q8 q4 q6; do
  "$SLUICE" run "$NX/$q.sql" --app-id "nxsql-$q" -b "$BROKER" --set commit.interval.ms=200 \
    >>"$T/$q.log" 2>&1 &
  pids+=($!)
done
# The flush (events 200 s past the last one, to close every join buffer and window over the real
# events) goes in once every query has taken in every real event: a join's watermark is the
# largest time it has seen (less the disorder), so a flush event read early by one input task
# would make the other tasks' records late.
consumed() { # consumed APP: the records of topic nexmark APP has committed
  "$SLUICE" group lag "$1" -b "$BROKER" 2>/dev/null |
    awk '$1 == "nexmark" && $3 ~ /^[0-9]+$/ { s += $3 } END { print s + 0 }'
}
for q in q3 q8 q4 q6; do
  for _ in $(seq $((180 * mult))); do
    (( $(consumed "nxsql-$q") >= 12000 )) && break
    sleep 0.5
  done
  (( $(consumed "nxsql-$q") >= 12000 )) || { tail -n 5 "$T/$q.log"; fail "$q did not read its input"; }
done
check flush "$BROKER" nexmark 200
rc=0
for q in q3 q8 q4-closed q4 q6-closed q6; do
  check verify "$BROKER" nexmark "$q" "nexmark-sql-$q" $((90 * mult)) ||
    { tail -n 5 "$T/${q%-closed}.log"; rc=1; }
done
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || fail "a processor did not stop cleanly"; done
pids=()
[[ $rc == 0 ]] || fail "a SQL query's output differs from the SQLite reference"
grep -h "sluice run:" "$T"/q*.log
broker_stop
echo ok
