#!/usr/bin/env bash
# Kafka parity (issue 14): over the raw protocol (parity.py: ListOffsets inside a batch, commit
# metadata with NUL bytes, DeleteRecords, DescribeLogDirs, manual replica assignments, authorized
# operations, ListGroups v3-v5, IncrementalAlterConfigs, dynamic broker configs) and with a real
# client (parity_kafka_python.py); then a restart checks what must be durable. Each check fails on
# a broker without its fix. PARITY_CHECKS / PARITY_AFTER_RESTART pick checks by name.
source "$(dirname "$0")/lib/broker.sh"
broker_start
$PY "$(dirname "$0")/parity.py" "$BROKER" ${PARITY_CHECKS:-} || fail "parity"
if [[ -z ${PARITY_CHECKS:-} ]]; then
  $PY "$(dirname "$0")/parity_kafka_python.py" "$BROKER" || fail "parity with kafka-python"
fi
broker_stop
broker_start  # same data directory: what was made durable comes back
$PY "$(dirname "$0")/parity.py" "$BROKER" ${PARITY_AFTER_RESTART:-fetch_metadata log_start_kept dynamic_kept} || fail "parity after restart"
broker_stop
echo ok
