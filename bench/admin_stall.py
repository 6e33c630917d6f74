"""What topic administration costs an unrelated producer: one process produces single-record
batches (acks=1) to topic stall-probe back to back and times every request, while another
creates a topic of N partitions, writes one record to each (so every partition has files), and
deletes it. Prints, per phase, the probe's request count and its p50/p99/max latency, and the
admin requests' wall times. Usage: admin_stall.py HOST:PORT [N]"""
import multiprocessing as mp
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from kschema import INF, Conn, crc32c, uvarint  # noqa: E402

CT_REQ = [("topics", [("name", "str", 0, INF), ("n", "i32", 0, INF), ("rf", "i16", 0, INF),
                      ("assign", [("i", "i32", 0, INF)], 0, INF),
                      ("configs", [("k", "str", 0, INF)], 0, INF)], 0, INF),
          ("timeout", "i32", 0, INF)]
CT_RESP = [("topics", [("name", "str", 0, INF), ("error", "i16", 0, INF)], 0, INF)]
DT_REQ = [("names", "strlist", 0, INF), ("timeout", "i32", 0, INF)]
DT_RESP = [("throttle", "i32", 1, INF),
           ("responses", [("name", "str", 0, INF), ("error", "i16", 0, INF)], 0, INF)]
PRODUCE_REQ = [("txn", "nstr", 3, INF), ("acks", "i16", 0, INF), ("timeout", "i32", 0, INF),
               ("topics", [("name", "str", 0, INF),
                           ("parts", [("index", "i32", 0, INF), ("records", "bytes", 0, INF)],
                            0, INF)], 0, INF)]
PRODUCE_RESP = [("responses", [("name", "str", 0, INF),
                               ("parts", [("index", "i32", 0, INF), ("error", "i16", 0, INF),
                                          ("base", "i64", 0, INF), ("append_time", "i64", 2, INF),
                                          ("start", "i64", 5, INF)], 0, INF)], 0, INF),
                ("throttle", "i32", 1, INF)]


def zz(n):
    return uvarint((n << 1) ^ (n >> 63))


def batch(value):
    body = b"\x00" + zz(0) + zz(0) + zz(-1) + zz(len(value)) + value + zz(0)
    now = int(time.time() * 1000)
    after = struct.pack(">hiqqqhii", 0, 0, now, now, -1, -1, -1, 1) + zz(len(body)) + body
    b = struct.pack(">ibI", -1, 2, crc32c(after)) + after
    return struct.pack(">qi", 0, len(b)) + b


def create(conn, name, n):
    req = {"topics": [{"name": name, "n": n, "rf": 1, "assign": [], "configs": []}],
           "timeout": 60000}
    return conn.call(19, 0, False, req, CT_REQ, CT_RESP)["topics"][0]["error"]


def probe(addr, stop, out):
    conn = Conn(addr, b"stall-probe")
    rec = batch(b"x" * 100)
    req = {"acks": 1, "timeout": 5000,
           "topics": [{"name": "stall-probe", "parts": [{"index": 0, "records": rec}]}]}
    samples = []
    while not stop.is_set():
        t0 = time.monotonic()
        r = conn.call(0, 7, False, req, PRODUCE_REQ, PRODUCE_RESP)
        t1 = time.monotonic()
        assert r["responses"][0]["parts"][0]["error"] == 0, r
        samples.append((t0, (t1 - t0) * 1000))
        time.sleep(0.001)
    out.put(samples)


def stats(samples, lo, hi):
    lat = sorted(ms for t, ms in samples if lo <= t < hi)
    if not lat:
        return "no samples"
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    return "n=%d p50=%.2f ms p99=%.2f ms max=%.2f ms" % (len(lat), pick(0.5), pick(0.99), lat[-1])


def main():
    addr = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    admin = Conn(addr, b"stall-admin")
    assert create(admin, "stall-probe", 1) in (0, 36)
    stop, out = mp.Event(), mp.Queue()
    p = mp.Process(target=probe, args=(addr, stop, out))
    p.start()
    time.sleep(0.5)  # the probe connects and writes its first record (its files are created)
    marks = [("idle", time.monotonic())]
    time.sleep(2)
    t0 = time.monotonic()
    assert create(admin, "stall-big", n) == 0
    t_create = time.monotonic() - t0
    marks.append(("create", t0))
    marks.append(("between", time.monotonic()))
    time.sleep(1)
    rec = batch(b"y")
    t0 = time.monotonic()
    for start in range(0, n, 1000):
        req = {"acks": 1, "timeout": 30000, "topics": [{"name": "stall-big", "parts": [
            {"index": i, "records": rec} for i in range(start, min(n, start + 1000))]}]}
        admin.call(0, 7, False, req, PRODUCE_REQ, PRODUCE_RESP)
    t_fill = time.monotonic() - t0
    marks.append(("fill", t0))
    marks.append(("between2", time.monotonic()))
    time.sleep(1)
    t0 = time.monotonic()
    r = admin.call(20, 1, False, {"names": ["stall-big"], "timeout": 60000}, DT_REQ, DT_RESP)
    assert r["responses"][0]["error"] == 0, r
    t_delete = time.monotonic() - t0
    marks.append(("delete", t0))
    marks.append(("after", time.monotonic()))
    time.sleep(2)
    marks.append(("end", time.monotonic()))
    stop.set()
    samples = out.get()
    p.join()
    print("partitions: %d; create %.3f s, one record into each %.3f s, delete %.3f s" %
          (n, t_create, t_fill, t_delete))
    for (name, lo), (_, hi) in zip(marks, marks[1:]):
        if name in ("idle", "create", "fill", "delete", "after"):
            # a phase's window runs to the next mark; a short admin phase gets at least 100 ms
            print("  probe during %-7s %s" % (name, stats(samples, lo, max(hi, lo + 0.1))))


if __name__ == "__main__":
    main()
