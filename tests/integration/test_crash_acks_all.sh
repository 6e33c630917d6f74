#!/usr/bin/env bash
# kill -9 the broker while a producer sends with acks=all; restart it; every acknowledged record
# must be read back at the offset it was acknowledged with. Then a clean restart keeps everything.
source "$(dirname "$0")/lib/broker.sh"
broker_start
kcat -b "$BROKER" -L >/dev/null
$PY - "$BROKER" <<'PY'
from confluent_kafka.admin import AdminClient, NewTopic
import sys
a = AdminClient({"bootstrap.servers": sys.argv[1]})
for f in a.create_topics([NewTopic("crash", 3, 1, config={"segment.bytes": "200000"})]).values():
    f.result(10)
PY
$PY "$(dirname "$0")/acked_producer.py" "$BROKER" crash "$T/acked" &
prod=$!
# Three seconds of producing, and (on a slow machine) on until more than 1000 records are
# acknowledged, so that the crash has something to lose.
sleep 3
for _ in $(seq 250); do
  (( $(cat "$T/acked" 2>/dev/null | wc -l) > 1000 )) && break
  kill -0 $prod 2>/dev/null || break
  sleep 0.1
done
broker_kill
wait $prod || true
acked=$(wc -l < "$T/acked")
echo "acknowledged before the crash: $acked"
[[ $acked -gt 1000 ]] || fail "too few acknowledged records ($acked) to make the test meaningful"

broker_start
$PY "$(dirname "$0")/verify_acked.py" "$BROKER" crash "$T/acked" || fail "acknowledged records lost"
broker_stop
# Clean restart: still there, and no recovery needed.
broker_start
$PY "$(dirname "$0")/verify_acked.py" "$BROKER" crash "$T/acked" || fail "lost after clean restart"
broker_stop
echo ok
