"""Joins end to end, for test_stream_join.sh.
  stream_join.py enrich-produce BROKER EVENTS PROFILES [keyed]
      profiles (updates, deletes), then events; keyed: events first, keyed by user, partitioned
      as the profiles (their times still say the profiles come first)
  stream_join.py enrich-verify BROKER OUT TIMEOUT       every event enriched once, as offline
  stream_join.py click-produce BROKER RATE              disordered impressions and clicks
  stream_join.py click-verify BROKER OUT LATE TIMEOUT   every pair and every unmatched record
      exactly once under read_committed, as the offline reference; nothing late, nothing else.
  stream_join.py rekey-produce BROKER IMPS CLICKS PHASE  the same records keyed by their id, the ad
      in a field, in 4 partitions: phase 1 partitions 0 and 1 (their whole time span), phase 2
      partitions 2 and 3, then far-ahead records in every partition"""
import collections
import json
import random
import sys
import time

BASE = 1_700_000_000_000
HEADER = b"SLB1" + bytes(20)  # sluice bench's 24-byte header before the JSON, as in `make run`

# ---- enrichment (stream-table left join) ----
USERS = ["u%d" % i for i in range(50)]
N_EVENTS = 3000


def profiles():
    """(user, value or None) in topic order: users u0..u39 get a profile, u0..u9 an update
    later, u30..u34 a delete; u40..u49 never have one."""
    out = [(u, {"name": "user %s" % u, "tier": "free"}) for u in USERS[:40]]
    out += [(u, {"name": "user %s" % u, "tier": "gold"}) for u in USERS[:10]]
    out += [(u, None) for u in USERS[30:35]]
    return out


def events():
    r = random.Random(11)
    for i in range(N_EVENTS):
        yield {"ts": BASE + i, "id": "e%d" % i, "user": r.choice(USERS), "meta": "x"}


def enrich_reference():
    table = {}
    for u, v in profiles():
        if v is None:
            table.pop(u, None)
        else:
            table[u] = v
    return {e["id"]: (e["user"], table.get(e["user"])) for e in events()}


# ---- impressions and clicks (windowed outer join) ----
N_CLICK, STEP, DISORDER, WITHIN = 12000, 2, 400, 200
ADS = ["ad%02d" % i for i in range(40)]


def click_records():
    """(topic, ad, id, ts)."""
    r = random.Random(5)
    for i in range(N_CLICK):
        topic = "impressions" if r.random() < 0.5 else "clicks"
        yield topic, r.choice(ADS), "%s%d" % (topic[0], i), BASE + i * STEP - r.randrange(DISORDER)


def click_reference():
    recs = list(click_records())
    imps = collections.defaultdict(list)
    for t, ad, rid, ts in recs:
        if t == "impressions":
            imps[ad].append((rid, ts))
    want, matched = collections.Counter(), set()
    for t, ad, rid, ts in recs:
        if t != "clicks":
            continue
        for iid, its in imps[ad]:
            if abs(its - ts) <= WITHIN:
                want[(ad, iid, rid)] += 1
                matched.add(iid)
                matched.add(rid)
    for t, ad, rid, ts in recs:
        if rid not in matched:
            want[(ad, rid, None) if t == "impressions" else (ad, None, rid)] += 1
    return want


