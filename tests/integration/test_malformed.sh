#!/usr/bin/env bash
# Garbage, truncated and hostile frames: each gets its connection closed (never a crash), and a
# normal client keeps working afterwards.
source "$(dirname "$0")/lib/broker.sh"
broker_start
$PY "$(dirname "$0")/malformed_frames.py" "$BROKER" || fail "malformed frame checks"
echo hello | kcat -b "$BROKER" -P -t after-garbage || fail "produce after garbage"
[[ $(kcat -b "$BROKER" -C -t after-garbage -o beginning -e -q) == hello ]] || fail "consume after garbage"
kill -0 "$BROKER_PID" || fail "broker died"
broker_stop
echo ok
