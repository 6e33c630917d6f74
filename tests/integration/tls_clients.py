"""TLS listener checks with confluent-kafka-python and raw sockets.
usage: tls_clients.py SSL_HOSTPORT PKI_DIR
A client with a certificate from the test CA produces and consumes; clients with no certificate,
one from another CA, or an expired one are refused; garbage and a stalled handshake are closed."""
import os
import socket
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer

addr, pki = sys.argv[1], sys.argv[2]
host, port = addr.rsplit(":", 1)


def conf(cert):
    c = {"bootstrap.servers": addr, "security.protocol": "ssl",
         "ssl.ca.location": f"{pki}/ca.pem", "socket.timeout.ms": 10000}
    if cert:
        c["ssl.certificate.location"] = f"{pki}/{cert}.pem"
        c["ssl.key.location"] = f"{pki}/{cert}.key"
    return c


def good_roundtrip(topic, n):
    p = Producer(conf("client"))
    for i in range(n):
        p.produce(topic, key=str(i).encode(), value=(b"v%d-" % i) * 200)
    left = p.flush(30)
    assert left == 0, f"{left} records not delivered over TLS"
    c = Consumer(dict(conf("client"), **{"group.id": "g-" + topic, "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    got, deadline = 0, time.time() + 30
    while got < n and time.time() < deadline:
        m = c.poll(1.0)
        if m is not None and not m.error():
            assert m.value() == (b"v%s-" % m.key()) * 200
            got += 1
    c.close()
    assert got == n, f"consumed {got} of {n} over TLS"


def refused(cert, what):
    errs = []
    c = dict(conf(cert), **{"error_cb": lambda e: errs.append(str(e))})
    p = Producer(c)
    try:
        md = p.list_topics(timeout=2)
        raise AssertionError(f"{what}: metadata served ({md.brokers})")
    except KafkaException:
        pass
    print(f"refused {what}")


def closed_by_broker(sock, timeout):
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


good_roundtrip("tls-a", 200)

# Thousands of one-record Produce requests pipelined on one TLS connection: more than a loop
# iteration's share, so reading stops with records still inside OpenSSL's read-ahead; none may
# be left waiting for a readiness event that never comes.
p = Producer(dict(conf("client"), **{"linger.ms": 0, "batch.num.messages": 1}))
for i in range(20000):
    while True:
        try:
            p.produce("tls-pipelined", value=b"%d" % i)
            break
        except BufferError:
            p.poll(0.01)
left = p.flush(60)
assert left == 0, f"{left} pipelined records not acknowledged over TLS"

refused(None, "no client certificate")
refused("rogue", "certificate from another CA")
refused("expired", "expired certificate")

# Garbage instead of a ClientHello: closed at once.
s = socket.create_connection((host, int(port)))
s.sendall(os.urandom(512))
assert closed_by_broker(s, 10), "garbage handshake not closed"
s.close()
# A plaintext Kafka request (ApiVersions v0) on the TLS port: closed, never answered as Kafka.
s = socket.create_connection((host, int(port)))
s.sendall(bytes.fromhex("0000000e001200000000000100046b636174"))
s.settimeout(10)
data = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except (ConnectionResetError, socket.timeout):
    pass
assert not data.startswith(b"\x00\x00\x00") or len(data) < 8 or data[4:8] != b"\x00\x00\x00\x01", \
    "plaintext request answered on the TLS port"
s.close()
# A handshake that never finishes: closed by connections.max.partial.request.ms (1 s here).
s = socket.create_connection((host, int(port)))
s.sendall(b"\x16\x03\x01\x02\x00")  # the start of a TLS record, then silence
t0 = time.time()
assert closed_by_broker(s, 20), "stalled handshake not closed"
print(f"stalled handshake closed after {time.time() - t0:.1f} s")
s.close()
# Many hostile handshakes at once (random bytes, a truncated ClientHello record, a hang-up
# mid-handshake), then normal clients are still served.
socks = []
for i in range(150):
    t = socket.create_connection((host, int(port)))
    kind = i % 3
    if kind == 0:
        t.sendall(os.urandom(1 + i * 7 % 900))
    elif kind == 1:
        t.sendall(b"\x16\x03\x01\x40\x00" + os.urandom(100))  # claims 16 KiB, sends 100
    socks.append(t)
for t in socks[::2]:
    t.close()
time.sleep(0.5)
for t in socks[1::2]:
    t.close()
good_roundtrip("tls-b", 50)
print("ok")
