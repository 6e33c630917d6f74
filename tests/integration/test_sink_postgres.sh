#!/usr/bin/env bash
# `sluice sink postgres` against a real PostgreSQL: JSON records become rows exactly once, through
# a kill -9 of the sink and an immediate stop of the database mid-stream; an upsert mapping keeps
# the last value per key; unmappable and rejected records are dead-lettered with their reason.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/postgres.sh"
pg_have || { echo "SKIP: PostgreSQL is not installed"; exit 0; }
S="$SLUICE"
SINKS=()
pg_cleanup() {
  local rc=$?
  for p in "${SINKS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  pg_stop immediate
  (exit $rc) || cleanup
  cleanup
}
trap pg_cleanup EXIT

broker_start
export SLUICE_BROKERS=$BROKER
pg_start
$S topic create ev -p 3 >/dev/null
$S topic create ev.dlq >/dev/null
psqlc "CREATE TABLE ev (id bigint, name text, score double precision, tags jsonb)"

produce_ev() { # FROM TO
  seq "$1" "$2" | awk '{printf "{\"id\":%d,\"name\":\"n%d\",\"m\":{\"s\":%d.5},\"t\":[%d]}\n", $1, $1, $1, $1}' |
    $S produce ev >/dev/null || fail "produce"
}
start_sink() { # LOGNAME [extra args]
  local log=$1; shift
  $S sink postgres --topic ev --group gev --dsn "$PG_DSN" --table ev \
    --map 'id=id,name=name,score=m.s,tags=t' --log-every-ms 2000 -X session.timeout.ms=6000 "$@" >>"$T/$log" 2>&1 &
  SINK=$!
  SINKS+=("$SINK")
}
count() { psqlc "SELECT count(*) FROM ev"; }
wait_count() { # N SECONDS
  for _ in $(seq 1 $((${2} * 10 * mult))); do
    [[ $(count) -ge $1 ]] && return 0
    kill -0 "$SINK" 2>/dev/null || { tail -n 20 "$T"/sink*.log >&2; fail "the sink exited"; }
    sleep 0.1
  done
  fail "only $(count) of $1 rows after ${2}s"
}
check_exact() { # N
  local n d mn mx
  IFS='|' read -r n d mn mx < <(psqlc "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM ev")
  [[ "$n|$d|$mn|$mx" == "$1|$1|1|$1" ]] || fail "rows: count=$n distinct=$d min=$mn max=$mx, want $1 exactly once"
  [[ $(psqlc "SELECT count(*) FROM ev WHERE name <> 'n' || id OR score <> id + 0.5 OR tags <> jsonb_build_array(id)") == 0 ]] ||
    fail "mapped values are wrong"
}

# 1. Round trip, with /metrics.
APORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
produce_ev 1 2000
start_sink sink1.log --batch-size 200 --admin "127.0.0.1:$APORT"
wait_count 2000 60
sleep 0.5
check_exact 2000
curl -sf "http://127.0.0.1:$APORT/metrics" >"$T/metrics" || fail "/metrics"
grep -q '^sluice_sink_delivered_total 2000$' "$T/metrics" || { cat "$T/metrics" >&2; fail "delivered metric"; }
grep -q '^sluice_sink_lag ' "$T/metrics" || fail "lag metric"

# 2. kill -9 mid-stream, restart: still exactly once (small batches so the kill lands mid-way).
kill -TERM "$SINK"; wait "$SINK" || fail "sink exit status on SIGTERM"
produce_ev 2001 12000
start_sink sink2.log --batch-size 20
wait_count 3000 60
kill -9 "$SINK"; wait "$SINK" 2>/dev/null || true
at_kill=$(count)
echo "killed the sink at $at_kill of 12000 rows"
# Two instances in the group from here on: they share the partitions (and rebalance).
start_sink sink4.log --batch-size 300
SINK4=$SINK
start_sink sink3.log --batch-size 500
wait_count 12000 120
sleep 0.5
check_exact 12000
grep -q "assigned" "$T/sink3.log" || fail "no assignment logged"

