#!/usr/bin/env bash
# sluice gateway with TLS (OpenSSL) and HTTP/2: REST produce and consume over HTTPS with
# HTTP/1.1 and h2 (ALPN), mutual TLS (the client certificate's CN is the principal; a certificate
# from another CA is refused at the handshake; ssl.client.auth=required refuses a client without
# one), the same 401/403/429/413 answers over h2 as over HTTP/1.1, and h2c with prior knowledge
# on a plain listener (WebSocket needs HTTP/1.1 there, and HTTP/1.1 still works).
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/gateway.sh"
source "$(dirname "$0")/lib/certs.sh"
broker_start
"$SLUICE" topic create -b "$BROKER" tt --partitions 1 >/dev/null
make_certs "$T/pki"
K=$T/pki
J='Content-Type: application/json'
REC='{"partition_id":0,"value":{"type":"STRING","data":"v"}}'
tls_conf() { # tls_conf CLIENT_AUTH: a config with TLS on, two principals and a limited one
  cat >"$T/gw.conf" <<CONF
ssl.certificate.location=$K/broker.pem
ssl.key.location=$K/broker.key
ssl.ca.location=$K/ca.pem
ssl.client.auth=$1
max.request.bytes=2048
key.k-alice=alice
key.k-slow=slow
principal.alice.topics=tt
principal.alice.operations=produce,consume
principal.client.topics=tt
principal.client.operations=produce
principal.slow.topics=tt
principal.slow.operations=produce
principal.slow.rate=1
principal.slow.burst=1
CONF
}
# c URL [curl args...]: prints the body, then "HTTP-VERSION STATUS" on the last line.
c() {
  local url=$1; shift
  curl -sS --max-time $((30 * mult)) -w '\n%{http_version} %{http_code}' "$@" "$url"
}
# want "VERSION STATUS" OUTPUT: checks the last line, prints the body.
want() {
  local got=${2##*$'\n'}
  [[ "$got" == "$1" ]] || fail "expected $1, got $got: $2"
  printf '%s\n' "${2%$'\n'*}"
}
has() { local in; in=$(cat); [[ "$in" == *"$1"* ]]; } # reads all its input (no SIGPIPE)
offset() { $PY -c "import json,sys; print(json.loads(sys.stdin.read().split('\n')[0])['offset'])"; }

# --- TLS, client certificates requested ---
tls_conf requested
gateway_start --config "$T/gw.conf"
U=https://localhost:${GW##*:}
CA=(--cacert "$K/ca.pem")
CL=$(gw_cluster "$U" "${CA[@]}")
P=/v3/clusters/$CL/topics/tt/records
o=$(want "1.1 200" "$(c $U$P "${CA[@]}" --http1.1 -H "$J" -H 'X-API-Key: k-alice' -d "$REC")")
[[ $(offset <<<"$o") == 0 ]] || fail "https/1.1 produce: $o"
o=$(want "2 200" "$(c $U$P "${CA[@]}" --http2 -H "$J" -H 'X-API-Key: k-alice' -d "$REC")")
[[ $(offset <<<"$o") == 1 ]] || fail "h2 produce: $o"
# mutual TLS: no key, the certificate (CN=client) is the principal, over both protocols
for v in --http1.1 --http2; do
  want "$([[ $v == --http2 ]] && echo 2 || echo 1.1) 200" \
    "$(c $U$P "${CA[@]}" $v --cert "$K/client.pem" --key "$K/client.key" -H "$J" -d "$REC")" >/dev/null
done
# the certificate's principal may produce but not consume
want "2 403" "$(c $U/consumers/g1 "${CA[@]}" --http2 --cert "$K/client.pem" --key "$K/client.key" \
  -H 'Content-Type: application/vnd.kafka.v2+json' -d '{"name":"i1"}')" | has 40301 \
  || fail "certificate principal consumed"
# no credentials at all: 401 over h2, as over HTTP/1.1
want "2 401" "$(c $U$P "${CA[@]}" --http2 -H "$J" -d "$REC")" | has 40101 || fail "h2 401"
want "1.1 401" "$(c $U$P "${CA[@]}" --http1.1 -H "$J" -d "$REC")" >/dev/null
# a certificate from another CA is refused at the handshake (no HTTP answer at all)
if curl -sS --max-time $((30 * mult)) "${CA[@]}" --cert "$K/rogue.pem" --key "$K/rogue.key" \
    -H "$J" -H 'X-API-Key: k-alice' -d "$REC" "$U$P" >"$T/rogue.out" 2>&1; then
  fail "rogue client certificate accepted: $(cat "$T/rogue.out")"
fi
# rate limit over h2: 429 with Retry-After
want "2 200" "$(c $U$P "${CA[@]}" --http2 -H "$J" -H 'X-API-Key: k-slow' -d "$REC")" >/dev/null
hdrs=$(curl -sS --max-time $((30 * mult)) "${CA[@]}" --http2 -D - -o /dev/null -H "$J" \
  -H 'X-API-Key: k-slow' -d "$REC" "$U$P")
grep -q '^HTTP/2 429' <<<"$hdrs" && grep -qi '^retry-after: [1-9]' <<<"$hdrs" || fail "h2 429: $hdrs"
# body over max.request.bytes: 413 over h2
big=$($PY -c "print('{\"value\":{\"type\":\"STRING\",\"data\":\"' + 'x'*4000 + '\"}}')")
want "2 413" "$(c $U$P "${CA[@]}" --http2 -H "$J" -H 'X-API-Key: k-alice' -d "$big")" | has 41301 \
  || fail "h2 413"
# many h2 streams on one connection at once (curl multiplexes parallel transfers)
args=()
for i in $(seq 1 20); do args+=(-o "$T/par.$i" "$U$P"); done
curl -sS --no-progress-meter --max-time $((60 * mult)) --parallel --parallel-max 20 "${CA[@]}" --http2 -H "$J" \
  -H 'X-API-Key: k-alice' -d "$REC" "${args[@]}" || fail "parallel h2 produce"
$PY - "$T" <<'PY' || fail "parallel h2 offsets"
import json, sys
offs = sorted(json.loads(open(f"{sys.argv[1]}/par.{i}").read())["offset"] for i in range(1, 21))
assert offs == list(range(offs[0], offs[0] + 20)), offs
PY
gateway_stop

# --- client certificates required: none refused, the CA's accepted ---
tls_conf required
gateway_start --config "$T/gw.conf"
U=https://localhost:${GW##*:}
if curl -sS --max-time $((30 * mult)) "${CA[@]}" -H "$J" -H 'X-API-Key: k-alice' -d "$REC" "$U$P" \
    >"$T/nocert.out" 2>&1; then
  fail "client without a certificate accepted: $(cat "$T/nocert.out")"
fi
want "2 200" "$(c $U$P "${CA[@]}" --http2 --cert "$K/client.pem" --key "$K/client.key" -H "$J" \
  -d "$REC")" >/dev/null
gateway_stop

# --- plain listener: h2c with prior knowledge, and HTTP/1.1 ---
cat >"$T/gw.conf" <<CONF
max.request.bytes=2048
CONF
gateway_start --config "$T/gw.conf"
U=http://$GW
H2C=(--http2-prior-knowledge)
o=$(want "2 200" "$(c $U$P "${H2C[@]}" -H "$J" -d "$REC")")
[[ $(offset <<<"$o") -ge 2 ]] || fail "h2c produce: $o"
want "1.1 200" "$(c $U$P -H "$J" -d "$REC")" >/dev/null
# consumer instance over h2c, with query arguments on the records route
V2=(-H 'Content-Type: application/vnd.kafka.v2+json')
want "2 200" "$(c $U/consumers/g2 "${H2C[@]}" "${V2[@]}" -d '{"name":"i1","format":"string","auto.offset.reset":"earliest"}')" >/dev/null
want "2 204" "$(c $U/consumers/g2/instances/i1/subscription "${H2C[@]}" "${V2[@]}" -d '{"topics":["tt"]}')" >/dev/null
n=0
for _ in $(seq 1 $((20 * mult))); do
  o=$(want "2 200" "$(c "$U/consumers/g2/instances/i1/records?timeout=2000&max_bytes=100000" "${H2C[@]}")")
  n=$((n + $($PY -c "import json,sys; print(len(json.loads(sys.argv[1])))" "$o")))
  [[ $n -ge 3 ]] && break
done
[[ $n -ge 3 ]] || fail "h2c consumer read $n records"
want "2 400" "$(c "$U/consumers/g2/instances/i1/records?timeout=abc" "${H2C[@]}")" | has 40005 \
  || fail "h2c bad timeout argument"
want "2 204" "$(c $U/consumers/g2/instances/i1 "${H2C[@]}" -X DELETE)" >/dev/null
want "2 404" "$(c $U/nope "${H2C[@]}")" >/dev/null
o=$(c $U/ws/topics/tt "${H2C[@]}")
want "2 400" "$o" | has 40007 || fail "ws over h2: $o"
want "2 200" "$(c $U/health "${H2C[@]}")" | has closed || fail "h2c health"
gateway_stop
echo "ok: gateway TLS, mutual TLS, HTTP/2 and h2c"
