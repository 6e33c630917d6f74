#!/usr/bin/env bash
# serial: measures rates, memory, descriptors or timing; runs alone
# Issue 4: slowloris connections up to max.connections locked every client out. With a cap of 40,
# 120 connections from 127.0.0.2 that send half a request header and stall: a new client is
# still served (the oldest half-frame connections are evicted to admit it), and every attacking
# connection is closed by connections.max.partial.request.ms. Then max.connections.per.ip
# overrides: 127.0.0.3 may hold 2 connections, its third is closed at accept. Last, on a restarted
# broker, connections.max.idle.ms closes a silent connection, not a busy one.
source "$(dirname "$0")/lib/broker.sh"
broker_start --set max.connections=40 --set connections.max.partial.request.ms=5000 \
    --set max.connections.per.ip.overrides=127.0.0.3:2
$PY "$(dirname "$0")/slow_clients.py" slowloris "$BROKER" 127.0.0.2 120 3 5000 || fail "slowloris"
$PY "$(dirname "$0")/slow_clients.py" perip "$BROKER" 127.0.0.3 2 || fail "max.connections.per.ip"
echo hello | kcat -b "$BROKER" -P -t after-slowloris || fail "produce after the attack"
[[ $(kcat -b "$BROKER" -C -t after-slowloris -o beginning -e -q) == hello ]] || fail "consume"
curl -fsS "http://$ADMIN/metrics" > "$T/m"
grep -q '^sluice_connections_closed_total{reason="evicted"} [1-9]' "$T/m" || fail "no eviction counted"
grep -q '^sluice_connections_closed_total{reason="partial"} [1-9]' "$T/m" || fail "no partial timeout counted"
grep -q '^sluice_connections_rejected_total [1-9]' "$T/m" || fail "no per-ip rejection counted"
broker_stop
broker_start --set connections.max.idle.ms=1500
$PY "$(dirname "$0")/slow_clients.py" idle "$BROKER" 1500 || fail "connections.max.idle.ms"
broker_stop
echo ok
