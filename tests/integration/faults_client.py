"""Producer, consumer and checker for the cluster fault tests (test_cluster_faults.sh,
bench/run-cluster-faults). Files hold one "partition offset value" line per record.

  faults_client.py produce BOOTSTRAP TOPIC ACKED_FILE [RATE]
      Idempotent producer, acks=all, values "<tag>-<i>" (tag: ACKED_FILE's basename), until
      the file STOP next to ACKED_FILE appears; writes each acknowledged record. Failed
      deliveries are counted (stderr), not fatal: a fault may refuse a record, never lose one.
  faults_client.py consume BOOTSTRAP TOPIC SEEN_FILE
      Reads partition 0 from the start until STOP appears, writing every record it is given;
      a record at an offset not above the previous one is written as "backwards ...".
  faults_client.py rawproduce HOST:PORT TOPIC ACKED_FILE COUNT
      COUNT Produce requests (acks=all, one record each, 3 s timeout) sent straight to one
      broker, bypassing metadata; each acknowledged record is written; prints "acked=N".
  faults_client.py rawread HOST:PORT TOPIC READY_FILE
      Sends a ListOffsets (v1, latest) and a Fetch (v4, offset 0) for partition 0 straight to
      one broker, each on its own connection, writes READY_FILE once both are sent (the broker
      may be stopped: the kernel accepts the connections), then waits up to 60 s for the two
      answers and prints "listoffsets error=E offset=O" and "fetch error=E hw=H".
  faults_client.py check BOOTSTRAP TOPIC ACKED_FILE [SEEN_FILE]
      Reads partition 0 to its high watermark and counts, over every acknowledged record:
      lost, duplicated (one value at two offsets), moved (not at the offset its ack named),
      out of order (a producer's values not in sequence order), gone after seen (a consumer
      saw a value at an offset that now holds another or nothing), consumer went backwards.
      Prints the counts on one line; exit 1 unless all are zero.
  faults_client.py segcheck TOPIC ACKED_FILE SEEN_FILE DATA_DIR...
      The same counts from each stopped broker's segment files of partition 0 (found under
      DATA_DIR), read without a broker, every batch's CRC-32C checked: a second, independent
      count. One line per replica; exit 1 unless all are zero, no batch is bad and the replicas
      hold the same records (SEEN_FILE may be "").
"""
import os
import socket
import struct
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition


def watermarks(c, tp, tries=60):
    """The partition's low and high watermarks, retried while leadership settles: a leader whose
    lease lapsed (a loaded machine) or a moved partition answers NOT_LEADER_OR_FOLLOWER for a
    while, and a partition with no live leader is answered with leader -1 (librdkafka:
    _UNKNOWN_PARTITION until a Metadata refresh names one)."""
    for i in range(tries):
        try:
            return c.get_watermark_offsets(tp, timeout=10)
        except KafkaException as e:
            if i == tries - 1 or not e.args[0].retriable() and e.args[0].code() not in (
                    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                    KafkaError._TIMED_OUT, KafkaError._UNKNOWN_PARTITION):
                raise
            time.sleep(0.5)


def stop_file(path):
    return os.path.join(os.path.dirname(os.path.abspath(path)), "STOP")


def produce(bootstrap, topic, path, rate):
    out = open(path, "a", buffering=1)
    tag = os.path.basename(path)
    conf = {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
            "linger.ms": 2, "message.timeout.ms": 120000, "retry.backoff.ms": 50,
            "topic.metadata.refresh.interval.ms": 500, "socket.timeout.ms": 3000}
    if os.environ.get("FAULTS_DEBUG"):  # librdkafka debug contexts, e.g. eos,topic,metadata
        conf["debug"] = os.environ["FAULTS_DEBUG"]
    failed = [0]
    last_ack = [time.time()]
    # FAULTS_STALL_S=N (the long fault runs): a producer instance with records outstanding and no
    # ack for N s is replaced, and counted as a stall. librdkafka 2.0.2 can leave a partition on
    # a broker that no longer leads it (docs/cluster.md); tests leave this off, so a stall fails.
    stall_s = float(os.environ.get("FAULTS_STALL_S", "0"))

    def on_delivery(err, msg):
        if err is None:
            last_ack[0] = time.time()
            # librdkafka can report an idempotent batch delivered without its offset (after a
            # retry it resolved as persisted): -1, counted by the checker as no_offset
            off = msg.offset()
            out.write("%d %d %s\n" % (msg.partition(), -1 if off is None else off,
                                      msg.value().decode()))
        else:
            failed[0] += 1
            if failed[0] <= 3:
                print("delivery failed: %s" % err, file=sys.stderr)

    # A fatal idempotence error ends a producer instance (its unacknowledged records are not
    # acknowledged: they may or may not be in the log); a new instance carries on.
    p, fatal, stalls = Producer(conf), 0, 0
    start, i = time.time(), 0
    while not os.path.exists(stop_file(path)):
        if stall_s and len(p) and time.time() - last_ack[0] > stall_s:
            stalls += 1
            print("%.3f producer stalled: no ack for %.0f s with %d outstanding (new producer)" %
                  (time.time(), stall_s, len(p)), file=sys.stderr)
            p.purge()
            p.poll(0)
            p, last_ack[0] = Producer(conf), time.time()
        try:
            if rate and time.time() < start + i / rate:
                p.poll(0.005)
                continue
            try:
                p.produce(topic, value="%s-%d" % (tag, i), partition=0, on_delivery=on_delivery)
                i += 1
            except BufferError:
                p.poll(0.01)
            p.poll(0)
        except KafkaException as e:
            fatal += 1
            print("fatal producer error (new producer): %s" % e, file=sys.stderr)
            p = Producer(conf)
    try:
        p.flush(150)
    except KafkaException as e:
        fatal += 1
        print("fatal producer error at flush: %s" % e, file=sys.stderr)
    print("sent=%d failed=%d fatal=%d stalls=%d" % (i, failed[0], fatal, stalls), file=sys.stderr)
    return 0


