"""A reproducer (run by hand, not by make test) for records lost around consumer-group rebalances:
two confluent-kafka consumers (cooperative-sticky, group.instance.id unless STATIC=0), one killed
-9 and restarted three times, the other stopped (close: a static member sends no LeaveGroup) and
restarted, while records flow into a 6-partition topic. Checks that no partition is owned by two
live processes at once and that every record was delivered to some member. DEBUG=fetch,cgrp puts
librdkafka's debug log in OUTDIR/<instance>.err.
  rebalance_skip.py BROKER TOPIC GROUP OUTDIR       (TOPIC must exist, 6 partitions)

Finding (docs/stream.md, "Rebalances"): with librdkafka 2.0.2 a member that keeps
partitions through an incremental rebalance loses the records it had fetched but not yet
polled (runs of 50-150 per rebalance, with or without static ids): librdkafka pauses the kept
partitions' fetchers for the rebalance and resumes them from the fetch position, not the
application's; the broker serves exactly the offsets asked for. """
import json, os, signal, subprocess, sys, time

def member(broker, topic, group, inst, out):
    from confluent_kafka import Consumer
    f = open(out, "a", buffering=1)
    def log(kind, parts):
        f.write(json.dumps({"t": time.time(), "pid": os.getpid(), "ev": kind,
                            "p": sorted(p.partition for p in parts)}) + "\n")
    conf = {"bootstrap.servers": broker, "group.id": group,
                  "partition.assignment.strategy": "cooperative-sticky",
                  "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    if os.environ.get("DEBUG"):
        conf["debug"] = os.environ["DEBUG"]
    if os.environ.get("STATIC", "1") == "1":
        conf["group.instance.id"] = inst
    c = Consumer(conf)
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *a: stop.__setitem__(0, True))
    c.subscribe([topic], on_assign=lambda c, p: log("assign", p),
                on_revoke=lambda c, p: log("revoke", p), on_lost=lambda c, p: log("lost", p))
    while not stop[0]:
        ms = [m for m in c.consume(200, 0.2) if not m.error()]
        for m in ms:
            f.write(json.dumps({"pid": os.getpid(), "ev": "rec", "part": m.partition(),
                                "off": m.offset()}) + "\n")
        if ms:
            try:
                c.commit(asynchronous=False)
            except Exception as e:
                f.write(json.dumps({"pid": os.getpid(), "ev": "commit-failed", "e": str(e)}) + "\n")
    log("close", [])
    c.close()

def main():
    broker, topic, group, outdir = sys.argv[1:5]
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": broker, "linger.ms": 5})
    def spawn(inst):
        return subprocess.Popen(["/usr/bin/python3", __file__, "member", broker, topic, group, inst,
                                 os.path.join(outdir, inst + ".log")],
                                stderr=open(os.path.join(outdir, inst + ".err"), "a"))
    kills = {}  # pid -> time it was killed
    n = 0
    def produce(seconds):
        nonlocal n
        end = time.time() + seconds
        while time.time() < end:
            for _ in range(50):
                p.produce(topic, str(n).encode()); n += 1
            p.poll(0); time.sleep(0.05)
    a, b = spawn("s1"), spawn("s2")
    produce(4)
    for _ in range(3):
        kills[a.pid] = time.time(); a.kill(); a.wait(); a = spawn("s1")
        produce(3)
    b.terminate(); b.wait(); kills[b.pid] = time.time(); b = spawn("s2")
    produce(3)
    kills[a.pid] = time.time(); a.kill(); a.wait(); a = spawn("s1")
    produce(8)
    p.flush(10)
    time.sleep(8)
    for x in (a, b):
        x.terminate(); x.wait(); kills[x.pid] = time.time()
    # ownership intervals per pid
    own, recs = {}, set()
    events = []
    for inst in ("s1", "s2"):
        for line in open(os.path.join(outdir, inst + ".log")):
            e = json.loads(line)
            if e["ev"] == "rec":
                recs.add((e["part"], e["off"]))
            elif "t" in e:
                events.append(e)
    events.sort(key=lambda e: e["t"])
    intervals = []  # (part, pid, start, end)
    openi = {}
    for e in events:
        for q in e["p"]:
            key = (q, e["pid"])
            if e["ev"] == "assign":
                openi[key] = e["t"]
            elif key in openi:
                intervals.append((q, e["pid"], openi.pop(key), e["t"]))
    for (q, pid), t0 in openi.items():
        intervals.append((q, pid, t0, kills.get(pid, time.time())))
    overlaps = []
    for i, x in enumerate(intervals):
        for y in intervals[i + 1:]:
            if x[0] == y[0] and x[1] != y[1] and x[2] < y[3] and y[2] < x[3]:
                overlaps.append((x, y))
    # records: every produced offset consumed? offsets per partition via watermarks
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": broker, "group.id": group + "-check"})
    missing = 0
    md = c.list_topics(topic).topics[topic]
    for q in md.partitions:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, q))
        missing += sum(1 for o in range(lo, hi) if (q, o) not in recs)
    c.close()
    print("records produced %d, missing %d; ownership overlaps %d" % (n, missing, len(overlaps)))
    for x, y in overlaps[:5]:
        print("  partition %d: pid %d [%.2f, %.2f] and pid %d [%.2f, %.2f]" %
              (x[0], x[1], x[2] % 1000, x[3] % 1000, y[1], y[2] % 1000, y[3] % 1000))
    sys.exit(1 if overlaps or missing else 0)

if __name__ == "__main__":
    if sys.argv[1] == "member":
        member(*sys.argv[2:7])
    else:
        main()
