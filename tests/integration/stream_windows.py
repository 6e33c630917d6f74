"""Event-time windows end to end, for test_stream_windows.sh.
  stream_windows.py produce BROKER TOPIC RATE       disordered JSON events, some far too late
  stream_windows.py verify BROKER OUT LATE TIMEOUT  every window exactly once with the count the
      same events give offline; every too-late event in LATE exactly once; nothing else."""
import collections
import json
import random
import sys
import time

BASE = 1_700_000_000_000
N, STEP, DISORDER, SIZE = 20000, 5, 1000, 10000
USERS = ["u%02d" % i for i in range(30)]


def events():
    r = random.Random(7)
    for i in range(N):
        user = r.choice(USERS)
        if i > 16000 and i % 200 == 0:
            # Ten minutes behind: late whatever the watermark, which a crash may hold back by
            # tens of seconds of event time (a dead instance's tasks wait for its session
            # timeout while the others' upstream tasks run ahead).
            yield {"user": user, "ts": BASE + i * STEP - 600000, "late": True}
        else:
            yield {"user": user, "ts": BASE + i * STEP - r.randrange(DISORDER)}
    for user in USERS:  # far ahead: moves every task's watermark past every window above
        yield {"user": user, "ts": BASE + N * STEP + 100000, "flush": True}


def reference():
    counts, late = collections.Counter(), 0
    for e in events():
        if e.get("late"):
            late += 1
        elif not e.get("flush"):
            counts[(e["user"], e["ts"] // SIZE * SIZE)] += 1
    return counts, late


def main():
    if sys.argv[1] == "produce":
        from confluent_kafka import Producer
        broker, topic, rate = sys.argv[2], sys.argv[3], float(sys.argv[4])
        p = Producer({"bootstrap.servers": broker, "acks": "all", "linger.ms": 5,
                      "enable.idempotence": True})  # survives the test's broker crash
        t0 = time.time()
        for i, e in enumerate(events()):
            p.produce(topic, json.dumps(e).encode(), key=str(i).encode())
            p.poll(0)
            if i % 50 == 0:
                time.sleep(max(0.0, t0 + i / rate - time.time()))
        assert p.flush(30) == 0
        return
    from confluent_kafka import Consumer
    broker, out, late_topic = sys.argv[2], sys.argv[3], sys.argv[4]
    deadline = time.time() + float(sys.argv[5])
    want, want_late = reference()
    c = Consumer({"bootstrap.servers": broker, "group.id": "verify-%f" % time.time(),
                  "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([out, late_topic])
    got, late = collections.defaultdict(list), 0
    while time.time() < deadline and (len(got) < len(want) or late < want_late):
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        if m.topic() == late_topic:
            late += 1
            continue
        v = json.loads(m.value())
        got[(v["user"], v["start"])].append(v["count"])
    time.sleep(1)  # anything arriving after the expected total is a duplicate: read it too
    while True:
        m = c.poll(0.5)
        if m is None:
            break
        if not m.error():
            if m.topic() == late_topic:
                late += 1
            else:
                v = json.loads(m.value())
                got[(v["user"], v["start"])].append(v["count"])
    c.close()
    bad = [k for k in want if got.get(k) != [want[k]]]
    extra = [k for k in got if k not in want]
    for k in (bad + extra)[:10]:
        print("window %s: want %s, got %s" % (k, want.get(k), got.get(k)))
    print("windows: %d expected, %d wrong, %d unexpected; late: %d expected, %d seen" %
          (len(want), len(bad), len(extra), want_late, late))
    sys.exit(1 if bad or extra or late != want_late else 0)


main()
