#!/usr/bin/env bash
# Faults on a 3-broker cluster (issue 11 §3) whose brokers reach each other only through
# fault_proxy.py, under an idempotent acks=all producer and a consumer, both through the proxy:
#   (a) a paused leader (SIGSTOP) cannot acknowledge after it resumes: a new leader is elected
#       while it sleeps; after SIGCONT, no acknowledged record may be missing from the log; nor
#       may it serve reads from its stale log: a ListOffsets and a Fetch sent to it while it
#       sleeps are answered NOT_LEADER_OR_FOLLOWER (its lease lapsed), never from its old log;
#   (b) a partitioned minority cannot acknowledge: the partition leader is cut off from both
#       other brokers (Kafka and Raft ports, both ways) while a client still reaches its own
#       port: its acks=all answers are errors or nothing, never a success; after the heal it
#       rejoins the ISR.
# Then the checker reads everything back: every acknowledged record once, at the offset its ack
# named, in the producer's order; nothing a consumer saw has gone; no consumer went backwards.
source "$(dirname "$0")/lib/fault_cluster.sh"
C="$(dirname "$0")/faults_client.py"
fault_init 3 --set broker.session.timeout.ms=3000 --set broker.heartbeat.interval.ms=300 \
    --set replica.lag.time.max.ms=3000
for i in 1 2 3; do node_start $i; done
wait_leader 1 >/dev/null
for i in 1 2 3; do wait_registered $i; done
# One ClusterId, though each broker names the others by their proxy fronts and itself directly:
# the id is a committed metadata record, not a hash of each broker's voter list.
ids() {
  $PY "$(dirname "$0")/cluster_wire.py" ids "127.0.0.1:${KPORT[1]}" "127.0.0.1:${KPORT[2]}" \
    "127.0.0.1:${KPORT[3]}" 2>&1 | sed 's/^[^ ]* //; s/metadata=//; s/describe=//' | tr ' ' '\n' | sort -u
}
for _ in $(seq 1 $((100 * mult))); do [[ $(ids | wc -l) == 1 ]] && break; sleep 0.1; done
[[ $(ids | wc -l) == 1 ]] || fail "brokers report different cluster ids: $(ids | tr '\n' ' ')"
boot() { echo "127.0.0.1:${NODE_PORT[1]},127.0.0.1:${NODE_PORT[2]},127.0.0.1:${NODE_PORT[3]}"; }
lines() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }
# The leader of $TOPIC-0 as node $1 sees it, waiting out a slow or leaderless answer.
leader_now() {
  local l
  for _ in $(seq 1 $((300 * mult))); do
    l=$(pstate "$1" "$TOPIC" | cut -d' ' -f1)
    [[ $l =~ ^[123]$ ]] && { echo "$l"; return 0; }
    sleep 0.1
  done
  fail "node $1 knows no leader of $TOPIC-0"
}
wait_acks() { # count beyond the current
  local want=$(( $(lines "$T/acked") + $1 ))
  for _ in $(seq 1 $((600 * mult))); do (( $(lines "$T/acked") >= want )) && return 0; sleep 0.1; done
  tail -n 20 "$T/producer.err" >&2
  for i in 1 2 3; do echo "node $i: $(pstate "$i" "$TOPIC")" >&2; grep -E "WARN|ERROR" "$T/n$i.log" | tail -n 8 >&2; done
  fail "fewer than $1 new acks within 60 s ($(lines "$T/acked") in all)"
}

# The partition to fault is one the quorum leader also leads: pausing that broker is the harder
# case (a resumed quorum leader once fenced the live brokers from its stale leases).
ql=$(wait_leader 1)
TOPIC=""
for k in 1 2 3; do
  TOPIC=faults-$k
  "$SLUICE" topic create -b "127.0.0.1:${NODE_PORT[1]}" "$TOPIC" -p 1 >/dev/null || fail "create"
  for i in 1 2 3; do wait_pstate $i "$TOPIC" "^[123] 1 2 3$"; done
  [[ $(leader_now 1) == "$ql" ]] && break
