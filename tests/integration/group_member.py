"""A confluent-kafka-python group member for the group tests: consumes TOPIC in GROUP and appends
'partition offset value' for every record to OUT (flushed per line), committing synchronously
after each record batch. Stops after IDLE seconds without records (or runs until killed); the idle
time counts from when the member first holds partitions, not from its start, so a join that is
slow on a loaded machine does not use it up (a member never assigned anything starts counting
after JOIN_LIMIT seconds). Static members (instance-id) get a 30 s session timeout, so that a
restart on a slow machine is still within the session. Only records count as progress (error
events do not), a failed commit (REBALANCE_IN_PROGRESS while the group rebalances) is reported
and consumption goes on, and a member still running after MAX_RUNTIME seconds exits with an
error.
Usage: group_member.py BROKER GROUP TOPIC OUT IDLE [instance-id] [assignor]"""
import sys
import time

from confluent_kafka import Consumer, KafkaException

JOIN_LIMIT = 60
MAX_RUNTIME = 240  # a member stuck in a loop fails the test instead of hanging it

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
errors = 0
while True:
    now = time.time()
    if last is None and (c.assignment() or now - start > JOIN_LIMIT):
        last = now
    if last is not None and now - last >= idle:
        break
    if now - start > MAX_RUNTIME:
        sys.exit("group member %s: still running after %ds (%d consumer errors)"
                 % (out, MAX_RUNTIME, errors))
    msgs = c.consume(500, 0.5)
    records = [m for m in msgs if not m.error()]
    for m in msgs:
        if m.error():  # only records count as progress: an error loop must not keep it alive
            errors += 1
            if errors <= 5:
                print("group member %s: %s" % (out, m.error()), file=sys.stderr)
    if not records:
        if msgs:
            time.sleep(0.1)
        continue
    for m in records:
        f.write("%d %d %s\n" % (m.partition(), m.offset(), m.value().decode()))
    try:
        c.commit(asynchronous=False)
    except KafkaException as e:  # e.g. REBALANCE_IN_PROGRESS: these may come again (at-least-once)
        print("group member %s: commit failed: %s" % (out, e), file=sys.stderr)
    last = time.time()
c.close()
