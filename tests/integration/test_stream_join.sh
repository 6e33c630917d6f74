#!/usr/bin/env bash
# Joins end to end.
# (1) examples/enrichment.so: demo-style events (binary header + JSON), re-keyed by user,
#     left-joined with a user-profile table that was updated and partly deleted before them:
#     every event enriched exactly once with the profile the offline reference gives (null for
#     users without one). With events keyed by user already in their topic before the (older)
#     profiles arrive, the task still applies every profile first: it runs its inputs by time.
# (2) examples/click_join.so: a windowed outer join of disordered impressions and clicks,
#     exactly once through three kill -9 of the processor, a kill -9 and restart of the broker,
#     then a scale-out to two instances: under read_committed every pair within the window, and
#     every record that matched nothing, appears exactly once, as computed offline.
# (3) A join over topics with different partition counts is refused at start, with the reason.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
port=${BROKER##*:}
e= p= producer=
stop_all() { # the processors and producer this test started, then the broker's cleanup
  local rc=$?
  for pid in $e $p $producer; do kill -9 "$pid" 2>/dev/null || true; done
  (exit $rc)
  cleanup
}
trap stop_all EXIT
HERE=$(dirname "$0")
EX=$PWD/$SLUICE_BUILD/examples
for t in demo:3 user-profiles:2 demo-enriched:1 impressions:3 clicks:3 ad-clicks:1 \
         ad-clicks-late:1 imp-two:2 keyed-events:2 keyed-profiles:2 keyed-enriched:1; do
  "$SLUICE" topic create "${t%:*}" -p "${t#*:}" -b "$BROKER" >/dev/null
done

# ---- (1) enrichment ----
$PY "$HERE/stream_join.py" enrich-produce "$BROKER" demo user-profiles || fail "enrich producer"
"$SLUICE" run "$EX/enrichment.so" --app-id enrich -b "$BROKER" --set commit.interval.ms=200 \
  --set max.task.idle.ms=$((5000 * mult)) >>"$T/enrich.log" 2>&1 &
e=$!
$PY "$HERE/stream_join.py" enrich-verify "$BROKER" demo-enriched $((120 * mult)) ||
  { tail -n 20 "$T/enrich.log"; fail "enriched events differ from the offline reference"; }
kill -TERM "$e"
wait "$e" || { tail -n 20 "$T/enrich.log"; fail "the enrichment processor did not stop cleanly"; }
grep "sluice run:" "$T/enrich.log" | tail -n 1

# ---- (1b) time order across a task's inputs ----
# Events keyed by user are already in their topic when the (older) profiles arrive: the task must
# still apply every profile before the events it fetched first, by their times.
$PY "$HERE/stream_join.py" enrich-produce "$BROKER" keyed-events keyed-profiles keyed ||
  fail "keyed enrich producer"
"$SLUICE" run "$EX/enrichment.so" --app-id enrich-keyed -b "$BROKER" \
  --set max.task.idle.ms=$((5000 * mult)) -- keyed-events keyed-profiles keyed-enriched keyed \
  >>"$T/keyed.log" 2>&1 &
e=$!
$PY "$HERE/stream_join.py" enrich-verify "$BROKER" keyed-enriched $((120 * mult)) ||
  { tail -n 20 "$T/keyed.log"; fail "events were joined out of time order"; }
kill -TERM "$e"
wait "$e" || { tail -n 20 "$T/keyed.log"; fail "the keyed enrichment did not stop cleanly"; }

# ---- (3) co-partitioning is checked ----
if "$SLUICE" run "$EX/click_join.so" --app-id cj-bad -b "$BROKER" -- imp-two clicks bad-out \
    >"$T/bad.log" 2>&1; then
  fail "a join of a 2-partition and a 3-partition topic ran"
fi
grep -q "not co-partitioned" "$T/bad.log" || { cat "$T/bad.log"; fail "no co-partitioning error"; }

# ---- (2) windowed join through crashes ----
run() { # [--instance-id N]
  "$SLUICE" run "$EX/click_join.so" --app-id cj "$@" -b "$BROKER" --set commit.interval.ms=200 \
    -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 \
    -- impressions clicks ad-clicks 200 500 500 >>"$T/cj.log" 2>&1 &
  p=$!
}
outputs() {
  timeout 10 "$SLUICE" consume ad-clicks -b "$BROKER" -o beginning -e \
    -X isolation.level=read_committed 2>/dev/null | wc -l
}
wait_outputs() { # at least $1 committed results, or fail
  for _ in $(seq $((600 * mult))); do
    (( $(outputs) >= $1 )) && return 0
    kill -0 "$p" 2>/dev/null || { tail -n 20 "$T/cj.log"; fail "the processor died"; }
    sleep 0.2
  done
  tail -n 20 "$T/cj.log"; fail "fewer than $1 results"
}
$PY "$HERE/stream_join.py" click-produce "$BROKER" 800 >"$T/prod.log" 2>&1 &
producer=$!
run
wait_outputs 300
kill -9 "$p"; wait "$p" 2>/dev/null || true
echo "processor killed -9 (1)"
run
wait_outputs 1500
kill -9 "$p"; wait "$p" 2>/dev/null || true
echo "processor killed -9 (2)"
run
wait_outputs 2500
kill -9 "$p"; wait "$p" 2>/dev/null || true
echo "processor killed -9 (3)"
run
wait_outputs 4000
broker_kill
echo "broker killed -9; restarting on port $port"
sleep 0.3
broker_start --set group.initial.rebalance.delay.ms=0 --listen "127.0.0.1:$port"
first=$p
run --instance-id 1 # scale out: the group moves tasks (and their buffers) to a second instance
second=$p
p="$first $second"
wait "$producer" || { cat "$T/prod.log"; fail "producer failed"; }
$PY "$HERE/stream_join.py" click-verify "$BROKER" ad-clicks ad-clicks-late $((180 * mult)) ||
  { tail -n 30 "$T/cj.log"; fail "join results differ from the offline reference"; }
kill -TERM $first $second
for pid in $first $second; do
  wait "$pid" || { tail -n 20 "$T/cj.log"; fail "a processor did not stop cleanly"; }
done
grep "sluice run:" "$T/cj.log" | tail -n 2
broker_stop
echo ok
