"""Every advertised version of every API, over a raw socket: each request is encoded from a
schema, and each response must decode exactly to its last byte with the expected error codes.
This guards the versions no real client in the suite happens to pick (flexible versions included).

Schemas follow apache/kafka's message JSON: (name, type, first_version, last_version); a type is
a primitive name or a list (an array of structs). Flexible versions use compact strings/arrays
and a tagged-field section after every struct. Usage: protocol_versions.py HOST:PORT"""
import socket
import struct
import sys

INF = 99


from kschema import Reader, crc32c, dec, enc


def record_batch(value, pid=-1, epoch=-1, seq=-1, attrs=0):
    rec = b"\x00\x00\x00\x01" + bytes([len(value) * 2]) + value + b"\x00"
    rec = bytes([len(rec) * 2]) + rec
    after = struct.pack(">hiqqqhii", attrs, 0, 1000, 1000, pid, epoch, seq, 1) + rec
    body = struct.pack(">ibI", 0, 2, crc32c(after)) + after
    return struct.pack(">qi", 0, len(body)) + body


# ---- schemas (request, response) ----
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
PRODUCE_REQ = [("txn", "nstr", 3, INF), ("acks", "i16", 0, INF), ("timeout", "i32", 0, INF),
               ("topics", [("name", "str", 0, INF),
                           ("parts", [("index", "i32", 0, INF), ("records", "bytes", 0, INF)],
                            0, INF)], 0, INF)]
PRODUCE_RESP = [("responses", [("name", "str", 0, INF),
                               ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                          ("base", "i64", 0, INF), ("append_time", "i64", 2, INF),
                                          ("start", "i64", 5, INF),
                                          ("rec_errors", [("bi", "i32", 8, INF),
                                                          ("msg", "nstr", 8, INF)], 8, INF),
                                          ("msg", "nstr", 8, INF)], 0, INF)], 0, INF),
                ("throttle", "i32", 1, INF)]
FETCH_REQ = [("replica", "i32", 0, INF), ("max_wait", "i32", 0, INF), ("min_bytes", "i32", 0, INF),
             ("max_bytes", "i32", 3, INF), ("iso", "i8", 4, INF), ("session", "i32", 7, INF),
             ("epoch", "i32", 7, INF),
             ("topics", [("name", "str", 0, 12),
                         ("parts", [("index", "i32", 0, INF), ("leader_epoch", "i32", 9, INF),
                                    ("offset", "i64", 0, INF), ("last_epoch", "i32", 12, INF),
                                    ("start", "i64", 5, INF), ("max", "i32", 0, INF)], 0, INF)],
              0, INF),
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
LO_REQ = [("replica", "i32", 0, INF), ("iso", "i8", 2, INF),
          ("topics", [("name", "str", 0, INF),
                      ("parts", [("index", "i32", 0, INF), ("epoch", "i32", 4, INF),
                                 ("ts", "i64", 0, INF), ("max_num", "i32", 0, 0)], 0, INF)], 0, INF)]
LO_RESP = [("throttle", "i32", 2, INF),
           ("topics", [("name", "str", 0, INF),
                       ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                  ("old", "i64list", 0, 0), ("ts", "i64", 1, INF),
                                  ("offset", "i64", 1, INF), ("epoch", "i32", 4, INF)], 0, INF)],
            0, INF)]
CT_REQ = [("topics", [("name", "str", 0, INF), ("n", "i32", 0, INF), ("rf", "i16", 0, INF),
                      ("assign", [("i", "i32", 0, INF), ("b", "i32list", 0, INF)], 0, INF),
                      ("configs", [("k", "str", 0, INF), ("v", "nstr", 0, INF)], 0, INF)], 0, INF),
          ("timeout", "i32", 0, INF), ("validate", "bool", 1, INF)]
CT_RESP = [("throttle", "i32", 2, INF),
           ("topics", [("name", "str", 0, INF), ("id", "uuid", 7, INF), ("error", "i16", 0, INF),
                       ("msg", "nstr", 1, INF), ("n", "i32", 5, INF), ("rf", "i16", 5, INF),
                       ("configs", [("k", "str", 5, INF), ("v", "nstr", 5, INF),
                                    ("ro", "bool", 5, INF), ("src", "i8", 5, INF),
                                    ("sens", "bool", 5, INF)], 5, INF)], 0, INF)]
DT_REQ = [("names", "strlist", 0, 5),
          ("topics", [("name", "nstr", 6, INF), ("id", "uuid", 6, INF)], 6, INF),
          ("timeout", "i32", 0, INF)]
DT_RESP = [("throttle", "i32", 1, INF),
           ("responses", [("name", "nstr", 0, INF), ("id", "uuid", 6, INF), ("error", "i16", 0, INF),
                          ("msg", "nstr", 5, INF)], 0, INF)]
CP_REQ = [("topics", [("name", "str", 0, INF), ("count", "i32", 0, INF),
                      ("assign", [("b", "i32list", 0, INF)], 0, INF)], 0, INF),
          ("timeout", "i32", 0, INF), ("validate", "bool", 0, INF)]
CP_RESP = [("throttle", "i32", 0, INF),
           ("results", [("name", "str", 0, INF), ("error", "i16", 0, INF), ("msg", "nstr", 0, INF)],
            0, INF)]
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
                                              ("s", "i8", 1, INF)], 1, INF),
                                     ("ctype", "i8", 3, INF), ("doc", "nstr", 3, INF)], 0, INF)],
            0, INF)]
AC_REQ = [("resources", [("type", "i8", 0, INF), ("name", "str", 0, INF),
                         ("configs", [("k", "str", 0, INF), ("v", "nstr", 0, INF)], 0, INF)], 0, INF),
          ("validate", "bool", 0, INF)]
AC_RESP = [("throttle", "i32", 0, INF),
           ("responses", [("error", "i16", 0, INF), ("msg", "nstr", 0, INF), ("type", "i8", 0, INF),
                          ("name", "str", 0, INF)], 0, INF)]
AV_RESP = [("error", "i16", 0, INF),
           ("apis", [("key", "i16", 0, INF), ("min", "i16", 0, INF), ("max", "i16", 0, INF)], 0, INF),
           ("throttle", "i32", 1, INF)]


FC_REQ = [("key", "str", 0, INF), ("key_type", "i8", 1, INF)]
FC_RESP = [("throttle", "i32", 1, INF), ("error", "i16", 0, INF), ("msg", "nstr", 1, INF),
           ("node", "i32", 0, INF), ("host", "str", 0, INF), ("port", "i32", 0, INF)]
JG_REQ = [("group", "str", 0, INF), ("session", "i32", 0, INF), ("rebalance", "i32", 1, INF),
          ("member", "str", 0, INF), ("instance", "nstr", 5, INF), ("ptype", "str", 0, INF),
          ("protocols", [("name", "str", 0, INF), ("meta", "bytes", 0, INF)], 0, INF)]
JG_RESP = [("throttle", "i32", 2, INF), ("error", "i16", 0, INF), ("gen", "i32", 0, INF),
           ("protocol", "str", 0, INF), ("leader", "str", 0, INF), ("member", "str", 0, INF),
           ("members", [("id", "str", 0, INF), ("instance", "nstr", 5, INF),
                        ("meta", "bytes", 0, INF)], 0, INF)]
