#!/usr/bin/env bash
# The gateway's permissions from the broker's ACLs (authorization=acl): a broker with an
# authorizer and a SASL listener; the gateway connects as the super user admin and asks
# DescribeAcls. alice (API key) may WRITE orders only: produce to orders 200, payroll 403 with a
# JSON error; she consumes (WebSocket stream, consumer instance in a group) only once READ ACLs on
# the topic and group exist, and ACLs added at run time take effect within acl.cache.ms; a DENY
# wins over a wildcard ALLOW; a JWT principal the file does not list is decided by its ACLs; the
# file's per-principal topics/operations are refused under authorization=acl; answers are cached
# (not one DescribeAcls per request); brokers without an authorizer (an empty answer) refuse
# everything with a warning, dead brokers give 503.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/gateway.sh"
L=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0
broker_start --set listeners=$L
for u in admin:adm1n alice:al1ce; do
  "$SLUICE" user add "${u%%:*}" --password "${u#*:}" -b "$BROKER" >/dev/null || fail "user add $u"
done
broker_stop
broker_start --set listeners=$L --set super.users=User:admin \
  --set authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
SP=127.0.0.1:$(sed -n 's/^kafka.SASL_PLAINTEXT=//p' "$T/ports")
KA=(-b "$SP" -X security.protocol=sasl_plaintext -X sasl.mechanisms=PLAIN -X sasl.username=admin
    -X sasl.password=adm1n)
for t in orders payroll; do
  "$SLUICE" topic create "$t" --partitions 1 "${KA[@]}" >/dev/null || fail "topic create $t"
done
acl() { "$SLUICE" acl add "$@" "${KA[@]}" >/dev/null || fail "acl add $*"; }
acl allow User:alice write topic:orders
acl allow User:carol all 'topic:*'
acl deny User:carol write topic:payroll

SECRET=hs-secret-0123456789-0123456789-abc
cat >"$T/gw.conf" <<CONF
authorization=acl
acl.cache.ms=1000
key.k-alice=alice
key.k-nobody=nobody
jwt.hs256.secret=$SECRET
CONF
gateway_start --config "$T/gw.conf" "${KA[@]}"

J='Content-Type: application/json'
REC='{"value":{"type":"STRING","data":"v"}}'
CL=$(gw_cluster)
post() { # post TOPIC AUTH-HEADER -> body and status on the last line
  curl -sS --max-time $((30 * mult)) -w '\n%{http_code}' -X POST \
    "http://$GW/v3/clusters/$CL/topics/$1/records" -H "$J" -H "$2" -d "$REC"
}
code() { tail -n 1 <<<"$1"; }
want() { [[ "$(code "$1")" == "$2" ]] || fail "$3: expected HTTP $2, got: $1"; }

out=$(post orders 'X-API-Key: k-alice'); want "$out" 200 "alice produces to orders (WRITE ACL)"
out=$(post payroll 'X-API-Key: k-alice'); want "$out" 403 "alice produces to payroll (no ACL)"
head -n 1 <<<"$out" | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["error_code"]==40301 and "payroll" in d["message"], d' \
  || fail "403 body is not the JSON error: $out"
out=$(post orders 'X-API-Key: k-nobody'); want "$out" 403 "a principal without ACLs"

# Consuming needs READ: WRITE alone does not give it (WebSocket stream, consumer instance).
WS="$PY $(dirname "$0")/ws_client.py"
[[ $($WS "$GW" /ws/topics/orders status x k-alice) == 403 ]] || fail "alice streams orders without READ"
out=$(gw_curl POST /consumers/ga -H "$J" -H 'X-API-Key: k-alice' -d '{"name":"a"}')
want "$out" 403 "alice's consumer instance without READ on group ga"

# ACLs added at run time: in force within acl.cache.ms (1 s) plus the time to ask.
acl allow User:alice read topic:orders
acl allow User:alice read group:ga
acl allow User:alice write topic:payroll
t0=$(date +%s%N)
until [[ $(code "$(post payroll 'X-API-Key: k-alice')") == 200 ]]; do
  (( ($(date +%s%N) - t0) / 1000000 < 3000 * mult )) || fail "the new WRITE ACL not in force after 3 s"
  sleep 0.1
