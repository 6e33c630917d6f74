"""kafka-python 2.0.2: a group of two consumers shares a 4-partition topic; every record is read
once between them; offsets are committed and a restarted consumer resumes after them."""
import sys
import threading

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

broker = sys.argv[1]
KafkaAdminClient(bootstrap_servers=broker).create_topics([NewTopic("kpg", 4, 1)])
p = KafkaProducer(bootstrap_servers=broker, acks="all")
for i in range(400):
    p.send("kpg", value=b"%d" % i, partition=i % 4)
p.flush()

seen = [[], []]
assigned = [0, 0]


def run(idx):
    c = KafkaConsumer("kpg", bootstrap_servers=broker, group_id="kpg-g", auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=6000, session_timeout_ms=6000,
                      heartbeat_interval_ms=500)
    for m in c:
        seen[idx].append(int(m.value))
        c.commit()
    assigned[idx] = len(c.assignment())
    c.close()


threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
allv = sorted(seen[0] + seen[1])
assert sorted(set(allv)) == list(range(400)), (len(allv), len(set(allv)))
assert min(assigned) > 0, assigned  # both members held partitions

for i in range(400, 450):
    p.send("kpg", value=b"%d" % i)
p.flush()
c = KafkaConsumer("kpg", bootstrap_servers=broker, group_id="kpg-g", enable_auto_commit=False,
                  consumer_timeout_ms=5000, auto_offset_reset="earliest")
rest = sorted(int(m.value) for m in c)
c.close()
assert rest == list(range(400, 450)), rest[:5]
print("kafka-python group ok")
