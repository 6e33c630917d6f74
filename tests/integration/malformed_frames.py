"""Sends hostile frames to a broker; each must be answered with a close (or a Kafka error), never a
crash. Usage: malformed_frames.py HOST:PORT"""
import socket
import struct
import sys

host, port = sys.argv[1].rsplit(":", 1)
port = int(port)


def conn():
    s = socket.create_connection((host, port), timeout=5)
    return s


def closed_after(payload, expect_reply=False):
    """Sends payload; returns True if the broker closed the connection (or replied, if allowed)."""
    s = conn()
    s.sendall(payload)
    try:
        data = s.recv(65536)
    except socket.timeout:
        s.close()
        return False
    except ConnectionResetError:
        return True
    s.close()
    return data == b"" or expect_reply


def header(api, ver, corr=1, client=b"t"):
    return struct.pack(">hhih", api, ver, corr, len(client)) + client


def frame(body):
    return struct.pack(">i", len(body)) + body


cases = {
    "negative size": struct.pack(">i", -5) + b"xxxx",
    "tiny size": struct.pack(">i", 3) + b"abc",
    "huge size": struct.pack(">i", 0x7FFFFFF0) + b"x" * 16,
    "unknown api": frame(header(999, 0)),
    "unsupported version": frame(header(3, 99)),
    "garbage": frame(b"\xff" * 40),
    "truncated metadata": frame(header(3, 1) + b"\x00\x00"),
    "array count beyond frame": frame(header(3, 1) + struct.pack(">i", 2000000000)),
    "negative array count": frame(header(0, 3) + struct.pack(">hhii", -1, 1, 1000, -7)),
    "bad client id length": frame(struct.pack(">hhih", 3, 1, 1, 500) + b"ab"),
    "fetch truncated": frame(header(1, 4) + struct.pack(">iii", -1, 100, 1)),
}
failed = []
for name, payload in cases.items():
    if not closed_after(payload):
        failed.append(name)
        print("not closed:", name)

# Produce with a bad CRC: a Kafka error (CORRUPT_MESSAGE = 2), not a close.
def produce_frame(batch, ver=3):
    body = header(0, ver) + struct.pack(">h", -1)  # transactional_id null
    body += struct.pack(">hi", 1, 5000)  # acks=1
    body += struct.pack(">i", 1) + struct.pack(">h", 7) + b"badcrc1"
    body += struct.pack(">i", 1) + struct.pack(">i", 0) + struct.pack(">i", len(batch)) + batch
    return frame(body)


def record_batch(corrupt_crc):
    import zlib  # noqa: F401  (only to keep imports obvious; CRC-32C computed below)
    rec = b"\x00"  # attributes
    rec += b"\x00"  # timestamp delta (varint 0)
    rec += b"\x00"  # offset delta
    rec += b"\x01"  # key length -1 (zigzag 1)
    rec += b"\x06" + b"abc"  # value length 3
    rec += b"\x00"  # headers
    rec = bytes([len(rec) * 2]) + rec
    after_crc = struct.pack(">hiqqqhii", 0, 0, 1000, 1000, -1, -1, -1, 1) + rec
    crc = crc32c(after_crc) ^ (1 if corrupt_crc else 0)
    body = struct.pack(">ibI", 0, 2, crc) + after_crc
    return struct.pack(">qi", 0, len(body)) + body


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


# Create the topic first through Metadata auto-creation (v4, allow_auto_topic_creation=true).
s = conn()
md = header(3, 4) + struct.pack(">i", 1) + struct.pack(">h", 7) + b"badcrc1" + b"\x01"
s.sendall(frame(md))
s.recv(65536)
s.close()

for corrupt, want in ((True, 2), (False, 0)):
    s = conn()
    s.sendall(produce_frame(record_batch(corrupt)))
    size = struct.unpack(">i", s.recv(4))[0]
    data = b""
    while len(data) < size:
        data += s.recv(size - len(data))
    s.close()
    # corr(4) topics(4) name(2+7) parts(4) index(4) error(2)
    err = struct.unpack(">h", data[4 + 4 + 9 + 4 + 4:][:2])[0]
    if err != want:
        failed.append("produce crc=%s: error %d, want %d" % (corrupt, err, want))

if failed:
    print("FAILED:", failed)
    sys.exit(1)
print("all malformed frames handled")
