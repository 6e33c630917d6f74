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
# Every client step is bounded (a hung client fails the test with its name, well inside the
# runner's 600 s): within SECONDS COMMAND...
within() { local s=$1; shift; timeout -k 5 $((s * mult)) "$@"; }

within 60 "$SLUICE" topic create -b "127.0.0.1:${NODE_PORT[1]}" events -p 4 >/dev/null || fail "create"
within 120 $PY "$C" produce "$(boot)" events $N || fail "produce"

# The quorum leader creates __consumer_offsets (8 partitions) once three brokers are live;
# a client's Metadata for it never auto-creates it.
coord=""
end=$((SECONDS + 60 * mult))
while (( SECONDS < end )); do
  coord=$(within 20 $PY "$C" coordinator "$(boot)" $G 2>/dev/null) && break
  sleep 0.1
done
[[ -n $coord ]] || fail "__consumer_offsets has no leader for $G"
[[ ${coord#* } == 8 ]] || fail "__consumer_offsets has ${coord#* } partitions, not 8"
coord=${coord% *}

# Group requests on a broker that is not the coordinator (OffsetFetch, DescribeGroups and
# KIP-848's ConsumerGroupDescribe): NOT_COORDINATOR. That broker may not
# have applied the topic's creation yet: it answers COORDINATOR_NOT_AVAILABLE (15, retriable)
# meanwhile.
other=$(( coord % 3 + 1 ))
end=$((SECONDS + 30 * mult))
while (( SECONDS < end )); do
  out=$(within 20 $PY "$C" errors "127.0.0.1:${NODE_PORT[$other]}" $G) ||
    fail "OffsetFetch/DescribeGroups on node $other"
  [[ $out == *=15* ]] || break
  sleep 0.2
done
[[ $out == "offsetfetch=16 describegroups=16 cgdescribe=16" ]] ||
  fail "non-coordinator node $other answered $out, not NOT_COORDINATOR (16) to all three"

within 240 $PY "$C" consume "$(boot)" events $G $N "$T/events" 2>"$T/consumer.err" &
cons=$!
commits() { local n; n=$(grep -c "^C " "$T/events" 2>/dev/null); echo "${n:-0}"; }
for _ in $(seq 1 $((300 * mult))); do (( $(commits) >= 30 )) && break; sleep 0.1; done
(( $(commits) >= 30 )) || { cat "$T/consumer.err" >&2; fail "no commits acknowledged"; }
echo "coordinator of $G: node $coord; killing it after $(commits) commits"
node_kill "$coord"
rc=0; wait $cons || rc=$?
if (( rc != 0 )); then
  tail -n 30 "$T/consumer.err" >&2; tail -n 20 "$T/events" >&2
  (( rc == 124 || rc == 137 )) && fail "consumer still running after $((240 * mult)) s (hung)"
  fail "consumer failed"
fi
new=$(within 30 $PY "$C" coordinator "$(boot | sed "s/127.0.0.1:${NODE_PORT[$coord]},\?//")" $G) ||
  fail "no coordinator after the kill"
new=${new% *}
[[ $new != "$coord" ]] || fail "the coordinator did not move"
out=$($PY "$C" check "$T/events" $N) || fail "checker: $out"
echo "new coordinator: node $new; $out"

# DeleteGroups on the coordinator is replicated: once the old coordinator is back and the
# current one is killed too, the next coordinator loads no offsets for the group.
node_start "$coord"
wait_registered "$coord"
within 60 "$SLUICE" group delete $G -b "127.0.0.1:${NODE_PORT[$new]}" >/dev/null || fail "group delete"
node_kill "$new"
out=$(within 90 $PY "$C" committed "$(boot | sed "s/127.0.0.1:${NODE_PORT[$new]},\?//")" events $G 4) ||
  fail "committed after the second failover"
[[ $out == "-1 -1 -1 -1" ]] || fail "deleted offsets came back after a failover: $out"

cluster_stop
for i in 1 2 3; do
  if grep -E "ERROR|runtime error|Sanitizer|assertion failed" "$T/n$i.log" >&2; then
    fail "node $i log has errors"
  fi
done
echo ok
