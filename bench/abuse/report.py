"""Turns bench/run-abuse's raw files into one markdown table, a row per phase.

usage: report.py DIR   (DIR holds phases.txt, samples.txt, probe.txt and attack-*.log)
  phases.txt   "NAME START END" (unix times) per phase
  samples.txt  "T RSS_KB FDS" once a second
  probe.txt    probe.py's events
Per phase: broker RSS min/max and fds max over the phase, the probe's produce-ack p50/p99/max and
failures, the new-connection check's p99/max and failures, and the attacker's own line."""
import os
import sys

d = sys.argv[1]


def q(vals, f):
    if not vals:
        return float("nan")
    v = sorted(vals)
    return v[min(len(v) - 1, int(f * len(v)))]


phases = [line.split() for line in open(os.path.join(d, "phases.txt")) if line.strip()]
samples = [tuple(map(float, line.split())) for line in open(os.path.join(d, "samples.txt"))
           if len(line.split()) == 3]
events = []
for line in open(os.path.join(d, "probe.txt")):
    f = line.split()
    if len(f) == 3:
        events.append((f[0], float(f[1]), float(f[2])))

print("| phase | s | RSS min–max (MB) | fds max | probe acks | ack p50 / p99 / max (ms) | "
      "ack failures | new conn p99 / max (ms) | new conn failures | attacker |")
print("|---|---|---|---|---|---|---|---|---|---|")
for name, start, end in phases:
    t0, t1 = float(start), float(end)
    rss = [s[1] / 1024 for s in samples if t0 <= s[0] <= t1]
    fds = [s[2] for s in samples if t0 <= s[0] <= t1]
    acks = [v for k, t, v in events if k == "ack" and t0 <= t <= t1]
    ackfail = sum(1 for k, t, _ in events if k == "ackfail" and t0 <= t <= t1)
    conns = [v for k, t, v in events if k == "conn" and t0 <= t <= t1]
    connfail = sum(1 for k, t, _ in events if k == "connfail" and t0 <= t <= t1)
    log = os.path.join(d, "attack-%s.log" % name)
    attacker = " ".join(open(log).read().split()[1:]) if os.path.exists(log) else "—"
    print("| %s | %.0f | %s | %s | %d | %.1f / %.1f / %.1f | %d | %.1f / %.1f | %d | %s |" % (
        name, t1 - t0,
        "%.0f–%.0f" % (min(rss), max(rss)) if rss else "—", "%d" % max(fds) if fds else "—",
        len(acks), q(acks, .5), q(acks, .99), q(acks, 1.0), ackfail,
        q(conns, .99), q(conns, 1.0), connfail, attacker or "—"))