SG_REQ = [("group", "str", 0, INF), ("gen", "i32", 0, INF), ("member", "str", 0, INF),
          ("instance", "nstr", 3, INF),
          ("assign", [("id", "str", 0, INF), ("data", "bytes", 0, INF)], 0, INF)]
SG_RESP = [("throttle", "i32", 1, INF), ("error", "i16", 0, INF), ("data", "bytes", 0, INF)]
HB_REQ = [("group", "str", 0, INF), ("gen", "i32", 0, INF), ("member", "str", 0, INF),
          ("instance", "nstr", 3, INF)]
HB_RESP = [("throttle", "i32", 1, INF), ("error", "i16", 0, INF)]
LG_REQ = [("group", "str", 0, INF), ("member", "str", 0, 2),
          ("members", [("id", "str", 3, INF), ("instance", "nstr", 3, INF)], 3, INF)]
LG_RESP = [("throttle", "i32", 1, INF), ("error", "i16", 0, INF),
           ("members", [("id", "str", 3, INF), ("instance", "nstr", 3, INF),
                        ("error", "i16", 3, INF)], 3, INF)]
OC_REQ = [("group", "str", 0, INF), ("gen", "i32", 1, INF), ("member", "str", 1, INF),
          ("instance", "nstr", 7, INF), ("retention", "i64", 2, 4),
          ("topics", [("name", "str", 0, INF),
                      ("parts", [("index", "i32", 0, INF), ("offset", "i64", 0, INF),
                                 ("epoch", "i32", 6, INF), ("ts", "i64", 1, 1),
                                 ("meta", "nstr", 0, INF)], 0, INF)], 0, INF)]
OC_RESP = [("throttle", "i32", 3, INF),
           ("topics", [("name", "str", 0, INF),
                       ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF)], 0, INF)],
            0, INF)]
OF_TOPICS_REQ = [("name", "str", 0, INF), ("parts", "i32list", 0, INF)]
OF_REQ = [("group", "str", 0, 7), ("topics", OF_TOPICS_REQ, 0, 7),
          ("groups", [("group", "str", 8, INF), ("member", "nstr", 9, INF),
                      ("epoch", "i32", 9, INF), ("topics", OF_TOPICS_REQ, 8, INF)], 8, INF),
          ("stable", "bool", 7, INF)]
OF_TOPICS_RESP = [("name", "str", 0, INF),
                  ("parts", [("index", "i32", 0, INF), ("offset", "i64", 0, INF),
                             ("epoch", "i32", 5, INF), ("meta", "nstr", 0, INF),
                             ("error", "i16", 0, INF)], 0, INF)]
OF_RESP = [("throttle", "i32", 3, INF), ("topics", OF_TOPICS_RESP, 0, 7), ("error", "i16", 2, 7),
           ("groups", [("group", "str", 8, INF), ("topics", OF_TOPICS_RESP, 8, INF),
                       ("error", "i16", 8, INF)], 8, INF)]


def offset_fetch_req(group, topics, v):
    """OffsetFetch's request for one group: v8+ puts it in the groups array (KIP-709)."""
    if v < 8:
        return {"group": group, "topics": topics}
    return {"groups": [{"group": group, "member": None, "epoch": -1, "topics": topics}]}


def offset_fetch_topics(r, v):
    """The one group's topics of an OffsetFetch answer."""
    if v < 8:
        return r["topics"]
    assert len(r["groups"]) == 1 and r["groups"][0]["error"] == 0, (v, r)
    return r["groups"][0]["topics"]
LS_REQ = [("states", "strlist", 4, INF), ("types", "strlist", 5, INF)]
LS_RESP = [("throttle", "i32", 1, INF), ("error", "i16", 0, INF),
           ("groups", [("id", "str", 0, INF), ("ptype", "str", 0, INF), ("state", "str", 4, INF),
                       ("type", "str", 5, INF)], 0, INF)]
CGH_REQ = [("group", "str", 0, INF), ("member", "str", 0, INF), ("epoch", "i32", 0, INF),
           ("instance", "nstr", 0, INF), ("rack", "nstr", 0, INF), ("rebalance", "i32", 0, INF),
           ("topics", "strlist", 0, INF), ("regex", "nstr", 1, INF), ("assignor", "nstr", 0, INF),
           ("owned", [("id", "uuid", 0, INF), ("parts", "i32list", 0, INF)], 0, INF)]
# An error answer: the Assignment (a nullable struct) is the int8 -1 of null.
CGH_ERR_RESP = [("throttle", "i32", 0, INF), ("error", "i16", 0, INF), ("msg", "nstr", 0, INF),
                ("member", "nstr", 0, INF), ("epoch", "i32", 0, INF), ("interval", "i32", 0, INF),
                ("assignment", "i8", 0, INF)]
CGD_REQ = [("groups", "strlist", 0, INF), ("ops", "bool", 0, INF)]
CGD_RESP = [("throttle", "i32", 0, INF),
            ("groups", [("error", "i16", 0, INF), ("msg", "nstr", 0, INF), ("id", "str", 0, INF),
                        ("state", "str", 0, INF), ("epoch", "i32", 0, INF),
                        ("aepoch", "i32", 0, INF), ("assignor", "str", 0, INF),
                        ("members", [("id", "str", 0, INF)], 0, INF), ("ops", "i32", 0, INF)],
             0, INF)]
DG_REQ = [("groups", "strlist", 0, INF), ("ops", "bool", 3, INF)]
DG_RESP = [("throttle", "i32", 1, INF),
           ("groups", [("error", "i16", 0, INF), ("id", "str", 0, INF), ("state", "str", 0, INF),
                       ("ptype", "str", 0, INF), ("pdata", "str", 0, INF),
                       ("members", [("id", "str", 0, INF), ("instance", "nstr", 4, INF),
                                    ("client", "str", 0, INF), ("host", "str", 0, INF),
                                    ("meta", "bytes", 0, INF), ("assign", "bytes", 0, INF)], 0, INF),
                       ("ops", "i32", 3, INF)], 0, INF)]
DEL_REQ = [("groups", "strlist", 0, INF)]
DEL_RESP = [("throttle", "i32", 0, INF),
            ("results", [("id", "str", 0, INF), ("error", "i16", 0, INF)], 0, INF)]
OD_REQ = [("group", "str", 0, INF),
          ("topics", [("name", "str", 0, INF), ("parts", [("index", "i32", 0, INF)], 0, INF)], 0, INF)]
OD_RESP = [("error", "i16", 0, INF), ("throttle", "i32", 0, INF),
           ("topics", [("name", "str", 0, INF),
                       ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF)], 0, INF)],
            0, INF)]

host, port = sys.argv[1].rsplit(":", 1)
sock = socket.create_connection((host, int(port)), timeout=10)
corr = 0


