"""Scenario steps of test_transactions.sh. Each prints what it saw and exits 1 with a FAIL: line.
Usage: txn_scenarios.py STEP BROKER TOPIC [args] [--plain]
  commit-abort BROKER TOPIC              1: commit A, abort B, commit C; check both isolation levels
  fence BROKER TOPIC                     2: a second producer with the same transactional.id fences
  abandon-producer BROKER TOPIC READY TIMEOUT_MS
                                         3: begin, produce x0..x9 to partition 0, write READY, hang
  abandon-observe BROKER TOPIC READY TIMEOUT_MS
                                         3: after the kill -9: y0..y9 stay invisible to
                                            read_committed until the abandoned txn times out
  ctp-verify BROKER IN OUT N             4: the output holds out-<value> exactly once per input"""
import collections
import os
import sys
import time

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from txn_common import (TxnProducer, consumer, describe, err_of, fail, first_diff, log,
                        read_all)

PLAIN = "--plain" in sys.argv
args = [a for a in sys.argv[1:] if a != "--plain"]
if len(args) < 3:
    print(__doc__, file=sys.stderr)
    sys.exit(2)
step, broker, topic = args[0], args[1], args[2]
PARTS = [0, 1, 2]


def delivered_ok(results, n, what):
    bad = [r for r in results if r[2] is not None]
    if bad or len(results) != n:
        fail("%s: %d of %d delivered, errors: %s" % (what, len(results) - len(bad), n,
                                                      [describe(r[2]) for r in bad[:3]]))


def commit_abort():
    p = TxnProducer(broker, "txn-commit-abort", PLAIN)
    p.init(topic=topic)
    batches = {}
    for name, action in (("a", "commit"), ("b", "abort"), ("c", "commit")):
        batches[name] = [(i % 3, "%s%d" % (name, i)) for i in range(100)]
        p.begin()
        res = p.produce_all(topic, batches[name])
        if action == "abort":
            # Flush first, so the aborted records really are in the log (abort_transaction
            # would otherwise purge what is still queued in the client).
            if p.p.flush(30):
                fail("txn B: flush before abort did not finish")
            delivered_ok(res, 100, "txn B produce")
            p.abort()
        else:
            p.commit()
            delivered_ok(res, 100, "txn %s" % name.upper())
        log("txn %s: 100 records, %s" % (name.upper(), "aborted" if action == "abort" else
                                         "committed"))

    def per_part(names):
        return {q: [v for n in names for (pp, v) in batches[n] if pp == q] for q in PARTS}

    want = {"read_committed": per_part("abc" if PLAIN else "ac"),
            "read_uncommitted": per_part("abc")}
    for iso in ("read_committed", "read_uncommitted"):
        got = read_all(broker, topic, PARTS, iso)
        for q in PARTS:
            d = first_diff(got[q], want[iso][q])
            if d:
                fail("%s consumer, partition %d: %s" % (iso, q, d))
        log("%s consumer: %d records, as expected per partition" % (
            iso, sum(len(v) for v in got.values())))


