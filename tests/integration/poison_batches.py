"""Issue 5: batches with a correct CRC-32C that no consumer could read must be refused on produce.
Sends each bad shape in a raw Produce v7 request and checks the partition error code, then one
valid gzip batch built here, which must be accepted at offset 0 of the topic.
usage: poison_batches.py HOST:PORT TOPIC BOMB_BYTES (BOMB_BYTES: more than the broker's
message.max.decompressed.bytes)"""
import socket
import struct
import sys
import time
import zlib

CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, UNSUPPORTED_COMPRESSION_TYPE, INVALID_RECORD = 2, 10, 76, 87


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def zigzag(n):
    """A Kafka varint (zigzag, base-128)."""
    u = (n << 1) ^ (n >> 63)
    out = bytearray()
    while u >= 0x80:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)
    return bytes(out)


def record(offset_delta, value):
    body = b"\x00" + zigzag(0) + zigzag(offset_delta) + zigzag(-1)
    body += zigzag(len(value)) + value + zigzag(0)
    return zigzag(len(body)) + body


def batch(codec, payload, count, last_delta=None):
    last = count - 1 if last_delta is None else last_delta
    ts = int(time.time() * 1000)
    after_crc = struct.pack(">hiqqqhii", codec, last, ts, ts, -1, -1, -1, count) + payload
    crc = struct.pack(">I", crc32c(after_crc))
    body = struct.pack(">ib", -1, 2) + crc + after_crc
    return struct.pack(">qi", 0, len(body)) + body


def gzip(data):
    c = zlib.compressobj(6, zlib.DEFLATED, 16 + 15)
    return c.compress(data) + c.flush()


def produce(sock, topic, records, corr, version=7):
    """One Produce request (v3-v8, acks=1) for partition 0; returns (error_code, base_offset)."""
    t = topic.encode()
    body = struct.pack(">hhi", -1, 1, 10000) + struct.pack(">i", 1) + struct.pack(">h", len(t)) + t
    body += struct.pack(">iii", 1, 0, len(records)) + records
    frame = struct.pack(">hhih", 0, version, corr, 6) + b"poison" + body
    sock.sendall(struct.pack(">i", len(frame)) + frame)

    def rx(n):
        d = b""
        while len(d) < n:
            chunk = sock.recv(n - len(d))
            if not chunk:
                raise SystemExit("connection closed by the broker")
            d += chunk
        return d

    resp = rx(struct.unpack(">i", rx(4))[0])
    assert struct.unpack(">i", resp[:4])[0] == corr
    p = 4 + 4
    p += 2 + struct.unpack(">h", resp[p:p + 2])[0] + 4 + 4  # topic name, partitions count, index
    return struct.unpack(">hq", resp[p:p + 10])


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    topic, bomb_bytes = sys.argv[2], int(sys.argv[3])
    sock = socket.create_connection((host, int(port)), timeout=30)
    two = record(0, b"first") + record(1, b"second")
    junk = b"this is not compressed data at all, whatever the codec says"
    cases = [
        ("codec 5", batch(5, two, 2), UNSUPPORTED_COMPRESSION_TYPE),
        ("codec 6", batch(6, two, 2), UNSUPPORTED_COMPRESSION_TYPE),
        ("codec 7", batch(7, two, 2), UNSUPPORTED_COMPRESSION_TYPE),
        ("zstd in Produce v3", batch(4, junk, 1), UNSUPPORTED_COMPRESSION_TYPE, 3),
        ("gzip garbage", batch(1, junk, 1), CORRUPT_MESSAGE),
        ("snappy garbage", batch(2, junk, 1), CORRUPT_MESSAGE),
        ("lz4 garbage", batch(3, junk, 1), CORRUPT_MESSAGE),
        ("zstd garbage", batch(4, junk, 1), CORRUPT_MESSAGE),
        ("truncated gzip", batch(1, gzip(two)[:-9], 2), CORRUPT_MESSAGE),
        ("uncompressed garbage records", batch(0, b"\xff" * 40, 3), INVALID_RECORD),
        ("count says 3, 2 records", batch(0, two, 3), INVALID_RECORD),
        ("gzip, count says 3, 2 records", batch(1, gzip(two), 3), INVALID_RECORD),
        ("offset deltas 0, 0", batch(0, record(0, b"a") + record(0, b"b"), 2), INVALID_RECORD),
        ("lastOffsetDelta 5 for 2 records", batch(0, two, 2, 5), INVALID_RECORD),
        ("gzip bomb", batch(1, gzip(record(0, bytes(bomb_bytes))), 1), MESSAGE_TOO_LARGE),
    ]
    bad = 0
    for corr, (name, b, want, *version) in enumerate(cases, 1):
        err, base = produce(sock, topic, b, corr, *version)
        ok = err == want and base == -1
        bad += not ok
        print("%-34s error_code=%d base_offset=%d %s" % (name, err, base,
                                                         "ok" if ok else "WANTED %d" % want))
    err, base = produce(sock, topic, batch(1, gzip(two), 2), 100)
    print("valid gzip batch                   error_code=%d base_offset=%d" % (err, base))
    if err != 0 or base != 0:
        bad += 1
    sys.exit(1 if bad else 0)


main()
