"""confluent-kafka-python against sluice: topic admin, produce, consume by assignment."""
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

broker = sys.argv[1]
admin = AdminClient({"bootstrap.servers": broker})


def wait(futures):
    for f in futures.values():
        f.result(timeout=10)


wait(admin.create_topics([NewTopic("py-admin", num_partitions=3, replication_factor=1,
                                   config={"retention.ms": "3600000"})]))
md = admin.list_topics(timeout=10)
assert "py-admin" in md.topics, md.topics
assert len(md.topics["py-admin"].partitions) == 3

# Creating it again fails with TOPIC_ALREADY_EXISTS.
try:
    wait(admin.create_topics([NewTopic("py-admin", num_partitions=1, replication_factor=1)]))
    raise SystemExit("duplicate create succeeded")
except Exception as e:  # KafkaException wrapping TOPIC_ALREADY_EXISTS
    assert "TOPIC_ALREADY_EXISTS" in str(e) or "already exists" in str(e), e

# Bad config and bad replication factor are refused.
for bad in (NewTopic("py-bad", 1, 1, config={"no.such.key": "1"}), NewTopic("py-bad2", 1, 3)):
    try:
        wait(admin.create_topics([bad]))
        raise SystemExit("bad topic accepted: %s" % bad)
    except Exception as e:
        assert "INVALID" in str(e) or "Invalid" in str(e) or "larger than" in str(e), e

res = ConfigResource(ConfigResource.Type.TOPIC, "py-admin")
configs = admin.describe_configs([res])[res].result(timeout=10)
assert configs["retention.ms"].value == "3600000", configs["retention.ms"]
assert not configs["retention.ms"].is_default
assert configs["segment.bytes"].value == "1073741824"

wait(admin.create_partitions([NewPartitions("py-admin", 5)]))
assert len(admin.list_topics(topic="py-admin", timeout=10).topics["py-admin"].partitions) == 5

p = Producer({"bootstrap.servers": broker, "acks": "all", "linger.ms": 5})
errors = []
for i in range(500):
    p.produce("py-admin", key=str(i % 7), value="v%d" % i, partition=i % 5,
              headers=[("h", b"x")], on_delivery=lambda err, msg: err and errors.append(err))
p.flush(10)
assert not errors, errors

c = Consumer({"bootstrap.servers": broker, "group.id": "unused", "enable.auto.commit": False,
              "enable.partition.eof": True})
c.assign([TopicPartition("py-admin", i, 0) for i in range(5)])
seen, eofs, deadline = [], set(), time.time() + 20
while len(eofs) < 5 and time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        eofs.add(m.partition())
        continue
    seen.append((m.partition(), m.offset(), m.value().decode()))
    assert m.headers() == [("h", b"x")], m.headers()
c.close()
assert len(seen) == 500, len(seen)
for part in range(5):
    offs = [o for (pp, o, _) in seen if pp == part]
    assert offs == list(range(100)), (part, offs[:5])

lo, hi = Consumer({"bootstrap.servers": broker, "group.id": "x"}).get_watermark_offsets(
    TopicPartition("py-admin", 0), timeout=10)
assert (lo, hi) == (0, 100), (lo, hi)

wait(admin.delete_topics(["py-admin"]))
deadline = time.time() + 10
while "py-admin" in admin.list_topics(timeout=10).topics and time.time() < deadline:
    time.sleep(0.1)
assert "py-admin" not in admin.list_topics(timeout=10).topics
print("confluent-kafka-python ok")
