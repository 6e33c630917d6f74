"""Log cleaner throughput, and what a clean costs a producer on another topic.

  /usr/bin/python3 bench/compact_bench.py [BUILD]      (make bench-compact)

Starts a broker on loopback ports in a temp dir, fills a compacted topic (16 MiB segments) with
RECORDS records of VALUE_BYTES over KEYS keys while min.compaction.lag.ms holds the cleaner back,
measures a paced acks=all producer (RATE msg/s, one 100-byte record each) on another topic for
10 s, then lets the cleaner go (min.compaction.lag.ms=0) and measures the same producer until the
clean is logged. Reports the cleaner's MB/s (bytes of the segments it read over the time the clean
took, from its op=clean log line) and the producer's p50/p99/max in both phases.
Environment: RECORDS (1000000), KEYS (10000), VALUE_BYTES (200), RATE (1000)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
RECORDS = int(os.environ.get("RECORDS", 1000000))
KEYS = int(os.environ.get("KEYS", 10000))
VALUE_BYTES = int(os.environ.get("VALUE_BYTES", 200))
RATE = int(os.environ.get("RATE", 1000))
SEG = str(16 << 20)

tmp = tempfile.mkdtemp(prefix="sluice-bench-compact.")
log = open(os.path.join(tmp, "broker.log"), "w")
ports = os.path.join(tmp, "ports")
broker = subprocess.Popen([os.path.join(BUILD, "sluice"), "broker", "--data-dir",
                           os.path.join(tmp, "data"), "--listen", "127.0.0.1:0",
                           "--admin-listen", "127.0.0.1:0", "--port-file", ports,
                           "--set", "log.cleaner.backoff.ms=1000"], stdout=log, stderr=log)
try:
    for _ in range(600):
        if os.path.exists(ports) and os.path.getsize(ports) > 0:
            break
        time.sleep(0.05)
    port = re.search(r"kafka=(\d+)", open(ports).read()).group(1)
    bs = "127.0.0.1:" + port
    admin = AdminClient({"bootstrap.servers": bs})
    hold = {"cleanup.policy": "compact", "segment.bytes": SEG, "min.compaction.lag.ms": "86400000",
            "min.cleanable.dirty.ratio": "0.5"}
    for f in admin.create_topics([NewTopic("cmp", 1, 1, config=hold),
                                  NewTopic("lat", 1, 1)]).values():
        f.result(timeout=10)

    p = Producer({"bootstrap.servers": bs, "linger.ms": 5, "batch.num.messages": 10000,
                  "queue.buffering.max.messages": 1000000, "acks": 1})
    value = b"x" * VALUE_BYTES
    t0 = time.time()
    for i in range(RECORDS):
        while True:
            try:
                p.produce("cmp", key=b"key-%08d" % (i % KEYS), value=value)
                break
            except BufferError:
                p.poll(0.05)
    p.flush(120)
    fill_s = time.time() - t0
    del p
    time.sleep(5)  # let the fill's write-back settle before the baseline

    def paced(seconds=None, until=None):
        """acks=all producer at RATE msg/s; returns per-record latencies in ms."""
        lp = Producer({"bootstrap.servers": bs, "linger.ms": 0, "acks": "all"})
        lat = []

        def done(err, msg, sent):
            if err is None:
                lat.append((time.perf_counter() - sent) * 1000)

        start = time.perf_counter()
        n = 0
        while True:
            now = time.perf_counter()
            if seconds is not None and now - start >= seconds:
                break
            if until is not None and (until() or now - start > 600):
                break
            due = start + n / RATE
            if now < due:
                lp.poll(min(due - now, 0.01))
                continue
            sent = time.perf_counter()
            lp.produce("lat", value=b"y" * 100,
                       on_delivery=lambda e, m, s=sent: done(e, m, s))
            n += 1
            lp.poll(0)
        lp.flush(30)
        del lp
        return sorted(lat)

    def pct(xs, q):
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

    base = paced(seconds=10)
    res = ConfigResource(ConfigResource.Type.TOPIC, "cmp",
                         set_config=dict(hold, **{"min.compaction.lag.ms": "0"}))
    admin.alter_configs([res])[res].result(timeout=10)
    logpath = os.path.join(tmp, "broker.log")

    def cleaned():
        return "op=clean segments" in open(logpath).read()

    during = paced(until=cleaned)
    m = re.search(r"op=clean segments=(\d+) emptied=(\d+) bytes_before=(\d+) bytes_after=(\d+) "
                  r"duration_ms=(\d+) swap_ms=([0-9.]+)", open(logpath).read())
    segs, _, before, after, ms = (int(x) for x in m.groups()[:5])
    swap_ms = float(m.group(6))
    mb = before / 1e6
    print("fill: %d records x %d B over %d keys in %.1f s" % (RECORDS, VALUE_BYTES, KEYS, fill_s))
    print("cleaner: %d segments, %.1f MB -> %.2f MB in %d ms = %.0f MB/s; swap on the event "
          "loop %.1f ms" % (segs, mb, after / 1e6, ms, mb / (ms / 1000.0) if ms else float("inf"),
                            swap_ms))
    for name, xs in (("before the clean", base), ("while cleaning", during)):
        print("producer on another topic (acks=all, %d msg/s), %s: n=%d p50=%.2f ms "
              "p99=%.2f ms max=%.2f ms" % (RATE, name, len(xs), pct(xs, 0.5), pct(xs, 0.99),
                                           xs[-1] if xs else float("nan")))
    del admin
finally:
    broker.terminate()
    broker.wait(timeout=60)
    log.close()
    shutil.rmtree(tmp, ignore_errors=True)
