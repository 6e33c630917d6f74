"""Raw Kafka requests against a sluice cluster (test_cluster_ops.sh), through kschema.

  cluster_wire.py ids HOST:PORT...
      Prints one line per broker: "HOST:PORT metadata=ID describe=ID" (Metadata v9 and
      DescribeCluster v0 as that broker answers them).
  cluster_wire.py produce HOST:PORT TOPIC PARTITION TIMEOUT_MS
      One acks=all Produce v7 of one record with the given timeout_ms; prints "error=CODE ms=N"
      (N: how long the answer took).
  cluster_wire.py epochs HOST:PORT TOPIC PARTITION
      Against the partition's leader: Metadata's leader_epoch E, then Fetch v11, ListOffsets v5
      and OffsetForLeaderEpoch v4 with current_leader_epoch E-1 / E / E+1 (and -1, unchecked);
      prints one "api epoch=... error=..." line each, and OffsetForLeaderEpoch's answers.
  cluster_wire.py consume BOOTSTRAP TOPIC
      A librdkafka consumer of partition 0 from its start with auto.offset.reset=error, until
      the file STOP appears next to it (in the working directory) and nothing came for 2 s
      (when STOP holds a number N: and it read at least N records, or 60 s passed);
      prints "read=N resets=R backwards=B gaps=G" (R: offset resets, which a consumer at a valid
      offset must never see across a leader change).
"""
import os
import struct
import sys
import time

from kschema import INF, METADATA_REQ, METADATA_RESP, Conn, crc32c

DESCRIBE_REQ = [("ops", "bool", 0, INF)]
DESCRIBE_RESP = [("throttle", "i32", 0, INF), ("error", "i16", 0, INF),
                 ("message", "nstr", 0, INF), ("cluster_id", "str", 0, INF),
                 ("controller", "i32", 0, INF),
                 ("brokers", [("id", "i32", 0, INF), ("host", "str", 0, INF),
                              ("port", "i32", 0, INF), ("rack", "nstr", 0, INF)], 0, INF),
                 ("ops", "i32", 0, INF)]
PRODUCE_REQ = [("txn", "nstr", 3, INF), ("acks", "i16", 0, INF), ("timeout", "i32", 0, INF),
               ("topics", [("name", "str", 0, INF),
                           ("parts", [("index", "i32", 0, INF),
                                      ("records", "bytes", 0, INF)], 0, INF)], 0, INF)]
PRODUCE_RESP = [("topics", [("name", "str", 0, INF),
                            ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                       ("base", "i64", 0, INF), ("append_time", "i64", 2, INF),
                                       ("log_start", "i64", 5, INF)], 0, INF)], 0, INF),
                ("throttle", "i32", 1, INF)]
FETCH_REQ = [("replica", "i32", 0, INF), ("max_wait", "i32", 0, INF), ("min_bytes", "i32", 0, INF),
             ("max_bytes", "i32", 3, INF), ("isolation", "i8", 4, INF),
             ("session", "i32", 7, INF), ("session_epoch", "i32", 7, INF),
             ("topics", [("name", "str", 0, INF),
                         ("parts", [("index", "i32", 0, INF), ("cur_epoch", "i32", 9, INF),
                                    ("offset", "i64", 0, INF), ("log_start", "i64", 5, INF),
                                    ("max", "i32", 0, INF)], 0, INF)], 0, INF),
             ("forgotten", [("name", "str", 7, INF), ("parts", "i32list", 7, INF)], 7, INF),
             ("rack", "str", 11, INF)]
FETCH_RESP = [("throttle", "i32", 1, INF), ("error", "i16", 7, INF), ("session", "i32", 7, INF),
              ("topics", [("name", "str", 0, INF),
                          ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                     ("hw", "i64", 0, INF), ("lso", "i64", 4, INF),
                                     ("log_start", "i64", 5, INF),
                                     ("aborted", [("pid", "i64", 4, INF),
                                                  ("first", "i64", 4, INF)], 4, INF),
                                     ("preferred", "i32", 11, INF),
                                     ("records", "bytes", 0, INF)], 0, INF)], 0, INF)]
