#!/usr/bin/env bash
# Creating and deleting a 3,000-partition topic leaves the event loop between slices: a producer
# on another connection is answered meanwhile; the name is re-created clean, and after a restart
# only the live topic is there (issue 14).
source "$(dirname "$0")/lib/broker.sh"
broker_start
$PY "$(dirname "$0")/admin_slices.py" "$BROKER" "$T/data" 3000 || fail "admin slices"
kill -0 "$BROKER_PID" || fail "broker died"
broker_stop
broker_start
$PY - "$BROKER" "$(cd "$(dirname "$0")" && pwd)" <<'PY' || fail "after restart"
import os, sys
sys.path.insert(0, sys.argv[2])
sys.path.insert(0, os.path.join(sys.argv[2], "..", "..", "bench"))
from kschema import Conn
from admin_slices import META_REQ, META_RESP, produce, sample
c = Conn(sys.argv[1], b"after")
meta = c.call(3, 1, False, {"topics": [{"name": "big"}]}, META_REQ, META_RESP)
assert len(meta["topics"][0]["parts"]) == 3000, len(meta["topics"][0]["parts"])
parts = produce(c, "big", sample(3000), b"again")
bad = [p for p in parts if p["error"] != 0 or p["base"] != 1]
assert not bad, "%d partitions wrong after restart, e.g. %s" % (len(bad), bad[:3])
PY
broker_stop
echo ok
