#!/usr/bin/env bash
# Inter-broker TLS and SASL (issue 11; docs/cluster.md, "Securing the brokers' traffic"): three
# brokers whose only Kafka listener is SASL_SSL, with inter.broker.listener.name=SASL_SSL,
# SCRAM-SHA-512 as sasl.mechanism.inter.broker.protocol and an authorizer on (the brokers' user
# in super.users). Registrations and proposals reach the quorum leader over SASL_SSL, followers
# fetch over it (the logs of an RF=3 topic become byte-identical), an idempotent acks=all
# producer loses nothing when the partition leader is killed with -9, the killed broker comes
# back and rejoins. Then a broker restarted with a wrong inter-broker password does not
# replicate: it says why in its log, keeps running, stays out of the ISR, its copy does not
# grow, and the cluster keeps taking acks=all writes.
source "$(dirname "$0")/lib/cluster.sh"
source "$(dirname "$0")/lib/certs.sh"
C="$(dirname "$0")/repl_client.py"
P=$T/pki
make_certs "$P" || fail "cannot make test certificates"
BASE=(--set broker.session.timeout.ms=1500 --set broker.heartbeat.interval.ms=200
      --set replica.lag.time.max.ms=5000)

# 1. Credentials are records in the metadata log: the first start has a PLAINTEXT listener
# (loopback) to create them, as Kafka's are made before the first SASL-only start.
cluster_init 3 "${BASE[@]}"
for i in 1 2 3; do node_start $i; done
wait_leader 1 >/dev/null
for i in 1 2 3; do wait_registered $i; done
for u in admin:adm1n broker:b-secret; do
  "$SLUICE" user add "${u%%:*}" --password "${u#*:}" --mechanism SCRAM-SHA-512 \
    -b "127.0.0.1:${NODE_PORT[1]}" >/dev/null || fail "user add ${u%%:*}"
done
cluster_stop

# 2. SASL_SSL only, between brokers too.
jaas() {
  echo "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"broker\" password=\"$1\";"
}
SECURE=("${BASE[@]}" --set listeners=SASL_SSL://127.0.0.1:0
        --set ssl.certificate.location="$P/broker.pem" --set ssl.key.location="$P/broker.key"
        --set ssl.ca.location="$P/ca.pem" --set inter.broker.listener.name=SASL_SSL
        --set sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
        --set authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
        --set "super.users=User:admin;User:broker")
NODE_FLAGS=("${SECURE[@]}" --set "$(jaas b-secret)")
CLI=(-X security.protocol=sasl_ssl -X ssl.ca.location="$P/ca.pem" -X sasl.mechanisms=SCRAM-SHA-512
     -X sasl.username=admin -X sasl.password=adm1n)
CLUSTER_CLI=("${CLI[@]}")
export SL_CLIENT_CONF="security.protocol=sasl_ssl;ssl.ca.location=$P/ca.pem;sasl.mechanisms=SCRAM-SHA-512;sasl.username=admin;sasl.password=adm1n"
for i in 1 2 3; do node_start $i; done
for i in 1 2 3; do
  grep -q 'listener=SASL_SSL security="TLS, SASL SCRAM-SHA-512 as broker" msg="inter-broker listener"' \
    "$T/n$i.log" || fail "node $i: inter-broker listener not logged"
done
wait_leader 1 >/dev/null
# Registering goes through the quorum leader's SASL_SSL listener (for two of the three nodes).
for i in 1 2 3; do wait_registered $i; done
boot() {
  local i b=""
  for i in "$@"; do b+="${b:+,}127.0.0.1:${NODE_PORT[$i]}"; done
  echo "$b"
}

logsum() { cat "$T"/n"$1"/"$2"-0/*.log 2>/dev/null | md5sum; }
# Waits until the given nodes' copies of $1-0 are byte-identical and non-empty.
wait_same_logs() {
  local topic=$1 i s0 ok; shift
  for _ in $(seq 1 $((300 * mult))); do
    ok=1
    s0=$(logsum "$1" "$topic")
    for i in "$@"; do [[ $(logsum "$i" "$topic") == "$s0" ]] || ok=0; done
    [[ $ok == 1 && -s $(ls "$T"/n"$1"/"$topic"-0/*.log | head -1) ]] && return 0
    sleep 0.1
  done
  ls -l "$T"/n*/"$topic"-0/ >&2
  fail "the replicas of $topic-0 on nodes $* differ"
}
lines() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }

"$SLUICE" topic create ibsec -p 1 -r 3 -b "$(boot 1 2 3)" "${CLI[@]}" >/dev/null ||
  fail "create over SASL_SSL"
