#!/usr/bin/env bash
# sluice topic alter-config | add-partitions | trim-prefix (with --dry-run), describe/list --json,
# and sluice cluster info | health | config | logdirs. trim-prefix needs the broker's DeleteRecords (API 21):
# its end-to-end part runs only when ApiVersions lists it, and says so when skipped.
source "$(dirname "$0")/lib/broker.sh"
broker_start
S="$SLUICE"
export SLUICE_BROKERS=$BROKER
expect_rc() { # expect_rc RC DESCRIPTION CMD...
  local want=$1 what=$2; shift 2
  local rc=0; "$@" >"$T/out" 2>"$T/err" || rc=$?
  [[ $rc -eq $want ]] || { cat "$T/out" "$T/err" >&2; fail "$what: exit $rc, expected $want"; }
}
# has_api KEY: exit 0 if the broker's ApiVersions (v0) lists API KEY.
has_api() {
  "$PY" - "$BROKER" "$1" <<'PYEOF'
import socket, struct, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), 10)
body = struct.pack(">hhih", 18, 0, 1, 4) + b"test"
s.sendall(struct.pack(">i", len(body)) + body)
def rd(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit(2)
        b += c
    return b
r = rd(struct.unpack(">i", rd(4))[0])
_, err, cnt = struct.unpack(">ihi", r[:10])
keys = {struct.unpack(">h", r[10 + 6 * i:12 + 6 * i])[0] for i in range(cnt)}
sys.exit(0 if err == 0 and int(sys.argv[2]) in keys else 1)
PYEOF
}
json_get() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

$S topic create ta -p 2 -c retention.ms=100000 >/dev/null || fail "create"
seq 1 10 | $S produce ta -p 0

# alter-config: --set keeps the other overrides, --delete returns a key to its default,
# --dry-run and bad values change nothing.
$S topic alter-config ta --set segment.bytes=1048576 > "$T/out" || fail "alter-config --set"
grep -q "segment.bytes: .* -> 1048576" "$T/out" || fail "alter-config output: $(cat "$T/out")"
$S topic describe ta > "$T/d"
grep -q "segment.bytes=1048576  (set)" "$T/d" || fail "segment.bytes not set: $(cat "$T/d")"
grep -q "retention.ms=100000  (set)" "$T/d" || fail "alter-config dropped another override"
$S topic alter-config ta --set retention.ms=5000 --dry-run | grep -q "dry run" || fail "dry-run"
$S topic describe ta | grep -q "retention.ms=100000  (set)" || fail "--dry-run changed the config"
expect_rc 1 "alter-config with a bad value" $S topic alter-config ta --set retention.ms=abc
grep -q "retention.ms" "$T/err" || fail "bad value error: $(cat "$T/err")"
expect_rc 1 "alter-config --dry-run with a bad value" $S topic alter-config ta --set retention.ms=abc --dry-run
expect_rc 1 "alter-config of an unknown key" $S topic alter-config ta --set retentoin.ms=1
expect_rc 2 "alter-config with nothing to do" $S topic alter-config ta
expect_rc 2 "alter-config --set without =" $S topic alter-config ta --set retention.ms
$S topic alter-config ta --delete retention.ms >/dev/null || fail "alter-config --delete"
$S topic describe ta > "$T/d"
grep -q "retention.ms=100000" "$T/d" && fail "--delete kept the override"
grep -q "segment.bytes=1048576  (set)" "$T/d" || fail "--delete dropped another override"

# add-partitions
$S topic add-partitions ta -n 2 --dry-run | grep -q "ta: 2 -> 4 partitions" || fail "add dry-run"
$S topic list | grep -q "^ta	2 partitions" || fail "add-partitions --dry-run changed the topic"
$S topic add-partitions ta -n 2 >/dev/null || fail "add-partitions"
$S topic list | grep -q "^ta	4 partitions" || fail "add-partitions: $($S topic list)"
expect_rc 2 "add-partitions -n 0" $S topic add-partitions ta -n 0
expect_rc 2 "add-partitions -n x" $S topic add-partitions ta -n x

# delete --dry-run
$S topic delete ta --dry-run | grep -q "would delete ta (4 partitions)" || fail "delete dry-run"
$S topic list | grep -q "^ta	" || fail "delete --dry-run deleted"

# --json listings
$S topic list --json | json_get '[t["partitions"] for t in d if t["name"]=="ta"][0]' |
  grep -qx 4 || fail "topic list --json"
$S topic describe ta --json > "$T/dj"
json_get 'd["partitions"][0]["end_offset"], d["configs"]["segment.bytes"]' < "$T/dj" |
  grep -qx "10 1048576" || fail "topic describe --json: $(cat "$T/dj")"

