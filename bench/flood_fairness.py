"""Issue 7 measurement: what a produce flood from some connections costs a normal client.

usage:
  flood_fairness.py flood BROKER TOPIC PARTITIONS CONNS SECONDS BATCH_KB ACKS
      CONNS raw connections each pipeline Produce v7 requests of one BATCH_KB record batch
      (round-robin over PARTITIONS) as fast as TCP takes them and never read a response.
      Prints the bytes sent.
  probe BROKER TOPIC SECONDS
      A librdkafka acks=all producer sends one 100-byte record every 100 ms and prints the
      acknowledgement latency: "n=.. p50=..ms p99=..ms max=..ms failed=..".
"""
import os, select, socket, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "abuse"))
from kwire import produce_v7, record_batch  # the Kafka wire helpers bench-abuse uses


def flood(broker, topic, partitions, conns, seconds, kb, acks):
    host, port = broker.rsplit(":", 1)
    batch = record_batch(kb * 1024)
    reqs = [produce_v7(topic, p, batch, acks, 1) for p in range(partitions)]
    socks = []
    for i in range(conns):
        s = socket.create_connection((host, int(port)))
        s.setblocking(False)
        socks.append([s, memoryview(b""), i])
    sent = 0
    end = time.time() + seconds
    while time.time() < end:
        _, writable, _ = select.select([], [x[0] for x in socks], [], 0.2)
        for x in socks:
            if x[0] not in writable:
                continue
            if not len(x[1]):
                x[1] = memoryview(reqs[x[2] % partitions])
                x[2] += 1
            try:
                n = x[0].send(x[1])
                x[1] = x[1][n:]
                sent += n
            except BlockingIOError:
                pass
            except OSError:
                x[1] = memoryview(b"")
    print("flood acks=%d sent_mb=%.0f" % (acks, sent / 1e6), flush=True)
    for x in socks:
        x[0].close()


def probe(broker, topic, seconds):
    from confluent_kafka import Producer
    lat, failed = [], [0]
    p = Producer({"bootstrap.servers": broker, "acks": "all", "linger.ms": 0,
                  "message.timeout.ms": 30000})

    def done(err, msg, t0):
        if err:
            failed[0] += 1
        else:
            lat.append((time.time() - t0) * 1000)

    p.produce(topic, b"warm-up", on_delivery=lambda e, m: None)
    p.flush(15)
    end = time.time() + seconds
    nxt = time.time()
    while time.time() < end:
        if time.time() >= nxt:
            t0 = time.time()
            p.produce(topic, b"x" * 100, on_delivery=lambda e, m, t0=t0: done(e, m, t0))
            nxt += 0.1
        p.poll(0.005)
    p.flush(30)
    lat.sort()

    def q(f):
        return lat[min(len(lat) - 1, int(f * len(lat)))] if lat else float("nan")
    print("n=%d p50=%.1fms p99=%.1fms max=%.1fms failed=%d" % (
        len(lat), q(0.5), q(0.99), q(1.0), failed[0]), flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if sys.argv[1] == "flood":
        a = sys.argv[2:]
        flood(a[0], a[1], int(a[2]), int(a[3]), float(a[4]), int(a[5]), int(a[6]))
    elif sys.argv[1] == "probe":
        probe(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        sys.exit(__doc__)
