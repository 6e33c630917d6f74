#!/usr/bin/env bash
# confluent-kafka-python (admin: create, describe configs, partitions, delete; produce; consume by
# assignment) and kafka-python (produce; consume by assignment) against a real broker.
source "$(dirname "$0")/lib/broker.sh"
broker_start
$PY "$(dirname "$0")/clients_confluent.py" "$BROKER" || fail "confluent-kafka-python"
$PY "$(dirname "$0")/clients_kafka_python.py" "$BROKER" || fail "kafka-python"
broker_stop
echo ok
