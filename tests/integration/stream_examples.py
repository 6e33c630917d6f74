"""Sessions and the fraud rule end to end, for test_stream_sessions.sh and test_stream_fraud.sh.
  stream_examples.py produce BROKER TOPIC sessions|fraud RATE   the example's events, keyed by user
  stream_examples.py verify BROKER OUT sessions|fraud TIMEOUT   OUT (read_committed) holds exactly
      the results the same events give offline, each once."""
import collections
import json
import random
import sys
import time

BASE = 1_700_000_000_000
GAP = 3000       # sessionisation.so's GAP_MS in the test
WINDOW = 20000   # fraud.so's WINDOW_MS in the test
FACTOR, MIN_COUNT = 3.0, 3
USERS = ["u%02d" % i for i in range(20)]


def session_events():
    """Per user, bursts of events less than GAP apart, bursts at least 3 GAP apart, merged into
    one stream in time order with up to 500 ms of disorder (under the watermark delay)."""
    r = random.Random(11)
    evs = []
    for u in USERS:
        t = BASE + r.randrange(5000)
        for _ in range(r.randrange(3, 7)):
            for _ in range(r.randrange(1, 30)):
                evs.append((t, u))
                t += r.randrange(1, GAP)
            t += 3 * GAP + r.randrange(5000)
    evs.sort()
    out = [{"user": u, "ts": t - r.randrange(500), "page": "p%d" % r.randrange(9)} for t, u in evs]
    end = max(t for t, _ in evs)
    for u in USERS:  # far ahead: every real session closes (these open sessions never do)
        out.append({"user": u, "ts": end + 100000, "flush": True})
    return out


def fraud_events():
    r = random.Random(5)
    out = []
    for i in range(6000):
        u = r.choice(USERS)
        amount = r.randrange(500, 5000) / 100
        if r.random() < 0.02:
            amount *= r.choice([2, 5, 20])  # some spikes, some of them below the rule
        e = {"user": u, "ts": BASE + i * 10}
        if i % 3 == 0:  # the demo's shape: a decimal string inside "body"
            e["body"] = {"kind": "transaction", "amount": "%.2f" % amount}
        else:
            e["amount"] = round(amount, 2)
        if i % 50 == 0:
            e = {"user": u, "ts": BASE + i * 10, "body": {"kind": "chat"}}  # no amount: ignored
        out.append(e)
    end = BASE + 6000 * 10
    for u in USERS:
        out.append({"user": u, "ts": end + 100000, "flush": True})
    return out


def amount(e):
    if "amount" in e:
        return float(e["amount"])
    a = e.get("body", {}).get("amount")
    return None if a is None else float(a)


def reference(kind):
    if kind == "sessions":
        per = collections.defaultdict(list)
        for e in session_events():
            if not e.get("flush"):
                per[e["user"]].append(e["ts"])
        want = collections.Counter()
        for u, ts in per.items():
            ts.sort()
            start = prev = ts[0]
            n = 0
            for t in ts:
                if t - prev > GAP:
                    want[json.dumps([u, start, prev, n])] += 1
                    start, n = t, 0
                prev, n = t, n + 1
            want[json.dumps([u, start, prev, n])] += 1
        return want
    want, state = collections.Counter(), collections.defaultdict(lambda: [0, 0.0])
    for e in fraud_events():
        a = amount(e)
        if a is None or e.get("flush"):
            continue
        w = e["ts"] // WINDOW * WINDOW
        s = state[(e["user"], w)]
        if s[0] >= MIN_COUNT and a > FACTOR * (s[1] / s[0]):
            want[json.dumps([e["user"], e["ts"], "%.2f" % a, "%.2f" % (s[1] / s[0]), s[0], w])] += 1
        s[0] += 1
        s[1] += a
    return want


def key_of(kind, v):
    if kind == "sessions":
        return json.dumps([v["user"], v["start"], v["end"], v["count"]])
    return json.dumps([v["user"], v["ts"], "%.2f" % v["amount"], "%.2f" % v["average"],
                       v["count"], v["window"]])


def main():
    kind = sys.argv[4]
    if sys.argv[1] == "produce":
        from confluent_kafka import Producer
        broker, topic, rate = sys.argv[2], sys.argv[3], float(sys.argv[5])
        p = Producer({"bootstrap.servers": broker, "acks": "all", "linger.ms": 5})
        t0 = time.time()
        evs = session_events() if kind == "sessions" else fraud_events()
        for i, e in enumerate(evs):
            p.produce(topic, json.dumps(e).encode(), key=e["user"].encode())
            p.poll(0)
            if i % 50 == 0:
                time.sleep(max(0.0, t0 + i / rate - time.time()))
        assert p.flush(30) == 0
        return
    from confluent_kafka import Consumer
    broker, out, deadline = sys.argv[2], sys.argv[3], time.time() + float(sys.argv[5])
    want = reference(kind)
    c = Consumer({"bootstrap.servers": broker, "group.id": "verify-%f" % time.time(),
                  "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([out])
    got = collections.Counter()
    quiet_until = None
    while True:
        m = c.poll(0.5)
        now = time.time()
        if m is not None and not m.error() and m.value() is not None:
            got[key_of(kind, json.loads(m.value()))] += 1
        if sum(got.values()) >= sum(want.values()):
            # anything arriving after the expected total is a duplicate: wait a little for it
            quiet_until = quiet_until or now + 2
            if now > quiet_until:
                break
        elif now > deadline:
            break
    c.close()
    missing, extra = want - got, got - want
    for k in list(missing)[:5]:
        print("missing: %s" % k)
    for k in list(extra)[:5]:
        print("unexpected or duplicated: %s" % k)
    print("%s: %d expected, %d received, %d missing, %d unexpected or duplicated" %
          (kind, sum(want.values()), sum(got.values()), sum(missing.values()),
           sum(extra.values())))
    sys.exit(1 if missing or extra else 0)


main()
