"""Client quotas over raw Kafka frames (kafka-python 2.0.2 and confluent-kafka 1.7 have no client
quota API).
    quotas.py HOST:PORT api       AlterClientQuotas/DescribeClientQuotas v0 and v1: validation
                                  errors, validate_only, Describe filters; decoded to the last byte
    quotas.py HOST:PORT throttle TOPIC QUOTA SECONDS
                                  client "slow" (producer_byte_rate QUOTA, set by the caller) and
                                  client "free" produce as fast as the broker answers; "slow" must
                                  get throttle_time_ms > 0 and end within 2x of QUOTA, "free" must
                                  never be throttled and go faster
    quotas.py HOST:PORT fetch TOPIC   client "reader" (consumer_byte_rate set by the caller) is
                                  throttled reading TOPIC from offset 0
    quotas.py HOST:PORT connrate N    opens N connections at once; prints how many were answered
Exit status 0 when every check passed."""
import socket
import struct
import sys
import threading
import time

ADDR = None


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def connect():
    host, port = ADDR.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_n(s, n):
    out = b""
    while len(out) < n:
        c = s.recv(n - len(out))
        if not c:
            raise EOFError("connection closed")
        out += c
    return out


def uvarint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


class W:
    def __init__(self, flex):
        self.b = b""
        self.flex = flex

    def i8(self, v):
        self.b += struct.pack(">b", v)

    def i32(self, v):
        self.b += struct.pack(">i", v)

    def f64(self, v):
        self.b += struct.pack(">d", v)

    def boolean(self, v):
        self.b += b"\x01" if v else b"\x00"

    def s(self, v):
        if v is None:
            self.b += b"\x00" if self.flex else struct.pack(">h", -1)
        else:
            e = v.encode()
            self.b += uvarint(len(e) + 1) if self.flex else struct.pack(">h", len(e))
            self.b += e

    def arr(self, n):
        self.b += uvarint(n + 1) if self.flex else struct.pack(">i", n)

    def tags(self):
        if self.flex:
            self.b += b"\x00"


class R:
    def __init__(self, b, flex):
        self.b, self.p, self.flex = b, 0, flex

    def take(self, n):
        if self.p + n > len(self.b):
            raise ValueError("short response")
        v = self.b[self.p:self.p + n]
        self.p += n
        return v

    def uvarint(self):
        n = shift = 0
        while True:
            c = self.take(1)[0]
            n |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return n

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def f64(self):
        return struct.unpack(">d", self.take(8))[0]

    def s(self):
        n = self.uvarint() - 1 if self.flex else self.i16()
        return None if n < 0 else self.take(n).decode()

    def arr(self):
        return self.uvarint() - 1 if self.flex else self.i32()

    def tags(self):
        if self.flex:
            for _ in range(self.uvarint()):
                self.uvarint()
                self.take(self.uvarint())


def call(s, key, ver, flex, body, corr=7, client="quota-test"):
    hdr = struct.pack(">hhi", key, ver, corr) + struct.pack(">h", len(client)) + client.encode()
    if flex:
        hdr += b"\x00"
    req = hdr + body
    s.sendall(struct.pack(">i", len(req)) + req)
    n = struct.unpack(">i", recv_n(s, 4))[0]
    r = R(recv_n(s, n), flex)
    assert r.i32() == corr
    r.tags()
    return r


def alter(s, ver, entries, validate_only=False):
    """entries: [([(type, name)], [(key, value, remove)])] -> [(error, message, entity)]"""
    flex = ver >= 1
    w = W(flex)
    w.arr(len(entries))
    for ent, ops in entries:
        w.arr(len(ent))
        for t, n in ent:
            w.s(t)
            w.s(n)
            w.tags()
        w.arr(len(ops))
        for k, v, rm in ops:
            w.s(k)
            w.f64(v)
            w.boolean(rm)
            w.tags()
        w.tags()
    w.boolean(validate_only)
    w.tags()
    r = call(s, 49, ver, flex, w.b)
    r.i32()
    out = []
    for _ in range(r.arr()):
        err, msg = r.i16(), r.s()
        ent = []
        for _ in range(r.arr()):
            ent.append((r.s(), r.s()))
            r.tags()
        r.tags()
        out.append((err, msg, ent))
    r.tags()
    assert r.p == len(r.b), "AlterClientQuotas v%d: %d trailing bytes" % (ver, len(r.b) - r.p)
    return out


