#!/usr/bin/env bash
# serial: measures rates, memory, descriptors or timing; runs alone
# A broker with a tiny memory budget throttles producers (throttle_time_ms > 0, connection muted)
# instead of buffering without bound, and still takes every record.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set queued.max.request.bytes=65536
"$SLUICE_BUILD/bench/producer_perf" -b "$BROKER" -t bp -s 1024 -a 1 -n 30000 -p 2 || fail "producer"
curl -fsS "http://$ADMIN/metrics" > "$T/m"
thr=$(sed -n 's/^sluice_throttled_produce_requests_total \([0-9]*\)$/\1/p' "$T/m")
[[ ${thr:-0} -gt 0 ]] || fail "no produce request was throttled"
buffered=$(sed -n 's/^sluice_input_buffered_bytes \([0-9]*\)$/\1/p' "$T/m")
[[ ${buffered:-999999999} -le 2097152 ]] || fail "input buffers not given back: $buffered"
n=$(kcat -b "$BROKER" -C -t bp -o beginning -e -q | wc -l)
[[ $n -eq 30000 ]] || fail "expected 30000 records, got $n"
broker_stop
echo "ok (throttled $thr requests)"
