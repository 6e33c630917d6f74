"""The brokers' private API (key 9000, cluster.h) behind SASL and ACLs, on the wire.
usage: cluster_auth.py SASL_PLAINTEXT_HOSTPORT
Expects PLAIN users admin/adm1n (a super user) and eve/3ve (no ACLs) and an authorizer. A 9000
request before authentication closes the connection unanswered; eve's status query and
proposal get CLUSTER_AUTHORIZATION_FAILED (31); the super user's status query is answered."""
import socket
import struct
import sys

host, port = sys.argv[1].rsplit(":", 1)
CLUSTER_KEY, OP_PROPOSE, OP_STATUS = 9000, 1, 3


def frame(key, ver, corr, body):
    cid = b"cluster_auth"
    msg = struct.pack(">hhih", key, ver, corr, len(cid)) + cid + body
    return struct.pack(">i", len(msg)) + msg


def recv_frame(s):
    def exact(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                return None
            b += c
        return b
    h = exact(4)
    return None if h is None else exact(struct.unpack(">i", h)[0])


def connect(user=None, password=None):
    s = socket.create_connection((host, int(port)), timeout=10)
    if user:
        mech = b"PLAIN"
        s.sendall(frame(17, 1, 1, struct.pack(">h", len(mech)) + mech))
        r = recv_frame(s)
        assert r and struct.unpack(">h", r[4:6])[0] == 0, "SaslHandshake"
        tok = b"\0" + user.encode() + b"\0" + password.encode()
        s.sendall(frame(36, 0, 2, struct.pack(">i", len(tok)) + tok))
        r = recv_frame(s)
        assert r and struct.unpack(">h", r[4:6])[0] == 0, "SaslAuthenticate as %s" % user
    return s


def cluster_call(s, op, extra=b""):
    s.sendall(frame(CLUSTER_KEY, 0, 7, struct.pack(">bi", op, -1) + extra))
    r = recv_frame(s)
    if r is None:
        return None
    assert struct.unpack(">i", r[:4])[0] == 7, "correlation id"
    return struct.unpack(">h", r[4:6])[0]


s = connect()
try:
    got = cluster_call(s, OP_STATUS)
except (ConnectionResetError, socket.timeout):
    got = None
assert got is None, "unauthenticated cluster request answered (error %r)" % got
s = connect("eve", "3ve")
assert cluster_call(s, OP_STATUS) == 31, "eve's status query not refused"
cmd = b"not a command"
assert cluster_call(s, OP_PROPOSE, struct.pack(">i", len(cmd)) + cmd) == 31, \
    "eve's proposal not refused"
s = connect("admin", "adm1n")
assert cluster_call(s, OP_STATUS) == 0, "the super user's status query refused"
print("cluster API: unauthenticated closed, eve refused (31), admin answered")