def call(key, ver, flex, body, resp_schema):
    global corr
    corr += 1
    hdr = struct.pack(">hhih", key, ver, corr, 2) + b"pv" + (b"\x00" if flex else b"")
    frame = hdr + body
    sock.sendall(struct.pack(">i", len(frame)) + frame)
    size = struct.unpack(">i", recv(4))[0]
    r = Reader(recv(size))
    assert struct.unpack(">i", r.take(4))[0] == corr
    if flex and key != 18:
        r.uvarint()  # header tagged fields (empty)
    obj = dec(resp_schema, r, ver, flex and True)
    if r.p != len(r.b):
        raise ValueError("api %d v%d: %d trailing bytes" % (key, ver, len(r.b) - r.p))
    return obj


def recv(n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ValueError("connection closed")
        out += chunk
    return out


# ApiVersions v0 tells us what to test.
av = call(18, 0, False, b"", AV_RESP)
ranges = {a["key"]: (a["min"], a["max"]) for a in av["apis"]}
FLEX = {0: 9, 1: 12, 2: 6, 3: 9, 18: 3, 19: 5, 20: 4, 32: 4, 33: 2, 37: 2, 10: 3, 11: 6, 12: 4,
        13: 4, 14: 4, 8: 8, 9: 6, 15: 5, 16: 3, 42: 2, 47: 99, 22: 2, 24: 3, 25: 3, 26: 3, 28: 3,
        61: 0, 65: 0, 66: 0, 68: 0, 69: 0, 29: 2, 30: 2, 31: 2, 23: 4, 43: 2, 45: 0, 46: 0,
        55: 0}
tested = 0


def versions(key):
    lo, hi = ranges[key]
    return [(v, v >= FLEX[key]) for v in range(lo, hi + 1)]


for v, flex in versions(18):
    body = enc([("n", "str", 3, INF), ("sv", "str", 3, INF)], {"n": "pv", "sv": "1"}, v, flex) \
        if v >= 3 else b""
    r = call(18, v, flex, body, AV_RESP if not flex else AV_RESP)
    assert r["error"] == 0
    tested += 1

for v, flex in versions(19):
    name = "pv-ct-%d" % v
    req = {"topics": [{"name": name, "n": 2, "rf": 1, "assign": [],
                       "configs": [{"k": "retention.ms", "v": "60000"}]}], "timeout": 1000}
    r = call(19, v, flex, enc(CT_REQ, req, v, flex), CT_RESP)
    assert r["topics"][0]["error"] == 0, (v, r)
    r = call(19, v, flex, enc(CT_REQ, req, v, flex), CT_RESP)
    assert r["topics"][0]["error"] == 36, (v, r)  # TOPIC_ALREADY_EXISTS
    tested += 1

for v, flex in versions(3):
    topics = [{"name": "pv-ct-0"}, {"name": "pv-missing-%d" % v}]
    r = call(3, v, flex, enc(META_REQ, {"topics": topics, "allow_auto": False}, v, flex), META_RESP)
    errs = [t["error"] for t in r["topics"]]
    assert errs == [0, 3] or (v < 4 and errs[0] == 0), (v, errs)  # v<4 always auto-creates
    assert len(r["topics"][0]["partitions"]) == 2 and r["brokers"][0]["port"] == int(port)
    if v >= 10:
        # By topic id with a null name (KIP-516), as librdkafka asks for the topics of a KIP-848
        # assignment: the name comes back; an unknown id is UNKNOWN_TOPIC_ID with the id echoed.
        tid, nobody = r["topics"][0]["topic_id"], bytes(range(1, 17))
        req = {"topics": [{"topic_id": tid, "name": None}, {"topic_id": nobody, "name": None}],
               "allow_auto": False}
        r = call(3, v, flex, enc(META_REQ, req, v, flex), META_RESP)
        got = [(t["error"], t["name"], t["topic_id"]) for t in r["topics"]]
        assert got[0] == (0, "pv-ct-0", tid) and len(r["topics"][0]["partitions"]) == 2, (v, got)
        assert got[1] == (100, None, nobody), (v, got)
    tested += 1

for v, flex in versions(0):
    req = {"acks": -1, "timeout": 1000,
           "topics": [{"name": "pv-ct-0", "parts": [{"index": 0, "records": record_batch(b"v%d" % v)}]}]}
    r = call(0, v, flex, enc(PRODUCE_REQ, req, v, flex), PRODUCE_RESP)
    p = r["responses"][0]["parts"][0]
    assert p["error"] == 0 and p["base"] >= 0, (v, p)
    tested += 1

for v, flex in versions(1):
    req = {"replica": -1, "max_wait": 10, "min_bytes": 1, "max_bytes": 1 << 20, "session": 0,
           "epoch": -1, "topics": [{"name": "pv-ct-0", "parts": [
               {"index": 0, "offset": 0, "start": -1, "max": 1 << 20, "leader_epoch": -1,
                "last_epoch": -1}]}], "forgotten": [], "rack": ""}
    r = call(1, v, flex, enc(FETCH_REQ, req, v, flex), FETCH_RESP)
    p = r["responses"][0]["parts"][0]
    assert p["error"] == 0 and p["hw"] >= 1 and len(p["records"]) > 61, (v, p)
    tested += 1

for v, flex in versions(2):
    req = {"replica": -1, "topics": [{"name": "pv-ct-0", "parts": [
        {"index": 0, "ts": -1, "epoch": -1, "max_num": 1}]}]}
    r = call(2, v, flex, enc(LO_REQ, req, v, flex), LO_RESP)
    p = r["topics"][0]["parts"][0]
    assert p["error"] == 0 and (p.get("offset") or p.get("old", [0])[0]) >= 1, (v, p)
    tested += 1

for v, flex in versions(32):
    req = {"resources": [{"type": 2, "name": "pv-ct-0", "keys": None}], "synonyms": True, "doc": True}
    r = call(32, v, flex, enc(DC_REQ, req, v, flex), DC_RESP)
    cfg = {c["k"]: c["v"] for c in r["results"][0]["configs"]}
    assert r["results"][0]["error"] == 0 and cfg["retention.ms"] == "60000", (v, r)
    tested += 1

for v, flex in versions(33):
    req = {"resources": [{"type": 2, "name": "pv-ct-0",
                          "configs": [{"k": "retention.ms", "v": "70000"}]}], "validate": False}
    r = call(33, v, flex, enc(AC_REQ, req, v, flex), AC_RESP)
    assert r["responses"][0]["error"] == 0, (v, r)
    req["resources"][0]["configs"] = [{"k": "bogus.key", "v": "1"}]
    r = call(33, v, flex, enc(AC_REQ, req, v, flex), AC_RESP)
    assert r["responses"][0]["error"] == 40, (v, r)  # INVALID_CONFIG
    tested += 1

for v, flex in versions(37):
    req = {"topics": [{"name": "pv-ct-%d" % 0, "count": 3 + v, "assign": None}], "timeout": 1000,
           "validate": False}
    r = call(37, v, flex, enc(CP_REQ, req, v, flex), CP_RESP)
    assert r["results"][0]["error"] == 0, (v, r)
    tested += 1

for v, flex in versions(20):
    name = "pv-ct-%d" % v
    req = {"names": [name], "topics": [{"name": name}], "timeout": 1000}
    r = call(20, v, flex, enc(DT_REQ, req, v, flex), DT_RESP)
    assert r["responses"][0]["error"] == 0, (v, r)
    r = call(20, v, flex, enc(DT_REQ, req, v, flex), DT_RESP)
    assert r["responses"][0]["error"] == 3, (v, r)
    tested += 1


# ---- consumer groups: every version, through a full join/sync/heartbeat/commit/fetch/leave ----
for v, flex in versions(10):
    r = call(10, v, flex, enc(FC_REQ, {"key": "pv-g", "key_type": 0}, v, flex), FC_RESP)
    assert r["error"] == 0 and r["port"] == int(port), (v, r)
    tested += 1

CONSUMER_META = struct.pack(">hi", 0, 1) + struct.pack(">h", 7) + b"pv-ct-7" + struct.pack(">i", -1)
for v, flex in versions(11):
    group = "pv-g-%d" % v
    req = {"group": group, "session": 10000, "rebalance": 10000, "member": "", "instance": None,
           "ptype": "consumer", "protocols": [{"name": "range", "meta": CONSUMER_META}]}
    r = call(11, v, flex, enc(JG_REQ, req, v, flex), JG_RESP)
    if v >= 4:
        assert r["error"] == 79 and r["member"], (v, r)  # MEMBER_ID_REQUIRED
        req["member"] = r["member"]
        r = call(11, v, flex, enc(JG_REQ, req, v, flex), JG_RESP)
    assert r["error"] == 0 and r["gen"] == 1 and r["leader"] == r["member"], (v, r)
    assert len(r["members"]) == 1 and r["members"][0]["meta"] == CONSUMER_META, (v, r)
    member, gen = r["member"], r["gen"]
    sv = min(v, ranges[14][1])
    sreq = {"group": group, "gen": gen, "member": member, "instance": None,
            "assign": [{"id": member, "data": b"assignment-%d" % v}]}
    r = call(14, sv, sv >= FLEX[14], enc(SG_REQ, sreq, sv, sv >= FLEX[14]), SG_RESP)
    assert r["error"] == 0 and r["data"] == b"assignment-%d" % v, (v, r)
    sreq["gen"] = gen + 5
    r = call(14, sv, sv >= FLEX[14], enc(SG_REQ, sreq, sv, sv >= FLEX[14]), SG_RESP)
    assert r["error"] == 22, (v, r)  # ILLEGAL_GENERATION
    tested += 1

group, member = "pv-g-0", None
r = call(15, 0, False, enc(DG_REQ, {"groups": ["pv-g-0"]}, 0, False), DG_RESP)
member = r["groups"][0]["members"][0]["id"]
for v, flex in versions(12):
    hb = {"group": group, "gen": 1, "member": member, "instance": None}
    r = call(12, v, flex, enc(HB_REQ, hb, v, flex), HB_RESP)
    assert r["error"] == 0, (v, r)
    hb["member"] = "nobody"
    r = call(12, v, flex, enc(HB_REQ, hb, v, flex), HB_RESP)
    assert r["error"] == 25, (v, r)  # UNKNOWN_MEMBER_ID
    tested += 1

for v, flex in versions(8):
    req = {"group": group, "gen": 1, "member": member, "instance": None, "retention": -1,
           "topics": [{"name": "pv-ct-7", "parts": [{"index": 0, "offset": 10 + v, "epoch": -1,
                                                     "ts": -1, "meta": "m%d" % v}]},
                      {"name": "pv-no-such-topic", "parts": [{"index": 0, "offset": 1, "epoch": -1,
                                                              "ts": -1, "meta": None}]}]}
    if v == 0:
        req["group"] = "pv-simple"  # v0 carries no generation: a simple commit
    r = call(8, v, flex, enc(OC_REQ, req, v, flex), OC_RESP)
    errs = [t["parts"][0]["error"] for t in r["topics"]]
    assert errs == [0, 3], (v, r)
    tested += 1

for v, flex in versions(9):
    req = offset_fetch_req(group, [{"name": "pv-ct-7", "parts": [0, 1]}], v)
    r = call(9, v, flex, enc(OF_REQ, req, v, flex), OF_RESP)
    parts = offset_fetch_topics(r, v)[0]["parts"]
    assert parts[0]["offset"] == 10 + ranges[8][1] and parts[0]["meta"] == "m%d" % ranges[8][1], (v, r)
    assert parts[1]["offset"] == -1, (v, r)
    if v >= 2:
        r = call(9, v, flex, enc(OF_REQ, offset_fetch_req(group, None, v), v, flex), OF_RESP)
        topics = offset_fetch_topics(r, v)
        assert topics and topics[0]["name"] == "pv-ct-7", (v, r)
    tested += 1

for v, flex in versions(16):
    r = call(16, v, flex, enc(LS_REQ, {"states": [], "types": []}, v, flex), LS_RESP)
    assert any(g["id"] == group for g in r["groups"]), (v, r)
    if v >= 5:
        r = call(16, v, flex, enc(LS_REQ, {"states": ["stable"], "types": ["classic"]}, v, flex),
                 LS_RESP)
        assert all(g["state"] == "Stable" and g["type"] == "classic" for g in r["groups"]), r
        assert any(g["id"] == group for g in r["groups"]), (v, r)
    tested += 1

for v, flex in versions(68):
    req = {"group": "pv-cg", "member": "pv-nobody", "epoch": 3, "rebalance": -1}
    r = call(68, v, flex, enc(CGH_REQ, req, v, flex), CGH_ERR_RESP)
    assert r["error"] == 25 and r["assignment"] == -1, (v, r)  # UNKNOWN_MEMBER_ID
    tested += 1

for v, flex in versions(69):
    r = call(69, v, flex, enc(CGD_REQ, {"groups": ["pv-nope", group]}, v, flex), CGD_RESP)
    assert [g["error"] for g in r["groups"]] == [69, 69], (v, r)  # a classic group is not one
    tested += 1

for v, flex in versions(15):
    r = call(15, v, flex, enc(DG_REQ, {"groups": [group, "pv-nope"], "ops": False}, v, flex), DG_RESP)
    assert r["groups"][0]["state"] == "Stable" and r["groups"][1]["state"] == "Dead", (v, r)
    tested += 1

for v, flex in versions(47):
    req = {"group": group, "topics": [{"name": "pv-ct-7", "parts": [{"index": 0}]}]}
    r = call(47, v, flex, enc(OD_REQ, req, v, flex), OD_RESP)
    assert r["topics"][0]["parts"][0]["error"] == 86, (v, r)  # GROUP_SUBSCRIBED_TO_TOPIC
    tested += 1

for v, flex in versions(13):
    g = "pv-g-%d" % min(v, ranges[11][1])
    r = call(15, 0, False, enc(DG_REQ, {"groups": [g]}, 0, False), DG_RESP)
    mid = r["groups"][0]["members"][0]["id"]
    req = {"group": g, "member": mid, "members": [{"id": mid, "instance": None}]}
    r = call(13, v, flex, enc(LG_REQ, req, v, flex), LG_RESP)
    assert r["error"] == 0, (v, r)
    r = call(13, v, flex, enc(LG_REQ, req, v, flex), LG_RESP)
    assert r["error"] == 25 or (v >= 3 and r["members"][0]["error"] == 25), (v, r)
    tested += 1

for v, flex in versions(42):
    g = "pv-g-%d" % v
    r = call(42, v, flex, enc(DEL_REQ, {"groups": [g, "pv-nope"]}, v, flex), DEL_RESP)
    assert [x["error"] for x in r["results"]] == [0, 69], (v, r)  # then GROUP_ID_NOT_FOUND
    tested += 1

# ---- idempotent producers: InitProducerId, duplicates, gaps, fencing ----
IP_REQ = [("txn", "nstr", 0, INF), ("timeout", "i32", 0, INF), ("pid", "i64", 3, INF),
          ("epoch", "i16", 3, INF)]
IP_RESP = [("throttle", "i32", 0, INF), ("error", "i16", 0, INF), ("pid", "i64", 0, INF),
           ("epoch", "i16", 0, INF)]


def init_pid(v, flex, txn, pid=-1, epoch=-1, timeout=60000):
    req = {"txn": txn, "timeout": timeout, "pid": pid, "epoch": epoch}
    return call(22, v, flex, enc(IP_REQ, req, v, flex), IP_RESP)


pids = []
for v, flex in versions(22):
    r = init_pid(v, flex, None)
    assert r["error"] == 0 and r["pid"] >= 0 and r["epoch"] == 0, (v, r)
    pids.append(r["pid"])
    tid = "pv-ip-%d" % v
    r1 = init_pid(v, flex, tid)
    r2 = init_pid(v, flex, tid)  # a second instance: same id, next epoch
    assert r1["error"] == 0 and r2["error"] == 0 and r2["pid"] == r1["pid"], (v, r1, r2)
    assert r2["epoch"] == r1["epoch"] + 1, (v, r1, r2)
    assert init_pid(v, flex, tid, timeout=0)["error"] == 50, v  # INVALID_TRANSACTION_TIMEOUT
    if v >= 3:  # KIP-360: bump from the current epoch; a stale one is fenced
        r3 = init_pid(v, flex, tid, r2["pid"], r2["epoch"])
        assert r3["error"] == 0 and r3["epoch"] == r2["epoch"] + 1, (v, r3)
        r4 = init_pid(v, flex, tid, r2["pid"], r1["epoch"])
        assert r4["error"] == (90 if v >= 4 else 47), (v, r4)  # PRODUCER_FENCED
    tested += 1
assert len(set(pids)) == len(pids), pids
r = call(10, 1, False, enc(FC_REQ, {"key": "pv-ip-0", "key_type": 1}, 1, False), FC_RESP)
assert r["error"] == 0 and r["port"] == int(port), r  # the transaction coordinator

def idem(pid, epoch, seq):
    req = {"acks": -1, "timeout": 1000, "topics": [{"name": "pv-ct-7", "parts": [
        {"index": 1, "records": record_batch(b"i", pid, epoch, seq)}]}]}
    r = call(0, 7, False, enc(PRODUCE_REQ, req, 7, False), PRODUCE_RESP)
    p = r["responses"][0]["parts"][0]
    return p["error"], p["base"]


pid = pids[0]
e1, b1 = idem(pid, 0, 0)
e2, b2 = idem(pid, 0, 0)  # a retry: same offset, not written again
assert (e1, e2) == (0, 0) and b1 == b2, (e1, b1, e2, b2)
e3, b3 = idem(pid, 0, 1)
assert e3 == 0 and b3 == b1 + 1, (e3, b3)
assert idem(pid, 0, 5)[0] == 45  # OUT_OF_ORDER_SEQUENCE_NUMBER
assert idem(pid, 1, 0)[0] == 0   # a new epoch starts over
assert idem(pid, 0, 2)[0] == 47  # INVALID_PRODUCER_EPOCH: fenced by the newer epoch


# ---- transactions: every version of AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit and
# EndTxn, with transactional produce, read_committed fetch, LSO and aborted lists ----
AP_REQ = [("txn", "str", 0, INF), ("pid", "i64", 0, INF), ("epoch", "i16", 0, INF),
          ("topics", [("name", "str", 0, INF), ("parts", "i32list", 0, INF)], 0, INF)]
AP_RESP = [("throttle", "i32", 0, INF),
           ("results", [("name", "str", 0, INF),
                        ("results", [("index", "i32", 0, INF), ("error", "i16", 0, INF)], 0, INF)],
            0, INF)]
AO_REQ = [("txn", "str", 0, INF), ("pid", "i64", 0, INF), ("epoch", "i16", 0, INF),
          ("group", "str", 0, INF)]
AO_RESP = [("throttle", "i32", 0, INF), ("error", "i16", 0, INF)]
END_REQ = [("txn", "str", 0, INF), ("pid", "i64", 0, INF), ("epoch", "i16", 0, INF),
           ("commit", "bool", 0, INF)]
TOC_REQ = [("txn", "str", 0, INF), ("group", "str", 0, INF), ("pid", "i64", 0, INF),
           ("epoch", "i16", 0, INF), ("gen", "i32", 3, INF), ("member", "str", 3, INF),
           ("instance", "nstr", 3, INF),
           ("topics", [("name", "str", 0, INF),
                       ("parts", [("index", "i32", 0, INF), ("offset", "i64", 0, INF),
                                  ("lepoch", "i32", 2, INF), ("meta", "nstr", 0, INF)], 0, INF)],
            0, INF)]
TOC_RESP = [("throttle", "i32", 0, INF),
            ("topics", [("name", "str", 0, INF),
                        ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF)], 0, INF)],
             0, INF)]
