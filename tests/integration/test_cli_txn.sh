#!/usr/bin/env bash
# sluice txn list | describe against an open transaction (confluent-kafka's transactional
# producer), then after its commit; a transactional id nobody used is an error.
source "$(dirname "$0")/lib/broker.sh"
broker_start
S="$SLUICE"
export SLUICE_BROKERS=$BROKER
$S topic create tx -p 2 >/dev/null
# The producer opens a transaction with one record in tx-1, says "open", and commits when
# $T/go appears.
"$PY" - "$BROKER" "$T" > "$T/py.out" 2>&1 <<'PYEOF' &
import os, sys, time
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "transactional.id": "cli-tx"})
p.init_transactions()
p.begin_transaction()
p.produce("tx", b"x", partition=1)
p.flush()
print("open", flush=True)
deadline = time.time() + 120
while not os.path.exists(sys.argv[2] + "/go") and time.time() < deadline:
    time.sleep(0.05)
p.commit_transaction()
print("committed", flush=True)
PYEOF
py=$!
for _ in $(seq 1 $((600 * mult))); do grep -q open "$T/py.out" && break; sleep 0.05; done
grep -q open "$T/py.out" || { cat "$T/py.out"; fail "the transactional producer did not start"; }

$S txn list | grep -Eq "^cli-tx +[0-9]+  Ongoing$" || fail "txn list: $($S txn list)"
$S txn describe cli-tx > "$T/d" || fail "txn describe: $(cat "$T/d")"
grep -Eq "^transaction cli-tx: state Ongoing, producer id [0-9]+, epoch 0, timeout 60000 ms" "$T/d" ||
  fail "txn describe: $(cat "$T/d")"
grep -qx "  tx-1" "$T/d" || fail "txn describe partitions: $(cat "$T/d")"
$S txn describe cli-tx --json | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
assert d["state"] == "Ongoing" and d["producer_epoch"] == 0, d
assert d["partitions"] == [{"topic": "tx", "partitions": [1]}], d' || fail "txn describe --json"

touch "$T/go"
wait $py || { cat "$T/py.out"; fail "the transactional producer failed"; }
for _ in $(seq 1 $((200 * mult))); do
  $S txn describe cli-tx | grep -q "state CompleteCommit" && break; sleep 0.05
done
$S txn describe cli-tx | grep -q "state CompleteCommit" || fail "after commit: $($S txn describe cli-tx)"
$S txn list --json | "$PY" -c '
import json, sys
assert [t["state"] for t in json.load(sys.stdin) if t["transactional_id"] == "cli-tx"] == ["CompleteCommit"]' ||
  fail "txn list --json"

rc=0; $S txn describe nobody 2>"$T/err" || rc=$?
[[ $rc -eq 1 ]] && grep -q "transaction nobody does not exist" "$T/err" || fail "unknown id: rc $rc $(cat "$T/err")"
rc=0; $S txn lst 2>/dev/null || rc=$?; [[ $rc -eq 2 ]] || fail "txn usage exit $rc"
broker_stop
echo ok