# trim-prefix: argument checks and --dry-run work against any broker.
expect_rc 2 "trim-prefix without -o" $S topic trim-prefix ta
expect_rc 2 "trim-prefix -o abc" $S topic trim-prefix ta -o abc
expect_rc 1 "trim-prefix past the end" $S topic trim-prefix ta -p 0 -o 11
expect_rc 1 "trim-prefix of a missing partition" $S topic trim-prefix ta -p 9 -o 1
expect_rc 1 "trim-prefix of a missing topic" $S topic trim-prefix nosuch -o 1
$S topic trim-prefix ta -p 0 -o 4 --dry-run | grep -qx "ta-0: start 0 -> 4" || fail "trim dry-run"
$S topic describe ta | grep -q "partition 0: .*offsets 0..10" || fail "trim --dry-run trimmed"
if has_api 21; then
  $S topic trim-prefix ta -p 0 -o 4 >/dev/null || fail "trim-prefix"
  $S topic describe ta | grep -q "partition 0: .*offsets 4..10" || fail "trim-prefix: $($S topic describe ta)"
  [[ $($S consume ta -p 0 -o beginning -e | head -1) == 5 ]] || fail "first record after trim"
else
  echo "SKIP: trim-prefix end to end: broker lacks DeleteRecords (API 21 not in ApiVersions)"
  expect_rc 1 "trim-prefix against a broker without DeleteRecords" $S topic trim-prefix ta -p 0 -o 4
  grep -q "lacks DeleteRecords" "$T/err" || fail "trim error: $(cat "$T/err")"
fi

# cluster
$S cluster info > "$T/ci" || fail "cluster info"
grep -q "^  0 ${BROKER}  (controller)" "$T/ci" || fail "cluster info: $(cat "$T/ci")"
$S cluster info --json | json_get 'd["brokers"][0]["port"], d["topics"]' |
  grep -qx "${BROKER##*:} 1" || fail "cluster info --json"
$S cluster health | grep -qx "healthy: true" || fail "cluster health"
$S cluster health --json | json_get 'd["healthy"]' | grep -qx True || fail "cluster health --json"
$S cluster config | grep -q "^  num.partitions=" || fail "cluster config"
$S cluster config --json | json_get '"auto.create.topics.enable" in d' | grep -qx True ||
  fail "cluster config --json"
# config changes: IncrementalAlterConfigs of the cluster-wide default, then of broker 0
cfg() { $S cluster config --json | json_get "d['$1']"; }
expect_rc 0 "config --dry-run" $S cluster config --set log.retention.ms=12345 --dry-run
grep -q "dry run: valid" "$T/out" || fail "dry run: $(cat "$T/out")"
[[ "$(cfg log.retention.ms)" == 604800000 ]] || fail "dry run changed log.retention.ms"
expect_rc 0 "config --set" $S cluster config --set log.retention.ms=12345 --set log.roll.ms=99999
[[ "$(cfg log.retention.ms) $(cfg log.roll.ms)" == "12345 99999" ]] || fail "config --set"
expect_rc 0 "config --delete" $S cluster config --delete log.roll.ms
[[ "$(cfg log.roll.ms) $(cfg log.retention.ms)" == "604800000 12345" ]] || fail "config --delete: $(cfg log.roll.ms)"
expect_rc 0 "config --broker 0" $S cluster config --broker 0 --set log.roll.ms=777
[[ "$(cfg log.roll.ms)" == 777 ]] || fail "config --broker"
expect_rc 1 "config unknown key" $S cluster config --set bogus.key=1
grep -q "bogus.key: not a dynamic broker config" "$T/err" || fail "unknown key: $(cat "$T/err")"
expect_rc 1 "config bad value" $S cluster config --set log.retention.ms=abc
expect_rc 1 "config unknown broker" $S cluster config --broker 7 --set log.roll.ms=1
expect_rc 2 "--set without config" $S cluster info --set a=b
# logdirs: DescribeLogDirs per broker; a topic's bytes are the sum of its partitions' sizes
$S topic create ld -p 2 >/dev/null || fail "create ld"
seq 1 20 | $S produce ld
$S cluster logdirs > "$T/ld" || fail "cluster logdirs"
grep -Eq "^broker 0 .*: [0-9]+ bytes in [0-9]+ topics; disk [1-9][0-9]* bytes" "$T/ld" ||
  fail "cluster logdirs: $(cat "$T/ld")"
grep -Eq "^  ld +2 partitions +[1-9][0-9]* bytes" "$T/ld" || fail "cluster logdirs ld: $(cat "$T/ld")"
$S cluster logdirs --json | json_get '[(t["partitions"], t["bytes"] == sum(x["bytes"] for x in t["sizes"]) > 0) for t in d[0]["topics"] if t["topic"] == "ld"][0]' |
  grep -qx "(2, True)" || fail "cluster logdirs --json"
broker_stop
echo ok
