#!/usr/bin/env bash
# A transaction stays open across a power cut of the broker and its producer commits it after
# the restart, records and consumer offsets together (as a stream processor whose broker
# restarts does). The producer writes records, sends offsets (AddOffsetsToTxn and
# TxnOffsetCommit, each answered only once durable), the data dir is cut back to what a power
# cut keeps, the broker restarts on the same port, and the same transaction commits: all its
# records visible under read_committed and the group's offset stored.
# Before: the restarted broker aborted every open transaction with a bumped epoch, fencing the
# producer (its commit failed); and the two offset requests were answered before their record
# was durable, so a power cut could commit the transaction without its offsets.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/powerloss_lib.sh"
journal=$T/journal
pl_wrapper "$journal"
pl_start_under_shim || fail "broker under the shim died at start"
port=${BROKER##*:}
"$PL_REAL_SLUICE" topic create po-out -p 3 -b "$BROKER" >/dev/null || fail "topic create po-out"
"$PL_REAL_SLUICE" topic create po-in -p 1 -b "$BROKER" >/dev/null || fail "topic create po-in"
$PY "$PL_DIR/powerloss_txn_offsets.py" run "$BROKER" po-out "$T/ready" "$T/go" >"$T/producer.log" 2>&1 &
PL_PIDS=($!)
for _ in $(seq 1 $((600 * mult))); do
  [[ -s "$T/ready" ]] && break
  kill -0 "${PL_PIDS[0]}" 2>/dev/null || { cat "$T/producer.log"; fail "the producer stopped early"; }
  sleep 0.05
done
[[ -s "$T/ready" ]] || fail "the offsets were not acknowledged in time"
broker_kill
applied=$($PY "$PL_DIR/powerloss_apply.py" "$journal" --model "$PL_MODEL") ||
  fail "powerloss_apply: $applied"
echo "power cut: $applied"
broker_start "${PL_BROKER_ARGS[@]}" --listen "127.0.0.1:$port"
touch "$T/go"
wait "${PL_PIDS[0]}" || { cat "$T/producer.log"; fail "the transaction did not commit after the restart"; }
PL_PIDS=()
$PY "$PL_DIR/powerloss_txn_offsets.py" verify "$BROKER" po-out || fail "after the power cut"
broker_stop
echo ok
