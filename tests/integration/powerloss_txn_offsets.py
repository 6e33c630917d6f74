"""A transaction that outlives a power cut of the broker (test_powerloss_txn_offsets.sh).

usage: powerloss_txn_offsets.py run BROKER OUT READY_FILE GO_FILE
         begins a transaction, writes 2 records to each of OUT's 3 partitions, sends the offset
         42 of po-in/0 for group po-group (AddOffsetsToTxn + TxnOffsetCommit), writes READY_FILE,
         waits for GO_FILE (the broker is cut and restarted meanwhile), then commits.
       powerloss_txn_offsets.py verify BROKER OUT
         the 6 records are visible under read_committed and po-group's offset is 42."""
import os
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from txn_common import read_all

mode, broker, out = sys.argv[1:4]
if mode == "run":
    p = Producer({"bootstrap.servers": broker, "transactional.id": "powerloss-offsets",
                  "transaction.timeout.ms": 60000, "linger.ms": 0})
    p.init_transactions(30)
    p.begin_transaction()
    for part in range(3):
        for i in range(2):
            p.produce(out, value="r %d/%d" % (part, i), partition=part)
    if p.flush(30):
        sys.exit("records not acknowledged")
    c = Consumer({"bootstrap.servers": broker, "group.id": "po-group"})
    p.send_offsets_to_transaction([TopicPartition("po-in", 0, 42)],
                                  c.consumer_group_metadata(), 30)
    open(sys.argv[4], "w").write("ready\n")
    while not os.path.exists(sys.argv[5]):
        time.sleep(0.05)
    p.commit_transaction(60)  # after the power cut and restart: the same transaction
    print("committed")
    sys.exit(0)

n = sum(len(v) for v in read_all(broker, out, [0, 1, 2], "read_committed").values())
g = Consumer({"bootstrap.servers": broker, "group.id": "po-group"})
off = g.committed([TopicPartition("po-in", 0)], 30)[0].offset
g.close()
print("visible under read_committed: %d of 6; po-group offset on po-in/0: %d" % (n, off))
sys.exit(0 if n == 6 and off == 42 else 1)
