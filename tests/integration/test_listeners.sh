#!/usr/bin/env bash
# Named listeners and per-listener settings (issue 12 §1, Kafka's listener.security.protocol.map
# and listener.name.<name>.*): two SSL listeners, INTERNAL (the test CA's certificate, client
# certificates required) and EXTERNAL (a certificate from a second CA, no client certificates),
# each serving with its own certificate and client-auth mode and advertising its own address;
# a SASL_PLAINTEXT listener offering only SCRAM-SHA-512 while the global list has PLAIN; bad
# per-listener keys, unknown listener names and duplicate names refused at start-up.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/certs.sh"
P=$T/pki
make_certs "$P" || fail "cannot make test certificates"
# A broker certificate for 127.0.0.1 from the second CA.
( cd "$P" && openssl req -newkey rsa:2048 -nodes -keyout ext.key -out ext.csr -subj /CN=external \
    >/dev/null 2>&1 && openssl x509 -req -in ext.csr -CA rogue-ca.pem -CAkey rogue-ca.key \
    -CAcreateserial -out ext.pem -days 2 -extfile san.ext >/dev/null 2>&1 ) || fail "ext certificate"

bad_start() { # expect start-up to fail with $1 in the message
  local want=$1; shift
  if "$SLUICE" broker --data-dir "$T/bad" --admin-listen 127.0.0.1:0 "$@" >"$T/bad.log" 2>&1; then
    fail "started with $*"; fi
  grep -q -- "$want" "$T/bad.log" || fail "expected '$want', got: $(cat "$T/bad.log")"
}
bad_start "INTERNAL is neither a protocol" --set listeners=INTERNAL://127.0.0.1:0
bad_start "listeners: SSL given twice" --set listeners=SSL://127.0.0.1:0,ssl://127.0.0.1:0
bad_start "listener.security.protocol.map: expected NAME:PROTOCOL" \
  --set listeners=A://127.0.0.1:0 --set listener.security.protocol.map=A:TLS
bad_start "listener.name.nosuch.ssl.client.auth: no such listener" \
  --set listeners=PLAINTEXT://127.0.0.1:0 --set listener.name.nosuch.ssl.client.auth=required
bad_start "listener.name.plaintext.num.partitions: not a per-listener key" \
  --set listeners=PLAINTEXT://127.0.0.1:0 --set listener.name.plaintext.num.partitions=3
bad_start "listener EXT: ssl.client.auth=required needs ssl.ca.location" \
  --set listeners=EXT://127.0.0.1:0 --set listener.security.protocol.map=EXT:SSL \
  --set ssl.certificate.location="$P/broker.pem" --set ssl.key.location="$P/broker.key" \
  --set listener.name.ext.ssl.client.auth=required

broker_start \
  --set listeners=PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0 \
  --set listener.security.protocol.map=INTERNAL:SSL,EXTERNAL:SSL \
  --set ssl.certificate.location="$P/broker.pem" --set ssl.key.location="$P/broker.key" \
  --set ssl.ca.location="$P/ca.pem" --set ssl.client.auth=required \
  --set listener.name.external.ssl.certificate.location="$P/ext.pem" \
  --set listener.name.external.ssl.key.location="$P/ext.key" \
  --set listener.name.EXTERNAL.ssl.client.auth=none \
  --set listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512 \
  --set connection.failed.authentication.delay.ms=10
IN=127.0.0.1:$(sed -n 's/^kafka.INTERNAL=//p' "$T/ports")
EX=127.0.0.1:$(sed -n 's/^kafka.EXTERNAL=//p' "$T/ports")
SP=127.0.0.1:$(sed -n 's/^kafka.SASL_PLAINTEXT=//p' "$T/ports")
[[ $IN != 127.0.0.1: && $EX != 127.0.0.1: ]] || fail "port file: $(cat "$T/ports")"
grep -q "listening kafka=EXTERNAL://127.0.0.1:.* protocol=SSL" "$T/broker.log" || fail "listener not logged"

KI=(-X security.protocol=ssl -X ssl.ca.location="$P/ca.pem"
    -X ssl.certificate.location="$P/client.pem" -X ssl.key.location="$P/client.key")
KE=(-X security.protocol=ssl -X ssl.ca.location="$P/rogue-ca.pem")
echo via-internal | kcat -b "$IN" "${KI[@]}" -P -t lst || fail "INTERNAL produce with a client certificate"
echo via-external | kcat -b "$EX" "${KE[@]}" -P -t lst || fail "EXTERNAL produce without a client certificate"
[[ $(kcat -b "$EX" "${KE[@]}" -C -t lst -o beginning -e -q) == $'via-internal\nvia-external' ]] \
  || fail "EXTERNAL consume"
kcat -b "$EX" "${KE[@]}" -L | grep -q "broker 0 at $EX" || fail "EXTERNAL Metadata does not advertise $EX"
kcat -b "$IN" "${KI[@]}" -L | grep -q "broker 0 at $IN" || fail "INTERNAL Metadata does not advertise $IN"
# INTERNAL still requires a client certificate; each listener shows its own certificate.
if timeout 20 kcat -b "$IN" -X security.protocol=ssl -X ssl.ca.location="$P/ca.pem" -L -m 3 \
  >/dev/null 2>&1; then fail "INTERNAL served a client without a certificate"; fi
if timeout 20 kcat -b "$EX" -X security.protocol=ssl -X ssl.ca.location="$P/ca.pem" -L -m 3 \
  >/dev/null 2>&1; then fail "EXTERNAL presented the INTERNAL certificate"; fi
subj() { openssl s_client -connect "$1" </dev/null 2>/dev/null | openssl x509 -noout -subject; }
[[ $(subj "$EX") == *"CN = external"* && $(subj "$IN") == *"CN = localhost"* ]] \
  || fail "certificates: EXTERNAL $(subj "$EX"), INTERNAL $(subj "$IN")"

# SASL_PLAINTEXT offers only SCRAM-SHA-512 (its own list), the global list still has PLAIN.
"$SLUICE" user add alice --password s3cret -b "$BROKER" >/dev/null || fail "user add"
KS=(-X security.protocol=sasl_plaintext -X sasl.username=alice -X sasl.password=s3cret)
kcat -b "$SP" "${KS[@]}" -X sasl.mechanisms=SCRAM-SHA-512 -L >/dev/null || fail "SCRAM-SHA-512 refused"
if kcat -b "$SP" "${KS[@]}" -X sasl.mechanisms=PLAIN -L -m 3 >/dev/null 2>&1; then
  fail "PLAIN served on a listener that does not offer it"; fi
grep -q 'mechanism="PLAIN" err=UNSUPPORTED_SASL_MECHANISM' "$T/broker.log" || fail "PLAIN refusal not logged"
broker_stop
echo PASS
