#!/usr/bin/env bash
# serial: measures rates, memory, descriptors or timing; runs alone
# Issue 3: slow fetchers must not grow memory without bound. 20 connections pipeline Fetch
# requests (unknown topic: small in-memory error answers) and never read. With a 16 MiB broker
# budget the heap stays bounded (before: ~90 MB/s of growth, 1.9 GB with 50 connections), and
# after they leave the output memory is freed and RSS comes back down (malloc_trim).
source "$(dirname "$0")/lib/broker.sh"
broker_start --set queued.max.request.bytes=16777216
$PY "$(dirname "$0")/slow_clients.py" slowfetch "$BROKER" "$ADMIN" 20 6 64 || fail "slow fetchers"
# The broker still serves a normal client afterwards.
echo after | kcat -b "$BROKER" -P -t after-slowfetch || fail "produce after the attack"
[[ $(kcat -b "$BROKER" -C -t after-slowfetch -o beginning -e -q) == after ]] || fail "consume"
broker_stop
echo ok
