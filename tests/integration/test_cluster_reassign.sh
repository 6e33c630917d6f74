#!/usr/bin/env bash
# Operator APIs on three brokers (docs/cluster.md "Operating a cluster"):
# AlterPartitionReassignments moves a partition from brokers {1,2} to {2,3} under an idempotent
# acks=all producer and a consumer: the new replica catches up, the placement switches, broker 1
# deletes its copy, nothing acknowledged is lost and the consumer reads everything; Kafka's
# errors for bad targets; ListPartitionReassignments shows a move that cannot finish (its new
# replica down) and a cancel returns to the origin; ElectLeaders PREFERRED moves leadership
# to the first replica, then ELECTION_NOT_NEEDED; DescribeQuorum from every broker names the
# quorum leader, its term and the voters' log ends; `sluice cluster reassign|elect-leaders` work.
source "$(dirname "$0")/lib/cluster.sh"
W="$(dirname "$0")/ops_wire.py"
C="$(dirname "$0")/repl_client.py"
cluster_init 3 --set broker.session.timeout.ms=$((10000 * mult)) --set broker.heartbeat.interval.ms=200
for i in 1 2 3; do node_start $i; done
wait_leader 1 >/dev/null
for i in 1 2 3; do wait_registered $i; done
hp() { echo "127.0.0.1:${NODE_PORT[$1]}"; }
boot() { echo "$(hp 1),$(hp 2),$(hp 3)"; }
lines() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }
place() { $PY "$W" placement "$(hp "$1")" "$2" 0 2>/dev/null || true; }
wait_place() { # node topic regex
  for _ in $(seq 1 $((300 * mult))); do
    place "$1" "$2" | grep -qE "$3" && return 0
    sleep 0.1
  done
  fail "node $1: $2-0 never matched '$3' (now: $(place "$1" "$2"))"
}
wait_list() { # node regex-or-empty: ListPartitionReassignments output matches (or is empty)
  local out
  for _ in $(seq 1 $((300 * mult))); do
    out=$($PY "$W" list "$(hp "$1")" 2>&1) || true
    if [[ -z $2 && -z $out ]] || { [[ -n $2 ]] && grep -qE "$2" <<<"$out"; }; then return 0; fi
    sleep 0.1
  done
  fail "node $1: reassignments never matched '$2' (now: $out)"
}

# A topic on {1,2}: the first topic placed on three live brokers starts at broker 1; the
# placement is moved there first if it did not.
for _ in 1 2 3 4 5; do
  "$SLUICE" topic create -b "$(hp 1)" mv -p 1 -r 2 >/dev/null 2>&1 && break
  sleep 1
done
wait_place 1 mv "replicas=[123],[123] isr=[123],[123]$"
if ! place 1 mv | grep -qE "replicas=(1,2|2,1) "; then
  out=$($PY "$W" alter "$(hp 1)" mv 0 1,2)
  [[ $out == "error=0 "* ]] || fail "move to {1,2}: $out"
  for i in 1 2 3; do wait_place $i mv "replicas=1,2 isr=(1,2|2,1)$"; done
fi

for i in 1 2 3; do wait_place $i mv "replicas=(1,2|2,1) isr=(1,2|2,1)$"; done # every node knows it

# 1. Errors as Kafka answers them.
expect() { # description, expected prefix, command...
  local what=$1 want=$2 out; shift 2
  out=$("$@" 2>&1) || fail "$what: $out"
  [[ $out == "$want"* ]] || fail "$what: expected '$want', got '$out'"
}
expect "cancel with none in progress" "error=85 " $PY "$W" alter "$(hp 2)" mv 0 cancel
expect "duplicate replica" "error=39 " $PY "$W" alter "$(hp 2)" mv 0 2,2
expect "unknown broker" "error=39 " $PY "$W" alter "$(hp 2)" mv 0 2,9
expect "empty replica list" "error=39 " $PY "$W" alter "$(hp 2)" mv 0 ""
expect "unknown partition" "error=3 " $PY "$W" alter "$(hp 2)" mv 5 2,3
expect "unknown topic" "error=3 " $PY "$W" alter "$(hp 2)" nosuch 0 2,3
[[ -z $($PY "$W" list "$(hp 3)") ]] || fail "a reassignment listed before any"

