"""Kafka parity on the broker, over a raw socket (the installed clients predate these APIs):
ListOffsets by time and max timestamp inside a batch, committed-offset metadata as bytes.
Usage: parity.py HOST:PORT"""
import struct
import sys
import time

from kschema import INF, Conn, crc32c, uvarint

conn = Conn(sys.argv[1], b"parity")


def zz(n):
    return uvarint((n << 1) ^ (n >> 63))


def batch(deltas, base_ts):
    """One uncompressed batch whose record i has timestamp base_ts + deltas[i]."""
    recs = b""
    for i, d in enumerate(deltas):
        value = b"v%d" % i
        body = b"\x00" + zz(d) + zz(i) + zz(-1) + zz(len(value)) + value + zz(0)
        recs += zz(len(body)) + body
    after = struct.pack(">hiqqqhii", 0, len(deltas) - 1, base_ts, base_ts + max(deltas), -1, -1,
                        -1, len(deltas)) + recs
    body = struct.pack(">ibI", -1, 2, crc32c(after)) + after
    return struct.pack(">qi", 0, len(body)) + body


CT_REQ = [("topics", [("name", "str", 0, INF), ("n", "i32", 0, INF), ("rf", "i16", 0, INF),
                      ("assign", [("i", "i32", 0, INF), ("b", "i32list", 0, INF)], 0, INF),
                      ("configs", [("k", "str", 0, INF), ("v", "nstr", 0, INF)], 0, INF)], 0, INF),
          ("timeout", "i32", 0, INF), ("validate", "bool", 1, INF)]
CT_RESP = [("throttle", "i32", 2, INF),
           ("topics", [("name", "str", 0, INF), ("error", "i16", 0, INF), ("msg", "nstr", 1, INF)],
            0, INF)]
PRODUCE_REQ = [("txn", "nstr", 3, INF), ("acks", "i16", 0, INF), ("timeout", "i32", 0, INF),
               ("topics", [("name", "str", 0, INF),
                           ("parts", [("index", "i32", 0, INF), ("records", "bytes", 0, INF)],
                            0, INF)], 0, INF)]
PRODUCE_RESP = [("responses", [("name", "str", 0, INF),
                               ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                          ("base", "i64", 0, INF), ("append_time", "i64", 2, INF),
                                          ("start", "i64", 5, INF)], 0, INF)], 0, INF),
                ("throttle", "i32", 1, INF)]
LO_REQ = [("replica", "i32", 0, INF), ("iso", "i8", 2, INF),
          ("topics", [("name", "str", 0, INF),
                      ("parts", [("index", "i32", 0, INF), ("epoch", "i32", 4, INF),
                                 ("ts", "i64", 0, INF)], 0, INF)], 0, INF)]
LO_RESP = [("throttle", "i32", 2, INF),
           ("topics", [("name", "str", 0, INF),
                       ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                  ("ts", "i64", 1, INF), ("offset", "i64", 1, INF),
                                  ("epoch", "i32", 4, INF)], 0, INF)], 0, INF)]
OC_REQ = [("group", "str", 0, INF), ("gen", "i32", 1, INF), ("member", "str", 1, INF),
          ("instance", "nstr", 7, INF),
          ("topics", [("name", "str", 0, INF),
                      ("parts", [("index", "i32", 0, INF), ("offset", "i64", 0, INF),
                                 ("epoch", "i32", 6, INF), ("meta", "nstr", 0, INF)], 0, INF)],
           0, INF)]
OC_RESP = [("throttle", "i32", 3, INF),
           ("topics", [("name", "str", 0, INF),
                       ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF)], 0, INF)],
            0, INF)]
OF_REQ = [("group", "str", 0, INF),
          ("topics", [("name", "str", 0, INF), ("parts", "i32list", 0, INF)], 0, INF),
          ("stable", "bool", 7, INF)]
OF_RESP = [("throttle", "i32", 3, INF),
           ("topics", [("name", "str", 0, INF),
                       ("parts", [("index", "i32", 0, INF), ("offset", "i64", 0, INF),
                                  ("epoch", "i32", 5, INF), ("meta", "nstr", 0, INF),
                                  ("error", "i16", 0, INF)], 0, INF)], 0, INF),
           ("error", "i16", 2, INF)]


def create(name, n=1, assign=None, configs=None, ver=4):
    req = {"topics": [{"name": name, "n": -1 if assign else n, "rf": -1 if assign else 1,
                       "assign": assign or [],
                       "configs": [{"k": k, "v": v} for k, v in (configs or {}).items()]}],
           "timeout": 5000, "validate": False}
    return conn.call(19, ver, ver >= 5, req, CT_REQ, CT_RESP)["topics"][0]


def produce(topic, part, records):
    req = {"acks": -1, "timeout": 5000,
           "topics": [{"name": topic, "parts": [{"index": part, "records": records}]}]}
    p = conn.call(0, 7, False, req, PRODUCE_REQ, PRODUCE_RESP)["responses"][0]["parts"][0]
    assert p["error"] == 0, p
    return p["base"]


def list_offset(topic, part, ts, ver=7):
    req = {"replica": -1, "iso": 0,
           "topics": [{"name": topic, "parts": [{"index": part, "epoch": -1, "ts": ts}]}]}
    p = conn.call(2, ver, ver >= 6, req, LO_REQ, LO_RESP)["topics"][0]["parts"][0]
    return p["error"], p["offset"], p["ts"]


def check_list_offsets():
    """librdkafka 0054/0081: three records in one batch at +100, +400, +250."""
    assert create("parity-lo")["error"] == 0
    base = int(time.time() * 1000) - 10000
    produce("parity-lo", 0, batch([100, 400, 250], base))
    for target, want in ((50, 0), (150, 1), (300, 1), (400, 1), (401, -1)):
        err, off, ts = list_offset("parity-lo", 0, base + target)
        assert err == 0 and off == want, ("by time", target, off, want)
    assert list_offset("parity-lo", 0, base + 150)[2] == base + 400
    err, off, ts = list_offset("parity-lo", 0, -3)  # KIP-734 max timestamp
    assert (err, off, ts) == (0, 1, base + 400), ("max timestamp", off, ts)
    print("list offsets: ok")


def check_commit_metadata():
    """librdkafka 0099: metadata is a string that may hold NUL bytes."""
    meta = "Hello\x00world!"
    req = {"group": "parity-meta", "gen": -1, "member": "", "instance": None,
           "topics": [{"name": "parity-lo", "parts": [{"index": 0, "offset": 2, "epoch": -1,
                                                      "meta": meta}]}]}
    r = conn.call(8, 7, False, req, OC_REQ, OC_RESP)
    assert r["topics"][0]["parts"][0]["error"] == 0, r
    check_fetch_metadata()


def check_fetch_metadata():
    """The metadata committed by check_commit_metadata, also after a restart."""
    req = {"group": "parity-meta", "topics": [{"name": "parity-lo", "parts": [0]}],
           "stable": False}
    p = conn.call(9, 7, True, req, OF_REQ, OF_RESP)["topics"][0]["parts"][0]
    assert (p["error"], p["offset"], p["meta"]) == (0, 2, "Hello\x00world!"), p
    print("commit metadata: ok")


CHECKS = {"list_offsets": check_list_offsets, "commit_metadata": check_commit_metadata}
AFTER_RESTART = {"fetch_metadata": check_fetch_metadata}
for name in sys.argv[2:] or CHECKS:
    (CHECKS.get(name) or AFTER_RESTART[name])()
