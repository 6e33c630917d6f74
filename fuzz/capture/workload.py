#!/usr/bin/env python3
"""workload.py -- client traffic for seed capture (capture-seeds runs it through record_proxy.py):
admin operations, produce with every codec, a consumer group that commits, and transactions with
a read_committed consumer, all with confluent-kafka-python (librdkafka).

    workload.py HOST:PORT
"""
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

bs = sys.argv[1]
FAST = {"bootstrap.servers": bs, "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200}

admin = AdminClient(dict(FAST))
for f in admin.create_topics([NewTopic("seed-a", 2, 1), NewTopic("seed-b", 1, 1,
                              config={"retention.ms": "60000", "max.message.bytes": "100000"}),
                              NewTopic("seed-del", 1, 1)]).values():
    f.result()
admin.create_partitions([NewPartitions("seed-a", 3)])["seed-a"].result()
admin.describe_configs([ConfigResource("topic", "seed-b")])
time.sleep(0.5)
admin.delete_topics(["seed-del"])["seed-del"].result()
admin.list_topics(timeout=10)

for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
    p = Producer(dict(FAST, **{"compression.codec": codec, "linger.ms": 5,
                               "enable.idempotence": codec in ("none", "zstd")}))
    for i in range(20):
        p.produce("seed-a", key=b"k%d" % (i % 4), value=b"%s value %d" % (codec.encode(), i),
                  headers=[("h", b"v")] if i % 3 == 0 else None)
    p.flush(10)

c = Consumer(dict(FAST, **{"group.id": "seed-group", "auto.offset.reset": "earliest",
                           "enable.auto.commit": False, "session.timeout.ms": 6000}))
c.subscribe(["seed-a"])
got, deadline = 0, time.time() + 20
while got < 50 and time.time() < deadline:
    m = c.poll(0.5)
    if m is not None and not m.error():
        got += 1
        if got % 10 == 0:
            c.commit(asynchronous=False)
c.committed([TopicPartition("seed-a", 0)], timeout=10)
c.close()

tp = Producer(dict(FAST, **{"transactional.id": "seed-txn", "linger.ms": 5}))
tp.init_transactions(10)
for commit in (True, False):
    tp.begin_transaction()
    for i in range(5):
        tp.produce("seed-b", key=b"t", value=b"txn %s %d" % (str(commit).encode(), i))
    if commit:
        cg = Consumer(dict(FAST, **{"group.id": "seed-txn-group"}))
        tp.send_offsets_to_transaction([TopicPartition("seed-a", 0, 3)],
                                       cg.consumer_group_metadata(), 10)
        cg.close()
        tp.commit_transaction(10)
    else:
        tp.abort_transaction(10)
rc = Consumer(dict(FAST, **{"group.id": "seed-rc", "isolation.level": "read_committed",
                            "auto.offset.reset": "earliest"}))
rc.assign([TopicPartition("seed-b", 0, 0)])
deadline = time.time() + 5
while time.time() < deadline:
    rc.poll(0.2)
rc.close()

admin.list_groups(timeout=10)
res = ConfigResource("topic", "seed-a", set_config={"retention.ms": "3600000"})
admin.alter_configs([res])[res].result()
print("workload done")
