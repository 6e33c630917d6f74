#!/usr/bin/env bash
# WebSocket produce frames on the gateway's topic stream, with Node's `ws` client (npm, installed
# into tests/integration/wsnode on first use): one record and an array, each acknowledged with
# partition and offset after the broker's acknowledgement (the records then arrive on the same
# stream and in the topic with their keys and headers, checked with kcat); malformed JSON, a bad
# record (nothing of the frame produced), an unknown partition, a principal without produce, and
# the per-key rate limit answered with error frames while the stream stays open.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/gateway.sh"
dir=$(cd "$(dirname "$0")/wsnode" && pwd)
if [[ ! -d "$dir/node_modules/ws" ]]; then
  (cd "$dir" && npm install --no-audit --no-fund --silent ws@8.18.0 >/dev/null) || fail "npm install ws"
fi
broker_start
"$SLUICE" topic create -b "$BROKER" wp --partitions 2 >/dev/null
cat >"$T/gw.conf" <<CONF
key.k-prod=prod
key.k-read=reader
key.k-lim=lim
principal.prod.topics=wp
principal.prod.operations=produce,consume
principal.reader.topics=wp
principal.reader.operations=consume
principal.lim.topics=wp
principal.lim.operations=produce,consume
principal.lim.rate=1
principal.lim.burst=3
CONF
gateway_start --config "$T/gw.conf"
WS() { timeout $((90 * mult)) node "$dir/ws_produce.js" "ws://$GW/ws/topics/wp?$1" "$2" "$3" "$4" "${5:-0}"; }
# jq-free checks on the answer lines
check() { $PY -c "import json,sys; L=[json.loads(l) for l in sys.stdin.read().split('\n') if l]; A=[m for m in L if 'type' in m]; R=[m for m in L if 'type' not in m]; sys.exit(0 if ($1) else 1)"; }

# --- one record, then an array, on a string stream from the start; the stream echoes them ---
cat >"$T/f1" <<'F'
{"id":"r1","key":"k1","value":"v1","partition":0,"headers":{"trace":"t-1"}}
[{"key":"k2","value":"v2","partition":1},{"value":"v3","partition":1,"headers":[{"name":"h","value":"x"}]}]
F
out=$(WS "from=earliest&format=string" k-prod "$T/f1" 2 3) || fail "ws produce: $out"
check "A[0]=={'type':'ack','id':'r1','topic':'wp','partition':0,'offset':0,'timestamp':A[0]['timestamp']} and A[1]['type']=='ack' and [(r['partition'],r['offset']) for r in A[1]['results']]==[(1,0),(1,1)]" <<<"$out" \
  || fail "acks: $out"
check "sorted((r['partition'],r['offset'],r['key'],r['value']) for r in R)==[(0,0,'k1','v1'),(1,0,'k2','v2'),(1,1,None,'v3')]" <<<"$out" \
  || fail "stream echo: $out"
got=$(kcat -C -b "$BROKER" -t wp -p 0 -o 0 -c 1 -e -q -f '%k|%s|%h\n')
[[ "$got" == "k1|v1|trace=t-1" ]] || fail "kcat partition 0: $got"

# --- binary and json formats ---
printf '%s\n' '{"key":"AAE=","value":"3q2+7w==","partition":0}' >"$T/f2"
out=$(WS "format=binary" k-prod "$T/f2" 1) || fail "binary frame: $out"
check "A[0]['type']=='ack' and A[0]['offset']==1" <<<"$out" || fail "binary ack: $out"
printf '%s\n' '{"value":{"n":1,"s":"x"},"partition":0}' >"$T/f3"
out=$(WS "format=json" k-prod "$T/f3" 1) || fail "json frame: $out"
check "A[0]['type']=='ack' and A[0]['offset']==2" <<<"$out" || fail "json ack: $out"
got=$(kcat -C -b "$BROKER" -t wp -p 0 -o 1 -c 2 -e -q -f '%s\n' | od -An -tx1 | tr -d ' \n')
[[ "$got" == "deadbeef0a"$(printf '{"n":1,"s":"x"}\n' | od -An -tx1 | tr -d ' \n') ]] || fail "binary/json bytes: $got"

# --- errors: each an error frame, the stream stays open and the next frame works ---
cat >"$T/f4" <<'F'
{"value": oops}
[{"value":"ok","partition":0},{"key":7,"value":"bad"}]
{"value":"x","partition":9}
{"id":5,"value":"after","partition":0}
F
out=$(WS "format=string" k-prod "$T/f4" 4) || fail "error frames: $out"
check "[a.get('error_code') for a in A[:3]]==[40001,40003,40402] and A[3]['type']=='ack' and A[3]['id']==5 and A[3]['offset']==3" <<<"$out" \
  || fail "error frames: $out"
# a principal that may only consume gets 40301 for a produce frame
printf '%s\n' '{"value":"no"}' >"$T/f5"
out=$(WS "format=string" k-read "$T/f5" 1) || fail "reader: $out"
check "A[0]['error_code']==40301" <<<"$out" || fail "reader produced: $out"
# per-key rate limit (1/s, burst 3; the handshake took one token): a burst of frames is limited
for i in 1 2 3 4 5 6; do printf '{"value":"l%d","partition":1}\n' $i; done >"$T/f6"
out=$(WS "format=string" k-lim "$T/f6" 6) || fail "limited: $out"
check "any(a.get('error_code')==42901 and a['retry_after_ms']>0 for a in A) and A[0]['type']=='ack'" <<<"$out" \
  || fail "rate limit on produce frames: $out"
# nothing of the bad frames reached the topic: partition 0 holds exactly 4 records, partition 1
# the 2 from the array plus the admitted limited ones
n0=$(kcat -C -b "$BROKER" -t wp -p 0 -o 0 -e -q -f '%s\n' | wc -l)
[[ $n0 == 4 ]] || fail "partition 0 has $n0 records, want 4"
acked=$($PY -c "import json,sys; print(sum(1 for l in sys.stdin.read().split('\n') if l and json.loads(l).get('type')=='ack'))" <<<"$out")
n1=$(kcat -C -b "$BROKER" -t wp -p 1 -o 0 -e -q -f '%s\n' | wc -l)
[[ $n1 == $((2 + acked)) ]] || fail "partition 1 has $n1 records, want $((2 + acked))"
curl -sS "http://$GW/health" | grep -q ok || fail "gateway stopped serving"
gateway_stop
broker_stop
echo "ok: WebSocket produce frames (acks, formats, errors, permission, rate limit)"
