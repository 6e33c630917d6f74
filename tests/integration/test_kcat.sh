#!/usr/bin/env bash
# kcat (librdkafka) against a real broker: metadata, produce with keys, consume back, auto-create.
source "$(dirname "$0")/lib/broker.sh"
broker_start

kcat -b "$BROKER" -L -J > "$T/meta.json" || fail "kcat -L failed"
grep -q '"brokers"' "$T/meta.json" || fail "no brokers in metadata"

seq 1 1000 | sed 's/.*/k&:v&/' | kcat -b "$BROKER" -P -t kcat-topic -K: -X acks=all || fail "produce"
out=$(kcat -b "$BROKER" -C -t kcat-topic -o beginning -e -q -f '%k=%s\n')
[[ $(echo "$out" | wc -l) -eq 1000 ]] || fail "expected 1000 records, got $(echo "$out" | wc -l)"
[[ $(echo "$out" | head -1) == "k1=v1" ]] || fail "first record: $(echo "$out" | head -1)"
[[ $(echo "$out" | tail -1) == "k1000=v1000" ]] || fail "last record: $(echo "$out" | tail -1)"

# Offsets: consuming from the end sees nothing; from offset 990 sees the last 10.
n=$(kcat -b "$BROKER" -C -t kcat-topic -o 990 -e -q | wc -l)
[[ $n -eq 10 ]] || fail "from offset 990 expected 10, got $n"

# A second batch with acks=1 and lz4, then all 1500 are there in order.
seq 1001 1500 | kcat -b "$BROKER" -P -t kcat-topic -z lz4 -X acks=1 || fail "produce lz4"
last=$(kcat -b "$BROKER" -C -t kcat-topic -o -1 -e -q)
[[ "$last" == 1500 ]] || fail "last record after lz4 batch: $last"

# Metadata lists the auto-created topic with one partition.
kcat -b "$BROKER" -L -t kcat-topic | grep -q "partition 0" || fail "partition missing"
broker_stop
echo ok
