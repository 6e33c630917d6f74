#!/usr/bin/env bash
# Every advertised version of every API, encoded from schemas over a raw socket.
source "$(dirname "$0")/lib/broker.sh"
broker_start
$PY "$(dirname "$0")/protocol_versions.py" "$BROKER" || fail "protocol versions"
broker_stop
echo ok
