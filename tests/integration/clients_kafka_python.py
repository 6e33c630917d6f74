"""kafka-python 2.0.2 against sluice: produce (with keys, headers, gzip), consume by assignment."""
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

broker = sys.argv[1]
admin = KafkaAdminClient(bootstrap_servers=broker)
admin.create_topics([NewTopic("kpy", num_partitions=2, replication_factor=1)])

prod = KafkaProducer(bootstrap_servers=broker, acks="all", compression_type="gzip")
futs = [prod.send("kpy", key=b"k%d" % i, value=b"v%d" % i, partition=i % 2,
                  headers=[("hk", b"hv")]) for i in range(300)]
prod.flush()
offsets = [f.get(timeout=10).offset for f in futs]
assert sorted(offsets[0::2]) == list(range(150)), offsets[:6]
prod.close()

cons = KafkaConsumer(bootstrap_servers=broker, enable_auto_commit=False,
                     consumer_timeout_ms=3000, auto_offset_reset="earliest")
cons.assign([TopicPartition("kpy", 0), TopicPartition("kpy", 1)])
cons.seek_to_beginning()
got = [(m.partition, m.offset, m.key, m.value, m.headers) for m in cons]
cons.close()
assert len(got) == 300, len(got)
assert all(h == [("hk", b"hv")] for (_, _, _, _, h) in got)
p0 = [o for (p, o, _, _, _) in got if p == 0]
assert p0 == list(range(150)), p0[:5]
print("kafka-python ok")
