#!/usr/bin/env bash
# Cluster operations a client sees (docs/cluster.md): every broker reports the same ClusterId;
# an acks=all produce whose followers cannot answer is REQUEST_TIMED_OUT after its timeout_ms;
# Fetch, ListOffsets and OffsetForLeaderEpoch check the client's current_leader_epoch
# (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH) and Metadata reports the leader epoch; SIGTERM of
# a leader under an idempotent acks=all producer moves leadership first (controlled shutdown):
# no failed delivery, nothing lost, a new leader within a second.
source "$(dirname "$0")/lib/cluster.sh"
W="$(dirname "$0")/cluster_wire.py"
cluster_init 3 --set broker.session.timeout.ms=1500 --set broker.heartbeat.interval.ms=200
for i in 1 2 3; do node_start $i; done
wait_leader 1 >/dev/null
for i in 1 2 3; do wait_registered $i; done
hp() { echo "127.0.0.1:${NODE_PORT[$1]}"; }
boot() { echo "$(hp 1),$(hp 2),$(hp 3)"; }

# Creates topic $1 (RF 3, 1 partition), retrying while the quorum elects a leader.
create() {
  for _ in 1 2 3 4 5; do
    "$SLUICE" topic create -b "$(hp 1)" "$1" -p 1 >/dev/null 2>&1 && break
    sleep 1
  done
  for i in 1 2 3; do wait_pstate $i "$1" "^[123] 1 2 3$"; done
}

# 1. One cluster id, the same in Metadata and DescribeCluster of every broker.
out=$($PY "$W" ids "$(hp 1)" "$(hp 2)" "$(hp 3)") || fail "ids: $out"
echo "$out"
n=$(sed 's/^[^ ]* //; s/metadata=//; s/describe=//' <<<"$out" | tr ' ' '\n' | sort -u | wc -l)
[[ $n == 1 ]] || fail "brokers report different cluster ids: $out"

# 2. Produce timeout_ms: ISR full at the append, then the followers paused so the HW cannot
# move: REQUEST_TIMED_OUT (7) after about timeout_ms, not a hang until the client gives up.
create slow
# The quorum leader creates the internal topics in the background: once they exist, so that
# its creation (a proposal the loop waits for, up to 5 s) cannot fall into the pause below.
for tp in __consumer_offsets __transaction_state; do wait_pstate 1 $tp "^[123] "; done
lead=$(pstate 1 slow | cut -d' ' -f1)
f1=$(( lead % 3 + 1 )); f2=$(( f1 % 3 + 1 ))
out=$($PY "$W" produce "$(hp "$lead")" slow 0 5000) || fail "produce: $out"
[[ $out == "error=0 "* ]] || fail "acks=all with every replica up: $out"
kill -STOP "${NODE_PID[$f1]}" "${NODE_PID[$f2]}"
out=$($PY "$W" produce "$(hp "$lead")" slow 0 2000) || { kill -CONT "${NODE_PID[$f1]}" "${NODE_PID[$f2]}"; fail "produce: $out"; }
kill -CONT "${NODE_PID[$f1]}" "${NODE_PID[$f2]}"
echo "paused followers, timeout_ms=2000: $out"
ms=${out#*ms=}
[[ $out == "error=7 "* ]] || fail "expected REQUEST_TIMED_OUT: $out"
(( ms >= 1900 && ms <= 2000 + 3000 * mult )) || fail "answered after $ms ms for timeout_ms=2000"
for i in 1 2 3; do wait_pstate $i slow "^[123] 1 2 3$"; done

# 3. Controlled shutdown: SIGTERM of the leader under a 1,000 records/s idempotent acks=all
# producer moves leadership before the process exits: no failed delivery, nothing lost, and the
# move commits within a second (the broker logs how long it took).
C="$(dirname "$0")/repl_client.py"
lines() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }
for i in 1 2 3; do wait_leader $i >/dev/null; wait_registered $i; done
create moving
$PY "$C" produce "$(boot)" moving "$T/acked" 1000000 1000 2>"$T/producer.err" &
prod=$!
W_ABS=$(cd "$(dirname "$W")" && pwd)/$(basename "$W")
(cd "$T" && exec $PY "$W_ABS" consume "$(boot)" moving >"$T/consumer.out" 2>"$T/consumer.err") &
cons=$!
for _ in $(seq 1 $((300 * mult))); do (( $(lines "$T/acked") >= 1000 )) && break; sleep 0.1; done
(( $(lines "$T/acked") >= 1000 )) || fail "no acks under load"
old=$(pstate 1 moving | cut -d' ' -f1)
alive=$(( old % 3 + 1 ))
others=$(printf '%s' 1 2 3 | tr -d "$old")
term_ms=$(date +%s%3N)
node_stop "$old"
# Already moved when the process is gone (a lease expiry would take 1.5 s more here).
exit_ms=$(( $(date +%s%3N) - term_ms ))
now=""
for _ in 1 2 3 4 5; do
  now=$(pstate $alive moving | cut -d' ' -f1)
  [[ -n $now && $now != "$old" ]] && break
