#!/usr/bin/env bash
# The CLI's error behaviour: read-only and admin commands never create a topic, a missing topic
# or group is an error (exit 1), numbers are parsed strictly (exit 2, naming the text), an
# unreachable broker fails within seconds naming the address, SLUICE_BROKERS sets the address,
# --version and unknown subcommands.
source "$(dirname "$0")/lib/broker.sh"
broker_start
S="$SLUICE"
expect_rc() { # expect_rc RC DESCRIPTION CMD...: runs CMD (stderr to $T/err), checks its status
  local want=$1 what=$2; shift 2
  local rc=0; "$@" >"$T/out" 2>"$T/err" || rc=$?
  [[ $rc -eq $want ]] || { cat "$T/out" "$T/err" >&2; fail "$what: exit $rc, expected $want"; }
}

# Missing topics: an error, and nothing gets created by asking.
expect_rc 1 "topic describe of a missing topic" $S topic describe nosuch-a -b "$BROKER"
grep -q "topic nosuch-a does not exist" "$T/err" || fail "describe error: $(cat "$T/err")"
expect_rc 1 "topic delete of a missing topic" $S topic delete nosuch-b -b "$BROKER"
expect_rc 1 "alter-config of a missing topic" $S topic alter-config nosuch-c --set retention.ms=1 -b "$BROKER"
expect_rc 1 "add-partitions of a missing topic" $S topic add-partitions nosuch-d -n 1 -b "$BROKER"
expect_rc 1 "group reset of a missing topic" \
  $S group reset-offsets g -t nosuch-e --to-latest -b "$BROKER"
expect_rc 1 "consume of a missing topic" $S consume nosuch-f -e -b "$BROKER"
echo x > "$T/in"
expect_rc 1 "produce without auto-create" \
  $S produce nosuch-g -X allow.auto.create.topics=false -b "$BROKER" <"$T/in"
grep -q "topic nosuch-g does not exist" "$T/err" || fail "produce error: $(cat "$T/err")"
$S topic list -b "$BROKER" > "$T/list"
grep -q nosuch "$T/list" && fail "a read-only command created a topic: $(cat "$T/list")"

# Missing groups.
expect_rc 1 "group describe of a missing group" $S group describe nosuch-group -b "$BROKER"
grep -q "group nosuch-group does not exist" "$T/err" || fail "group error: $(cat "$T/err")"
expect_rc 1 "group lag of a missing group" $S group lag nosuch-group -b "$BROKER"
expect_rc 1 "group delete of a missing group" $S group delete nosuch-group -b "$BROKER"

# Strict numbers: usage errors that name the bad text, and nothing changes.
$S topic create st -p 2 -b "$BROKER" >/dev/null
seq 1 10 | $S produce st -p 0 -b "$BROKER"
timeout 60 kcat -b "$BROKER" -G sg st -o beginning -e -q >/dev/null || fail "kcat group consumer"
expect_rc 2 "--to-offset abc" $S group reset-offsets sg -t st --to-offset abc -b "$BROKER"
grep -q "not an integer: 'abc'" "$T/err" || fail "--to-offset error: $(cat "$T/err")"
$S group lag sg -b "$BROKER" | grep -qx "total lag 0" || fail "a rejected reset moved the group"
expect_rc 2 "produce -p x" $S produce st -p x -b "$BROKER" <"$T/in"
expect_rc 2 "consume -c abc" $S consume st -c abc -b "$BROKER"
expect_rc 2 "consume -p 1x" $S consume st -p 1x -b "$BROKER"
expect_rc 2 "topic create -p abc" $S topic create st2 -p abc -b "$BROKER"
grep -q "'abc'" "$T/err" || fail "create -p error: $(cat "$T/err")"
expect_rc 2 "consume -o start" $S consume st -o start2 -b "$BROKER"
[[ $($S consume st -o beginning -e -b "$BROKER" | wc -l) -eq 10 ]] || fail "records changed"

# Unknown subcommands are named.
expect_rc 2 "topic lst" $S topic lst -b "$BROKER"
grep -q "unknown subcommand 'lst'" "$T/err" || fail "unknown subcommand: $(cat "$T/err")"
expect_rc 2 "group lst" $S group lst -b "$BROKER"

# Unreachable broker: fails in seconds, naming the address, without librdkafka log lines.
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for cmd in "topic list" "group list" "cluster info" "consume st -e" "produce st"; do
  t0=$(date +%s%N)
  # shellcheck disable=SC2086
  expect_rc 1 "$cmd against a closed port" $S $cmd -b "127.0.0.1:$port" <"$T/in"
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [[ $ms -lt $((8000 * mult)) ]] || fail "$cmd took $ms ms against a closed port"
  grep -q "cannot reach the broker at 127.0.0.1:$port" "$T/err" || fail "$cmd error: $(cat "$T/err")"
  grep -q "^%" "$T/err" && fail "$cmd printed librdkafka log lines: $(cat "$T/err")"
done

# SLUICE_BROKERS sets the address; -b wins over it.
SLUICE_BROKERS=$BROKER $S topic list | grep -q "^st	2 partitions" || fail "SLUICE_BROKERS"
SLUICE_BROKERS=127.0.0.1:$port $S topic list -b "$BROKER" | grep -q "^st	" || fail "-b over env"
expect_rc 1 "SLUICE_BROKERS to a closed port" env SLUICE_BROKERS=127.0.0.1:$port $S topic list
grep -q "127.0.0.1:$port" "$T/err" || fail "env address not named: $(cat "$T/err")"

$S --version | grep -Eq '^sluice [0-9]+\.[0-9]+\.[0-9]+ \(librdkafka ' || fail "--version"
$S --help | grep -q "SLUICE_BROKERS" || fail "--help does not mention SLUICE_BROKERS"
broker_stop
echo ok