def fence():
    if PLAIN:
        fail("fence has no plain mode")
    fenced_codes = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                    KafkaError.INVALID_PRODUCER_EPOCH}
    p1 = TxnProducer(broker, "txn-fence")
    p1.init(topic=topic)
    p1.begin()
    res = p1.produce_all(topic, [(0, "z%d" % i) for i in range(10)])
    if p1.p.flush(30):
        fail("P1: flush of its open transaction did not finish")
    delivered_ok(res, 10, "P1 produce in its open transaction")
    log("P1: 10 records in an open transaction")

    p2 = TxnProducer(broker, "txn-fence")
    t = time.time()
    p2.init(topic=topic)
    log("P2: init_transactions with the same transactional.id in %.2fs" % (time.time() - t))

    # The zombie goes on: one more record, then commit. Both must end in a fatal fenced error.
    errs = []
    late = []
    try:
        late = p1.produce_all(topic, [(0, "z-late")])
        p1.p.poll(0)
    except KafkaException as e:
        errs.append(err_of(e))
    try:
        p1.commit(15)
        fail("P1 (fenced) committed its transaction; errors seen: %s" % [describe(e) for e in
                                                                         errs + p1.errors])
    except KafkaException as e:
        errs.append(err_of(e))
    try:  # the fatal error's callback may raise here too, when it comes after the commit's
        p1.p.poll(0)
    except KafkaException as e:
        errs.append(err_of(e))
    e = errs[-1]
    log("P1 commit: %s" % describe(e))
    if not e.fatal():
        fail("P1 commit error is not fatal: %s" % describe(e))
    if e.code() not in fenced_codes:
        fail("P1 commit error is not a fenced error (_FENCED, PRODUCER_FENCED or "
             "INVALID_PRODUCER_EPOCH): %s" % describe(e))
    if any(r[2] is None for r in late):
        fail("P1's record produced after the fencing was acknowledged: %s" % late)

    p2.begin()
    res = p2.produce_all(topic, [(0, "w%d" % i) for i in range(10)])
    p2.commit()
    delivered_ok(res, 10, "P2 produce")
    log("P2: committed 10 records")

    want = ["w%d" % i for i in range(10)]
    rc = read_all(broker, topic, [0], "read_committed")[0]
    d = first_diff(rc, want)
    if d:
        fail("read_committed after fencing (want only P2's w0..w9): %s; got %s" % (d, rc[:20]))
    ru = read_all(broker, topic, [0], "read_uncommitted")[0]
    d = first_diff(ru, ["z%d" % i for i in range(10)] + want)
    if d:
        fail("read_uncommitted after fencing (want P1's z0..z9 then w0..w9): %s; got %s" %
             (d, ru[:25]))
    log("read_committed sees only P2's records; read_uncommitted also P1's aborted z0..z9")
    p1.p.purge()  # its fenced z-late: quiet the "still in queue" warning at exit


def abandon_producer(ready, timeout_ms):
    p = TxnProducer(broker, "txn-abandoned", PLAIN, {"transaction.timeout.ms": timeout_ms})
    p.init(topic=topic)
    p.begin()
    t_begin = time.time()
    res = p.produce_all(topic, [(0, "x%d" % i) for i in range(10)])
    if p.p.flush(30):
        fail("abandoned producer: flush did not finish")
    delivered_ok(res, 10, "abandoned producer")
    with open(ready + ".tmp", "w") as f:
        f.write("%.6f\n" % t_begin)
    os.rename(ready + ".tmp", ready)
    log("abandoned producer: x0..x9 in an open transaction %.2fs after it began; waiting to be "
        "killed" % (time.time() - t_begin))
    while True:
        time.sleep(1)