ct = {"topics": [{"name": "pv-tx", "n": 2, "rf": 1, "assign": [], "configs": []}], "timeout": 1000}
assert call(19, 0, False, enc(CT_REQ, ct, 0, False), CT_RESP)["topics"][0]["error"] == 0


def produce_tx(pid, epoch, seq, part, attrs=0x10):
    req = {"acks": -1, "timeout": 1000, "topics": [{"name": "pv-tx", "parts": [
        {"index": part, "records": record_batch(b"tx", pid, epoch, seq, attrs)}]}]}
    r = call(0, 7, False, enc(PRODUCE_REQ, req, 7, False), PRODUCE_RESP)
    return r["responses"][0]["parts"][0]["error"]


def fetch(part, iso, v=12):
    req = {"replica": -1, "max_wait": 0, "min_bytes": 0, "max_bytes": 1 << 20, "iso": iso,
           "session": 0, "epoch": -1, "topics": [{"name": "pv-tx", "parts": [
               {"index": part, "offset": 0, "start": -1, "max": 1 << 20, "leader_epoch": -1,
                "last_epoch": -1}]}], "forgotten": [], "rack": ""}
    return call(1, v, v >= 12, enc(FETCH_REQ, req, v, v >= 12), FETCH_RESP)["responses"][0]["parts"][0]


