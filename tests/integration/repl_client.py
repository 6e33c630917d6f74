"""Producer and checker for replicated partitions (test_cluster_repl.sh, bench/cluster_repl.sh).

  repl_client.py produce BOOTSTRAP TOPIC ACKED_FILE COUNT [RATE]
      Idempotent producer, acks=all: sends COUNT records "<basename of ACKED_FILE>-<i>" (RATE per second if given, else
      as fast as it can), retrying across leader failover, and writes "partition offset value
      wall_ms" for every acknowledged record, flushed line by line. Stops early when the file
      STOP (next to ACKED_FILE) appears. Exit 1 if any record failed for good.
  repl_client.py check BOOTSTRAP TOPIC ACKED_FILE
      Reads every partition from the start to its high watermark and checks, for every
      acknowledged record: present, at the offset its ack named; no value twice; offsets with
      no gaps. Prints one line of counts; exit 1 on any anomaly.
  repl_client.py gap ACKED_FILE KILL_WALL_MS
      Failover time as the client saw it: the longest pause between two consecutive acks that
      ends after KILL_WALL_MS (exit 1 while no ack came after it).
  repl_client.py phases KILL_WALL_MS OLD TOPIC LOG...
      Where a failover's time went, from the surviving brokers' logs (ms after the kill of
      broker OLD): "elect=" a new quorum leader (- when OLD was not the quorum leader),
      "fence=" OLD's lease expired and it was fenced, "lead=" a survivor took the leadership
      of TOPIC-0.

$SL_CLIENT_CONF ("key=value;key=value", librdkafka's names) is added to every client's settings,
e.g. security.protocol=sasl_ssl and its sasl.* and ssl.* keys (test_cluster_ibsec.sh).
"""
import calendar
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from faults_client import watermarks  # the same directory


def extra():
    """Client settings from $SL_CLIENT_CONF."""
    conf = os.environ.get("SL_CLIENT_CONF", "")
    return dict(kv.split("=", 1) for kv in conf.split(";") if kv)


def produce(bootstrap, topic, path, count, rate):
    out = open(path, "w", buffering=1)
    stop = os.path.join(os.path.dirname(os.path.abspath(path)), "STOP")
    tag = os.path.basename(path)  # values are unique across runs writing different files
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 1, "message.timeout.ms": 60000,
                  "topic.metadata.refresh.interval.ms": 500,
                  "retry.backoff.ms": 50, "socket.timeout.ms": 3000, **extra()})
    failed = []

    def on_delivery(err, msg):
        if err is None:
            out.write("%d %d %s %d\n" % (msg.partition(), msg.offset(), msg.value().decode(),
                                         int(time.time() * 1000)))
        else:
            failed.append(str(err))

    start = time.time()
    i = 0
    while i < count and not failed and not os.path.exists(stop):
        if rate:
            due = start + i / rate
            if time.time() < due:
                # Never negative: confluent-kafka turns -0.002 < t < 0 into -1 ms, an
                # unbounded poll that, once every ack is in, never returns.
                p.poll(max(0.0, min(0.01, due - time.time())))
                continue
        try:
            p.produce(topic, value="%s-%d" % (tag, i), key=str(i), on_delivery=on_delivery)
            i += 1
        except BufferError:
            p.poll(0.01)
        p.poll(0)
    p.flush(60)
    out.close()
    if failed:
        print("delivery failed: %s" % failed[:3], file=sys.stderr)
        return 1
    return 0


def check(bootstrap, topic, path):
    acked = {}
    for line in open(path):
        part, off, val = line.split()[:3]
        acked[val] = (int(part), int(off))
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "repl-check",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": True, **extra()})
    md = c.list_topics(topic, timeout=10)
    parts = sorted(md.topics[topic].partitions)
    seen = {}
    dups = gaps = 0
    for part in parts:
        tp = TopicPartition(topic, part)
        lo, hi = watermarks(c, tp)
        c.assign([TopicPartition(topic, part, lo)])
        want = lo
        deadline = time.time() + 60
        while want < hi and time.time() < deadline:
            m = c.poll(1.0)
            if m is None or m.error():
                continue
            if m.offset() != want:
                gaps += 1
            want = m.offset() + 1
            v = m.value().decode()
            if v in seen:
                dups += 1
            seen[v] = (part, m.offset())
        if want < hi:
            print("partition %d: read to %d of %d" % (part, want, hi), file=sys.stderr)
            gaps += 1
    c.close()
    lost = sum(1 for v in acked if v not in seen)
    moved = sum(1 for v, po in acked.items() if v in seen and seen[v] != po)
    print("acked=%d read=%d lost=%d moved=%d duplicated=%d gaps=%d" %
          (len(acked), len(seen), lost, moved, dups, gaps))
    return 1 if lost or moved or dups or gaps else 0


def gap(path, kill_ms, resumed_ms=None):
    """The longest pause between consecutive acknowledgements that ends after the kill: the
    outage the client saw (acks answered just before the kill can be reported just after it,
    so "first ack after the kill" alone would undercount). With resumed_ms (when the new leader
    was seen), only once an ack came after it: at 10,000 records/s the delivery reports of
    acks taken before the kill are still being handed out just after it, so an ack after the
    kill alone does not mean the outage is over."""
    times = sorted(int(l.split()[3]) for l in open(path))
    after = kill_ms if resumed_ms is None else max(kill_ms, resumed_ms)
    if not times or times[-1] <= after:
        print("no ack after the kill" + ("" if resumed_ms is None else " and the new leader"),
              file=sys.stderr)
        return 1
    print(max(b - a for a, b in zip(times, times[1:]) if b > kill_ms))
    return 0


def phases(kill_ms, old, topic, logs):
    first = {}
    marks = (("elect", lambda l: " role=leader leader=" in l),
             ("fence", lambda l: "node=%d " % old in l and "lease expired" in l),
             ("lead", lambda l: "topic=%s partition=0 " % topic in l and "role=leader" in l))
    for path in logs:
        for line in open(path, errors="replace"):
            try:  # 2026-11-27T21:38:26.566Z
                ms = calendar.timegm(time.strptime(line[:19], "%Y-%m-%dT%H:%M:%S")) * 1000
                ms += int(line[20:23])
            except ValueError:
                continue
            if ms < kill_ms:
                continue
            for name, match in marks:
                if match(line) and (name not in first or ms < first[name]):
                    first[name] = ms
    print(" ".join("%s=%s" % (n, first[n] - kill_ms if n in first else "-") for n, _ in marks))
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "produce":
        rate = float(sys.argv[6]) if len(sys.argv) > 6 else 0
        return produce(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), rate)
    if cmd == "check":
        return check(sys.argv[2], sys.argv[3], sys.argv[4])
    if cmd == "gap":
        return gap(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else None)
    if cmd == "phases":
        return phases(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:])
    raise SystemExit("usage: see the file comment")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KafkaException as e:
        print("kafka: %s" % e, file=sys.stderr)
        sys.exit(1)
