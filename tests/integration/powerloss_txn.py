"""Transactions until the broker goes away (or DURATION_S pass), for the power-loss tests.

usage: powerloss_txn.py BROKER TOPIC TAG LOGFILE [DURATION_S]
Each transaction writes 5 records "TAG-n i/5" to TOPIC (3 partitions, round robin); every third
one is aborted. LOGFILE gets "begin TAG-n" before the commit or abort is asked for, then
"commit TAG-n" or "abort TAG-n" once the call returned: a committed line is a transaction the
broker acknowledged."""
import sys
import time

from confluent_kafka import Producer

broker, topic, tag, path = sys.argv[1:5]
duration = float(sys.argv[5]) if len(sys.argv) > 5 else 30
out = open(path, "a", buffering=1)
p = Producer({"bootstrap.servers": broker, "transactional.id": "powerloss", "linger.ms": 1,
              "transaction.timeout.ms": 10000, "message.timeout.ms": 5000,
              "socket.timeout.ms": 2000, "reconnect.backoff.max.ms": 200})
try:
    p.init_transactions(10)
    n = 0
    deadline = time.time() + duration
    while time.time() < deadline:
        name = "%s-%d" % (tag, n)
        p.begin_transaction()
        for i in range(5):
            p.produce(topic, value="%s %d/5" % (name, i), partition=(n + i) % 3)
        out.write("begin %s\n" % name)
        if n % 3 == 2:
            p.abort_transaction(5)
            out.write("abort %s\n" % name)
        else:
            p.commit_transaction(5)
            out.write("commit %s\n" % name)
        n += 1
except Exception as e:  # the broker was killed: the point of the exercise
    print("powerloss_txn: stopped: %s" % e, file=sys.stderr)