def offset_fetch(v, stable):
    req = offset_fetch_req("pv-txg", [{"name": "pv-tx", "parts": [0]}], v)
    req["stable"] = stable
    r = call(9, v, v >= FLEX[9], enc(OF_REQ, req, v, v >= FLEX[9]), OF_RESP)
    return offset_fetch_topics(r, v)[0]["parts"][0]


aborted_pids = []
for v, flex in versions(24):
    tid = "pv-tx-%d" % v
    ip = init_pid(0, False, tid)
    pid, ep = ip["pid"], ip["epoch"]
    # All or nothing: an unknown topic fails the request; the others are not attempted.
    req = {"txn": tid, "pid": pid, "epoch": ep,
           "topics": [{"name": "pv-tx", "parts": [0]}, {"name": "pv-nope", "parts": [0]}]}
    r = call(24, v, flex, enc(AP_REQ, req, v, flex), AP_RESP)
    assert [x["results"][0]["error"] for x in r["results"]] == [55, 3], (v, r)
    assert produce_tx(pid, ep, 0, 0) == 48, v  # INVALID_TXN_STATE: partition not added
    req["topics"] = [{"name": "pv-tx", "parts": [0]}]
    r = call(24, v, flex, enc(AP_REQ, req, v, flex), AP_RESP)
    assert r["results"][0]["results"][0]["error"] == 0, (v, r)
    req["epoch"] = ep - 1 if ep > 0 else 99
    r = call(24, v, flex, enc(AP_REQ, req, v, flex), AP_RESP)
    assert r["results"][0]["results"][0]["error"] == (90 if v >= 2 else 47), (v, r)
    hw0 = fetch(0, 0)["hw"]
    assert produce_tx(pid, ep, 0, 0) == 0, v
    assert produce_tx(pid, ep, 0, 1) == 48, v
    committed = fetch(0, 1)
    assert committed["lso"] == hw0 and committed["hw"] == hw0 + 1, (v, committed)
    av = min(v, ranges[25][1])
    r = call(25, av, av >= FLEX[25], enc(AO_REQ, {"txn": tid, "pid": pid, "epoch": ep,
                                                  "group": "pv-txg"}, av, av >= FLEX[25]), AO_RESP)
    assert r["error"] == 0, (v, r)
    tv = min(v, ranges[28][1])
    req = {"txn": tid, "group": "pv-txg", "pid": pid, "epoch": ep, "gen": -1, "member": "",
           "instance": None, "topics": [{"name": "pv-tx", "parts": [
               {"index": 0, "offset": 100 + v, "lepoch": -1, "meta": "tx%d" % v}]}]}
    r = call(28, tv, tv >= FLEX[28], enc(TOC_REQ, req, tv, tv >= FLEX[28]), TOC_RESP)
    assert r["topics"][0]["parts"][0]["error"] == 0, (v, r)
    assert offset_fetch(ranges[9][1], True)["error"] == 88, v  # UNSTABLE_OFFSET_COMMIT
    commit = v % 2 == 0
    ev = min(v, ranges[26][1])
    r = call(26, ev, ev >= FLEX[26], enc(END_REQ, {"txn": tid, "pid": pid, "epoch": ep,
                                                   "commit": commit}, ev, ev >= FLEX[26]), AO_RESP)
    assert r["error"] == 0, (v, r)
    r = call(26, ev, ev >= FLEX[26], enc(END_REQ, {"txn": tid, "pid": pid, "epoch": ep,
                                                   "commit": not commit}, ev, ev >= FLEX[26]),
             AO_RESP)
    assert r["error"] == 48, (v, r)  # the opposite decision of a finished transaction
    after = fetch(0, 1)
    assert after["lso"] == after["hw"] == hw0 + 2, (v, after)  # data + marker, nothing open
    of = offset_fetch(ranges[9][1], True)
    assert of["error"] == 0, (v, of)
    if commit:
        assert of["offset"] == 100 + v, (v, of)
    else:
        aborted_pids.append(pid)
    tested += 1
