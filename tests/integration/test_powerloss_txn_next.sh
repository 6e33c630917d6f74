#!/usr/bin/env bash
# A power cut while the transaction after a committed one is open (the cause of bench-faults'
# txn_in_doubt_partial, docs/benchmarks.md): transaction "a" commits, then "b" writes records to
# every partition of a topic and they are acknowledged (acks=all: synced), and the broker dies
# before "b" ends. Under the shim the data dir is cut back to what a power cut keeps; after the
# restart "a" must be whole and nothing of "b" visible under read_committed.
# Before the fix, AddPartitionsToTxn was answered before its record reached the disk, so the
# power cut kept "b"'s records but not the transaction log's records after "a"'s PrepareCommit;
# start-up then completed "a" again and wrote its COMMIT marker over "b"'s open records.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/powerloss_lib.sh"
journal=$T/journal
pl_wrapper "$journal"
pl_start_under_shim || fail "broker under the shim died at start"
"$PL_REAL_SLUICE" topic create nx -p 3 -b "$BROKER" >/dev/null || fail "topic create nx"
$PY "$PL_DIR/powerloss_txn_next.py" produce "$BROKER" nx "$T/ready" 2>"$T/producer.log" &
PL_PIDS=($!)
for _ in $(seq 1 $((600 * mult))); do
  [[ -s "$T/ready" ]] && break
  kill -0 "${PL_PIDS[0]}" 2>/dev/null || fail "the producer stopped before transaction b was acknowledged"
  sleep 0.05
done
[[ -s "$T/ready" ]] || fail "transaction b was not acknowledged in time"
broker_kill
kill -TERM "${PL_PIDS[0]}" 2>/dev/null || true
wait "${PL_PIDS[0]}" 2>/dev/null || true
PL_PIDS=()
applied=$($PY "$PL_DIR/powerloss_apply.py" "$journal" --model "$PL_MODEL") ||
  fail "powerloss_apply: $applied"
echo "power cut: $applied"
broker_start "${PL_BROKER_ARGS[@]}"
$PY "$PL_DIR/powerloss_txn_next.py" verify "$BROKER" nx || fail "after the power cut"
broker_stop
echo ok
