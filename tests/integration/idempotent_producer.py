"""An idempotent producer (enable.idempotence=true) sends COUNT records to TOPIC; it keeps
retrying through broker restarts. Exits 0 when every record was acknowledged.
Usage: idempotent_producer.py BROKER TOPIC COUNT"""
import sys
import time

from confluent_kafka import Producer

broker, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = Producer({"bootstrap.servers": broker, "enable.idempotence": True, "acks": "all",
              "linger.ms": 5, "message.timeout.ms": 120000, "retry.backoff.ms": 50,
              "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200})
failed = []
acked = [0]


def dr(err, msg):
    if err:
        failed.append(err)
    else:
        acked[0] += 1


for i in range(count):
    while True:
        try:
            p.produce(topic, key=str(i % 3), value=str(i), partition=i % 3, on_delivery=dr)
            break
        except BufferError:
            p.poll(0.05)
    if i % 200 == 0:
        p.poll(0)
        time.sleep(0.02)  # spread the run (~3 s) so that the broker restart lands mid-stream
left = p.flush(120)
print("acked %d failed %d left %d" % (acked[0], len(failed), left))
sys.exit(0 if acked[0] == count and not failed and left == 0 else 1)