def consume(bootstrap, topic, path):
    out = open(path, "w", buffering=1)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "faults-consume",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "topic.metadata.refresh.interval.ms": 500, "socket.timeout.ms": 3000})
    c.assign([TopicPartition(topic, 0, 0)])
    last = -1
    while not os.path.exists(stop_file(path)):
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        kind = "" if m.offset() > last else "backwards "
        out.write("%s%d %d %s\n" % (kind, m.partition(), m.offset(), m.value().decode()))
        last = max(last, m.offset())
    c.close()
    return 0


def varint(n):
    u = (n << 1) ^ (n >> 63)
    b = bytearray()
    while u >= 0x80:
        b.append((u & 0x7F) | 0x80)
        u >>= 7
    b.append(u)
    return bytes(b)


def crc32c(data):
    crc = 0xFFFFFFFF
    for x in data:
        crc ^= x
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def one_record_batch(value):
    rec = b"\x00" + varint(0) + varint(0) + varint(-1) + varint(len(value)) + value + varint(0)
    rec = varint(len(rec)) + rec
    now = int(time.time() * 1000)
    tail = struct.pack(">hiqqqhii", 0, 0, now, now, -1, -1, -1, 1) + rec
    inner = struct.pack(">ib", -1, 2) + struct.pack(">I", crc32c(tail)) + tail
    return struct.pack(">qi", 0, len(inner)) + inner


def rawproduce(hostport, topic, path, count):
    host, port = hostport.rsplit(":", 1)
    out = open(path, "a", buffering=1)
    tag = os.path.basename(path)
    acked = 0
    for i in range(count):
        value = ("%s-raw-%d" % (tag, i)).encode()
        recs = one_record_batch(value)
        t = topic.encode()
        body = struct.pack(">hhi", -1, -1, 3000) + struct.pack(">ih", 1, len(t)) + t
        body += struct.pack(">iii", 1, 0, len(recs)) + recs
        frame = struct.pack(">hhih", 0, 7, i, 6) + b"faults" + body
        try:
            s = socket.create_connection((host, int(port)), timeout=6)
            s.sendall(struct.pack(">i", len(frame)) + frame)
            buf = b""
            while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
                chunk = s.recv(65536)
                if not chunk:
                    raise OSError("closed")
                buf += chunk
            s.close()
        except OSError as e:
            print("request %d: no answer (%s)" % (i, e))
            continue
        r = buf[8:]
        p = 4 + 2 + struct.unpack(">h", r[4:6])[0] + 4 + 4
        err, off = struct.unpack(">hq", r[p:p + 10])
        print("request %d: error=%d offset=%d" % (i, err, off))
        if err == 0:
            acked += 1
            out.write("0 %d %s\n" % (off, value.decode()))
    print("acked=%d" % acked)
    return 0


def frame(api, version, corr, body):
    f = struct.pack(">hhih", api, version, corr, 6) + b"faults" + body
    return struct.pack(">i", len(f)) + f


def answer(s):
    buf = b""
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            raise OSError("closed")
        buf += chunk
    return buf[8:]  # after the size and the correlation id


