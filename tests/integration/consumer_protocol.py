"""KIP-848's consumer group protocol on the wire (ConsumerGroupHeartbeat 68, ConsumerGroupDescribe
69), with honest simulated consumers: each reports as owned exactly the assignment it was last
given. After every heartbeat no partition may be owned by two members. Covers joining (v0 with a
server-made member id, v1 with the client's), balancing 2 and 3 members, revocation before
reassignment, leaving, fencing, a session timeout, new partitions, a regex subscription, static
membership (epoch -2), offsets committed with the member epoch, the describe output, /metrics,
and classic/consumer ids never mixed.
Usage: consumer_protocol.py HOST:PORT SLUICE_BINARY ADMIN_HOST:PORT (topics t6 with 6 and t2 with
2 partitions exist; the broker runs with group.consumer.session.timeout.ms=3000)."""
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import uuid

host, port = sys.argv[1].rsplit(":", 1)
port = int(port)
SLUICE = sys.argv[2]
GROUP = "cg-848"
DEADLINE_S = 60  # per convergence loop: generous for a loaded machine
corr = 0


def fail(msg):
    raise SystemExit("FAIL: " + msg)


# ---- encoding ----

def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def cstr(s):  # compact nullable string
    if s is None:
        return b"\x00"
    b = s.encode()
    return uvarint(len(b) + 1) + b


def carr(items, enc):  # compact nullable array
    if items is None:
        return b"\x00"
    return uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


