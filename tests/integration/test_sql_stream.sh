#!/usr/bin/env bash
# Streaming SQL end to end (sql_stream.sql under `sluice run`): disordered JSON events into a
# tumbling-window GROUP BY (COUNT, SUM, MAX), a hopping and a session GROUP BY, and a
# filter/projection (nested field, CASE, arithmetic). Every output row equals the offline
# reference computed from the same events, exactly once through a kill -9 of the processor.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
# A failing check exits at once: stop the processes this test started, then the broker.
trap 'rc=$?; set +e; for q in ${p:-} ${producer:-}; do kill -9 "$q" 2>/dev/null; done; (exit $rc); cleanup' EXIT
HERE=$(cd "$(dirname "$0")" && pwd)
for t in events:3 events-late:1 sql-tumble:1 sql-hop:1 sql-session:1 sql-big:1; do
  "$SLUICE" topic create "${t%:*}" -p "${t#*:}" -b "$BROKER" >/dev/null
done
run() {
  "$SLUICE" run "$HERE/sql_stream.sql" --app-id sqlt -b "$BROKER" --set commit.interval.ms=500 \
    -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 >>"$T/sql.log" 2>&1 &
}
$PY "$HERE/sql_stream.py" produce "$BROKER" events 4000 &
producer=$!
run; p=$!
for _ in $(seq $((300 * mult))); do  # wait for the first results, then crash mid-stream
  (( $(timeout 10 "$SLUICE" consume sql-tumble -b "$BROKER" -o beginning -e \
       -X isolation.level=read_committed 2>/dev/null | wc -l) >= 20 )) && break
  sleep 0.2
done
kill -9 "$p"; wait "$p" 2>/dev/null || true
run; p=$!
wait "$producer" || fail "producer failed"
$PY "$HERE/sql_stream.py" verify "$BROKER" $((120 * mult)) ||
  { tail -n 20 "$T/sql.log"; fail "SQL query output differs from the offline reference"; }
kill -TERM "$p"
wait "$p" || fail "the processor did not stop cleanly"
grep "sluice run:" "$T/sql.log" | tail -n 1
broker_stop
echo ok