# KIP-447: TxnOffsetCommit v3 carries the consumer's generation and member id, checked like an
# OffsetCommit's, so a consumer that lost its partitions in a rebalance cannot commit.
jg = {"group": "pv-txg447", "session": 10000, "rebalance": 10000, "member": "", "instance": None,
      "ptype": "consumer", "protocols": [{"name": "range", "meta": CONSUMER_META}]}
r = call(11, 5, False, enc(JG_REQ, jg, 5, False), JG_RESP)
jg["member"] = r["member"]
r = call(11, 5, False, enc(JG_REQ, jg, 5, False), JG_RESP)
assert r["error"] == 0, r
sg = {"group": "pv-txg447", "gen": r["gen"], "member": r["member"], "instance": None,
      "assign": [{"id": r["member"], "data": b""}]}
assert call(14, 3, False, enc(SG_REQ, sg, 3, False), SG_RESP)["error"] == 0
ip = init_pid(0, False, "pv-tx447")
req = {"txn": "pv-tx447", "pid": ip["pid"], "epoch": ip["epoch"],
       "topics": [{"name": "pv-tx", "parts": [1]}]}
assert call(24, 0, False, enc(AP_REQ, req, 0, False), AP_RESP)["results"][0]["results"][0]["error"] == 0
for gen, member, want in ((r["gen"], "someone-else", 25), (r["gen"] + 7, r["member"], 22),
                          (r["gen"], r["member"], 0)):
    req = {"txn": "pv-tx447", "group": "pv-txg447", "pid": ip["pid"], "epoch": ip["epoch"],
           "gen": gen, "member": member, "instance": None, "topics": [{"name": "pv-tx", "parts": [
               {"index": 1, "offset": 3, "lepoch": -1, "meta": None}]}]}
    got = call(28, 3, True, enc(TOC_REQ, req, 3, True), TOC_RESP)["topics"][0]["parts"][0]["error"]
    assert got == want, (gen, member, got, want)
r = call(26, 1, False, enc(END_REQ, {"txn": "pv-tx447", "pid": ip["pid"], "epoch": ip["epoch"],
                                     "commit": False}, 1, False), AO_RESP)
assert r["error"] == 0, r
for v, flex in [(v, v >= FLEX[9]) for v in (6, 7)]:
    assert offset_fetch(v, False)["error"] == 0, v
for v in (4, 12):  # read_committed lists the aborted transactions; read_uncommitted does not
    rc = fetch(0, 1, v)
    assert sorted(a["pid"] for a in rc["aborted"]) == sorted(aborted_pids), (v, rc["aborted"])
    assert not fetch(0, 0, v)["aborted"], v
lo = {"replica": -1, "iso": 1, "topics": [{"name": "pv-tx", "parts": [
    {"index": 0, "ts": -1, "epoch": -1, "max_num": 1}]}]}
assert call(2, 2, False, enc(LO_REQ, lo, 2, False), LO_RESP)["topics"][0]["parts"][0]["offset"] == \
    fetch(0, 1)["lso"]


