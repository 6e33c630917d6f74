#!/usr/bin/env bash
# An idempotent librdkafka producer whose broker is killed (-9) and restarted mid-stream: every
# record is stored exactly once and in order, and the broker saw retries it answered as
# duplicates or the producer re-sent nothing twice.
source "$(dirname "$0")/lib/broker.sh"
dir=$(cd "$(dirname "$0")" && pwd)
broker_start
$SLUICE topic create idem -b "$BROKER" -p 3 >/dev/null
port=${BROKER##*:}
$PY "$dir/idempotent_producer.py" "$BROKER" idem 30000 > "$T/producer.out" 2>&1 &
prod=$!
sleep 1.5
kill -0 $prod 2>/dev/null || fail "producer finished before the crash; the test would prove nothing"
broker_kill
# Same port again, so the producer reconnects to it.
sleep 0.5
broker_start --listen "127.0.0.1:$port" 2>/dev/null || true
wait $prod || { cat "$T/producer.out"; fail "idempotent producer did not finish"; }
cat "$T/producer.out"
kcat -b "$BROKER" -C -t idem -o beginning -e -q -f '%p %s\n' > "$T/read"
total=$(wc -l < "$T/read")
uniq=$(awk '{print $2}' "$T/read" | sort -un | wc -l)
[[ $uniq -eq 30000 ]] || fail "expected 30000 distinct records, got $uniq"
[[ $total -eq 30000 ]] || fail "duplicates stored: $total records for 30000 values"
for p in 0 1 2; do
  awk -v p=$p '$1 == p {print $2}' "$T/read" | sort -nc || fail "partition $p out of order"
done
broker_stop
echo ok