def abandon_observe(ready, timeout_ms):
    t_begin = float(open(ready).read())
    timeout = timeout_ms / 1000.0
    log("observer started %.2fs after the abandoned transaction began" % (time.time() - t_begin))
    # y0..y9 from a non-transactional producer, after the open transaction on partition 0.
    yp = TxnProducer(broker, None, True)
    yp.init(topic=topic)
    res = yp.produce_all(topic, [(0, "y%d" % i) for i in range(10)])
    if yp.p.flush(30):
        fail("y producer: flush did not finish")
    delivered_ok(res, 10, "y producer")
    t_y = time.time()
    log("y0..y9 acknowledged %.2fs after the abandoned transaction began" % (t_y - t_begin))
    if not PLAIN and t_y > t_begin + timeout - 0.5:
        fail("setup too slow: y records acknowledged %.2fs after the transaction began, too "
             "close to its %.1fs timeout to observe blocking" % (t_y - t_begin, timeout))
    rc = consumer(broker, "read_committed")
    ru = consumer(broker, "read_uncommitted")
    for c in (rc, ru):
        c.assign([TopicPartition(topic, 0, -2)])
    seen = {"rc": [], "ru": []}
    when = {"rc": [], "ru": []}
    deadline = t_begin + timeout + 15
    while len(seen["rc"]) < 10 + (10 if PLAIN else 0) or len(seen["ru"]) < 20:
        if time.time() > deadline:
            break
        for name, c in (("rc", rc), ("ru", ru)):
            for m in c.consume(100, 0.05):
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        fail("%s consumer: %s" % (name, describe(m.error())))
                    continue
                seen[name].append(m.value().decode())
                when[name].append(time.time())
    rc.close()
    ru.close()
    xs = ["x%d" % i for i in range(10)]
    ys = ["y%d" % i for i in range(10)]
    d = first_diff(seen["ru"], xs + ys)
    if d:
        fail("read_uncommitted consumer (want x0..x9 then y0..y9): %s" % d)
    log("read_uncommitted saw x0..x9 and y0..y9 %.2fs after the transaction began" %
        (when["ru"][-1] - t_begin))
    if PLAIN:
        d = first_diff(seen["rc"], xs + ys)
        if d:
            fail("plain: read_committed consumer: %s" % d)
        return
    if not seen["rc"]:
        fail("read_committed consumer got nothing %.1fs after the transaction began (timeout "
             "%.1fs): the abandoned transaction was never aborted" % (deadline - t_begin,
                                                                      timeout))
    first = when["rc"][0] - t_begin
    log("read_committed got its first record %.2fs after the abandoned transaction began "
        "(transaction.timeout.ms=%d)" % (first, timeout_ms))
    d = first_diff(seen["rc"], ys)
    if d:
        fail("read_committed consumer (want only y0..y9, never the abandoned x0..x9): %s; "
             "got %s" % (d, seen["rc"][:20]))
    if first < timeout - 0.05:
        fail("read_committed delivered y records %.2fs after the transaction began, before its "
             "%.1fs timeout: the open transaction did not hold back the LSO" % (first, timeout))
    if first > timeout + 1.0 + 4.0:
        fail("read_committed waited %.2fs; the abandoned transaction should be aborted about "
             "%.1fs after it began (timeout + <=1s check)" % (first, timeout + 1.0))
    rc2 = read_all(broker, topic, [0], "read_committed")[0]
    d = first_diff(rc2, ys)
    if d:
        fail("fresh read_committed consumer of partition 0 (want y0..y9): %s" % d)


def ctp_verify(out_topic, n):
    in_topic = topic
    inp = read_all(broker, in_topic, PARTS, "read_uncommitted")
    vals = [v for q in PARTS for v in inp[q]]
    if len(vals) != n or len(set(vals)) != n:
        fail("input topic %s: %d records, %d distinct, want %d" % (in_topic, len(vals),
                                                                   len(set(vals)), n))
    out = read_all(broker, out_topic, PARTS, "read_committed")
    got = collections.Counter(v for q in PARTS for v in out[q])
    want = collections.Counter("out-" + v for v in vals)
    missing = want - got
    dups = {v: c - 1 for v, c in got.items() if c > 1}
    extra = [v for v in got if v not in want]
    total = sum(got.values())
    log("output: %d records, %d distinct; missing %d, duplicated %d, unexpected %d" % (
        total, len(got), len(missing), sum(dups.values()), len(extra)))
    if extra:
        fail("output has records that match no input: %s" % extra[:5])
    if missing:
        fail("lost: %d input records have no output, e.g. %s" % (len(missing),
                                                                  sorted(missing)[:5]))
    if dups and not PLAIN:
        fail("duplicates: %d output records more than once, e.g. %s" % (
            len(dups), sorted(dups.items())[:5]))
    if PLAIN:
        return
    # Offsets are committed with the output, one partition to the same partition: each output
    # partition is its input partition, transformed, in order.
    for q in PARTS:
        d = first_diff(out[q], ["out-" + v for v in inp[q]])
        if d:
            fail("output partition %d is not input partition %d in order: %s" % (q, q, d))
    log("every out-<value> exactly once, in input order per partition")


try:
    if step == "commit-abort":
        commit_abort()
    elif step == "fence":
        fence()
    elif step == "abandon-producer":
        abandon_producer(args[3], int(args[4]))
    elif step == "abandon-observe":
        abandon_observe(args[3], int(args[4]))
    elif step == "ctp-verify":
        ctp_verify(args[3], int(args[4]))
    else:
        fail("unknown step %s" % step)
except KafkaException as e:
    fail("%s: unexpected Kafka error: %s" % (step, describe(e)))
