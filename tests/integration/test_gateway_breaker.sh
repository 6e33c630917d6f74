#!/usr/bin/env bash
# The gateway's circuit breaker against a real broker that stops and comes back: while the broker
# is down every produce answers (never hangs); once the breaker is open, produce fails fast (503,
# JSON body, well under a second each); after the broker returns on the same port a half-open
# probe closes the breaker and produce works again. State and transitions show in /metrics.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/gateway.sh"
broker_start
"$SLUICE" topic create -b "$BROKER" bt --partitions 1 >/dev/null
cat >"$T/gw.conf" <<CONF
produce.timeout.ms=2000
breaker.failure.threshold=2
breaker.window.ms=30000
breaker.open.ms=10000
CONF
# open.ms must outlast the open-phase checks below (five requests, each with its own Python
# time check: several seconds on a loaded machine), or the breaker half-opens mid-way and its
# probe answers 504 where an open breaker's 503 is expected.
gateway_start --config "$T/gw.conf"
P="http://$GW/v3/clusters/$(gw_cluster)/topics/bt/records"
produce() { # prints "STATUS SECONDS BODY"
  curl -sS --max-time $((20 * mult)) -o "$T/body" -w '%{http_code} %{time_total}' -X POST "$P" \
      -H 'Content-Type: application/json' -d '{"value":{"type":"STRING","data":"x"}}' || echo "000 99"
  echo " $(cat "$T/body" 2>/dev/null)"
}
state() { curl -sS "http://$GW/health" | $PY -c 'import json,sys; print(json.load(sys.stdin)["breaker"])'; }

read -r st _ body <<<"$(produce)"
[[ $st == 200 ]] || fail "produce before the outage: $st $body"

broker_stop
# Until the breaker opens, each request gets an answer (504/503), bounded by produce.timeout.ms.
opened=0
for _ in $(seq 1 $((30 * mult))); do
  read -r st secs body <<<"$(produce)"
  [[ $st == 503 || $st == 504 ]] || fail "during the outage: HTTP $st $body"
  $PY -c "import sys; sys.exit(0 if float(sys.argv[1]) < 10 else 1)" "$secs" || fail "a request took $secs s"
  [[ $(state) == open ]] && { opened=1; break; }
done
[[ $opened == 1 ]] || fail "breaker never opened"
# Open: fail fast, with a clear body and Retry-After.
for i in 1 2 3 4 5; do
  read -r st secs body <<<"$(produce)"
  [[ $st == 503 && $body == *'"error_code":50301'* && $body == *circuit* ]] || fail "open breaker answered $st $body"
  $PY -c "import sys; sys.exit(0 if float(sys.argv[1]) < 1.0 else 1)" "$secs" || fail "503 took $secs s (want < 1 s)"
done
hdr=$(curl -sS -D - -o /dev/null -X POST "$P" -H 'Content-Type: application/json' -d '{"value":{"data":1}}')
grep -qi '^Retry-After: [0-9]' <<<"$hdr" || fail "no Retry-After on 503: $hdr"
m=$(curl -sS "http://$GW/metrics")
grep -q 'sluice_gateway_breaker_state{breaker="brokers",state="open"} 1' <<<"$m" || fail "state metric"
grep -qE 'sluice_gateway_breaker_transitions_total\{breaker="brokers",from="closed",to="open"\} [1-9]' <<<"$m" || fail "closed->open metric"
grep -qE 'sluice_gateway_breaker_rejected_total\{breaker="brokers"\} [1-9]' <<<"$m" || fail "rejected metric"

# The broker returns on the same port: a probe closes the breaker, produce works again.
broker_start --listen "$BROKER"
ok=0
for _ in $(seq 1 $((60 * mult))); do
  read -r st secs body <<<"$(produce)"
  [[ $st == 200 ]] && { ok=1; break; }
  [[ $st == 503 || $st == 504 ]] || fail "recovering: HTTP $st $body"
  sleep 0.5
done
[[ $ok == 1 ]] || fail "produce never recovered after the broker returned"
[[ $(state) == closed ]] || fail "breaker not closed after a successful produce"
m=$(curl -sS "http://$GW/metrics")
grep -qE 'from="open",to="half_open"\} [1-9]' <<<"$m" || fail "open->half_open metric"
grep -qE 'from="half_open",to="closed"\} [1-9]' <<<"$m" || fail "half_open->closed metric"
grep -q 'sluice_gateway_breaker_state{breaker="brokers",state="closed"} 1' <<<"$m" || fail "closed state metric"
gateway_stop
broker_stop
echo "ok: gateway circuit breaker opens on a stopped broker, fails fast, closes after it returns"
