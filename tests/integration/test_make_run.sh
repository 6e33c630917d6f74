#!/usr/bin/env bash
# serial: measures rates, memory, descriptors or timing; runs alone
# `make run`'s script (scripts/run-dev) on free ports: the broker comes up, the demo workload
# flows through topic `demo` (records appended and consumed back), the windowed pipeline writes
# per-kind window counts to `demo-kinds` (read_committed), the SQL query (examples/demo_stats.sql)
# writes per-kind window rows to `demo-stats` (read_committed; transactions carry a max_amount and a p99_amount,
# iot events battery levels), the demo topics are capped by size, and SIGTERM stops the demo, the
# pipelines and the broker cleanly, leaving no process behind.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${SLUICE_BUILD:-build}
T=$(mktemp -d /tmp/sluice-run.XXXXXX)
fail() {
  echo "FAIL: $*" >&2
  tail -n 20 "$T/out" "$T/data/demo.log" "$T/data/pipeline.log" "$T/data/sql.log" 2>/dev/null >&2
  exit 1
}
cleanup() {
  kill -9 -- -"$pid" 2>/dev/null || true # the whole session setsid made
  rm -rf "$T"
}
SLUICE_LISTEN=127.0.0.1:0 SLUICE_ADMIN=127.0.0.1:0 SLUICE_DATA="$T/data" BUILD="$root/$BUILD" \
  DEMO_RATE=500 setsid "$root/scripts/run-dev" >"$T/out" 2>&1 &
pid=$!
trap cleanup EXIT
for _ in $(seq 600); do grep -q "demo workload" "$T/out" 2>/dev/null && break; sleep 0.05; done
grep -q "demo workload" "$T/out" || fail "run-dev did not start the demo"
admin=$(sed -n 's/^admin=//p' "$T/data/ports")
port=$(sed -n 's/^kafka=//p' "$T/data/ports")
demo_in() {
  curl -fsS "http://127.0.0.1:$admin/metrics" |
    awk '/^sluice_partition_records_in_total\{topic="demo"/ { n += $2 } END { print n + 0 }'
}
for _ in $(seq 300); do [[ $(demo_in) -ge 2000 ]] && break; sleep 0.1; done
[[ $(demo_in) -ge 2000 ]] || fail "demo records appended: $(demo_in), want >= 2000"
grep -Eq 'received [1-9][0-9]{3,}' <(tr '\r' '\n' <"$T/data/demo.log") ||
  fail "the demo consumer received nothing"
kinds() {
  timeout 10 "$root/$BUILD/sluice" consume demo-kinds -b "127.0.0.1:$port" -o beginning -e \
    -X isolation.level=read_committed 2>/dev/null | grep -c '"kind":"' || true
}
# The first 10 s window closes about 13 s after the first event (2 s disorder, 1 s grace).
for _ in $(seq 120); do [[ $(kinds) -ge 1 ]] && break; sleep 0.5; done
[[ $(kinds) -ge 1 ]] || fail "the pipeline wrote no window to demo-kinds"
# The SQL query's rows: one per kind and window, each kind with its own numbers; stats prints
# 1 once there are a transaction row with a max_amount and an iot row with an avg_battery.
txn_row='"kind":"transaction".*"events":[1-9][0-9]*,"max_amount":[0-9][0-9.]*,"p99_amount":[0-9]'
iot_row='"kind":"iot".*"events":[1-9][0-9]*,.*"avg_battery":[0-9]'
stats() {
  timeout 10 "$root/$BUILD/sluice" consume demo-stats -b "127.0.0.1:$port" -o beginning -e \
    -X isolation.level=read_committed 2>/dev/null >"$T/stats"
  grep -qE "$txn_row" "$T/stats" && grep -qE "$iot_row" "$T/stats" && echo 1 || echo 0
}
for _ in $(seq 60); do [[ $(stats) == 1 ]] && break; sleep 0.5; done
[[ $(stats) == 1 ]] || fail "the SQL query wrote no transaction and iot rows to demo-stats"
"$root/$BUILD/sluice" topic describe demo -b "127.0.0.1:$port" | grep -q 'retention.bytes=134217728' ||
  fail "the demo topic is not capped by retention.bytes"
# SIGTERM: a script started with & from a non-interactive shell ignores SIGINT (Ctrl-C in a
# terminal reaches it, and the broker and the demo directly, as a process group).
kill -TERM "$pid"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "run-dev still running 30 s after SIGTERM"
wait "$pid" || fail "run-dev exited with $?"
grep -q 'stopped cleanly' "$T/out" || fail "the broker did not stop cleanly"
grep -q '^sluice run: in=' "$T/data/pipeline.log" || fail "the pipeline did not stop cleanly"
grep -q '^sluice run: in=' "$T/data/sql.log" || fail "the SQL query did not stop cleanly"
left=$(pgrep -af -- "$T/data|-b 127.0.0.1:$port " || true)
[[ -z $left ]] || fail "processes left behind: $left"
echo ok
