"""Produces with acks=all until the broker goes away (or 30 s pass); appends 'partition offset
value' for every acknowledged record to a file, flushed line by line."""
import sys
import time

from confluent_kafka import Producer

broker, topic, path = sys.argv[1:4]
out = open(path, "w", buffering=1)
p = Producer({"bootstrap.servers": broker, "acks": "all", "linger.ms": 2,
              "message.timeout.ms": 3000, "retries": 0, "socket.timeout.ms": 2000})
failures = []


def on_delivery(err, msg):
    if err is None:
        out.write("%d %d %s\n" % (msg.partition(), msg.offset(), msg.value().decode()))
    else:
        failures.append(err)


i = 0
deadline = time.time() + 30
while time.time() < deadline and not failures:
    try:
        p.produce(topic, value="rec-%d" % i, key=str(i), on_delivery=on_delivery)
        i += 1
    except BufferError:
        p.poll(0.01)
    if i % 100 == 0:
        p.poll(0)
p.flush(5)
out.close()
