#!/usr/bin/env bash
# serial: measures rates, memory, descriptors or timing; runs alone
# Client quotas (Kafka's model): a producer over its producer_byte_rate is told throttle_time_ms > 0
# and slowed to about its quota while another client is untouched; a consumer over its
# consumer_byte_rate is throttled; AlterClientQuotas/DescribeClientQuotas validate and filter as
# Kafka does, `sluice quota` sets and shows them, they survive a restart, and
# connection_creation_rate closes connections from an address above its rate.
source "$(dirname "$0")/lib/broker.sh"
QP="$(dirname "$0")/quotas.py"
QUOTA=1048576
# 3 samples of 1 s (Kafka: 11): the rate settles within seconds.
FLAGS=(--set quota.window.num=3 --set quota.window.size.seconds=1)
broker_start "${FLAGS[@]}"
"$SLUICE" topic create q -p 1 -b "$BROKER" >/dev/null || fail "create topic"

$PY "$QP" "$BROKER" api || fail "AlterClientQuotas/DescribeClientQuotas"

"$SLUICE" quota set -b "$BROKER" --client-id slow --producer-byte-rate $QUOTA || fail "quota set"
"$SLUICE" quota set -b "$BROKER" --client-id reader --consumer-byte-rate 100000 || fail "quota set"
out=$("$SLUICE" quota describe -b "$BROKER" --client-id slow)
[[ $out == "client-id=slow producer_byte_rate=$QUOTA" ]] || fail "describe: '$out'"
if "$SLUICE" quota set -b "$BROKER" --client-id x --producer-byte-rate -1 2>"$T/err"; then
  fail "a negative quota was accepted"
fi
grep -q "error 40" "$T/err" || fail "negative quota: expected INVALID_CONFIG, got $(cat "$T/err")"

$PY "$QP" "$BROKER" throttle q $QUOTA 6 || fail "producer_byte_rate"
$PY "$QP" "$BROKER" fetch q || fail "consumer_byte_rate"
curl -fsS "http://$ADMIN/metrics" >"$T/m"
grep -q '^sluice_quota_throttled_total{quota="producer_byte_rate"} [1-9]' "$T/m" ||
  fail "no producer_byte_rate throttle counted"

# Persisted in the metadata log.
broker_stop
broker_start "${FLAGS[@]}"
out=$("$SLUICE" quota describe -b "$BROKER" --client-id slow)
[[ $out == "client-id=slow producer_byte_rate=$QUOTA" ]] || fail "after restart: '$out'"
out=$("$SLUICE" quota describe -b "$BROKER" --client-id kept)
[[ $out == "client-id=kept producer_byte_rate=123456" ]] || fail "after restart: '$out'"
"$SLUICE" quota set -b "$BROKER" --client-id slow --delete producer_byte_rate || fail "delete"
[[ -z $("$SLUICE" quota describe -b "$BROKER" --client-id slow) ]] || fail "not deleted"

# connection_creation_rate: 2/s over a 2 s window admits about 4 of 30 at once.
"$SLUICE" quota set -b "$BROKER" --ip 127.0.0.1 --connection-creation-rate 2 || fail "ip quota"
n=$($PY "$QP" "$BROKER" connrate 30) || fail "connrate"
[[ $n -ge 1 && $n -lt 30 ]] || fail "connection_creation_rate: $n of 30 connections answered"
broker_stop
echo "ok ($n of 30 connections admitted)"
