"""A confluent-kafka-python group member for the group tests: consumes TOPIC in GROUP and appends
'partition offset value' for every record to OUT (flushed per line), committing synchronously
after each record batch. Stops after IDLE seconds without records (or runs until killed); the idle
time counts from when the member first holds partitions, not from its start, so a join that is
slow on a loaded machine does not use it up (a member never assigned anything starts counting
after JOIN_LIMIT seconds). Static members (instance-id) get a 30 s session timeout, so that a
restart on a slow machine is still within the session.
Usage: group_member.py BROKER GROUP TOPIC OUT IDLE [instance-id] [assignor]"""
import sys
import time

from confluent_kafka import Consumer

JOIN_LIMIT = 60

broker, group, topic, out, idle = sys.argv[1:6]
idle = float(idle)
instance = sys.argv[6] if len(sys.argv) > 6 and sys.argv[6] != "-" else None
assignor = sys.argv[7] if len(sys.argv) > 7 else "cooperative-sticky"
conf = {"bootstrap.servers": broker, "group.id": group, "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "session.timeout.ms": 30000 if instance else 6000,
        "heartbeat.interval.ms": 500, "partition.assignment.strategy": assignor}
if instance:
    conf["group.instance.id"] = instance
f = open(out, "a", buffering=1)  # before joining: a member killed once in the group has its file
c = Consumer(conf)
c.subscribe([topic])
start = time.time()
last = None  # when the idle time started: first assignment, then the last record batch
while True:
    now = time.time()
    if last is None and (c.assignment() or now - start > JOIN_LIMIT):
        last = now
    if last is not None and now - last >= idle:
        break
    msgs = c.consume(500, 0.5)
    if not msgs:
        continue
    for m in msgs:
        if not m.error():
            f.write("%d %d %s\n" % (m.partition(), m.offset(), m.value().decode()))
    c.commit(asynchronous=False)
    last = time.time()
c.close()
