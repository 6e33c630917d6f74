#!/usr/bin/env bash
# `sluice sink webhook` against a local receiver that fails on command (sink_receiver.py): with no
# failures every record arrives exactly once and in order per partition; through 500s, timeouts
# and 429 + Retry-After every record arrives at least once, the retries are counted, the breaker
# opens while the receiver fails and closes after; records that always get 400 are dead-lettered
# once, with their reason, and never retried.
source "$(dirname "$0")/lib/broker.sh"
S="$SLUICE"
D=$(dirname "$0")
PIDS=()
wh_cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  (exit $rc) || cleanup
  cleanup
}
trap wh_cleanup EXIT

broker_start
export SLUICE_BROKERS=$BROKER
$S topic create wh -p 2 >/dev/null
$S topic create wh.dlq >/dev/null
$PY "$D/sink_receiver.py" "$T/rport" "$T/recv.log" &
PIDS+=($!)
for _ in $(seq 1 $((200 * mult))); do [[ -s $T/rport ]] && break; sleep 0.05; done
RPORT=$(cat "$T/rport")
URL=http://127.0.0.1:$RPORT
APORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mode() { curl -sf -X POST "$URL/mode?m=$1" >/dev/null || fail "set mode $1"; }
metric() { curl -sf "http://127.0.0.1:$APORT/metrics" | sed -n "s/^$1 //p"; }
produce() { # FROM TO
  seq "$1" "$2" | awk '{printf "k%d\t{\"i\":%d}\n", $1 % 7, $1}' | $S produce wh -K "$(printf '\t')" >/dev/null ||
    fail "produce"
}
# Records with status 200 in the receiver's log: "i" values, one line each.
delivered() { $PY -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["status"] == 200:
        print(json.loads(r["body"])["i"])' "$T/recv.log" | sort -n | uniq | wc -l; }
wait_delivered() { # N SECONDS
  for _ in $(seq 1 $((${2} * 10 * mult))); do
    [[ $(delivered) -ge $1 ]] && return 0
    kill -0 "$SINK" 2>/dev/null || { tail -n 20 "$T/sink.log" >&2; fail "the sink exited"; }
    sleep 0.1
  done
  fail "only $(delivered) of $1 records delivered after ${2}s"
}

produce 1 300
$S sink webhook --topic wh --group gwh --url "$URL/in" --admin "127.0.0.1:$APORT" \
  --breaker-failures 3 --breaker-cooldown-ms 400 --backoff-ms 20 --backoff-max-ms 200 \
  --timeout-ms 700 --max-retries 1000 --log-every-ms 1000 -X session.timeout.ms=6000 \
  >>"$T/sink.log" 2>&1 &
SINK=$!
PIDS+=($SINK)

# 1. No failures: exactly once, in offset order per partition.
wait_delivered 300 60
sleep 0.3
$PY - "$T/recv.log" <<'PY' || fail "exactly once in order"
import json, sys
last = {}
n = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    assert r["status"] == 200 and r["count"] == 1, r
    p, o = r["partition"], r["offset"]
    assert o == last.get(p, -1) + 1, ("gap or repeat", p, o, last.get(p))
    last[p] = o
    n += 1
assert n == 300, n
PY
[[ $(metric sluice_sink_delivered_total) == 300 ]] || fail "delivered metric"
[[ $(metric sluice_sink_retried_total) == 0 ]] || fail "retries with no failures"

# 2. 500s: retried, the breaker opens; then timeouts; then 429 + Retry-After: 1; then healthy.
mode 500
produce 301 400
for _ in $(seq 1 $((100 * mult))); do [[ $(metric sluice_sink_breaker_state) == 1 ]] && break; sleep 0.1; done
[[ $(metric sluice_sink_breaker_state) == 1 ]] || fail "the breaker did not open on 500s"
sleep 1
mode slow
sleep 2.5
mode 429
sleep 3
mode ok
wait_delivered 400 60
for _ in $(seq 1 $((50 * mult))); do [[ $(metric sluice_sink_breaker_state) == 0 ]] && break; sleep 0.1; done
[[ $(metric sluice_sink_breaker_state) == 0 ]] || fail "the breaker did not close"
retried=$(metric sluice_sink_retried_total)
opens=$(metric sluice_sink_breaker_opens_total)
[[ $retried -ge 3 && $opens -ge 1 ]] || fail "retried=$retried opens=$opens"
$PY - "$T/recv.log" <<'PY' || fail "failure phases"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
by = lambda s: [r for r in rs if r["status"] == s]
assert len(by(500)) >= 3, "500s"
assert any(r["mode"] == "slow" for r in rs), "no request during the slow phase"
t429 = [r["t"] for r in by(429)]
assert len(t429) >= 2, "429s: %d" % len(t429)
gaps = [b - a for a, b in zip(t429, t429[1:])]
assert min(gaps) >= 0.9, "Retry-After not honoured: %s" % gaps
# Several 500s in a row, then quiet for the cooldown: the breaker held requests back.
t500 = [r["t"] for r in by(500)]
assert max(b - a for a, b in zip(t500, t500[1:])) >= 0.35, "no breaker pause between 500s"
PY

# 3. Records that always get 400 are dead-lettered once each and not retried.
printf 'x\t{"i":9001,"reject":1}\nx\t{"i":9002,"reject":2}\n' | $S produce wh -K "$(printf '\t')" >/dev/null
produce 401 410
wait_delivered 410 60
for _ in $(seq 1 $((100 * mult))); do [[ $(metric sluice_sink_dead_lettered_total) == 2 ]] && break; sleep 0.1; done
[[ $(metric sluice_sink_dead_lettered_total) == 2 ]] || fail "dead-lettered: $(metric sluice_sink_dead_lettered_total)"
[[ $(grep -c reject "$T/recv.log") == 2 ]] || fail "a 400 was retried"
$S consume wh.dlq -o beginning -e -f '%s %h\n' >"$T/dlq" 2>/dev/null
grep -q '"i":9001.*dlq.reason=http_4xx' "$T/dlq" || { cat "$T/dlq" >&2; fail "dead letter 9001"; }
grep -q '"i":9002.*dlq.reason=http_4xx' "$T/dlq" || fail "dead letter 9002"

kill -TERM $SINK
wait $SINK || fail "sink exit status"
grep -q "delivered=" "$T/sink.log" || fail "no stats line"

# 4. A record that keeps failing is dead-lettered after --max-retries, and the sink moves on.
$S topic create wh2 >/dev/null
mode 500
echo '{"i":7001}' | $S produce wh2 >/dev/null
$S sink webhook --topic wh2 --group gwh2 --url "$URL/in" --dlq-topic wh.dlq --max-retries 2 \
  --backoff-ms 10 --backoff-max-ms 20 --breaker-failures 100 --log-every-ms 0 \
  -X session.timeout.ms=6000 >>"$T/sink2.log" 2>&1 &
SINK=$!
PIDS+=($SINK)
for _ in $(seq 1 $((300 * mult))); do
  $S consume wh.dlq -o beginning -e -f '%s %h\n' 2>/dev/null | grep -q '"i":7001.*retries_exhausted' && break
  sleep 0.1
done
$S consume wh.dlq -o beginning -e -f '%s %h\n' 2>/dev/null | grep -q '"i":7001.*dlq.reason=retries_exhausted' ||
  fail "no retries_exhausted dead letter"
# Count by the request body: each line also holds a float timestamp whose digits can read 7001.
tries=$($PY -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if "7001" in json.loads(l)["body"]))' "$T/recv.log")
[[ $tries == 3 ]] || fail "7001 was not tried 1 + 2 times: $tries"
kill -TERM $SINK
wait $SINK || fail "second sink exit status"
broker_stop
echo "PASS: sink webhook"
