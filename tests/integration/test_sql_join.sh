#!/usr/bin/env bash
# SQL joins end to end (sql_join.sql under `sluice run`): events LEFT JOIN a users table (updated
# and partly deleted before the events; the events re-keyed by user through a repartition topic)
# and a windowed FULL OUTER JOIN of disordered impressions and clicks. Under read_committed every
# output row equals the offline reference exactly once, through a kill -9 of the processor.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(cd "$(dirname "$0")" && pwd)
p= producer=
stop_all() { # the processor and producer this test started, then the broker's cleanup
  local rc=$?
  for pid in $p $producer; do kill -9 "$pid" 2>/dev/null || true; done
  (exit $rc)
  cleanup
}
trap stop_all EXIT
# One partition per join input: a re-keyed input of several partitions reaches the join task from
# several upstream tasks at their own paces, and the join's watermark (from its records' times)
# would make the slower ones late (docs/sql.md, Joins).
for t in sj-users:2 sj-events:2 sj-imps:1 sj-clicks:1 sj-enriched:1 sj-pairs:1; do
  "$SLUICE" topic create "${t%:*}" -p "${t#*:}" -b "$BROKER" >/dev/null
done
run() {
  SLUICE_SQL_CATALOG=$T/none.sql "$SLUICE" run "$HERE/sql_join.sql" --app-id sqlj -b "$BROKER" \
    --set commit.interval.ms=300 --set max.task.idle.ms=$((5000 * mult)) \
    -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 >>"$T/sqlj.log" 2>&1 &
  p=$!
}
$PY "$HERE/sql_join.py" produce "$BROKER" 200 >"$T/prod.log" 2>&1 &
producer=$!
run
# Crash once half the input is written and some results are committed: the restart must
# neither repeat nor lose a row (its pending join buffers come back from the changelog).
for _ in $(seq $((300 * mult))); do
  grep -q half "$T/prod.log" &&
    (( $(timeout 10 "$SLUICE" consume sj-enriched -b "$BROKER" -o beginning -e \
         -X isolation.level=read_committed 2>/dev/null | wc -l) > 0 )) && break
  kill -0 "$p" 2>/dev/null || { tail -n 20 "$T/sqlj.log"; fail "the processor died"; }
  sleep 0.2
done
kill -9 "$p"; wait "$p" 2>/dev/null || true
echo "processor killed -9"
run
wait "$producer" || { cat "$T/prod.log"; fail "producer failed"; }
producer=
$PY "$HERE/sql_join.py" verify "$BROKER" $((120 * mult)) ||
  { tail -n 20 "$T/sqlj.log"; fail "SQL join output differs from the offline reference"; }
kill -TERM "$p"
wait "$p" || { tail -n 20 "$T/sqlj.log"; fail "the processor did not stop cleanly"; }
p=
last=$(grep "sluice run: in=" "$T/sqlj.log" | tail -n 1)
echo "$last"
[[ $last =~ in=([0-9]+) ]] && (( BASH_REMATCH[1] > 0 )) ||
  fail "the restarted processor read nothing: the kill -9 did not land mid-stream"
broker_stop
echo ok
