"""DescribeCluster v0 (API 60) by hand: prints "controller=ID brokers=ID@HOST:PORT,..." as the
broker at argv[1] answers, and checks the response decodes to its last byte."""
import socket
import struct
import sys

host, port = sys.argv[1].rsplit(":", 1)


def uvarint(buf, pos):
    shift = value = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def cstr(buf, pos):
    n, pos = uvarint(buf, pos)
    if n == 0:
        return None, pos
    return buf[pos:pos + n - 1].decode(), pos + n - 1


client = b"describe-cluster-test"
body = struct.pack(">hhih", 60, 0, 7, len(client)) + client + b"\x00" + b"\x01" + b"\x00"
s = socket.create_connection((host, int(port)), timeout=10)
s.sendall(struct.pack(">i", len(body)) + body)
hdr = b""
while len(hdr) < 4:
    hdr += s.recv(4 - len(hdr))
n = struct.unpack(">i", hdr)[0]
r = b""
while len(r) < n:
    chunk = s.recv(n - len(r))
    assert chunk, "connection closed"
    r += chunk
corr = struct.unpack_from(">i", r, 0)[0]
assert corr == 7, corr
_, pos = uvarint(r, 4)  # response header tags
throttle, err = struct.unpack_from(">ih", r, pos)
pos += 6
assert err == 0, err
_, pos = cstr(r, pos)  # error message
cluster_id, pos = cstr(r, pos)
controller = struct.unpack_from(">i", r, pos)[0]
pos += 4
nb, pos = uvarint(r, pos)
brokers = []
for _ in range(nb - 1):
    bid = struct.unpack_from(">i", r, pos)[0]
    pos += 4
    h, pos = cstr(r, pos)
    p = struct.unpack_from(">i", r, pos)[0]
    pos += 4
    _, pos = cstr(r, pos)  # rack
    _, pos = uvarint(r, pos)  # tags
    brokers.append("%d@%s:%d" % (bid, h, p))
ops = struct.unpack_from(">i", r, pos)[0]
pos += 4
_, pos = uvarint(r, pos)
assert pos == len(r), (pos, len(r))
assert cluster_id and ops != -2147483648
print("controller=%d brokers=%s" % (controller, ",".join(sorted(brokers))))