def rawread(hostport, topic, ready):
    host, port = hostport.rsplit(":", 1)
    t = topic.encode()
    lo = struct.pack(">ii", -1, 1) + struct.pack(">h", len(t)) + t + struct.pack(">iiq", 1, 0, -1)
    fe = struct.pack(">iiiib", -1, 0, 1, 1 << 20, 0) + struct.pack(">ih", 1, len(t)) + t
    fe += struct.pack(">iiqi", 1, 0, 0, 1 << 20)
    socks = []
    for api, version, body in ((2, 1, lo), (1, 4, fe)):
        s = socket.create_connection((host, int(port)), timeout=60)
        s.sendall(frame(api, version, 1, body))
        socks.append(s)
    open(ready, "w").close()
    r = answer(socks[0])  # topics[1]: name, partitions[1]: partition, error, timestamp, offset
    p = 4 + 2 + struct.unpack(">h", r[4:6])[0] + 4 + 4
    err, _, off = struct.unpack(">hqq", r[p:p + 18])
    print("listoffsets error=%d offset=%d" % (err, off))
    r = answer(socks[1])  # throttle, topics[1]: name, partitions[1]: partition, error, hw
    p = 4 + 4 + 2 + struct.unpack(">h", r[8:10])[0] + 4 + 4
    err, hw = struct.unpack(">hq", r[p:p + 10])
    print("fetch error=%d hw=%d" % (err, hw))
    for s in socks:
        s.close()
    return 0


def read_all(bootstrap, topic):
    """Partition 0 as {offset: value} up to its high watermark, through the brokers. Fetches are
    large (64 MiB per request, 16 MiB per partition) and messages are taken 10,000 at a time:
    one poll() per record and the default fetch sizes read a few hundred records a second on a
    loaded machine, too slow for a long bench run."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "faults-check",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "socket.timeout.ms": 3000, "fetch.max.bytes": 64 << 20,
                  "max.partition.fetch.bytes": 16 << 20, "receive.message.max.bytes": 80 << 20,
                  "queued.max.messages.kbytes": 256 << 10, "fetch.wait.max.ms": 100})
    tp = TopicPartition(topic, 0)
    lo, hi = watermarks(c, tp)
    c.assign([TopicPartition(topic, 0, lo)])
    log = {}
    deadline = time.time() + 120 + (hi - lo) / 2000  # a long bench run has many records
    done = hi <= lo
    while not done and time.time() < deadline:
        for m in c.consume(10000, 0.5):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF and m.offset() >= hi:
                    done = True
                continue
            log[m.offset()] = m.value().decode()
            done = done or m.offset() + 1 >= hi
    c.close()
    if hi > lo and len([o for o in log if o < hi]) < hi - lo:
        # a short read is not a loss: say so rather than count every unread record as lost
        raise SystemExit("read only %d of the %d records in [%d, %d) before the deadline"
                         % (len(log), hi - lo, lo, hi))
    return log, hi


CRC_TABLE = []
for _b in range(256):
    _c = _b
    for _ in range(8):
        _c = (_c >> 1) ^ (0x82F63B78 & -(_c & 1))
    CRC_TABLE.append(_c)


def crc32c_fast(data):
    crc, t = 0xFFFFFFFF, CRC_TABLE
    for x in data:
        crc = t[(crc ^ x) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def get_varint(b, p):
    shift = u = 0
    while True:
        if p >= len(b) or shift > 63:
            raise ValueError("varint past the end")
        x = b[p]
        p += 1
        u |= (x & 0x7F) << shift
        shift += 7
        if x < 0x80:
            return (u >> 1) ^ -(u & 1), p


def read_segments(pdir):
    """One replica's partition directory read straight from its segment files, without a
    broker: {offset: value} and what was found on the way (batches, torn or bad-CRC tails,
    control and compressed batches). Every batch's CRC-32C is checked; a segment is read up to
    its first bad batch (a torn tail), which is counted, never trusted."""
    log, info = {}, {"batches": 0, "bad": 0, "skipped": 0, "dup_offset": 0}
    for name in sorted(f for f in os.listdir(pdir) if f.endswith(".log")):
        b = open(os.path.join(pdir, name), "rb").read()
        p = 0
        while p + 12 <= len(b):
            base, blen = struct.unpack_from(">qi", b, p)
            end = p + 12 + blen
            if blen < 49 or end > len(b) or b[p + 16] != 2 or \
                    struct.unpack_from(">I", b, p + 17)[0] != crc32c_fast(b[p + 21:end]):
                info["bad"] += 1
                break
            attrs, = struct.unpack_from(">h", b, p + 21)
            count, = struct.unpack_from(">i", b, p + 57)
            info["batches"] += 1
            if attrs & 0x27:  # compressed (the producer here never compresses) or control
                info["skipped"] += 1
                p = end
                continue
            q = p + 61
            for _ in range(count):
                rlen, q = get_varint(b, q)
                rend = q
                q += 1  # record attributes
                _, q = get_varint(b, q)  # timestamp delta
                delta, q = get_varint(b, q)
                klen, q = get_varint(b, q)
                q += max(klen, 0)
                vlen, q = get_varint(b, q)
                value = b[q:q + vlen].decode() if vlen >= 0 else ""
                if base + delta in log:
                    info["dup_offset"] += 1
                log[base + delta] = value
                q = rend + rlen
            p = end
    return log, info


def counts(log, hi, acked, seen_path):
    """The checker's counts over one copy of the partition ({offset: value}, read to hi)."""
    where = {}
    dup = 0
    for off in sorted(log):
        if log[off] in where:
            dup += 1
        where.setdefault(log[off], off)
    lost = moved = no_offset = 0
    for _, off, val in acked:
        if val not in where:
            lost += 1
        elif int(off) < 0:
            no_offset += 1  # acknowledged without an offset: present is all that can be checked
        elif where[val] != int(off):
            moved += 1
    order = 0
    last = {}
    for off in sorted(log):
        tag, n = seqno(log[off])
        if "-raw-" not in log[off] and n <= last.get(tag, -1):
            order += 1
        last[tag] = max(n, last.get(tag, -1))
    gone = back = seen = 0
    if seen_path:
        for line in open(seen_path):
            w = line.split()
            if w[0] == "backwards":
                back += 1
                w = w[1:]
            seen += 1
            if log.get(int(w[1])) != w[2]:
                gone += 1
    holes = (max(log) + 1 - min(log) - len(log)) if log else 0
    return ("acked=%d log=%d hw=%d holes=%d seen=%d lost=%d duplicated=%d moved=%d "
            "out_of_order=%d gone_after_seen=%d backwards=%d no_offset=%d"
            % (len(acked), len(log), hi, holes, seen, lost, dup, moved, order, gone, back,
               no_offset),
            lost or dup or moved or order or gone or back)