def s16(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


TAGS = b"\x00"


class R:
    def __init__(self, b):
        self.b, self.i = b, 0

    def take(self, n):
        if self.i + n > len(self.b):
            fail("short response")
        v = self.b[self.i:self.i + n]
        self.i += n
        return v

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def uv(self):
        n = shift = 0
        while True:
            c = self.take(1)[0]
            n |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                return n

    def cstr(self):
        n = self.uv()
        return None if n == 0 else self.take(n - 1).decode()

    def str16(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def carr(self, fn):
        n = self.uv()
        return None if n == 0 else [fn(self) for _ in range(n - 1)]

    def tags(self):
        for _ in range(self.uv()):
            self.uv()
            self.take(self.uv())


class Conn:
    def __init__(self):
        self.s = socket.create_connection((host, port), timeout=30)

    def call(self, api, ver, body, flex):
        global corr
        corr += 1
        hdr = struct.pack(">hhi", api, ver, corr) + s16("kip848-test") + (TAGS if flex else b"")
        f = hdr + body
        self.s.sendall(struct.pack(">i", len(f)) + f)

        def rx(n):
            b = b""
            while len(b) < n:
                c = self.s.recv(n - len(b))
                if not c:
                    fail("connection closed (broker gone?)")
                b += c
            return b
        r = R(rx(struct.unpack(">i", rx(4))[0]))
        if r.i32() != corr:
            fail("correlation id mismatch")
        if flex and api != 18:
            r.tags()
        return r


# ---- the two new APIs ----

def heartbeat(c, member_id, epoch, topics=None, owned=None, regex=None, instance=None,
              ver=0, rebalance_ms=-1, assignor=None):
    body = cstr(GROUP) + cstr(member_id) + struct.pack(">i", epoch) + cstr(instance) + cstr(None)
    body += struct.pack(">i", rebalance_ms) + carr(topics, cstr)
    if ver >= 1:
        body += cstr(regex)
    body += cstr(assignor)
    own = None
    if owned is not None:
        bytopic = {}
        for t, p in sorted(owned):
            bytopic.setdefault(t, []).append(p)
        own = sorted(bytopic.items())
    body += carr(own, lambda tp: tp[0] + carr(tp[1], lambda p: struct.pack(">i", p)) + TAGS)
    body += TAGS
    r = c.call(68, ver, body, True)
    out = {"throttle": r.i32(), "err": r.i16(), "msg": r.cstr(), "member_id": r.cstr(),
           "epoch": r.i32(), "interval": r.i32(), "assignment": None}
    if r.i8() >= 0:
        def tp(rr):
            tid = rr.take(16)
            parts = rr.carr(lambda x: x.i32())
            rr.tags()
            return [(tid, p) for p in parts]
        tps = r.carr(tp)
        r.tags()
        out["assignment"] = {x for lst in tps for x in lst}
    r.tags()
    return out


def describe(c, groups):
    body = carr(groups, cstr) + b"\x00" + TAGS
    r = c.call(69, 0, body, True)
    r.i32()

    def assignment(rr):
        def tp(x):
            tid, name = x.take(16), x.cstr()
            parts = x.carr(lambda y: y.i32())
            x.tags()
            return (tid, name, parts)
        a = rr.carr(tp)
        rr.tags()
        return a

    def member(rr):
        m = {"id": rr.cstr(), "instance": rr.cstr(), "rack": rr.cstr(), "epoch": rr.i32(),
             "client_id": rr.cstr(), "client_host": rr.cstr(),
             "topics": rr.carr(lambda x: x.cstr()), "regex": rr.cstr(),
             "assignment": assignment(rr), "target": assignment(rr)}
        rr.tags()
        return m

    def group(rr):
        g = {"err": rr.i16(), "msg": rr.cstr(), "id": rr.cstr(), "state": rr.cstr(),
             "epoch": rr.i32(), "assignment_epoch": rr.i32(), "assignor": rr.cstr(),
             "members": rr.carr(member), "ops": rr.i32()}
        rr.tags()
        return g
    gs = r.carr(group)
    r.tags()
    return gs


# ---- simulated consumers ----

class Member:
    def __init__(self, name, topics=None, regex=None, ver=0):
        self.name, self.topics, self.regex, self.ver = name, topics, regex, ver
        self.c = Conn()
        self.id = str(uuid.uuid4()) if ver >= 1 else ""
        self.epoch = 0
        self.owned = set()
        self.alive = False

    def beat(self):
        if not self.alive:
            r = heartbeat(self.c, self.id, 0, topics=self.topics, regex=self.regex, ver=self.ver,
                          rebalance_ms=30000, owned=[])
        else:
            r = heartbeat(self.c, self.id, self.epoch, owned=self.owned, ver=self.ver)
        if r["err"]:
            fail(f"{self.name}: heartbeat error {r['err']} {r['msg']}")
        if not self.alive:
            if self.ver >= 1 and r["member_id"] != self.id:
                fail("v1: the member id is the client's")
            if not r["member_id"]:
                fail("join answered without a member id")
            self.id = r["member_id"]
            self.alive = True
        self.epoch = r["epoch"]
        if r["assignment"] is not None:
            self.owned = r["assignment"]  # revokes what is gone, takes what is new
        return r

    def leave(self):
        r = heartbeat(self.c, self.id, -1, ver=self.ver)
        if r["err"] or r["epoch"] != -1:
            fail(f"{self.name}: leave answered {r}")
        self.alive = False
        self.owned = set()


def check_no_double_owner(members):
    seen = {}
    for m in members:
        if not m.alive:
            continue
        for tp in m.owned:
            if tp in seen:
                fail(f"partition {tp[1]} owned by {seen[tp]} and {m.name} at once")
            seen[tp] = m.name


def converge(members, want, label):
    """Heartbeats every live member round-robin until the owned counts are `want`."""
    end = time.time() + DEADLINE_S
    while time.time() < end:
        for m in members:
            if m.alive:
                m.beat()
                check_no_double_owner(members)
        counts = sorted(len(m.owned) for m in members if m.alive)
        epochs = {m.epoch for m in members if m.alive}
        if counts == sorted(want) and len(epochs) == 1:
            return
        time.sleep(0.02)
    fail(f"{label}: no convergence to {want}: {[(m.name, len(m.owned), m.epoch) for m in members]}")


def topic_names(c):
    gs = describe(c, [GROUP])
    names = {}
    for m in gs[0]["members"]:
        for tid, name, _ in m["assignment"] + m["target"]:
            names[tid] = name
    return names


def api_versions(c):
    r = c.call(18, 0, b"", False)
    if r.i16():
        fail("ApiVersions error")
    n = r.i32()
    return {r.i16(): (r.i16(), r.i16()) for _ in range(n)}


def offset_commit(c, member, gen, topic, part, offset):
    body = s16(GROUP) + struct.pack(">i", gen) + s16(member) + s16(None)
    body += struct.pack(">i", 1) + s16(topic) + struct.pack(">i", 1)
    body += struct.pack(">iqi", part, offset, -1) + s16("")
    r = c.call(8, 7, body, False)
    r.i32()
    r.i32()
    r.str16()
    r.i32()
    r.i32()
    return r.i16()


def offset_fetch(c, topic, part):
    body = s16(GROUP) + struct.pack(">i", 1) + s16(topic) + struct.pack(">ii", 1, part)
    r = c.call(9, 5, body, False)
    r.i32()
    r.i32()
    r.str16()
    r.i32()
    r.i32()
    off = r.i64()
    return off


def offset_commit_v9(c, member, epoch, topic, part, offset):
    """OffsetCommit v9 (flexible, KIP-848): the member epoch in the generation field."""
    body = cstr(GROUP) + struct.pack(">i", epoch) + cstr(member) + cstr(None)
    body += uvarint(2) + cstr(topic) + uvarint(2)
    body += struct.pack(">iqi", part, offset, -1) + cstr("") + TAGS + TAGS + TAGS
    r = c.call(8, 9, body, True)
    r.i32()
    t = r.carr(lambda r: (r.cstr(), r.carr(lambda r: (r.i32(), r.i16(), r.tags())[:2]), r.tags()))
    r.tags()
    return t[0][1][0][1]


def offset_fetch_multi(c, ver, groups):
    """OffsetFetch v8/v9 (KIP-709): groups is [(group, member, epoch, topic, part)]; answers
    [(group, error, offset)] in order (offset None when an error leaves the topics out)."""
    body = uvarint(len(groups) + 1)
    for g, member, epoch, topic, part in groups:
        body += cstr(g)
        if ver >= 9:
            body += cstr(member) + struct.pack(">i", epoch)
        body += uvarint(2) + cstr(topic) + uvarint(2) + struct.pack(">i", part) + TAGS + TAGS
    body += b"\x00" + TAGS  # require_stable
    r = c.call(9, ver, body, True)
    r.i32()
    out = []
    for _ in range(r.uv() - 1):
        g = r.cstr()
        offs = [p[1] for t in r.carr(lambda r: (r.cstr(), r.carr(
            lambda r: (r.i32(), r.i64(), r.i32(), r.cstr(), r.i16(), r.tags())), r.tags())[1])
            for p in t]
        out.append((g, r.i16(), offs[0] if offs else None))
        r.tags()
    r.tags()
    return out


def join_classic(c, group, member=""):
    body = s16(group) + struct.pack(">ii", 10000, 10000) + s16(member) + s16(None)
    body += s16("consumer") + struct.pack(">i", 1) + s16("range")
    body += struct.pack(">i", 0)  # empty metadata
    r = c.call(11, 5, body, False)
    r.i32()
    err = r.i16()
    r.i32()
    r.str16()
    r.str16()
    return err, r.str16()


def list_groups_v5(c):
    r = c.call(16, 5, carr([], cstr) + carr([], cstr) + TAGS, True)
    r.i32()
    if r.i16():
        fail("ListGroups error")

    def g(rr):
        x = (rr.cstr(), rr.cstr(), rr.cstr(), rr.cstr())
        rr.tags()
        return x
    return r.carr(g)


def describe_groups_v4(c, group):
    r = c.call(15, 4, struct.pack(">i", 1) + s16(group) + b"\x00", False)
    r.i32()
    r.i32()
    return {"err": r.i16(), "id": r.str16(), "state": r.str16(), "ptype": r.str16(),
            "protocol": r.str16(), "members": r.i32()}


def main():
    admin = Conn()
    av = api_versions(admin)
    if av.get(68) != (0, 1) or av.get(69) != (0, 0):
        fail(f"ApiVersions: 68 -> {av.get(68)}, 69 -> {av.get(69)}")

    a = Member("A", topics=["t6"])
    a.beat()
    if a.epoch < 1 or len(a.owned) != 6:
        fail(f"first member: epoch {a.epoch}, {len(a.owned)} partitions")
    if not 0 < heartbeat(a.c, a.id, a.epoch)["interval"] <= 60000:
        fail("heartbeat interval")

    # Two members: A must give up 3 partitions before B gets them.
    b = Member("B", topics=["t6"], ver=1)
    b.beat()
    if b.owned:
        fail("B got partitions A still owns")
    members = [a, b]
    converge(members, [3, 3], "two members")

    c3 = Member("C", topics=["t6"])
    c3.beat()
    members.append(c3)
    converge(members, [2, 2, 2], "three members")

    gs = describe(admin, [GROUP, "no-such-group"])
    g = gs[0]
    if g["err"] or g["state"] != "Stable" or len(g["members"]) != 3 or g["assignor"] != "uniform":
        fail(f"describe: {g['err']} {g['state']} {len(g['members'])} {g['assignor']}")
    if g["epoch"] != g["assignment_epoch"] or any(m["epoch"] != g["epoch"] for m in g["members"]):
        fail("describe: epochs differ in a stable group")
    for m in g["members"]:
        if m["topics"] != ["t6"] or m["client_id"] != "kip848-test" or m["client_host"] != "127.0.0.1":
            fail(f"describe member: {m}")
        if [t[1] for t in m["assignment"]] != ["t6"] or len(m["assignment"][0][2]) != 2:
            fail(f"describe assignment: {m['assignment']}")
    if gs[1]["err"] != 69:
        fail(f"describe of an unknown group: error {gs[1]['err']}")

    # Fencing.
    r = heartbeat(a.c, a.id, a.epoch + 5, owned=a.owned)
    if r["err"] != 110:
        fail(f"future epoch: error {r['err']}, want FENCED_MEMBER_EPOCH")
    if heartbeat(a.c, a.id, 1, owned=a.owned)["err"] != 110:  # A is at 3, its previous was 2
        fail("stale epoch: want FENCED_MEMBER_EPOCH")
    if heartbeat(a.c, "not-a-member", 3)["err"] != 25:
        fail("unknown member: want UNKNOWN_MEMBER_ID")

    # Offsets, with the member epoch as the generation.
    names = topic_names(admin)
    tid, part = sorted(a.owned)[0]
    topic = names[tid]
    if offset_commit(admin, a.id, a.epoch, topic, part, 42) != 0:
        fail("commit with the member epoch")
    if offset_commit(admin, a.id, a.epoch - 1, topic, part, 43) != 22:
        fail("commit with a stale epoch: want ILLEGAL_GENERATION")
    if offset_commit(admin, "", -1, topic, part, 44) != 25:
        fail("commit without member into a live consumer group: want UNKNOWN_MEMBER_ID")
    if offset_fetch(admin, topic, part) != 42:
        fail("offset fetch after commit")
    # v9 (the version KIP-848 clients use): a stale epoch is STALE_MEMBER_EPOCH; OffsetFetch v9
    # checks the member the same way, and v8 answers several groups in one request (KIP-709).
    if offset_commit_v9(admin, a.id, a.epoch - 1, topic, part, 45) != 113:
        fail("v9 commit with a stale epoch: want STALE_MEMBER_EPOCH")
    if offset_commit_v9(admin, a.id, a.epoch, topic, part, 46) != 0:
        fail("v9 commit with the member epoch")
    got = offset_fetch_multi(admin, 9, [(GROUP, a.id, a.epoch, topic, part),
                                        (GROUP, a.id, a.epoch - 1, topic, part),
                                        (GROUP, "not-a-member", 1, topic, part),
                                        ("no-such-group", None, -1, topic, part)])
    if got != [(GROUP, 0, 46), (GROUP, 113, None), (GROUP, 25, None), ("no-such-group", 0, -1)]:
        fail("OffsetFetch v9: %r" % (got,))
    got = offset_fetch_multi(admin, 8, [(GROUP, None, -1, topic, part),
                                        ("no-such-group", None, -1, topic, part)])
    if got != [(GROUP, 0, 46), ("no-such-group", 0, -1)]:
        fail("OffsetFetch v8: %r" % (got,))
    # One members gauge for the group, though its offsets now sit with the coordinator too.
    with urllib.request.urlopen(f"http://{sys.argv[3]}/metrics", timeout=30) as resp:
        lines = [x for x in resp.read().decode().splitlines()
                 if x.startswith(f'sluice_consumer_group_members{{group="{GROUP}"}}')]
    if len(lines) != 1 or float(lines[0].split()[-1]) != 3:
        fail(f"/metrics members of the group: {lines}")

    # Classic and consumer ids never mix.
    err, _ = join_classic(admin, GROUP, "x")
    if err != 23:
        fail(f"classic JoinGroup into a consumer group: error {err}")
    cl = Conn()
    err, mid = join_classic(cl, "classic-848")
    if err == 79:
        err, mid = join_classic(cl, "classic-848", mid)
    if err:
        fail(f"classic join: {err}")
    saved = GROUP
    globals()["GROUP"] = "classic-848"
    r = heartbeat(admin, "", 0, topics=["t6"], rebalance_ms=1000)
    globals()["GROUP"] = saved
    if r["err"] != 69:
        fail(f"consumer heartbeat into a classic group: error {r['err']}")
    lg = {x[0]: x for x in list_groups_v5(admin)}
    if lg.get(GROUP, ())[1:] != ("consumer", "Stable", "consumer"):
        fail(f"ListGroups v5: {lg.get(GROUP)}")
    if lg.get("classic-848", ())[3:] != ("classic",):
        fail(f"ListGroups v5 classic: {lg.get('classic-848')}")
    dg = describe_groups_v4(admin, GROUP)
    if dg["err"] or dg["ptype"] != "consumer" or dg["members"] != 3 or dg["state"] != "Stable":
        fail(f"DescribeGroups: {dg}")

    # C leaves: 3/3 again.
    c3.leave()
    converge(members, [3, 3], "after a leave")

    # B stops heartbeating: after the session timeout A owns everything.
    b_id, b_epoch = b.id, b.epoch
    b.alive = False
    b.owned = set()
    t0 = time.time()
    converge([a], [6], "after a session timeout")
    waited = time.time() - t0
    if waited < 2.0:
        fail(f"B was dropped after {waited:.1f} s, before its 3 s session timeout")
    if heartbeat(b.c, b_id, b_epoch, ver=1)["err"] != 25:
        fail("an expired member: want UNKNOWN_MEMBER_ID")

    # New partitions give a new target assignment.
    subprocess.run([SLUICE, "topic", "add-partitions", "t6", "-n", "2", "-b", sys.argv[1]],
                   check=True, stdout=subprocess.DEVNULL)
    converge([a], [8], "after add-partitions")

    # A regex subscription (v1) next to a topic-name one.
    rx = Member("R", regex="^t[2]$", ver=1)
    rx.beat()
    converge([a, rx], [8, 2], "regex member")
    if heartbeat(admin, str(uuid.uuid4()), 0, regex="(", ver=1, rebalance_ms=1000)["err"] != 130:
        fail("bad regex: want INVALID_REGULAR_EXPRESSION")

    # Static membership: a member leaving with -2 keeps its partitions for its instance id.
    globals()["GROUP"] = "cg-848-static"
    s1 = Conn()
    r1 = heartbeat(s1, "", 0, topics=["t2"], instance="inst-1", rebalance_ms=30000)
    if r1["err"] or len(r1["assignment"]) != 2:
        fail(f"static join: {r1}")
    r = heartbeat(s1, r1["member_id"], -2, instance="inst-1")
    if r["err"] or r["epoch"] != -2:
        fail(f"static leave: {r}")
    s2 = Conn()
    r2 = heartbeat(s2, "", 0, topics=["t2"], instance="inst-1", rebalance_ms=30000)
    if r2["err"] or r2["epoch"] != r1["epoch"] or r2["assignment"] != r1["assignment"]:
        fail(f"static rejoin: {r2}, before {r1}")
    r3 = heartbeat(Conn(), "", 0, topics=["t2"], instance="inst-1", rebalance_ms=30000)
    if r3["err"] != 111:
        fail(f"second process with an active instance id: {r3['err']}, want UNRELEASED_INSTANCE_ID")
    print("ok: consumer protocol")


main()