LIST_REQ = [("replica", "i32", 0, INF), ("isolation", "i8", 2, INF),
            ("topics", [("name", "str", 0, INF),
                        ("parts", [("index", "i32", 0, INF), ("cur_epoch", "i32", 4, INF),
                                   ("ts", "i64", 0, INF)], 0, INF)], 0, INF)]
LIST_RESP = [("throttle", "i32", 2, INF),
             ("topics", [("name", "str", 0, INF),
                         ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                    ("ts", "i64", 1, INF), ("offset", "i64", 1, INF),
                                    ("epoch", "i32", 4, INF)], 0, INF)], 0, INF)]
OFLE_REQ = [("replica", "i32", 3, INF),
            ("topics", [("name", "str", 0, INF),
                        ("parts", [("index", "i32", 0, INF), ("cur_epoch", "i32", 2, INF),
                                   ("epoch", "i32", 0, INF)], 0, INF)], 0, INF)]
OFLE_RESP = [("throttle", "i32", 2, INF),
             ("topics", [("name", "str", 0, INF),
                         ("parts", [("error", "i16", 0, INF), ("index", "i32", 0, INF),
                                    ("epoch", "i32", 1, INF), ("end", "i64", 0, INF)], 0, INF)],
              0, INF)]


def zigzag(n):
    v = (n << 1) ^ (n >> 63)
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def one_record_batch(value):
    """A RecordBatch v2 holding one record with a null key, no producer id."""
    body = b"\x00" + zigzag(0) + zigzag(0) + zigzag(-1) + zigzag(len(value)) + value + zigzag(0)
    rec = zigzag(len(body)) + body
    now = int(time.time() * 1000)
    after_crc = struct.pack(">hiqqqhii", 0, 0, now, now, -1, -1, -1, 1) + rec
    head = struct.pack(">iB", -1, 2) + struct.pack(">I", crc32c(after_crc))
    return struct.pack(">qi", 0, len(head) + len(after_crc)) + head + after_crc


def metadata(hp, topics=None):
    req = {"topics": [{"name": t} for t in topics] if topics is not None else None}
    return Conn(hp).call(3, 9, True, req, METADATA_REQ, METADATA_RESP)


def ids(hps):
    for hp in hps:
        m = metadata(hp, [])
        d = Conn(hp).call(60, 0, True, {"ops": False}, DESCRIBE_REQ, DESCRIBE_RESP)
        print("%s metadata=%s describe=%s" % (hp, m["cluster_id"], d["cluster_id"]))
    return 0


def produce(hp, topic, part, timeout_ms):
    req = {"acks": -1, "timeout": timeout_ms,
           "topics": [{"name": topic, "parts": [{"index": part,
                                                  "records": one_record_batch(b"timeout")}]}]}
    c = Conn(hp)
    c.sock.settimeout(max(30, timeout_ms / 1000 * 4))
    t0 = time.time()
    r = c.call(0, 7, False, req, PRODUCE_REQ, PRODUCE_RESP)
    ms = int((time.time() - t0) * 1000)
    print("error=%d ms=%d" % (r["topics"][0]["parts"][0]["error"], ms))
    return 0


