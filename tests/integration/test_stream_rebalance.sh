#!/usr/bin/env bash
# Exactly once through many rebalances: examples/wordcount.so under two to three `sluice run`
# instances that join, leave (SIGTERM) and die (kill -9) every second or two while input flows
# fast into 6 partitions, so each rebalance finds fetched but not yet processed records. With
# cooperative-sticky lanes, librdkafka 2.0.2 dropped those of the partitions a member kept and
# fetched on past them, and the lane committed past records it never processed (docs/stream.md,
# "Rebalances"; 3 of 3 runs failed then). Every word's updates must be exactly 1, 2, ..., total.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/stream.sh"
broker_start --set group.initial.rebalance.delay.ms=0
wc_start wcr 6 500
wc_produce 4000 2500 1 2 3 4
wc_run a; a=$!
wc_run b; b=$!
wait_committed word-counts 500
# Joins and clean leaves: each one a rebalance while a and b hold partitions with fetched records.
for _ in 1 2 3; do
  wc_run c; c=$!
  sleep 1.5
  wc_stop c
  sleep 1
done
kill -9 "$b"; wait "$b" 2>/dev/null || true # a dies: its replacement joins under a new member id
wc_run b; b=$!
sleep 2
wc_run c; c=$!
sleep 1.5
wc_stop c
wait "$producer" || fail "producer failed"
wc_verify $((90 * mult)) "$T"/a.log "$T"/b.log "$T"/c.log
wc_stop a b
broker_stop
echo ok
