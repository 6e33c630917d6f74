#!/usr/bin/env bash
# Replicated partitions on a 3-broker cluster (docs/cluster.md, "Replication"): a topic with the
# cluster's default replication factor (3) is in sync on all three; records produced with
# acks=all (idempotent) are on every broker's disk, byte for byte; kill -9 of the partition
# leader under load elects a new leader from the ISR, which serves within seconds; the killed
# broker comes back, truncates what diverged, catches up and rejoins the ISR; a checker then
# reads everything back: no acknowledged record lost or moved, none twice, no gaps; with
# min.insync.replicas above the live ISR, acks=all is refused (NOT_ENOUGH_REPLICAS).
source "$(dirname "$0")/lib/cluster.sh"
C="$(dirname "$0")/repl_client.py"
cluster_init 3 --set broker.session.timeout.ms=1500 --set broker.heartbeat.interval.ms=200 \
    --set replica.lag.time.max.ms=10000
for i in 1 2 3; do node_start $i; done
wait_leader 1 >/dev/null
for i in 1 2 3; do wait_registered $i; done
boot() { echo "127.0.0.1:${NODE_PORT[1]},127.0.0.1:${NODE_PORT[2]},127.0.0.1:${NODE_PORT[3]}"; }

# Waits until the three replicas' logs of $1-0 are byte-identical and non-empty.
wait_same_logs() {
  local s1 s2 s3
  for _ in $(seq 1 $((300 * mult))); do
    s1=$(cat "$T"/n1/"$1"-0/*.log 2>/dev/null | md5sum)
    s2=$(cat "$T"/n2/"$1"-0/*.log 2>/dev/null | md5sum)
    s3=$(cat "$T"/n3/"$1"-0/*.log 2>/dev/null | md5sum)
    [[ $s1 == "$s2" && $s2 == "$s3" && -s $(ls "$T"/n1/"$1"-0/*.log | head -1) ]] && return 0
    sleep 0.1
  done
  ls -l "$T"/n*/"$1"-0/ >&2
  fail "the replicas of $1-0 differ"
}
lines() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }

"$SLUICE" topic create -b "127.0.0.1:${NODE_PORT[1]}" repl -p 1 >/dev/null || fail "create"
for i in 1 2 3; do wait_pstate $i repl "^[123] 1 2 3$"; done

# 1. acks=all in steady state: every broker's log holds the records, byte for byte.
$PY "$C" produce "$(boot)" repl "$T/acked1" 2000 || fail "steady produce"
[[ $(lines "$T/acked1") == 2000 ]] || fail "steady produce: $(lines "$T/acked1") acks of 2000"
wait_same_logs repl

# 2. kill -9 of the leader under load: a new leader from the ISR serves within seconds.
$PY "$C" produce "$(boot)" repl "$T/acked2" 1000000 1000 2>"$T/producer.err" &
prod=$!
for _ in $(seq 1 $((300 * mult))); do (( $(lines "$T/acked2") >= 1000 )) && break; sleep 0.1; done
(( $(lines "$T/acked2") >= 1000 )) || fail "no acks under load"
old=$(pstate 1 repl | cut -d' ' -f1)
kill_ms=$(date +%s%3N)
node_kill "$old"
alive=$(( old % 3 + 1 ))
others=$(printf '%s' 1 2 3 | tr -d "$old")
wait_pstate $alive repl "^[$others] "
new=$(pstate $alive repl | cut -d' ' -f1)
[[ $new != "$old" && $new != -1 ]] || fail "no new leader after kill -9 of $old (now $new)"
for _ in $(seq 1 $((300 * mult))); do
  $PY "$C" gap "$T/acked2" "$kill_ms" >/dev/null 2>&1 && break
  sleep 0.1
done
gap_ms=$($PY "$C" gap "$T/acked2" "$kill_ms") || fail "no ack within 30 s of kill -9 of leader $old"
echo "leader $old killed: new leader $new, acks paused for ${gap_ms} ms"
n_before=$(lines "$T/acked2")
for _ in $(seq 1 $((300 * mult))); do (( $(lines "$T/acked2") >= n_before + 1000 )) && break; sleep 0.1; done

# 3. The killed broker returns, truncates if it must, catches up and rejoins the ISR.
node_start "$old"
wait_registered "$old"
touch "$T/STOP"
wait $prod || { cat "$T/producer.err" >&2; fail "producer failed"; }
for i in 1 2 3; do wait_pstate $i repl "^[123] 1 2 3$"; done
wait_same_logs repl

# 4. Everything acknowledged is there once, where its ack said, with no gaps.
cat "$T/acked1" "$T/acked2" >"$T/acked"
out=$($PY "$C" check "$(boot)" repl "$T/acked") || fail "checker: $out"
echo "$out"

# 5. min.insync.replicas: with 3 required and one replica fenced, acks=all is refused with
# NOT_ENOUGH_REPLICAS (nothing appended) while acks=1 still works.
"$SLUICE" topic create -b "127.0.0.1:${NODE_PORT[1]}" strict -p 1 -c min.insync.replicas=3 \
  >/dev/null || fail "create strict"
for i in 1 2 3; do wait_pstate $i strict "^[123] 1 2 3$"; done
echo s0 | kcat -P -b "127.0.0.1:${NODE_PORT[1]}" -t strict -p 0 -X acks=all ||
  fail "acks=all with a full ISR"
lead=$(pstate 1 strict | cut -d' ' -f1)
victim=$(( lead % 3 + 1 ))
node_kill $victim
alive=$(( victim % 3 + 1 ))
wait_pstate $lead strict "^$lead [123] [123]$"
out=$(echo s1 | kcat -P -b "127.0.0.1:${NODE_PORT[$alive]}" -t strict -p 0 -X acks=all \
  -X retries=0 -X message.timeout.ms=10000 2>&1) && fail "acks=all accepted with 2 of 3 in sync: $out"
grep -qi "not enough in-sync replicas" <<<"$out" || fail "acks=all: unexpected answer: $out"
echo s2 | kcat -P -b "127.0.0.1:${NODE_PORT[$alive]}" -t strict -p 0 -X acks=1 ||
  fail "acks=1 refused"
[[ $(kcat -C -b "127.0.0.1:${NODE_PORT[$alive]}" -t strict -p 0 -e -q | tr '\n' ' ') == "s0 s2 " ]] ||
  fail "strict-0 should hold s0 s2"

cluster_stop
for i in 1 2 3; do
  if grep -E "ERROR|runtime error|Sanitizer|assertion failed" "$T/n$i.log" >&2; then
    fail "node $i log has errors"
  fi
done
echo ok
