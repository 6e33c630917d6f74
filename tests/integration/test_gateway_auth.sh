#!/usr/bin/env bash
# sluice gateway authentication and limits against a real broker: API keys (401 unknown, 403 for
# a topic or operation the key's principal lacks), JWT bearer tokens (HS256 made with Python's
# hmac, RS256 signed by the openssl command: good, expired, wrong audience, wrong key, alg none),
# token-bucket limits (429 with Retry-After; admitted rate within 10% of the limit) and a SIGHUP
# reload that changes limits and keys without a restart.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/gateway.sh"
broker_start
"$SLUICE" topic create -b "$BROKER" orders --partitions 1 >/dev/null
"$SLUICE" topic create -b "$BROKER" secret --partitions 1 >/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa.pem" 2>/dev/null
openssl pkey -in "$T/rsa.pem" -pubout -out "$T/rsa.pub" 2>/dev/null
conf() { # conf ALICE_RATE
  cat >"$T/gw.conf.new" <<CONF
key.k-alice=alice
key.k-bob=bob
principal.alice.topics=orders
principal.alice.operations=produce,consume
principal.alice.rate=$1
principal.alice.burst=$1
principal.bob.topics=*
principal.bob.operations=consume
principal.svc.topics=orders
principal.svc.operations=produce
jwt.hs256.secret=hs-secret-0123456789-0123456789-abc
jwt.rs256.public.key.file=$T/rsa.pub
jwt.audience=sluice-gw
CONF
  mv "$T/gw.conf.new" "$T/gw.conf"
}
conf 20
gateway_start --config "$T/gw.conf"

J='Content-Type: application/json'
REC='{"value":{"type":"STRING","data":"v"}}'
status() { curl -sS --max-time $((30 * mult)) -o /dev/null -w '%{http_code}' "$@"; }
want() { [[ "$1" == "$2" ]] || fail "$3: expected HTTP $2, got $1"; }
CL=$(gw_cluster)
PO="http://$GW/v3/clusters/$CL/topics/orders/records"
PS="http://$GW/v3/clusters/$CL/topics/secret/records"

want "$(status -X POST "$PO" -H "$J" -d "$REC")" 401 "no credentials"
want "$(status -X POST "$PO" -H "$J" -H 'X-API-Key: nope' -d "$REC")" 401 "unknown key"
want "$(status -X POST "$PO" -H "$J" -H 'Authorization: Basic YTpi' -d "$REC")" 401 "basic auth"
want "$(status -X POST "$PO" -H "$J" -H 'X-API-Key: k-alice' -d "$REC")" 200 "alice produces orders"
want "$(status -X POST "$PO" -H "$J" -H 'Authorization: Bearer k-alice' -d "$REC")" 200 "key as bearer"
want "$(status -X POST "$PS" -H "$J" -H 'X-API-Key: k-alice' -d "$REC")" 403 "alice may not touch secret"
want "$(status -X POST "$PO" -H "$J" -H 'X-API-Key: k-bob' -d "$REC")" 403 "bob only consumes"
want "$(status -X POST "http://$GW/consumers/gb" -H 'Content-Type: application/json' -H 'X-API-Key: k-bob' -d '{"name":"b"}')" 200 "bob creates a consumer"
want "$(status -X POST "http://$GW/consumers/gb/instances/b/subscription" -H "$J" -H 'X-API-Key: k-alice' -d '{"topics":["orders"]}')" 403 "alice uses bob's instance"
want "$(status -X POST "http://$GW/consumers/ga" -H "$J" -H 'X-API-Key: k-alice' -d '{"name":"a"}')" 200 "alice creates a consumer"
want "$(status -X POST "http://$GW/consumers/ga/instances/a/subscription" -H "$J" -H 'X-API-Key: k-alice' -d '{"topics":["secret"]}')" 403 "alice subscribes to secret"
want "$(status -X DELETE "http://$GW/consumers/ga/instances/a" -H 'X-API-Key: k-alice')" 204 "delete"
want "$(status -X DELETE "http://$GW/consumers/gb/instances/b" -H 'X-API-Key: k-bob')" 204 "delete"

