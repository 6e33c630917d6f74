#!/usr/bin/env bash
# librdkafka in C: 1,000,000 records with keys, headers and timestamps under every codec, read back
# and checked record by record, order per partition included.
source "$(dirname "$0")/lib/broker.sh"
broker_start
n=${SL_VERIFY_COUNT:-1000000}
[[ -n "${SLUICE_ASAN:-}" ]] && n=${SL_VERIFY_COUNT_ASAN:-100000}
for codec in none gzip snappy lz4 zstd; do
  "$SLUICE_BUILD/itests/produce_verify" -b "$BROKER" -t "verify-$codec" -n "$n" -z "$codec" -p 4 \
    || fail "produce_verify $codec"
done
broker_stop
echo ok
