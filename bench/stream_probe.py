"""Measurements of a running stream pipeline, for bench/run-stream-bench and bench/run-stream-crash.
  stream_probe.py latency BROKER IN OUT STOPFILE WARMUP_S WAIT_MS
      reads OUT (read_committed) until STOPFILE exists and 3 s pass without records, then IN's
      record timestamps (the Nexmark event's dateTime: its intended send time, the generator
      being paced). Per output record: receive time minus the timestamp of the input record
      that triggered it, for the records whose trigger came WARMUP_S or more after IN's first
      record. The trigger, with WAIT_MS "-": the input whose processing emitted the record, its
      timestamp from the sluice.ts header's `in` (stateless queries and joins). With WAIT_MS a
      number: the record is a window result (timestamp window end - 1) that fired when the
      watermark (max input timestamp - watermark_delay - 1, the minimum over input partitions)
      passed its end plus grace, so its trigger is the first input record, in each partition's
      order, whose timestamp reaches end + WAIT_MS (WAIT_MS = watermark_delay + grace + any wait
      the plan adds), taken in the partition that got there last: the record whose watermark
      advance closed the window. Prints "n=... p50_ms=... p99_ms=... max_ms=... min_ms=...
      end_p50_ms=... end_p99_ms=... early=... untriggered=...": end_* are receive time minus the
      window end (or minus ts.in for WAIT_MS "-"): the latency a user sees from the event time
      the result is about, the watermark's wait included; early counts records whose
      `emit` (sluice.ts) is over 10 ms before their trigger (a check: a WAIT_MS larger than the
      plan's wait makes every window result early; 10 ms covers the engine's cached clock),
      untriggered those with no input at end + WAIT_MS (never expected).
  stream_probe.py crash BROKER IN OUT STOPFILE KILLFILE
      the same reading; KILLFILE holds the epoch ms of the kill -9. Then compares OUT with IN's
      bids (q0 passes each bid unchanged): lost and duplicated records, and how long after the
      kill the first record processed by the restarted instance (its sluice.ts `recv` after the
      kill) became visible. Prints "n=... lost=... duplicated=... resume_ms=...". """
import bisect
import collections
import os
import sys
import time

from confluent_kafka import Consumer, TopicPartition


STAGES = {"in": 0, "recv": 1, "emit": 2}


def stage(m, name):
    """A stage time of an output record (epoch ms) from its "sluice.ts" header, "in,recv,emit"
    (",,emit" for a window fired by the watermark); None when absent."""
    for k, v in m.headers() or []:
        if k == "sluice.ts":
            f = v.split(b",")[STAGES[name]]
            return int(f) if f else None
    return None


def follow(broker, topic, stopfile):
    c = Consumer({"bootstrap.servers": broker, "group.id": "probe-%f" % time.time(),
                  "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    c.subscribe([topic])
    out, last = [], time.time()
    while True:
        ms = c.consume(1000, 0.2)
        now = time.time()
        for m in ms:
            if not m.error():
                out.append((now * 1000.0, m))
        if ms:
            last = now
        if os.path.exists(stopfile) and now - last > 3:
            break
    c.close()
    return out


def read_all(broker, topic, ts=False):
    """Every record of topic (read_uncommitted), as values, or with ts as {partition: [record
    timestamp in offset order]}."""
    c = Consumer({"bootstrap.servers": broker, "group.id": "probe-%f" % time.time(),
                  "enable.auto.commit": False, "enable.partition.eof": True})
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    left, out, by_part = set(parts), [], {p: [] for p in parts}
    while left:
        for m in c.consume(1000, 1.0):
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    left.discard(m.partition())
            elif ts:
                by_part[m.partition()].append(m.timestamp()[1])
            else:
                out.append(m.value())
    c.close()
    return by_part if ts else out


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def latency(broker, inp, out, stop, warmup, wait):
    """The latency mode (see the top of the file): the summary line."""
    recs = follow(broker, out, stop)
    # Per partition, the running maximum of the timestamps (what the watermark follows) and the
    # record that set each: the first record at or past T is where the running maximum gets to T.
    runs = []
    for tss in read_all(broker, inp, ts=True).values():
        hi, run = None, []
        for t in tss:
            hi = t if hi is None or t > hi else hi
            run.append(hi)
        if run:
            runs.append(run)
    first = min(r[0] for r in runs) if runs else 0

    def trigger(t):
        """The timestamp of the input record that took the last partition to t, or None."""
        got = []
        for run in runs:
            i = bisect.bisect_left(run, t)
            if i == len(run):
                return None
            got.append(run[i])
        return max(got) if got else None

    lat, end_lat, early, untriggered = [], [], 0, 0
    for now, m in recs:
        if wait is None:
            trig = stage(m, "in")
            end = trig
        else:
            end = m.timestamp()[1] + 1
            trig = trigger(end + wait)
        if trig is None:
            untriggered += 1
            continue
        if trig < first + warmup * 1000:
            continue
        emit = stage(m, "emit")
        if emit is not None and emit < trig - 10:  # the engine's clock is read every 64 records
            early += 1
        lat.append(now - trig)
        end_lat.append(now - end)
    lat.sort()
    end_lat.sort()
    nan = float("nan")
    return ("n=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f min_ms=%.1f end_p50_ms=%.1f end_p99_ms=%.1f"
            " early=%d untriggered=%d" %
            (len(lat), pct(lat, 0.5), pct(lat, 0.99), lat[-1] if lat else nan,
             lat[0] if lat else nan, pct(end_lat, 0.5), pct(end_lat, 0.99), early, untriggered))


def main():
    mode, broker = sys.argv[1], sys.argv[2]
    if mode == "latency":
        inp, out, stop, warmup = sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6])
        wait = None if sys.argv[7] == "-" else int(sys.argv[7])
        print(latency(broker, inp, out, stop, warmup, wait))
        return
    inp, out, stop, killfile = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
    recs = follow(broker, out, stop)
    kill_ms = int(open(killfile).read().split()[0])
    after = [t for t, m in recs if (stage(m, "recv") or 0) > kill_ms]
    resume = min(after) - kill_ms if after else float("nan")
    want = collections.Counter(v for v in read_all(broker, inp) if v.startswith(b'{"event_type":2'))
    got = collections.Counter(m.value() for _, m in recs)
    lost, dup = want - got, got - want
    print("n=%d expected=%d lost=%d duplicated=%d resume_ms=%.0f" %
          (len(recs), sum(want.values()), sum(lost.values()), sum(dup.values()), resume))


main()
