#!/usr/bin/env bash
# Topic deletion hands the partition files to a background thread (trash.c): the directories
# leave the data directory at once, the files are gone soon after, a topic of the same name
# starts empty, and trash an earlier run left behind is removed at start-up.
source "$(dirname "$0")/lib/broker.sh"
mkdir -p "$T/data/.deleted.7/old-0" "$T/data/.deleted/old-1"
echo x >"$T/data/.deleted.7/old-0/00000000000000000000.log"
broker_start --set num.partitions=3
KC=(kcat -b "$BROKER" -X broker.address.family=v4)
for p in 0 1 2; do printf 'a\nb\nc\n' | "${KC[@]}" -P -t deltopic -p "$p" 2>/dev/null; done
[[ -d "$T/data/deltopic-2" ]] || fail "no partition directory after producing"
$PY - "$BROKER" <<'PY' || fail "delete"
import sys
sys.path.insert(0, "tests/integration")
from kschema import INF, Conn
DT_REQ = [("names", "strlist", 0, INF), ("timeout", "i32", 0, INF)]
DT_RESP = [("throttle", "i32", 1, INF),
           ("responses", [("name", "str", 0, INF), ("error", "i16", 0, INF)], 0, INF)]
r = Conn(sys.argv[1]).call(20, 1, False, {"names": ["deltopic"], "timeout": 5000}, DT_REQ, DT_RESP)
assert r["responses"][0]["error"] == 0, r
PY
for p in 0 1 2; do [[ ! -e "$T/data/deltopic-$p" ]] || fail "deltopic-$p still in the data directory"; done
gone=
for _ in $(seq 1 $((200 * mult))); do  # up to 10 s on a loaded machine
  if ! ls -A "$T/data" | grep -q '^\.deleted'; then gone=1; break; fi
  sleep 0.05
done
[[ -n $gone ]] || { ls -laR "$T/data" >&2; fail "trash not removed"; }
# The same name again: empty.
printf 'z\n' | "${KC[@]}" -P -t deltopic -p 0 2>/dev/null
out=$("${KC[@]}" -C -t deltopic -p 0 -o beginning -e -q 2>/dev/null)
[[ $out == z ]] || fail "recreated topic holds '$out'"
broker_stop
echo ok