def consume_all(broker, topics, want_total, timeout, on_value):
    from confluent_kafka import Consumer
    deadline = time.time() + timeout
    c = Consumer({"bootstrap.servers": broker, "group.id": "verify-%f" % time.time(),
                  "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe(topics)
    n = 0
    while time.time() < deadline and n < want_total:
        m = c.poll(0.5)
        if m is not None and not m.error():
            n += on_value(m)
    time.sleep(1)  # anything after the expected total is a duplicate: read it too
    while True:
        m = c.poll(0.5)
        if m is None:
            break
        if not m.error():
            on_value(m)
    c.close()


def main():
    cmd = sys.argv[1]
    if cmd == "enrich-produce":
        from confluent_kafka import Producer
        broker, ev_topic, prof_topic = sys.argv[2], sys.argv[3], sys.argv[4]
        keyed = len(sys.argv) > 5 and sys.argv[5] == "keyed"
        # The table's keys must be spread as the engine spreads the repartitioned events: murmur2
        # (the Java client's default), not librdkafka's default CRC32.
        p = Producer({"bootstrap.servers": broker, "acks": "all", "enable.idempotence": True,
                      "partitioner": "murmur2_random"})
        # Profiles are older in event time than every event, so a task that runs its inputs in
        # time order applies them all first, whichever input it fetches first.
        def put_profiles():
            for i, (u, v) in enumerate(profiles()):
                p.produce(prof_topic, None if v is None else json.dumps(v).encode(),
                          key=u.encode(), timestamp=BASE - 100000 + i)
            assert p.flush(30) == 0
        if not keyed:
            put_profiles()
        for e in events():
            key = e["user"].encode() if keyed else b"k" + e["user"].encode()
            p.produce(ev_topic, HEADER + json.dumps(e).encode(), key=key)
            p.poll(0)
        assert p.flush(30) == 0
        if keyed:
            put_profiles()
        return
    if cmd == "enrich-verify":
        broker, out, timeout = sys.argv[2], sys.argv[3], float(sys.argv[4])
        want = enrich_reference()
        got = collections.defaultdict(list)

        def take(m):
            v = json.loads(m.value())
            got[v["id"]].append((v["user"], v["profile"]))
            assert m.key().decode() == v["user"], "output keyed by user"
            return 1
        consume_all(broker, [out], len(want), timeout, take)
        bad = [k for k in want if got.get(k) != [want[k]]]
        extra = [k for k in got if k not in want]
        for k in (bad + extra)[:10]:
            print("event %s: want %s, got %s" % (k, want.get(k), got.get(k)))
        nulls = sum(1 for v in want.values() if v[1] is None)
        print("events: %d expected (%d without a profile), %d wrong, %d unexpected" %
              (len(want), nulls, len(bad), len(extra)))
        sys.exit(1 if bad or extra else 0)
    if cmd == "click-produce":
        from confluent_kafka import Producer
        broker, rate = sys.argv[2], float(sys.argv[3])
        # Idempotent: a broker restart mid-stream must not duplicate an input record.
        p = Producer({"bootstrap.servers": broker, "acks": "all", "enable.idempotence": True,
                      "linger.ms": 5})
        t0 = time.time()
        for i, (topic, ad, rid, ts) in enumerate(click_records()):
            p.produce(topic, json.dumps({"id": rid, "ts": ts}).encode(), key=ad.encode())
            p.poll(0)
            if i % 50 == 0:
                time.sleep(max(0.0, t0 + i / rate - time.time()))
        far = BASE + N_CLICK * STEP + 100000  # moves every task's watermark past every window
        for topic in ("impressions", "clicks"):
            for part in range(3):
                p.produce(topic, json.dumps({"id": "flush", "ts": far}).encode(), key=b"flush",
                          partition=part)
        assert p.flush(60) == 0
        return
    if cmd == "rekey-produce":
        from confluent_kafka import Producer
        broker, topics, phase = sys.argv[2], sys.argv[3:5], int(sys.argv[5])
        p = Producer({"bootstrap.servers": broker, "acks": "all", "linger.ms": 5})
        names = {"impressions": topics[0], "clicks": topics[1]}
        for i, (topic, ad, rid, ts) in enumerate(click_records()):
            if (i % 4 < 2) == (phase == 1):
                p.produce(names[topic], json.dumps({"id": rid, "ts": ts, "ad": ad}).encode(),
                          key=rid.encode(), partition=i % 4)
                p.poll(0)
        if phase == 2:
            far = BASE + N_CLICK * STEP + 100000
            for t in topics:
                for part in range(4):
                    p.produce(t, json.dumps({"id": "flush", "ts": far, "ad": "flush"}).encode(),
                              partition=part)
        assert p.flush(60) == 0
        return
    if cmd == "click-verify":
        broker, out, late_topic, timeout = sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
        want = click_reference()
        got, late = collections.Counter(), [0]

        def take(m):
            if m.topic() == late_topic:
                late[0] += 1
                return 0
            v = json.loads(m.value())
            if v["ad"] == "flush":
                return 0
            got[(v["ad"], v["impression"], v["click"])] += 1
            return 1
        consume_all(broker, [out, late_topic], sum(want.values()), timeout, take)
        bad = [k for k in want if got.get(k) != want[k]]
        extra = [k for k in got if k not in want]
        for k in (bad + extra)[:10]:
            print("result %s: want %s, got %s" % (k, want.get(k, 0), got.get(k, 0)))
        pairs = sum(1 for k in want if k[1] and k[2])
        print("results: %d expected (%d pairs, %d unmatched), %d wrong, %d unexpected, %d late" %
              (len(want), pairs, len(want) - pairs, len(bad), len(extra), late[0]))
        sys.exit(1 if bad or extra or late[0] else 0)


main()
