#!/usr/bin/env python3
"""record_proxy.py -- a TCP proxy between Kafka clients and a broker that records what the clients
send, as seeds for the fuzz targets (fuzz/README.md).

    record_proxy.py PORT_FILE UPSTREAM_FILE OUT_DIR

Listens on 127.0.0.1 on a free port and writes the port to PORT_FILE (so the broker can advertise
the proxy and clients come back through it). On each new connection it reads "host:port" of the
broker from UPSTREAM_FILE. Runs until SIGTERM, then writes into OUT_DIR:

  fuzz_request/  one file per distinct request (api key, version, body), a 4-byte size then the
                 frame, at most PER_VERSION per API version; and the first frames of each
                 connection as one stream (the order clients use: ApiVersions, Metadata, ...)
  fuzz_batch/    every distinct RecordBatch found in Produce requests (found by its magic byte and
                 a matching CRC-32C, so every Produce version works), behind the flags byte 0

File names are content hashes, so running it again adds only what is new.
"""
import hashlib
import os
import signal
import socket
import struct
import sys
import threading

PER_VERSION = 3
STREAM_FRAMES = 24
STREAM_BYTES = 64 * 1024
BATCH_BYTES = 64 * 1024

port_file, upstream_file, out_dir = sys.argv[1:4]
lock = threading.Lock()
frames = {}  # (api, version) -> list of frames (corr id zeroed)
streams = []
batches = {}


def crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        t.append(c)
    return t


TABLE = crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def find_batches(frame):
    """RecordBatch v2: magic 2 at +16, batchLength at +8, CRC-32C of +21.. at +17."""
    i = 0
    while i + 61 <= len(frame):
        if frame[i + 16] == 2:
            blen = struct.unpack_from(">i", frame, i + 8)[0]
            total = blen + 12
            if 61 <= total <= len(frame) - i and total <= BATCH_BYTES:
                crc = struct.unpack_from(">I", frame, i + 17)[0]
                if crc32c(frame[i + 21:i + total]) == crc:
                    yield frame[i:i + total]
                    i += total
                    continue
        i += 1


def note_frame(frame, stream):
    api, ver = struct.unpack_from(">hh", frame, 0)
    norm = frame[:4] + b"\0\0\0\0" + frame[8:]
    with lock:
        seen = frames.setdefault((api, ver), [])
        if norm not in seen and len(seen) < PER_VERSION:
            seen.append(norm)
        if len(stream["frames"]) < STREAM_FRAMES and stream["bytes"] + len(frame) <= STREAM_BYTES:
            stream["frames"].append(frame)
            stream["bytes"] += len(frame)
    if api == 0:
        for b in find_batches(frame):
            with lock:
                batches[hashlib.sha1(b).hexdigest()] = b


def pump(src, dst, record, stream):
    buf = b""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
            if record:
                buf += data
                while len(buf) >= 4:
                    n = struct.unpack_from(">i", buf, 0)[0]
                    if n < 8 or len(buf) < 4 + n:
                        break
                    note_frame(buf[4:4 + n], stream)
                    buf = buf[4 + n:]
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(client):
    with open(upstream_file) as f:
        host, port = f.read().strip().rsplit(":", 1)
    try:
        up = socket.create_connection((host, int(port)))
    except OSError:
        client.close()
        return
    stream = {"frames": [], "bytes": 0}
    with lock:
        streams.append(stream)
    threading.Thread(target=pump, args=(client, up, True, stream), daemon=True).start()
    threading.Thread(target=pump, args=(up, client, False, None), daemon=True).start()


def write_out(*_):
    def put(sub, data):
        d = os.path.join(out_dir, sub)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
            f.write(data)

    with lock:
        for seen in frames.values():
            for fr in seen:
                put("fuzz_request", struct.pack(">i", len(fr)) + fr)
        for st in streams:
            if len(st["frames"]) > 1:
                put("fuzz_request", b"".join(struct.pack(">i", len(fr)) + fr for fr in st["frames"]))
        for b in batches.values():
            put("fuzz_batch", b"\0" + b)
    os._exit(0)


signal.signal(signal.SIGTERM, write_out)
signal.signal(signal.SIGINT, write_out)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(128)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % ls.getsockname()[1])
os.rename(port_file + ".tmp", port_file)
while True:
    c, _ = ls.accept()
    serve(c)
