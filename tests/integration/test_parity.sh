#!/usr/bin/env bash
# Kafka parity over the raw protocol (parity.py): ListOffsets inside a batch, commit metadata with
# NUL bytes, ... each check fails on a broker without the fix. PARITY_CHECKS picks some of them.
source "$(dirname "$0")/lib/broker.sh"
broker_start
$PY "$(dirname "$0")/parity.py" "$BROKER" ${PARITY_CHECKS:-} || fail "parity"
broker_stop
broker_start  # same data directory: what was made durable comes back
$PY "$(dirname "$0")/parity.py" "$BROKER" ${PARITY_AFTER_RESTART:-fetch_metadata log_start_kept dynamic_kept} || fail "parity after restart"
broker_stop
echo ok
