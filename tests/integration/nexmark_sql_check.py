"""Nexmark in SQL (bench/nexmark/*.sql) against SQLite, for test_sql_nexmark.sh.
  nexmark_sql_check.py flush BROKER TOPIC SECONDS
      one bid of auction 0 per partition, SECONDS of event time past the last real event, so
      every window over the real events closes (the flush bids pass q0-q2; the windows holding
      them are left out of the comparison)
  nexmark_sql_check.py verify BROKER INPUT QUERY OUTPUT TIMEOUT
      loads INPUT (what `sluice bench --nexmark` wrote, plus the flush bids) into an in-memory
      SQLite database, runs QUERY's batch equivalent there (a window is a GROUP BY on its
      computed start) and compares it with OUTPUT read under read_committed, row for row: every
      reference row exactly once, nothing else. QUERY is q0, q1, q2, q5-counts, q5, q7, q3, q8,
      q4-closed, q4, q6-closed or q6.
      q4 and q6 are running averages (one row per closed auction, in the order the closed auctions
      reach the aggregate, which the engine does not fix): per group the rows must carry the counts
      1..n exactly once each, and the row of count n the reference's average.
The flush also writes people and auctions (negative ids, sellers no one is) past the last event,
one set per partition, so the joins' watermarks move on and their windows close; they match
nothing. The reference is independent of the stream engine: SQLite does the arithmetic, the
joins, the grouping and the window assignment; only the window rule (epoch-aligned starts) is
shared."""
import collections
import json
import sqlite3
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition

FLUSH_AUCTION = 0
COLS = ["auction", "bidder", "price", "channel", "url", "dateTime", "extra"]

# Each query's batch equivalent over table bid (the bids, flush bids included).
REFERENCE = {
    "q0": "SELECT auction, bidder, price, channel, url, dateTime, extra FROM bid",
    # 0.908 * price is exact in SQL (0.908 is a DECIMAL): the nearest double to its 3 decimals
    "q1": "SELECT auction, bidder, price * 908 / 1000.0 AS price, dateTime, extra FROM bid",
    "q2": "SELECT auction, price FROM bid WHERE auction % 123 = 0",
    # A bid at t is in the 10 s windows starting at the multiples of 2 s in (t - 10 s, t].
    "q5-counts": """
        WITH hop(k) AS (VALUES (0), (1), (2), (3), (4))
        SELECT auction, (dateTime / 2000 - k) * 2000 AS wstart,
               (dateTime / 2000 - k) * 2000 + 10000 AS wend, COUNT(*) AS num
        FROM bid, hop WHERE auction <> 0 GROUP BY auction, wstart""",
    "q5": """
        WITH hop(k) AS (VALUES (0), (1), (2), (3), (4)),
             counts AS (SELECT auction, (dateTime / 2000 - k) * 2000 AS wstart, COUNT(*) AS num
                        FROM bid, hop GROUP BY auction, wstart)
        SELECT wstart, MAX(num) AS maxn, COUNT(*) AS auctions FROM counts GROUP BY wstart""",
    "q3": """
        SELECT p.name, p.city, p.state, a.id FROM auction a JOIN person p ON a.seller = p.id
        WHERE a.category = 10 AND p.state IN ('OR', 'ID', 'CA')""",
    # A person and an auction of theirs in the same 10 s window; one row per person and window.
    "q8": """
        SELECT DISTINCT p.id, p.name, p.dateTime / 10000 * 10000 AS starttime
        FROM person p JOIN auction a ON p.id = a.seller
        WHERE p.dateTime / 10000 = a.dateTime / 10000""",
    "q4-closed": """
        SELECT a.id AS auction, a.category, MAX(b.price) AS price FROM auction a
        JOIN bid b ON a.id = b.auction
        WHERE b.dateTime >= a.dateTime AND b.dateTime <= a.expires GROUP BY a.id""",
    "q4": """
        WITH closed AS (SELECT a.id, a.category, MAX(b.price) AS price FROM auction a
                        JOIN bid b ON a.id = b.auction
                        WHERE b.dateTime >= a.dateTime AND b.dateTime <= a.expires
                        GROUP BY a.id)
        SELECT category, AVG(price) AS avg_price, COUNT(*) AS auctions FROM closed
        GROUP BY category""",
    "q6-closed": """
        SELECT a.id AS auction, a.seller, MAX(b.price) AS price FROM auction a
        JOIN bid b ON a.id = b.auction
        WHERE b.dateTime >= a.dateTime AND b.dateTime <= a.expires GROUP BY a.id""",
    "q6": """
        WITH closed AS (SELECT a.id, a.seller, MAX(b.price) AS price FROM auction a
                        JOIN bid b ON a.id = b.auction
                        WHERE b.dateTime >= a.dateTime AND b.dateTime <= a.expires
                        GROUP BY a.id)
        SELECT seller, AVG(price) AS avg_price, COUNT(*) AS auctions FROM closed
        GROUP BY seller""",
    "q7": """
        SELECT dateTime / 10000 * 10000 AS window_start,
               dateTime / 10000 * 10000 + 10000 AS window_end, MAX(price) AS price,
               COUNT(*) AS bids
        FROM bid GROUP BY window_start""",
}
# Windowed queries: the column holding the window start (rows of windows past the last real
# event hold flush bids only and are not compared).
WINDOW_COL = {"q5": "wstart", "q7": "window_start"}
# Running aggregates: the group column (their rows are checked by count, see the module comment).
RUNNING = {"q4": "category", "q6": "seller"}
FLUSH_JOIN = 40  # flush people and auctions per flush, spread over the partitions