# 3. PostgreSQL stopped (immediate) mid-stream and started again: the sink recovers.
produce_ev 12001 20000
wait_count 13000 60
pg_stop immediate
sleep 1
pg_start
wait_count 20000 120
sleep 0.5
check_exact 20000
kill -TERM "$SINK" "$SINK4"
wait "$SINK" || fail "sink exit status after the database restart"
wait "$SINK4" || fail "second sink exit status after the database restart"
grep -q "connect" "$T/sink3.log" "$T/sink4.log" || fail "no sink saw the database go away"
grep -q "assigned [12] partition" "$T/sink4.log" || fail "the second instance got no partitions"

# 4. Upsert keeps the last value per key; bad records go to the dead-letter topic.
$S topic create kv -p 1 >/dev/null
$S topic create kv.bad >/dev/null
psqlc "CREATE TABLE kv (k text PRIMARY KEY, v integer NOT NULL)"
{
  for i in $(seq 1 300); do echo "{\"k\":\"k$((i % 3))\",\"v\":$i}"; done
  echo 'not json'
  echo '{"k":"k9"}'
  echo '{"k":"k8","v":"seven"}'
  echo '{"k":"k7","v":null}'
  echo '{"k":"k1","v":1000}'
} | $S produce kv >/dev/null
$S sink postgres --topic kv --group gkv --dsn "$PG_DSN" --table kv --map 'k=k,v=v' \
  --upsert-key k --dlq-topic kv.bad --batch-size 50 --log-every-ms 0 >>"$T/kv.log" 2>&1 &
SINK=$!; SINKS+=("$SINK")
for _ in $(seq 1 $((600 * mult))); do
  [[ $(psqlc "SELECT coalesce(max(v),0) FROM kv") == 1000 ]] && break; sleep 0.1
done
got=$(psqlc "SELECT string_agg(k || '=' || v, ',' ORDER BY k) FROM kv")
[[ $got == "k0=300,k1=1000,k2=299" ]] || fail "upsert rows: $got"
$S consume kv.bad -o beginning -e --json >"$T/dlq.json" 2>/dev/null || fail "consume dlq"
$PY - "$T/dlq.json" <<'PY' || fail "dead letters"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def hdr(r):
    h = r.get("headers") or {}
    if isinstance(h, list):
        return {(x.get("key") or x.get("name")): x.get("value") for x in h}
    return h
want = {"not json": "bad_json", '{"k":"k9"}': "missing_field", '{"k":"k8","v":"seven"}': "type_error",
        '{"k":"k7","v":null}': "rejected"}
seen = {r["value"]: hdr(r).get("dlq.reason") for r in recs}
if seen != want:
    print("dead letters:", seen, file=sys.stderr); sys.exit(1)
for r in recs:
    h = hdr(r)
    if h.get("dlq.topic") != "kv" or not h.get("dlq.error") or h.get("dlq.partition") != "0":
        print("headers:", h, file=sys.stderr); sys.exit(1)
PY
[[ $(psqlc "SELECT count(*) FROM kv WHERE k IN ('k7','k8','k9')") == 0 ]] || fail "bad records were written"
kill -TERM "$SINK"; wait "$SINK" || fail "kv sink exit status"
[[ $(psqlc "SELECT next_offset FROM sluice_sink_offsets WHERE \"group\"='gkv' AND topic='kv'") == 305 ]] ||
  fail "stored offset of kv"
# 5. A table that does not exist is not retried forever: exit 1 with the reason.
rc=0
timeout $((60 * mult)) $S sink postgres --topic kv --group gnone --dsn "$PG_DSN" --table nosuch \
  --map 'k=k' --log-every-ms 0 >"$T/none.log" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || { cat "$T/none.log" >&2; fail "missing table: exit $rc, want 1"; }
grep -q 'nosuch' "$T/none.log" || fail "the error does not name the table"
pg_stop fast
broker_stop
echo "PASS: sink postgres"
