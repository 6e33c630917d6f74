#!/usr/bin/env bash
# Issue 5: batches with a correct CRC that no consumer could read (unknown codec, corrupt
# compressed payloads, garbage records, count and offset mismatches, decompression bombs) are
# refused with Kafka's error codes, nothing of them is stored, and afterwards records produced
# by a real client with every codec are consumed back, after the valid batch sent first.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set message.max.decompressed.bytes=4194304
"$SLUICE" topic create poison -b "$BROKER" -p 1 >/dev/null || fail "create topic"
$PY "$(dirname "$0")/poison_batches.py" "$BROKER" poison $((8 * 1024 * 1024)) || fail "poison batches"
for z in none gzip snappy lz4 zstd; do
  echo "after-$z" | kcat -b "$BROKER" -P -t poison -z "$z" || fail "kcat produce with $z"
done
want=$'first\nsecond\nafter-none\nafter-gzip\nafter-snappy\nafter-lz4\nafter-zstd'
got=$(timeout 30 kcat -b "$BROKER" -C -t poison -o beginning -e -q 2>"$T/kcat.err") || fail "kcat consume"
[[ "$got" == "$want" ]] || { cat "$T/kcat.err" >&2; fail "consumed: $got"; }
[[ ! -s "$T/kcat.err" ]] || { cat "$T/kcat.err" >&2; fail "kcat reported errors"; }
kill -0 "$BROKER_PID" || fail "broker died"
broker_stop
echo ok