# 2. The move {1,2} -> {2,3} under load: an idempotent acks=all producer (1,000 records/s) and a
# consumer from the start.
$PY "$C" produce "$(boot)" mv "$T/acked" 1000000 1000 2>"$T/producer.err" &
prod=$!
CW=$(cd "$(dirname "$0")" && pwd)/cluster_wire.py
mkdir -p "$T/c" # the consumer's STOP file (holding how many records to read first) is its own
(cd "$T/c" && exec $PY "$CW" consume "$(boot)" mv >"$T/consumer.out" 2>"$T/consumer.err") &
cons=$!
for _ in $(seq 1 $((900 * mult))); do (( $(lines "$T/acked") >= 2000 )) && break; sleep 0.1; done
(( $(lines "$T/acked") >= 2000 )) || { tail -n 5 "$T/producer.err" >&2; fail "fewer than 2000 acks under load within 90 s"; }
expect "move to {2,3}" "error=0 " $PY "$W" alter "$(hp 3)" mv 0 2,3
for i in 1 2 3; do wait_place $i mv "^leader=[23] replicas=2,3 isr=(2,3|3,2)$"; done
wait_list 1 ""
echo "moved: $(place 1 mv)"
# Broker 1 is no replica any more: it deleted its copy.
for _ in $(seq 1 $((300 * mult))); do
  grep -q 'topic=mv partition=0 .*msg="not a replica any more: copy deleted"' "$T/n1.log" && break
  sleep 0.1
done
grep -q 'topic=mv partition=0 .*msg="not a replica any more: copy deleted"' "$T/n1.log" ||
  fail "broker 1 kept its copy of mv-0"
left=$(find "$T/n1/mv-0" -name '*.log' -size +0 2>/dev/null | wc -l)
[[ $left == 0 ]] || fail "broker 1 still has $left non-empty segment(s) of mv-0"
n_before=$(lines "$T/acked")
for _ in $(seq 1 $((300 * mult))); do (( $(lines "$T/acked") >= n_before + 1000 )) && break; sleep 0.1; done
(( $(lines "$T/acked") >= n_before + 1000 )) || fail "no acks after the move"

# 3. A move that cannot finish: its new replica (1) is killed, but still registered (its lease
# outlives this step). It is listed with its adding and removing replicas; a cancel returns to
# {2,3}. (Killed rather than paused: a paused quorum leader would hold proposals until they
# time out, a dead one is replaced.)
node_kill 1
out=$($PY "$W" alter "$(hp 2)" mv 0 1,2) || fail "alter: $out"
[[ $out == "error=0 "* ]] || fail "move to {1,2} with 1 down: $out"
wait_list 3 "^mv 0 replicas=1,2,3 adding=1 removing=3$"
echo "in progress: $($PY "$W" list "$(hp 3)" mv 0)"
expect "cancel" "error=0 " $PY "$W" alter "$(hp 3)" mv 0 cancel
wait_list 2 ""
for i in 2 3; do wait_place $i mv "^leader=[23] replicas=2,3 isr=(2,3|3,2)$"; done
node_start 1
wait_registered 1

# 4. ElectLeaders: reorder the replicas so the preferred (first) one is not the leader (a
# target already in sync switches at once, the leader stays), then elect it.
lead=$(place 2 mv | sed 's/^leader=\([0-9]*\).*/\1/')
other=$(( lead == 2 ? 3 : 2 ))
expect "reorder" "error=0 " $PY "$W" alter "$(hp 2)" mv 0 "$other,$lead"
wait_place 2 mv "^leader=$lead replicas=$other,$lead "
expect "unclean with a live leader" "top=0 error=84" $PY "$W" elect "$(hp 1)" 1 unclean mv 0
expect "preferred" "top=0 error=0" $PY "$W" elect "$(hp 1)" 2 preferred mv 0
for i in 1 2 3; do wait_place $i mv "^leader=$other replicas=$other,$lead "; done
wait_leader 1 >/dev/null
expect "preferred again" "error=84" $PY "$W" elect "$(hp 2)" 0 preferred mv 0
expect "unknown partition" "top=0 error=3" $PY "$W" elect "$(hp 2)" 1 preferred mv 4
out=$($PY "$W" elect-all "$(hp 3)") || fail "elect-all: $out"
! grep -q "^mv 0 " <<<"$out" || fail "elect-all listed a partition needing no election: $out"

