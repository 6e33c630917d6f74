"""The rebalance-timeout crash of the robustness campaign, on the wire: members A and B reach
generation 2, one rejoins, the other keeps its session alive (heartbeats) but never rejoins. At the
rebalance timeout the broker must answer the rejoiner once, with generation 3 and itself as the
only member, and keep serving. Run for both orders (leader rejoins / follower rejoins with new
metadata). Usage: join_timeout.py HOST:PORT"""
import socket
import struct
import sys
import time

host, port = sys.argv[1].rsplit(":", 1)
port = int(port)
corr = 0


def s16(b):
    return struct.pack(">h", len(b)) + b


def conn():
    return socket.create_connection((host, port), timeout=15)


def send(s, api, ver, body):
    global corr
    corr += 1
    f = struct.pack(">hhi", api, ver, corr) + s16(b"join-timeout") + body
    s.sendall(struct.pack(">i", len(f)) + f)


def recv(s):
    def rx(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                raise SystemExit("FAIL: connection closed (broker gone?)")
            b += c
        return b
    return rx(struct.unpack(">i", rx(4))[0])[4:]  # drop the correlation id


def join(s, group, member, meta=b"meta"):
    """JoinGroup v1: session 30 s, rebalance timeout 1.5 s."""
    body = s16(group) + struct.pack(">ii", 30000, 1500) + s16(member) + s16(b"consumer")
    body += struct.pack(">i", 1) + s16(b"range") + struct.pack(">i", len(meta)) + meta
    send(s, 11, 1, body)


def join_answer(s):
    r = recv(s)
    err, gen = struct.unpack(">hi", r[:6])
    p = 6
    strs = []
    for _ in range(3):  # protocol, leader, member id
        n = struct.unpack(">h", r[p:p + 2])[0]
        strs.append(r[p + 2:p + 2 + max(n, 0)])
        p += 2 + max(n, 0)
    members = struct.unpack(">i", r[p:p + 4])[0]
    return err, gen, strs[1], strs[2], members


def heartbeat(s, group, gen, member):
    send(s, 12, 0, s16(group) + struct.pack(">i", gen) + s16(member))
    return struct.unpack(">h", recv(s)[:2])[0]


def scenario(group, leader_rejoins):
    a, b = conn(), conn()
    join(a, group, b"")
    ea, ga, _, ida, _ = join_answer(a)
    assert ea == 0 and ga == 1, (ea, ga)
    join(b, group, b"")
    time.sleep(0.2)
    join(a, group, ida)  # generation 2 with A and B
    ea, ga, leader, _, _ = join_answer(a)
    eb, gb, _, idb, _ = join_answer(b)
    assert (ea, ga, eb, gb) == (0, 2, 0, 2), (ea, ga, eb, gb)
    ids = {a: ida, b: idb}
    rejoiner = a if (ids[a] == leader) == leader_rejoins else b
    silent = b if rejoiner is a else a
    # A leader's rejoin opens a rebalance; a follower opens one by changing its metadata.
    join(rejoiner, group, ids[rejoiner], b"meta" if leader_rejoins else b"new-meta")
    deadline = time.time() + 1.2
    while time.time() < deadline:  # the silent member stays alive by heartbeats
        hb = heartbeat(silent, group, 2, ids[silent])
        assert hb in (0, 27), hb  # NONE or REBALANCE_IN_PROGRESS
        time.sleep(0.2)
    err, gen, leader, mid, members = join_answer(rejoiner)
    assert (err, gen, mid, leader, members) == (0, 3, ids[rejoiner], ids[rejoiner], 1), \
        (err, gen, mid, leader, members)
    # The silent member is gone: UNKNOWN_MEMBER_ID (25).
    assert heartbeat(silent, group, 3, ids[silent]) == 25
    # The broker still serves new connections.
    c = conn()
    send(c, 18, 0, b"")  # ApiVersions
    assert struct.unpack(">h", recv(c)[:2])[0] == 0
    for x in (a, b, c):
        x.close()
    print("ok:", group, "leader rejoins" if leader_rejoins else "follower rejoins")


scenario(b"jt-leader", True)
scenario(b"jt-follower", False)
