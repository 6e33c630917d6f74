"""Shared pieces of the transaction tests (test_transactions.sh): client configurations, a
reader that drains partitions to their end, and failure reporting.

--plain everywhere means: no transactional.id (an idempotent producer whose begin/commit/abort are
no-ops). It is a harness self-check against a broker without transactions; the transactional
expectations do not hold in that mode."""
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

FAST = {"reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200}


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def log(msg):
    print(msg, flush=True)


def err_of(exc):
    """The KafkaError inside a KafkaException (or the error itself)."""
    if isinstance(exc, KafkaException):
        return exc.args[0]
    return exc


def describe(err):
    e = err_of(err)
    if not isinstance(e, KafkaError):
        return repr(e)
    return "%s (%s) fatal=%s retriable=%s txn_requires_abort=%s" % (
        e.name(), e.str(), e.fatal(), e.retriable(), e.txn_requires_abort())


class TxnProducer:
    """A transactional producer, or with plain=True an idempotent one whose transaction calls
    are no-ops (commit flushes)."""

    def __init__(self, broker, txn_id, plain=False, extra=None):
        self.plain = plain
        conf = {"bootstrap.servers": broker, "linger.ms": 5, "acks": "all",
                "retry.backoff.ms": 50}
        conf.update(FAST)
        if plain:
            conf["enable.idempotence"] = True
        else:
            conf["transactional.id"] = txn_id
        conf.update(extra or {})
        self.errors = []
        conf["error_cb"] = self.errors.append
        self.p = Producer(conf)

    def init(self, timeout=30, topic=None):
        if not self.plain:
            self.p.init_transactions(timeout)
        if topic:
            # Topic metadata first: librdkafka otherwise holds a transaction's first records to
            # an unknown topic for up to 1 s (its topic scan) before AddPartitionsToTxn.
            self.p.list_topics(topic, timeout=10)

    def begin(self):
        if not self.plain:
            self.p.begin_transaction()

    def commit(self, timeout=30):
        if self.plain:
            left = self.p.flush(timeout)
            if left:
                raise KafkaException(KafkaError(KafkaError._TIMED_OUT, "flush: %d left" % left))
        else:
            self.p.commit_transaction(timeout)

    def abort(self, timeout=30):
        if not self.plain:
            self.p.abort_transaction(timeout)

    def produce_all(self, topic, items):
        """items: (partition, value) pairs. Returns the delivery results list, filled as
        reports arrive: (partition, value, error-or-None, offset)."""
        results = []

        def dr(err, msg):
            results.append((msg.partition(), msg.value().decode(), err, msg.offset()))

        for part, value in items:
            while True:
                try:
                    self.p.produce(topic, value=value, key=value, partition=part, on_delivery=dr)
                    break
                except BufferError:
                    self.p.poll(0.05)
        return results


def consumer(broker, isolation, group=None, extra=None):
    conf = {"bootstrap.servers": broker, "group.id": group or "txn-reader",
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "isolation.level": isolation, "enable.partition.eof": True,
            "fetch.wait.max.ms": 100}
    conf.update(FAST)
    conf.update(extra or {})
    return Consumer(conf)


def read_all(broker, topic, partitions, isolation, idle=10.0, deadline=30.0):
    """Reads the partitions from the beginning until each has reported end-of-partition (or
    nothing arrived for IDLE seconds). Returns {partition: [value, ...]} in offset order."""
    c = consumer(broker, isolation)
    c.assign([TopicPartition(topic, p, -2) for p in partitions])  # -2: OFFSET_BEGINNING
    out = {p: [] for p in partitions}
    eof = set()
    start = last = time.time()
    while len(eof) < len(partitions):
        now = time.time()
        if now - start > deadline:
            fail("%s reader of %s: no end after %.0fs (eof on %s)" % (isolation, topic, deadline,
                                                                    sorted(eof)))
        if now - last > idle:
            break
        for m in c.consume(500, 0.2):
            last = time.time()
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                    continue
                fail("%s reader of %s: %s" % (isolation, topic, describe(m.error())))
            eof.discard(m.partition())
            out[m.partition()].append(m.value().decode())
    c.close()
    return out


def first_diff(got, want):
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return "at #%d got %r, want %r" % (i, g, w)
    if len(got) != len(want):
        return "got %d records, want %d (next: got %r, want %r)" % (
            len(got), len(want), got[len(want):len(want) + 1], want[len(got):len(got) + 1])
    return None
