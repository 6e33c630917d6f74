#!/usr/bin/env bash
# `sluice cert` (issue 12 §1): `init` makes a CA, a broker certificate for 127.0.0.1/localhost and
# a client certificate; `client` adds another; the files run an SSL listener with
# ssl.client.auth=required for kcat (librdkafka, hostname verification on), while a client
# certificate from a second CA made by `sluice cert ca` is refused. Keys are mode 0600 and never
# overwritten; bad names and usage are refused.
source "$(dirname "$0")/lib/broker.sh"
P=$T/pki O=$T/other
"$SLUICE" cert init "$P" >/dev/null || fail "cert init"
"$SLUICE" cert client alice "$P" --org acme --days 2 >/dev/null || fail "cert client"
"$SLUICE" cert ca "$O" --cn other-ca >/dev/null || fail "cert ca"
"$SLUICE" cert client mallory "$O" >/dev/null || fail "cert client (other CA)"
for f in ca broker client alice; do
  [[ -s $P/$f.pem && $(stat -c %a "$P/$f.key") == 600 ]] || fail "$f: missing or key mode $(stat -c %a "$P/$f.key")"
done
openssl verify -CAfile "$P/ca.pem" "$P/broker.pem" "$P/client.pem" "$P/alice.pem" >/dev/null || fail "openssl verify"
if openssl verify -CAfile "$P/ca.pem" "$O/mallory.pem" >/dev/null 2>&1; then fail "mallory verifies against the first CA"; fi
openssl x509 -in "$P/broker.pem" -noout -ext subjectAltName | grep -q "IP Address:127.0.0.1, DNS:localhost" \
  || fail "broker SAN: $(openssl x509 -in "$P/broker.pem" -noout -ext subjectAltName)"
[[ $(openssl x509 -in "$P/alice.pem" -noout -subject) == "subject=O = acme, CN = alice" ]] \
  || fail "alice subject: $(openssl x509 -in "$P/alice.pem" -noout -subject)"
sum=$(md5sum "$P/ca.key")
if "$SLUICE" cert ca "$P" 2>"$T/err" >/dev/null; then fail "an existing CA key was overwritten"; fi
[[ $(md5sum "$P/ca.key") == "$sum" ]] && grep -q "File exists" "$T/err" || fail "CA key changed: $(cat "$T/err")"
if "$SLUICE" cert broker "$T/x" --ca "$P" --san 'ok.example,bad name' 2>"$T/err"; then fail "bad SAN accepted"; fi
grep -q "neither an IP address nor a DNS name" "$T/err" || fail "bad SAN: $(cat "$T/err")"
rc=0; "$SLUICE" cert 2>/dev/null || rc=$?; [[ $rc == 2 ]] || fail "usage: exit $rc"
rc=0; "$SLUICE" cert client ../x "$T/x" --ca "$P" 2>/dev/null || rc=$?; [[ $rc == 2 ]] || fail "client ../x: exit $rc"

broker_start --set listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0 \
  --set ssl.certificate.location="$P/broker.pem" --set ssl.key.location="$P/broker.key" \
  --set ssl.ca.location="$P/ca.pem" --set ssl.client.auth=required
SSL=127.0.0.1:$(sed -n 's/^kafka.SSL=//p' "$T/ports")
k() { kcat -b "$SSL" -X security.protocol=ssl -X ssl.ca.location="$P/ca.pem" \
  -X ssl.endpoint.identification.algorithm=https \
  -X ssl.certificate.location="$1.pem" -X ssl.key.location="$1.key" "${@:2}"; }
echo from-client | k "$P/client" -P -t certs || fail "produce with the generated client certificate"
echo from-alice | k "$P/alice" -P -t certs || fail "produce with alice's certificate"
[[ $(k "$P/client" -C -t certs -o beginning -e -q) == $'from-client\nfrom-alice' ]] || fail "consume"
if timeout 20 kcat -b "$SSL" -X security.protocol=ssl -X ssl.ca.location="$P/ca.pem" \
  -X ssl.certificate.location="$O/mallory.pem" -X ssl.key.location="$O/mallory.key" -L -m 3 >"$T/out" 2>&1; then
  fail "a certificate from another CA was served"; fi
grep -q "alert unknown ca" "$T/out" || fail "kcat with the other CA's certificate: $(head -3 "$T/out")"
for _ in $(seq 1 100); do grep -q "certificate verify failed" "$T/broker.log" && break; sleep 0.1; done
grep -q "certificate verify failed" "$T/broker.log" || fail "the other CA's certificate was not refused in the handshake"
broker_stop
echo PASS