# ---- transaction tooling (KIP-664): ListTransactions, DescribeTransactions, DescribeProducers ----
LT_REQ = [("states", "strlist", 0, INF), ("pids", "i64list", 0, INF), ("duration", "i64", 1, INF)]
LT_RESP = [("throttle", "i32", 0, INF), ("error", "i16", 0, INF), ("unknown", "strlist", 0, INF),
           ("txns", [("id", "str", 0, INF), ("pid", "i64", 0, INF), ("state", "str", 0, INF)],
            0, INF)]
DT_REQ = [("ids", "strlist", 0, INF)]
DT_RESP = [("throttle", "i32", 0, INF),
           ("txns", [("error", "i16", 0, INF), ("id", "str", 0, INF), ("state", "str", 0, INF),
                     ("timeout", "i32", 0, INF), ("start", "i64", 0, INF), ("pid", "i64", 0, INF),
                     ("epoch", "i16", 0, INF),
                     ("topics", [("name", "str", 0, INF), ("parts", "i32list", 0, INF)], 0, INF)],
            0, INF)]
DP_REQ = [("topics", [("name", "str", 0, INF), ("parts", "i32list", 0, INF)], 0, INF)]
DP_RESP = [("throttle", "i32", 0, INF),
           ("topics", [("name", "str", 0, INF),
                       ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                  ("msg", "nstr", 0, INF),
                                  ("producers", [("pid", "i64", 0, INF), ("epoch", "i32", 0, INF),
                                                 ("seq", "i32", 0, INF), ("ts", "i64", 0, INF),
                                                 ("cepoch", "i32", 0, INF),
                                                 ("txn_start", "i64", 0, INF)], 0, INF)],
                        0, INF)],
            0, INF)]


def list_txns(v, states=(), pids=(), duration=-1):
    req = {"states": list(states), "pids": list(pids), "duration": duration}
    return call(66, v, True, enc(LT_REQ, req, v, True), LT_RESP)


def producers_of(part):
    req = {"topics": [{"name": "pv-tx", "parts": [part, 9]}, {"name": "pv-nope", "parts": [0]}]}
    r = call(61, 0, True, enc(DP_REQ, req, 0, True), DP_RESP)
    assert [p["error"] for p in r["topics"][0]["parts"]] == [0, 3], r  # partition 9: unknown
    assert r["topics"][1]["parts"][0]["error"] == 3, r
    return {p["pid"]: p for p in r["topics"][0]["parts"][0]["producers"]}


# One transaction left open on purpose: pv-txl with a record in pv-tx partition 1.
ip = init_pid(0, False, "pv-txl")
req = {"txn": "pv-txl", "pid": ip["pid"], "epoch": ip["epoch"],
       "topics": [{"name": "pv-tx", "parts": [1]}]}
assert call(24, 0, False, enc(AP_REQ, req, 0, False), AP_RESP)["results"][0]["results"][0]["error"] == 0
first = fetch(1, 0)["hw"]
assert produce_tx(ip["pid"], ip["epoch"], 0, 1) == 0
for v, flex in versions(66):
    r = list_txns(v)
    got = {t["id"]: (t["pid"], t["state"]) for t in r["txns"]}
    assert r["error"] == 0 and r["unknown"] == [], (v, r)
    assert got["pv-txl"] == (ip["pid"], "Ongoing"), (v, got)
    assert got["pv-tx-0"][1] == "CompleteCommit" and got["pv-tx-1"][1] == "CompleteAbort", got
    r = list_txns(v, ["Ongoing", "Bogus"])
    assert [t["id"] for t in r["txns"]] == ["pv-txl"] and r["unknown"] == ["Bogus"], (v, r)
    assert [t["id"] for t in list_txns(v, pids=[ip["pid"]])["txns"]] == ["pv-txl"], v
    if v >= 1:  # duration: open for at least that long
        assert [t["id"] for t in list_txns(v, duration=0)["txns"]] == ["pv-txl"], v
        assert list_txns(v, duration=3600 * 1000)["txns"] == [], v
    tested += 1
for v, flex in versions(65):
    r = call(65, v, True, enc(DT_REQ, {"ids": ["pv-txl", "pv-tx-0", "pv-nobody"]}, v, True),
             DT_RESP)
    txl, tx0, nobody = r["txns"]
    assert (txl["error"], txl["state"], txl["pid"], txl["epoch"], txl["timeout"]) == \
        (0, "Ongoing", ip["pid"], ip["epoch"], 60000), txl
    assert txl["topics"] == [{"name": "pv-tx", "parts": [1]}] and txl["start"] > 0, txl
    assert tx0["state"] == "CompleteCommit" and tx0["topics"] == [] and tx0["start"] == -1, tx0
    assert nobody["error"] == 105 and nobody["id"] == "pv-nobody", nobody  # TRANSACTIONAL_ID_NOT_FOUND
    tested += 1
for v, flex in versions(61):
    prod = producers_of(1)[ip["pid"]]
    assert (prod["epoch"], prod["seq"], prod["txn_start"], prod["cepoch"]) == \
        (ip["epoch"], 0, first, -1), prod
    tested += 1
r = call(26, 1, False, enc(END_REQ, {"txn": "pv-txl", "pid": ip["pid"], "epoch": ip["epoch"],
                                     "commit": False}, 1, False), AO_RESP)
assert r["error"] == 0, r
assert producers_of(1)[ip["pid"]]["txn_start"] == -1  # closed by its marker
assert list_txns(0, ["Ongoing"])["txns"] == []
r = call(65, 0, True, enc(DT_REQ, {"ids": ["pv-txl"]}, 0, True), DT_RESP)["txns"][0]
assert r["state"] == "CompleteAbort" and r["topics"] == [], r

# ACL APIs (29, 30, 31): this broker runs without an authorizer, so each answers
# SECURITY_DISABLED (54) in a response that must decode exactly (test_acl.sh covers them on).
ACL_FIELDS = [("rtype", "i8", 0, INF), ("name", "nstr", 0, INF), ("pattern", "i8", 1, INF),
              ("principal", "nstr", 0, INF), ("host", "nstr", 0, INF), ("op", "i8", 0, INF),
              ("perm", "i8", 0, INF)]
ACL_ONE = {"rtype": 2, "name": "pv", "pattern": 3, "principal": "User:pv", "host": "*", "op": 3,
           "perm": 3}
DA_RESP = [("throttle", "i32", 0, INF), ("error", "i16", 0, INF), ("msg", "nstr", 0, INF),
           ("resources", [("rtype", "i8", 0, INF), ("name", "str", 0, INF),
                          ("pattern", "i8", 1, INF),
                          ("acls", [("principal", "str", 0, INF), ("host", "str", 0, INF),
                                    ("op", "i8", 0, INF), ("perm", "i8", 0, INF)], 0, INF)],
            0, INF)]
CA_RESP = [("throttle", "i32", 0, INF),
           ("results", [("error", "i16", 0, INF), ("msg", "nstr", 0, INF)], 0, INF)]
DL_RESP = [("throttle", "i32", 0, INF),
           ("results", [("error", "i16", 0, INF), ("msg", "nstr", 0, INF),
                        ("matching", [("error", "i16", 0, INF), ("msg", "nstr", 0, INF)] +
                         [(n, "str" if t == "nstr" else t, a, b) for n, t, a, b in ACL_FIELDS],
                         0, INF)], 0, INF)]
