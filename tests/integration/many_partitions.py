"""Steps of test_many_partitions.sh (issue 2: many partitions under a small open-file limit).
Usage: many_partitions.py STEP BROKER [args]
  create BROKER TOPIC N             CreateTopics; prints the error code name (NO_ERROR when created)
  grow BROKER TOPIC N               CreatePartitions to N in total; prints the error code name
  produce BROKER TOPIC N            one acks=all record to each of partitions 0..N-1, all delivered
  txn BROKER TOPIC                  a transaction commits two records (InitProducerId works)
  offline BROKER TOPIC IDX          partition IDX reports an error in Metadata and refuses a
                                    record; partition 0 takes one
  count BROKER TOPIC N              the topic has N partitions holding one record each (plus the
                                    transaction's two and its markers on partitions 0 and 1)"""
import sys

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


step, broker = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": broker})


def outcome(futures):
    for f in futures.values():
        try:
            f.result(timeout=60)
            return "NO_ERROR"
        except KafkaException as e:
            err = e.args[0]
            print("message: %s" % err.str(), file=sys.stderr)
            return err.name()
    return "NONE"


if step == "create":
    topic, n = sys.argv[3], int(sys.argv[4])
    print(outcome(admin.create_topics([NewTopic(topic, n, 1)], operation_timeout=60)))
elif step == "grow":
    topic, n = sys.argv[3], int(sys.argv[4])
    print(outcome(admin.create_partitions([NewPartitions(topic, n)], operation_timeout=60)))
elif step == "produce":
    topic, n = sys.argv[3], int(sys.argv[4])
    errors, done = [], []
    p = Producer({"bootstrap.servers": broker, "acks": "all", "linger.ms": 5,
                  "message.timeout.ms": 60000})

    def cb(err, msg):
        (errors if err else done).append((msg.partition(), err))

    for i in range(n):
        p.produce(topic, value=b"v%d" % i, partition=i, on_delivery=cb)
        p.poll(0)
    p.flush(90)
    if errors or len(done) != n:
        fail("%d of %d delivered, errors: %s" % (len(done), n, errors[:3]))
    print("delivered %d" % n)
elif step == "txn":
    topic = sys.argv[3]
    p = Producer({"bootstrap.servers": broker, "transactional.id": "many-parts",
                  "transaction.timeout.ms": 60000})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(topic, value=b"t0", partition=0)
    p.produce(topic, value=b"t1", partition=1)
    p.commit_transaction(30)
    print("committed")
elif step == "count":
    topic, n = sys.argv[3], int(sys.argv[4])
    md = admin.list_topics(topic, timeout=30).topics[topic]
    if md.error or len(md.partitions) != n:
        fail("metadata: error %s, %d partitions, expected %d" % (md.error, len(md.partitions), n))
    bad = [pm.id for pm in md.partitions.values() if pm.error]
    if bad:
        fail("partitions with errors: %s" % bad[:5])
    c = Consumer({"bootstrap.servers": broker, "group.id": "many-parts-count"})
    tps = [TopicPartition(topic, i) for i in range(n)]
    total = 0
    for tp in tps:
        lo, hi = c.get_watermark_offsets(tp, timeout=30)
        want = 1 if tp.partition > 1 else 3  # plus a transactional record and its marker
        if lo != 0 or hi != want:
            fail("partition %d: offsets [%d, %d), expected [0, %d)" % (tp.partition, lo, hi, want))
        total += hi
    c.close()
    print("records+markers %d" % total)
elif step == "offline":
    topic, idx = sys.argv[3], int(sys.argv[4])
    md = admin.list_topics(topic, timeout=30).topics[topic]
    bad = sorted(pm.id for pm in md.partitions.values() if pm.error)
    if bad != [idx]:
        fail("partitions with a Metadata error: %s, expected [%d]" % (bad[:5], idx))
    p = Producer({"bootstrap.servers": broker, "acks": "all", "message.timeout.ms": 5000,
                  "retries": 0})
    res = {}

    def cb(err, msg):
        res[msg.partition()] = err

    p.produce(topic, value=b"ok", partition=0, on_delivery=cb)
    p.produce(topic, value=b"no", partition=idx, on_delivery=cb)
    p.flush(30)
    if res.get(0) is not None or 0 not in res:
        fail("partition 0: %s" % res.get(0))
    if res.get(idx) is None:
        fail("the offline partition %d took a record" % idx)
    print("offline %d: %s" % (idx, res[idx].name()))
else:
    print(__doc__, file=sys.stderr)
    sys.exit(2)
