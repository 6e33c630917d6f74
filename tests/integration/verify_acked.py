"""Reads a topic back and checks that every acknowledged (partition, offset, value) is present."""
import collections
import sys
import time

from confluent_kafka import Consumer, TopicPartition

broker, topic, path = sys.argv[1:4]
acked = collections.defaultdict(dict)
for line in open(path):
    part, off, val = line.split()
    acked[int(part)][int(off)] = val

c = Consumer({"bootstrap.servers": broker, "group.id": "verify", "enable.partition.eof": True,
              "enable.auto.commit": False})
parts = sorted(acked)
c.assign([TopicPartition(topic, p, 0) for p in parts])
got = collections.defaultdict(dict)
eof, deadline = set(), time.time() + 300  # it stops at the end; this is for a slow machine
while len(eof) < len(parts) and time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        eof.add(m.partition())
        continue
    got[m.partition()][m.offset()] = m.value().decode()
c.close()
missing = [(p, o) for p in acked for o, v in acked[p].items() if got[p].get(o) != v]
for p in parts:
    offs = sorted(got[p])
    assert offs == list(range(len(offs))), "partition %d has holes" % p
total = sum(len(v) for v in acked.values())
print("acknowledged %d, read back %d, missing %d" % (total, sum(len(v) for v in got.values()),
                                                      len(missing)))
sys.exit(1 if missing else 0)