done
echo "quorum leader $ql, topic $TOPIC led by $(leader_now 1)"
$PY "$C" produce "$(boot)" "$TOPIC" "$T/acked" 400 2>"$T/producer.err" &
prod=$!
$PY "$C" consume "$(boot)" "$TOPIC" "$T/seen" 2>"$T/consumer.err" &
cons=$!
wait_acks 300

# (a) pause the leader; the others elect a new one; resume it.
old=$(leader_now 1)
other=$(( old % 3 + 1 ))
for i in 1 2 3; do mark[$i]=$(wc -l <"$T/n$i.log"); done
kill -STOP "${NODE_PID[$old]}"
wait_pstate $other "$TOPIC" "^[^$old] "
new=$(leader_now $other)
echo "(a) leader $old paused: new leader $new"
wait_acks 300
# Queued while it sleeps, so they are the first thing it reads when it resumes: before, it
# answered them from its stale log (consumers past its end were told OFFSET_OUT_OF_RANGE and
# reset to the start).
$PY "$C" rawread "127.0.0.1:${KPORT[$old]}" "$TOPIC" "$T/rawread.ready" >"$T/rawread.out" 2>&1 &
rawread=$!
for _ in $(seq 1 $((200 * mult))); do [[ -f "$T/rawread.ready" ]] && break; sleep 0.05; done
[[ -f "$T/rawread.ready" ]] || fail "rawread did not connect: $(cat "$T/rawread.out")"
kill -CONT "${NODE_PID[$old]}"
wait $rawread || fail "rawread: $(cat "$T/rawread.out")"
sed 's/^/(a) resumed old leader: /' "$T/rawread.out"
grep -q "^listoffsets error=6 " "$T/rawread.out" && grep -q "^fetch error=6 " "$T/rawread.out" ||
  fail "the resumed old leader $old served a read from its stale log (6 is NOT_LEADER_OR_FOLLOWER)"
wait_pstate $other "$TOPIC" "^$new 1 2 3$"
wait_acks 300
# Nothing but the paused broker may have been fenced: a resumed quorum leader once fenced both
# live brokers from its stale leases (through its successor), leaving the partition offline.
if for i in 1 2 3; do tail -n +$((mark[$i] + 1)) "$T/n$i.log"; done |
  grep "lease expired" | grep -v "node=$old " >&2; then
  fail "a live broker was fenced while $old was paused"
fi
echo "(a) leader $old resumed and back in the ISR"

# (b) cut the leader off from the other brokers; a client at its own port must get no ack.
lead=$(leader_now 1)
other=$(( lead % 3 + 1 ))
isolate "$lead"
out=$($PY "$C" rawproduce "127.0.0.1:${KPORT[$lead]}" "$TOPIC" "$T/minority" 3) ||
  fail "raw producer: $out"
echo "$out" | sed 's/^/(b) /'
wait_pstate $other "$TOPIC" "^[^$lead] "
out=$($PY "$C" rawproduce "127.0.0.1:${KPORT[$lead]}" "$TOPIC" "$T/minority" 1) ||
  fail "raw producer: $out"
echo "$out" | sed 's/^/(b) after the election: /'
[[ $(lines "$T/minority") == 0 ]] || fail "the isolated leader $lead acknowledged: $(cat "$T/minority")"
wait_acks 300
heal_all
wait_pstate $other "$TOPIC" "^[123] 1 2 3$"
wait_acks 300
echo "(b) leader $lead isolated: no ack; healed and back in the ISR"

touch "$T/STOP"
wait $prod || { cat "$T/producer.err" >&2; fail "producer failed"; }
wait $cons || { cat "$T/consumer.err" >&2; fail "consumer failed"; }
out=$($PY "$C" check "$(boot)" "$TOPIC" "$T/acked" "$T/seen") || fail "checker: $out"
echo "$out"

cluster_stop
for i in 1 2 3; do
  if grep -E "runtime error|Sanitizer|assertion failed" "$T/n$i.log" >&2; then
    fail "node $i log has errors"
  fi
done
echo ok
