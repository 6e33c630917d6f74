"""The well-behaved client of bench/run-abuse: a librdkafka acks=all producer sending RATE
records/s to its own topic, a consumer reading them back, and once a second a brand-new
connection asking for ApiVersions (so a broker that stops accepting shows up too).

usage: probe.py HOST:PORT TOPIC RATE OUTFILE
Runs until SIGTERM. OUTFILE gets one line per event, "KIND UNIX_TIME VALUE":
  ack T ms        produce acknowledged, latency from produce() to the delivery report
  ackfail T 0     delivery failed (message.timeout.ms 10 s)
  e2e T ms        record read back, from produce() to receipt
  conn T ms       connect + ApiVersions answered on a new connection
  connfail T 0    that took more than 5 s or failed"""
import signal
import socket
import struct
import sys
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition

import kwire

addr, topic, rate, path = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
out = open(path, "a", buffering=1)
lock = threading.Lock()
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())


def emit(kind, value):
    with lock:
        out.write("%s %.3f %.3f\n" % (kind, time.time(), value))


def conn_probe():
    host, port = addr.rsplit(":", 1)
    while not stop.is_set():
        t0 = time.time()
        try:
            s = socket.create_connection((host, int(port)), timeout=5)
            s.settimeout(max(0.1, 5 - (time.time() - t0)))
            s.sendall(kwire.api_versions_v0(7))
            need, got = 4, b""
            while len(got) < need:
                chunk = s.recv(65536)
                if not chunk:
                    raise OSError("closed")
                got += chunk
                if need == 4 and len(got) >= 4:
                    need = 4 + struct.unpack(">i", got[:4])[0]
            s.close()
            emit("conn", (time.time() - t0) * 1000)
        except OSError:
            emit("connfail", 0)
        stop.wait(max(0.0, 1 - (time.time() - t0)))


def on_delivery(err, msg):
    sent = float(msg.value())
    if err:
        emit("ackfail", 0)
    else:
        emit("ack", (time.time() - sent) * 1000)


threading.Thread(target=conn_probe, daemon=True).start()
p = Producer({"bootstrap.servers": addr, "acks": "all", "linger.ms": 0,
              "message.timeout.ms": 10000})
c = Consumer({"bootstrap.servers": addr, "group.id": "abuse-probe", "enable.auto.commit": False,
              "fetch.wait.max.ms": 10})
c.assign([TopicPartition(topic, 0, -1)])  # from the end
interval = 1.0 / rate
nxt = time.time()
while not stop.is_set():
    now = time.time()
    if now >= nxt:
        try:
            p.produce(topic, value=b"%.6f" % now, partition=0, on_delivery=on_delivery)
        except BufferError:
            emit("ackfail", 0)
        nxt += interval
        if nxt < now - 1:
            nxt = now + interval  # fell behind by more than a second: do not burst
    p.poll(0)
    m = c.poll(min(0.01, max(0.0, nxt - time.time())))
    if m is not None and not m.error():
        emit("e2e", (time.time() - float(m.value())) * 1000)
p.flush(10)
c.close()
