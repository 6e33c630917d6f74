#!/usr/bin/env bash
# RocksDB state: examples/wordcount.so with default.dsl.store=rocksDB and a 64 KiB cache per
# store, over a vocabulary of 20,000 words (state far larger than the cache). Exactly once
# through kill -9 of the processor; the restarted instance resumes from its local committed
# image plus the changelog's tail instead of the whole changelog; after a clean stop a restart
# restores nothing at all.
source "$(dirname "$0")/lib/broker.sh"
source "$(dirname "$0")/lib/stream.sh"
broker_start --set group.initial.rebalance.delay.ms=0
HERE=$(dirname "$0")
# A failing check exits at once: stop the processes this test started, then the broker.
trap 'rc=$?; set +e; for q in ${a:-}; do kill -9 "$q" 2>/dev/null; done; (exit $rc); cleanup' EXIT
WC=$PWD/$SLUICE_BUILD/examples/wordcount.so
export SL_WC_VOCAB=20000
"$SLUICE" topic create text -p 2 -b "$BROKER" >/dev/null
run() { # run LOG: instance "a" in the background ($! is its pid)
  "$SLUICE" run "$WC" --app-id wcr --instance-id a -b "$BROKER" --state-dir "$T/state" \
    --set default.dsl.store=rocksDB --set statestore.cache.max.bytes=65536 \
    --set commit.interval.ms=500 -X session.timeout.ms=6000 -X heartbeat.interval.ms=500 \
    >>"$T/$1.log" 2>&1 &
}
LINES=4000
$PY "$HERE/stream_wordcount.py" produce "$BROKER" text 1 $LINES || fail "producer failed"
run a1; a=$!
wait_committed word-counts 4000
kill -9 "$a"; wait "$a" 2>/dev/null || true
ls "$T"/state/wcr/a/1_*/counts/CURRENT >/dev/null || fail "no RocksDB store under --state-dir"
$PY "$HERE/stream_wordcount.py" produce "$BROKER" text 2 $LINES || fail "producer failed"
run a2; a=$!
$PY "$HERE/stream_wordcount.py" expect 1 2 $LINES >"$T/totals.json"
$PY "$HERE/stream_wordcount.py" verify "$BROKER" word-counts "$T/totals.json" $((120 * mult)) ||
  { tail -n 20 "$T"/a2.log; fail "word counts not exactly once"; }
# The restart resumed every store partition from its local image and read only the tail.
grep -E "restored [0-9]+ changelog records from [0-9]+ partitions \(([0-9]+) resumed" "$T/a2.log" |
  grep -q "from 2 partitions (2 resumed" || { cat "$T/a2.log"; fail "the restart did not resume from local state"; }
kill -TERM "$a"; wait "$a" || fail "instance did not stop cleanly"
# A clean stop commits everything: the next start restores no record.
run a3; a=$!
for _ in $(seq $((150 * mult))); do grep -q "restored .* changelog records" "$T/a3.log" && break; sleep 0.2; done
grep -q "restored 0 changelog records from 2 partitions (2 resumed" "$T/a3.log" ||
  { cat "$T/a3.log"; fail "a restart after a clean stop replayed the changelog"; }
kill -TERM "$a"; wait "$a" || fail "instance did not stop cleanly"
broker_stop
echo ok
