"""The transaction after a committed one, cut by a power cut (test_powerloss_txn_next.sh).

usage: powerloss_txn_next.py produce BROKER TOPIC READY_FILE
         commits transaction "a" (2 records per partition of TOPIC), then begins transaction "b",
         writes 2 records per partition and waits until they are acknowledged (acks=all: on
         disk), writes READY_FILE and sleeps until killed: "b" is neither committed nor aborted.
       powerloss_txn_next.py verify BROKER TOPIC
         reads TOPIC with read_committed (after fencing the producer's transactional id) and
         checks that every record of "a" and none of "b" is visible. Exits 1 otherwise."""
import collections
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition

TXN_ID = "powerloss-next"
PARTS = 3

mode, broker, topic = sys.argv[1:4]

if mode == "produce":
    p = Producer({"bootstrap.servers": broker, "transactional.id": TXN_ID, "linger.ms": 0,
                  "transaction.timeout.ms": 60000})
    p.init_transactions(30)
    for name in ("a", "b"):
        p.begin_transaction()
        for part in range(PARTS):
            for i in range(2):
                p.produce(topic, value="%s %d/%d" % (name, part, i), partition=part)
        if name == "a":
            p.commit_transaction(30)
    if p.flush(30):
        sys.exit("powerloss_txn_next: records of b not acknowledged")
    open(sys.argv[4], "w").write("ready\n")
    time.sleep(600)  # the test kills the broker, then this process
    sys.exit(0)

fence = Producer({"bootstrap.servers": broker, "transactional.id": TXN_ID})
fence.init_transactions(30)
c = Consumer({"bootstrap.servers": broker, "group.id": "powerloss-next-verify",
              "enable.partition.eof": True, "enable.auto.commit": False,
              "isolation.level": "read_committed"})
c.assign([TopicPartition(topic, p, 0) for p in range(PARTS)])
seen = collections.Counter()
eof, deadline = set(), time.time() + 30
while len(eof) < PARTS and time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        if m.error().code() == -191:  # _PARTITION_EOF
            eof.add(m.partition())
            continue
        sys.exit("powerloss_txn_next: consumer error %s" % m.error())
    seen[m.value().decode().split()[0]] += 1
c.close()
print("visible under read_committed: a=%d b=%d" % (seen["a"], seen["b"]))
bad = []
if len(eof) < PARTS:
    bad.append("did not reach the end of every partition")
if seen["a"] != 2 * PARTS:
    bad.append("committed transaction a: %d of %d records visible" % (seen["a"], 2 * PARTS))
if seen["b"]:
    bad.append("transaction b, never committed, has %d records visible" % seen["b"])
for b in bad:
    print("FAIL: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
