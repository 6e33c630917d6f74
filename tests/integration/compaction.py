"""Log compaction seen by confluent-kafka-python (librdkafka).

  compaction.py produce BROKER   creates the compacted topic, produces versions, tombstones and
                                 filler, commits a group offset, waits for the cleaner to keep one
                                 record per key, then for the tombstones to expire
  compaction.py txn BROKER       a transactional producer commits, aborts, commits: after the
                                 clean, one committed value per key, the aborted ones gone
  compaction.py verify BROKER    (after a broker restart) reads the topic again: still compacted,
                                 and the group resumes from its committed offset
Every wait polls with a deadline; nothing passes on a fixed sleep."""
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

phase, broker = sys.argv[1], sys.argv[2]
TOPIC = "compacted"
KEYS = 20
VERSIONS = 40
DEAD = {b"k%d" % i for i in range(5)}  # tombstoned at the end
LIVE = {b"k%d" % i for i in range(5, KEYS)}
DEADLINE = 90


def read_all():
    """Every record from the beginning: [(offset, key, value)], offsets checked increasing."""
    c = Consumer({"bootstrap.servers": broker, "group.id": "reader-%f" % time.time(),
                  "enable.auto.commit": False, "auto.offset.reset": "error"})
    c.assign([TopicPartition(TOPIC, 0, -2)])  # OFFSET_BEGINNING
    _, high = c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
    out, last = [], -1
    end = time.time() + 30
    while time.time() < end and last < high - 1:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                break
            raise SystemExit("consume error: %s" % m.error())
        assert m.offset() > last, ("offsets not increasing", last, m.offset())
        last = m.offset()
        out.append((m.offset(), m.key(), m.value()))
    c.close()
    return out, high


def compacted(recs, want_tombstones):
    """Whether every key below the filler appears once, with its latest value."""
    seen = {}
    for off, k, v in recs:
        if k == b"filler":
            continue
        seen.setdefault(k, []).append((off, v))
    for k in LIVE:
        vs = seen.get(k, [])
        if len(vs) != 1 or vs[0][1] != b"%s-v%d" % (k, VERSIONS - 1):
            return False
    for k in DEAD:
        vs = seen.get(k, [])
        if want_tombstones and (len(vs) != 1 or vs[0][1] is not None):
            return False
        if not want_tombstones and vs:
            return False
    return True


def wait_until(what, fn):
    end = time.time() + DEADLINE
    while time.time() < end:
        recs, high = read_all()
        if fn(recs):
            return recs, high
        time.sleep(0.5)
    raise SystemExit("timed out waiting for %s; last read: %d records" % (what, len(recs)))


def group_consumer():
    c = Consumer({"bootstrap.servers": broker, "group.id": "cmp-group",
                  "enable.auto.commit": False, "auto.offset.reset": "error"})
    c.assign([TopicPartition(TOPIC, 0)])  # from the committed offset
    return c


