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
FETCH_REQ = [("replica", "i32", 0, INF), ("max_wait", "i32", 0, INF), ("min_bytes", "i32", 0, INF),
             ("max_bytes", "i32", 3, INF), ("iso", "i8", 4, INF), ("session", "i32", 7, INF),
             ("epoch", "i32", 7, INF),
             ("topics", [("name", "str", 0, 12),
                         ("parts", [("index", "i32", 0, INF), ("leader_epoch", "i32", 9, INF),
                                    ("offset", "i64", 0, INF), ("start", "i64", 5, INF),
                                    ("max", "i32", 0, INF)], 0, INF)], 0, INF),
             ("forgotten", [("name", "str", 7, INF), ("parts", "i32list", 7, INF)], 7, INF),
             ("rack", "str", 11, INF)]
FETCH_RESP = [("throttle", "i32", 1, INF), ("error", "i16", 7, INF), ("session", "i32", 7, INF),
              ("responses", [("name", "str", 0, 12),
                             ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                        ("hw", "i64", 0, INF), ("lso", "i64", 4, INF),
                                        ("start", "i64", 5, INF),
                                        ("aborted", [("pid", "i64", 4, INF), ("first", "i64", 4, INF)],
                                         4, INF),
                                        ("replica", "i32", 11, INF), ("records", "bytes", 0, INF)],
                              0, INF)], 0, INF)]
DR_REQ = [("topics", [("name", "str", 0, INF),
                      ("parts", [("index", "i32", 0, INF), ("offset", "i64", 0, INF)], 0, INF)],
           0, INF), ("timeout", "i32", 0, INF)]
DR_RESP = [("throttle", "i32", 0, INF),
           ("topics", [("name", "str", 0, INF),
                       ("parts", [("index", "i32", 0, INF), ("low", "i64", 0, INF),
                                  ("error", "i16", 0, INF)], 0, INF)], 0, INF)]
DLD_REQ = [("topics", [("name", "str", 0, INF), ("parts", "i32list", 0, INF)], 0, INF)]
DLD_RESP = [("throttle", "i32", 0, INF), ("error", "i16", 3, INF),
            ("results", [("error", "i16", 0, INF), ("dir", "str", 0, INF),
                         ("topics", [("name", "str", 0, INF),
                                     ("parts", [("index", "i32", 0, INF), ("size", "i64", 0, INF),
                                                ("lag", "i64", 0, INF), ("future", "bool", 0, INF)],
                                      0, INF)], 0, INF),
                         ("total", "i64", 4, INF), ("usable", "i64", 4, INF)], 0, INF)]


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


def delete_records(topic, part, offset, ver=1):
    req = {"topics": [{"name": topic, "parts": [{"index": part, "offset": offset}]}],
           "timeout": 5000}
    p = conn.call(21, ver, ver >= 2, req, DR_REQ, DR_RESP)["topics"][0]["parts"][0]
    return p["error"], p["low"]


def fetch(topic, part, offset):
    req = {"replica": -1, "max_wait": 10, "min_bytes": 1, "max_bytes": 1 << 20, "iso": 0,
           "session": 0, "epoch": -1, "topics": [{"name": topic, "parts": [
               {"index": part, "leader_epoch": -1, "offset": offset, "start": -1,
                "max": 1 << 20}]}], "forgotten": [], "rack": ""}
    return conn.call(1, 11, False, req, FETCH_REQ, FETCH_RESP)["responses"][0]["parts"][0]


def log_dir_sizes(topic, ver=4):
    r = conn.call(35, ver, ver >= 2, {"topics": [{"name": topic, "parts": [0, 1, 7]}]}, DLD_REQ,
                  DLD_RESP)
    assert r.get("error", 0) == 0 and len(r["results"]) == 1, r
    d = r["results"][0]
    assert d["error"] == 0 and d["dir"], d
    assert ver < 4 or d["total"] >= d["usable"] > 0, d
    return {p["index"]: p["size"] for t in d["topics"] for p in t["parts"] if t["name"] == topic}


def check_delete_records():
    """DeleteRecords moves the log start offset: Fetch below it is OFFSET_OUT_OF_RANGE,
    ListOffsets earliest answers it, segments wholly below it are deleted; DescribeLogDirs shows
    the partition sizes."""
    assert create("parity-dr", n=2, configs={"segment.bytes": "1024"})["error"] == 0
    base = int(time.time() * 1000) - 60000
    for i in range(20):  # 100 records, 5 a batch, ~130-byte batches: several segments
        produce("parity-dr", 0, batch([5 * i + j for j in range(5)], base))
    produce("parity-dr", 1, batch([0, 1, 2], base))
    for ver in range(5):
        sizes = log_dir_sizes("parity-dr", ver)
        assert sorted(sizes) == [0, 1] and sizes[0] > 1024 and sizes[1] > 0, (ver, sizes)
    before = log_dir_sizes("parity-dr")[0]
    assert delete_records("parity-dr", 0, 50) == (0, 50)
    assert list_offset("parity-dr", 0, -2)[1] == 50
    assert fetch("parity-dr", 0, 10)["error"] == 1  # OFFSET_OUT_OF_RANGE
    p = fetch("parity-dr", 0, 50)
    assert p["error"] == 0 and p["start"] == 50 and p["records"], p
    after = log_dir_sizes("parity-dr")[0]
    assert after < before, ("no segment deleted", before, after)
    assert list_offset("parity-dr", 0, base)[1] == 50  # records below the start are gone
    assert delete_records("parity-dr", 0, 12) == (0, 50)  # never moves down
    assert delete_records("parity-dr", 0, 101)[0] == 1  # past the high watermark
    assert delete_records("parity-dr", 7, 1)[0] == 3  # UNKNOWN_TOPIC_OR_PARTITION
    for ver in range(3):
        assert delete_records("parity-dr", 1, -1, ver) == (0, 3)  # -1: the high watermark
    assert fetch("parity-dr", 1, 3)["error"] == 0 and list_offset("parity-dr", 1, -2)[1] == 3
    check_log_start_kept()


def check_log_start_kept():
    """The log start offsets set by check_delete_records, also after a restart."""
    assert list_offset("parity-dr", 0, -2)[1] == 50
    assert fetch("parity-dr", 0, 49)["error"] == 1
    assert list_offset("parity-dr", 1, -2)[1] == 3
    print("delete records: ok")


CHECKS = {"list_offsets": check_list_offsets, "commit_metadata": check_commit_metadata,
          "delete_records": check_delete_records}
AFTER_RESTART = {"fetch_metadata": check_fetch_metadata, "log_start_kept": check_log_start_kept}
for name in sys.argv[2:] or CHECKS:
    (CHECKS.get(name) or AFTER_RESTART[name])()
