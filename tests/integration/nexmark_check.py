"""Nexmark queries (examples/nexmark.so) against an offline reference, for test_stream_nexmark.sh.
  nexmark_check.py flush BROKER TOPIC
      one bid per partition, 60 s of event time past the last event, so every window over the
      real events closes (q0-q2 pass them on; no q5/q7 window holding them closes)
  nexmark_check.py verify BROKER INPUT QUERY OUTPUT TIMEOUT
      reads INPUT (what `sluice bench --nexmark` wrote), computes QUERY's output offline and
      compares it with OUTPUT read under read_committed: the same records, each exactly once."""
import collections
import json
import math
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition

FLUSH_AUCTION = 0
HOT_MAX = 4


def read_all(broker, topic, committed):
    c = Consumer({"bootstrap.servers": broker, "group.id": "nxcheck-%f" % time.time(),
                  "isolation.level": "read_committed" if committed else "read_uncommitted",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    left, out = set(parts), []
    while left:
        m = c.poll(2.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                left.discard(m.partition())
            continue
        out.append(m)
    c.close()
    return out, len(parts)


def expected(events, query):
    bids = [e for e in events if e["event_type"] == 2]
    if query in ("q5", "q7"):  # no window holding a flush bid closes
        bids = [b for b in bids if b["auction"] != FLUSH_AUCTION]
    if query == "q0":
        return collections.Counter(json.dumps(b, sort_keys=True) for b in bids)
    if query == "q1":
        return collections.Counter(json.dumps(
            {"auction": b["auction"], "bidder": b["bidder"],
             "price": int(math.floor(b["price"] * 0.908 + 0.5)), "dateTime": b["dateTime"],
             "extra": b["extra"]}, sort_keys=True) for b in bids)
    if query == "q2":
        return collections.Counter(json.dumps({"auction": b["auction"], "price": b["price"]},
                                              sort_keys=True)
                                   for b in bids if b["auction"] % 123 == 0)
    if query == "q3":
        people = {p["id"]: p for p in events
                  if p["event_type"] == 0 and p["state"] in ("OR", "ID", "CA")}
        return collections.Counter(json.dumps(
            {"name": people[a["seller"]]["name"], "city": people[a["seller"]]["city"],
             "state": people[a["seller"]]["state"], "id": a["id"]}, sort_keys=True)
            for a in events if a["event_type"] == 1 and a["category"] == 10 and a["seller"] in people)
    if query == "q5":
        counts = collections.Counter()
        for b in bids:
            t = b["dateTime"]
            s = t // 2000 * 2000
            while s > t - 10000:
                counts[(s, b["auction"])] += 1
                s -= 2000
        per = collections.defaultdict(dict)
        for (s, a), n in counts.items():
            per[s][a] = n
        return {s: (max(d.values()), {a for a, n in d.items() if n == max(d.values())})
                for s, d in per.items()}
    if query == "q7":
        per = collections.defaultdict(list)
        for b in bids:
            per[b["dateTime"] // 10000 * 10000].append(b)
        res = {}
        for s, bs in per.items():
            top = max(b["price"] for b in bs)
            res[s] = (top, {(b["auction"], b["bidder"], b["dateTime"]) for b in bs
                            if b["price"] == top})
        return res
    raise SystemExit("unknown query " + query)


def compare_windows(want, got, query):
    """want: start -> (value, set of ids); got: start -> list of (value, id)."""
    bad = 0
    for s in sorted(set(want) | set(got)):
        w, g = want.get(s), got.get(s, [])
        ids = [i for _, i in g]
        ok = (w is not None and all(v == w[0] for v, _ in g) and len(ids) == len(set(ids)) and
              set(ids) <= w[1] and len(ids) == min(len(w[1]), HOT_MAX))
        if not ok:
            bad += 1
            if bad <= 5:
                print("%s window %s: want %s, got %s" % (query, s, w, g))
    print("%s: %d windows expected, %d got, %d wrong" % (query, len(want), len(got), bad))
    return bad == 0


def main():
    broker = sys.argv[2]
    if sys.argv[1] == "flush":
        topic = sys.argv[3]
        events, nparts = read_all(broker, topic, False)
        last = max(json.loads(m.value())["dateTime"] for m in events)
        p = Producer({"bootstrap.servers": broker, "acks": "all"})
        for part in range(nparts):
            t = last + 60000
            v = {"event_type": 2, "auction": FLUSH_AUCTION, "bidder": 0, "price": 1,
                 "channel": "flush", "url": "", "dateTime": t, "extra": ""}
            p.produce(topic, json.dumps(v, separators=(",", ":")).encode(), key=b"0",
                      partition=part, timestamp=t)
        assert p.flush(30) == 0
        return
    topic, query, out, timeout = sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6])
    events = [json.loads(m.value()) for m in read_all(broker, topic, False)[0]]
    want = expected(events, query)
    n_want = sum(want.values()) if query in ("q0", "q1", "q2", "q3") else \
        sum(min(len(ids), HOT_MAX) for _, ids in want.values())
    deadline = time.time() + timeout
    got = []
    while True:
        got = [json.loads(m.value()) for m in read_all(broker, out, True)[0]]
        if len(got) >= n_want or time.time() > deadline:
            break
        time.sleep(1)
    time.sleep(1)  # anything past the expected total is a duplicate: read it too
    got = [json.loads(m.value()) for m in read_all(broker, out, True)[0]]
    if query in ("q0", "q1", "q2", "q3"):
        g = collections.Counter(json.dumps(v, sort_keys=True) for v in got)
        missing, extra = want - g, g - want
        print("%s: %d records expected, %d got, %d missing, %d unexpected or duplicated" %
              (query, sum(want.values()), len(got), sum(missing.values()), sum(extra.values())))
        for k in list(missing)[:3] + list(extra)[:3]:
            print("  differs: %s" % k)
        sys.exit(1 if missing or extra else 0)
    per = collections.defaultdict(list)
    for v in got:
        if query == "q5":
            per[v["start"]].append((v["count"], v["auction"]))
        else:
            per[v["start"]].append((v["price"], (v["auction"], v["bidder"], v["dateTime"])))
    sys.exit(0 if compare_windows(want, per, query) else 1)


main()
