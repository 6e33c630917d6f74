"""A consumer group across a coordinator failover (test_cluster_groups.sh).

  cluster_groups.py produce BOOTSTRAP TOPIC COUNT
      acks=all: COUNT records with values "0".."COUNT-1", spread over the partitions.
  cluster_groups.py coordinator BOOTSTRAP GROUP
      Prints the node id that leads the group's __consumer_offsets partition (Kafka's rule:
      abs(Java hashCode of the id) % partitions) and the topic's partition count, or exits 1
      when it has no leader yet.
  cluster_groups.py consume BOOTSTRAP TOPIC GROUP COUNT EVENTS
      One group member (manual commits, synchronous, every 25 records) that reads until it has
      seen every value below COUNT, throttled so that a test can kill the coordinator meanwhile.
      Writes EVENTS line by line: "A p,p,..." on each assignment, "M p offset value" for each
      record, "C p offset" for each acknowledged commit, "E error" for a failed commit.
  cluster_groups.py committed BOOTSTRAP TOPIC GROUP PARTITIONS
      Prints the group's committed offsets of partitions 0..PARTITIONS-1 (-1 for none), asked
      of its coordinator as a client finds it.
  cluster_groups.py errors HOST:PORT GROUP
      Asks one broker about the group with raw requests and prints the error codes it answers:
      "offsetfetch=E describegroups=E cgdescribe=E" (OffsetFetch v1 of events [0],
      DescribeGroups v0, ConsumerGroupDescribe v0).
  cluster_groups.py check EVENTS COUNT
      After each assignment but the first, the first record read from each partition must be at
      or after the last commit of that partition acknowledged before the assignment (nothing
      re-read beyond it) and no
      further than one past the last record read before (nothing skipped); within an
      assignment offsets go up by one; every value below COUNT was read. Needs at least two
      assignments (the group moved). Prints counts; exit 1 on any anomaly.
"""
import socket
import struct
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient


def produce(bootstrap, topic, count):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    failed = []
    for i in range(count):
        p.produce(topic, str(i).encode(), key=str(i).encode(),
                  on_delivery=lambda err, msg: failed.append(err) if err else None)
        p.poll(0)
    p.flush(60)
    if failed or len(p) > 0:
        sys.exit("produce failed: %s" % (failed[:3] or "timeout"))


def java_hash(s):
    h = 0
    for ch in s.encode():
        h = (31 * h + ch) & 0xFFFFFFFF
    return h


def coordinator(bootstrap, group):
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics("__consumer_offsets", timeout=5)
    t = md.topics.get("__consumer_offsets")
    if t is None or t.error is not None or not t.partitions:
        sys.exit(1)
    p = t.partitions[(java_hash(group) & 0x7FFFFFFF) % len(t.partitions)]
    if p.leader < 0:
        sys.exit(1)
    print(p.leader, len(t.partitions))


def consume(bootstrap, topic, group, count, path):
    out = open(path, "w", buffering=1)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "session.timeout.ms": 6000, "heartbeat.interval.ms": 300,
                  "topic.metadata.refresh.interval.ms": 500, "socket.timeout.ms": 3000,
                  "retry.backoff.ms": 100})

    def on_assign(consumer, parts):
        pending.clear()  # positions of the previous assignment are not ours to commit now
        out.write("A %s\n" % ",".join(str(p.partition) for p in parts))

    seen = set()
    pending = {}
    c.subscribe([topic], on_assign=on_assign)
    deadline = time.time() + 120
    since_commit = 0

    def commit():
        if not pending:
            return
        offs = [TopicPartition(topic, p, o) for p, o in pending.items()]
        try:
            res = c.commit(offsets=offs, asynchronous=False)
        except KafkaException as e:
            out.write("E %s\n" % e)
            return
        for tp in res:
            if tp.error is None:
                out.write("C %d %d\n" % (tp.partition, tp.offset))
            else:
                out.write("E %s\n" % tp.error)
        pending.clear()

    while len(seen) < count and time.time() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            continue
        v = int(m.value())
        out.write("M %d %d %d\n" % (m.partition(), m.offset(), v))
        seen.add(v)
        pending[m.partition()] = m.offset() + 1
        since_commit += 1
        if since_commit >= 25:
            since_commit = 0
            commit()
        time.sleep(0.002)
    commit()
    c.close()
    if len(seen) < count:
        sys.exit("consumer saw %d of %d values" % (len(seen), count))


def committed(bootstrap, topic, group, n):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "socket.timeout.ms": 3000})
    got = c.committed([TopicPartition(topic, p) for p in range(n)], timeout=30)
    c.close()
    print(" ".join(str(max(tp.offset, -1)) for tp in got))