def epochs(hp, topic, part):
    m = metadata(hp, [topic])
    p = [x for x in m["topics"][0]["parts"] if x["index"] == part][0]
    lead = [b for b in m["brokers"] if b["node_id"] == p["leader"]][0]
    lhp = "%s:%d" % (lead["host"], lead["port"])
    e = p["epoch"]
    print("metadata leader=%d epoch=%d" % (p["leader"], e))
    c = Conn(lhp)
    for cur in (e - 1, e, e + 1, -1):
        f = c.call(1, 11, False, {
            "replica": -1, "max_wait": 0, "min_bytes": 0, "max_bytes": 1 << 20, "session": 0,
            "session_epoch": -1, "rack": "", "forgotten": [],
            "topics": [{"name": topic, "parts": [{"index": part, "cur_epoch": cur, "offset": 0,
                                                  "log_start": -1, "max": 1 << 20}]}]},
            FETCH_REQ, FETCH_RESP)
        print("fetch cur=%s error=%d" % (rel(cur, e), f["topics"][0]["parts"][0]["error"]))
        lo = c.call(2, 5, False, {
            "replica": -1, "topics": [{"name": topic, "parts": [{"index": part, "cur_epoch": cur,
                                                                 "ts": -1}]}]},
            LIST_REQ, LIST_RESP)
        lp = lo["topics"][0]["parts"][0]
        print("listoffsets cur=%s error=%d epoch=%d" % (rel(cur, e), lp["error"], lp["epoch"]))
        o = c.call(23, 4, True, {
            "replica": -1, "topics": [{"name": topic, "parts": [{"index": part, "cur_epoch": cur,
                                                                 "epoch": e}]}]},
            OFLE_REQ, OFLE_RESP)
        op = o["topics"][0]["parts"][0]
        print("offsetforleaderepoch cur=%s error=%d" % (rel(cur, e), op["error"]))
    # Where each epoch ends, as a client after a failover asks it (KIP-101/279).
    for asked in range(0, e + 2):
        o = c.call(23, 4, True, {
            "replica": -1, "topics": [{"name": topic, "parts": [{"index": part, "cur_epoch": e,
                                                                 "epoch": asked}]}]},
            OFLE_REQ, OFLE_RESP)
        op = o["topics"][0]["parts"][0]
        print("epoch_end asked=%d error=%d epoch=%d end=%d" % (asked, op["error"], op["epoch"],
                                                               op["end"]))
    lo = c.call(2, 5, False, {"replica": -1, "topics": [{"name": topic, "parts": [
        {"index": part, "cur_epoch": e, "ts": -1}]}]}, LIST_REQ, LIST_RESP)
    print("latest offset=%d" % lo["topics"][0]["parts"][0]["offset"])
    # A follower answers NOT_LEADER_OR_FOLLOWER to a client's OffsetForLeaderEpoch.
    for b in m["brokers"]:
        if b["node_id"] != p["leader"] and b["node_id"] in p["replicas"]:
            o = Conn("%s:%d" % (b["host"], b["port"])).call(23, 4, True, {
                "replica": -1, "topics": [{"name": topic, "parts": [
                    {"index": part, "cur_epoch": e, "epoch": e}]}]}, OFLE_REQ, OFLE_RESP)
            print("follower %d offsetforleaderepoch error=%d" %
                  (b["node_id"], o["topics"][0]["parts"][0]["error"]))
            break
    return 0


def consume(bootstrap, topic):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "ops-consumer",
                  "enable.auto.commit": False, "auto.offset.reset": "error",
                  "topic.metadata.refresh.interval.ms": 500, "fetch.wait.max.ms": 100,
                  "enable.partition.eof": False})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    read = resets = backwards = gaps = 0
    want = None
    last_msg = time.time()
    stop_at = None  # when STOP appeared; STOP may hold a count to read before stopping
    while True:
        if stop_at is None and os.path.exists("STOP"):
            stop_at = time.time()
        if stop_at is not None:
            text = open("STOP").read().strip()
            need = int(text) if text.isdigit() else 0
            if (read >= need and time.time() - last_msg > 2) or time.time() - stop_at > 60:
                break
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._AUTO_OFFSET_RESET:
                resets += 1
            print("consumer: %s" % m.error(), file=sys.stderr)
            continue
        last_msg = time.time()
        if want is not None and m.offset() < want:
            backwards += 1
        elif want is not None and m.offset() > want:
            gaps += 1
        want = m.offset() + 1
        read += 1
    c.close()
    print("read=%d resets=%d backwards=%d gaps=%d" % (read, resets, backwards, gaps))
    return 1 if resets or backwards or gaps else 0


def rel(cur, e):
    return "none" if cur == -1 else ("E%+d" % (cur - e) if cur != e else "E")


def main():
    cmd = sys.argv[1]
    if cmd == "ids":
        return ids(sys.argv[2:])
    if cmd == "produce":
        return produce(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    if cmd == "epochs":
        return epochs(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    if cmd == "consume":
        return consume(sys.argv[2], sys.argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