done
echo "new ACL in force after $(( ($(date +%s%N) - t0) / 1000000 )) ms (acl.cache.ms=1000)"
[[ $($WS "$GW" /ws/topics/orders status x k-alice) == 101 ]] || fail "alice may not stream orders with READ"
[[ $($WS "$GW" /ws/topics/payroll status x k-alice) == 403 ]] || fail "alice streams payroll without READ"
out=$(gw_curl POST /consumers/ga -H "$J" -H 'X-API-Key: k-alice' -d '{"name":"a"}')
want "$out" 200 "alice's consumer instance with READ on group ga"
out=$(gw_curl POST /consumers/ga/instances/a/subscription -H "$J" -H 'X-API-Key: k-alice' -d '{"topics":["payroll"]}')
want "$out" 403 "alice subscribes to payroll without READ"
out=$(gw_curl POST /consumers/ga/instances/a/subscription -H "$J" -H 'X-API-Key: k-alice' -d '{"topics":["orders"]}')
want "$out" 204 "alice subscribes to orders"
want "$(gw_curl DELETE /consumers/ga/instances/a -H 'X-API-Key: k-alice')" 204 "delete"

# A JWT principal the file does not list: ALL on every topic, but the DENY on payroll wins.
tok=$($PY - "$SECRET" <<'PY'
import base64, hashlib, hmac, json, sys, time
e = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
si = e(b'{"alg":"HS256","typ":"JWT"}') + "." + e(json.dumps({"sub": "carol", "exp": int(time.time()) + 600}).encode())
print(si + "." + e(hmac.new(sys.argv[1].encode(), si.encode(), hashlib.sha256).digest()))
PY
)
out=$(post orders "Authorization: Bearer $tok"); want "$out" 200 "carol (JWT) produces to orders"
out=$(post payroll "Authorization: Bearer $tok"); want "$out" 403 "carol's DENY on payroll"

# Removed at run time: refused again within the cache time.
"$SLUICE" acl remove allow User:alice write topic:orders "${KA[@]}" >/dev/null || fail "acl remove"
t0=$(date +%s%N)
until [[ $(code "$(post orders 'X-API-Key: k-alice')") == 403 ]]; do
  (( ($(date +%s%N) - t0) / 1000000 < 3000 * mult )) || fail "the removed ACL still in force after 3 s"
  sleep 0.1
done
# The answer is cached: 20 requests in well under acl.cache.ms ask the brokers at most twice.
fetches() { curl -sS "http://$GW/metrics" | sed -n 's/^sluice_gateway_acl_fetches_total{result="ok"} //p'; }
f0=$(fetches)
for _ in $(seq 20); do post orders 'X-API-Key: k-alice' >/dev/null; done
f1=$(fetches)
(( f0 > 0 && f1 - f0 <= 2 )) || fail "ACL cache not used: $f0 then $f1 DescribeAcls for 20 requests"
gateway_stop

# The file's own permissions make no sense with the brokers' ACLs: refused, with the reason.
printf 'authorization=acl\nkey.k=x\nprincipal.x.topics=orders\n' >"$T/bad.conf"
if "$SLUICE" gateway -b "$SP" --listen 127.0.0.1:0 --config "$T/bad.conf" >"$T/bad.log" 2>&1; then
  fail "gateway started with principal topics under authorization=acl"; fi
grep -q "authorization=acl" "$T/bad.log" || fail "no reason given: $(cat "$T/bad.log")"
broker_stop

# Brokers without an authorizer answer DescribeAcls with SECURITY_DISABLED, which librdkafka
# hands over as an empty list: everything refused (never allowed on a guess), and a warning.
broker_start # the same data: orders exists
gateway_start --config "$T/gw.conf"
CL=$(gw_cluster)
out=$(post orders 'X-API-Key: k-alice'); want "$out" 403 "no authorizer on the brokers"
grep -q "returned no topic or group ACLs" "$T/gateway.log" || fail "no warning about the empty answer"
gateway_stop
broker_stop

# Brokers that do not answer: 503 50303 with the reason, never a decision on nothing.
{ cat "$T/gw.conf"; echo produce.timeout.ms=1000; } >"$T/gw-dead.conf"
gateway_start --config "$T/gw-dead.conf"
out=$(post orders 'X-API-Key: k-alice')
[[ $(code "$out") == 503 ]] || fail "dead brokers: expected 503, got: $out"
head -n 1 <<<"$out" | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["error_code"] == 50303, d' \
  || fail "503 body: $out"
gateway_stop
echo "ok: gateway permissions from the broker's ACLs"
