"""Kafka parity on the broker, over a raw socket (the installed clients predate these APIs):
ListOffsets by time and max timestamp inside a batch, committed-offset metadata as bytes,
per-record errors in Produce (KIP-467), and the others in CHECKS.
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


def keyed_batch(keys):
    """One uncompressed batch whose record i has key keys[i] (None: no key)."""
    recs = b""
    for i, k in enumerate(keys):
        key = zz(-1) if k is None else zz(len(k)) + k
        body = b"\x00" + zz(0) + zz(i) + key + zz(2) + b"v%d" % (i % 10) + zz(0)
        recs += zz(len(body)) + body
    now = int(time.time() * 1000)
    after = struct.pack(">hiqqqhii", 0, len(keys) - 1, now, now, -1, -1, -1, len(keys)) + recs
    body = struct.pack(">ibI", -1, 2, crc32c(after)) + after
    return struct.pack(">qi", 0, len(body)) + body


CT_REQ = [("topics", [("name", "str", 0, INF), ("n", "i32", 0, INF), ("rf", "i16", 0, INF),
                      ("assign", [("i", "i32", 0, INF), ("b", "i32list", 0, INF)], 0, INF),
                      ("configs", [("k", "str", 0, INF), ("v", "nstr", 0, INF)], 0, INF)], 0, INF),
          ("timeout", "i32", 0, INF), ("validate", "bool", 1, INF)]
CT_RESP = [("throttle", "i32", 2, INF),
           ("topics", [("name", "str", 0, INF), ("id", "uuid", 7, INF), ("error", "i16", 0, INF),
                       ("msg", "nstr", 1, INF), ("nparts", "i32", 5, INF), ("rf", "i16", 5, INF),
                       ("configs", [("k", "str", 5, INF), ("v", "nstr", 5, INF),
                                    ("ro", "bool", 5, INF), ("src", "i8", 5, INF),
                                    ("sens", "bool", 5, INF)], 5, INF)], 0, INF)]
PRODUCE_REQ = [("txn", "nstr", 3, INF), ("acks", "i16", 0, INF), ("timeout", "i32", 0, INF),
               ("topics", [("name", "str", 0, INF),
                           ("parts", [("index", "i32", 0, INF), ("records", "bytes", 0, INF)],
                            0, INF)], 0, INF)]
PRODUCE_RESP = [("responses", [("name", "str", 0, INF),
                               ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                          ("base", "i64", 0, INF), ("append_time", "i64", 2, INF),
                                          ("start", "i64", 5, INF),
                                          ("record_errors", [("index", "i32", 8, INF),
                                                             ("msg", "nstr", 8, INF)], 8, INF),
                                          ("msg", "nstr", 8, INF)], 0, INF)], 0, INF),
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


def commit_meta():
    """Commits offset 2 of parity-lo (created if needed) for group parity-meta, with metadata
    holding a NUL byte."""
    create("parity-lo")
    meta = "Hello\x00world!"
    req = {"group": "parity-meta", "gen": -1, "member": "", "instance": None,
           "topics": [{"name": "parity-lo", "parts": [{"index": 0, "offset": 2, "epoch": -1,
                                                      "meta": meta}]}]}
    r = conn.call(8, 7, False, req, OC_REQ, OC_RESP)
    assert r["topics"][0]["parts"][0]["error"] == 0, r


def check_commit_metadata():
    """librdkafka 0099: metadata is a string that may hold NUL bytes."""
    commit_meta()
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


CP_REQ = [("topics", [("name", "str", 0, INF), ("count", "i32", 0, INF),
                      ("assign", [("b", "i32list", 0, INF)], 0, INF)], 0, INF),
          ("timeout", "i32", 0, INF), ("validate", "bool", 0, INF)]
CP_RESP = [("throttle", "i32", 0, INF),
           ("results", [("name", "str", 0, INF), ("error", "i16", 0, INF), ("msg", "nstr", 0, INF)],
            0, INF)]
META_REQ = [("topics", [("topic_id", "uuid", 10, INF), ("name", "nstr", 0, INF)], 0, INF),
            ("allow_auto", "bool", 4, INF), ("cluster_ops", "bool", 8, 10),
            ("topic_ops", "bool", 8, INF)]
META_RESP = [("throttle", "i32", 3, INF),
             ("brokers", [("node", "i32", 0, INF), ("host", "str", 0, INF), ("port", "i32", 0, INF),
                          ("rack", "nstr", 1, INF)], 0, INF),
             ("cluster_id", "nstr", 2, INF), ("controller", "i32", 1, INF),
             ("topics", [("error", "i16", 0, INF), ("name", "nstr", 0, INF),
                         ("topic_id", "uuid", 10, INF), ("internal", "bool", 1, INF),
                         ("partitions", [("error", "i16", 0, INF), ("index", "i32", 0, INF),
                                         ("leader", "i32", 0, INF), ("epoch", "i32", 7, INF),
                                         ("replicas", "i32list", 0, INF), ("isr", "i32list", 0, INF),
                                         ("offline", "i32list", 5, INF)], 0, INF),
                         ("topic_ops", "i32", 8, INF)], 0, INF),
             ("cluster_ops", "i32", 8, 10)]
DG_REQ = [("groups", "strlist", 0, INF), ("ops", "bool", 3, INF)]
DG_RESP = [("throttle", "i32", 1, INF),
           ("groups", [("error", "i16", 0, INF), ("id", "str", 0, INF), ("state", "str", 0, INF),
                       ("ptype", "str", 0, INF), ("pdata", "str", 0, INF),
                       ("members", [("id", "str", 0, INF), ("instance", "nstr", 4, INF),
                                    ("client", "str", 0, INF), ("host", "str", 0, INF),
                                    ("meta", "bytes", 0, INF), ("assign", "bytes", 0, INF)], 0, INF),
                       ("ops", "i32", 3, INF)], 0, INF)]
LS_REQ = [("states", "strlist", 4, INF), ("types", "strlist", 5, INF)]
LS_RESP = [("throttle", "i32", 1, INF), ("error", "i16", 0, INF),
           ("groups", [("id", "str", 0, INF), ("ptype", "str", 0, INF), ("state", "str", 4, INF),
                       ("type", "str", 5, INF)], 0, INF)]


def check_replica_assignment():
    """librdkafka 0081 CreateTopics/CreatePartitions: an explicit assignment naming the one
    broker is valid; other brokers, two replicas, gaps, or counts mixed with it are not."""
    node = conn.call(3, 1, False, {"topics": []}, META_REQ, META_RESP)["brokers"][0]["node"]
    one = [{"i": i, "b": [node]} for i in range(3)]
    for ver in (4, 5):
        t = create("parity-ra-%d" % ver, assign=one, ver=ver)
        assert t["error"] == 0, t
    md = conn.call(3, 1, False, {"topics": [{"name": "parity-ra-4"}]}, META_REQ, META_RESP)
    assert len(md["topics"][0]["partitions"]) == 3, md
    for bad, code in (([{"i": 0, "b": [node + 1]}], 39), ([{"i": 0, "b": [node, node]}], 39),
                      ([{"i": 1, "b": [node]}], 39), ([{"i": 0, "b": []}], 39)):
        t = create("parity-ra-bad", assign=bad)
        assert t["error"] == code, (bad, t)  # INVALID_REPLICA_ASSIGNMENT
    req = {"topics": [{"name": "parity-ra-mix", "n": 2, "rf": 1, "assign": one, "configs": []}],
           "timeout": 5000, "validate": False}
    assert conn.call(19, 4, False, req, CT_REQ, CT_RESP)["topics"][0]["error"] == 42
    req = {"topics": [{"name": "parity-ra-4", "count": 5, "assign": [{"b": [node]}, {"b": [node]}]}],
           "timeout": 5000, "validate": False}
    r = conn.call(37, 1, False, req, CP_REQ, CP_RESP)["results"][0]
    assert r["error"] == 0, r
    req["topics"][0].update(count=7, assign=[{"b": [node + 1]}, {"b": [node]}])
    assert conn.call(37, 1, False, req, CP_REQ, CP_RESP)["results"][0]["error"] == 39
    req["topics"][0].update(count=7, assign=[{"b": [node]}])  # one list for two new partitions
    assert conn.call(37, 1, False, req, CP_REQ, CP_RESP)["results"][0]["error"] == 39
    md = conn.call(3, 1, False, {"topics": [{"name": "parity-ra-4"}]}, META_REQ, META_RESP)
    assert len(md["topics"][0]["partitions"]) == 5, md
    print("replica assignment: ok")


def check_authorized_operations():
    """librdkafka 0081 DescribeTopics/DescribeCluster with authorized operations: without an
    authorizer every operation is allowed (8 for a topic, 7 for the cluster, 3 for a group)."""
    commit_meta()
    for ver in (8, 9, 10, 11, 12):
        req = {"topics": [{"name": "parity-lo"}], "allow_auto": False, "cluster_ops": True,
               "topic_ops": True}
        r = conn.call(3, ver, ver >= 9, req, META_REQ, META_RESP)
        assert bin(r["topics"][0]["topic_ops"]).count("1") == 8, (ver, r["topics"][0])
        assert ver > 10 or bin(r["cluster_ops"]).count("1") == 7, (ver, r["cluster_ops"])
        req.update(cluster_ops=False, topic_ops=False)
        r = conn.call(3, ver, ver >= 9, req, META_REQ, META_RESP)
        assert r["topics"][0]["topic_ops"] == -2 ** 31, (ver, r["topics"][0])
    for ver in (3, 4):
        r = conn.call(15, ver, False, {"groups": ["parity-meta"], "ops": True}, DG_REQ, DG_RESP)
        assert bin(r["groups"][0]["ops"]).count("1") == 3, r
    print("authorized operations: ok")


def check_list_groups():
    """librdkafka 0081 ListConsumerGroups: a group with committed offsets and no members is
    listed as Empty (ListGroups v4+), and filters by state and type work."""
    commit_meta()
    for ver in range(6):
        r = conn.call(16, ver, ver >= 3, {"states": [], "types": []}, LS_REQ, LS_RESP)
        g = [g for g in r["groups"] if g["id"] == "parity-meta"]
        assert len(g) == 1 and g[0].get("state", "Empty") == "Empty", (ver, r)
    r = conn.call(16, 4, True, {"states": ["EMPTY"]}, LS_REQ, LS_RESP)
    assert "parity-meta" in [g["id"] for g in r["groups"]], r
    r = conn.call(16, 4, True, {"states": ["Stable", "Dead"]}, LS_REQ, LS_RESP)
    assert "parity-meta" not in [g["id"] for g in r["groups"]], r
    r = conn.call(16, 5, True, {"states": [], "types": ["Classic"]}, LS_REQ, LS_RESP)
    assert [g["type"] for g in r["groups"] if g["id"] == "parity-meta"] == ["classic"], r
    print("list groups: ok")


DC_REQ = [("resources", [("type", "i8", 0, INF), ("name", "str", 0, INF),
                         ("keys", "strlist", 0, INF)], 0, INF),
          ("synonyms", "bool", 1, INF), ("doc", "bool", 3, INF)]
DC_RESP = [("throttle", "i32", 0, INF),
           ("results", [("error", "i16", 0, INF), ("msg", "nstr", 0, INF), ("type", "i8", 0, INF),
                        ("name", "str", 0, INF),
                        ("configs", [("k", "str", 0, INF), ("v", "nstr", 0, INF),
                                     ("ro", "bool", 0, INF), ("default", "bool", 0, 0),
                                     ("src", "i8", 1, INF), ("sens", "bool", 0, INF),
                                     ("syn", [("k", "str", 1, INF), ("v", "nstr", 1, INF),
                                              ("src", "i8", 1, INF)], 1, INF),
                                     ("ctype", "i8", 3, INF), ("doc", "nstr", 3, INF)], 0, INF)],
            0, INF)]
AC_REQ = [("resources", [("type", "i8", 0, INF), ("name", "str", 0, INF),
                         ("configs", [("k", "str", 0, INF), ("v", "nstr", 0, INF)], 0, INF)], 0, INF),
          ("validate", "bool", 0, INF)]
AC_RESP = [("throttle", "i32", 0, INF),
           ("responses", [("error", "i16", 0, INF), ("msg", "nstr", 0, INF), ("type", "i8", 0, INF),
                          ("name", "str", 0, INF)], 0, INF)]
IAC_REQ = [("resources", [("type", "i8", 0, INF), ("name", "str", 0, INF),
                          ("configs", [("k", "str", 0, INF), ("op", "i8", 0, INF),
                                       ("v", "nstr", 0, INF)], 0, INF)], 0, INF),
           ("validate", "bool", 0, INF)]
TOPIC, BROKER = 2, 4
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def describe(rtype, name, ver=4):
    req = {"resources": [{"type": rtype, "name": name, "keys": None}], "synonyms": False,
           "doc": True}
    r = conn.call(32, ver, ver >= 4, req, DC_REQ, DC_RESP)["results"][0]
    assert r["error"] == 0, r
    return {c["k"]: (c["v"], c["src"]) for c in r["configs"]}


def incremental(rtype, name, ops, validate=False, ver=1):
    req = {"resources": [{"type": rtype, "name": name,
                          "configs": [{"k": k, "op": op, "v": v} for k, op, v in ops]}],
           "validate": validate}
    r = conn.call(44, ver, ver >= 1, req, IAC_REQ, AC_RESP)["responses"][0]
    return r["error"], r["msg"]


def alter(rtype, name, configs, validate=False, ver=1):
    req = {"resources": [{"type": rtype, "name": name,
                          "configs": [{"k": k, "v": v} for k, v in configs.items()]}],
           "validate": validate}
    r = conn.call(33, ver, ver >= 2, req, AC_REQ, AC_RESP)["responses"][0]
    return r["error"], r["msg"]


def check_incremental_alter_configs():
    """IncrementalAlterConfigs (API 44) on a topic: SET, DELETE, APPEND/SUBTRACT on list keys
    only, validate_only, duplicate keys; Kafka topic configs sluice does not act on are accepted
    and reported (librdkafka 0081 CreateTopics, 0011)."""
    t = create("parity-iac", configs={"segment.index.bytes": "4096", "preallocate": "true"})
    assert t["error"] == 0, t
    cfg = describe(TOPIC, "parity-iac")
    assert cfg["segment.index.bytes"] == ("4096", 1) and cfg["preallocate"] == ("true", 1), cfg
    assert cfg["unclean.leader.election.enable"] == ("false", 5), cfg
    for ver in (0, 1):
        assert incremental(TOPIC, "parity-iac", [("retention.ms", SET, "%d" % (60000 + ver))],
                           ver=ver) == (0, None)
        assert describe(TOPIC, "parity-iac")["retention.ms"] == ("%d" % (60000 + ver), 1)
    assert incremental(TOPIC, "parity-iac", [("retention.ms", SET, "1")], validate=True)[0] == 0
    cfg = describe(TOPIC, "parity-iac")
    assert cfg["retention.ms"][0] == "60001", cfg  # validate_only changes nothing
    assert cfg["preallocate"] == ("true", 1), cfg  # the other overrides stay
    assert incremental(TOPIC, "parity-iac", [("retention.ms", DELETE, None)]) == (0, None)
    assert describe(TOPIC, "parity-iac")["retention.ms"][1] == 5
    assert incremental(TOPIC, "parity-iac", [("cleanup.policy", APPEND, "delete")])[0] == 0
    assert describe(TOPIC, "parity-iac")["cleanup.policy"] == ("delete", 1)
    assert incremental(TOPIC, "parity-iac", [("retention.ms", APPEND, "5")])[0] == 40
    assert incremental(TOPIC, "parity-iac", [("retention.ms", SUBTRACT, "5")])[0] == 40
    assert incremental(TOPIC, "parity-iac", [("no.such.key", SET, "5")])[0] == 40
    assert incremental(TOPIC, "parity-iac", [("retention.ms", SET, "5"),
                                             ("retention.ms", DELETE, None)])[0] == 42
    assert incremental(TOPIC, "parity-nope", [("retention.ms", SET, "5")])[0] == 3
    print("incremental alter configs: ok")


def check_dynamic_broker_configs():
    """Dynamic broker configs (librdkafka 0081 AlterConfigs on a BROKER resource) through
    AlterConfigs and IncrementalAlterConfigs: applied ones change what topics inherit, Kafka keys
    without an effect here are kept and reported, static ones are refused."""
    node = str(conn.call(3, 1, False, {"topics": []}, META_REQ, META_RESP)["brokers"][0]["node"])
    assert alter(BROKER, node, {"sasl.kerberos.min.time.before.relogin": "58000"}) == (0, None)
    cfg = describe(BROKER, node)
    assert cfg["sasl.kerberos.min.time.before.relogin"] == ("58000", 2), cfg
    create("parity-dyn", configs={"retention.bytes": "1000000"})
    assert incremental(BROKER, "", [("log.retention.ms", SET, "123456")]) == (0, None)
    assert describe(BROKER, node)["log.retention.ms"] == ("123456", 3)
    cfg = describe(TOPIC, "parity-dyn")
    assert cfg["retention.ms"] == ("123456", 5) and cfg["retention.bytes"][0] == "1000000", cfg
    assert incremental(BROKER, node, [("log.retention.ms", SET, "654321")]) == (0, None)
    assert describe(TOPIC, "parity-dyn")["retention.ms"][0] == "654321"  # this broker's wins
    assert incremental(BROKER, node, [("log.retention.ms", DELETE, None)]) == (0, None)
    assert describe(TOPIC, "parity-dyn")["retention.ms"][0] == "123456"
    assert incremental(BROKER, "", [("log.retention.ms", SET, "7")], validate=True)[0] == 0
    assert describe(TOPIC, "parity-dyn")["retention.ms"][0] == "123456"
    for bad in ("listeners", "no.such.key"):
        assert incremental(BROKER, "", [(bad, SET, "1")])[0] == 40, bad
    assert incremental(BROKER, "", [("log.retention.ms", SET, "soon")])[0] == 40
    assert incremental(BROKER, "", [("log.message.timestamp.type", SET, "Bogus")])[0] == 40
    assert incremental(BROKER, "99", [("log.retention.ms", SET, "1")])[0] == 42
    # librdkafka's IncrementalAlterConfigs helper on a BROKER resource (its APPEND of compact
    # waits for compaction; SUBTRACT of an absent item and DELETE work now).
    ops = [("background.threads", SET, "9"), ("log.cleanup.policy", SUBTRACT, "compact")]
    assert incremental(BROKER, node, ops) == (0, None)
    cfg = describe(BROKER, node)
    assert cfg["background.threads"] == ("9", 2) and cfg["log.cleanup.policy"] == ("delete", 2), cfg
    ops = [("background.threads", DELETE, ""), ("log.cleanup.policy", DELETE, None)]
    assert incremental(BROKER, node, ops) == (0, None)
    assert "background.threads" not in describe(BROKER, node)
    check_dynamic_kept()


def check_dynamic_kept():
    """The dynamic configs set by check_dynamic_broker_configs, also after a restart."""
    node = str(conn.call(3, 1, False, {"topics": []}, META_REQ, META_RESP)["brokers"][0]["node"])
    cfg = describe(BROKER, node)
    assert cfg["sasl.kerberos.min.time.before.relogin"] == ("58000", 2), cfg
    assert cfg["log.retention.ms"] == ("123456", 3), cfg
    assert describe(TOPIC, "parity-dyn")["retention.ms"] == ("123456", 5)
    print("dynamic broker configs: ok")


def check_record_errors():
    """KIP-467: the keyless records of a batch for a compacted topic are each named in the
    Produce response's record_errors (batch_index), so a client fails those with INVALID_RECORD
    and the batch's others with a retriable-looking "different record" error; nothing is
    written. Before Produce v8 the whole batch gets CORRUPT_MESSAGE, as Kafka answers."""
    assert create("parity-compact", configs={"cleanup.policy": "compact"})["error"] == 0
    keys = [None if i % 4 == 1 else b"k%d" % i for i in range(10)]
    req = {"acks": -1, "timeout": 5000,
           "topics": [{"name": "parity-compact",
                       "parts": [{"index": 0, "records": keyed_batch(keys)}]}]}
    for ver in (8, 9):
        p = conn.call(0, ver, ver >= 9, req, PRODUCE_REQ, PRODUCE_RESP)["responses"][0]["parts"][0]
        assert p["error"] == 87 and p["base"] == -1, p  # INVALID_RECORD
        assert [e["index"] for e in p["record_errors"]] == [1, 5, 9], p
        assert all("without key" in e["msg"] for e in p["record_errors"]), p
        assert "without key" in (p["msg"] or ""), p
    p = conn.call(0, 7, False, req, PRODUCE_REQ, PRODUCE_RESP)["responses"][0]["parts"][0]
    assert p["error"] == 2, p  # CORRUPT_MESSAGE
    assert list_offset("parity-compact", 0, -1)[1] == 0  # none of it was written
    req["topics"][0]["parts"][0]["records"] = keyed_batch([b"a", b"b"])
    p = conn.call(0, 9, True, req, PRODUCE_REQ, PRODUCE_RESP)["responses"][0]["parts"][0]
    assert p["error"] == 0 and p["base"] == 0 and p["record_errors"] == [], p
    print("record errors: ok")


CHECKS = {"record_errors": check_record_errors, "list_offsets": check_list_offsets, "commit_metadata": check_commit_metadata,
          "delete_records": check_delete_records, "replica_assignment": check_replica_assignment,
          "authorized_operations": check_authorized_operations, "list_groups": check_list_groups,
          "incremental_alter_configs": check_incremental_alter_configs,
          "dynamic_broker_configs": check_dynamic_broker_configs}
AFTER_RESTART = {"fetch_metadata": check_fetch_metadata, "log_start_kept": check_log_start_kept,
                 "dynamic_kept": check_dynamic_kept}
for name in sys.argv[2:] or CHECKS:
    (CHECKS.get(name) or AFTER_RESTART[name])()
