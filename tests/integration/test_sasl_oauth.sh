#!/usr/bin/env bash
# SASL OAUTHBEARER (issue 12 §2): JWTs signed at test time with RS256 and then ES256 keys, checked
# by the broker against sasl.oauthbearer.public.key.location with the expected audience and
# issuer; confluent-kafka (oauth_cb) produces and consumes with a valid token, and an expired
# token, a token signed by another key, for another audience or from another issuer are refused
# (oauth_clients.py, which also checks the wire: error 58, RFC 7628 JSON, closed connection,
# session lifetime = the token's); kafkajs with a good and a wrong-key token. An HS256 token is refused when no secret is configured, and
# DescribeConfigs never shows sasl.oauthbearer.secret or ssl.key.password.
source "$(dirname "$0")/lib/broker.sh"
K=$T/keys
mkdir -p "$K"
q() { "$@" >/dev/null 2>&1 || fail "openssl failed: $*"; }
q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/rsa.key"
q openssl pkey -in "$K/rsa.key" -pubout -out "$K/rsa.pub"
q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/rsa-other.key"
q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/ec.key"
q openssl pkey -in "$K/ec.key" -pubout -out "$K/ec.pub"
q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/ec-other.key"

start() {
  broker_start --set listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0 \
    --set sasl.enabled.mechanisms=PLAIN,OAUTHBEARER --set sasl.oauthbearer.public.key.location="$1" \
    --set sasl.oauthbearer.expected.audience=other,kafka --set sasl.oauthbearer.expected.issuer=test-idp \
    --set connection.failed.authentication.delay.ms=10 "${@:2}"
  SP=127.0.0.1:$(sed -n 's/^kafka.SASL_PLAINTEXT=//p' "$T/ports")
}

# A configuration without a key does not start.
if "$SLUICE" broker --data-dir "$T/bad" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  --set sasl.enabled.mechanisms=OAUTHBEARER >"$T/bad.log" 2>&1; then fail "OAUTHBEARER without a key started"; fi
grep -q "sasl.oauthbearer.public.key.location or sasl.oauthbearer.secret" "$T/bad.log" || fail "no reason: $(cat "$T/bad.log")"

start "$K/rsa.pub"
$PY "$(dirname "$0")/oauth_clients.py" "$SP" RS256 "$K/rsa.key" "$K/rsa-other.key" || fail "RS256 checks"
grep -q 'mechanism=OAUTHBEARER principal="User:alice"$' "$T/broker.log" || fail "principal not logged"
grep -q 'mechanism=OAUTHBEARER principal="User:" err=SASL_AUTHENTICATION_FAILED reason="token expired' \
  "$T/broker.log" || fail "expired token not logged"
grep -q 'reason="token audience is not other,kafka"' "$T/broker.log" || fail "audience failure not logged"
# An HS256 token (no secret configured) and an ES256 token are refused on an RSA key.
$PY - "$SP" "$K/ec.key" <<'PY' || fail "algorithm checks"
import sys, time, jwt
from confluent_kafka import Producer
now = int(time.time())
claims = {"sub": "mallory", "aud": "kafka", "iss": "test-idp", "exp": now + 60}
for label, tok in (("HS256", jwt.encode(claims, "s" * 32, algorithm="HS256")),
                   ("ES256", jwt.encode(claims, open(sys.argv[2]).read(), algorithm="ES256"))):
    errs = []
    p = Producer({"bootstrap.servers": sys.argv[1], "security.protocol": "sasl_plaintext",
                  "sasl.mechanisms": "OAUTHBEARER", "error_cb": lambda e: errs.append(e),
                  "oauth_cb": lambda _c: (tok, float(now + 60))})
    deadline = time.time() + 20
    while not errs and time.time() < deadline:
        p.poll(0.1)
    if not errs or "Authentication failed" not in str(errs[0]):
        sys.exit(f"{label} token on an RSA key: {errs[:1]}")
    print(f"ok: {label} token refused by an RSA key")
PY
grep -q 'reason="token algorithm HS256 is not accepted"' "$T/broker.log" || fail "HS256 refusal not logged"
# kafkajs (sasl mechanism oauthbearer): a good token produces, one from another key is refused.
dir=$(cd "$(dirname "$0")" && pwd)
if [[ ! -d "$dir/node_modules/kafkajs" ]]; then
  (cd "$dir" && npm install --no-audit --no-fund --silent kafkajs@2.2.4 >/dev/null) || fail "npm install kafkajs"
fi
tok() { $PY -c 'import sys, time, jwt
print(jwt.encode({"sub": "carol", "aud": "kafka", "iss": "test-idp", "exp": int(time.time()) + 300},
                 open(sys.argv[1]).read(), algorithm="RS256"))' "$1"; }
node "$dir/oauth_kafkajs.js" "$SP" "$(tok "$K/rsa.key")" "$(tok "$K/rsa-other.key")" || fail "kafkajs OAUTHBEARER"
grep -q 'mechanism=OAUTHBEARER principal="User:carol"$' "$T/broker.log" || fail "kafkajs principal not logged"
kill -0 "$BROKER_PID" || fail "broker died"
broker_stop

start "$K/ec.pub" --set sasl.oauthbearer.secret=hs-secret-not-shown --set ssl.key.password=pw-not-shown
$PY "$(dirname "$0")/oauth_clients.py" "$SP" ES256 "$K/ec.key" "$K/ec-other.key" || fail "ES256 checks"
# Secrets are sensitive in DescribeConfigs: no value, is_sensitive set (as Kafka's PASSWORD keys).
$PY - "$BROKER" <<'PY' || fail "DescribeConfigs shows secrets"
import sys
from confluent_kafka.admin import AdminClient, ConfigResource
a = AdminClient({"bootstrap.servers": sys.argv[1]})
res = ConfigResource(ConfigResource.Type.BROKER, "0")
cfg = a.describe_configs([res])[res].result(30)
for k in ("sasl.oauthbearer.secret", "ssl.key.password"):
    e = cfg[k]
    assert e.value is None and e.is_sensitive, f"{k}: value={e.value!r} sensitive={e.is_sensitive}"
assert cfg["sasl.oauthbearer.sub.claim.name"].value == "sub"
print("ok: secrets hidden in DescribeConfigs")
PY
broker_stop
echo "PASS"
