#!/usr/bin/env bash
# Log compaction with a real client (confluent-kafka-python): a compacted topic keeps the latest
# value per key at its offset, tombstones stay for delete.retention.ms and then go, keyless
# records are refused, a group's committed offset that was compacted away resumes at the next
# record, an aborted transaction's records go while committed ones compact; the same after a
# restart. See compaction.py.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set log.cleaner.backoff.ms=200
$PY "$(dirname "$0")/compaction.py" produce "$BROKER" || fail "compaction (produce)"
$PY "$(dirname "$0")/compaction.py" txn "$BROKER" || fail "compaction (transactions)"
curl -sf "http://$ADMIN/metrics" > "$T/metrics" || fail "metrics"
runs=$(sed -n 's/^sluice_log_cleaner_runs_total \([0-9]*\).*/\1/p' "$T/metrics")
[[ "${runs:-0}" -ge 2 ]] || fail "sluice_log_cleaner_runs_total: '${runs:-}'"
grep -q '^sluice_log_cleaner_bytes_cleaned_total [1-9]' "$T/metrics" || fail "no bytes cleaned"
broker_stop
broker_start --set log.cleaner.backoff.ms=200
$PY "$(dirname "$0")/compaction.py" verify "$BROKER" || fail "compaction (verify after restart)"
broker_stop
echo ok
