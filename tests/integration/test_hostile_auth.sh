#!/usr/bin/env bash
# The hostile-input run of issue 12 §5: 600 connections from 24 threads at once send random and
# truncated SASL exchanges (every mechanism, v0 bare tokens, oversized and absurd frames,
# requests before authentication) and random, corrupted and truncated TLS handshakes to SSL
# (client certificates required) and SASL_SSL listeners, some reset mid-way (hostile_auth.py,
# seeded). Meanwhile and afterwards normal clients are served: SCRAM over SASL_PLAINTEXT, a client
# certificate over SSL, SCRAM over SASL_SSL and an OAUTHBEARER token; the broker never logs an
# ERROR or a sanitizer report (broker_stop).
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/certs.sh"
P=$T/pki
make_certs "$P" || fail "cannot make test certificates"
SECRET=hostile-test-secret-0123456789abcdef
broker_start --set listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0 \
  --set ssl.key.location="$P/broker.key" --set ssl.certificate.location="$P/broker.pem" \
  --set ssl.ca.location="$P/ca.pem" --set listener.name.ssl.ssl.client.auth=required \
  --set sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER \
  --set sasl.oauthbearer.secret=$SECRET --set connection.failed.authentication.delay.ms=5 \
  --set connections.max.partial.request.ms=1000
port() { echo "127.0.0.1:$(sed -n "s/^kafka.$1=//p" "$T/ports")"; }
SP=$(port SASL_PLAINTEXT) SSLA=$(port SSL) SS=$(port SASL_SSL)
"$SLUICE" user add alice --password s3cret -b "$BROKER" >/dev/null || fail "user add"
KS=(-X security.protocol=sasl_plaintext -X sasl.mechanisms=SCRAM-SHA-256 -X sasl.username=alice -X sasl.password=s3cret)
KT=(-X security.protocol=ssl -X ssl.ca.location="$P/ca.pem" -X ssl.certificate.location="$P/client.pem"
    -X ssl.key.location="$P/client.key")

$PY "$(dirname "$0")/hostile_auth.py" "$SP" "$SSLA,$SS" 600 24 12 >"$T/hostile.out" 2>&1 &
HOSTILE=$!
served=0
while kill -0 $HOSTILE 2>/dev/null; do
  echo "during-$served" | timeout 30 kcat -b "$SP" "${KS[@]}" -P -t hostile || fail "SCRAM client refused during the storm"
  timeout 30 kcat -b "$SSLA" "${KT[@]}" -L >/dev/null || fail "TLS client refused during the storm"
  served=$((served + 1))
done
wait $HOSTILE || { cat "$T/hostile.out" >&2; fail "hostile_auth.py failed"; }
cat "$T/hostile.out"
[[ $served -ge 1 ]] || fail "no normal client ran during the storm"
kill -0 "$BROKER_PID" || fail "broker died"

n=$(kcat -b "$SS" -X security.protocol=sasl_ssl -X ssl.ca.location="$P/ca.pem" -X sasl.mechanisms=SCRAM-SHA-512 \
  -X sasl.username=alice -X sasl.password=s3cret -C -t hostile -o beginning -e -q | grep -c '^during-') \
  || fail "SASL_SSL consume after the storm"
[[ $n == "$served" ]] || fail "consumed $n of $served records produced during the storm"
$PY - "$SP" "$SECRET" <<'PY' || fail "OAUTHBEARER after the storm"
import sys, time, jwt
from confluent_kafka import Producer
now = int(time.time())
tok = jwt.encode({"sub": "bob", "exp": now + 60}, sys.argv[2], algorithm="HS256")
p = Producer({"bootstrap.servers": sys.argv[1], "security.protocol": "sasl_plaintext",
              "sasl.mechanisms": "OAUTHBEARER", "oauth_cb": lambda _c: (tok, float(now + 60))})
p.produce("hostile", b"oauth-after")
assert p.flush(30) == 0, "not delivered"
print("ok: OAUTHBEARER client served after the storm")
PY
echo "normal clients served during the storm: $served rounds"
broker_stop
echo PASS
