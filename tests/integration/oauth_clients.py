"""OAUTHBEARER with real clients and on the wire. Tokens are signed here (PyJWT) with the key the
broker trusts, or with another key.
usage: oauth_clients.py HOSTPORT ALG PRIVATE_KEY_PEM OTHER_PRIVATE_KEY_PEM
The broker expects audience "kafka" and issuer "test-idp".
- confluent-kafka (librdkafka, oauth_cb): a valid token produces and consumes as its principal;
  an expired token, one signed by another key and one for another audience are refused.
- raw socket: a refused token gets SASL_AUTHENTICATION_FAILED (58) with RFC 7628's error JSON
  and a closed connection; a valid one gets session_lifetime_ms = the token's remaining life,
  and once that has passed the next request closes the connection."""
import socket
import struct
import sys
import time

import jwt
from confluent_kafka import Consumer, KafkaException, Producer

hostport, alg, key_file, other_file = sys.argv[1:5]
host, port = hostport.rsplit(":", 1)
key, other = open(key_file).read(), open(other_file).read()


def make_token(sub="alice", life=600, aud="kafka", signer=None, iss="test-idp", extra=None):
    now = int(time.time())
    claims = {"sub": sub, "iss": iss, "aud": aud, "iat": now, "exp": now + life}
    claims.update(extra or {})
    return jwt.encode(claims, signer or key, algorithm=alg), now + life


def conf(tok_fn, **extra):
    def cb(_config):
        # librdkafka will not use a token it believes expired, so it is told a later expiry
        # than the JWT's own: the broker must find out.
        tok, exp = tok_fn()
        return tok, float(max(exp, time.time() + 60))
    c = {"bootstrap.servers": hostport, "security.protocol": "sasl_plaintext",
         "sasl.mechanisms": "OAUTHBEARER", "oauth_cb": cb}
    c.update(extra)
    return c


def roundtrip(n=10):
    topic = f"oauth-{alg.lower()}"
    p = Producer(conf(lambda: make_token()))
    for i in range(n):
        p.produce(topic, value=b"%d" % i)
    assert p.flush(30) == 0, "not delivered"
    c = Consumer(conf(lambda: make_token(), **{"group.id": topic, "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    got, deadline = set(), time.time() + 30
    while len(got) < n and time.time() < deadline:
        m = c.poll(1.0)
        if m is not None and not m.error():
            got.add(int(m.value()))
    c.close()
    assert got == set(range(n)), f"consumed {len(got)} of {n}"
    print(f"ok: {alg} token produces and consumes")


def refused(tok_fn, label):
    """The client reports an authentication error (error_cb) and is never served."""
    errs = []
    p = Producer(conf(tok_fn, error_cb=lambda e: errs.append(e)))
    deadline = time.time() + 20
    while not errs and time.time() < deadline:
        p.poll(0.1)
    assert errs, f"{label}: no error reported"
    assert "Authentication failed" in str(errs[0]), f"{label}: {errs[0]}"
    try:
        p.list_topics(timeout=0.5)
        raise AssertionError(f"{label}: metadata served")
    except KafkaException:
        pass
    print(f"ok: refused {label}: {str(errs[0])[:120]}")


roundtrip()
refused(lambda: make_token(life=-120), "expired token")
refused(lambda: make_token(signer=other), "token signed by another key")
refused(lambda: make_token(aud="somebody-else"), "token for another audience")
refused(lambda: make_token(iss="evil-idp"), "token from another issuer")


# ---- on the wire ----
def frame(sock, api, ver, body, corr):
    m = struct.pack(">hhih", api, ver, corr, 1) + b"t" + body
    sock.sendall(struct.pack(">i", len(m)) + m)


def read(sock):
    d = b""
    while len(d) < 4:
        c = sock.recv(4 - len(d))
        if not c:
            return None
        d += c
    n = struct.unpack(">i", d)[0]
    d = b""
    while len(d) < n:
        c = sock.recv(n - len(d))
        if not c:
            return None
        d += c
    return d


def authenticate(tok):
    """SaslHandshake v1 + SaslAuthenticate v1; returns (socket, error, message, bytes, lifetime)."""
    s = socket.create_connection((host, int(port)), timeout=20)
    mech = b"OAUTHBEARER"
    frame(s, 17, 1, struct.pack(">h", len(mech)) + mech, 1)
    r = read(s)
    assert r and struct.unpack(">h", r[4:6])[0] == 0, "handshake refused"
    msg = b"n,,\x01auth=Bearer " + tok.encode() + b"\x01\x01"
    frame(s, 36, 1, struct.pack(">i", len(msg)) + msg, 2)
    r = read(s)
    assert r, "no SaslAuthenticate answer"
    err = struct.unpack(">h", r[4:6])[0]
    pos = 6
    mlen = struct.unpack(">h", r[pos:pos + 2])[0]
    pos += 2
    text = r[pos:pos + mlen].decode() if mlen >= 0 else None
    pos += max(mlen, 0)
    blen = struct.unpack(">i", r[pos:pos + 4])[0]
    pos += 4
    auth = r[pos:pos + blen]
    pos += blen
    life = struct.unpack(">q", r[pos:pos + 8])[0]
    return s, err, text, auth, life


def closed(s):
    try:
        return read(s) is None
    except (ConnectionResetError, socket.timeout):
        return False


s, err, text, auth, _ = authenticate(make_token(life=-120)[0])
assert err == 58, f"expired: error {err}"
assert auth == b'{"status":"invalid_token"}', f"expired: auth bytes {auth!r}"
assert "expired" in text, text
assert closed(s), "connection kept after a refused token"
s.close()
s, err, text, auth, _ = authenticate("garbage")
assert err == 58 and closed(s), f"garbage token: {err}"
s.close()
print("ok: refused tokens get SASL_AUTHENTICATION_FAILED, RFC 7628 JSON, a closed connection")

# Identity providers' tokens run long (group lists): 8 KB of claims are accepted.
big = make_token(extra={"groups": ["group-%04d" % i for i in range(600)]})[0]
assert len(big) > 8000, len(big)
s, err, text, auth, _ = authenticate(big)
assert err == 0, f"{len(big)}-byte token refused: {text}"
s.close()
print(f"ok: a {len(big)}-byte token is accepted")

# The session lasts as long as the token: 3 s here.
s, err, text, auth, life = authenticate(make_token(life=3)[0])
assert err == 0, f"valid token refused: {text}"
assert 0 < life <= 3000, f"session_lifetime_ms {life}, expected at most the token's 3 s"
frame(s, 3, 1, struct.pack(">i", 0), 3)  # Metadata v1, no topics: served while the token lives
assert read(s) is not None, "metadata refused during the session"
time.sleep(life / 1000 + 0.5)
frame(s, 3, 1, struct.pack(">i", 0), 4)
assert closed(s), "request served after the token expired"
s.close()
print(f"ok: session_lifetime_ms={life} follows the token, expired session closed")
