#!/usr/bin/env bash
# sluice gateway against a real broker: REST v3 produce with JSON, BINARY and STRING keys and
# values, headers, an explicit partition and a streamed multi-record request, read back through
# a v2 consumer instance (binary format, so every byte is compared) and with kcat; then every 4xx
# path, and the gateway still serving afterwards.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/gateway.sh"
broker_start
"$SLUICE" topic create -b "$BROKER" rt --partitions 2 >/dev/null
cat >"$T/gw.conf" <<CONF
max.request.bytes=4096
CONF
gateway_start --config "$T/gw.conf"

J='Content-Type: application/json'
V2='Content-Type: application/vnd.kafka.v2+json'
CL=$(gw_cluster)
P=/v3/clusters/$CL/topics/rt/records
# expect STATUS OUTPUT: the last line of OUTPUT (gw_curl) is the status; prints the body.
expect() {
  local want=$1 out=$2
  local got=${out##*$'\n'}
  [[ "$got" == "$want" ]] || fail "expected HTTP $want, got $got: $out"
  printf '%s\n' "${out%$'\n'*}"
}
field() { $PY -c "import json,sys; d=json.loads(sys.stdin.read().split('\n')[$2]); print(d$1)"; }

# --- produce: one record of each type, answered with partition and offset ---
out=$(expect 200 "$(gw_curl POST $P -H "$J" -d '{"partition_id":0,"key":{"type":"STRING","data":"k-str"},"value":{"type":"STRING","data":"héllo"}}')")
[[ $(field "['partition_id']" 0 <<<"$out") == 0 && $(field "['offset']" 0 <<<"$out") == 0 ]] || fail "string record: $out"
out=$(expect 200 "$(gw_curl POST $P -H "$J" -d '{"partition_id":0,"key":{"type":"BINARY","data":"AAEC/w=="},"value":{"type":"BINARY","data":"3q2+7w=="},"headers":[{"name":"trace","value":"dHJhY2UtMQ=="}]}')")
[[ $(field "['offset']" 0 <<<"$out") == 1 && $(field "['value']['size']" 0 <<<"$out") == 4 ]] || fail "binary record: $out"
out=$(expect 200 "$(gw_curl POST $P -H "$J" -d '{"partition_id":0,"key":{"type":"JSON","data":7},"value":{"type":"JSON","data":{"n":1,"s":"x"}}}')")
[[ $(field "['offset']" 0 <<<"$out") == 2 ]] || fail "json record: $out"
# --- a streamed request: three records in one body, one result each, in order ---
out=$(expect 200 "$(gw_curl POST $P -H "$J" --data-binary $'{"partition_id":1,"value":{"type":"STRING","data":"s1"}}\n{"partition_id":1,"value":{"type":"STRING","data":"s2"}}\n  {"partition_id":1,"value":{"type":"STRING","data":"s3"}}')")
for i in 0 1 2; do
  [[ $(field "['offset']" $i <<<"$out") == "$i" && $(field "['partition_id']" $i <<<"$out") == 1 ]] || fail "streamed record $i: $out"
done

# --- consume through a v2 instance (binary format: base64 of the exact bytes) ---
expect 200 "$(gw_curl POST /consumers/g1 -H "$V2" -d '{"name":"i1","format":"binary","auto.offset.reset":"earliest"}')" >/dev/null
expect 204 "$(gw_curl POST /consumers/g1/instances/i1/subscription -H "$V2" -d '{"topics":["rt"]}')" >/dev/null
got="[]"
for _ in $(seq 1 $((20 * mult))); do
  more=$(expect 200 "$(gw_curl GET '/consumers/g1/instances/i1/records?timeout=2000')")
  got=$($PY -c "import json,sys; print(json.dumps(json.loads(sys.argv[1]) + json.loads(sys.argv[2])))" "$got" "$more")
  [[ $($PY -c "import json,sys; print(len(json.loads(sys.argv[1])))" "$got") -ge 6 ]] && break
done
$PY - "$got" <<'PY' || fail "consumed records differ: $got"
import base64, json, sys
recs = {(r["partition"], r["offset"]): r for r in json.loads(sys.argv[1])}
b = lambda s: base64.b64decode(s) if s is not None else None
want = {(0, 0): (b"k-str", "héllo".encode()), (0, 1): (b"\x00\x01\x02\xff", b"\xde\xad\xbe\xef"),
        (0, 2): (b"7", b'{"n":1,"s":"x"}'), (1, 0): (None, b"s1"), (1, 1): (None, b"s2"),
        (1, 2): (None, b"s3")}
assert len(recs) == 6, recs
for k, (key, val) in want.items():
    r = recs[k]
    assert r["topic"] == "rt" and b(r["key"]) == key and b(r["value"]) == val, (k, r)
PY
expect 204 "$(gw_curl POST /consumers/g1/instances/i1/offsets)" >/dev/null
expect 204 "$(gw_curl DELETE /consumers/g1/instances/i1)" >/dev/null
# the commit reached the group: a new instance of g1 starts after everything
expect 200 "$(gw_curl POST /consumers/g1 -H "$V2" -d '{"name":"i2","format":"string","auto.offset.reset":"earliest"}')" >/dev/null
expect 204 "$(gw_curl POST /consumers/g1/instances/i2/subscription -H "$V2" -d '{"topics":["rt"]}')" >/dev/null
expect 200 "$(gw_curl POST $P -H "$J" -d '{"partition_id":1,"value":{"type":"STRING","data":"after"}}')" >/dev/null
seen=""
for _ in $(seq 1 $((20 * mult))); do
  seen+=$(expect 200 "$(gw_curl GET '/consumers/g1/instances/i2/records?timeout=2000')")
  [[ "$seen" == *after* ]] && break
done
[[ "$seen" == *'"value":"after"'* && "$seen" != *'"s1"'* ]] || fail "committed offsets not used: $seen"
expect 204 "$(gw_curl DELETE /consumers/g1/instances/i2)" >/dev/null
# kcat sees the gateway's records too (headers included)
kc=$(kcat -b "$BROKER" -C -t rt -p 0 -o 1 -c 1 -e -f '%h' 2>/dev/null)
[[ "$kc" == "trace=trace-1" ]] || fail "kcat header: '$kc'"

# --- every 4xx path answers JSON with a reason ---
err() { # err STATUS CODE curl-args...
  local st=$1 code=$2; shift 2
  local out; out=$(expect "$st" "$(gw_curl "$@")")
  [[ $(field "['error_code']" 0 <<<"$out") == "$code" ]] || fail "want error_code $code: $out"
  [[ -n $(field "['message']" 0 <<<"$out") ]] || fail "no message: $out"
}
err 415 41501 POST $P -H 'Content-Type: text/plain' -d '{"value":{"data":1}}'
err 415 41501 POST $P -d '{"value":{"data":1}}'   # curl's default form type
err 400 40001 POST $P -H "$J" -d '{"value":'
err 400 40001 POST $P -H "$J" -d '{"value":{"type":"STRING","data":"a"}} garbage'
err 400 40004 POST $P -H "$J" -d '   '
err 400 40003 POST $P -H "$J" -d '[1,2]'
err 400 40003 POST $P -H "$J" -d '{"value":{"type":"BINARY","data":"not base64!"}}'
err 400 40003 POST $P -H "$J" -d '{"value":{"type":"AVRO","data":"x"}}'
err 400 40003 POST $P -H "$J" -d '{"value":{"type":"STRING","data":5}}'
err 400 40003 POST $P -H "$J" -d '{"partition_id":-1,"value":{"data":1}}'
err 400 40003 POST $P -H "$J" -d '{"value":{"data":1},"headers":[{"value":"YQ=="}]}'
err 413 41301 POST $P -H "$J" --data-binary "{\"value\":{\"type\":\"STRING\",\"data\":\"$(head -c 5000 /dev/zero | tr '\0' a)\"}}"
# {cluster} is the brokers' cluster id (GET /v3/clusters tells it); another id is 404 40404
want_cl=$(sed -n 's/.* cluster=\([^ ]*\).*/\1/p' "$T/broker.log" | head -1)
[[ -n "$want_cl" && "$CL" == "$want_cl" ]] || fail "GET /v3/clusters gave $CL, the broker says $want_cl"
out=$(expect 200 "$(gw_curl GET /v3/clusters/$CL)")
[[ $(field "['cluster_id']" 0 <<<"$out") == "$CL" ]] || fail "GET /v3/clusters/$CL: $out"
err 404 40404 GET /v3/clusters/not-$CL
err 404 40404 POST /v3/clusters/not-$CL/topics/rt/records -H "$J" -d '{"value":{"data":1}}'
err 404 40401 POST /v3/clusters/$CL/topics/nope/records -H "$J" -d '{"value":{"data":1}}'
err 404 40402 POST $P -H "$J" -d '{"partition_id":7,"value":{"data":1}}'
err 405 405 GET $P
err 404 404 GET /v3/nothing
err 404 40403 GET /consumers/g1/instances/ghost/records
err 422 42201 POST /consumers/g2 -H "$V2" -d '{"format":"avro"}'
err 415 41501 POST /consumers/g2 -H 'Content-Type: text/plain' -d '{}'
err 400 40001 POST /consumers/g2 -H "$V2" -d '{oops'
expect 200 "$(gw_curl POST /consumers/g2 -H "$V2" -d '{"name":"dup"}')" >/dev/null
err 409 40902 POST /consumers/g2 -H "$V2" -d '{"name":"dup"}'
err 422 42205 POST /consumers/g2/instances/dup/subscription -H "$V2" -d '{"topics":[]}'
err 400 40005 GET '/consumers/g2/instances/dup/records?timeout=abc'
expect 204 "$(gw_curl DELETE /consumers/g2/instances/dup)" >/dev/null
# nothing of the rejected requests was written: partition 0 still ends at offset 3
out=$(expect 200 "$(gw_curl POST $P -H "$J" -d '{"partition_id":0,"value":{"data":"last"}}')")
[[ $(field "['offset']" 0 <<<"$out") == 3 ]] || fail "a rejected request wrote records: $out"

m=$(curl -sS "http://$GW/metrics")
grep -q 'sluice_gateway_requests_total{route="produce",code="4xx"} 1[0-9]' <<<"$m" || fail "4xx metric: $(grep produce <<<"$m" | head -5)"
grep -q 'sluice_gateway_consumer_instances 0' <<<"$m" || fail "instances gauge"
gateway_stop
broker_stop
echo "ok: gateway REST produce/consume round trips and 4xx paths"
