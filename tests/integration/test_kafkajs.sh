#!/usr/bin/env bash
# kafkajs 2.2.4 (from the npm registry) produces to and administers a real broker, and runs
# transactions (commit, abort, sendOffsets) read back by a read_committed group.
source "$(dirname "$0")/lib/broker.sh"
dir=$(cd "$(dirname "$0")" && pwd)
if [[ ! -d "$dir/node_modules/kafkajs" ]]; then
  (cd "$dir" && npm install --no-audit --no-fund --silent kafkajs@2.2.4 >/dev/null) || fail "npm install kafkajs"
fi
broker_start
node "$dir/clients_kafkajs.js" "$BROKER" || fail "kafkajs"
node "$dir/txn_kafkajs.js" "$BROKER" || fail "kafkajs transactions"
broker_stop
echo ok
