"""Hostile authentication traffic from many connections at once (issue 12 §5): random and truncated
SASL exchanges on a SASL listener and random and truncated TLS handshakes on the TLS listeners,
some connections dropped with a reset mid-way, others left silent. Nothing here checks answers
(each attempt only must not hang past its timeout); the caller checks that the broker lives and
serves normal clients during and after.
usage: hostile_auth.py SASL_PLAINTEXT_ADDR TLS_ADDR,... ATTEMPTS THREADS SEED"""
import random
import socket
import ssl
import struct
import sys
import threading
import time

sasl_addr = sys.argv[1]
tls_addrs = sys.argv[2].split(",")
attempts, threads, seed = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
MECHS = [b"PLAIN", b"SCRAM-SHA-256", b"SCRAM-SHA-512", b"OAUTHBEARER", b"GSSAPI", b"", b"\xff" * 40]


def hp(a):
    h, p = a.rsplit(":", 1)
    return h, int(p)


def frame(api, ver, corr, body, flex=False):
    head = struct.pack(">hhih", api, ver, corr, 6) + b"hostil"
    if flex:
        head += b"\x00"
    m = head + body
    return struct.pack(">i", len(m)) + m


def sasl_payload(rng):
    """A SaslHandshake (maybe) then SaslAuthenticate tokens, random, truncated or oversized."""
    mech = rng.choice(MECHS)
    hv = rng.choice([0, 1])
    out = frame(17, hv, 1, struct.pack(">h", len(mech)) + mech)
    kinds = [
        lambda: rng.randbytes(rng.randint(0, 300)),
        lambda: b"\x00alice\x00" + rng.randbytes(rng.randint(0, 40)),
        lambda: b"n,,n=alice,r=" + rng.randbytes(rng.randint(0, 60)),
        lambda: b"n,,\x01auth=Bearer " + rng.randbytes(rng.randint(0, 500)) + b"\x01\x01",
        lambda: b"n,,\x01auth=Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.\x01\x01",
        lambda: b"c=biws,r=x,p=" + rng.randbytes(30),
    ]
    for i in range(rng.randint(1, 3)):
        tok = rng.choice(kinds)()
        if hv == 0 and rng.random() < 0.5:
            out += struct.pack(">i", len(tok)) + tok  # a bare v0 token
        else:
            av = rng.choice([0, 1, 2])
            if av == 2:
                body = bytes([len(tok) + 1 if len(tok) < 127 else 0]) + tok[:126] + b"\x00"
            else:
                body = struct.pack(">i", len(tok)) + tok
            out += frame(36, av, 2 + i, body, flex=av == 2)
    r = rng.random()
    if r < 0.3:
        out = out[: rng.randint(1, len(out))]  # truncated anywhere
    elif r < 0.4:
        out += struct.pack(">i", rng.choice([0x7FFFFFFF, -5, 3, 200_000_000]))  # absurd size
    elif r < 0.5:
        out = frame(3, 1, 9, struct.pack(">i", -1))  # Metadata before authenticating
    return out


def client_hello(rng):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, outg, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outg.read()


def tls_payload(rng):
    r = rng.random()
    hello = client_hello(rng)
    if r < 0.3:
        return hello[: rng.randint(1, len(hello) - 1)]  # truncated ClientHello
    if r < 0.5:
        b = bytearray(hello)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)  # corrupted ClientHello
        return bytes(b)
    if r < 0.7:
        return b"\x16\x03\x01" + rng.randbytes(rng.randint(0, 400))  # a record header, garbage
    if r < 0.85:
        return hello + rng.randbytes(rng.randint(1, 200))  # hello, then garbage
    return rng.randbytes(rng.randint(1, 600))


done = [0]
lock = threading.Lock()


def one(rng):
    tls = rng.random() < 0.5
    addr = rng.choice(tls_addrs) if tls else sasl_addr
    payload = tls_payload(rng) if tls else sasl_payload(rng)
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(hp(addr))
        mode = rng.random()
        if mode < 0.1:
            return  # silent: the broker's partial-request timeout closes it
        for i in range(0, len(payload), rng.choice([1, 7, 64, 4096])):
            s.sendall(payload[i:i + 4096])
        if mode < 0.3:
            # Reset at once (SO_LINGER 0), maybe with answers still on their way.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        s.shutdown(socket.SHUT_WR) if mode < 0.5 else None
        deadline = time.time() + 5
        while time.time() < deadline:
            if not s.recv(65536):
                break
    except (OSError, socket.timeout):
        pass
    finally:
        s.close()
        with lock:
            done[0] += 1


def worker(k):
    rng = random.Random(seed * 1000 + k)
    for _ in range(attempts // threads):
        one(rng)


ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
t0 = time.time()
for t in ts:
    t.start()
for t in ts:
    t.join()
print(f"ok: {done[0]} hostile connections in {time.time() - t0:.1f}s")
