#!/usr/bin/env bash
# Kafka transactions with librdkafka (confluent-kafka-python), each step labelled:
#   1. commit A, abort B, commit C: read_committed sees A and C, read_uncommitted A, B and C
#   2. zombie fencing: a second producer with the same transactional.id fences the first
#   3. abandoned transaction (producer kill -9): read_committed is held at it until the
#      transaction times out and is aborted; its records are never delivered
#   4. consume-transform-produce exactly once through kill -9 of the loop (3 times) and of the
#      broker (once)
#   (5. an idempotent producer through a broker kill -9 and restart is test_idempotence.sh.)
# SL_TXN_SEED=n repeats the random kill points; SL_TXN_PLAIN=1 runs steps 1, 3 and 4 with
# non-transactional producers against a broker without transactions (a harness self-check: the
# transactional expectations then fail, except step 4 which only checks for loss).
source "$(dirname "$0")/lib/broker.sh"
dir=$(cd "$(dirname "$0")" && pwd)
S="$SLUICE"
seed=${SL_TXN_SEED:-$$}
RANDOM=$seed
echo "random seed $seed (SL_TXN_SEED=$seed repeats the kill points)"
BARGS=(--set transaction.max.timeout.ms=60000
       --set transaction.abort.timed.out.transaction.cleanup.interval.ms=1000)
PLAIN=()
if [[ -n "${SL_TXN_PLAIN:-}" ]]; then BARGS=(); PLAIN=(--plain); fi
TXN_TIMEOUT_MS=$((5000 * mult)) # long enough to set up the observer on a loaded machine
t0=$(date +%s)
step() { echo "=== $* (t=$(( $(date +%s) - t0 ))s)"; }
scen() { timeout $((60 * mult)) "$PY" "$dir/txn_scenarios.py" "$@" ${PLAIN[@]+"${PLAIN[@]}"}; }
rand_delay() { awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.5 + 1.5 * r / 32767 }'; }

broker_start "${BARGS[@]}"
port=${BROKER##*:}
for t in txn-ca txn-fence txn-abandon ctp-in ctp-out; do
  $S topic create $t -b "$BROKER" -p 3 >/dev/null || fail "topic create $t"
done

step "1. commit A (a0..a99), abort B (b0..b99), commit C (c0..c99)"
scen commit-abort "$BROKER" txn-ca || fail "step 1: transactional commit/abort (see above)"

step "2. zombie fencing"
if [[ -n "${SL_TXN_PLAIN:-}" ]]; then
  echo "skipped (plain)"
else
  scen fence "$BROKER" txn-fence || fail "step 2: zombie fencing (see above)"
fi

step "3. abandoned transaction: producer killed -9 with an open transaction (timeout ${TXN_TIMEOUT_MS}ms)"
ready="$T/abandon.ready"
"$PY" "$dir/txn_scenarios.py" abandon-producer "$BROKER" txn-abandon "$ready" "$TXN_TIMEOUT_MS" \
  ${PLAIN[@]+"${PLAIN[@]}"} >"$T/abandon.log" 2>&1 &
ab=$!
for _ in $(seq 1 $((300 * mult))); do
  [[ -s "$ready" ]] && break
  kill -0 $ab 2>/dev/null || { cat "$T/abandon.log"; fail "step 3: abandoned producer exited early"; }
  sleep 0.05
done
[[ -s "$ready" ]] || { cat "$T/abandon.log"; fail "step 3: abandoned producer never got its records in"; }
kill -9 $ab; wait $ab 2>/dev/null || true
cat "$T/abandon.log"
scen abandon-observe "$BROKER" txn-abandon "$ready" "$TXN_TIMEOUT_MS" \
  || fail "step 3: abandoned transaction (see above)"

step "4. consume-transform-produce, exactly once, through kill -9 of the loop and of the broker"
N=20000
seq 1 $N | awk '{ print $1 ":v" $1 }' | $S produce ctp-in -b "$BROKER" -K : --acks all \
  || fail "step 4: filling the input topic"
loop_log="$T/ctp.log"
loop=""
start_loop() {
  echo "--- loop start" >>"$loop_log"
  "$PY" "$dir/txn_ctp_loop.py" "$BROKER" ctp-in ctp-out --rate 1000 --batch 200 \
    ${PLAIN[@]+"${PLAIN[@]}"} >>"$loop_log" 2>&1 &
  loop=$!
}
kill_loop() {  # $1: label
  kill -0 "$loop" 2>/dev/null || { tail -n 20 "$loop_log"; fail "step 4: the loop ended before $1; the kill would prove nothing"; }
  kill -9 "$loop"; wait "$loop" 2>/dev/null || true
  echo "  $1, $(commits) commits so far"
  echo "--- killed ($1)" >>"$loop_log"
}
commits() { grep -c '^committed' "$loop_log" || true; }

start_loop
d=$(rand_delay); sleep "$d"; kill_loop "loop kill 1 after ${d}s"
start_loop
d=$(rand_delay); sleep "$d"
before=$(commits)
broker_kill
echo "  broker killed -9 after ${d}s of the second loop run; restarting on port $port"
sleep 0.3
broker_start "${BARGS[@]}" --listen "127.0.0.1:$port"
for _ in $(seq 1 $((200 * mult))); do
  [[ $(commits) -gt $before ]] && break
  kill -0 "$loop" 2>/dev/null || { tail -n 20 "$loop_log"; fail "step 4: the loop died across the broker restart"; }
  sleep 0.1
done
[[ $(commits) -gt $before ]] || { tail -n 20 "$loop_log"; fail "step 4: the loop committed nothing within $((20 * mult))s of the broker restart"; }
echo "  loop committed again after the broker restart"
kill_loop "loop kill 2 (after the broker restart)"
start_loop
d=$(rand_delay); sleep "$d"; kill_loop "loop kill 3 after ${d}s"
start_loop
for _ in $(seq 1 $((600 * mult))); do
  kill -0 "$loop" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$loop" 2>/dev/null; then
  kill -9 "$loop"; tail -n 20 "$loop_log"; fail "step 4: the last loop run did not finish in $((60 * mult))s"
fi
wait "$loop" || { tail -n 20 "$loop_log"; fail "step 4: the last loop run failed"; }
echo "  loop: $(grep -c '^session' "$loop_log") sessions, $(commits) commits," \
  "$(grep -c '^transaction failed' "$loop_log" || true) aborted transactions," \
  "$(grep -c 'recreating' "$loop_log" || true) recreated after fatal errors"
scen ctp-verify "$BROKER" ctp-in ctp-out "$N" || fail "step 4: exactly-once check (loop log: $loop_log)"

broker_stop
echo "ok ($(( $(date +%s) - t0 ))s)"
