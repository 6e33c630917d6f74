"""First writes into thousands of fresh partitions do not hold other clients (issue 14).

Connection A creates a topic of N partitions and pipelines two Produce requests (acks=1, one
record into every partition, a then b) without reading; 5 ms later connection B produces one
record to an already written topic. B must be answered while A's first request still waits for
its partitions' files (made off the event loop): before, the loop created 4N files inline
before it read B. Then A's two answers: every partition OK, the first request's record at offset
0 and the second's at 1 (a connection's requests stay in order). Usage: HOST:PORT [N]"""
import os
import select
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
from kschema import Conn, Reader, dec, enc  # noqa: E402
from admin_stall import PRODUCE_REQ, PRODUCE_RESP, batch, create  # noqa: E402


def send(conn, key, ver, req, schema):
    conn.corr += 1
    hdr = struct.pack(">hhih", key, ver, conn.corr, len(conn.client_id)) + conn.client_id
    frame = hdr + enc(schema, req, ver, False)
    conn.sock.sendall(struct.pack(">i", len(frame)) + frame)
    return conn.corr


def receive(conn, corr, schema, ver):
    r = Reader(conn.recv(struct.unpack(">i", conn.recv(4))[0]))
    got = struct.unpack(">i", r.take(4))[0]
    assert got == corr, "response %d where %d was expected" % (got, corr)
    return dec(schema, r, ver, False)


def main():
    addr = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
    a, b = Conn(addr, b"fresh-a"), Conn(addr, b"fresh-b")
    a.sock.settimeout(300)  # a loaded disk creates a partition's files in up to 15 ms
    assert create(a, "warm", 1) == 0
    warm = {"acks": 1, "timeout": 5000,
            "topics": [{"name": "warm", "parts": [{"index": 0, "records": batch(b"w")}]}]}
    assert b.call(0, 7, False, warm, PRODUCE_REQ, PRODUCE_RESP)["responses"][0]["parts"][0][
        "error"] == 0
    assert create(a, "fresh", n) == 0
    reqs = [{"acks": 1, "timeout": 30000, "topics": [{"name": "fresh", "parts": [
        {"index": i, "records": batch(v)} for i in range(n)]}]} for v in (b"a", b"b")]
    corrs = [send(a, 0, 7, r, PRODUCE_REQ) for r in reqs]
    time.sleep(0.005)
    t0 = time.monotonic()
    r = b.call(0, 7, False, warm, PRODUCE_REQ, PRODUCE_RESP)
    b_ms = (time.monotonic() - t0) * 1000
    assert r["responses"][0]["parts"][0]["error"] == 0, r
    waiting = not select.select([a.sock], [], [], 0)[0]
    t0 = time.monotonic()
    for k, corr in enumerate(corrs):
        resp = receive(a, corr, PRODUCE_RESP, 7)
        parts = resp["responses"][0]["parts"]
        assert len(parts) == n, len(parts)
        bad = [p for p in parts if p["error"] != 0 or p["base"] != k]
        assert not bad, "request %d: %d partitions wrong, e.g. %s" % (k, len(bad), bad[:3])
    a_ms = (time.monotonic() - t0) * 1000
    print("B answered in %.1f ms; A's answers came %.1f ms later; A still waiting then: %s" %
          (b_ms, a_ms, waiting))
    assert waiting, "B was answered only after A's request into %d fresh partitions" % n


if __name__ == "__main__":
    main()
