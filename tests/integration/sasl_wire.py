"""SASL on the wire, with exact Kafka error codes (raw sockets, an RFC 5802 client written here).
usage: sasl_wire.py SASL_PLAINTEXT_HOSTPORT DELAY_MS
Expects users alice/s3cret (SCRAM-SHA-256 and -512). Each failure must get its error code and a
closed connection; the failure answer must come no sooner than the configured delay."""
import base64
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

host, port = sys.argv[1].rsplit(":", 1)
delay_ms = int(sys.argv[2])
ERR_UNSUPPORTED_SASL_MECHANISM, ERR_ILLEGAL_SASL_STATE, ERR_SASL_AUTH_FAILED = 33, 34, 58


def uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def read_uvarint(b, pos):
    n = shift = 0
    while True:
        c = b[pos]
        pos += 1
        n |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return n, pos


class Conn:
    def __init__(self):
        self.s = socket.create_connection((host, int(port)), timeout=15)
        self.corr = 0

    def send_frame(self, payload):
        self.s.sendall(struct.pack(">i", len(payload)) + payload)

    def read_frame(self):
        hdr = self.recv_exact(4)
        if hdr is None:
            return None
        return self.recv_exact(struct.unpack(">i", hdr)[0])

    def recv_exact(self, n):
        d = b""
        while len(d) < n:
            try:
                c = self.s.recv(n - len(d))
            except ConnectionResetError:
                return None
            if not c:
                return None
            d += c
        return d

    def request(self, api, ver, body, flex=False):
        self.corr += 1
        h = struct.pack(">hhih", api, ver, self.corr, 4) + b"test" + (b"\x00" if flex else b"")
        self.send_frame(h + body)
        r = self.read_frame()
        if r is None:
            return None
        assert struct.unpack(">i", r[:4])[0] == self.corr
        return r[4 + (1 if flex else 0):]

    def closed(self):
        self.s.settimeout(15)
        try:
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True

    def handshake(self, mech, ver=1):
        r = self.request(17, ver, struct.pack(">h", len(mech)) + mech.encode())
        err = struct.unpack(">h", r[:2])[0]
        n = struct.unpack(">i", r[2:6])[0]
        mechs, pos = [], 6
        for _ in range(n):
            ln = struct.unpack(">h", r[pos:pos + 2])[0]
            mechs.append(r[pos + 2:pos + 2 + ln].decode())
            pos += 2 + ln
        return err, mechs

    def authenticate(self, token):
        """SaslAuthenticate v1: (error, message, bytes)."""
        r = self.request(36, 1, struct.pack(">i", len(token)) + token)
        if r is None:
            return None
        err = struct.unpack(">h", r[:2])[0]
        ml = struct.unpack(">h", r[2:4])[0]
        pos = 4 + max(ml, 0)
        msg = r[4:pos].decode() if ml >= 0 else None
        bl = struct.unpack(">i", r[pos:pos + 4])[0]
        return err, msg, r[pos + 4:pos + 4 + bl]

    def authenticate_v(self, token, ver):
        """SaslAuthenticate v0 (no session lifetime) or v2 (flexible): (error, bytes, lifetime)."""
        if ver == 2:
            body = uvarint(len(token) + 1) + token + b"\x00"
            r = self.request(36, 2, body, flex=True)
            err = struct.unpack(">h", r[:2])[0]
            ml, pos = read_uvarint(r, 2)
            pos += max(ml - 1, 0)
            bl, pos = read_uvarint(r, pos)
            data = r[pos:pos + bl - 1]
            pos += bl - 1
            life = struct.unpack(">q", r[pos:pos + 8])[0]
            assert r[pos + 8:] == b"\x00", "v2 response must end with its empty tag section"
            return err, data, life
        r = self.request(36, 0, struct.pack(">i", len(token)) + token)
        err = struct.unpack(">h", r[:2])[0]
        ml = struct.unpack(">h", r[2:4])[0]
        pos = 4 + max(ml, 0)
        bl = struct.unpack(">i", r[pos:pos + 4])[0]
        assert len(r) == pos + 4 + bl, "v0 response has no session lifetime"
        return err, r[pos + 4:], None

    def metadata_ok(self):
        r = self.request(3, 1, struct.pack(">i", -1))
        return r is not None and len(r) > 8


