"""ws_client.py -- a minimal RFC 6455 client for the gateway's WebSocket tests (stdlib only).

  ws_client.py HOST:PORT PATH read N [API_KEY]     prints N text frames, one per line
  ws_client.py HOST:PORT PATH stall SECONDS        handshakes, then reads nothing for SECONDS
                                                   and prints how many bytes were waiting
  ws_client.py HOST:PORT PATH status               prints the HTTP status of the handshake
"""
import base64, hashlib, os, socket, struct, sys, time

# RFC 6455 section 1.3: the GUID, checked against the RFC's own example (key -> accept)
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
assert base64.b64encode(hashlib.sha1(("dGhlIHNhbXBsZSBub25jZQ==" + WS_GUID).encode()).digest()) \
    == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

def connect(hostport, path, key=None):
    host, port = hostport.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=60)
    nonce = base64.b64encode(os.urandom(16)).decode()
    hdr = f"GET {path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
          f"Sec-WebSocket-Key: {nonce}\r\nSec-WebSocket-Version: 13\r\n"
    if key:
        hdr += f"X-API-Key: {key}\r\n"
    s.sendall((hdr + "\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    if status == 101:
        want = base64.b64encode(hashlib.sha1((nonce + WS_GUID).encode()).digest())
        assert want in head, head
    return s, status, rest

def frames(s, rest):
    buf = rest
    while True:
        while len(buf) < 2 or len(buf) < need(buf):
            chunk = s.recv(65536)
            if not chunk:
                return
            buf += chunk
        n = need(buf)
        op, length, off = buf[0] & 15, buf[1] & 127, 2
        if length == 126:
            length, off = struct.unpack(">H", buf[2:4])[0], 4
        elif length == 127:
            length, off = struct.unpack(">Q", buf[2:10])[0], 10
        yield op, buf[off:off + length]
        buf = buf[n:]

def need(buf):
    if len(buf) < 2:
        return 2
    length = buf[1] & 127
    if length == 126:
        return 4 if len(buf) < 4 else 4 + struct.unpack(">H", buf[2:4])[0]
    if length == 127:
        return 10 if len(buf) < 10 else 10 + struct.unpack(">Q", buf[2:10])[0]
    return 2 + length

def send(s, op, payload):
    mask = os.urandom(4)
    s.sendall(bytes([0x80 | op, 0x80 | len(payload)]) + mask +
              bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

def main():
    hostport, path, mode = sys.argv[1:4]
    key = sys.argv[5] if len(sys.argv) > 5 else None
    s, status, rest = connect(hostport, path, key)
    if mode == "status":
        print(status)
        return
    assert status == 101, status
    if mode == "read":
        want = int(sys.argv[4])
        send(s, 9, b"hi")  # a ping must come back as a pong
        got = pong = 0
        for op, payload in frames(s, rest):
            if op == 10:
                pong += 1
            elif op == 1 and got < want:
                print(payload.decode(), flush=True)
                got += 1
            if got == want and pong:
                break
        assert pong == 1, "no pong"
        send(s, 8, struct.pack(">H", 1000))
    elif mode == "stall":
        time.sleep(float(sys.argv[4]))
        s.settimeout(2)
        total = len(rest)
        end = time.monotonic() + 30
        try:
            while time.monotonic() < end:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                total += len(chunk)
        except socket.timeout:
            pass
        print(total)

main()