def describe(s, ver, comps, strict=False):
    """comps: [(type, match_type, match)] -> (error, {frozenset(entity): {key: value}})"""
    flex = ver >= 1
    w = W(flex)
    w.arr(len(comps))
    for t, mt, m in comps:
        w.s(t)
        w.i8(mt)
        w.s(m)
        w.tags()
    w.boolean(strict)
    w.tags()
    r = call(s, 48, ver, flex, w.b)
    r.i32()
    err, _msg = r.i16(), r.s()
    n = r.arr()
    out = None if n < 0 else {}
    for _ in range(max(n, 0)):
        ent = []
        for _ in range(r.arr()):
            ent.append((r.s(), r.s()))
            r.tags()
        vals = {}
        for _ in range(r.arr()):
            k, v = r.s(), r.f64()
            r.tags()
            vals[k] = v
        r.tags()
        out[frozenset(ent)] = vals
    r.tags()
    assert r.p == len(r.b), "DescribeClientQuotas v%d: %d trailing bytes" % (ver, len(r.b) - r.p)
    return err, out


def check_api():
    s = connect()
    PBR, CBR, RP, CCR = ("producer_byte_rate", "consumer_byte_rate", "request_percentage",
                         "connection_creation_rate")
    for ver in (0, 1):
        tag = "v%d-" % ver
        ok = [("client-id", tag + "c")]
        res = alter(s, ver, [
            ([("client-id", tag + "c")], [(PBR, 1048576, False), (CBR, 2e6, False)]),
            ([("user", tag + "u"), ("client-id", None)], [(RP, 12.5, False)]),
            ([("user", None)], [(PBR, 5e6, False)]),
            ([("ip", "127.0.0.9")], [(CCR, 30, False)]),
            ([("client-id", tag + "bad")], [("bogus_rate", 1, False)]),
            ([("client-id", tag + "bad")], [(PBR, -1, False)]),
            ([("client-id", tag + "bad")], [(PBR, 10.5, False)]),
            ([("ip", "127.0.0.9"), ("user", "x")], [(CCR, 1, False)]),
            ([("ip", "not-an-ip")], [(CCR, 1, False)]),
            ([("client-id", tag + "bad")], [(CCR, 1, False)]),
            ([("group", "g")], [(PBR, 1, False)]),
            ([("client-id", "a"), ("client-id", "b")], [(PBR, 1, False)]),
            ([], [(PBR, 1, False)]),
        ])
        got = [e for e, _, _ in res]
        assert got == [0, 0, 0, 0, 42, 40, 40, 42, 42, 42, 42, 42, 42], (ver, res)
        assert res[0][2] == [("client-id", tag + "c")], res[0]
        assert res[1][2] == [("user", tag + "u"), ("client-id", None)], res[1]
        assert all(m for e, m, _ in res if e), res  # every error says why
        # validate_only: checked, answered, not applied
        assert alter(s, ver, [([("client-id", tag + "vo")], [(PBR, 1, False)])], True)[0][0] == 0
        assert alter(s, ver, [([("client-id", tag + "vo")], [(PBR, -1, False)])], True)[0][0] == 40
        err, d = describe(s, ver, [("client-id", 0, tag + "vo")])
        assert err == 0 and d == {}, d
        # exact match
        err, d = describe(s, ver, [("client-id", 0, tag + "c")])
        assert err == 0 and d == {frozenset(ok): {PBR: 1048576.0, CBR: 2e6}}, d
        # default client-id, not strict: the user+default-client entity
        err, d = describe(s, ver, [("client-id", 1, None)])
        assert d[frozenset([("user", tag + "u"), ("client-id", None)])] == {RP: 12.5}, d
        assert all(("client-id", None) in e for e in d), d
        # strict: only entities with no other types -> none has client-id alone as default
        assert describe(s, ver, [("client-id", 1, None)], True)[1] == {}
        # any user
        err, d = describe(s, ver, [("user", 2, None)], True)
        assert d[frozenset([("user", None)])] == {PBR: 5e6}, d
        assert frozenset([("user", tag + "u"), ("client-id", None)]) not in d  # strict
        # ip entity
        err, d = describe(s, ver, [("ip", 0, "127.0.0.9")])
        assert d == {frozenset([("ip", "127.0.0.9")]): {CCR: 30.0}}, d
        # remove one key, then the last one: the entity is gone
        assert alter(s, ver, [([("client-id", tag + "c")], [(CBR, 0, True)])])[0][0] == 0
        assert describe(s, ver, [("client-id", 0, tag + "c")])[1] == {frozenset(ok): {PBR: 1048576.0}}
        assert alter(s, ver, [([("client-id", tag + "c")], [(PBR, 0, True)])])[0][0] == 0
        assert describe(s, ver, [("client-id", 0, tag + "c")])[1] == {}
        # bad filters: INVALID_REQUEST and a null entry list
        for comps in ([("group", 0, "g")], [("ip", 2, None), ("user", 2, None)],
                      [("user", 0, None)], [("user", 5, None)],
                      [("user", 2, None), ("user", 1, None)]):
            err, d = describe(s, ver, comps)
            assert err == 42 and d is None, (comps, err, d)
    # everything, unfiltered: what the v1 round left, plus the user default
    err, d = describe(s, 1, [])
    assert err == 0 and frozenset([("user", None)]) in d, d
    # the default-user quota would outrank client-id quotas (Kafka's order): drop it
    assert alter(s, 1, [([("user", None)], [(PBR, 0, True)])])[0][0] == 0
    # leave one entity for the restart check
    assert alter(s, 1, [([("client-id", "kept")], [(PBR, 123456, False)])])[0][0] == 0
    s.close()
    print("api ok")


