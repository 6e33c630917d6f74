"""Consume-transform-produce, exactly once: reads IN (read_committed, group "ctp", partitions
assigned by hand), writes out-<value> to the same partition of OUT, and every BATCH records sends
the consumed positions with the output in one transaction (send_offsets_to_transaction +
commit_transaction). transactional.id is fixed, so a restarted loop fences its killed predecessor
and the broker aborts what that one left open.

Errors: retriable -> retry the call; abortable -> abort_transaction and rewind the consumer to
the committed offsets; fatal (or anything an abort cannot clear) -> recreate producer and
consumer. Survives kill -9 of itself (the test restarts it) and of the broker.
Exits 0 once every input record up to the end offsets seen at start is committed.
Usage: txn_ctp_loop.py BROKER IN OUT [--rate RECORDS_PER_S] [--batch N] [--plain]
  --plain: idempotent producer + consumer.commit after each flush (at-least-once; self-check)"""
import argparse
import time

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from txn_common import TxnProducer, consumer, describe, err_of, log

ap = argparse.ArgumentParser()
ap.add_argument("broker")
ap.add_argument("in_topic")
ap.add_argument("out_topic")
ap.add_argument("--rate", type=float, default=1000.0)
ap.add_argument("--batch", type=int, default=200)
ap.add_argument("--plain", action="store_true")
a = ap.parse_args()
PARTS = [0, 1, 2]
TXN_ID, GROUP = "ctp-loop", "ctp"


class Recreate(Exception):
    pass


def retry(fn, what, any_error=False, tries=100):
    """Calls fn until it succeeds; retries retriable errors (any non-fatal one with any_error,
    for consumer look-ups); raises the others."""
    for _ in range(tries):
        try:
            return fn()
        except KafkaException as e:
            err = err_of(e)
            if err.fatal():
                raise Recreate("%s: %s" % (what, describe(err)))
            if err.txn_requires_abort() or not (err.retriable() or any_error):
                raise
            log("%s: retrying after %s" % (what, describe(err)))
            time.sleep(0.1)
    raise Recreate("%s: still failing after %d tries" % (what, tries))


class Session:
    def __init__(self):
        self.prod = TxnProducer(a.broker, TXN_ID, a.plain, {"transaction.timeout.ms": 10000})
        retry(lambda: self.prod.init(30, a.out_topic), "init_transactions")
        # The consumer's committed offsets are read only after init_transactions: by then the
        # broker has completed (or aborted) whatever our predecessor left open.
        self.cons = consumer(a.broker, "read_committed", GROUP)
        self.ends = {}
        for p in PARTS:
            lo_hi = retry(lambda: self.cons.get_watermark_offsets(
                TopicPartition(a.in_topic, p), timeout=5), "watermarks", any_error=True)
            self.ends[p] = lo_hi[1]
        self.pos = {}
        self.rewind()
        self.start, self.done_here = time.time(), 0

    def rewind(self):
        """Assigns the input at the committed offsets (the start of what is not yet done)."""
        parts = [TopicPartition(a.in_topic, p) for p in PARTS]
        committed = retry(lambda: self.cons.committed(parts, timeout=5), "committed",
                          any_error=True)
        self.pos = {tp.partition: max(tp.offset, 0) for tp in committed}
        self.cons.unassign()
        self.cons.assign([TopicPartition(a.in_topic, p, self.pos[p]) for p in PARTS])
        log("at committed offsets %s (ends %s)" % (self.pos, self.ends))

    def done(self):
        return all(self.pos[p] >= self.ends[p] for p in PARTS)

    def committed_total(self):
        return sum(self.pos.values())

    def one_transaction(self):
        """Consumes up to BATCH records, produces their transforms, commits. Returns the count."""
        self.prod.begin()
        n = 0
        while n < a.batch:
            msgs = self.cons.consume(min(100, a.batch - n), 0.1)
            for m in msgs:
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(m.error())
                while True:
                    try:
                        self.prod.p.produce(a.out_topic, value=b"out-" + m.value(), key=m.key(),
                                            partition=m.partition())
                        break
                    except BufferError:
                        self.prod.p.poll(0.05)
                self.pos[m.partition()] = m.offset() + 1
                n += 1
            self.prod.p.poll(0)
            if not msgs and self.done():
                break
        # Pace the run (inside the open transaction, so that most of the test's kills leave one
        # open with records in it) so that the kills land mid-stream.
        self.done_here += n
        lag = self.done_here / a.rate - (time.time() - self.start)
        if lag > 0:
            time.sleep(lag)
        # Positions tracked per delivered record: what consumer.position() reports, and
        # unambiguous across the re-assignments of rewind().
        offsets = [TopicPartition(a.in_topic, p, self.pos[p]) for p in PARTS]
        if a.plain:
            retry(lambda: self.prod.commit(30), "flush")
            retry(lambda: self.cons.commit(offsets=offsets, asynchronous=False), "commit",
                  any_error=True)
        else:
            meta = self.cons.consumer_group_metadata()
            retry(lambda: self.prod.p.send_offsets_to_transaction(offsets, meta, 30),
                  "send_offsets_to_transaction")
            retry(lambda: self.prod.commit(30), "commit_transaction")
        return n

    def run(self):
        while not self.done():
            try:
                n = self.one_transaction()
            except KafkaException as e:
                err = err_of(e)
                if err.fatal():
                    raise Recreate(describe(err))
                log("transaction failed: %s; aborting" % describe(err))
                try:
                    retry(lambda: self.prod.abort(30), "abort_transaction")
                except KafkaException as e2:
                    raise Recreate("abort failed: %s" % describe(e2))
                self.rewind()
                continue
            log("committed %d/%d (+%d)" % (self.committed_total(), sum(self.ends.values()), n))

    def close(self):
        try:
            self.cons.close()
        except Exception as e:  # a consumer in a bad state: we are dropping it anyway
            log("consumer close: %r" % e)
        self.prod.p.purge()
        self.prod = None


attempt = 0
while True:
    attempt += 1
    log("session %d: start" % attempt)
    s = None
    try:
        s = Session()
        s.run()
        s.close()
        break
    except Recreate as e:
        log("session %d: fatal: %s; recreating producer and consumer" % (attempt, e))
        if s is not None:
            s.close()
        time.sleep(0.2)
log("done: every input record up to %s processed and committed" % s.ends)
