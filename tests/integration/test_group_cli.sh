#!/usr/bin/env bash
# `sluice group list|describe|lag|seek|reset-offsets|delete` (states, --json, --dry-run, every
# seek target, refusal while members are live), `consume -g`, and the consumer-lag metrics.
source "$(dirname "$0")/lib/broker.sh"
broker_start
S="$SLUICE"
$S topic create gl -b "$BROKER" -p 2 >/dev/null
# Both partitions explicitly: without keys the producer's sticky partitioner may
# put all 100 in one partition, and the group then never commits the other.
seq 1 50 | $S produce gl -b "$BROKER" -p 0
seq 51 100 | $S produce gl -b "$BROKER" -p 1
timeout 60 kcat -b "$BROKER" -G cli-g gl -o beginning -e -q >/dev/null || fail "kcat group consumer"
seq 1 7 | $S produce gl -b "$BROKER" -p 1

$S group list -b "$BROKER" | grep -q "^cli-g	Empty	0 members" || fail "group list: $($S group list -b "$BROKER")"
$S group describe cli-g -b "$BROKER" | grep -q "state Empty" || fail "group describe"
$S group lag cli-g -b "$BROKER" > "$T/lag"
grep -qx "total lag 7" "$T/lag" || { cat "$T/lag"; fail "lag"; }
curl -fsS "http://$ADMIN/metrics" > "$T/m"
grep -qxF 'sluice_consumer_group_lag{group="cli-g",topic="gl",partition="1"} 7' "$T/m" \
  || fail "lag metric"
$S group reset-offsets cli-g -b "$BROKER" -t gl --to-earliest >/dev/null || fail "reset"
$S group lag cli-g -b "$BROKER" | grep -qx "total lag 107" || fail "lag after reset"
$S group reset-offsets cli-g -b "$BROKER" -t gl --to-offset 5 >/dev/null || fail "reset to 5"
$S group lag cli-g -b "$BROKER" | grep -qx "total lag 97" || fail "lag after reset to offset 5"
rc=0; $S group describe 2>/dev/null || rc=$?; [[ $rc -eq 2 ]] || fail "usage error exit $rc"
export SLUICE_BROKERS=$BROKER
lag() { $S group lag "$1" | sed -n 's/^total lag //p'; }

# seek: every target, --dry-run, all committed topics by default.
$S group seek cli-g --to latest --dry-run > "$T/dry" || fail "seek --dry-run"
grep -q "dry run: nothing changed" "$T/dry" || fail "dry-run output: $(cat "$T/dry")"
[[ $(lag cli-g) == 97 ]] || fail "seek --dry-run changed the offsets"
$S group seek cli-g --to latest >/dev/null || fail "seek --to latest (all committed topics)"
[[ $(lag cli-g) == 0 ]] || fail "lag after seek to latest: $(lag cli-g)"
$S group seek cli-g --to -10 >/dev/null || fail "seek --to -10"
[[ $(lag cli-g) == 20 ]] || fail "lag after shift -10: $(lag cli-g)"
$S group reset-offsets cli-g -t gl --shift-by 3 >/dev/null || fail "--shift-by 3"
[[ $(lag cli-g) == 14 ]] || fail "lag after shift +3: $(lag cli-g)"
$S group seek cli-g --to 1000 >/dev/null || fail "seek past the end"
[[ $(lag cli-g) == 0 ]] || fail "an offset past the end is not clamped: $(lag cli-g)"
$S group seek cli-g --to earliest -t gl >/dev/null || fail "seek --to earliest"
[[ $(lag cli-g) == 107 ]] || fail "lag after seek to earliest: $(lag cli-g)"
# Timestamps: everything so far was produced before $mid; the records after it are the 3 below.
sleep 0.01; mid=$(date +%s%3N); sleep 0.01
seq 1 3 | $S produce gl -p 0
$S group seek cli-g --to "@$mid" >/dev/null || fail "seek --to @timestamp"
[[ $(lag cli-g) == 3 ]] || fail "lag after seek to a timestamp: $(lag cli-g)"
$S group reset-offsets cli-g -t gl --to-timestamp 0 >/dev/null || fail "--to-timestamp 0"
[[ $(lag cli-g) == 110 ]] || fail "lag after --to-timestamp 0: $(lag cli-g)"
rc=0; $S group seek cli-g --to 5x 2>/dev/null || rc=$?; [[ $rc -eq 2 ]] || fail "--to 5x exit $rc"
rc=0; $S group seek cli-g 2>/dev/null || rc=$?; [[ $rc -eq 2 ]] || fail "seek without --to exit $rc"
rc=0; $S group seek fresh-g --to earliest 2>"$T/err" || rc=$?
[[ $rc -eq 1 ]] && grep -q "no committed offsets" "$T/err" || fail "seek of a group with no offsets"

# --json
$S group lag cli-g --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["total_lag"] == 110, d' ||
  fail "group lag --json"
$S group list --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert {"group": "cli-g", "state": "Empty", "members": 0} in d, d' ||
  fail "group list --json"

# consume -g: a group member that commits; while it is live, seek and delete refuse and say why.
$S consume gl -g live-g -o beginning -e > "$T/c1" || fail "consume -g"
[[ $(wc -l < "$T/c1") -eq 110 ]] || fail "consume -g read $(wc -l < "$T/c1") records"
[[ $(lag live-g) == 0 ]] || fail "consume -g did not commit: lag $(lag live-g)"
$S consume gl -g live-g > "$T/c2" 2>&1 &
member=$!
for _ in $(seq 1 $((300 * mult))); do
  $S group describe live-g 2>/dev/null | grep -q "state Stable, .*1 member$" && break
  sleep 0.1
done
$S group describe live-g | grep -q "state Stable, .*1 member$" || fail "live member: $($S group describe live-g)"
$S group list | grep -q "^live-g	Stable	1 member$" || fail "group list state: $($S group list)"
rc=0; $S group seek live-g --to earliest 2>"$T/err" || rc=$?
[[ $rc -eq 1 ]] && grep -q "group live-g has 1 active member; stop its consumers first" "$T/err" ||
  fail "seek with a live member: rc $rc, $(cat "$T/err")"
rc=0; $S group delete live-g 2>"$T/err" || rc=$?
[[ $rc -eq 1 ]] && grep -q "1 active member" "$T/err" || fail "delete with a live member: rc $rc"
kill -TERM $member; wait $member || true

# delete
$S group delete cli-g --dry-run | grep -q "would delete group cli-g" || fail "delete --dry-run"
$S group list | grep -q "^cli-g	" || fail "delete --dry-run deleted"
$S group delete cli-g | grep -q "deleted group cli-g" || fail "delete"
$S group list | grep -q "^cli-g	" && fail "deleted group still listed"
rc=0; $S group describe cli-g 2>/dev/null || rc=$?; [[ $rc -eq 1 ]] || fail "describe after delete exit $rc"
broker_stop
echo ok