def seqno(value):
    tag, _, n = value.rpartition("-")
    return tag, int(n) if n.isdigit() else -1


def check(bootstrap, topic, acked_path, seen_path):
    log, hi = read_all(bootstrap, topic)
    acked = [line.split() for line in open(acked_path)]
    line, bad = counts(log, hi, acked, seen_path)
    print(line)
    return 1 if bad else 0


def segcheck(topic, acked_path, seen_path, data_dirs):
    """The same counts from each replica's segment files (the brokers stopped), and whether the
    replicas hold the same records. Prints one line per replica; exit 1 unless every count is
    zero, no batch is bad, and the replicas agree."""
    acked = [line.split() for line in open(acked_path)]
    rc, logs = 0, []
    for d in data_dirs:
        pdirs = [r for r, _, fs in os.walk(d) if os.path.basename(r) == "%s-0" % topic
                 and any(f.endswith(".log") for f in fs)]
        if len(pdirs) != 1:
            print("%s: %d directories of %s-0" % (d, len(pdirs), topic))
            rc = 1
            continue
        log, info = read_segments(pdirs[0])
        line, bad = counts(log, max(log) + 1 if log else 0, acked, seen_path)
        print("%s: batches=%d bad_batches=%d skipped=%d offset_twice=%d %s"
              % (d, info["batches"], info["bad"], info["skipped"], info["dup_offset"], line))
        rc |= 1 if bad or info["bad"] or info["dup_offset"] else 0
        logs.append(log)
    if len(logs) > 1:
        ends = [max(lg) + 1 if lg else 0 for lg in logs]
        common = min(ends)
        differ = sum(1 for o in range(common) if len({lg.get(o) for lg in logs}) > 1)
        print("replicas: ends=%s differ=%d (offsets below %d holding different records)"
              % (",".join(map(str, ends)), differ, common))
        rc |= 1 if differ else 0
    return rc


def main():
    a = sys.argv[1:]
    if a[0] == "produce":
        return produce(a[1], a[2], a[3], float(a[4]) if len(a) > 4 else 0)
    if a[0] == "consume":
        return consume(a[1], a[2], a[3])
    if a[0] == "rawproduce":
        return rawproduce(a[1], a[2], a[3], int(a[4]))
    if a[0] == "rawread":
        return rawread(a[1], a[2], a[3])
    if a[0] == "check":
        return check(a[1], a[2], a[3], a[4] if len(a) > 4 else None)
    if a[0] == "segcheck":
        return segcheck(a[1], a[2], a[3] or None, a[4:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
