"""The schema codec the raw-protocol tests share: a schema is a list of (name, type,
first_version, last_version) as in apache/kafka's message JSON; a type is a primitive name or a
list (an array of structs). Flexible versions use compact strings/arrays and a tagged-field
section after every struct."""
import socket
import struct

INF = 99


def uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


class Reader:
    def __init__(self, b):
        self.b, self.p = b, 0

    def take(self, n):
        if self.p + n > len(self.b):
            raise ValueError("truncated at %d (+%d of %d)" % (self.p, n, len(self.b)))
        v = self.b[self.p:self.p + n]
        self.p += n
        return v

    def uvarint(self):
        shift = v = 0
        while True:
            c = self.take(1)[0]
            v |= (c & 0x7F) << shift
            if not c & 0x80:
                return v
            shift += 7


def enc(schema, vals, ver, flex):
    out = b""
    for name, typ, lo, hi in schema:
        if not lo <= ver <= hi:
            continue
        v = vals.get(name)
        if isinstance(typ, list):
            if v is None:
                out += uvarint(0) if flex else struct.pack(">i", -1)
                continue
            out += uvarint(len(v) + 1) if flex else struct.pack(">i", len(v))
            for item in v:
                out += enc(typ, item, ver, flex)
        elif typ in ("str", "nstr"):
            if v is None:
                out += uvarint(0) if flex else struct.pack(">h", -1)
            else:
                s = v.encode()
                out += (uvarint(len(s) + 1) if flex else struct.pack(">h", len(s))) + s
        elif typ == "bytes":
            if v is None:
                out += uvarint(0) if flex else struct.pack(">i", -1)
            else:
                out += (uvarint(len(v) + 1) if flex else struct.pack(">i", len(v))) + v
        elif typ == "ni32list" and v is None:  # a nullable int32 array, null
            out += uvarint(0) if flex else struct.pack(">i", -1)
        elif typ in ("i32list", "ni32list"):
            v = v or []
            out += uvarint(len(v) + 1) if flex else struct.pack(">i", len(v))
            out += b"".join(struct.pack(">i", x) for x in v)
        elif typ == "i64list":
            v = v or []
            out += uvarint(len(v) + 1) if flex else struct.pack(">i", len(v))
            out += b"".join(struct.pack(">q", x) for x in v)
        elif typ == "strlist":
            if v is None:
                out += uvarint(0) if flex else struct.pack(">i", -1)
                continue
            out += uvarint(len(v) + 1) if flex else struct.pack(">i", len(v))
            for s in v:
                s = s.encode()
                out += (uvarint(len(s) + 1) if flex else struct.pack(">h", len(s))) + s
        elif typ == "uuid":
            out += v or bytes(16)
        else:
            out += struct.pack({"i8": ">b", "bool": ">?", "i16": ">h", "i32": ">i",
                                "i64": ">q"}[typ], v if v is not None else 0)
    if flex:
        out += uvarint(0)
    return out


def dec(schema, r, ver, flex):
    obj = {}
    for name, typ, lo, hi in schema:
        if not lo <= ver <= hi:
            continue
        if isinstance(typ, list) or typ in ("i32list", "ni32list", "strlist", "i64list"):
            n = r.uvarint() - 1 if flex else struct.unpack(">i", r.take(4))[0]
            if n < 0:
                obj[name] = None
                continue
            items = []
            for _ in range(n):
                if typ in ("i32list", "ni32list"):
                    items.append(struct.unpack(">i", r.take(4))[0])
                elif typ == "i64list":
                    items.append(struct.unpack(">q", r.take(8))[0])
                elif typ == "strlist":  # bare strings: no tagged fields after each
                    m = r.uvarint() - 1 if flex else struct.unpack(">h", r.take(2))[0]
                    items.append(None if m < 0 else r.take(m).decode())
                else:
                    items.append(dec(typ, r, ver, flex))
            obj[name] = items
        elif typ in ("str", "nstr"):
            n = r.uvarint() - 1 if flex else struct.unpack(">h", r.take(2))[0]
            obj[name] = None if n < 0 else r.take(n).decode()
        elif typ == "bytes":
            n = r.uvarint() - 1 if flex else struct.unpack(">i", r.take(4))[0]
            obj[name] = None if n < 0 else r.take(n)
        elif typ == "uuid":
            obj[name] = r.take(16)
        else:
            fmt = {"i8": ">b", "bool": ">?", "i16": ">h", "i32": ">i", "i64": ">q"}[typ]
            obj[name] = struct.unpack(fmt, r.take(struct.calcsize(fmt)))[0]
    if flex:
        for _ in range(r.uvarint()):
            r.uvarint()
            r.take(r.uvarint())
    return obj


# Metadata (API 3) v0-v12, as the cluster tests read it (cluster_wire.py, ops_wire.py,
# cluster_create_race.py): topic ids from v10.
METADATA_REQ = [("topics", [("id", "uuid", 10, INF), ("name", "nstr", 0, INF)], 0, INF),
                ("allow_auto", "bool", 4, INF), ("cluster_ops", "bool", 8, 10),
                ("topic_ops", "bool", 8, INF)]
METADATA_RESP = [("throttle", "i32", 3, INF),
                 ("brokers", [("node_id", "i32", 0, INF), ("host", "str", 0, INF),
                              ("port", "i32", 0, INF), ("rack", "nstr", 1, INF)], 0, INF),
                 ("cluster_id", "nstr", 2, INF), ("controller", "i32", 1, INF),
                 ("topics", [("error", "i16", 0, INF), ("name", "str", 0, INF),
                             ("id", "uuid", 10, INF), ("internal", "bool", 1, INF),
                             ("parts", [("error", "i16", 0, INF), ("index", "i32", 0, INF),
                                        ("leader", "i32", 0, INF), ("epoch", "i32", 7, INF),
                                        ("replicas", "i32list", 0, INF),
                                        ("isr", "i32list", 0, INF),
                                        ("offline", "i32list", 5, INF)], 0, INF),
                             ("topic_ops", "i32", 8, INF)], 0, INF),
                 ("cluster_ops", "i32", 8, 10)]


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


class Conn:
    """One connection to a broker; call() sends a request and decodes its response exactly."""

    def __init__(self, host_port, client_id=b"kschema"):
        host, port = host_port.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.corr, self.client_id = 0, client_id

    def recv(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ValueError("connection closed")
            out += chunk
        return out

    def call(self, key, ver, flex, req, req_schema, resp_schema):
        self.corr += 1
        hdr = struct.pack(">hhih", key, ver, self.corr, len(self.client_id)) + self.client_id
        frame = hdr + (b"\x00" if flex else b"") + enc(req_schema, req, ver, flex)
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        r = Reader(self.recv(struct.unpack(">i", self.recv(4))[0]))
        assert struct.unpack(">i", r.take(4))[0] == self.corr
        if flex and key != 18:
            r.uvarint()  # response header tagged fields
        obj = dec(resp_schema, r, ver, flex)
        if r.p != len(r.b):
            raise ValueError("api %d v%d: %d trailing bytes" % (key, ver, len(r.b) - r.p))
        return obj
