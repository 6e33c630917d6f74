"""Measurements of a running stream pipeline, for bench/run-stream-bench and bench/run-stream-crash.
  stream_probe.py latency BROKER OUT STOPFILE WARMUP_S
      reads OUT (read_committed) until STOPFILE exists and 3 s pass without records; for each
      record after the first WARMUP_S seconds: receive time minus the sluice.ts.in header (the
      input record's timestamp: the Nexmark event's dateTime, its intended send time when the
      generator is paced). Prints "n=... p50_ms=... p99_ms=... max_ms=...".
  stream_probe.py crash BROKER IN OUT STOPFILE KILLFILE
      the same reading; KILLFILE holds the epoch ms of the kill -9. Then compares OUT with IN's
      bids (q0 passes each bid unchanged): lost and duplicated records, and how long after the
      kill the first record processed by the restarted instance (sluice.ts.recv later than the
      kill) became visible. Prints "n=... lost=... duplicated=... resume_ms=...". """
import collections
import os
import sys
import time

from confluent_kafka import Consumer, TopicPartition


def hdr(m, name):
    for k, v in m.headers() or []:
        if k == name:
            return int(v)
    return None


def follow(broker, topic, stopfile):
    c = Consumer({"bootstrap.servers": broker, "group.id": "probe-%f" % time.time(),
                  "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    c.subscribe([topic])
    out, last = [], time.time()
    while True:
        ms = c.consume(1000, 0.2)
        now = time.time()
        for m in ms:
            if not m.error():
                out.append((now * 1000.0, m))
        if ms:
            last = now
        if os.path.exists(stopfile) and now - last > 3:
            break
    c.close()
    return out


def read_all(broker, topic):
    c = Consumer({"bootstrap.servers": broker, "group.id": "probe-%f" % time.time(),
                  "enable.auto.commit": False, "enable.partition.eof": True})
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    left, out = set(parts), []
    while left:
        for m in c.consume(1000, 1.0):
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    left.discard(m.partition())
            else:
                out.append(m.value())
    c.close()
    return out


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def main():
    mode, broker = sys.argv[1], sys.argv[2]
    if mode == "latency":
        out, stop, warmup = sys.argv[3], sys.argv[4], float(sys.argv[5])
        recs = follow(broker, out, stop)
        t0 = recs[0][0] if recs else 0
        lat = sorted(t - hdr(m, "sluice.ts.in") for t, m in recs if t - t0 >= warmup * 1000)
        print("n=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f" %
              (len(lat), pct(lat, 0.5), pct(lat, 0.99), lat[-1] if lat else float("nan")))
        return
    inp, out, stop, killfile = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
    recs = follow(broker, out, stop)
    kill_ms = int(open(killfile).read().split()[0])
    after = [t for t, m in recs if (hdr(m, "sluice.ts.recv") or 0) > kill_ms]
    resume = min(after) - kill_ms if after else float("nan")
    want = collections.Counter(v for v in read_all(broker, inp) if v.startswith(b'{"event_type":2'))
    got = collections.Counter(m.value() for _, m in recs)
    lost, dup = want - got, got - want
    print("n=%d expected=%d lost=%d duplicated=%d resume_ms=%.0f" %
          (len(recs), sum(want.values()), sum(lost.values()), sum(dup.values()), resume))


main()