def scram(c, mech, user, password, nonce=None, tamper=False):
    h = hashlib.sha256 if mech.endswith("256") else hashlib.sha512
    cnonce = nonce or base64.b64encode(os.urandom(18)).decode()
    bare = f"n={user},r={cnonce}"
    r = c.authenticate(("n,," + bare).encode())
    if r is None or r[0]:
        return r
    sf = r[2].decode()
    attrs = dict(kv.split("=", 1) for kv in sf.split(","))
    assert attrs["r"].startswith(cnonce) and len(attrs["r"]) > len(cnonce), sf
    salted = hashlib.pbkdf2_hmac(h().name, password.encode(), base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    ck = hmac.new(salted, b"Client Key", h).digest()
    without = "c=biws,r=" + attrs["r"]
    am = f"{bare},{sf},{without}".encode()
    sig = hmac.new(h(ck).digest(), am, h).digest()
    proof = bytes(a ^ b for a, b in zip(ck, sig))
    if tamper:
        proof = bytes([proof[0] ^ 1]) + proof[1:]
    r = c.authenticate(f"{without},p={base64.b64encode(proof).decode()}".encode())
    if r and r[0] == 0:
        sk = hmac.new(salted, b"Server Key", h).digest()
        want = "v=" + base64.b64encode(hmac.new(sk, am, h).digest()).decode()
        assert r[2].decode() == want, "server signature does not verify"
    return r


def expect_failure(label, c, result, code, timed_from=None):
    assert result is not None, f"{label}: no answer"
    assert result[0] == code, f"{label}: error {result[0]}, wanted {code} ({result})"
    if timed_from is not None:
        took = (time.time() - timed_from) * 1000
        assert took >= delay_ms * 0.9, f"{label}: answered after {took:.0f} ms < {delay_ms}"
    assert c.closed(), f"{label}: connection left open"
    print(f"ok: {label} -> {code}")


# Successes: SCRAM (both hashes, an RFC-exact client), PLAIN; then other APIs are served.
for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
    c = Conn()
    assert c.handshake(mech) == (0, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
    r = scram(c, mech, "alice", "s3cret")
    assert r and r[0] == 0, f"{mech}: {r}"
    assert c.metadata_ok(), f"{mech}: metadata after authentication"
    # KIP-368 re-authentication on the same connection, same principal.
    assert c.handshake(mech)[0] == 0
    assert scram(c, mech, "alice", "s3cret")[0] == 0, "re-authentication"
    assert c.metadata_ok()
c = Conn()
assert c.handshake("PLAIN")[0] == 0
assert c.authenticate(b"\x00alice\x00s3cret")[0] == 0
assert c.metadata_ok()
# SaslAuthenticate v0 and v2 (flexible) decode to their last byte.
for ver in (0, 2):
    c = Conn()
    assert c.handshake("PLAIN")[0] == 0
    err, data, life = c.authenticate_v(b"\x00alice\x00s3cret", ver)
    assert err == 0 and data == b"" and life in (None, 0), (ver, err, data, life)
    assert c.metadata_ok()
print("ok: SaslAuthenticate v0 and v2")
# SaslHandshake v0: bare tokens, a bare (empty) answer, then Kafka requests.
c = Conn()
assert c.handshake("PLAIN", ver=0)[0] == 0
c.send_frame(b"\x00alice\x00s3cret")
assert c.read_frame() == b"", "v0 PLAIN answer"
assert c.metadata_ok(), "metadata after v0 authentication"
c = Conn()
assert c.handshake("PLAIN", ver=0)[0] == 0
c.send_frame(b"\x00alice\x00nope")
assert c.read_frame() is None, "v0 wrong password must close without an answer"

# Failures.
c = Conn()
r = c.request(3, 1, struct.pack(">i", -1))
assert r is None, "Metadata before authentication was answered"
print("ok: request before authentication -> closed unanswered")
c = Conn()
expect_failure("SaslAuthenticate before handshake", c, c.authenticate(b"\x00alice\x00s3cret"),
               ERR_ILLEGAL_SASL_STATE)
c = Conn()
err, mechs = c.handshake("GSSAPI")
assert err == ERR_UNSUPPORTED_SASL_MECHANISM and "SCRAM-SHA-256" in mechs, (err, mechs)
assert c.closed()
print("ok: unknown mechanism -> 33 with the enabled list")
c = Conn()
assert c.handshake("PLAIN")[0] == 0
assert c.handshake("PLAIN")[0] == ERR_ILLEGAL_SASL_STATE
assert c.closed()
print("ok: second handshake mid-exchange -> 34")
c = Conn()
c.handshake("PLAIN")
t0 = time.time()
expect_failure("PLAIN wrong password", c, c.authenticate(b"\x00alice\x00wrong"),
               ERR_SASL_AUTH_FAILED, t0)
c = Conn()
c.handshake("PLAIN")
expect_failure("PLAIN unknown user", c, c.authenticate(b"\x00mallory\x00s3cret"),
               ERR_SASL_AUTH_FAILED)
c = Conn()
c.handshake("PLAIN")
expect_failure("PLAIN malformed", c, c.authenticate(b"no separators"), ERR_SASL_AUTH_FAILED)
c = Conn()
c.handshake("SCRAM-SHA-256")
t0 = time.time()
expect_failure("SCRAM wrong password", c, scram(c, "SCRAM-SHA-256", "alice", "wrong"),
               ERR_SASL_AUTH_FAILED)
c = Conn()
c.handshake("SCRAM-SHA-512")
expect_failure("SCRAM bad proof", c, scram(c, "SCRAM-SHA-512", "alice", "s3cret", tamper=True),
               ERR_SASL_AUTH_FAILED)
c = Conn()
c.handshake("SCRAM-SHA-256")
expect_failure("SCRAM unknown user", c, scram(c, "SCRAM-SHA-256", "mallory", "x"),
               ERR_SASL_AUTH_FAILED)
for bad in (b"garbage", b"p=tls-unique,,n=alice,r=abc", b"n,,r=abc", b"n,,n=al=ice,r=abc",
            b"n,,n=alice,r=", os.urandom(300)):
    c = Conn()
    c.handshake("SCRAM-SHA-256")
    expect_failure(f"SCRAM malformed {bad[:16]!r}", c, c.authenticate(bad), ERR_SASL_AUTH_FAILED)
# A truncated frame and a hang-up mid-exchange: the broker just closes.
c = Conn()
c.handshake("SCRAM-SHA-256")
c.s.sendall(struct.pack(">i", 100) + b"\x00\x24\x00\x01")
c.s.close()
# A hundred connections at once with random and truncated SASL tokens, left hanging.
hostile = []
for i in range(100):
    c = Conn()
    c.handshake("SCRAM-SHA-256" if i % 2 else "PLAIN")
    tok = os.urandom(i * 13 % 500)
    if i % 3 == 0:
        c.s.sendall(struct.pack(">i", 400) + struct.pack(">hhih", 36, 1, 99, 0) + tok[:20])
    else:
        c.s.sendall(struct.pack(">i", 10 + 4 + len(tok)) + struct.pack(">hhih", 36, 1, 99, 0)
                    + struct.pack(">i", len(tok)) + tok)
    hostile.append(c)
for c in hostile:
    c.s.close()
# The broker still authenticates others.
c = Conn()
c.handshake("SCRAM-SHA-256")
assert scram(c, "SCRAM-SHA-256", "alice", "s3cret")[0] == 0
assert c.metadata_ok()
print("ok")
