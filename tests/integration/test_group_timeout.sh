#!/usr/bin/env bash
# A member that keeps its session but does not rejoin within the rebalance timeout is removed at
# the timeout; the member that rejoined gets one answer, and the broker keeps serving (it used to
# crash here: the robustness campaign's defect 1).
source "$(dirname "$0")/lib/broker.sh"
broker_start --set group.initial.rebalance.delay.ms=0
$PY "$(dirname "$0")/join_timeout.py" "$BROKER" || fail "rebalance timeout scenarios"
kill -0 "$BROKER_PID" || fail "broker died"
broker_stop
echo ok
