"""Hostile slow clients against a broker, with the checks the tests make (exit 1 on failure).

usage:
  slow_clients.py slowfetch BROKER ADMIN CONNS SECONDS MAX_HEAP_MB
      CONNS connections pipeline Fetch v11 requests for an unknown topic and never read the
      answers. The broker's heap (sluice_memory_in_use_bytes) must stay under MAX_HEAP_MB the
      whole time; after they hang up, the heap must be back near where it started and RSS must
      have come down by at least half of what it grew. The broker's own count of queued response
      memory must stay under MAX_HEAP_MB too, and be 0 at the end. Under AddressSanitizer
      (SLUICE_ASAN set) mallinfo2 reads 0 and freed memory sits in ASan's quarantine, so only
      the broker's own count is checked there.
  slowloris BROKER ATTACK_ADDR CONNS PROBE_WITHIN_S PARTIAL_MS
      CONNS connections from ATTACK_ADDR send a frame size and 3 bytes of the header, then stall.
      A new client (ApiVersions from 127.0.0.1) must be answered within PROBE_WITHIN_S while they
      sit there, and every attacking connection must have been closed by the broker within
      PARTIAL_MS plus a margin.
  perip BROKER ADDR LIMIT
      LIMIT+1 connections from ADDR send ApiVersions: exactly LIMIT are answered, one is closed.
  idle BROKER IDLE_MS
      A client sends ApiVersions, reads the answer and says nothing more: the broker must close
      it after IDLE_MS (not before), while one that keeps sending requests stays open.
"""
import os, select, socket, struct, sys, time, urllib.request


def s16(text):
    b = text.encode()
    return struct.pack(">h", len(b)) + b


def frame(api_key, version, corr, client, body):
    f = struct.pack(">hhi", api_key, version, corr) + s16(client) + body
    return struct.pack(">i", len(f)) + f


def api_versions(corr):
    return frame(18, 0, corr, "probe", b"")


def fetch_unknown(corr):
    # Fetch v11: replica, max_wait, min_bytes, max_bytes, isolation, session id/epoch.
    body = struct.pack(">iiiibii", -1, 0, 1, 1 << 20, 0, 0, -1)
    body += struct.pack(">i", 1) + s16("no-such-topic-here") + struct.pack(">i", 1)
    body += struct.pack(">iiqqi", 0, -1, 0, -1, 1 << 20)
    body += struct.pack(">i", 0) + s16("")  # forgotten topics, rack
    return frame(1, 11, corr, "slowfetch", body)


def metrics(admin):
    text = urllib.request.urlopen("http://%s/metrics" % admin, timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and " " in line:
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def read_answer(sock, deadline):
    """One size-prefixed response, or None if the broker closed or the deadline passed."""
    buf = b""
    while time.time() < deadline:
        r, _, _ = select.select([sock], [], [], max(0.0, deadline - time.time()))
        if not r:
            break
        try:
            chunk = sock.recv(65536)
        except OSError:
            return None
        if not chunk:
            return None
        buf += chunk
        if len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">i", buf[:4])[0]:
            return buf
    return None


def closed_by_peer(sock):
    try:
        sock.setblocking(False)
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def slowfetch(broker, admin, conns, seconds, max_heap_mb):
    host, port = broker.rsplit(":", 1)
    before = metrics(admin)
    req = fetch_unknown(1) * 64  # 64 pipelined requests per send
    socks = []
    for _ in range(conns):
        s = socket.create_connection((host, int(port)))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        socks.append([s, b""])
    peak = before["sluice_memory_in_use_bytes"]
    peak_rss = before["process_resident_memory_bytes"]
    peak_out = 0.0
    sent = 0
    end = time.time() + seconds
    next_sample = 0.0
    while time.time() < end:
        _, w, _ = select.select([], [x[0] for x in socks], [], 0.05)
        for x in socks:
            if x[0] not in w:
                continue
            if not x[1]:
                x[1] = req
            try:
                n = x[0].send(x[1])
                x[1] = x[1][n:]
                sent += n
            except BlockingIOError:
                pass
        if time.time() >= next_sample:
            m = metrics(admin)
            peak = max(peak, m["sluice_memory_in_use_bytes"])
            peak_rss = max(peak_rss, m["process_resident_memory_bytes"])
            peak_out = max(peak_out, m.get("sluice_output_queued_memory_bytes", 0))
            next_sample = time.time() + 0.25
    m = metrics(admin)
    peak = max(peak, m["sluice_memory_in_use_bytes"])
    peak_rss = max(peak_rss, m["process_resident_memory_bytes"])
    peak_out = max(peak_out, m.get("sluice_output_queued_memory_bytes", 0))
    for x in socks:
        x[0].close()
    time.sleep(2.5)  # the broker sees the hang-ups, frees the output, trims the heap
    after = metrics(admin)
    mb = 1 << 20
    print("sent=%.1fMB heap: before=%.1fMB peak=%.1fMB after=%.1fMB  rss: before=%.1fMB "
          "peak=%.1fMB after=%.1fMB  queued output memory peak=%.1fMB  bound=%dMB" % (
              sent / mb, before["sluice_memory_in_use_bytes"] / mb, peak / mb,
              after["sluice_memory_in_use_bytes"] / mb, before["process_resident_memory_bytes"] / mb,
              peak_rss / mb, after["process_resident_memory_bytes"] / mb, peak_out / mb,
              max_heap_mb))
    asan = bool(os.environ.get("SLUICE_ASAN"))
    ok = True
    if sent < 8 * mb:
        print("FAIL: the attack sent only %d bytes; it did not load the broker" % sent)
        ok = False
    if peak_out > max_heap_mb * mb:
        print("FAIL: queued output memory reached %.1f MB, over %d MB" % (peak_out / mb, max_heap_mb))
        ok = False
    if not asan and peak > max_heap_mb * mb:
        print("FAIL: heap reached %.1f MB, over %d MB" % (peak / mb, max_heap_mb))
        ok = False
    if not asan and after["sluice_memory_in_use_bytes"] > before["sluice_memory_in_use_bytes"] + 4 * mb:
        print("FAIL: heap not given back after the fetchers left")
        ok = False
    grown = peak_rss - before["process_resident_memory_bytes"]
    if not asan and grown > 8 * mb and after["process_resident_memory_bytes"] > peak_rss - grown / 2:
        print("FAIL: RSS stayed up after the fetchers left (heap not trimmed)")
        ok = False
    if after.get("sluice_output_queued_memory_bytes", 0) != 0:
        print("FAIL: output memory still counted after every fetcher left")
        ok = False
    return ok


