#!/usr/bin/env bash
# `sluice group list|describe|lag|reset-offsets` and the consumer-lag metrics.
source "$(dirname "$0")/lib/broker.sh"
broker_start
S="$SLUICE"
$S topic create gl -b "$BROKER" -p 2 >/dev/null
# Both partitions explicitly: without keys the producer's sticky partitioner may
# put all 100 in one partition, and the group then never commits the other.
seq 1 50 | $S produce gl -b "$BROKER" -p 0
seq 51 100 | $S produce gl -b "$BROKER" -p 1
timeout 60 kcat -b "$BROKER" -G cli-g gl -o beginning -e -q >/dev/null || fail "kcat group consumer"
seq 1 7 | $S produce gl -b "$BROKER" -p 1

$S group list -b "$BROKER" | grep -q "^cli-g	" || fail "group list"
$S group describe cli-g -b "$BROKER" | grep -q "state Empty" || fail "group describe"
$S group lag cli-g -b "$BROKER" > "$T/lag"
grep -qx "total lag 7" "$T/lag" || { cat "$T/lag"; fail "lag"; }
curl -fsS "http://$ADMIN/metrics" > "$T/m"
grep -qxF 'sluice_consumer_group_lag{group="cli-g",topic="gl",partition="1"} 7' "$T/m" \
  || fail "lag metric"
$S group reset-offsets cli-g -b "$BROKER" -t gl --to-earliest >/dev/null || fail "reset"
$S group lag cli-g -b "$BROKER" | grep -qx "total lag 107" || fail "lag after reset"
$S group reset-offsets cli-g -b "$BROKER" -t gl --to-offset 5 >/dev/null || fail "reset to 5"
$S group lag cli-g -b "$BROKER" | grep -qx "total lag 97" || fail "lag after reset to offset 5"
rc=0; $S group describe 2>/dev/null || rc=$?; [[ $rc -eq 2 ]] || fail "usage error exit $rc"
broker_stop
echo ok
