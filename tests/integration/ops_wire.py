"""Operator APIs of a sluice cluster on the raw wire (test_cluster_reassign.sh), through kschema:
AlterPartitionReassignments (45 v0), ListPartitionReassignments (46 v0), ElectLeaders (43 v0-v2)
and DescribeQuorum (55 v0-v1), plus Metadata for the placement.

  ops_wire.py alter HOST:PORT TOPIC PARTITION REPLICAS|cancel
      REPLICAS: comma-separated broker ids. Prints "error=CODE message=..." for the partition.
  ops_wire.py list HOST:PORT [TOPIC PARTITION]
      Prints one line per reassignment in progress: "TOPIC PARTITION replicas=.. adding=..
      removing=.." (nothing when none); the whole cluster without TOPIC.
  ops_wire.py elect HOST:PORT VERSION TYPE TOPIC PARTITION
      TYPE: preferred or unclean. Prints "top=CODE error=CODE" (top only for v1+).
  ops_wire.py elect-all HOST:PORT
      ElectLeaders v2 PREFERRED with null topic_partitions; prints one "TOPIC PARTITION error=CODE"
      line per partition answered (Kafka lists none that needed no election).
  ops_wire.py quorum HOST:PORT VERSION
      DescribeQuorum of __cluster_metadata-0: "error=E leader=L epoch=N hw=H" then one
      "voter ID leo=N fetch_ms=T caught_up_ms=T" line per voter.
  ops_wire.py placement HOST:PORT TOPIC PARTITION
      "leader=L replicas=A,B isr=A,B" as the broker's Metadata v9 has it.
"""
import sys

from kschema import INF, METADATA_REQ, METADATA_RESP, Conn

ALTER_REQ = [("timeout", "i32", 0, INF),
             ("topics", [("name", "str", 0, INF),
                         ("parts", [("index", "i32", 0, INF), ("replicas", "ni32list", 0, INF)],
                          0, INF)], 0, INF)]
ALTER_RESP = [("throttle", "i32", 0, INF), ("error", "i16", 0, INF), ("message", "nstr", 0, INF),
              ("topics", [("name", "str", 0, INF),
                          ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                     ("message", "nstr", 0, INF)], 0, INF)], 0, INF)]
LIST_REQ = [("timeout", "i32", 0, INF),
            ("topics", [("name", "str", 0, INF), ("parts", "i32list", 0, INF)], 0, INF)]
LIST_RESP = [("throttle", "i32", 0, INF), ("error", "i16", 0, INF), ("message", "nstr", 0, INF),
             ("topics", [("name", "str", 0, INF),
                         ("parts", [("index", "i32", 0, INF), ("replicas", "i32list", 0, INF),
                                    ("adding", "i32list", 0, INF),
                                    ("removing", "i32list", 0, INF)], 0, INF)], 0, INF)]
ELECT_REQ = [("type", "i8", 1, INF),
             ("topics", [("topic", "str", 0, INF), ("parts", "i32list", 0, INF)], 0, INF),
             ("timeout", "i32", 0, INF)]
ELECT_RESP = [("throttle", "i32", 0, INF), ("error", "i16", 1, INF),
              ("results", [("topic", "str", 0, INF),
                           ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                      ("message", "nstr", 0, INF)], 0, INF)], 0, INF)]
VOTER = [("id", "i32", 0, INF), ("leo", "i64", 0, INF), ("fetch_ms", "i64", 1, INF),
         ("caught_up_ms", "i64", 1, INF)]
QUORUM_REQ = [("topics", [("name", "str", 0, INF), ("parts", [("index", "i32", 0, INF)], 0, INF)],
               0, INF)]
QUORUM_RESP = [("error", "i16", 0, INF),
               ("topics", [("name", "str", 0, INF),
                           ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                      ("leader", "i32", 0, INF), ("epoch", "i32", 0, INF),
                                      ("hw", "i64", 0, INF), ("voters", VOTER, 0, INF),
                                      ("observers", VOTER, 0, INF)], 0, INF)], 0, INF)]

def ids(lst):
    return ",".join(str(i) for i in lst)


def alter(hp, topic, part, replicas):
    reps = None if replicas == "cancel" else [int(x) for x in replicas.split(",") if x]
    req = {"timeout": 30000, "topics": [{"name": topic,
                                         "parts": [{"index": part, "replicas": reps}]}]}
    r = Conn(hp).call(45, 0, True, req, ALTER_REQ, ALTER_RESP)
    if r["error"]:
        print("top=%d message=%s" % (r["error"], r["message"]))
        return 0
    p = r["topics"][0]["parts"][0]
    print("error=%d message=%s" % (p["error"], p["message"]))
    return 0


def list_ra(hp, topic=None, part=None):
    req = {"timeout": 30000,
           "topics": None if topic is None else [{"name": topic, "parts": [part]}]}
    r = Conn(hp).call(46, 0, True, req, LIST_REQ, LIST_RESP)
    if r["error"]:
        print("top=%d message=%s" % (r["error"], r["message"]))
    for t in r["topics"]:
        for p in t["parts"]:
            print("%s %d replicas=%s adding=%s removing=%s" % (
                t["name"], p["index"], ids(p["replicas"]), ids(p["adding"]), ids(p["removing"])))
    return 0


def elect(hp, ver, typ, topic, part):
    req = {"type": {"preferred": 0, "unclean": 1}[typ],
           "topics": [{"topic": topic, "parts": [part]}], "timeout": 30000}
    r = Conn(hp).call(43, ver, ver >= 2, req, ELECT_REQ, ELECT_RESP)
    p = r["results"][0]["parts"][0]
    print(("top=%d " % r["error"] if ver >= 1 else "") + "error=%d" % p["error"])
    return 0


def elect_all(hp):
    r = Conn(hp).call(43, 2, True, {"type": 0, "topics": None, "timeout": 30000}, ELECT_REQ,
                      ELECT_RESP)
    for t in r["results"]:
        for p in t["parts"]:
            print("%s %d error=%d" % (t["topic"], p["index"], p["error"]))
    return 0


def quorum(hp, ver):
    req = {"topics": [{"name": "__cluster_metadata", "parts": [{"index": 0}]}]}
    r = Conn(hp).call(55, ver, True, req, QUORUM_REQ, QUORUM_RESP)
    p = r["topics"][0]["parts"][0]
    print("error=%d leader=%d epoch=%d hw=%d" % (p["error"], p["leader"], p["epoch"], p["hw"]))
    for v in p["voters"]:
        print("voter %d leo=%d fetch_ms=%d caught_up_ms=%d" % (
            v["id"], v["leo"], v.get("fetch_ms", -1), v.get("caught_up_ms", -1)))
    return 0


def placement(hp, topic, part):
    r = Conn(hp).call(3, 9, True, {"topics": [{"name": topic}]}, METADATA_REQ, METADATA_RESP)
    for t in r["topics"]:
        for p in t["parts"]:
            if p["index"] == part:
                print("leader=%d replicas=%s isr=%s" % (p["leader"], ids(p["replicas"]),
                                                        ids(p["isr"])))
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "alter":
        return alter(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    if cmd == "list":
        if len(sys.argv) > 3:
            return list_ra(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return list_ra(sys.argv[2])
    if cmd == "elect":
        return elect(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]))
    if cmd == "elect-all":
        return elect_all(sys.argv[2])
    if cmd == "quorum":
        return quorum(sys.argv[2], int(sys.argv[3]))
    if cmd == "placement":
        return placement(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    print("unknown command %s" % cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
