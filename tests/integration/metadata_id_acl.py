"""Metadata v12 by topic id under ACLs: a principal may not learn a topic it cannot DESCRIBE
from its id. usage: metadata_id_acl.py SUPER_PLAINTEXT_HOSTPORT SASL_HOSTPORT
The first address's principal is a super user (it reads the ids); eve/3ve (PLAIN) may DESCRIBE
logs.* only. By id, orders answers TOPIC_AUTHORIZATION_FAILED (29) without its name and
logs.app answers with its name."""
import struct
import sys

from kschema import Conn

INF = 99
REQ = [("topics", [("topic_id", "uuid", 10, INF), ("name", "nstr", 0, INF)], 0, INF),
       ("allow_auto", "bool", 4, INF), ("topic_ops", "bool", 8, INF)]
RESP = [("throttle", "i32", 3, INF),
        ("brokers", [("node", "i32", 0, INF), ("host", "str", 0, INF), ("port", "i32", 0, INF),
                     ("rack", "nstr", 1, INF)], 0, INF),
        ("cluster_id", "nstr", 2, INF), ("controller", "i32", 1, INF),
        ("topics", [("error", "i16", 0, INF), ("name", "nstr", 0, INF),
                    ("topic_id", "uuid", 10, INF), ("internal", "bool", 1, INF),
                    ("partitions", [("error", "i16", 0, INF), ("index", "i32", 0, INF),
                                    ("leader", "i32", 0, INF), ("epoch", "i32", 7, INF),
                                    ("replicas", "i32list", 0, INF), ("isr", "i32list", 0, INF),
                                    ("offline", "i32list", 5, INF)], 0, INF),
                    ("topic_ops", "i32", 8, INF)], 0, INF)]
HS_REQ = [("mechanism", "str", 0, INF)]
HS_RESP = [("error", "i16", 0, INF), ("mechanisms", "strlist", 0, INF)]
AU_REQ = [("auth", "bytes", 0, INF)]
AU_RESP = [("error", "i16", 0, INF), ("msg", "nstr", 0, INF), ("auth", "bytes", 0, INF)]


def metadata(conn, topics):
    return conn.call(3, 12, True, {"topics": topics, "allow_auto": False, "topic_ops": False},
                     REQ, RESP)["topics"]


ids = {t["name"]: t["topic_id"] for t in metadata(Conn(sys.argv[1]), None)}
assert "orders" in ids and "logs.app" in ids, "topics seen by the super user: %s" % list(ids)
eve = Conn(sys.argv[2])
assert eve.call(17, 1, False, {"mechanism": "PLAIN"}, HS_REQ, HS_RESP)["error"] == 0
assert eve.call(36, 0, False, {"auth": b"\0eve\x003ve"}, AU_REQ, AU_RESP)["error"] == 0
got = metadata(eve, [{"topic_id": ids["orders"], "name": None},
                     {"topic_id": ids["logs.app"], "name": None}])
assert [(t["error"], t["name"]) for t in got] == [(29, None), (0, "logs.app")], got
print("Metadata by id: orders refused (29, no name), logs.app answered")
