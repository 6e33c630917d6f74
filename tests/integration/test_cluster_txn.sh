#!/usr/bin/env bash
# Transactions survive their coordinator's broker dying (docs/cluster.md, "Transactions"): on 3
# brokers the state of a transactional id lives in the replicated __transaction_state topic and
# its coordinator is the leader of its partition; the other brokers answer NOT_COORDINATOR. A
# confluent-kafka consume-transform-produce loop (txn_ctp_loop.py: read input, write output,
# send_offsets_to_transaction, commit) runs over topics of RF 3; kill -9 of the coordinator's
# broker mid-run moves the id to the partition's new leader, which loads it and finishes or
# aborts what was left; the loop re-finds it (aborting and retrying the transaction in flight
# if it must) and completes. A read_committed reader then finds every input exactly once in
# the output, in order, and no aborted record.
source "$(dirname "$0")/lib/cluster.sh"
dir="$(dirname "$0")"
C="$dir/cluster_txn.py"
cluster_init 3 --set broker.session.timeout.ms=1500 --set broker.heartbeat.interval.ms=200
for i in 1 2 3; do node_start $i; done
wait_leader 1 >/dev/null
for i in 1 2 3; do wait_registered $i; done
boot() { echo "127.0.0.1:${NODE_PORT[1]},127.0.0.1:${NODE_PORT[2]},127.0.0.1:${NODE_PORT[3]}"; }
ID=ctp-loop # txn_ctp_loop.py's transactional.id
N=4000

"$SLUICE" topic create -b "127.0.0.1:${NODE_PORT[1]}" ctp-in -p 3 >/dev/null || fail "create in"
"$SLUICE" topic create -b "127.0.0.1:${NODE_PORT[1]}" ctp-out -p 3 >/dev/null || fail "create out"
seq 1 $N | awk '{ print $1 ":v" $1 }' | "$SLUICE" produce ctp-in -b "$(boot)" -K : --acks all \
  || fail "filling the input topic"

# The quorum leader creates __transaction_state (8 partitions) once three brokers are live.
coord=""
for _ in $(seq 1 $((300 * mult))); do
  coord=$($PY "$C" coordinator "$(boot)" $ID 2>/dev/null) && break
  sleep 0.1
done
[[ -n $coord ]] || fail "__transaction_state has no leader for $ID"
[[ ${coord#* } == 8 ]] || fail "__transaction_state has ${coord#* } partitions, not 8"
coord=${coord% *}

# A transactional request on a broker that does not coordinate the id: NOT_COORDINATOR (16).
# That broker may not have applied __transaction_state's creation yet: it answers
# COORDINATOR_NOT_AVAILABLE (15, retriable) meanwhile.
other=$(( coord % 3 + 1 ))
end=$((SECONDS + 30 * mult))
while (( SECONDS < end )); do
  out=$($PY "$C" init-pid "127.0.0.1:${NODE_PORT[$other]}" $ID) || fail "InitProducerId on node $other"
  [[ $out == 15 ]] || break
  sleep 0.2
done
[[ $out == 16 ]] || fail "InitProducerId on non-coordinator node $other answered $out, not 16"

loop_log="$T/ctp.log"
"$PY" "$dir/txn_ctp_loop.py" "$(boot)" ctp-in ctp-out --rate 1000 --batch 100 >"$loop_log" 2>&1 &
loop=$!
commits() { local n; n=$(grep -c '^committed' "$loop_log" 2>/dev/null); echo "${n:-0}"; }
for _ in $(seq 1 $((300 * mult))); do
  (( $(commits) >= 8 )) && break
  kill -0 $loop 2>/dev/null || { tail -n 20 "$loop_log"; fail "the loop ended early"; }
  sleep 0.1
done
(( $(commits) >= 8 )) || { tail -n 20 "$loop_log"; fail "the loop committed too little before the kill"; }
before=$(commits)
echo "coordinator of $ID: node $coord; killing it after $before commits"
node_kill "$coord"
rest=$(boot | sed "s/127.0.0.1:${NODE_PORT[$coord]},\?//; s/,$//")
for _ in $(seq 1 $((900 * mult))); do
  kill -0 $loop 2>/dev/null || break
  sleep 0.1
done
if kill -0 $loop 2>/dev/null; then
  kill -9 $loop; tail -n 20 "$loop_log"; fail "the loop did not finish within $((90 * mult))s"
fi
wait $loop || { tail -n 20 "$loop_log"; fail "the loop failed"; }
(( $(commits) > before )) || { tail -n 20 "$loop_log"; fail "nothing committed after the kill"; }
new=$($PY "$C" coordinator "$rest" $ID) || fail "no coordinator after the kill"
new=${new% *}
[[ $new != "$coord" ]] || fail "the coordinator did not move"
echo "new coordinator: node $new; loop: $(commits) commits ($(( $(commits) - before )) after the kill)," \
  "$(grep -c '^transaction failed' "$loop_log" || true) aborted transactions"
"$PY" "$dir/txn_scenarios.py" ctp-verify "$rest" ctp-in ctp-out $N \
  || fail "exactly-once check (loop log: $loop_log)"

cluster_stop
for i in 1 2 3; do
  if grep -E "runtime error|Sanitizer|assertion failed" "$T/n$i.log" >&2; then
    fail "node $i log has errors"
  fi
done
echo ok