def record_batch(total):
    """One uncompressed RecordBatch v2 of about `total` bytes (one record)."""
    value = b"x" * max(1, total - 100)
    # attributes, timestamp delta, offset delta, null key, value, no headers
    rec = b"\x00" + b"\x00" + b"\x00" + b"\x01" + zigzag(len(value)) + value + b"\x00"
    rec = zigzag(len(rec)) + rec
    now = int(time.time() * 1000)
    after_crc = struct.pack(">hiqqqhii", 0, 0, now, now, -1, -1, -1, 1) + rec
    crc = crc32c(after_crc)
    body = struct.pack(">ib", 0, 2) + struct.pack(">I", crc) + after_crc
    return struct.pack(">qi", 0, len(body)) + body


def zigzag(n):
    return uvarint((n << 1) ^ (n >> 63))


def produce_v7(topic, batch, corr, acks=1):
    body = struct.pack(">hhi", -1, acks, 30000) + struct.pack(">i", 1)
    body += struct.pack(">h", len(topic)) + topic.encode() + struct.pack(">ii", 1, 0)
    body += struct.pack(">i", len(batch)) + batch
    return body


def producer(topic, client, seconds, out):
    s = connect()
    batch = record_batch(64 * 1024)
    start = time.time()
    sent = throttled = max_throttle = 0
    corr = 0
    while time.time() - start < seconds:
        corr += 1
        r = call(s, 0, 7, False, produce_v7(topic, batch, corr), corr, client)
        for _ in range(r.arr()):
            r.s()
            for _ in range(r.arr()):
                r.i32()
                err = r.i16()
                assert err == 0, err
                r.i64(), r.i64(), r.i64()
        t = r.i32()
        sent += len(batch)
        throttled += t > 0
        max_throttle = max(max_throttle, t)
    out[client] = (sent / (time.time() - start), throttled, max_throttle, corr)
    s.close()


def check_throttle(topic, quota, seconds):
    out = {}
    ths = [threading.Thread(target=producer, args=(topic, c, seconds, out)) for c in ("slow", "free")]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    slow, free = out["slow"], out["free"]
    print("slow: %.0f B/s, %d of %d responses throttled (max %d ms); free: %.0f B/s, %d throttled"
          % (slow[0], slow[1], slow[3], slow[2], free[0], free[1]))
    assert slow[1] > 0, "the client over its quota was never told throttle_time_ms > 0"
    assert quota / 2 <= slow[0] <= quota * 2, "rate %.0f not within 2x of the quota %d" % (slow[0], quota)
    assert free[1] == 0, "a client without a quota was throttled"
    assert free[0] > slow[0] * 2, "the unthrottled client was not faster"
    print("throttle ok")


def check_fetch(topic):
    s = connect()
    offset = 0  # the same bytes again and again: what is sent is what counts
    throttled = 0
    for corr in range(1, 40):
        # Fetch v11: replica, max wait, min bytes, max bytes, isolation, session id/epoch, topics
        body = struct.pack(">iiiibii", -1, 100, 1, 1 << 20, 0, 0, -1) + struct.pack(">i", 1)
        body += struct.pack(">h", len(topic)) + topic.encode() + struct.pack(">i", 1)
        body += struct.pack(">iiqqi", 0, -1, offset, -1, 1 << 20)
        body += struct.pack(">i", 0) + struct.pack(">h", 0)  # forgotten topics, rack id ""
        r = call(s, 1, 11, False, body, corr, "reader")
        t = r.i32()
        throttled += t > 0
        if throttled:
            break
    s.close()
    assert throttled, "a consumer over consumer_byte_rate was never throttled"
    print("fetch ok")


def check_connrate(n):
    socks, answered = [], 0
    for _ in range(n):
        try:
            s = connect()
            s.settimeout(5)
            socks.append(s)
        except OSError:
            pass
    for i, s in enumerate(socks):
        try:
            call(s, 18, 0, False, b"", i + 1)
            answered += 1
        except (OSError, EOFError, ValueError):
            pass
    for s in socks:
        s.close()
    print(answered)


def main():
    global ADDR
    ADDR, mode, a = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "api":
        check_api()
    elif mode == "throttle":
        check_throttle(a[0], int(a[1]), float(a[2]))
    elif mode == "fetch":
        check_fetch(a[0])
    elif mode == "connrate":
        check_connrate(int(a[0]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