def read_all(broker, topic, committed):
    c = Consumer({"bootstrap.servers": broker, "group.id": "nxsql-%f" % time.time(),
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


def reference(events, query):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE bid (auction INTEGER, bidder INTEGER, price INTEGER, "
               "channel TEXT, url TEXT, dateTime INTEGER, extra TEXT)")
    db.executemany("INSERT INTO bid VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [[e[c] for c in COLS] for e in events if e["event_type"] == 2])
    db.execute("CREATE TABLE person (id INTEGER, name TEXT, city TEXT, state TEXT, "
               "dateTime INTEGER)")
    db.executemany("INSERT INTO person VALUES (?, ?, ?, ?, ?)",
                   [[e[c] for c in ("id", "name", "city", "state", "dateTime")]
                    for e in events if e["event_type"] == 0])
    db.execute("CREATE TABLE auction (id INTEGER, seller INTEGER, category INTEGER, "
               "dateTime INTEGER, expires INTEGER)")
    db.executemany("INSERT INTO auction VALUES (?, ?, ?, ?, ?)",
                   [[e[c] for c in ("id", "seller", "category", "dateTime", "expires")]
                    for e in events if e["event_type"] == 1])
    cur = db.execute(REFERENCE[query])
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    last = max(e["dateTime"] for e in events if not is_flush(e))
    return rows, last


def is_flush(e):
    return e["auction"] == FLUSH_AUCTION if e["event_type"] == 2 else e["id"] < 0


def running(rows, group):
    """A running aggregate's rows as checked: every row by (group, count), the last one whole."""
    last = {}
    for r in rows:
        if r["auctions"] >= last.get(r[group], {"auctions": 0})["auctions"]:
            last[r[group]] = r
    return [r if last[r[group]] is r else {group: r[group], "auctions": r["auctions"]}
            for r in rows]


def running_ref(rows, group):
    """The rows a running aggregate emits, from the final rows of the reference."""
    out = []
    for r in rows:
        out += [{group: r[group], "auctions": k} for k in range(1, r["auctions"])] + [r]
    return out


def canon(rows):
    """Rows as comparable text; JSON has one number type, so 681.0 and 681 are one value."""
    def num(v):
        return int(v) if isinstance(v, float) and v.is_integer() else v
    return collections.Counter(json.dumps({k: num(v) for k, v in r.items()}, sort_keys=True)
                               for r in rows)


def main():
    broker = sys.argv[2]
    if sys.argv[1] == "flush":
        topic, ahead = sys.argv[3], int(sys.argv[4]) * 1000
        events, nparts = read_all(broker, topic, False)
        last = max(json.loads(m.value())["dateTime"] for m in events)
        p = Producer({"bootstrap.servers": broker, "acks": "all"})
        for part in range(nparts):
            t = last + ahead
            v = {"event_type": 2, "auction": FLUSH_AUCTION, "bidder": 0, "price": 1,
                 "channel": "flush", "url": "", "dateTime": t, "extra": ""}
            p.produce(topic, json.dumps(v, separators=(",", ":")).encode(), key=b"0",
                      partition=part, timestamp=t)
        for i in range(1, FLUSH_JOIN + 1):  # ids the real events never use; sellers no one is
            t = last + ahead
            pv = {"event_type": 0, "id": -i, "name": "flush", "city": "flush", "state": "OR",
                  "dateTime": t, "extra": ""}
            av = {"event_type": 1, "id": -i, "seller": -1000 - i, "category": 10,
                  "dateTime": t, "expires": t + 1, "extra": ""}
            for v in (pv, av):
                p.produce(topic, json.dumps(v, separators=(",", ":")).encode(),
                          key=str(-i).encode(), partition=i % nparts, timestamp=t)
        assert p.flush(30) == 0
        return
    topic, query, out, timeout = sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6])
    events = [json.loads(m.value()) for m in read_all(broker, topic, False)[0]]
    rows, last = reference(events, query)
    keep = (lambda r: r[WINDOW_COL[query]] <= last) if query in WINDOW_COL else \
        (lambda r: r.get("auction") != FLUSH_AUCTION) if query == "q5-counts" else \
        (lambda r: True)
    shape = (lambda rs: running(list(rs), RUNNING[query])) if query in RUNNING else list
    want = [r for r in rows if keep(r)]
    want = canon(running_ref(want, RUNNING[query]) if query in RUNNING else want)
    deadline = time.time() + timeout
    while True:
        got = [json.loads(m.value()) for m in read_all(broker, out, True)[0]]
        got = [g for g in got if keep(g)]
        if len(got) >= sum(want.values()) or time.time() > deadline:
            break
        time.sleep(1)
    time.sleep(1)  # anything past the expected total is a duplicate: read it too
    got = canon(shape(g for g in (json.loads(m.value()) for m in read_all(broker, out, True)[0])
                      if keep(g)))
    missing, extra = want - got, got - want
    print("%s: %d rows expected, %d got, %d missing, %d unexpected or duplicated" %
          (query, sum(want.values()), sum(got.values()), sum(missing.values()),
           sum(extra.values())))
    for k in list(missing)[:3] + list(extra)[:3]:
        print("  differs: %s" % k)
    sys.exit(1 if missing or extra or not want else 0)


main()
