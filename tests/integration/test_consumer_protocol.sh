#!/usr/bin/env bash
# KIP-848 consumer groups (ConsumerGroupHeartbeat, ConsumerGroupDescribe) driven on the wire by
# tests/integration/consumer_protocol.py; see its docstring for what is checked.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.consumer.session.timeout.ms=3000 --set group.consumer.heartbeat.interval.ms=500
"$SLUICE" topic create t6 -p 6 -b "$BROKER" >/dev/null || fail "create t6"
"$SLUICE" topic create t2 -p 2 -b "$BROKER" >/dev/null || fail "create t2"
$PY "$(dirname "$0")/consumer_protocol.py" "$BROKER" "$SLUICE" "$ADMIN" || fail "consumer protocol checks"
kill -0 "$BROKER_PID" || fail "broker died"
broker_stop
echo ok