done
[[ -n $now && $now != "$old" && $now != -1 ]] ||
  fail "leader $old exited after ${exit_ms} ms and its partition is still led by '$now'"
grep -q 'msg="controlled shutdown: leadership moved"' "$T/n$old.log" ||
  fail "node $old did not move its leadership before exiting"
move_ms=$(sed -n 's/.*ms=\([0-9]*\) msg="controlled shutdown: leadership moved".*/\1/p' "$T/n$old.log" | tail -1)
wait_pstate $alive moving "^[$others] "
seen_ms=$(( $(date +%s%3N) - term_ms ))
echo "SIGTERM of leader $old: move committed in ${move_ms} ms, new leader in metadata after ${seen_ms} ms"
(( move_ms <= 1000 * mult )) || fail "leadership move took $move_ms ms"
n_before=$(lines "$T/acked")
for _ in $(seq 1 $((300 * mult))); do (( $(lines "$T/acked") >= n_before + 1000 )) && break; sleep 0.1; done
(( $(lines "$T/acked") >= n_before + 1000 )) || fail "no acks after the move"
gap_ms=$($PY "$C" gap "$T/acked" "$term_ms") || fail "no ack after SIGTERM"
echo "acks paused for ${gap_ms} ms"
node_start "$old"
wait_registered "$old"
touch "$T/STOP"
wait_for $prod 150 "the producer" "$T/producer.err" || { cat "$T/producer.err" >&2; fail "producer had failed deliveries"; }
for i in 1 2 3; do wait_pstate $i moving "^[123] 1 2 3$"; done
out=$($PY "$C" check "$(boot)" moving "$T/acked") || fail "checker: $out"
echo "$out"
wait_for $cons 120 "the consumer" "$T/consumer.err" || { cat "$T/consumer.err" >&2; fail "consumer across the move: $(cat "$T/consumer.out")"; }
echo "consumer across the move: $(cat "$T/consumer.out")"
(( $(sed 's/read=\([0-9]*\).*/\1/' "$T/consumer.out") >= $(lines "$T/acked") )) ||
  fail "consumer read less than was acknowledged: $(cat "$T/consumer.out")"

# 4. Client-facing leader epochs on "moving" (its leader changed above, so its epoch is >= 1):
# Metadata's leader_epoch; Fetch, ListOffsets and OffsetForLeaderEpoch refuse an older
# current_leader_epoch (FENCED_LEADER_EPOCH 74) and a newer one (UNKNOWN_LEADER_EPOCH 75);
# OffsetForLeaderEpoch tells where each epoch ends, the last at the log end; a follower refuses.
out=$($PY "$W" epochs "$(hp 1)" moving 0) || fail "epochs: $out"
echo "$out"
e=$(sed -n 's/^metadata leader=[0-9]* epoch=\([0-9]*\)$/\1/p' <<<"$out")
[[ -n $e ]] && (( e >= 1 )) || fail "Metadata leader_epoch after a leader change: '$e'"
for api in fetch listoffsets offsetforleaderepoch; do
  grep -qE "^$api cur=E-1 error=74( |$)" <<<"$out" || fail "$api with an older epoch: not FENCED_LEADER_EPOCH"
  grep -qE "^$api cur=E\+1 error=75( |$)" <<<"$out" || fail "$api with a newer epoch: not UNKNOWN_LEADER_EPOCH"
  grep -qE "^$api cur=E error=0( |$)" <<<"$out" || fail "$api with the current epoch refused"
  grep -qE "^$api cur=none error=0( |$)" <<<"$out" || fail "$api without an epoch refused"
done
grep -qE "^listoffsets cur=E error=0 epoch=$e$" <<<"$out" || fail "ListOffsets leader_epoch"
latest=$(sed -n 's/^latest offset=//p' <<<"$out")
grep -qE "^epoch_end asked=$e error=0 epoch=$e end=$latest$" <<<"$out" ||
  fail "the current epoch should end at the log end ($latest)"
grep -qE "^epoch_end asked=0 error=0 epoch=0 end=[0-9]+$" <<<"$out" || fail "where epoch 0 ends"
grep -qE "^follower [0-9]+ offsetforleaderepoch error=6$" <<<"$out" ||
  fail "a follower answered OffsetForLeaderEpoch"

cluster_stop
for i in 1 2 3; do
  if grep -E "ERROR|runtime error|Sanitizer|assertion failed" "$T/n$i.log" >&2; then
    fail "node $i log has errors"
  fi
done
echo ok