for v, flex in versions(29):
    r = call(29, v, flex, enc(ACL_FIELDS, ACL_ONE, v, flex), DA_RESP)
    assert r["error"] == 54 and r["resources"] == [], (v, r)
    tested += 1
for v, flex in versions(30):
    r = call(30, v, flex, enc([("c", ACL_FIELDS, 0, INF)], {"c": [ACL_ONE, ACL_ONE]}, v, flex),
             CA_RESP)
    assert [x["error"] for x in r["results"]] == [54, 54], (v, r)
    tested += 1
for v, flex in versions(31):
    r = call(31, v, flex, enc([("f", ACL_FIELDS, 0, INF)], {"f": [ACL_ONE]}, v, flex), DL_RESP)
    assert [(x["error"], x["matching"]) for x in r["results"]] == [(54, [])], (v, r)
    tested += 1

# OffsetForLeaderEpoch on a single node: its log is one epoch, 0 (as Metadata reports), which
# ends at the log end; an epoch it never had has no end (-1).
OFLE_REQ = [("replica", "i32", 3, INF),
            ("topics", [("name", "str", 0, INF),
                        ("parts", [("index", "i32", 0, INF), ("cur", "i32", 2, INF),
                                   ("epoch", "i32", 0, INF)], 0, INF)], 0, INF)]
OFLE_RESP = [("throttle", "i32", 2, INF),
             ("topics", [("name", "str", 0, INF),
                         ("parts", [("error", "i16", 0, INF), ("index", "i32", 0, INF),
                                    ("epoch", "i32", 1, INF), ("end", "i64", 0, INF)], 0, INF)],
              0, INF)]
r = call(19, 0, False, enc(CT_REQ, {"topics": [{"name": "pv-ofle", "n": 2, "rf": 1, "assign": [],
                                               "configs": []}], "timeout": 1000}, 0, False),
         CT_RESP)
assert r["topics"][0]["error"] == 0, r
r = call(0, 3, False, enc(PRODUCE_REQ, {"acks": -1, "timeout": 1000, "topics": [
    {"name": "pv-ofle", "parts": [{"index": 0, "records": record_batch(b"e0")}]}]}, 3, False),
    PRODUCE_RESP)
assert r["responses"][0]["parts"][0]["error"] == 0, r
for v, flex in versions(23):
    req = {"replica": -1, "topics": [{"name": "pv-ofle", "parts": [
        {"index": 0, "cur": 0, "epoch": 0}, {"index": 1, "cur": -1, "epoch": 3}]}]}
    r = call(23, v, flex, enc(OFLE_REQ, req, v, flex), OFLE_RESP)
    p0, p1 = r["topics"][0]["parts"]
    assert p0["error"] == 0 and p0["end"] == 1 and p0.get("epoch", 0) == 0, (v, p0)
    assert p1["error"] == 0 and p1["end"] == -1 and p1.get("epoch", -1) == -1, (v, p1)
    tested += 1

# The cluster operator APIs on a single node (docs/cluster.md): nothing can move, the node's
# own id is the only valid replica list, no election is needed and there is no quorum.
RA_REQ = [("timeout", "i32", 0, INF),
          ("topics", [("name", "str", 0, INF),
                      ("parts", [("index", "i32", 0, INF), ("replicas", "ni32list", 0, INF)],
                       0, INF)], 0, INF)]
RA_RESP = [("throttle", "i32", 0, INF), ("error", "i16", 0, INF), ("message", "nstr", 0, INF),
           ("topics", [("name", "str", 0, INF),
                       ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                  ("message", "nstr", 0, INF)], 0, INF)], 0, INF)]
LR_REQ = [("timeout", "i32", 0, INF),
          ("topics", [("name", "str", 0, INF), ("parts", "i32list", 0, INF)], 0, INF)]
LR_RESP = [("throttle", "i32", 0, INF), ("error", "i16", 0, INF), ("message", "nstr", 0, INF),
           ("topics", [("name", "str", 0, INF),
                       ("parts", [("index", "i32", 0, INF), ("replicas", "i32list", 0, INF),
                                  ("adding", "i32list", 0, INF),
                                  ("removing", "i32list", 0, INF)], 0, INF)], 0, INF)]
EL_REQ = [("type", "i8", 1, INF),
          ("topics", [("topic", "str", 0, INF), ("parts", "i32list", 0, INF)], 0, INF),
          ("timeout", "i32", 0, INF)]
EL_RESP = [("throttle", "i32", 0, INF), ("error", "i16", 1, INF),
           ("results", [("topic", "str", 0, INF),
                        ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                   ("message", "nstr", 0, INF)], 0, INF)], 0, INF)]
DQ_VOTER = [("id", "i32", 0, INF), ("leo", "i64", 0, INF), ("fetch", "i64", 1, INF),
            ("caught", "i64", 1, INF)]
DQ_REQ = [("topics", [("name", "str", 0, INF), ("parts", [("index", "i32", 0, INF)], 0, INF)],
           0, INF)]
DQ_RESP = [("error", "i16", 0, INF),
           ("topics", [("name", "str", 0, INF),
                       ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                  ("leader", "i32", 0, INF), ("epoch", "i32", 0, INF),
                                  ("hw", "i64", 0, INF), ("voters", DQ_VOTER, 0, INF),
                                  ("observers", DQ_VOTER, 0, INF)], 0, INF)], 0, INF)]
md = call(3, 1, False, enc(META_REQ, {"topics": [{"name": "pv-ofle"}]}, 1, False), META_RESP)
me = md["brokers"][0]["node"]
for v, flex in versions(45):
    parts = [{"index": 0, "replicas": [me]}, {"index": 1, "replicas": [me + 7]},
             {"index": 0, "replicas": None}, {"index": 9, "replicas": [me]}]
    r = call(45, v, flex, enc(RA_REQ, {"timeout": 1000, "topics": [
        {"name": "pv-ofle", "parts": parts}]}, v, flex), RA_RESP)
    assert r["error"] == 0, (v, r)
    assert [x["error"] for x in r["topics"][0]["parts"]] == [0, 39, 85, 3], (v, r)
    tested += 1
for v, flex in versions(46):
    r = call(46, v, flex, enc(LR_REQ, {"timeout": 1000, "topics": None}, v, flex), LR_RESP)
    assert r["error"] == 0 and r["topics"] == [], (v, r)
    tested += 1
for v, flex in versions(43):
    req = {"type": 0, "topics": [{"topic": "pv-ofle", "parts": [0, 5]}], "timeout": 1000}
    r = call(43, v, flex, enc(EL_REQ, req, v, flex), EL_RESP)
    assert [x["error"] for x in r["results"][0]["parts"]] == [84, 3], (v, r)
    tested += 1
for v, flex in versions(55):
    req = {"topics": [{"name": "__cluster_metadata", "parts": [{"index": 0}]}]}
    r = call(55, v, flex, enc(DQ_REQ, req, v, flex), DQ_RESP)
    assert r["error"] == 3 and r["topics"] == [], (v, r)
    tested += 1

print("all %d advertised API versions answered and decoded exactly" % tested)