if phase == "produce":
    admin = AdminClient({"bootstrap.servers": broker})
    fs = admin.create_topics([NewTopic(TOPIC, 1, 1, config={
        "cleanup.policy": "compact", "segment.bytes": "4096",
        "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "8000"})])
    for f in fs.values():
        f.result(timeout=10)
    res = ConfigResource(ConfigResource.Type.TOPIC, TOPIC)
    cfg = admin.describe_configs([res])[res].result(timeout=10)
    assert cfg["cleanup.policy"].value == "compact", cfg["cleanup.policy"].value
    assert cfg["delete.retention.ms"].value == "8000", cfg["delete.retention.ms"].value
    assert cfg["min.cleanable.dirty.ratio"].value == "0.01"

    p = Producer({"bootstrap.servers": broker, "linger.ms": 0, "message.timeout.ms": 10000,
                  "retries": 0})
    # A record without a key is refused on a compacted topic.
    errs = []
    p.produce(TOPIC, value=b"no key", on_delivery=lambda e, m: errs.append(e))
    p.flush(15)
    assert errs and errs[0] is not None, errs
    assert errs[0].code() in (87, 2)  # INVALID_RECORD, CORRUPT_MESSAGE (v<8), errs[0]

    for v in range(VERSIONS):
        for i in range(KEYS):
            p.produce(TOPIC, key=b"k%d" % i, value=b"k%d-v%d" % (i, v))
        p.flush(10)
    for k in sorted(DEAD):
        p.produce(TOPIC, key=k, value=None)  # tombstone
    p.flush(10)
    # A consumer group reads part of it and commits an offset that compaction will remove.
    c = group_consumer()
    c.assign([TopicPartition(TOPIC, 0, 0)])
    got = 0
    while got < 57:
        m = c.poll(5.0)
        assert m is not None and not m.error(), m and m.error()
        got += 1
    c.commit(offsets=[TopicPartition(TOPIC, 0, 57)], asynchronous=False)
    c.close()
    # Filler on one key pushes the records above into closed segments the cleaner may take.
    for i in range(400):
        p.produce(TOPIC, key=b"filler", value=b"f" * 100)
    p.flush(10)

    recs, high = wait_until("one record per key, tombstones kept", lambda r: compacted(r, True))
    print("compacted: %d records left of %d offsets" % (len(recs), high))
    recs, high = wait_until("tombstones removed", lambda r: compacted(r, False))
    print("tombstones gone: %d records left" % len(recs))
    # The group resumes at offset 57 (compacted away): the next record that exists, no error.
    c = group_consumer()
    m = c.poll(10.0)
    assert m is not None and not m.error(), m and m.error()
    assert m.offset() >= 57, m.offset()
    c.close()

elif phase == "txn":
    # Transactions on a compacted topic: committed values compact like any other, an aborted
    # transaction's records are dropped, its marker stays (read_committed still works).
    admin = AdminClient({"bootstrap.servers": broker})
    for f in admin.create_topics([NewTopic("compacted-txn", 1, 1, config={
            "cleanup.policy": "compact", "segment.bytes": "4096",
            "min.cleanable.dirty.ratio": "0.01"})]).values():
        f.result(timeout=10)
    tp = Producer({"bootstrap.servers": broker, "transactional.id": "cmp-txn"})
    tp.init_transactions(30)
    for tag, commit, keys in (("v1", True, range(10)), ("v2", False, range(10)),
                              ("v3", True, range(5))):
        tp.begin_transaction()
        for i in keys:
            tp.produce("compacted-txn", key=b"t%d" % i, value=tag.encode())
        tp.flush(10)
        (tp.commit_transaction if commit else tp.abort_transaction)(30)
    fp = Producer({"bootstrap.servers": broker})
    for i in range(300):
        fp.produce("compacted-txn", key=b"filler", value=b"f" * 100)
    fp.flush(10)
    want = {b"t%d" % i: (b"v3" if i < 5 else b"v1") for i in range(10)}

    def read_txn(isolation):
        c = Consumer({"bootstrap.servers": broker, "group.id": "txn-%f" % time.time(),
                      "enable.auto.commit": False, "isolation.level": isolation,
                      "enable.partition.eof": True})
        c.assign([TopicPartition("compacted-txn", 0, -2)])
        got, end = {}, time.time() + 30
        while time.time() < end:
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    break
                raise SystemExit("consume error: %s" % m.error())
            if m.key() != b"filler":
                got.setdefault(m.key(), []).append(m.value())
        c.close()
        return got

    end = time.time() + DEADLINE
    while True:
        unc = read_txn("read_uncommitted")
        if all(unc.get(k) == [v] for k, v in want.items()):
            break
        if time.time() > end:
            raise SystemExit("transactional topic not compacted: %s" % unc)
        time.sleep(0.5)
    com = read_txn("read_committed")
    assert all(com.get(k) == [v] for k, v in want.items()), com
    print("transactional topic compacted: %s" % sorted(unc.items()))

elif phase == "verify":
    recs, high = read_all()
    assert compacted(recs, False), "not compacted after restart: %d records" % len(recs)
    c = group_consumer()
    m = c.poll(10.0)
    assert m is not None and not m.error(), m and m.error()
    assert m.offset() >= 57, m.offset()
    c.close()
    # Appends go on after the last offset.
    p = Producer({"bootstrap.servers": broker})
    p.produce(TOPIC, key=b"k5", value=b"after")
    p.flush(10)
    _, high2 = Consumer({"bootstrap.servers": broker, "group.id": "x"}).get_watermark_offsets(
        TopicPartition(TOPIC, 0), timeout=10)
    assert high2 == high + 1, (high, high2)
    print("verified after restart: %d records" % len(recs))
else:
    raise SystemExit("usage: compaction.py produce|txn|verify BROKER")
