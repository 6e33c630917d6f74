#!/usr/bin/env bash
# TLS listeners: PLAINTEXT and SSL side by side (listeners=...), each advertising its own address;
# kcat and confluent-kafka-python over TLS with client certificates (ssl.client.auth=required);
# no certificate, another CA, an expired certificate, garbage, a plaintext client and a stalled
# handshake are refused and closed while the broker keeps serving. Certificates are made here.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/certs.sh"
P=$T/pki
make_certs "$P" || fail "cannot make test certificates"
broker_start --set listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0 \
  --set ssl.key.location="$P/broker.key" --set ssl.certificate.location="$P/broker.pem" \
  --set ssl.ca.location="$P/ca.pem" --set ssl.client.auth=required \
  --set connections.max.partial.request.ms=1000
SSL=127.0.0.1:$(sed -n 's/^kafka.SSL=//p' "$T/ports")
[[ $SSL != 127.0.0.1: ]] || fail "no kafka.SSL line in the port file"
K=(-X security.protocol=ssl -X ssl.ca.location="$P/ca.pem"
   -X ssl.certificate.location="$P/client.pem" -X ssl.key.location="$P/client.key")

echo over-tls | kcat -b "$SSL" "${K[@]}" -P -t tls-kcat || fail "kcat produce over TLS"
[[ $(kcat -b "$SSL" "${K[@]}" -C -t tls-kcat -o beginning -e -q) == over-tls ]] \
  || fail "kcat consume over TLS"
# Each listener's Metadata names its own address.
kcat -b "$SSL" "${K[@]}" -L | grep -q "broker 0 at $SSL" || fail "SSL Metadata does not advertise $SSL"
kcat -b "$BROKER" -L | grep -q "broker 0 at $BROKER" || fail "PLAINTEXT Metadata does not advertise $BROKER"
[[ $(kcat -b "$BROKER" -C -t tls-kcat -o beginning -e -q) == over-tls ]] \
  || fail "plaintext consume of a record produced over TLS"
# Plaintext client on the TLS port: refused.
if timeout 20 kcat -b "$SSL" -L -m 3 >/dev/null 2>&1; then fail "plaintext client served on TLS port"; fi

$PY "$(dirname "$0")/tls_clients.py" "$SSL" "$P" || fail "TLS client checks"
grep -q "certificate verify failed" "$T/broker.log" || fail "refused certificates not logged"
grep -q "wrong version number" "$T/broker.log" || fail "plaintext on the TLS port not logged"
grep -q "peer did not return a certificate" "$T/broker.log" || fail "missing certificate not logged"
# The certificate's subject is the principal: a quota on user "CN=client,O=sluice" throttles
# this client over TLS (and nothing was throttled before it was set).
throttled() { curl -s "http://$ADMIN/metrics" | sed -n 's/^sluice_quota_throttled_total{quota="producer_byte_rate"} //p'; }
[[ $(throttled) == 0 ]] || fail "throttled before any quota: $(throttled)"
"$SLUICE" quota set --user 'CN=client,O=sluice' --producer-byte-rate 20000 -b "$BROKER" >/dev/null \
  || fail "quota set"
head -c 400000 /dev/zero | tr '\0' x | fold -w 1000 | timeout 5 kcat -b "$SSL" "${K[@]}" -P -t tls-quota \
  -X linger.ms=0 >/dev/null 2>&1 || true
[[ $(throttled) != 0 ]] || fail "the certificate subject's quota did not apply"
kill -0 "$BROKER_PID" || fail "broker died"
broker_stop
echo ok
