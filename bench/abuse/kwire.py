"""Just enough of the Kafka wire format for the abuse attackers: request frames built by hand
(Produce v7, Fetch v11, ApiVersions v0) and a RecordBatch v2 with its CRC-32C."""
import os
import struct
import time

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def varint(n):
    """Zigzag varint, as records use."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def kstr(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def record_batch(total_bytes, value_bytes=1000):
    """One uncompressed RecordBatch v2 of about total_bytes, random values, CRC filled in."""
    value = os.urandom(value_bytes)
    records = bytearray()
    count = 0
    while len(records) < total_bytes:
        body = (b"\x00" + varint(0) + varint(count) + varint(-1) + varint(len(value)) + value +
                varint(0))
        records += varint(len(body)) + body
        count += 1
    now = int(time.time() * 1000)
    # attributes, last offset delta, first/max timestamp, producer id, epoch, base sequence, count
    tail = struct.pack(">hiqqqhii", 0, count - 1, now, now, -1, -1, -1, count) + bytes(records)
    head = struct.pack(">ib", -1, 2) + struct.pack(">I", crc32c(tail))  # leader epoch, magic
    body = head + tail
    return struct.pack(">qi", 0, len(body)) + body


def frame(api_key, version, corr, client_id, body):
    req = struct.pack(">hhi", api_key, version, corr) + kstr(client_id) + body
    return struct.pack(">i", len(req)) + req


def produce_v7(topic, partition, batch, acks, corr):
    body = struct.pack(">hhi", -1, acks, 30000)  # transactional id (null), acks, timeout
    body += struct.pack(">i", 1) + kstr(topic) + struct.pack(">ii", 1, partition)
    body += struct.pack(">i", len(batch)) + batch
    return frame(0, 7, corr, "abuse-flood", body)


def fetch_v11(topic, partitions, offset, corr):
    # replica id, max wait, min bytes, max bytes, isolation, session id, session epoch
    body = struct.pack(">iiiibii", -1, 500, 1, 50 << 20, 0, 0, -1)
    body += struct.pack(">i", 1) + kstr(topic) + struct.pack(">i", len(partitions))
    for p in partitions:
        # partition, current leader epoch, fetch offset, log start offset, partition max bytes
        body += struct.pack(">iiqqi", p, -1, offset, -1, 10 << 20)
    body += struct.pack(">i", 0) + kstr("")  # forgotten topics, rack
    return frame(1, 11, corr, "abuse-fetch", body)


def api_versions_v0(corr):
    return frame(18, 0, corr, "abuse-probe", b"")
