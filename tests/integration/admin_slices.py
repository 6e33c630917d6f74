"""Creating and deleting a topic of thousands of partitions does not hold other clients (issue 14).

Create: connection A sends CreateTopics for N partitions without reading; 2 ms later connection B
produces one record to another topic. B must be answered while A's answer is still to come: the
partitions are opened a slice per loop iteration. Before, the loop opened all N inline, then read
B, so A's answer was always there before B's. Then the topic must be whole: Metadata lists N
partitions and a record goes to the last one.
Delete: one record is written into every partition (each gets its directory), then A deletes the
topic and B produces at once; B must be answered while some of the topic's directories are still
in the data directory (they move to the trash a slice per iteration; before, all N moved before
the loop read B). Then the name is created again at once: every partition starts empty (offset
0), none holds the old records. Usage: HOST:PORT DATA_DIR [N]"""
import os
import select
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
from kschema import Conn  # noqa: E402
from admin_stall import (CT_REQ, CT_RESP, DT_REQ, DT_RESP, PRODUCE_REQ, PRODUCE_RESP,  # noqa: E402
                         batch, create)
from fresh_partitions import receive, send  # noqa: E402

META_REQ = [("topics", [("name", "str", 0, 100)], 0, 100)]
META_RESP = [("brokers", [("node", "i32", 0, 100), ("host", "str", 0, 100),
                          ("port", "i32", 0, 100), ("rack", "nstr", 1, 100)], 0, 100),
             ("controller", "i32", 1, 100),
             ("topics", [("error", "i16", 0, 100), ("name", "str", 0, 100),
                         ("internal", "bool", 1, 100),
                         ("parts", [("error", "i16", 0, 100), ("index", "i32", 0, 100),
                                    ("leader", "i32", 0, 100), ("replicas", "i32list", 0, 100),
                                    ("isr", "i32list", 0, 100)], 0, 100)], 0, 100)]


def produce(conn, topic, indexes, value, acks=1):
    req = {"acks": acks, "timeout": 30000, "topics": [{"name": topic, "parts": [
        {"index": i, "records": batch(value)} for i in indexes]}]}
    parts = conn.call(0, 7, False, req, PRODUCE_REQ, PRODUCE_RESP)["responses"][0]["parts"]
    return parts


def dirs_left(data_dir, topic):
    prefix = topic + "-"
    return sum(1 for d in os.listdir(data_dir) if d.startswith(prefix))


def main():
    addr, data_dir = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
    a, b = Conn(addr, b"slices-a"), Conn(addr, b"slices-b")
    a.sock.settimeout(300)
    b.sock.settimeout(300)
    assert create(a, "other", 1) == 0
    assert produce(b, "other", [0], b"w")[0]["error"] == 0

    # Create.
    req = {"topics": [{"name": "big", "n": n, "rf": 1, "assign": [], "configs": []}],
           "timeout": 60000}
    corr = send(a, 19, 0, req, CT_REQ)
    time.sleep(0.002)
    t0 = time.monotonic()
    assert produce(b, "other", [0], b"w")[0]["error"] == 0
    b_ms = (time.monotonic() - t0) * 1000
    waiting = not select.select([a.sock], [], [], 0)[0]
    t0 = time.monotonic()
    assert receive(a, corr, CT_RESP, 0)["topics"][0]["error"] == 0
    a_ms = (time.monotonic() - t0) * 1000
    print("create: B answered in %.1f ms; A's answer came %.1f ms later; A still waiting then: %s"
          % (b_ms, a_ms, waiting))
    assert waiting, "B was answered only after the creation of %d partitions" % n
    meta = a.call(3, 1, False, {"topics": [{"name": "big"}]}, META_REQ, META_RESP)
    assert len(meta["topics"][0]["parts"]) == n, len(meta["topics"][0]["parts"])
    assert create(a, "big", 1) == 36  # TOPIC_ALREADY_EXISTS

    # Delete: every partition gets its directory first.
    for start in range(0, n, 1000):
        parts = produce(a, "big", range(start, min(n, start + 1000)), b"old")
        assert all(p["error"] == 0 and p["base"] == 0 for p in parts), parts[:3]
    assert dirs_left(data_dir, "big") == n
    corr = send(a, 20, 1, {"names": ["big"], "timeout": 60000}, DT_REQ)
    time.sleep(0.002)
    t0 = time.monotonic()
    assert produce(b, "other", [0], b"w")[0]["error"] == 0
    b_ms = (time.monotonic() - t0) * 1000
    left = dirs_left(data_dir, "big")
    assert receive(a, corr, DT_RESP, 1)["responses"][0]["error"] == 0
    print("delete: B answered in %.1f ms with %d of %d directories still in place" %
          (b_ms, left, n))
    assert left > 0, "B was answered only after all %d directories moved" % n

    # The name again, at once (its deletion may still be under way): nothing of the old topic
    # in a sample of partitions from both ends (the deletion works from the last one down).
    assert create(a, "big", n) == 0
    parts = produce(a, "big", sample(n), b"new")
    bad = [p for p in parts if p["error"] != 0 or p["base"] != 0]
    assert not bad, "%d partitions hold old records, e.g. %s" % (len(bad), bad[:3])


def sample(n):
    return sorted(set(list(range(0, n, 97)) + [1, n - 2, n - 1]))


if __name__ == "__main__":
    main()
