#!/usr/bin/env bash
# The sluice CLI (topic create/list/describe/delete, produce, consume) and the admin HTTP
# endpoints (/health, /ready, /metrics) against a real broker.
source "$(dirname "$0")/lib/broker.sh"
broker_start
S="$SLUICE"

$S topic create cli-t -b "$BROKER" -p 3 -c retention.ms=123456 | grep -q "created cli-t" || fail "create"
$S topic create cli-t -b "$BROKER" -p 3 2>"$T/err" && fail "duplicate create succeeded"
grep -qi "exists" "$T/err" || fail "duplicate create error: $(cat "$T/err")"
$S topic list -b "$BROKER" | grep -q "^cli-t	3 partitions" || fail "list"
$S topic describe cli-t -b "$BROKER" > "$T/desc" || fail "describe"
grep -q "retention.ms=123456  (set)" "$T/desc" || { cat "$T/desc"; fail "describe configs"; }
grep -q "partition 2: leader 0" "$T/desc" || fail "describe partitions"

printf 'a:1\nb:2\nc:3\n' | $S produce cli-t -b "$BROKER" -K : -p 1 --acks all || fail "produce"
out=$($S consume cli-t -b "$BROKER" -p 1 -o beginning -e -K =)
[[ "$out" == $'a=1\nb=2\nc=3' ]] || fail "consume got: $out"
[[ $($S consume cli-t -b "$BROKER" -o beginning -c 2 | wc -l) -eq 2 ]] || fail "--count"
[[ $($S consume cli-t -b "$BROKER" -p 1 -o -1 -e) == 3 ]] || fail "-o -1"
$S consume no-such-topic -b "$BROKER" -e 2>/dev/null && fail "consume of unknown topic succeeded"
rc=0; $S produce 2>/dev/null || rc=$?; [[ $rc -eq 2 ]] || fail "usage error must exit 2, got $rc"

# /metrics is read whole before grep: grep -q stops at its match, and curl's write into a closed
# pipe would fail the pipeline (pipefail) once the page outgrows the pipe buffer.
m=$(curl -fsS "http://$ADMIN/metrics")
grep -q 'sluice_partition_records_in_total{topic="cli-t",partition="1"} 3' <<<"$m" ||
  fail "per-partition series of a live topic"
$S topic delete cli-t -b "$BROKER" | grep -q "deleted cli-t" || fail "delete"
$S topic list -b "$BROKER" | grep -q "^cli-t" && fail "still listed"
m=$(curl -fsS "http://$ADMIN/metrics")
grep -q 'topic="cli-t"' <<<"$m" && fail "a deleted topic's series are still in /metrics"

curl -fsS "http://$ADMIN/health" | grep -q ok || fail "/health"
curl -fsS "http://$ADMIN/ready" | grep -q ready || fail "/ready"
curl -fsS "http://$ADMIN/metrics" > "$T/metrics" || fail "/metrics"
for m in 'sluice_requests_total{api="Produce"}' 'sluice_request_duration_seconds_bucket{api="Fetch",le=' \
         sluice_fetch_bytes_total sluice_fsync_duration_seconds_count sluice_connections \
         process_resident_memory_bytes sluice_memory_in_use_bytes; do
  grep -qF "$m" "$T/metrics" || fail "metric $m missing"
done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$ADMIN/nope"); [[ $code == 404 ]] || fail "404: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$ADMIN/metrics"); [[ $code == 405 ]] || fail "405: $code"
broker_stop
echo ok