def call(sock, key, ver, body):
    hdr = struct.pack(">hhih", key, ver, 7, 1) + b"t"
    sock.sendall(struct.pack(">i", len(hdr) + len(body)) + hdr + body)
    n = struct.unpack(">i", sock.recv(4, socket.MSG_WAITALL))[0]
    r = sock.recv(n, socket.MSG_WAITALL)
    if len(r) != n:
        sys.exit("short response to api %d" % key)
    return r


def errors(host_port, group):
    host, port = host_port.rsplit(":", 1)
    g = group.encode()
    s = socket.create_connection((host, int(port)), timeout=10)
    # OffsetFetch v1: group, topics [events [0]]; the error is on the partition
    r = call(s, 9, 1, struct.pack(">h", len(g)) + g + struct.pack(">ih", 1, 6) + b"events"
             + struct.pack(">ii", 1, 0))
    pos = 4 + 4 + 2 + 6 + 4 + 4 + 8  # corr, topics, name, partitions, index, offset
    mlen = struct.unpack(">h", r[pos:pos + 2])[0]
    pos += 2 + max(mlen, 0)
    fetch = struct.unpack(">h", r[pos:pos + 2])[0]
    # DescribeGroups v0: groups [group]; corr, groups count, then the first group's error
    r = call(s, 15, 0, struct.pack(">ih", 1, len(g)) + g)
    describe = struct.unpack(">h", r[8:10])[0]
    # ConsumerGroupDescribe v0 (flexible; request header v2 adds empty tags after the client id):
    # group_ids [group], include_authorized_operations false, no tags. The answer: corr, header
    # tags, throttle, groups count, then the first group's error.
    hdr = struct.pack(">hhih", 69, 0, 8, 1) + b"t" + b"\0"
    body = bytes([2, len(g) + 1]) + g + b"\0\0"
    s.sendall(struct.pack(">i", len(hdr) + len(body)) + hdr + body)
    n = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
    r = s.recv(n, socket.MSG_WAITALL)
    if len(r) != n or r[5:9] != b"\0\0\0\0" or r[9] != 2:
        sys.exit("bad response to ConsumerGroupDescribe")
    cgdescribe = struct.unpack(">h", r[10:12])[0]
    s.close()
    print("offsetfetch=%d describegroups=%d cgdescribe=%d" % (fetch, describe, cgdescribe))


def check(path, count):
    committed = {}   # partition -> last acknowledged commit
    at_assign = {}   # the same when the last assignment came
    last_read = {}   # partition -> last offset read (any assignment)
    assignments = 0
    first_after = None  # partitions whose first record since the last assignment is due
    expect = {}      # partition -> next offset within the current assignment
    seen = set()
    errors = []
    resumed = 0
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "A":
            assignments += 1
            first_after = set(int(x) for x in f[1].split(",")) if len(f) > 1 else set()
            at_assign = dict(committed)  # what the member's OffsetFetch could see
            expect = {}
        elif f[0] == "C":
            committed[int(f[1])] = int(f[2])
        elif f[0] == "M":
            p, o, v = int(f[1]), int(f[2]), int(f[3])
            if assignments > 1 and first_after is not None and p in first_after:
                first_after.discard(p)
                lo = at_assign.get(p, 0)
                hi = last_read.get(p, -1) + 1
                if o < lo:
                    errors.append("partition %d resumed at %d, below its commit %d" % (p, o, lo))
                elif o > hi:
                    errors.append("partition %d resumed at %d, past %d (skipped)" % (p, o, hi))
                resumed += 1
            elif p in expect and o != expect[p]:
                errors.append("partition %d: offset %d after %d" % (p, o, expect[p] - 1))
            expect[p] = o + 1
            last_read[p] = o
            seen.add(v)
    missing = count - len(seen & set(range(count)))
    if missing:
        errors.append("%d values never read" % missing)
    if assignments < 2:
        errors.append("the group never moved (%d assignment)" % assignments)
    print("assignments=%d resumed_partitions=%d read_values=%d errors=%d"
          % (assignments, resumed, len(seen), len(errors)))
    for e in errors[:10]:
        print("  " + e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "produce":
        produce(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "coordinator":
        coordinator(sys.argv[2], sys.argv[3])
    elif cmd == "consume":
        consume(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6])
    elif cmd == "committed":
        committed(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif cmd == "errors":
        errors(sys.argv[2], sys.argv[3])
    elif cmd == "check":
        check(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)
