"""A TCP proxy between the brokers of a test cluster, with links that can be cut (issue 11, §3).

  fault_proxy.py DIR FRONT=NODE:TARGET_PORT ...
      Listens on 127.0.0.1:FRONT for every FRONT given and forwards each connection to
      127.0.0.1:TARGET_PORT, the Kafka or Raft port of broker NODE. Prints "ready" once listening.

Each accepted connection is attributed to the broker process that opened it: the proxy finds the
socket's inode in /proc/net/tcp and looks for it among the descriptors of the pids written in
DIR/nI.pid (I = 1, 2, ...). A connection from no broker is a client (node 0).

Links are cut through DIR/cuts, read every 50 ms: one "SRC DST" pair of node ids a line (0 for
clients, * for any). Connections from SRC to DST are refused while the line is there, and those
already open are reset at once, in both directions (the proxy cannot cut one direction of a TCP
stream; a one-way cut is "SRC DST" without "DST SRC": SRC cannot reach DST, DST can reach SRC).
A line "delay SRC DST MS" instead holds every chunk on that link for MS milliseconds.
"""
import os
import socket
import struct
import sys
import threading
import time

DIR = sys.argv[1]
lock = threading.Lock()
conns = []  # [src, dst, client socket, upstream socket]
cuts = set()
delays = {}


def node_pids():
    out = {}
    for name in os.listdir(DIR):
        if name.startswith("n") and name.endswith(".pid"):
            try:
                out[int(open(os.path.join(DIR, name)).read().strip())] = int(name[1:-4])
            except (ValueError, OSError):
                pass
    return out


def inode_of(port, front):
    """The inode of the socket 127.0.0.1:port -> 127.0.0.1:front, from /proc/net/tcp."""
    want_local = "0100007F:%04X" % port
    want_remote = "0100007F:%04X" % front
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            p = line.split()
            if p[1] == want_local and p[2] == want_remote:
                return p[9]
    return None


def source_node(peer_port, front):
    ino = inode_of(peer_port, front)
    if ino is None:
        return 0
    link = "socket:[%s]" % ino
    for pid, node in node_pids().items():
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == link:
                        return node
                except OSError:
                    pass
        except OSError:
            pass
    return 0


def is_cut(src, dst):
    return any((a in ("*", str(src))) and (b in ("*", str(dst))) for a, b in cuts)


def delay_of(src, dst):
    for (a, b), ms in delays.items():
        if a in ("*", str(src)) and b in ("*", str(dst)):
            return ms
    return 0


def reset(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    except OSError:
        pass


def pump(c, frm, to):
    try:
        while True:
            data = frm.recv(65536)
            if not data:
                break
            ms = delay_of(c[0], c[1])
            if ms:
                time.sleep(ms / 1000.0)
            to.sendall(data)
    except OSError:
        pass
    try:
        to.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    with lock:
        c[4] -= 1
        done = c[4] == 0
        if done and c in conns:
            conns.remove(c)
    if done:
        for s in (c[2], c[3]):
            try:
                s.close()
            except OSError:
                pass


def serve(ls, front, node, target):
    while True:
        cs, peer = ls.accept()
        src = source_node(peer[1], front)
        with lock:
            refused = is_cut(src, node)
        if refused:
            reset(cs)
            continue
        try:
            up = socket.create_connection(("127.0.0.1", target), timeout=2)
            up.settimeout(None)
        except OSError:
            reset(cs)
            continue
        c = [src, node, cs, up, 2]
        with lock:
            conns.append(c)
        threading.Thread(target=pump, args=(c, cs, up), daemon=True).start()
        threading.Thread(target=pump, args=(c, up, cs), daemon=True).start()


def watch_cuts():
    global cuts, delays
    path = os.path.join(DIR, "cuts")
    while True:
        new_cuts, new_delays = set(), {}
        try:
            for line in open(path):
                w = line.split()
                if len(w) == 2:
                    new_cuts.add((w[0], w[1]))
                elif len(w) == 4 and w[0] == "delay":
                    new_delays[(w[1], w[2])] = int(w[3])
        except OSError:
            pass
        with lock:
            cuts, delays = new_cuts, new_delays
            doomed = [c for c in conns if is_cut(c[0], c[1])]
        for c in doomed:
            reset(c[2])
            reset(c[3])
        time.sleep(0.05)


def main():
    for arg in sys.argv[2:]:
        front, rest = arg.split("=")
        node, target = rest.split(":")
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", int(front)))
        ls.listen(128)
        threading.Thread(target=serve, args=(ls, int(front), int(node), int(target)),
                         daemon=True).start()
    threading.Thread(target=watch_cuts, daemon=True).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
