#!/usr/bin/env bash
# The first Produce into thousands of fresh partitions waits for their files off the event loop:
# another producer is answered meanwhile, and the waiting requests keep their order (issue 14).
source "$(dirname "$0")/lib/broker.sh"
broker_start
$PY "$(dirname "$0")/fresh_partitions.py" "$BROKER" 1000 || fail "fresh partitions"
kill -0 "$BROKER_PID" || fail "broker died"
broker_stop
echo ok
