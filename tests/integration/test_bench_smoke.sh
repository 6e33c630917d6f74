#!/usr/bin/env bash
# serial: measures rates, memory, descriptors or timing; runs alone
# `sluice bench`: a 3-second run of each driver against a real local server (kafka -> sluice,
# redis -> redis-server with appendfsync always, nats -> nats-server with JetStream, batch
# in-process): every record sent is
# received, none lost or duplicated, and the JSON report is written.
source "$(dirname "$0")/lib/broker.sh"
broker_start
S="$SLUICE"
$S bench -b "$BROKER" --rate 2000 --size 512 --duration 3 --warmup 1 --partitions 2 \
  --producers 2 --consumers 2 --keys zipf:1.1 --json "$T/kafka.json" --set progress=false \
  > "$T/kafka.out" || { cat "$T/kafka.out"; fail "kafka driver"; }
grep -q "lost 0 duplicated 0" "$T/kafka.out" || { cat "$T/kafka.out"; fail "kafka: loss or dups"; }
grep -q '"sent":8000,"received":8000' "$T/kafka.json" || { cat "$T/kafka.json"; fail "kafka json"; }
# Realistic payloads: chat/transaction/iot bodies of 1, 10 and 100 KB, 10% of event times moved
# back by up to 20 ms; consumers must see about that share out of order (1 partition: no other
# reordering), and nothing lost or duplicated.
$S bench -b "$BROKER" --topic mix --rate 500 --duration 2 --warmup 1 --payload mix \
  --sizes 1k:80,10k:15,100k:5 --disorder 20 --json "$T/mix.json" --set progress=false \
  > "$T/mix.out" || { cat "$T/mix.out"; fail "kafka payload=mix"; }
grep -q "lost 0 duplicated 0" "$T/mix.out" || { cat "$T/mix.out"; fail "payload=mix: loss or dups"; }
grep -q '"sent":1500,"received":1500' "$T/mix.json" || { cat "$T/mix.json"; fail "mix json"; }
ooo=$(sed -n 's/.*"out_of_order_fraction":\([0-9.]*\).*/\1/p' "$T/mix.json")
mean=$(sed -n 's/.*"mean_size":\([0-9.]*\).*/\1/p' "$T/mix.json")
awk -v f="$ooo" -v m="$mean" 'BEGIN{exit !(f > 0.03 && f < 0.2 && m > 4000 && m < 11000)}' ||
  { cat "$T/mix.out"; fail "payload=mix: out-of-order share $ooo (want ~0.1), mean size $mean"; }

$S bench --driver batch --rate 2000 --duration 3 --warmup 1 --set batch.sync.ms=50 \
  --set progress=false > "$T/batch.out" || fail "batch driver"
grep -q "lost 0 duplicated 0" "$T/batch.out" || { cat "$T/batch.out"; fail "batch: loss"; }
# The batch baseline's latency is its sync period: p50 near 25 ms for a 50 ms period.
p50=$(sed -n 's/.*p50 \([0-9.]*\).*/\1/p' "$T/batch.out")
awk -v p="$p50" 'BEGIN{exit !(p > 10 && p < 45)}' || fail "batch p50 $p50 ms not near 25 ms"

if command -v redis-server >/dev/null; then
  redis-server --port 0 --unixsocket "$T/redis.sock" --appendonly yes --appendfsync always \
    --dir "$T" --save "" > "$T/redis.log" 2>&1 &
  rpid=$!
  for _ in $(seq 600); do [[ -S "$T/redis.sock" ]] && break; sleep 0.05; done
  [[ -S "$T/redis.sock" ]] || { kill $rpid; cat "$T/redis.log"; fail "redis-server did not start"; }
  $S bench --driver redis -b "unix:$T/redis.sock" --rate 2000 --duration 3 --warmup 1 \
    --partitions 2 --consumers 2 --set progress=false > "$T/redis.out" || { kill $rpid; cat "$T/redis.out"; fail "redis driver"; }
  kill $rpid; wait $rpid 2>/dev/null || true
  grep -q "lost 0 duplicated 0" "$T/redis.out" || { cat "$T/redis.out"; fail "redis: loss"; }
else
  fail "redis-server missing (scripts/install-deps installs it)"
fi
if command -v nats-server >/dev/null; then
  nats-server -js -a 127.0.0.1 -p -1 -sd "$T/nats" --ports_file_dir "$T" > "$T/nats.log" 2>&1 &
  npid=$!
  # The ports file appears when nats-server is up; poll until it holds the URL (not just exists).
  url=""
  for _ in $(seq 600); do
    url=$(sed -n 's/.*"\(nats:[^"]*\)".*/\1/p' "$T"/nats-server_*.ports 2>/dev/null || true)
    [[ -n "$url" ]] && break; sleep 0.05
  done
  [[ -n "$url" ]] || { kill $npid; cat "$T/nats.log"; fail "nats-server did not write its ports file"; }
  $S bench --driver nats -b "$url" --rate 2000 --duration 3 --warmup 1 --partitions 2 \
    --consumers 2 --set progress=false > "$T/nats.out" || { kill $npid; cat "$T/nats.out"; fail "nats driver"; }
  kill $npid; wait $npid 2>/dev/null || true
  grep -q "lost 0 duplicated 0" "$T/nats.out" || { cat "$T/nats.out"; fail "nats: loss"; }
else
  fail "nats-server missing (scripts/install-deps installs it)"
fi
rc=0; $S bench --driver nope --set progress=false 2>/dev/null || rc=$?; [[ $rc -eq 2 ]] || fail "bad driver exit $rc"
broker_stop
echo ok