for i in 1 2 3; do wait_pstate $i ibsec "^[123] 1 2 3$"; done

# 3. acks=all in steady state: both followers fetched every record over SASL_SSL.
$PY "$C" produce "$(boot 1 2 3)" ibsec "$T/acked1" 500 || fail "steady produce"
[[ $(lines "$T/acked1") == 500 ]] || fail "steady produce: $(lines "$T/acked1") acks of 500"
wait_same_logs ibsec 1 2 3

# 4. kill -9 of the partition leader under acks=all load: a follower that fetched over SASL_SSL
# takes over with everything acknowledged.
$PY "$C" produce "$(boot 1 2 3)" ibsec "$T/acked2" 1000000 500 2>"$T/producer.err" &
prod=$!
for _ in $(seq 1 $((300 * mult))); do (( $(lines "$T/acked2") >= 300 )) && break; sleep 0.1; done
(( $(lines "$T/acked2") >= 300 )) || fail "no acks under load"
old=$(pstate 1 ibsec | cut -d' ' -f1)
[[ $old =~ ^[123]$ ]] || fail "no leader for ibsec-0 ($old)"
node_kill "$old"
alive=$(( old % 3 + 1 ))
others=$(printf '%s' 1 2 3 | tr -d "$old")
wait_pstate $alive ibsec "^[$others] "
n_before=$(lines "$T/acked2")
for _ in $(seq 1 $((300 * mult))); do
  (( $(lines "$T/acked2") >= n_before + 300 )) && break
  sleep 0.1
done
(( $(lines "$T/acked2") >= n_before + 300 )) || fail "no acks after kill -9 of leader $old"
node_start "$old"
wait_registered "$old"
touch "$T/STOP"
wait $prod || { cat "$T/producer.err" >&2; fail "producer failed"; }
rm -f "$T/STOP"
for i in 1 2 3; do wait_pstate $i ibsec "^[123] 1 2 3$"; done
wait_same_logs ibsec 1 2 3
cat "$T/acked1" "$T/acked2" >"$T/acked"
out=$($PY "$C" check "$(boot 1 2 3)" ibsec "$T/acked") || fail "checker: $out"
echo "leader $old killed: $out"

# 5. A wrong inter-broker password: the broker starts and runs, but its connections to the
# other brokers are refused, so it does not replicate; its log says why.
lead=$(pstate "$alive" ibsec | cut -d' ' -f1)
[[ $lead =~ ^[123]$ ]] || fail "no leader for ibsec-0 ($lead)"
bad=$(( lead % 3 + 1 ))
good=$(printf '%s' 1 2 3 | tr -d "$bad")
node_stop $bad
wait_pstate "${good:0:1}" ibsec "^[$good] [$good] [$good]$"
NODE_FLAGS=("${SECURE[@]}" --set "$(jaas wrong-password)")
node_start $bad
NODE_FLAGS=("${SECURE[@]}" --set "$(jaas b-secret)")
for _ in $(seq 1 $((300 * mult))); do
  grep -q 'SASL authentication as broker failed' "$T/n$bad.log" && break
  sleep 0.1
done
grep -E 'msg="inter-broker connection (to the quorum leader )?refused' "$T/n$bad.log" |
  grep -q 'SASL authentication as broker failed' ||
  fail "node $bad: the refused inter-broker connection is not logged"
size_bad=$(logsum "$bad" ibsec)
$PY "$C" produce "$(boot ${good:0:1} ${good:1:1})" ibsec "$T/acked3" 200 ||
  fail "acks=all with one broker refused"
wait_same_logs ibsec ${good:0:1} ${good:1:1}
sleep 1 # a fetch that got through would have brought the new records by now
[[ $(logsum "$bad" ibsec) == "$size_bad" ]] || fail "node $bad replicated with a wrong password"
[[ $(pstate "${good:0:1}" ibsec) =~ ^[$good]\ [$good]\ [$good]$ ]] ||
  fail "node $bad is in the ISR: $(pstate "${good:0:1}" ibsec)"
kill -0 "${NODE_PID[$bad]}" || fail "node $bad died"
cat "$T/acked" "$T/acked3" >"$T/acked-all"
out=$($PY "$C" check "$(boot ${good:0:1} ${good:1:1})" ibsec "$T/acked-all") || fail "checker: $out"

cluster_stop
for i in 1 2 3; do
  if grep -E "ERROR|runtime error|Sanitizer|assertion failed" "$T/n$i.log" >&2; then
    fail "node $i log has errors"
  fi
done
echo ok
