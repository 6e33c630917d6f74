"""Kafka parity with a real client (kafka-python 2.0.2): offsets by time inside one producer
batch, commit metadata holding a NUL byte, a manual replica assignment, a dynamic broker config,
a Kafka topic config sluice does not act on. Usage: parity_kafka_python.py HOST:PORT"""
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.structs import OffsetAndMetadata

broker = sys.argv[1]
admin = KafkaAdminClient(bootstrap_servers=broker, request_timeout_ms=20000)
node = admin.describe_cluster()["brokers"][0]["node_id"]

# A manual assignment naming this broker, and a Kafka config with no effect here.
admin.create_topics([NewTopic("kp-parity", -1, -1, replica_assignments={0: [node], 1: [node]},
                              topic_configs={"segment.jitter.ms": "100"})])
admin.create_partitions({"kp-parity": NewPartitions(3, [[node]])})
md = admin.describe_topics(["kp-parity"])[0]
assert len(md["partitions"]) == 3, md

# Three records in one batch (linger), timestamps +100, +400, +250.
base = int(time.time() * 1000) - 5000
p = KafkaProducer(bootstrap_servers=broker, linger_ms=500, acks="all")
futs = [p.send("kp-parity", b"v%d" % i, partition=0, timestamp_ms=base + d)
        for i, d in enumerate((100, 400, 250))]
p.flush(10)
assert [f.get(10).offset for f in futs] == [0, 1, 2]
c = KafkaConsumer(bootstrap_servers=broker, group_id="kp-parity-g", enable_auto_commit=False)
tp = TopicPartition("kp-parity", 0)
for target, want in ((50, 0), (150, 1), (300, 1), (400, 1)):
    got = c.offsets_for_times({tp: base + target})[tp]
    assert got is not None and got.offset == want, (target, got, want)
assert c.offsets_for_times({tp: base + 401})[tp] is None

# Commit metadata is bytes-safe.
c.assign([tp])
c.commit({tp: OffsetAndMetadata(2, "Hello\x00world!")})
got = admin.list_consumer_group_offsets("kp-parity-g")[tp]
assert got.offset == 2 and got.metadata == "Hello\x00world!", got
c.close()

# A dynamic broker config (AlterConfigs on the BROKER resource), then described.
res = ConfigResource(ConfigResourceType.BROKER, str(node),
                     configs={"sasl.kerberos.min.time.before.relogin": "58000"})
r = admin.alter_configs([res])
assert r.resources[0][0] == 0, r
r = admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, str(node))])
cfg = {e[0]: e[1] for e in r[0].resources[0][4]}
assert cfg["sasl.kerberos.min.time.before.relogin"] == "58000", cfg
r = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-parity")])
cfg = {e[0]: e[1] for e in r[0].resources[0][4]}
assert cfg["segment.jitter.ms"] == "100", cfg
admin.close()
print("kafka-python parity: ok")
