#!/usr/bin/env bash
# A consumer group survives its coordinator's broker dying (docs/cluster.md, "Consumer groups"):
# on 3 brokers, committed offsets live in the replicated __consumer_offsets topic; a group's
# coordinator is the leader of its partition there, and the other brokers answer
# NOT_COORDINATOR. A confluent-kafka member commits as it reads a topic of RF 3; kill -9 of the
# coordinator's broker moves the group to the partition's new leader, which loads the offsets;
# the member re-finds it, rejoins and resumes from its acknowledged commits: nothing re-read
# below the last commit, nothing skipped, every record read. A deleted group's offsets stay
# deleted across the next failover.
source "$(dirname "$0")/lib/cluster.sh"
C="$(dirname "$0")/cluster_groups.py"
cluster_init 3 --set broker.session.timeout.ms=1500 --set broker.heartbeat.interval.ms=200
for i in 1 2 3; do node_start $i; done
wait_leader 1 >/dev/null
for i in 1 2 3; do wait_registered $i; done
boot() { echo "127.0.0.1:${NODE_PORT[1]},127.0.0.1:${NODE_PORT[2]},127.0.0.1:${NODE_PORT[3]}"; }
N=3000
G=failover-group

"$SLUICE" topic create -b "127.0.0.1:${NODE_PORT[1]}" events -p 4 >/dev/null || fail "create"
$PY "$C" produce "$(boot)" events $N || fail "produce"

# The quorum leader creates __consumer_offsets (8 partitions) once three brokers are live;
# a client's Metadata for it never auto-creates it.
coord=""
for _ in $(seq 1 $((300 * mult))); do
  coord=$($PY "$C" coordinator "$(boot)" $G 2>/dev/null) && break
  sleep 0.1
done
[[ -n $coord ]] || fail "__consumer_offsets has no leader for $G"
[[ ${coord#* } == 8 ]] || fail "__consumer_offsets has ${coord#* } partitions, not 8"
coord=${coord% *}

# Group requests on a broker that is not the coordinator: NOT_COORDINATOR.
other=$(( coord % 3 + 1 ))
out=$($PY - "127.0.0.1:${NODE_PORT[$other]}" $G <<'EOF'
import socket, struct, sys
host, port = sys.argv[1].split(":")
g = sys.argv[2].encode()
# OffsetFetch v1: group, topics [events [0]]
body = struct.pack(">h", len(g)) + g + struct.pack(">i", 1) + struct.pack(">h", 6) + b"events" \
    + struct.pack(">ii", 1, 0)
hdr = struct.pack(">hhih", 9, 1, 7, 1) + b"t"
s = socket.create_connection((host, int(port)), timeout=5)
s.sendall(struct.pack(">i", len(hdr) + len(body)) + hdr + body)
n = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
r = s.recv(n, socket.MSG_WAITALL)
# corr, topics(1), name, partitions(1), index, offset, metadata, error
pos = 4 + 4 + 2 + 6 + 4 + 4 + 8
mlen = struct.unpack(">h", r[pos:pos + 2])[0]
pos += 2 + max(mlen, 0)
print(struct.unpack(">h", r[pos:pos + 2])[0])
EOF
) || fail "OffsetFetch on node $other"
[[ $out == 16 ]] || fail "OffsetFetch on non-coordinator node $other answered $out, not NOT_COORDINATOR (16)"

$PY "$C" consume "$(boot)" events $G $N "$T/events" 2>"$T/consumer.err" &
cons=$!
commits() { local n; n=$(grep -c "^C " "$T/events" 2>/dev/null); echo "${n:-0}"; }
for _ in $(seq 1 $((300 * mult))); do (( $(commits) >= 30 )) && break; sleep 0.1; done
(( $(commits) >= 30 )) || { cat "$T/consumer.err" >&2; fail "no commits acknowledged"; }
echo "coordinator of $G: node $coord; killing it after $(commits) commits"
node_kill "$coord"
wait $cons || { cat "$T/consumer.err" >&2; tail -n 20 "$T/events" >&2; fail "consumer failed"; }
new=$($PY "$C" coordinator "$(boot | sed "s/127.0.0.1:${NODE_PORT[$coord]},\?//")" $G) ||
  fail "no coordinator after the kill"
new=${new% *}
[[ $new != "$coord" ]] || fail "the coordinator did not move"
out=$($PY "$C" check "$T/events" $N) || fail "checker: $out"
echo "new coordinator: node $new; $out"

# DeleteGroups on the coordinator is replicated: once the old coordinator is back and the
# current one is killed too, the next coordinator loads no offsets for the group.
node_start "$coord"
wait_registered "$coord"
"$SLUICE" group delete $G -b "127.0.0.1:${NODE_PORT[$new]}" >/dev/null || fail "group delete"
node_kill "$new"
out=$($PY "$C" committed "$(boot | sed "s/127.0.0.1:${NODE_PORT[$new]},\?//")" events $G 4) ||
  fail "committed after the second failover"
[[ $out == "-1 -1 -1 -1" ]] || fail "deleted offsets came back after a failover: $out"

cluster_stop
for i in 1 2 3; do
  if grep -E "ERROR|runtime error|Sanitizer|assertion failed" "$T/n$i.log" >&2; then
    fail "node $i log has errors"
  fi
done
echo ok
