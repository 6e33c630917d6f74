#!/usr/bin/env bash
# The gateway's WebSocket topic stream against a real broker (tests/integration/ws_client.py, a
# stdlib RFC 6455 client): from earliest, from an offset, from a timestamp, live; ping/pong; the
# handshake's 4xx answers; and a reader that stops reading while 24 MB are produced, which must
# pause the stream (gateway memory stays bounded) rather than buffer it.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/gateway.sh"
# Under ASan freed memory sits in its quarantine (256 MB by default) and still counts in RSS, so
# the stalled-reader bound below would measure the sanitizer: keep the quarantine small.
[[ -n "${SLUICE_ASAN:-}" ]] && export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=1"
broker_start
"$SLUICE" topic create -b "$BROKER" wt --partitions 2 >/dev/null
"$SLUICE" topic create -b "$BROKER" big --partitions 1 >/dev/null
gateway_start
CL=$(gw_cluster)
WS="$PY $(dirname "$0")/ws_client.py"
J='Content-Type: application/json'
produce() {
  curl -sS --max-time $((30 * mult)) -X POST "http://$GW/v3/clusters/$CL/topics/wt/records" -H "$J" \
    -d "{\"partition_id\":0,\"value\":{\"type\":\"STRING\",\"data\":\"$1\"}}"
}
ts_b=""
for v in a b c; do
  out=$(produce $v)
  [[ $v == b ]] && ts_b=$($PY -c 'import json,sys; print(json.loads(sys.argv[1])["timestamp_ms"])' "$out")
  [[ $v == a ]] && sleep 0.01  # distinct timestamps for a and b (ordering only, not a pass condition)
done
vals() { $PY -c 'import json,sys; print(" ".join("%d:%d:%s" % (r["partition"], r["offset"], r["value"]) for r in map(json.loads, sys.stdin.read().split())))'; }

got=$(timeout $((60 * mult)) $WS "$GW" "/ws/topics/wt?from=earliest&format=string&partition=0" read 3 | vals)
[[ "$got" == "0:0:a 0:1:b 0:2:c" ]] || fail "from earliest: $got"
got=$(timeout $((60 * mult)) $WS "$GW" "/ws/topics/wt?from=offset:1&format=string&partition=0" read 2 | vals)
[[ "$got" == "0:1:b 0:2:c" ]] || fail "from offset 1: $got"
got=$(timeout $((60 * mult)) $WS "$GW" "/ws/topics/wt?from=timestamp:$ts_b&format=string" read 2 | vals)
[[ "$got" == "0:1:b 0:2:c" ]] || fail "from timestamp $ts_b: $got"
# live: only what is produced after the stream started
timeout $((60 * mult)) $WS "$GW" "/ws/topics/wt?format=string" read 1 >"$T/live" &
live=$!
for _ in $(seq 1 $((200 * mult))); do
  curl -sS "http://$GW/metrics" | grep -q '^sluice_gateway_ws_streams 1' && break
  sleep 0.05
done
# "latest" is resolved by the consumer after the stream starts: keep producing until one arrives
for i in $(seq 1 $((120 * mult))); do
  kill -0 $live 2>/dev/null || break
  produce "live$i" >/dev/null
  sleep 0.25
done
wait $live || fail "live stream client failed"
got=$(vals <"$T/live")
[[ "$got" == 0:[3-9]:live* || "$got" == 0:[1-9][0-9]*:live* ]] || fail "live: $(cat "$T/live")"
# handshake errors come back as HTTP with a JSON reason
[[ $($WS "$GW" "/ws/topics/nope" status) == 404 ]] || fail "unknown topic"
[[ $($WS "$GW" "/ws/topics/wt?from=yesterday" status) == 400 ]] || fail "bad from"
[[ $($WS "$GW" "/ws/topics/wt?partition=9" status) == 404 ]] || fail "bad partition"
st=$(curl -sS -o /dev/null -w '%{http_code}' "http://$GW/ws/topics/wt")
[[ $st == 400 ]] || fail "plain GET on a stream: $st"

# a stalled reader: 24 MB go into the topic while it reads nothing
rss() { awk '/^VmRSS/ {print $2}' /proc/"$GW_PID"/status; }
$WS "$GW" "/ws/topics/big?from=earliest" stall $((6 * mult)) >"$T/stall" &
stall=$!
for _ in $(seq 1 $((200 * mult))); do
  curl -sS "http://$GW/metrics" | grep -q '^sluice_gateway_ws_streams 1' && break
  sleep 0.05
done
before=$(rss)
"$SLUICE_BUILD/bench/producer_perf" -b "$BROKER" -t big -s 1024 -a 1 -n 24000 -p 1 >/dev/null
during=$(rss)
wait $stall || fail "stalled client failed"
echo "gateway RSS: ${before} kB before, ${during} kB with 24 MB waiting for a stalled reader; $(cat "$T/stall") bytes read after it"
[[ $((during - before)) -lt 16384 ]] || fail "gateway grew by $((during - before)) kB for a stalled reader"
# paused, not dropped: once the reader reads again the stream resumes
[[ $(cat "$T/stall") -gt 1000000 ]] || fail "the stream did not resume after the stall: $(cat "$T/stall") bytes"
curl -sS "http://$GW/health" | grep -q ok || fail "gateway stopped serving"
gateway_stop
broker_stop
echo "ok: gateway WebSocket streams (earliest, offset, timestamp, live), handshake errors, stalled reader paused"
