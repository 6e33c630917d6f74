#!/usr/bin/env python3
"""gen_coord_seeds.py -- writes the seed scripts of fuzz_coord (fuzz/corpus/fuzz_coord/): the
group and transaction flows real clients run (as in tests/integration/test_groups.sh and
test_transactions.sh), in the script encoding fuzz_coord.c documents. Run from the repository
root; files are rewritten in place.

Also keeps the scenario of defect 1 (robustness.md): members A and B join, A rejoins, B keeps its
session but does not rejoin, the rebalance timeout fires."""
import os

JOIN, SYNC, HB, LEAVE, COMMIT, ADV, CLOSE, DESCRIBE, TXN, DELETE, STALE = range(11)
V1, V3, V4, V5 = (0 << 4, 1 << 4, 2 << 4, 3 << 4)
STATIC, NEW, G1 = 8, 0x40, 4
# session: 6 s, 10 s, 30 s, 45 s; rebalance: 1 s, 2 s, 5 s, 30 s (fuzz_coord.c tables)
S6, S10, S30, S45 = range(4)
R1, R2, R5, R30 = (0 << 2, 1 << 2, 2 << 2, 3 << 2)
A0, A1, A10, A100, A500, A999, A1000, A1001, A1999, A2000, A3000, A5000, A6000, A10K, A30K, A60K = \
    range(16)


def join(slot, flags=V4, t=S10 | R5):
    return [JOIN, slot | flags, t]


def consumer(slot, flags=V4, t=S10 | R5):
    """A librdkafka-style join: MEMBER_ID_REQUIRED, rejoin with the id, sync."""
    return join(slot, flags, t) + join(slot, flags, t) + [SYNC, slot]


SEEDS = {
    "single-consumer-commit-leave":
        consumer(0) + [HB, 0 | 12, COMMIT, 0 | 4, 5, ADV, A1000, HB, 0 | 12, COMMIT, 0 | 4, 9,
                       LEAVE, 0 | 12],
    "two-consumers-rebalance":
        consumer(0) + join(1) + join(1) + [HB, 0 | 12] + join(0) + [SYNC, 0, SYNC, 1, HB, 1 | 12,
                                                                   COMMIT, 1 | 4, 3, ADV, A3000,
                                                                   HB, 0 | 12, HB, 1 | 12],
    "session-expiry-rebalance":
        consumer(0) + consumer(1) + [ADV, A5000, HB, 0 | 12, ADV, A6000, ADV, A6000] +
        join(0) + [SYNC, 0],
    "leader-never-syncs":
        consumer(0) + join(1) + join(1) + join(0) + [SYNC, 1, ADV, A10K, ADV, A10K],
    "static-member-restart":
        join(0, V5 | STATIC) + [SYNC, 0, CLOSE, 0] + join(0, V5 | STATIC | NEW) +
        [SYNC, 0, LEAVE, 0 | 12 | 0x10],
    "v1-eager-three-members":
        join(0, V1) + join(1, V1) + join(2, V1) + join(0, V1) + [ADV, A2000] +
        [SYNC, 0, SYNC, 1, SYNC, 2, DESCRIBE, 0 | 12],
    "two-groups-commit-delete":
        consumer(0) + consumer(1, V4 | G1) + [COMMIT, 0 | 4, 1, COMMIT, 1 | 4 | 0x10, 2,
                                              LEAVE, 0 | 12, LEAVE, 1 | 12, DELETE, 0,
                                              DELETE, 4, DESCRIBE, 2],
    "simple-commit-no-members": [COMMIT, 2 | 8, 7, COMMIT, 2 | 8 | 0x10, 8, DESCRIBE, 2, DELETE, 2],
    "stale-generations":
        consumer(0) + [STALE, 0, STALE, 0 | 4, STALE, 0 | 8, STALE, 0 | 12, HB, 0 | 12],
    "close-while-join-parked":
        consumer(0) + join(1) + join(1) + [CLOSE, 1, ADV, A5000, ADV, A6000] + join(0) + [SYNC, 0],
    "txn-commit-and-abort":
        [TXN, 0, TXN, 0 | 4, TXN, 0 | 8, TXN, 0 | 12 | 0x10, TXN, 0 | 4, TXN, 0 | 12],
    "txn-timeout-and-fence":
        [TXN, 1 | 0x10, TXN, 1 | 4, ADV, A2000, ADV, A10K, ADV, A10K, TXN, 1 | 12 | 0x10,
         TXN, 1, TXN, 1 | 4],
    "txn-offsets-for-group":
        consumer(0) + [TXN, 0, TXN, 0 | 4, TXN, 0 | 8, TXN, 0 | 12 | 0x10, HB, 0 | 12],
    "defect1-join-rebalance-timeout":
        # A (v1, session 30 s, rebalance 2 s) joins; B joins and A rejoins: generation 2;
        # A rejoins again, B stays silent; the rebalance timeout fires.
        join(0, V1, S30 | R2) + join(1, V1, S30 | R2) + join(0, V1, S30 | R2) +
        join(0, V1, S30 | R2) + [ADV, A3000],
}

out = "fuzz/corpus/fuzz_coord"
os.makedirs(out, exist_ok=True)
for name, script in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes(script))
print("%d seeds in %s" % (len(SEEDS), out))