def slowloris(broker, attack_addr, conns, probe_within, partial_ms):
    host, port = broker.rsplit(":", 1)
    t0 = time.time()
    socks = []
    for _ in range(conns):
        s = socket.socket()
        s.bind((attack_addr, 0))
        s.settimeout(5)
        s.connect((host, int(port)))  # completes in the kernel's accept queue even at the cap
        s.sendall(struct.pack(">i", 30) + b"\x00\x12\x00")
        socks.append(s)
    print("slowloris: %d connections open in %.1fs" % (len(socks), time.time() - t0))
    time.sleep(1.5)  # every attacker connection accepted so far is past the eviction age
    ok = True
    p0 = time.time()
    probe = socket.create_connection((host, int(port)), timeout=probe_within)
    probe.sendall(api_versions(7))
    ans = read_answer(probe, p0 + probe_within)
    took = time.time() - p0
    probe.close()
    if ans is None or struct.unpack(">i", ans[4:8])[0] != 7:
        print("FAIL: a new client was not served within %.1fs during the attack" % probe_within)
        ok = False
    else:
        print("new client served in %.2fs during the attack" % took)
    # Every attacking connection must be closed by the broker by its deadline (plus margin).
    deadline = t0 + partial_ms / 1000.0 + 1.5 + 3.0
    open_left = list(socks)
    while open_left and time.time() < deadline:
        open_left = [s for s in open_left if not closed_by_peer(s)]
        time.sleep(0.1)
    print("attack connections still open %.1fs after the first: %d of %d" % (
        time.time() - t0, len(open_left), len(socks)))
    if open_left:
        print("FAIL: half-frame connections outlived connections.max.partial.request.ms")
        ok = False
    for s in socks:
        s.close()
    return ok


def perip(broker, addr, limit):
    host, port = broker.rsplit(":", 1)
    socks = []
    for i in range(limit + 1):
        s = socket.socket()
        s.bind((addr, 0))
        s.settimeout(5)
        s.connect((host, int(port)))
        socks.append(s)
        time.sleep(0.05)
    answered = closed = 0
    for i, s in enumerate(socks):
        try:
            s.sendall(api_versions(i))
        except OSError:
            closed += 1
            continue
        if read_answer(s, time.time() + 5) is None:
            closed += 1
        else:
            answered += 1
        s.close()
    print("per-ip: %d answered, %d closed (limit %d)" % (answered, closed, limit))
    return answered == limit and closed == 1


def idle(broker, idle_ms):
    host, port = broker.rsplit(":", 1)
    quiet = socket.create_connection((host, int(port)), timeout=5)
    busy = socket.create_connection((host, int(port)), timeout=5)
    t0 = time.time()
    quiet.sendall(api_versions(1))
    if read_answer(quiet, t0 + 5) is None:
        print("FAIL: no answer to ApiVersions")
        return False
    limit = idle_ms / 1000.0
    closed_at = None
    i = 0
    while time.time() < t0 + limit + 3 and closed_at is None:
        i += 1
        busy.sendall(api_versions(100 + i))
        if read_answer(busy, time.time() + 5) is None:
            print("FAIL: a connection sending requests was closed")
            return False
        if closed_by_peer(quiet):
            closed_at = time.time() - t0
        quiet.setblocking(True)
        time.sleep(0.1)
    quiet.close()
    busy.close()
    print("idle connection closed after %s s (connections.max.idle.ms=%d)" % (
        "%.2f" % closed_at if closed_at is not None else "never", idle_ms))
    return closed_at is not None and closed_at >= limit - 0.2


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "slowfetch":
        ok = slowfetch(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]),
                       int(sys.argv[6]))
    elif mode == "slowloris":
        ok = slowloris(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]),
                       int(sys.argv[6]))
    elif mode == "idle":
        ok = idle(sys.argv[2], int(sys.argv[3]))
    elif mode == "perip":
        ok = perip(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
    sys.exit(0 if ok else 1)
