#!/usr/bin/env bash
# serial: measures rates, memory, descriptors or timing; runs alone
# A broker at its connection capacity, started with a hard RLIMIT_NOFILE of 128 and offered 300
# connections:
#   1. by default it stops at max.connections = 16 (the limit minus 256, floored at 16), keeping
#      descriptors for files and the admin endpoint, which still answers;
#   2. with max.connections above the limit it runs out of descriptors (EMFILE).
# Either way it pauses accepting (one WARN, no busy loop on the still-readable listener), and once
# the clients go away it accepts again and serves normally.
source "$(dirname "$0")/lib/broker.sh"
S="$SLUICE"
printf '#!/bin/sh\nulimit -n 128\nexec %s "$@"\n' "$S" > "$T/sluice-128"
chmod +x "$T/sluice-128"

cpu() { awk '{print $14 + $15}' "/proc/$BROKER_PID/stat"; }
conns() { curl -s "http://$ADMIN/metrics" | awk '/^sluice_connections /{print $2}'; }

# hold REASON [FILE]: 300 connections held open while the broker is checked, then released.
# With FILE, the broker's connection count (from the admin endpoint) is written there while they
# are held.
hold() {
  local reason=$1 conns_file=${2:-} before
  before=$(grep -c "pausing accepts" "$T/broker.log" || true)
  rm -f "$T/held" "$T/held.done"
  $PY - "$BROKER" 300 "$T/held" <<'PY' &
import socket, sys, time, os
host, port = sys.argv[1].rsplit(":", 1)
socks = [socket.create_connection((host, int(port)), timeout=5) for _ in range(int(sys.argv[2]))]
open(sys.argv[3], "w").write("%d\n" % len(socks))  # connected: the kernel queues what is not accepted
deadline = time.time() + 30  # never outlive a failed test
while not os.path.exists(sys.argv[3] + ".done") and time.time() < deadline:
    time.sleep(0.05)
for s in socks:
    s.close()
PY
  local holder=$!
  for _ in $(seq 600); do [[ -s "$T/held" ]] && break; sleep 0.05; done
  [[ $(cat "$T/held" 2>/dev/null) == 300 ]] || fail "$reason: client could not open 300 connections"
  sleep 0.3
  local c0 c1; c0=$(cpu); sleep 1.5; c1=$(cpu)
  # A listener left armed at EMFILE spins a core: about 150 ticks in 1.5 s. Paused, it wakes 10/s.
  (( c1 - c0 < 40 )) || fail "$reason: broker burned $((c1 - c0)) ticks in 1.5 s at its limit"
  local n; n=$(grep -c "pausing accepts" "$T/broker.log" || true)
  [[ $((n - before)) -eq 1 ]] || { grep "op=accept" "$T/broker.log" | head; fail "$reason: expected one pause warning, got $((n - before))"; }
  grep "pausing accepts" "$T/broker.log" | tail -n 1 | grep -q "$reason" || fail "pause reason is not $reason"
  # The admin endpoint answers while Kafka is full (only with descriptors left for it).
  [[ -z "$conns_file" ]] || conns > "$conns_file"
  touch "$T/held.done"; wait $holder
  for _ in $(seq 600); do [[ $(grep -c "accepting again" "$T/broker.log") -ge $((n)) ]] && break; sleep 0.05; done
  [[ $(grep -c "accepting again" "$T/broker.log") -ge $n ]] || fail "$reason: broker did not resume accepting"
}

SLUICE="$T/sluice-128" broker_start
grep -q "nofile=128 hard=128 max_connections=16$" "$T/broker.log" || { cat "$T/broker.log"; fail "limit not in force"; }
hold "max.connections reached" "$T/conns-at-limit"
[[ $(cat "$T/conns-at-limit") == 16 ]] || fail "connections at the limit: $(cat "$T/conns-at-limit")"
$S topic create after-limit -b "$BROKER" -p 1 | grep -q "created after-limit" || fail "not serving after"
broker_stop

SLUICE="$T/sluice-128" broker_start --set max.connections=100000
hold "Too many open files"
printf 'z\n' | $S produce after-limit -b "$BROKER" --acks all || fail "produce after EMFILE"
[[ $($S consume after-limit -b "$BROKER" -o beginning -e) == z ]] || fail "consume after EMFILE"
broker_stop
echo ok
