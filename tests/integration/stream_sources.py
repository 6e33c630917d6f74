"""Sources over a topic list and a pattern, for test_stream_sources.sh.
  stream_sources.py produce BROKER PHASE         phase 1: ev-a then ev-b, the same event times;
      phase 2: all three topics (ev-c created since the start), then far-ahead events in every
      partition of every topic
  stream_sources.py await BROKER REPARTITION IDS TIMEOUT   until the upstream tasks IDS
      (comma-separated "topic/partition") have sent a watermark marker (committed)
  stream_sources.py verify BROKER OUT LATE TOPICS TIMEOUT   every window of the events in TOPICS
      (comma-separated) exactly once with its offline count; nothing in LATE, nothing else."""
import collections
import json
import random
import sys
import time

BASE = 1_700_000_000_000
SIZE, DISORDER = 10000, 800
USERS = ["u%d" % i for i in range(12)]
PARTS = {"ev-a": 2, "ev-b": 3, "ev-c": 2}


def span(topic, seed, lo, hi, n):
    r = random.Random(seed)
    for i in range(n):
        ts = lo + (hi - lo) * i // n - r.randrange(DISORDER)
        yield topic, {"user": r.choice(USERS), "ts": max(ts, lo), "topic": topic}


def events(phase):
    if phase == 1:
        # ev-a's whole span first, then ev-b's: a watermark taken from ev-a alone would make
        # every ev-b event late.
        yield from span("ev-a", 1, BASE, BASE + 30000, 600)
        yield from span("ev-b", 2, BASE, BASE + 30000, 600)
    else:
        for t, seed in (("ev-a", 3), ("ev-b", 4), ("ev-c", 5)):
            yield from span(t, seed, BASE + 31000, BASE + 50000, 400)


def flushes():
    for t, n in PARTS.items():
        for p in range(n):
            yield t, p, {"user": "flush", "ts": BASE + 300000, "flush": True}


def reference(topics):
    counts = collections.Counter()
    for phase in (1, 2):
        for t, e in events(phase):
            if t in topics:
                counts[(e["user"], e["ts"] // SIZE * SIZE)] += 1
    return counts


def main():
    broker = sys.argv[2]
    if sys.argv[1] == "produce":
        from confluent_kafka import Producer
        phase = int(sys.argv[3])
        p = Producer({"bootstrap.servers": broker, "acks": "all", "linger.ms": 5})
        for i, (t, e) in enumerate(events(phase)):
            p.produce(t, json.dumps(e).encode(), key=("%d-%d" % (phase, i)).encode())
            p.poll(0)
        if phase == 2:
            p.flush(30)
            for t, part, e in flushes():
                p.produce(t, json.dumps(e).encode(), partition=part)
        assert p.flush(30) == 0
        return
    from confluent_kafka import Consumer
    if sys.argv[1] == "await":
        ids, deadline = set(sys.argv[4].split(",")), time.time() + float(sys.argv[5])
        c = Consumer({"bootstrap.servers": broker, "group.id": "await-%f" % time.time(),
                      "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                      "enable.auto.commit": False})
        c.subscribe([sys.argv[3]])
        while ids and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                ids.discard(dict(m.headers() or []).get("sluice.wm.task", b"").decode())
        c.close()
        sys.exit(1 if ids else 0)
    out, late_topic, topics = sys.argv[3], sys.argv[4], sys.argv[5].split(",")
    deadline = time.time() + float(sys.argv[6])
    want = reference(topics)
    c = Consumer({"bootstrap.servers": broker, "group.id": "verify-%f" % time.time(),
                  "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([out, late_topic])
    got, late = collections.defaultdict(list), 0

    def take(m):
        nonlocal late
        if m.topic() == late_topic:
            late += 1
        else:
            v = json.loads(m.value())
            got[(v["user"], v["start"])].append(v["count"])

    while time.time() < deadline and len(got) < len(want) and not late:
        m = c.poll(0.5)
        if m is not None and not m.error():
            take(m)
    time.sleep(1)  # anything after the expected total is a duplicate: read it too
    while True:
        m = c.poll(0.5)
        if m is None:
            break
        if not m.error():
            take(m)
    c.close()
    bad = [k for k in want if got.get(k) != [want[k]]]
    extra = [k for k in got if k not in want]
    for k in (bad + extra)[:10]:
        print("window %s: want %s, got %s" % (k, want.get(k), got.get(k)))
    print("%s: windows: %d expected, %d wrong, %d unexpected; late: %d" %
          (out, len(want), len(bad), len(extra), late))
    sys.exit(1 if bad or extra or late else 0)


main()