# 5. DescribeQuorum from every broker: the same leader and term, three voters with log ends,
# and on v1 the leader's view of when each voter last answered and was caught up.
ql=$(leader_of 1)
for i in 1 2 3; do
  out=$($PY "$W" quorum "$(hp $i)" 1) || fail "DescribeQuorum on $i: $out"
  head -1 <<<"$out" | grep -qE "^error=0 leader=$ql epoch=[1-9][0-9]* hw=[1-9][0-9]*$" ||
    fail "DescribeQuorum on node $i: $out"
  (( $(grep -cE '^voter [123] leo=[1-9][0-9]* fetch_ms=[1-9][0-9]* caught_up_ms=[1-9][0-9]*$' <<<"$out") == 3 )) ||
    fail "DescribeQuorum voters on node $i: $out"
done
echo "quorum: $($PY "$W" quorum "$(hp 2)" 0 | tr '\n' ' ')"
out=$($PY "$W" quorum "$(hp 2)" 0) || fail "DescribeQuorum v0: $out"
[[ $(grep -c '^voter .* fetch_ms=-1 caught_up_ms=-1$' <<<"$out") == 3 ]] || fail "DescribeQuorum v0: $out"

# 6. The CLI: reassign back to {1,2} and wait for it, list (nothing), elect leaders, status.
"$SLUICE" cluster reassign -b "$(hp 2)" mv:0 --replicas 1,2 >"$T/cli.out" 2>&1 ||
  fail "sluice cluster reassign: $(cat "$T/cli.out")"
for i in 1 2 3; do wait_place $i mv "replicas=1,2 isr=(1,2|2,1)$"; done
"$SLUICE" cluster reassign -b "$(hp 3)" --list >"$T/cli.out" 2>&1 || fail "--list: $(cat "$T/cli.out")"
grep -q "no reassignment in progress" "$T/cli.out" || fail "--list: $(cat "$T/cli.out")"
! "$SLUICE" cluster reassign -b "$(hp 3)" mv:0 --cancel >"$T/cli.out" 2>&1 ||
  fail "--cancel with none in progress succeeded"
grep -q "NO_REASSIGNMENT_IN_PROGRESS" "$T/cli.out" || fail "--cancel: $(cat "$T/cli.out")"
"$SLUICE" cluster elect-leaders -b "$(hp 3)" --topic mv --partition 0 >"$T/cli.out" 2>&1 ||
  fail "elect-leaders: $(cat "$T/cli.out")"
cat "$T/cli.out"
wait_place 1 mv "^leader=1 replicas=1,2 "
"$SLUICE" cluster status -b "$(hp "$(leader_of 1)")" >"$T/cli.out" 2>&1 || fail "status: $(cat "$T/cli.out")"
grep -qE "^  [123] .*log end [0-9]+" "$T/cli.out" || fail "status shows no voter progress: $(cat "$T/cli.out")"

# 7. Everything acknowledged is there, at the offset its ack named; the consumer read it all.
touch "$T/STOP"
wait_for $prod 150 "the producer" "$T/producer.err" || { cat "$T/producer.err" >&2; fail "producer had failed deliveries"; }
out=$($PY "$C" check "$(boot)" mv "$T/acked") || fail "checker: $out"
echo "$out"
lines "$T/acked" >"$T/c/STOP"
wait_for $cons 120 "the consumer" "$T/consumer.err" || { cat "$T/consumer.err" >&2; fail "consumer across the moves: $(cat "$T/consumer.out")"; }
echo "consumer across the moves: $(cat "$T/consumer.out")"
(( $(sed 's/read=\([0-9]*\).*/\1/' "$T/consumer.out") >= $(lines "$T/acked") )) ||
  fail "consumer read less than was acknowledged: $(cat "$T/consumer.out")"

cluster_stop
for i in 1 2 3; do
  if grep -E "ERROR|runtime error|Sanitizer|assertion failed" "$T/n$i.log" >&2; then
    fail "node $i log has errors"
  fi
done
echo ok
