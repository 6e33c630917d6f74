"""CreateAcls, DescribeAcls and DeleteAcls at every version 0-3 (flexible from 2) over a raw
socket, on a broker whose PLAINTEXT principal (User:ANONYMOUS) is a super user: each version
creates a binding, finds it with a MATCH filter (v1+; LITERAL at v0), deletes it, and every
response must decode exactly. Also the INVALID_REQUEST cases. usage: acl_wire.py HOST:PORT"""
import socket
import struct
import sys

from kschema import Reader, dec, enc

INF = 99
host, port = sys.argv[1].rsplit(":", 1)
sock = socket.create_connection((host, int(port)), timeout=20)
corr = 0


def recv(n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ValueError("connection closed")
        out += chunk
    return out


def call(key, ver, body, resp_schema):
    global corr
    corr += 1
    flex = ver >= 2
    frame = struct.pack(">hhih", key, ver, corr, 2) + b"aw" + (b"\x00" if flex else b"") + body
    sock.sendall(struct.pack(">i", len(frame)) + frame)
    r = Reader(recv(struct.unpack(">i", recv(4))[0]))
    assert struct.unpack(">i", r.take(4))[0] == corr
    if flex:
        r.uvarint()
    obj = dec(resp_schema, r, ver, flex)
    assert r.p == len(r.b), "api %d v%d: %d trailing bytes" % (key, ver, len(r.b) - r.p)
    return obj


B = [("rtype", "i8", 0, INF), ("name", "nstr", 0, INF), ("pattern", "i8", 1, INF),
     ("principal", "nstr", 0, INF), ("host", "nstr", 0, INF), ("op", "i8", 0, INF),
     ("perm", "i8", 0, INF)]
BS = [(n, "str" if t == "nstr" else t, a, b) for n, t, a, b in B]
CA_RESP = [("throttle", "i32", 0, INF),
           ("results", [("error", "i16", 0, INF), ("msg", "nstr", 0, INF)], 0, INF)]
DA_RESP = [("throttle", "i32", 0, INF), ("error", "i16", 0, INF), ("msg", "nstr", 0, INF),
           ("resources", [BS[0], BS[1], BS[2], ("acls", BS[3:], 0, INF)], 0, INF)]
DL_RESP = [("throttle", "i32", 0, INF),
           ("results", [("error", "i16", 0, INF), ("msg", "nstr", 0, INF),
                        ("matching", [("error", "i16", 0, INF), ("msg", "nstr", 0, INF)] + BS,
                         0, INF)], 0, INF)]

for v in range(4):
    name = "aw-orders-%d" % v
    pattern = 4 if v >= 1 else 3  # PREFIXED needs v1
    one = {"rtype": 2, "name": name, "pattern": pattern, "principal": "User:w%d" % v,
           "host": "*", "op": 4, "perm": 3}
    bad = [dict(one, rtype=6), dict(one, principal="alice"), dict(one, op=1),
           dict(one, rtype=4, name="other")]
    r = call(30, v, enc([("c", B, 0, INF)], {"c": [one] + bad}, v, v >= 2), CA_RESP)
    assert [x["error"] for x in r["results"]] == [0, 42, 42, 42, 42], (v, r)
    f = dict(one, name=name + "-x", pattern=2 if v >= 1 else 3, principal=None, host=None,
             op=1, perm=1)
    if v == 0:
        f["name"] = name
    r = call(29, v, enc(B, f, v, v >= 2), DA_RESP)
    assert r["error"] == 0 and len(r["resources"]) == 1, (v, r)
    res = r["resources"][0]
    assert (res["rtype"], res["name"]) == (2, name) and res.get("pattern", 3) == pattern, (v, res)
    assert res["acls"] == [{"principal": "User:w%d" % v, "host": "*", "op": 4, "perm": 3}], res
    r = call(31, v, enc([("f", B, 0, INF)], {"f": [dict(one, host=None, op=1, perm=1)]}, v,
                        v >= 2), DL_RESP)
    (fr,) = r["results"]
    assert fr["error"] == 0 and len(fr["matching"]) == 1, (v, r)
    assert fr["matching"][0]["name"] == name and fr["matching"][0]["principal"] == "User:w%d" % v
    r = call(29, v, enc(B, f, v, v >= 2), DA_RESP)
    assert r["error"] == 0 and r["resources"] == [], (v, r)
print("ok: CreateAcls, DescribeAcls, DeleteAcls v0-3 round trips")
