"""An idle input partition, for test_stream_idle.sh.
  stream_idle.py produce BROKER TOPIC   30 s of event time for 5 users, all into partition 0
  stream_idle.py verify BROKER OUT TIMEOUT
      the two 10 s windows the watermark of partition 0 closes arrive, each user's count exact,
      and nothing else (the third window stays open: its end is past the watermark)."""
import collections
import json
import sys
import time

BASE, N, STEP = 1_700_000_000_000, 3000, 10
USERS = ["u%d" % i for i in range(5)]


def events():
    return [{"user": USERS[i % len(USERS)], "ts": BASE + i * STEP} for i in range(N)]


def main():
    if sys.argv[1] == "produce":
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": sys.argv[2], "acks": "all", "linger.ms": 5})
        for i, e in enumerate(events()):
            p.produce(sys.argv[3], json.dumps(e).encode(), key=str(i).encode(), partition=0)
            p.poll(0)
        assert p.flush(30) == 0
        return
    from confluent_kafka import Consumer
    broker, out, deadline = sys.argv[2], sys.argv[3], time.time() + float(sys.argv[4])
    want = collections.Counter()
    for e in events():
        start = e["ts"] // 10000 * 10000
        if start + 10000 + 1000 <= BASE + (N - 1) * STEP - 2000:  # end + grace <= watermark
            want[(e["user"], start)] += 1
    c = Consumer({"bootstrap.servers": broker, "group.id": "idle-verify",
                  "isolation.level": "read_committed", "auto.offset.reset": "earliest"})
    c.subscribe([out])
    got = collections.defaultdict(list)
    while time.time() < deadline and len(got) < len(want):
        m = c.poll(0.5)
        if m is not None and not m.error():
            v = json.loads(m.value())
            got[(v["user"], v["start"])].append(v["count"])
    time.sleep(2)  # anything more is wrong: read it too
    while True:
        m = c.poll(0.5)
        if m is None:
            break
        if not m.error():
            v = json.loads(m.value())
            got[(v["user"], v["start"])].append(v["count"])
    c.close()
    bad = {k: got.get(k) for k in want if got.get(k) != [want[k]]}
    extra = [k for k in got if k not in want]
    print("windows: %d expected, %d wrong, %d unexpected" % (len(want), len(bad), len(extra)))
    for k in list(bad)[:5] + extra[:5]:
        print("  %s: want %s, got %s" % (k, want.get(k), got.get(k)))
    sys.exit(1 if bad or extra else 0)


main()
