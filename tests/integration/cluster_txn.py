"""Helpers of test_cluster_txn.sh.

  cluster_txn.py coordinator BOOTSTRAP TXN_ID
      Prints the node id that leads the id's __transaction_state partition (Kafka's rule:
      abs(Java hashCode of the id) % partitions) and the partition count; exits 1 when the
      topic or its leader is not there yet.
  cluster_txn.py init-pid HOST:PORT TXN_ID
      Sends InitProducerId v1 for TXN_ID to that one broker and prints the error code.
"""
import socket
import struct
import sys

from confluent_kafka.admin import AdminClient


def java_hash(s):
    h = 0
    for ch in s.encode():
        h = (31 * h + ch) & 0xFFFFFFFF
    return h


def coordinator(bootstrap, txn_id):
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics("__transaction_state",
                                                                   timeout=5)
    t = md.topics.get("__transaction_state")
    if t is None or t.error is not None or not t.partitions:
        sys.exit(1)
    p = t.partitions[(java_hash(txn_id) & 0x7FFFFFFF) % len(t.partitions)]
    if p.leader < 0:
        sys.exit(1)
    print(p.leader, len(t.partitions))


def init_pid(addr, txn_id):
    host, port = addr.rsplit(":", 1)
    tid = txn_id.encode()
    body = struct.pack(">h", len(tid)) + tid + struct.pack(">i", 10000)
    hdr = struct.pack(">hhih", 22, 1, 7, 1) + b"t"
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(struct.pack(">i", len(hdr) + len(body)) + hdr + body)
    n = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
    r = s.recv(n, socket.MSG_WAITALL)
    # correlation id, throttle_time_ms, error_code, producer_id, producer_epoch
    print(struct.unpack(">h", r[8:10])[0])


if sys.argv[1] == "coordinator":
    coordinator(sys.argv[2], sys.argv[3])
elif sys.argv[1] == "init-pid":
    init_pid(sys.argv[2], sys.argv[3])
else:
    sys.exit("unknown command " + sys.argv[1])
