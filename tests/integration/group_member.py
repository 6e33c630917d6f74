"""A confluent-kafka-python group member for the group tests: consumes TOPIC in GROUP and appends
'partition offset value' for every record to OUT (flushed per line), committing synchronously
after each record batch. Stops after IDLE seconds without records (or runs until killed).
Usage: group_member.py BROKER GROUP TOPIC OUT IDLE [instance-id] [assignor]"""
import sys
import time

from confluent_kafka import Consumer

broker, group, topic, out, idle = sys.argv[1:6]
instance = sys.argv[6] if len(sys.argv) > 6 and sys.argv[6] != "-" else None
assignor = sys.argv[7] if len(sys.argv) > 7 else "cooperative-sticky"
conf = {"bootstrap.servers": broker, "group.id": group, "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500, "partition.assignment.strategy": assignor}
if instance:
    conf["group.instance.id"] = instance
c = Consumer(conf)
c.subscribe([topic])
f = open(out, "a", buffering=1)
last = time.time()
while time.time() - last < float(idle):
    msgs = c.consume(500, 0.5)
    if not msgs:
        continue
    for m in msgs:
        if not m.error():
            f.write("%d %d %s\n" % (m.partition(), m.offset(), m.value().decode()))
    c.commit(asynchronous=False)
    last = time.time()
c.close()
