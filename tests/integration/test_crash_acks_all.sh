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
sleep 3
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
