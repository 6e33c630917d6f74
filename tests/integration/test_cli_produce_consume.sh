#!/usr/bin/env bash
# sluice produce and consume beyond plain lines: failure counts, --format and --json on both
# sides (kcat-style), headers, consuming from a timestamp, and `sluice bench` records (the
# `make run` demo) printed as readable one-line JSON.
source "$(dirname "$0")/lib/broker.sh"
broker_start
S="$SLUICE"
export SLUICE_BROKERS=$BROKER
$S topic create pc -p 2 >/dev/null

# A failed record is counted once.
rc=0; printf 'x\ny\n' | $S produce pc --acks 2 2>"$T/err" || rc=$?
[[ $rc -eq 1 ]] || fail "produce with a rejected acks value exit $rc"
grep -q "2 of 2 records not acknowledged" "$T/err" || fail "failure count: $(cat "$T/err")"
rc=0; echo x | $S produce pc -p 7 2>"$T/err" || rc=$?
[[ $rc -eq 1 ]] && grep -q "1 of 1 records not acknowledged" "$T/err" || fail "-p 7: $(cat "$T/err")"

# produce --format and --json; consume --format shows partition, offset, key, timestamp, headers.
printf 'k1:v1\nk2:v:2\n' | $S produce pc -p 0 -f '%k:%v\n' || fail "produce --format"
printf '{"key":"j","value":{"a":[1,2]},"partition":1,"timestamp":1700000000000,"headers":{"h":"1"}}\n{"value":"only"}\n' |
  $S produce pc -p 1 --json || fail "produce --json"
out=$($S consume pc -p 0 -o beginning -e -f '%p:%o %k=%s (%K/%S)\n')
[[ "$out" == $'0:0 k1=v1 (2/2)\n0:1 k2=v:2 (2/3)' ]] || fail "consume --format: $out"
out=$($S consume pc -p 1 -o beginning -e -f '%t %o %k %s %T [%h]\n')
[[ "$out" == $'pc 0 j {"a":[1,2]} 1700000000000 [h=1]\npc 1  only '*' []' ]] || fail "consume --format 2: $out"
rc=0; echo 'nocolon' | $S produce pc -f '%k:%v' 2>"$T/err" || rc=$?
[[ $rc -eq 1 ]] && grep -q "line 1: expected ':'" "$T/err" || fail "format mismatch: rc $rc $(cat "$T/err")"
rc=0; echo '{"value": 1, "bogus": 2}' | $S produce pc --json 2>"$T/err" || rc=$?
[[ $rc -eq 1 ]] && grep -q "bogus" "$T/err" || fail "bad --json field: rc $rc $(cat "$T/err")"
rc=0; echo x | $S produce pc -f '%k%v' 2>/dev/null || rc=$?; [[ $rc -eq 2 ]] || fail "ambiguous format"

# consume --json: one object per line, headers included.
$S consume pc -p 1 -o beginning -c 1 --json | "$PY" -c '
import json, sys
d = json.loads(sys.stdin.readline())
assert d == {"topic": "pc", "partition": 1, "offset": 0, "timestamp": 1700000000000, "key": "j",
             "value": "{\"a\":[1,2]}", "headers": {"h": "1"}}, d' || fail "consume --json"

# Consume from a timestamp: only the records produced after it.
sleep 0.01; mid=$(date +%s%3N); sleep 0.01
printf 'late1\nlate2\n' | $S produce pc -p 0
out=$($S consume pc -o "@$mid" -e)
[[ "$out" == $'late1\nlate2' ]] || fail "consume -o @timestamp: $out"
[[ $($S consume pc -o "s@$mid" -e | wc -l) -eq 2 ]] || fail "kcat-style -o s@timestamp"

# A `sluice bench` record: 24-byte header, then JSON padded with blanks. Shown as one JSON line
# that jq/python can parse; --raw gives the stored bytes.
$S topic create demo-t -p 1 >/dev/null
printf 'SLB1\0\0\0\1\0\0\0\0\0\0\0\2\0\0\0\0\0\0\0\3{"ts":1,"id":"P-1",   "body":{"kind":"chat"}     }\n' |
  $S produce demo-t
out=$($S consume demo-t -o beginning -e)
[[ "$out" == '{"ts":1,"id":"P-1","body":{"kind":"chat"}}' ]] || fail "bench record: $out"
$S consume demo-t -o beginning -e --json | "$PY" -c '
import json, sys
d = json.loads(sys.stdin.readline())
assert json.loads(d["value"])["body"]["kind"] == "chat", d' || fail "bench record --json"
$S consume demo-t -o beginning -e --raw | head -c 4 | grep -q SLB1 || fail "--raw"
broker_stop
echo ok