# --- JWT ---
b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
claims() { printf '{"sub":"%s","exp":%d,"aud":%s}' "$1" "$2" "$3"; }
hs() { # hs CLAIMS [SECRET]
  $PY - "$1" "${2:-hs-secret-0123456789-0123456789-abc}" <<'PY'
import base64, hashlib, hmac, sys
e = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
si = e(b'{"alg":"HS256","typ":"JWT"}') + "." + e(sys.argv[1].encode())
print(si + "." + e(hmac.new(sys.argv[2].encode(), si.encode(), hashlib.sha256).digest()))
PY
}
rs() { # rs CLAIMS
  local si; si="$(printf '{"alg":"RS256","typ":"JWT"}' | b64u).$(printf '%s' "$1" | b64u)"
  printf '%s.%s' "$si" "$(printf '%s' "$si" | openssl dgst -sha256 -sign "$T/rsa.pem" | b64u)"
}
bearer() { status -X POST "$PO" -H "$J" -H "Authorization: Bearer $1" -d "$REC"; }
want "$(bearer "$(hs "$(claims svc $((now + 600)) '"sluice-gw"')")")" 200 "HS256 token"
want "$(bearer "$(hs "$(claims svc $((now + 600)) '["x","sluice-gw"]')")")" 200 "HS256 token, aud list"
want "$(bearer "$(rs "$(claims svc $((now + 600)) '"sluice-gw"')")")" 200 "RS256 token"
want "$(bearer "$(hs "$(claims svc $((now - 5)) '"sluice-gw"')")")" 401 "expired token"
want "$(bearer "$(rs "$(claims svc $((now - 5)) '"sluice-gw"')")")" 401 "expired RS256 token"
want "$(bearer "$(hs "$(claims svc $((now + 600)) '"other"')")")" 401 "wrong audience"
want "$(bearer "$(hs "$(claims svc $((now + 600)) '"sluice-gw"')" wrong-secret)")" 401 "wrong secret"
want "$(bearer "$(hs "$(claims svc $((now + 600)) '"sluice-gw"')" "$(cat "$T/rsa.pub")")")" 401 "public key as HMAC secret"
none="$(printf '{"alg":"none"}' | b64u).$(claims svc $((now + 600)) '"sluice-gw"' | b64u)."
want "$(bearer "$none")" 401 "alg none"
want "$(bearer "$(hs "$(claims mallory $((now + 600)) '"sluice-gw"')")")" 403 "unknown principal"
want "$(status -X POST "$PS" -H "$J" -H "Authorization: Bearer $(rs "$(claims svc $((now + 600)) '"sluice-gw"')")" -d "$REC")" 403 "svc may not produce to secret"

# --- rate limits: alice has 20/s with a burst of 20 (a consumer route that answers 404 fast) ---
hammer() { # hammer KEY SECONDS -> "admitted limited retry_after_min"
  $PY - "$GW" "$1" "$2" <<'PY'
import http.client, sys, time
c = http.client.HTTPConnection(sys.argv[1], timeout=30)
ok = lim = 0; ra = None
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    c.request("GET", "/consumers/g/instances/none/records", headers={"X-API-Key": sys.argv[2]})
    r = c.getresponse(); r.read()
    if r.status == 429:
        lim += 1
        v = int(r.getheader("Retry-After"))
        ra = v if ra is None else min(ra, v)
    else:
        assert r.status == 404, r.status
        ok += 1
print(ok, lim, ra)
PY
}
read -r ok lim ra <<<"$(hammer k-alice 3)"
# admitted = burst + rate * seconds = 20 + 60 = 80, within 10%
[[ $lim -gt 0 && $ra -ge 1 ]] || fail "no 429 with Retry-After (admitted $ok, limited $lim, retry-after $ra)"
[[ $ok -ge 72 && $ok -le 88 ]] || fail "admitted $ok in 3 s at 20/s + burst 20 (want 80 +-10%)"
echo "rate limit: admitted $ok, limited $lim, Retry-After $ra s"
curl -sS "http://$GW/metrics" | grep -q "sluice_gateway_key_requests_total{principal=\"alice\",result=\"limited\"} $lim" \
  || fail "per-key limited metric"

# --- SIGHUP: a higher limit and one key fewer, without a restart ---
conf 100000
sed -i '/^key.k-bob=/d' "$T/gw.conf"
kill -HUP "$GW_PID"
for _ in $(seq 1 $((200 * mult))); do
  curl -sS "http://$GW/metrics" | grep -q 'sluice_gateway_config_reloads_total{result="ok"} 1' && break
  sleep 0.05
done
curl -sS "http://$GW/metrics" | grep -q 'sluice_gateway_config_reloads_total{result="ok"} 1' || fail "reload not seen"
read -r ok lim ra <<<"$(hammer k-alice 1)"
[[ $lim -eq 0 && $ok -gt 20 ]] || fail "after reload: admitted $ok, limited $lim"
want "$(status "http://$GW/consumers/g/instances/none/records" -H 'X-API-Key: k-bob')" 401 "removed key"
# a broken file is refused and the running policy stays
echo "principal.alice.operations=fly" >>"$T/gw.conf"
kill -HUP "$GW_PID"
for _ in $(seq 1 $((200 * mult))); do
  curl -sS "http://$GW/metrics" | grep -q 'sluice_gateway_config_reloads_total{result="error"} 1' && break
  sleep 0.05
done
curl -sS "http://$GW/metrics" | grep -q 'sluice_gateway_config_reloads_total{result="error"} 1' || fail "bad reload not counted"
want "$(status -X POST "$PO" -H "$J" -H 'X-API-Key: k-alice' -d "$REC")" 200 "policy kept after a bad reload"
kill -0 "$GW_PID" || fail "gateway died on a bad reload"
gateway_stop
broker_stop
echo "ok: gateway API keys, JWT, rate limits and reload"
