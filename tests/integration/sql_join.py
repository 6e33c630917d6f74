"""SQL joins end to end, for test_sql_join.sh (the queries are in sql_join.sql).
  sql_join.py produce BROKER RATE     profiles (updates, deletes), then events, impressions and
                                      clicks at RATE records/s, then records that close every window
  sql_join.py verify BROKER TIMEOUT   sj-enriched and sj-pairs under read_committed equal the
                                      offline reference exactly: every row once, nothing else."""
import collections
import json
import random
import sys
import time

BASE = 1_700_000_000_000
USERS = ["u%d" % i for i in range(30)]
N_EVENTS, N_CLICK, STEP, DISORDER, WITHIN = 1500, 2500, 3, 300, 200
ADS = ["ad%02d" % i for i in range(25)]


def profiles():
    """(uid, value or None) in topic order: u0..u23 get a profile, u0..u7 an update later,
    u20..u23 a delete; u24..u29 never have one."""
    out = [(u, {"uid": u, "name": "user %s" % u, "tier": 1}) for u in USERS[:24]]
    out += [(u, {"uid": u, "name": "gold %s" % u, "tier": 3}) for u in USERS[:8]]
    out += [(u, None) for u in USERS[20:24]]
    return out


def events():
    r = random.Random(7)
    for i in range(N_EVENTS):
        yield {"id": "e%d" % i, "user": r.choice(USERS), "amount": r.randrange(-50, 1000),
               "ts": BASE + i}


def clicks():
    """(topic, ad, id, ts): disordered by less than the streams' watermark delay."""
    r = random.Random(3)
    for i in range(N_CLICK):
        topic = "sj-imps" if r.random() < 0.5 else "sj-clicks"
        yield topic, r.choice(ADS), "%s%d" % (topic[3], i), BASE + i * STEP - r.randrange(DISORDER)


def enrich_reference():
    table = {}
    for u, v in profiles():
        if v is None:
            table.pop(u, None)
        else:
            table[u] = v
    want = collections.Counter()
    for e in events():
        p = table.get(e["user"])
        want[(e["id"], e["user"], p and p["name"], p and p["tier"], e["amount"] * 10)] += 1
    return want


def pairs_reference():
    recs = list(clicks())
    imps = collections.defaultdict(list)
    for t, ad, rid, ts in recs:
        if t == "sj-imps":
            imps[ad].append((rid, ts))
    want, matched = collections.Counter(), set()
    for t, ad, rid, ts in recs:
        if t == "sj-clicks":
            for iid, its in imps[ad]:
                if abs(its - ts) <= WITHIN:
                    want[(ad, iid, rid)] += 1
                    matched.update((iid, rid))
    for t, ad, rid, ts in recs:
        if rid not in matched:
            want[(ad, rid, None) if t == "sj-imps" else (ad, None, rid)] += 1
    return want


def produce(broker, rate):
    from confluent_kafka import Producer
    # The table's keys must be spread as the engine spreads the re-keyed events: murmur2.
    p = Producer({"bootstrap.servers": broker, "acks": "all", "enable.idempotence": True,
                  "partitioner": "murmur2_random", "linger.ms": 5})
    for i, (u, v) in enumerate(profiles()):  # older than every event: applied first
        p.produce("sj-users", None if v is None else json.dumps(v).encode(), key=u.encode(),
                  timestamp=BASE - 100000 + i)
    assert p.flush(30) == 0
    ev, ck = list(events()), list(clicks())
    t0 = time.time()
    for i in range(max(len(ev), len(ck))):
        if i < len(ev):
            p.produce("sj-events", json.dumps(ev[i]).encode(), key=ev[i]["id"].encode())
        if i < len(ck):
            topic, ad, rid, ts = ck[i]
            p.produce(topic, json.dumps({"id": rid, "ad": ad, "ts": ts}).encode(), key=rid.encode())
        p.poll(0)
        if i == len(ck) // 2:
            print("half", flush=True)  # the test crashes the processor from here on
        if i % 50 == 0:
            time.sleep(max(0.0, t0 + i / rate - time.time()))
    # Far-future records on many keys (so on every partition of both re-keyed sides) move every
    # join task's watermark past every window; they join each other and are not counted.
    far = BASE + N_CLICK * STEP + 100000
    for topic in ("sj-imps", "sj-clicks"):
        for k in range(24):
            p.produce(topic, json.dumps({"id": "flush", "ad": "flush%d" % k, "ts": far}).encode())
    assert p.flush(60) == 0


def verify(broker, timeout):
    from confluent_kafka import Consumer
    want_e, want_p = enrich_reference(), pairs_reference()
    got_e, got_p = collections.Counter(), collections.Counter()
    total = sum(want_e.values()) + sum(want_p.values())
    c = Consumer({"bootstrap.servers": broker, "group.id": "verify-%f" % time.time(),
                  "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe(["sj-enriched", "sj-pairs"])
    deadline, n = time.time() + timeout, 0

    def take(m):
        v = json.loads(m.value())
        if m.topic() == "sj-enriched":
            assert m.key().decode() == v["user"], "enriched rows are keyed by the join key"
            got_e[(v["id"], v["user"], v["name"], v["tier"], v["amt10"])] += 1
            return 1
        if v["ad"].startswith("flush"):
            return 0
        got_p[(v["ad"], v["imp"], v["click"])] += 1
        return 1
    while time.time() < deadline and n < total:
        m = c.poll(0.5)
        if m is not None and not m.error():
            n += take(m)
    time.sleep(1)  # anything past the expected total is a duplicate: read it too
    while True:
        m = c.poll(0.5)
        if m is None:
            break
        if not m.error():
            take(m)
    c.close()
    ok = True
    for name, want, got in (("enriched", want_e, got_e), ("pairs", want_p, got_p)):
        bad = [k for k in want if got.get(k) != want[k]]
        extra = [k for k in got if k not in want]
        for k in (bad + extra)[:8]:
            print("%s %s: want %d, got %d" % (name, k, want.get(k, 0), got.get(k, 0)))
        print("%s: %d expected, %d wrong, %d unexpected" % (name, len(want), len(bad), len(extra)))
        ok = ok and not bad and not extra
    nulls = sum(1 for k in want_e if k[2] is None)
    unmatched = sum(1 for k in want_p if k[1] is None or k[2] is None)
    print("(%d events without a profile, %d unmatched impressions or clicks)" % (nulls, unmatched))
    sys.exit(0 if ok else 1)


if sys.argv[1] == "produce":
    produce(sys.argv[2], float(sys.argv[3]))
else:
    verify(sys.argv[2], float(sys.argv[3]))
