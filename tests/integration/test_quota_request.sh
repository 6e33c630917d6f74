#!/usr/bin/env bash
# request_percentage (issue 12 §4): a client over its request-time quota is told so in
# throttle_time_ms, as Kafka does, not only muted: librdkafka's statistics for a producer whose
# client-id has request_percentage=0.05 show a non-zero broker `throttle` window, while a producer
# beside it without a quota sees none; a raw Metadata v4 request from the throttled client-id
# reports throttle_time_ms > 0 too.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set quota.window.num=3 --set quota.window.size.seconds=1
"$SLUICE" topic create rq -p 1 -b "$BROKER" >/dev/null || fail "create topic"
"$SLUICE" quota set -b "$BROKER" --client-id busy --request-percentage 0.05 >/dev/null || fail "quota set"
$PY - "$BROKER" <<'PY' || fail "request_percentage not reported in throttle_time_ms"
import json, socket, struct, sys, time
from confluent_kafka import Producer
addr = sys.argv[1]
seen = {"busy": 0, "free": 0}
def stats_for(name):
    def cb(js):
        for b in json.loads(js).get("brokers", {}).values():
            if b.get("nodeid", -1) >= 0:
                seen[name] = max(seen[name], b.get("throttle", {}).get("max", 0))
    return cb
ps = {n: Producer({"bootstrap.servers": addr, "client.id": n, "linger.ms": 0, "acks": 1,
                   "statistics.interval.ms": 200, "stats_cb": stats_for(n)}) for n in seen}
deadline = time.time() + 30
while time.time() < deadline and not seen["busy"]:
    for p in ps.values():
        for _ in range(200):
            try:
                p.produce("rq", b"x")
            except BufferError:
                break
        p.poll(0.02)
for p in ps.values():
    p.flush(5)  # the throttled one may not finish: only the reports matter
    p.poll(0.3)
print(f"throttle max (ms): {seen}")
assert seen["busy"] > 0, "the throttled producer never saw throttle_time_ms > 0"
assert seen["free"] == 0, "the producer without a quota was throttled"
# On the wire: Metadata v4 from client-id "busy" while it is over its quota.
h, port = addr.rsplit(":", 1)
s = socket.create_connection((h, int(port)), timeout=20)
best = 0
for corr in range(50000):
    body = struct.pack(">hhih", 3, 4, corr, 4) + b"busy" + struct.pack(">i", 0) + b"\x00"
    s.sendall(struct.pack(">i", len(body)) + body)
    n = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
    r = s.recv(n, socket.MSG_WAITALL)
    best = max(best, struct.unpack(">i", r[4:8])[0])
    if best:
        break
print(f"Metadata v4 throttle_time_ms={best} after {corr + 1} requests")
assert best > 0, "Metadata never reported the request_percentage throttle"
PY
grep -q '^sluice_quota_throttled_total{quota="request_percentage"} [1-9]' <(curl -fsS "http://$ADMIN/metrics") \
  || fail "no request_percentage throttle counted"
broker_stop
echo PASS
