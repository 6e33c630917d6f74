"""Streaming SQL end to end, for test_sql_stream.sh.
  sql_stream.py produce BROKER TOPIC RATE   disordered JSON events (some far too late)
  sql_stream.py verify BROKER TIMEOUT       every query's output equals the same events'
      offline reference, each row exactly once: a tumbling and a hopping GROUP BY, a SESSION
      GROUP BY, and a filter/projection (queries in sql_stream.sql)."""
import collections
import json
import random
import sys
import time

BASE = 1_700_000_000_000
N, STEP, DISORDER = 20000, 5, 1000
USERS = ["u%02d" % i for i in range(20)]
SUSERS = ["s%d" % i for i in range(4)]
CITIES = ["oslo", "lima", "pune", None]
BURST, ACTIVE = 20000, 4000  # session users are active 4 s out of every 20 s of event time


def events():
    r = random.Random(11)
    for i in range(N):
        ts = BASE + i * STEP - r.randrange(DISORDER)
        e = {"id": i, "qty": r.randrange(1, 10), "amount": round(r.uniform(0, 100), 2), "ts": ts}
        city = r.choice(CITIES)
        if city:
            e["geo"] = {"city": city}
        if (i * STEP) % BURST < ACTIVE and r.random() < 0.2:
            e.update(grp="s", user=r.choice(SUSERS), burst=(i * STEP) // BURST)
        else:
            e.update(grp="u", user=r.choice(USERS))
            if i > 16000 and i % 200 == 0:
                # Ten minutes behind: late whatever the watermark, which the test's kill -9 may
                # hold back by tens of seconds of event time on a loaded machine.
                e["ts"] = BASE + i * STEP - 600000
                e["late"] = True
        yield e
    for user in USERS + SUSERS:  # far ahead: moves every watermark past every window above
        yield {"id": -1, "user": user, "grp": "u" if user in USERS else "s", "qty": 0,
               "amount": 0, "ts": BASE + N * STEP + 100000, "flush": True}


def reference():
    tumble, hop, session, big = {}, collections.Counter(), {}, {}
    for e in events():
        if e.get("late") or e.get("flush"):
            continue
        if e["grp"] == "u":
            w = e["ts"] // 10000 * 10000
            t = tumble.setdefault((e["user"], w), [0, 0, 0.0])
            t[0] += 1
            t[1] += e["qty"]
            t[2] = max(t[2], e["amount"])
            for start in (e["ts"] // 5000 * 5000, e["ts"] // 5000 * 5000 - 5000):
                hop[(e["user"], start)] += 1
            if e["amount"] > 90:
                city = e.get("geo", {}).get("city")
                big[e["id"]] = {"id": e["id"], "user": e["user"],
                                "city": city.upper() if city else None,
                                "double_amount": round(e["amount"] * 2, 2),
                                "size": "bulk" if e["qty"] > 5 else "single"}
        else:
            s = session.setdefault((e["user"], e["burst"]), [None, None, 0])
            s[0] = e["ts"] if s[0] is None else min(s[0], e["ts"])
            s[1] = e["ts"] if s[1] is None else max(s[1], e["ts"])
            s[2] += 1
    want = {
        "sql-tumble": {(u, w): (c, q, m) for (u, w), (c, q, m) in tumble.items()},
        "sql-hop": {k: c for k, c in hop.items()},
        "sql-session": {(u, s): c for (u, _), (s, _, c) in session.items()},
        "sql-big": {i: tuple(sorted(v.items())) for i, v in big.items()},
    }
    return want


def row_key(topic, v):
    if topic == "sql-tumble":
        return (v["user"], v["window_start"]), (v["n"], v["total_qty"], v["max_amount"])
    if topic == "sql-hop":
        assert v["window_end"] - v["window_start"] == 10000
        return (v["user"], v["window_start"]), v["n"]
    if topic == "sql-session":
        return (v["user"], v["window_start"]), v["n"]
    v["double_amount"] = round(v["double_amount"], 2)
    return v["id"], tuple(sorted(v.items()))


def main():
    if sys.argv[1] == "produce":
        from confluent_kafka import Producer
        broker, topic, rate = sys.argv[2], sys.argv[3], float(sys.argv[4])
        p = Producer({"bootstrap.servers": broker, "acks": "all", "linger.ms": 5})
        t0 = time.time()
        for i, e in enumerate(events()):
            p.produce(topic, json.dumps(e).encode(), key=str(i).encode())
            p.poll(0)
            if i % 50 == 0:
                time.sleep(max(0.0, t0 + i / rate - time.time()))
        assert p.flush(30) == 0
        return
    from confluent_kafka import Consumer
    broker = sys.argv[2]
    deadline = time.time() + float(sys.argv[3])
    want = reference()
    c = Consumer({"bootstrap.servers": broker, "group.id": "verify-%f" % time.time(),
                  "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe(list(want))
    got = {t: collections.defaultdict(list) for t in want}

    def take(m):
        if m.value() is None:
            return  # a session merge's retraction
        k, v = row_key(m.topic(), json.loads(m.value()))
        got[m.topic()][k].append(v)

    while time.time() < deadline and any(len(got[t]) < len(want[t]) for t in want):
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
    wrong = 0
    for t in want:
        bad = [k for k in want[t] if got[t].get(k) != [want[t][k]]]
        extra = [k for k in got[t] if k not in want[t]]
        for k in (bad + extra)[:5]:
            print("%s %s: want %s, got %s" % (t, k, want[t].get(k), got[t].get(k)))
        print("%s: %d rows expected, %d wrong, %d unexpected" % (t, len(want[t]), len(bad),
                                                                 len(extra)))
        wrong += len(bad) + len(extra)
    sys.exit(1 if wrong else 0)


main()
