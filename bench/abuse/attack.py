"""Attackers for bench/run-abuse (raw sockets; each stops after DURATION_S and prints one line
of figures).

usage: attack.py slowfetch HOST:PORT TOPIC OFFSET CONNS DURATION_S
           CONNS connections pipeline Fetch v11 (partition 0, from OFFSET) and never read: an
           unknown TOPIC or an OFFSET past the end makes every answer a small error response
       attack.py slowloris HOST:PORT CONNS DURATION_S
           opens up to CONNS connections, each sending 4 bytes of a 40-byte request, then idles
       attack.py flood HOST:PORT TOPIC PARTITIONS CONNS DURATION_S BATCH_KB
           CONNS connections pipeline Produce v7 batches of BATCH_KB KiB and never read; the
           requests alternate between acks=1 and acks=all
       attack.py storm HOST:PORT PARTITIONS DURATION_S
           creates and deletes topics of PARTITIONS partitions in a loop (AdminClient), two
           alive at a time"""
import select
import socket
import struct
import sys
import time

import kwire


def connect(addr, timeout=5):
    host, port = addr.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout)


def pump(addr, conns, duration, next_frame):
    """Writes frames from next_frame(i) to every connection as fast as the sockets take them."""
    socks = []
    for _ in range(conns):
        s = connect(addr)
        s.setblocking(False)
        socks.append({"s": s, "pending": b"", "n": 0})
    end = time.time() + duration
    sent = requests = errors = 0
    while time.time() < end and socks:
        _, writable, _ = select.select([], [c["s"] for c in socks], [], 0.2)
        for c in socks:
            if c["s"] not in writable:
                continue
            if not c["pending"]:
                c["pending"] = next_frame(c["n"])
                c["n"] += 1
                requests += 1
            try:
                n = c["s"].send(c["pending"])
                c["pending"] = c["pending"][n:]
                sent += n
            except BlockingIOError:
                pass
            except OSError:
                errors += 1
                c["s"].close()
                socks = [x for x in socks if x is not c]
                break
    for c in socks:
        c["s"].close()
    return "sent_bytes=%d requests=%d closed_by_broker=%d" % (sent, requests, errors)


def slowloris(addr, conns, duration):
    t0 = time.time()
    socks, failed = [], 0
    partial = struct.pack(">i", 36)  # a 40-byte frame of which only the size ever arrives
    while len(socks) + failed < conns and time.time() - t0 < duration:
        try:
            s = connect(addr, timeout=2)
            s.sendall(partial)
            socks.append(s)
        except OSError:
            failed += 1
    opened = time.time() - t0
    time.sleep(max(0.0, duration - opened))
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    return "opened=%d failed=%d open_s=%.1f closed_by_broker=%d" % (len(socks), failed, opened,
                                                                     closed)


def storm(addr, partitions, duration):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": addr, "socket.timeout.ms": 10000})
    end = time.time() + duration
    created = deleted = errors = 0
    i = 0
    alive = []
    while time.time() < end:
        name = "storm-%d" % i
        i += 1
        try:
            admin.create_topics([NewTopic(name, partitions, 1)],
                                operation_timeout=10)[name].result(15)
            created += 1
            alive.append(name)
        except Exception:
            errors += 1
        if len(alive) >= 2:
            victim = alive.pop(0)
            try:
                admin.delete_topics([victim], operation_timeout=10)[victim].result(15)
                deleted += 1
            except Exception:
                errors += 1
    for victim in alive:
        try:
            admin.delete_topics([victim], operation_timeout=10)[victim].result(15)
            deleted += 1
        except Exception:
            errors += 1
    return "created=%d deleted=%d errors=%d partitions_each=%d" % (created, deleted, errors,
                                                                  partitions)


def main():
    mode, addr = sys.argv[1], sys.argv[2]
    a = sys.argv[3:]
    if mode == "slowfetch":
        topic, offset, conns, duration = a[0], int(a[1]), int(a[2]), float(a[3])
        req = kwire.fetch_v11(topic, [0], offset, 1)
        out = pump(addr, conns, duration, lambda i: req)
    elif mode == "slowloris":
        out = slowloris(addr, int(a[0]), float(a[1]))
    elif mode == "flood":
        topic, parts, conns, duration, kb = a[0], int(a[1]), int(a[2]), float(a[3]), int(a[4])
        batch = kwire.record_batch(kb * 1024)
        frames = [[kwire.produce_v7(topic, p, batch, acks, 1) for p in range(parts)]
                  for acks in (1, -1)]
        counter = [0]

        def nxt(i):
            counter[0] += 1
            return frames[counter[0] % 2][i % parts]
        out = pump(addr, conns, duration, nxt)
    elif mode == "storm":
        out = storm(addr, int(a[0]), float(a[1]))
    else:
        sys.exit(__doc__)
    print("%s %s" % (mode, out), flush=True)


if __name__ == "__main__":
    main()
